//! `GET /security/advisories.json`: the advisory feed.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::error::ApiError;
use super::response;
use crate::Registry;

/// The advisory feed.
pub async fn advisories(State(registry): State<Registry>, headers: HeaderMap) -> Result<Response, ApiError> {
    let doc = registry.advisories_doc().await?;
    Ok(response::artifact(
        &headers,
        doc.body.clone(),
        response::CONTENT_JSON,
        response::CACHE_METADATA,
        doc.etag.clone(),
    ))
}

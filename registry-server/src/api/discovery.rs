//! `GET /.well-known/openwop-registry` and `/.well-known/openwop-registry.json` (identical bodies).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::error::ApiError;
use super::response;
use crate::Registry;

/// The discovery document.
pub async fn get(State(registry): State<Registry>, headers: HeaderMap) -> Result<Response, ApiError> {
    let doc = registry.discovery_doc().await?;
    Ok(response::artifact(
        &headers,
        doc.body.clone(),
        response::CONTENT_JSON,
        response::CACHE_METADATA,
        doc.etag.clone(),
    ))
}

//! `GET /.well-known/openwop-registry` and `/.well-known/openwop-registry.json` (identical bodies),
//! as the caller's view may see them.

use axum::http::HeaderMap;
use axum::response::Response;

use super::auth::Viewed;
use super::error::ApiError;
use super::response;

/// The discovery document. Rendered (and cached) once; signing keys and namespace assignments
/// that concern only another tenant's private namespace are then dropped for this view
/// ([`crate::tenant::View::filter_discovery`]).
pub async fn get(Viewed(registry): Viewed, headers: HeaderMap) -> Result<Response, ApiError> {
    let doc = registry.discovery_doc().await?;
    Ok(response::viewed_document(&headers, &doc, |body| registry.view().filter_discovery(body).body))
}

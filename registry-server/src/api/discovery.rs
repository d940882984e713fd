//! `GET /.well-known/openwop-registry` and `/.well-known/openwop-registry.json` (identical bodies),
//! as the caller's view may see them.

use axum::http::HeaderMap;
use axum::response::Response;

use super::auth::Viewed;
use super::error::ApiError;
use super::response;
use super::security::CACHE_TENANT;

/// The discovery document. Rendered (and cached) once; signing keys and namespace assignments
/// that concern only another tenant's private namespace are then dropped for this view
/// ([`crate::tenant::View::filter_discovery`]).
pub async fn get(Viewed(registry): Viewed, headers: HeaderMap) -> Result<Response, ApiError> {
    let doc = registry.discovery_doc().await?;
    let view = registry.view();
    let cache = if view.is_public() { response::CACHE_METADATA } else { CACHE_TENANT };
    if !doc.mentions_private() {
        // Nothing private named: the same document for every view (the common case).
        return Ok(response::document(&headers, &doc, cache));
    }
    Ok(match view.filter_discovery(&String::from_utf8_lossy(&doc.body)).body {
        Some(body) => {
            let body = bytes::Bytes::from(body);
            let etag = response::etag_of(&body);
            response::artifact(&headers, body, response::CONTENT_JSON, cache, etag)
        }
        None => response::document(&headers, &doc, cache),
    })
}

//! `GET /security/advisories.json`: the advisory feed, as the caller's view may see it.

use axum::http::HeaderMap;
use axum::response::Response;

use super::auth::Viewed;
use super::error::ApiError;
use super::response;

/// `Cache-Control` of a document filtered for one tenant: never kept by shared caches.
pub(crate) const CACHE_TENANT: &str = "private, max-age=300, must-revalidate";

/// The advisory feed. The stored feed is rendered (and cached) once; advisories about another
/// tenant's private packs are then dropped for this view ([`crate::tenant::View::filter_advisories`]),
/// so a feed naming no private pack is served from the cache unchanged.
pub async fn advisories(Viewed(registry): Viewed, headers: HeaderMap) -> Result<Response, ApiError> {
    let doc = registry.advisories_doc().await?;
    let view = registry.view();
    let cache = if view.is_public() { response::CACHE_METADATA } else { CACHE_TENANT };
    if !doc.mentions_private() {
        // Nothing private named: the same feed for every view (the common case).
        return Ok(response::document(&headers, &doc, cache));
    }
    Ok(match view.filter_advisories(&String::from_utf8_lossy(&doc.body)).body {
        Some(body) => {
            let body = bytes::Bytes::from(body);
            let etag = response::etag_of(&body);
            response::artifact(&headers, body, response::CONTENT_JSON, cache, etag)
        }
        None => response::document(&headers, &doc, cache),
    })
}

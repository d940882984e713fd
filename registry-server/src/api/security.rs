//! `GET /security/advisories.json`: the advisory feed, as the caller's view may see it.

use axum::http::HeaderMap;
use axum::response::Response;

use super::auth::Viewed;
use super::error::ApiError;
use super::response;

/// The advisory feed. The stored feed is rendered (and cached) once; advisories about another
/// tenant's private packs are then dropped for this view ([`crate::tenant::View::filter_advisories`]),
/// so a feed naming no private pack is served from the cache unchanged.
pub async fn advisories(Viewed(registry): Viewed, headers: HeaderMap) -> Result<Response, ApiError> {
    let doc = registry.advisories_doc().await?;
    Ok(response::viewed_document(&headers, &doc, |body| registry.view().filter_advisories(body).body))
}

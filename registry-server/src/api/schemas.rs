//! `GET /{name}/{version}/{file}.json`: the schema `$id` mirror (contract §3.7). The rules (which
//! files, never for yanked versions) are in [`crate::registry::schemas`].

use axum::http::HeaderMap;
use axum::response::Response;

use super::auth::Viewed;
use super::error::ApiError;
use super::response;
use super::segments::Segments;

/// One mirrored schema, as JSON with the metadata caching rules (a yank removes it).
pub async fn get(
    Viewed(registry): Viewed,
    Segments((name, version, file)): Segments<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    match registry.schema(&name, &version, &file).await? {
        Some(body) => Ok(response::json_document(&headers, body)),
        None => Err(ApiError::not_found(
            "not_found",
            format!(
                "No file at /{name}/{version}/{file}: schemas are mirrored only from `schemas/*.json` of present, \
                 unyanked versions"
            ),
        )),
    }
}

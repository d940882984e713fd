//! `GET /v1/sbom.json`: the registry-wide CycloneDX document ([`crate::registry::sbom`]).

use axum::http::HeaderMap;
use axum::response::Response;

use super::auth::Viewed;
use super::error::ApiError;
use super::response;

/// The aggregate SBOM.
pub async fn aggregate(Viewed(registry): Viewed, headers: HeaderMap) -> Result<Response, ApiError> {
    Ok(response::json_document(&headers, registry.aggregate_sbom().await?))
}

//! `GET /v1/sbom.json`: the registry-wide CycloneDX document ([`crate::registry::sbom`]).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::error::ApiError;
use super::response;
use crate::Registry;

/// The aggregate SBOM.
pub async fn aggregate(State(registry): State<Registry>, headers: HeaderMap) -> Result<Response, ApiError> {
    Ok(response::json_document(&headers, registry.aggregate_sbom().await?))
}

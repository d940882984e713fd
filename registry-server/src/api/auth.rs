//! Bearer-token authentication for the write endpoints.

use axum::http::{HeaderMap, StatusCode, header};

use super::error::ApiError;
use crate::Registry;
use crate::auth::{Principal, authenticate};

/// The authenticated caller, or a 401 with `unauthenticated` / `key_expired` / `key_revoked`.
pub async fn principal(registry: &Registry, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let now = pack_verify::trust::format_time(time::OffsetDateTime::now_utc());
    match authenticate(&registry.storage().db, header, &now).await? {
        Ok(p) => Ok(p),
        Err(e) => {
            // Never echo the presented token.
            tracing::info!(code = e.code(), "authentication refused");
            Err(ApiError { status: StatusCode::UNAUTHORIZED, code: e.code(), message: e.to_string(), details: None })
        }
    }
}

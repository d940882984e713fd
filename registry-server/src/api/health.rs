//! `GET /healthz` (the process is up) and `GET /readyz` (the database answers).

use axum::extract::State;
use axum::http::StatusCode;

use super::error::ApiError;
use crate::Registry;

/// Liveness.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the metadata database answers.
pub async fn readyz(State(registry): State<Registry>) -> Result<(StatusCode, &'static str), ApiError> {
    registry.storage().db.ping().await?;
    Ok((StatusCode::OK, "ready\n"))
}

//! `POST`/`DELETE /v1/packs/{name}/-/{version}/yank` and `…/deprecate`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::auth::principal;
use super::error::ApiError;
use crate::Registry;
use crate::lifecycle;

/// Parses an optional JSON body (empty means all defaults).
fn json_body<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_body",
        message: format!("the body is not the expected JSON: {e}"),
        details: None,
    })
}

fn manifest_response(manifest: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, super::response::CONTENT_JSON)], manifest).into_response()
}

/// `POST …/yank` (scope `packs:yank`), body `{"reason", "advisoryUrl"}`.
pub async fn yank(
    State(registry): State<Registry>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = principal(&registry, &headers).await?;
    let req = json_body(&body)?;
    Ok(manifest_response(lifecycle::yank(&registry, &principal, &name, &version, req).await?))
}

/// `DELETE …/yank` (scope `packs:yank-revert`).
pub async fn unyank(
    State(registry): State<Registry>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = principal(&registry, &headers).await?;
    Ok(manifest_response(lifecycle::unyank(&registry, &principal, &name, &version).await?))
}

/// `POST …/deprecate` (scope `packs:publish`), body `{"reason", "supersededBy"}`.
pub async fn deprecate(
    State(registry): State<Registry>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = principal(&registry, &headers).await?;
    let req = json_body(&body)?;
    Ok(manifest_response(lifecycle::deprecate(&registry, &principal, &name, &version, req).await?))
}

/// `DELETE …/deprecate` (scope `packs:publish`).
pub async fn undeprecate(
    State(registry): State<Registry>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = principal(&registry, &headers).await?;
    Ok(manifest_response(lifecycle::undeprecate(&registry, &principal, &name, &version).await?))
}

//! `POST`/`DELETE /v1/packs/{name}/-/{version}/yank` and `…/deprecate`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::auth::principal;
use super::body::{JSON_LIMIT, Upload, json};
use super::error::ApiError;
use super::segments::Segments;
use crate::Registry;
use crate::lifecycle;

/// Reads an optional JSON body (empty means all defaults).
async fn optional_json<T: DeserializeOwned + Default>(upload: &mut Upload) -> Result<T, ApiError> {
    let body = upload.read(JSON_LIMIT).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    json(&body)
}

fn manifest_response(manifest: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, super::response::CONTENT_JSON)], manifest).into_response()
}

/// `POST …/yank` (scope `packs:yank`), body `{"reason", "advisoryUrl"}`.
pub async fn yank(
    State(registry): State<Registry>,
    Segments((name, version)): Segments<(String, String)>,
    headers: HeaderMap,
    mut upload: Upload,
) -> Result<Response, ApiError> {
    let principal = principal(&registry, &headers).await?;
    let req = optional_json(&mut upload).await?;
    Ok(manifest_response(lifecycle::yank(&registry, &principal, &name, &version, req).await?))
}

/// `DELETE …/yank` (scope `packs:yank-revert`).
pub async fn unyank(
    State(registry): State<Registry>,
    Segments((name, version)): Segments<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = principal(&registry, &headers).await?;
    Ok(manifest_response(lifecycle::unyank(&registry, &principal, &name, &version).await?))
}

/// `POST …/deprecate` (scope `packs:publish`), body `{"reason", "supersededBy"}`.
pub async fn deprecate(
    State(registry): State<Registry>,
    Segments((name, version)): Segments<(String, String)>,
    headers: HeaderMap,
    mut upload: Upload,
) -> Result<Response, ApiError> {
    let principal = principal(&registry, &headers).await?;
    let req = optional_json(&mut upload).await?;
    Ok(manifest_response(lifecycle::deprecate(&registry, &principal, &name, &version, req).await?))
}

/// `DELETE …/deprecate` (scope `packs:publish`).
pub async fn undeprecate(
    State(registry): State<Registry>,
    Segments((name, version)): Segments<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = principal(&registry, &headers).await?;
    Ok(manifest_response(lifecycle::undeprecate(&registry, &principal, &name, &version).await?))
}

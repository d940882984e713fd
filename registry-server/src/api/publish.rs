//! `PUT /v1/packs/{name}/-/{version}.tgz` (publish) and `DELETE /v1/packs/{name}/-/{version}`
//! (unpublish). The rules live in [`crate::publish`] and [`crate::lifecycle`].

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::principal;
use super::body::Upload;
use super::error::ApiError;
use super::segments::Segments;
use crate::Registry;
use crate::publish::{MAX_UPLOAD_BYTES, PublishOutcome, PublishRequest, publish};

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Publish. The body is read by the handler, after the cheap checks; what a refusal leaves
/// unread is the edge's to settle (`body::Rest::settle`).
pub async fn put(
    State(registry): State<Registry>,
    Segments((name, file)): Segments<(String, String)>,
    headers: HeaderMap,
    mut upload: Upload,
) -> Result<Response, ApiError> {
    let Some(version) = file.strip_suffix(".tgz") else {
        return Err(ApiError::not_found("not_found", format!("publish with PUT /v1/packs/{name}/-/<version>.tgz")));
    };
    let principal = principal(&registry, &headers).await?;
    let body = upload.read(MAX_UPLOAD_BYTES).await?;
    let outcome = publish(
        &registry,
        PublishRequest {
            name: &name,
            version,
            body,
            content_type: header_str(&headers, header::CONTENT_TYPE.as_str()),
            asserted_sha256: header_str(&headers, "x-pack-sha256"),
            signature: header_str(&headers, "x-pack-signature"),
            principal: &principal,
        },
    )
    .await?;
    let (status, manifest) = match outcome {
        PublishOutcome::Created(m) => (StatusCode::CREATED, m),
        PublishOutcome::Unchanged(m) => (StatusCode::OK, m),
    };
    let location = format!("/v1/packs/{name}/-/{version}.json");
    Ok((
        status,
        [(header::CONTENT_TYPE, super::response::CONTENT_JSON.to_string()), (header::LOCATION, location)],
        manifest,
    )
        .into_response())
}

/// Unpublish (within 72 hours of publication).
pub async fn delete(
    State(registry): State<Registry>,
    Segments((name, version)): Segments<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = principal(&registry, &headers).await?;
    crate::lifecycle::unpublish(&registry, &principal, &name, &version).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

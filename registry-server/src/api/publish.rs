//! `PUT /v1/packs/{name}/-/{version}.tgz` (publish) and `DELETE /v1/packs/{name}/-/{version}`
//! (unpublish). The rules live in [`crate::publish`] and [`crate::lifecycle`].

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::principal;
use super::error::ApiError;
use crate::Registry;
use crate::publish::{MAX_UPLOAD_BYTES, PublishOutcome, PublishRequest, publish};

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn rejection_error(rejection: &BytesRejection) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_body",
        message: format!("could not read the body: {rejection}"),
        details: None,
    }
}

/// Publish.
pub async fn put(
    State(registry): State<Registry>,
    Path((name, file)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Some(version) = file.strip_suffix(".tgz") else {
        return Err(ApiError::not_found("not_found", format!("publish with PUT /v1/packs/{name}/-/<version>.tgz")));
    };
    let principal = principal(&registry, &headers).await?;
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let mut response = ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "payload_too_large",
                message: format!("the upload is over the {MAX_UPLOAD_BYTES}-byte limit"),
                details: None,
            }
            .into_response();
            // The rest of the body is never read, so the connection cannot carry another request.
            response.headers_mut().insert(header::CONNECTION, axum::http::HeaderValue::from_static("close"));
            return Ok(response);
        }
        Err(rejection) => return Err(rejection_error(&rejection)),
    };
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
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = principal(&registry, &headers).await?;
    crate::lifecycle::unpublish(&registry, &principal, &name, &version).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

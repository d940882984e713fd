//! The JSON error envelope `{"error": code, "message": text, "details": {...}}` (contract §2.5).

use axum::Json;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::RegistryError;

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Contract error code.
    pub code: &'static str,
    /// Human-readable message: what happened and how to fix it.
    pub message: String,
    /// Optional structured details.
    pub details: Option<Value>,
}

impl ApiError {
    /// A 404 with `code`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, code, message: message.into(), details: None }
    }

    /// A 400 `invalid_body` for a query parameter, named in `details.parameter` (empty for the
    /// query string as a whole).
    pub fn invalid_parameter(parameter: &str, message: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_body",
            message,
            details: Some(json!({ "parameter": parameter })),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(err: RegistryError) -> Self {
        let status = match &err {
            RegistryError::Database(_)
            | RegistryError::Migration(_)
            | RegistryError::ObjectStore(_)
            | RegistryError::BlobMissing { .. } => StatusCode::SERVICE_UNAVAILABLE,
            RegistryError::Verify { .. } => StatusCode::BAD_REQUEST,
            RegistryError::Refused { status, .. } => StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        // Storage internals (paths, SQL) stay in the log, not in the response body.
        if status.is_server_error() {
            tracing::error!(error = %err, code = err.code(), "request failed");
        }
        let message = if status == StatusCode::SERVICE_UNAVAILABLE {
            "the registry's storage is temporarily unavailable; retry shortly".to_string()
        } else if status == StatusCode::INTERNAL_SERVER_ERROR {
            "internal error; the registry operator has the details in the server log".to_string()
        } else {
            err.to_string()
        };
        Self { status, code: err.code(), message, details: None }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code, "message": self.message });
        if let (Some(details), Some(obj)) = (self.details, body.as_object_mut()) {
            obj.insert("details".into(), details);
        }
        (self.status, Json(body)).into_response()
    }
}

/// Any URL no route matches.
pub async fn not_found_fallback(uri: Uri) -> ApiError {
    ApiError::not_found("not_found", format!("No file at {}", uri.path()))
}

/// A URL some route matches, with a method it does not take (axum adds the `Allow` header).
pub async fn method_not_allowed_fallback(method: Method, uri: Uri) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: format!("{method} is not allowed on {}; the Allow header lists the methods that are", uri.path()),
        details: None,
    }
}

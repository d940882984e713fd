//! The URL's `{…}` segments, for every handler that names them: axum's `Path`, with its
//! refusals (a segment that is not UTF-8 once percent-decoded) answered in the contract's JSON
//! envelope instead of axum's plain text.

use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The route's `{…}` segments, deserialised as `T` (a `String` or a tuple of them).
pub struct Segments<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Segments<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(segments)) => Ok(Self(segments)),
            // A route that names no segment its handler asks for is our bug, not the client's.
            Err(rejection) if rejection.status().is_server_error() => {
                tracing::error!(path = parts.uri.path(), error = %rejection.body_text(), "route and handler disagree");
                Err(ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "internal_error",
                    message: "internal error; the registry operator has the details in the server log".into(),
                    details: None,
                })
            }
            // No pack, version or key has a name that is not UTF-8, so nothing is at this URL.
            Err(rejection) => Err(ApiError::not_found(
                "not_found",
                format!("No file at {}: {}", parts.uri.path(), rejection.body_text()),
            )),
        }
    }
}

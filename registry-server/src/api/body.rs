//! The request bodies of the write API: read up to a limit, JSON parsed with the contract's
//! error codes, and what happens to the part a refusal leaves unread. Every handler that takes
//! a body (publish, keychain, advisories, yank, deprecate) reads it through [`Upload`].
//!
//! An HTTP/1.1 server that answers before reading the whole body and then closes the connection
//! makes the kernel reset it while the client is still writing: the client sees a broken pipe,
//! not the answer (the kernel drops received but unread data on a reset). So the unread rest of a
//! refused body is read and thrown away after the answer is sent, for a bounded time (as nginx's
//! lingering close does); when the body ends in time, the connection stays usable. Over HTTP/2
//! the same reading lets the stream end cleanly, instead of with a reset after the answer that
//! some clients (curl 7.88) report as a failed transfer.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::response::Response;
use bytes::BytesMut;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use tokio::time::{Instant, timeout, timeout_at};

use super::error::ApiError;

/// The largest JSON body of the write API (keychains, advisories, yank and deprecate requests).
pub const JSON_LIMIT: usize = 1024 * 1024;

/// The longest a refused upload's rest is read and thrown away (nginx's `lingering_time`).
pub const LINGER_TIME: Duration = Duration::from_secs(30);
/// The longest a refused upload may send nothing before its connection is closed (nginx's
/// `lingering_timeout`).
pub const LINGER_IDLE: Duration = Duration::from_secs(5);

/// Why an upload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The body, declared or counted, is over the limit.
    #[error("the upload is over the {limit}-byte limit")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The client's body stream failed (connection dropped, malformed chunking).
    #[error("could not read the body: {0}")]
    Body(axum::Error),
}

impl From<UploadError> for ApiError {
    fn from(error: UploadError) -> Self {
        let (status, code, hint) = match error {
            UploadError::TooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "make the body smaller")
            }
            UploadError::Body(_) => (StatusCode::BAD_REQUEST, "invalid_body", "send the bytes again"),
        };
        Self { status, code, message: format!("{error}; {hint}"), details: None }
    }
}

/// Parses a JSON body, refusing it as `invalid_body` with serde's reason (line, column, field).
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_body",
        message: format!("the body is not the expected JSON: {e}"),
        details: None,
    })
}

/// Where the body stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Not a byte asked for: the client may still wait for `100 Continue`.
    Unread,
    /// Partly read.
    Reading,
    /// Read to its end.
    Ended,
    /// The stream failed; the connection cannot be trusted.
    Failed,
}

/// A request body read at most once, up to a limit.
pub struct Upload {
    stream: BodyDataStream,
    progress: Progress,
    declared: Option<u64>,
    expects_continue: bool,
    version: Version,
}

/// As an extractor (a handler's last argument): the request's body with its version and headers.
impl<S: Send + Sync> FromRequest<S> for Upload {
    type Rejection = Infallible;

    async fn from_request(request: Request, _: &S) -> Result<Self, Infallible> {
        let (parts, body) = request.into_parts();
        Ok(Self::new(parts.version, &parts.headers, body))
    }
}

impl Upload {
    /// Wraps a request's body; `headers` tell its declared length and whether the client waits
    /// for `100 Continue`.
    pub fn new(version: Version, headers: &HeaderMap, body: Body) -> Self {
        let declared =
            headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let expects_continue = headers
            .get(header::EXPECT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        Self { stream: body.into_data_stream(), progress: Progress::Unread, declared, expects_continue, version }
    }

    /// The whole body, if it is at most `limit` bytes. A declared length over the limit is
    /// refused before a byte is read, so a client waiting for `100 Continue` never sends it.
    pub async fn read(&mut self, limit: usize) -> Result<Bytes, UploadError> {
        if self.declared.is_some_and(|n| n > limit as u64) {
            return Err(UploadError::TooLarge { limit });
        }
        let capacity = self.declared.map_or(0, |n| n as usize);
        let mut buffer = BytesMut::with_capacity(capacity);
        self.progress = Progress::Reading;
        while let Some(chunk) = self.stream.next().await {
            let chunk = chunk.map_err(|e| {
                self.progress = Progress::Failed;
                UploadError::Body(e)
            })?;
            if buffer.len() + chunk.len() > limit {
                return Err(UploadError::TooLarge { limit });
            }
            buffer.extend_from_slice(&chunk);
        }
        self.progress = Progress::Ended;
        Ok(buffer.freeze())
    }

    /// Sends `response` and deals with the body's unread rest: thrown away in the background,
    /// or, when reading it would invite it (a client waiting for `100 Continue`) or the stream
    /// failed, left unread with the HTTP/1.1 connection closed after the response.
    pub fn respond(self, mut response: Response) -> Response {
        let close = match self.progress {
            Progress::Ended => false,
            // Reading now would make the server send `100 Continue` and invite the body (HTTP/1.1
            // only: hyper's HTTP/2 server sends no `100 Continue`).
            Progress::Unread if self.expects_continue && self.version < Version::HTTP_2 => true,
            Progress::Failed => true,
            // Over HTTP/2 too: a stream whose body is dropped unread is reset after the answer
            // (NO_ERROR, "stop sending"), which some clients (curl 7.88) report as a failed
            // transfer instead of the answer.
            Progress::Unread | Progress::Reading => {
                tokio::spawn(linger(self.stream));
                false
            }
        };
        if close && self.version < Version::HTTP_2 {
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Reads and throws away the rest of a body, for at most [`LINGER_TIME`] and never waiting more
/// than [`LINGER_IDLE`] for a chunk. Dropping the stream unfinished makes the server close the
/// connection once the response is out.
async fn linger(mut stream: BodyDataStream) {
    let deadline = Instant::now() + LINGER_TIME;
    let mut discarded = 0u64;
    let ended = timeout_at(deadline, async {
        loop {
            match timeout(LINGER_IDLE, stream.next()).await {
                Ok(Some(Ok(chunk))) => discarded += chunk.len() as u64,
                Ok(None) => return true,
                Ok(Some(Err(_))) | Err(_) => return false,
            }
        }
    })
    .await
    .unwrap_or(false);
    tracing::debug!(discarded, ended, "threw away the rest of a refused upload");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn upload(body: &'static [u8], headers: &[(&'static str, &'static str)]) -> Upload {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_static(value));
        }
        Upload::new(Version::HTTP_11, &map, Body::from(body))
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_whole() {
        let mut up = upload(b"0123456789", &[]);
        assert_eq!(up.read(10).await.unwrap(), Bytes::from_static(b"0123456789"));
        let response = up.respond(Response::new(Body::empty()));
        assert!(response.headers().get(header::CONNECTION).is_none());
    }

    #[tokio::test]
    async fn a_counted_body_over_the_limit_is_refused() {
        let mut up = upload(b"0123456789", &[]);
        assert!(matches!(up.read(9).await, Err(UploadError::TooLarge { limit: 9 })));
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_unread() {
        let mut up = upload(b"0123456789", &[("content-length", "10")]);
        assert!(matches!(up.read(9).await, Err(UploadError::TooLarge { .. })));
        assert_eq!(up.progress, Progress::Unread);
    }

    #[tokio::test]
    async fn a_client_waiting_for_continue_gets_the_refusal_and_a_closed_connection() {
        let mut up = upload(b"0123456789", &[("content-length", "10"), ("expect", "100-continue")]);
        assert!(up.read(9).await.is_err());
        let response = up.respond(Response::new(Body::empty()));
        assert_eq!(response.headers().get(header::CONNECTION).unwrap(), "close");
    }
}

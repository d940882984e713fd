//! Request bodies: read up to a limit, JSON parsed with the contract's error codes, and what
//! happens to the part a request's handling leaves unread. Every handler that takes a body
//! (publish, keychain, advisories, yank, deprecate) reads it through [`Upload`]; the edge layer
//! tracks every routed request's body ([`track`]) and settles its unread rest as the response
//! goes out ([`Rest::settle`]), whether a handler refused it part-way, takes no body at all, or
//! the request met the 404 or 405 fallback.
//!
//! An HTTP/1.1 server that answers before reading the whole body and then closes the connection
//! makes the kernel reset it while the client is still writing: the client sees a broken pipe,
//! not the answer (the kernel drops received but unread data on a reset). So the unread rest of a
//! body is read and thrown away after the answer is sent, for a bounded time (as nginx's
//! lingering close does); when the body ends in time, the connection stays usable. Over HTTP/2
//! the same reading lets the stream end cleanly, instead of with a reset after the answer that
//! some clients (curl 7.88) report as a failed transfer.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, BodyDataStream, Bytes, HttpBody};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::response::Response;
use bytes::BytesMut;
use futures_util::StreamExt;
use http_body::{Frame, SizeHint};
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

/// Where a request body stands.
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

/// What a request body left behind when it was dropped: its unread rest (if any) and how far
/// it had been read.
struct Leftover {
    rest: Body,
    progress: Progress,
}

/// The slot a [`Tracked`] body drops its leftover into, for [`Rest::settle`].
type Slot = Arc<Mutex<Option<Leftover>>>;

/// A request body that, dropped before its end (by a handler that refused it part-way, or that
/// never reads bodies, or by the 404 and 405 fallbacks), hands its unread rest to the edge.
struct Tracked {
    inner: Body,
    progress: Progress,
    slot: Slot,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if this.progress == Progress::Unread {
            this.progress = Progress::Reading;
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.progress = Progress::Ended,
            Poll::Ready(Some(Err(_))) => this.progress = Progress::Failed,
            Poll::Ready(Some(Ok(_))) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let ended =
            self.progress == Progress::Ended || (self.progress != Progress::Failed && self.inner.is_end_stream());
        if ended {
            return;
        }
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some(Leftover { rest: std::mem::take(&mut self.inner), progress: self.progress });
        }
    }
}

/// The edge's hold on a request's body: after the response, [`Rest::settle`] deals with what
/// the handler left unread.
pub struct Rest {
    slot: Slot,
    expects_continue: bool,
    version: Version,
}

/// Wraps the body of `request` so that whatever part of it the handling leaves unread comes
/// back to the caller's [`Rest`]; `None` (and the request untouched) when there is no body.
pub fn track(request: Request) -> (Request, Option<Rest>) {
    if request.body().is_end_stream() {
        return (request, None);
    }
    let (parts, body) = request.into_parts();
    let expects_continue = parts
        .headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let slot = Slot::default();
    let tracked = Tracked { inner: body, progress: Progress::Unread, slot: Arc::clone(&slot) };
    let rest = Rest { slot, expects_continue, version: parts.version };
    (Request::from_parts(parts, Body::new(tracked)), Some(rest))
}

impl Rest {
    /// Deals with the body's unread rest as `response` goes out: read and thrown away in the
    /// background; or, when reading it would invite it (a client waiting for `100 Continue`)
    /// or the stream failed, left unread with the HTTP/1.1 connection closed after the
    /// response.
    pub fn settle(self, mut response: Response) -> Response {
        let Some(left) = self.slot.lock().ok().and_then(|mut slot| slot.take()) else {
            return response;
        };
        let close = match left.progress {
            Progress::Ended => false,
            // Reading now would make the server send `100 Continue` and invite the body (HTTP/1.1
            // only: hyper's HTTP/2 server sends no `100 Continue`).
            Progress::Unread if self.expects_continue && self.version < Version::HTTP_2 => true,
            Progress::Failed => true,
            // Over HTTP/2 too: a stream whose body is dropped unread is reset after the answer
            // (NO_ERROR, "stop sending"), which some clients (curl 7.88) report as a failed
            // transfer instead of the answer.
            Progress::Unread | Progress::Reading => {
                tokio::spawn(linger(left.rest.into_data_stream()));
                false
            }
        };
        if close && self.version < Version::HTTP_2 {
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// A request body read at most once, up to a limit. What it leaves unread is dealt with by the
/// edge ([`track`], [`Rest::settle`]), whatever the handler does with it.
pub struct Upload {
    stream: BodyDataStream,
    declared: Option<u64>,
}

/// As an extractor (a handler's last argument): the request's body and its declared length.
impl<S: Send + Sync> FromRequest<S> for Upload {
    type Rejection = Infallible;

    async fn from_request(request: Request, _: &S) -> Result<Self, Infallible> {
        let (parts, body) = request.into_parts();
        Ok(Self::new(&parts.headers, body))
    }
}

impl Upload {
    /// Wraps a request's body; `headers` tell its declared length.
    pub fn new(headers: &HeaderMap, body: Body) -> Self {
        let declared =
            headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        Self { stream: body.into_data_stream(), declared }
    }

    /// The whole body, if it is at most `limit` bytes. A declared length over the limit is
    /// refused before a byte is read, so a client waiting for `100 Continue` never sends it.
    pub async fn read(&mut self, limit: usize) -> Result<Bytes, UploadError> {
        if self.declared.is_some_and(|n| n > limit as u64) {
            return Err(UploadError::TooLarge { limit });
        }
        let capacity = self.declared.map_or(0, |n| n as usize);
        let mut buffer = BytesMut::with_capacity(capacity);
        while let Some(chunk) = self.stream.next().await {
            let chunk = chunk.map_err(UploadError::Body)?;
            if buffer.len() + chunk.len() > limit {
                return Err(UploadError::TooLarge { limit });
            }
            buffer.extend_from_slice(&chunk);
        }
        Ok(buffer.freeze())
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
    tracing::debug!(discarded, ended, "threw away the rest of an unread request body");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A `PUT` with `headers` and `body`, tracked as the edge does: the handler's `Upload` and
    /// the edge's `Rest`.
    fn tracked(body: Body, headers: &[(&'static str, &'static str)]) -> (Upload, Rest) {
        let mut request = Request::builder().method("PUT").uri("/v1/packs/p/-/1.0.0.tgz");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (request, rest) = track(request.body(body).unwrap());
        let (parts, body) = request.into_parts();
        (Upload::new(&parts.headers, body), rest.unwrap())
    }

    fn settled(rest: Rest) -> Response {
        rest.settle(Response::new(Body::empty()))
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_whole_and_leaves_nothing() {
        let (mut up, rest) = tracked(Body::from("0123456789"), &[]);
        assert_eq!(up.read(10).await.unwrap(), Bytes::from_static(b"0123456789"));
        drop(up);
        assert!(rest.slot.lock().unwrap().is_none());
        assert!(settled(rest).headers().get(header::CONNECTION).is_none());
    }

    #[tokio::test]
    async fn a_counted_body_over_the_limit_is_refused() {
        let (mut up, _rest) = tracked(Body::from("0123456789"), &[]);
        assert!(matches!(up.read(9).await, Err(UploadError::TooLarge { limit: 9 })));
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_unread() {
        let (mut up, rest) = tracked(Body::from("0123456789"), &[("content-length", "10")]);
        assert!(matches!(up.read(9).await, Err(UploadError::TooLarge { .. })));
        drop(up);
        assert_eq!(rest.slot.lock().unwrap().as_ref().map(|l| l.progress), Some(Progress::Unread));
    }

    #[tokio::test]
    async fn a_client_waiting_for_continue_gets_the_refusal_and_a_closed_connection() {
        let (mut up, rest) = tracked(Body::from("0123456789"), &[("content-length", "10"), ("expect", "100-continue")]);
        assert!(up.read(9).await.is_err());
        drop(up);
        assert_eq!(settled(rest).headers().get(header::CONNECTION).unwrap(), "close");
    }

    #[tokio::test]
    async fn a_body_nobody_reads_is_read_to_its_end_after_the_answer() {
        let ended = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ended);
        let chunks = futures_util::stream::iter((0..3).map(|_| Ok::<_, Infallible>(Bytes::from_static(b"abc")))).chain(
            futures_util::stream::once(async move {
                flag.store(true, Ordering::SeqCst);
                Ok(Bytes::from_static(b"end"))
            }),
        );
        let (up, rest) = tracked(Body::from_stream(chunks), &[]);
        drop(up); // as a handler that takes no body, or a fallback, does
        let response = settled(rest);
        assert!(response.headers().get(header::CONNECTION).is_none(), "the connection stays usable");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ended.load(Ordering::SeqCst) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(ended.load(Ordering::SeqCst), "the rest was read in the background");
    }

    #[test]
    fn a_request_without_a_body_is_not_tracked() {
        let request = Request::builder().uri("/healthz").body(Body::empty()).unwrap();
        assert!(track(request).1.is_none());
    }
}

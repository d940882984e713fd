//! Header rules shared by every read endpoint (contract §2.1): content types, `Cache-Control`,
//! strong ETags with `If-None-Match` → 304, `Content-Length`, CORS.
//!
//! The hot path builds a response from precomputed [`HeaderValue`]s (the constants below and the
//! ETag a cached [`Doc`] carries): no header parsing, formatting or allocation per request.
//! `Content-Length` is added by axum from the body's exact size.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

use crate::registry::cache::Doc;

/// JSON documents.
pub const CONTENT_JSON: &str = "application/json; charset=utf-8";
/// Tarballs (the spec's type; the reference CDN sends octet-stream, clients accept either).
pub const CONTENT_TGZ: &str = "application/tar+gzip";
/// Detached signatures.
pub const CONTENT_OCTET: &str = "application/octet-stream";
/// PEM public keys.
pub const CONTENT_PEM: &str = "application/x-pem-file";

/// Metadata may change (yanks, new versions): short lifetime, revalidate.
pub const CACHE_METADATA: &str = "public, max-age=300, must-revalidate";
/// Tarballs and signatures never change once published.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Public keys.
pub const CACHE_KEYS: &str = "public, max-age=86400";
/// `Cache-Control` of a key as a tenant's view serves it (the view may hide keys later, so it
/// is not kept as long as the public copy).
pub const CACHE_TENANT: &str = "private, max-age=300, must-revalidate";

/// `Access-Control-Allow-Origin: *`: the registry is public data.
static ANY_ORIGIN: HeaderValue = HeaderValue::from_static("*");

// The hot path's header values, validated when the program is compiled: `from_static` is a
// `const fn`, but called at run time it checks every byte again (about 300 instructions a
// response, `docs/performance-log.md`). Cloning a static value copies a pointer.
static JSON_VALUE: HeaderValue = HeaderValue::from_static(CONTENT_JSON);
static METADATA_VALUE: HeaderValue = HeaderValue::from_static(CACHE_METADATA);
static IMMUTABLE_VALUE: HeaderValue = HeaderValue::from_static(CACHE_IMMUTABLE);
/// [`CONTENT_TGZ`] as a header value, for [`blob`].
pub static TGZ_VALUE: HeaderValue = HeaderValue::from_static(CONTENT_TGZ);
/// [`CONTENT_OCTET`] as a header value, for [`blob`].
pub static OCTET_VALUE: HeaderValue = HeaderValue::from_static(CONTENT_OCTET);

/// A strong ETag over `body`.
pub fn etag_of(body: &[u8]) -> String {
    // The same `sha256-<base64>` form as a tarball's integrity (and its ETag).
    format!("\"{}\"", pack_verify::integrity::Integrity::of(body))
}

/// An ETag as a header value (ETags are ASCII; one that is not is left out rather than sent
/// broken).
pub fn etag_header(etag: String) -> Option<HeaderValue> {
    HeaderValue::try_from(etag).ok()
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn matches(request: &HeaderMap, etag: &[u8]) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .any(|tag| tag == b"*" || tag == etag || tag.strip_prefix(b"W/") == Some(etag))
}

/// A 200 (or 304) response from ready header values.
fn respond(
    request: &HeaderMap,
    body: Bytes,
    content_type: Option<HeaderValue>,
    cache: Option<HeaderValue>,
    etag: Option<HeaderValue>,
) -> Response {
    let not_modified = etag.as_ref().is_some_and(|etag| matches(request, etag.as_bytes()));
    let mut response = if not_modified {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        Response::new(Body::from(body))
    };
    let headers = response.headers_mut();
    if let Some(cache) = cache {
        headers.insert(header::CACHE_CONTROL, cache);
    }
    if let Some(etag) = etag {
        headers.insert(header::ETAG, etag);
    }
    if let Some(content_type) = content_type {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    response
}

/// A 200 (or 304) response carrying `body` with the given headers.
pub fn artifact(request: &HeaderMap, body: Bytes, content_type: &str, cache: &str, etag: String) -> Response {
    let mut response = respond(request, body, None, None, etag_header(etag));
    // Not the hot path (cached documents and blobs use [`document`] and [`blob`]).
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(cache) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    response
}

/// A cached metadata document (JSON, [`CACHE_METADATA`]) with its precomputed ETag.
pub fn document(request: &HeaderMap, doc: &Doc) -> Response {
    respond(request, doc.body.clone(), Some(JSON_VALUE.clone()), Some(METADATA_VALUE.clone()), doc.etag_header.clone())
}

/// An immutable blob (tarball, signature; [`CACHE_IMMUTABLE`]) with its ETag. `content_type`
/// is [`TGZ_VALUE`] or [`OCTET_VALUE`].
pub fn blob(
    request: &HeaderMap,
    body: Bytes,
    content_type: &'static HeaderValue,
    etag: Option<HeaderValue>,
) -> Response {
    respond(request, body, Some(content_type.clone()), Some(IMMUTABLE_VALUE.clone()), etag)
}

/// A cached metadata document as one caller's view may see it: served as cached unless it names
/// something `private.` and `narrow` (given the body) returns a narrower one, which is then
/// served with its own ETag. A tenant's request carries credentials, so the edge middleware
/// turns the `public` caching into `private` ([`private_to_caller`]).
pub fn viewed_document(request: &HeaderMap, doc: &Doc, narrow: impl FnOnce(&str) -> Option<String>) -> Response {
    if doc.mentions_private()
        && let Some(body) = narrow(&String::from_utf8_lossy(&doc.body))
    {
        let body = Bytes::from(body);
        let etag = etag_of(&body);
        return artifact(request, body, CONTENT_JSON, CACHE_METADATA, etag);
    }
    document(request, doc)
}

/// A JSON metadata document.
pub fn json_document(request: &HeaderMap, body: impl Into<Bytes>) -> Response {
    let body = body.into();
    let etag = etag_of(&body);
    artifact(request, body, CONTENT_JSON, CACHE_METADATA, etag)
}

/// Adds `Access-Control-Allow-Origin: *` to every response (the router's edge layer calls it):
/// the registry is public data.
pub fn cors(response: &mut Response) {
    response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN.clone());
}

/// A response to a request that carried credentials is that caller's view (a tenant sees its
/// own private packs and filtered documents): a shared cache must neither keep it nor replay it
/// to anyone else. `public` becomes `private`, and `Vary: Authorization` covers caches that key
/// on headers.
pub fn private_to_caller(response: &mut Response) {
    let headers = response.headers_mut();
    if let Some(value) = headers.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok())
        && let Some(rest) = value.strip_prefix("public")
        && let Ok(private) = HeaderValue::from_str(&format!("private{rest}"))
    {
        headers.insert(header::CACHE_CONTROL, private);
    }
    headers.append(header::VARY, HeaderValue::from_static("Authorization"));
}

//! Header rules shared by every read endpoint (contract §2.1): content types, `Cache-Control`,
//! strong ETags with `If-None-Match` → 304, `Content-Length`, CORS.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

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

/// A strong ETag over `body`.
pub fn etag_of(body: &[u8]) -> String {
    // The same `sha256-<base64>` form as a tarball's integrity (and its ETag).
    format!("\"{}\"", pack_verify::integrity::Integrity::of(body))
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn matches(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag == etag || tag.strip_prefix("W/") == Some(etag))
}

/// A 200 (or 304) response carrying `body` with the given headers.
pub fn artifact(request: &HeaderMap, body: Bytes, content_type: &str, cache: &str, etag: String) -> Response {
    let not_modified = matches(request, &etag);
    let mut builder = Response::builder()
        .header(header::CACHE_CONTROL, cache)
        .header(header::ETAG, etag)
        .header(header::CONTENT_TYPE, content_type);
    if not_modified {
        builder = builder.status(StatusCode::NOT_MODIFIED);
        return builder.body(Body::empty()).unwrap_or_default();
    }
    builder.status(StatusCode::OK).header(header::CONTENT_LENGTH, body.len()).body(Body::from(body)).unwrap_or_default()
}

/// A JSON metadata document.
pub fn json_document(request: &HeaderMap, body: impl Into<Bytes>) -> Response {
    let body = body.into();
    let etag = etag_of(&body);
    artifact(request, body, CONTENT_JSON, CACHE_METADATA, etag)
}

/// Adds `Access-Control-Allow-Origin: *` to every response: the registry is public data.
pub async fn cors(mut response: Response) -> Response {
    response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

//! `GET /keys/{keyId}.pub`: a public key as PEM SPKI, byte for byte as stored; and
//! `GET /keys/keychain.json`: the root-signed keychain, when one was uploaded.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;

use super::error::ApiError;
use super::response;
use crate::Registry;

/// One public key.
pub async fn get(
    State(registry): State<Registry>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let unknown = || ApiError::not_found("not_found", format!("No file at /keys/{file}"));
    if file == "keychain.json" {
        let doc = registry.storage().db.document(crate::trust::DOC_KEYCHAIN).await?.ok_or_else(unknown)?;
        return Ok(response::json_document(&headers, doc));
    }
    let key_id = file.strip_suffix(".pub").ok_or_else(unknown)?;
    let pem = registry.key(key_id).await?.ok_or_else(unknown)?;
    let body = Bytes::from(pem);
    let etag = response::etag_of(&body);
    Ok(response::artifact(&headers, body, response::CONTENT_PEM, response::CACHE_KEYS, etag))
}

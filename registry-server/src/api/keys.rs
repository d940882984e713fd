//! `GET /keys/{keyId}.pub`: a public key as PEM SPKI, byte for byte as stored; and
//! `GET /keys/keychain.json`: the root-signed keychain, when one was uploaded.
//!
//! A key the discovery document lists only for another tenant's private namespace answers 404
//! to this view, like a missing key. The keychain is served whole to everyone: it is signed by
//! the registry's root, so it cannot be narrowed per tenant without breaking its signature (see
//! docs/threat-model.md).

use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;

use super::auth::Viewed;
use super::error::ApiError;
use super::response;
use super::segments::Segments;

/// One public key, or the keychain.
pub async fn get(
    Viewed(registry): Viewed,
    Segments(file): Segments<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let unknown = || ApiError::not_found("not_found", format!("No file at /keys/{file}"));
    if file == "keychain.json" {
        let doc = registry.storage().db.document(crate::trust::DOC_KEYCHAIN).await?.ok_or_else(unknown)?;
        return Ok(response::json_document(&headers, doc));
    }
    let key_id = file.strip_suffix(".pub").ok_or_else(unknown)?;
    let discovery = registry.discovery_doc().await?;
    if discovery.mentions_private() {
        let hidden = registry.view().filter_discovery(&String::from_utf8_lossy(&discovery.body)).hidden_keys;
        if hidden.iter().any(|h| h == key_id) {
            return Err(unknown());
        }
    }
    let pem = registry.key(key_id).await?.ok_or_else(unknown)?;
    let body = Bytes::from(pem);
    let etag = response::etag_of(&body);
    let cache = if registry.view().is_public() { response::CACHE_KEYS } else { response::CACHE_TENANT };
    Ok(response::artifact(&headers, body, response::CONTENT_PEM, cache, etag))
}

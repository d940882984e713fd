//! Operator endpoints (scope `registry:admin`): `PUT /keys/keychain.json` (a root-signed
//! keychain: rotation and retirement are new keychain versions), `POST /security/advisories`,
//! `GET /v1/-/audit`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::principal;
use super::body::{JSON_LIMIT, Upload, json};
use super::error::ApiError;
use crate::auth::Scope;
use crate::storage::writes::AuditEvent;
use crate::trust::DOC_KEYCHAIN;
use crate::{Registry, RegistryError};

fn forbid(e: crate::auth::AuthError) -> ApiError {
    ApiError { status: StatusCode::FORBIDDEN, code: e.code(), message: e.to_string(), details: None }
}

/// Upload a root-signed keychain envelope. Its version must grow; the same bytes again are 200.
pub async fn put_keychain(
    State(registry): State<Registry>,
    headers: HeaderMap,
    mut upload: Upload,
) -> Result<Response, ApiError> {
    let principal = principal(&registry, &headers).await?;
    principal.require(Scope::Admin, None).map_err(forbid)?;
    let Some(trust) = registry.trust() else {
        return Err(
            RegistryError::refused(501, "not_implemented", "start the server with --trust to manage keys").into()
        );
    };
    if !trust.bundle.has_root() {
        return Err(RegistryError::refused(
            400,
            "trust_keychain_invalid",
            "this registry's bundle pins keys directly; keychains need a bundle with a pinned root (pack keys root-init)",
        )
        .into());
    }
    let body = upload.read(JSON_LIMIT).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| RegistryError::refused(400, "invalid_body", "the keychain must be UTF-8 JSON"))?;
    let new_root = trust.resolve(Some(text.as_bytes()))?;
    let db = &registry.storage().db;
    let old = db.document(DOC_KEYCHAIN).await?;
    if let Some(old_text) = &old {
        if old_text == text {
            return Ok((StatusCode::OK, Json(json!({"keychainVersion": new_root.keychain_version()}))).into_response());
        }
        let old_version = trust.resolve(Some(old_text.as_bytes())).ok().and_then(|r| r.keychain_version());
        if old_version >= new_root.keychain_version() {
            return Err(RegistryError::refused(
                409,
                "trust_keychain_rollback",
                format!(
                    "keychain version {:?} is not newer than the stored version {:?}; raise `version` and re-sign",
                    new_root.keychain_version(),
                    old_version
                ),
            )
            .into());
        }
    }
    let stamp = pack_verify::trust::now_rfc3339();
    let audit = AuditEvent::new(
        &stamp,
        &principal.name,
        "keychain",
        "keys/keychain.json",
        json!({"version": new_root.keychain_version(), "keys": new_root.keys().map(|k| &k.key_id).collect::<Vec<_>>()}),
    );
    // Keys first, so a served keychain never names a key the registry cannot serve.
    for key in new_root.keys() {
        db.put_key(&key.key_id, &key.key.to_pem()).await?;
    }
    if !db.swap_document(DOC_KEYCHAIN, old.as_deref(), text, &audit).await? {
        return Err(
            RegistryError::refused(409, "conflict", "another keychain was uploaded at the same time; retry").into()
        );
    }
    Ok((StatusCode::CREATED, Json(json!({"keychainVersion": new_root.keychain_version()}))).into_response())
}

/// Add an advisory; every matched version is yanked.
pub async fn post_advisory(
    State(registry): State<Registry>,
    headers: HeaderMap,
    mut upload: Upload,
) -> Result<Response, ApiError> {
    let principal = principal(&registry, &headers).await?;
    let advisory: Value = json(&upload.read(JSON_LIMIT).await?)?;
    let yanked = crate::lifecycle::add_advisory(&registry, &principal, advisory).await?;
    Ok((StatusCode::CREATED, Json(json!({"yanked": yanked}))).into_response())
}

/// Query of `GET /v1/-/audit`.
#[derive(Deserialize)]
pub struct AuditQuery {
    limit: Option<i64>,
}

/// The audit log, newest first (`?limit=`, default 100, at most 1000).
pub async fn audit(
    State(registry): State<Registry>,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let principal = principal(&registry, &headers).await?;
    principal.require(Scope::Admin, None).map_err(forbid)?;
    let Query(q) = query.map_err(|e| {
        ApiError::invalid_parameter(
            "limit",
            format!("the query string does not parse: {}; use ?limit=<1-1000>", e.body_text()),
        )
    })?;
    let events = registry.storage().db.audit_log(q.limit.unwrap_or(100).clamp(1, 1000)).await?;
    let events: Vec<Value> = events
        .into_iter()
        .map(|e| {
            json!({"id": e.event_id, "at": e.at, "principal": e.principal, "action": e.action, "subject": e.subject,
                   "details": serde_json::from_str::<Value>(&e.details).unwrap_or(Value::Null)})
        })
        .collect();
    Ok(Json(json!({"events": events})).into_response())
}

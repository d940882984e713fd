//! How fresh the mirror is: the last successful sync per upstream, kept in `mirror_upstreams`
//! and served at `GET /v1/-/mirror/status.json` as a DSSE envelope signed by the mirror's
//! statement key (payload type [`STATUS_PAYLOAD_TYPE`]), so a client can verify it and refuse a
//! mirror staler than it accepts ([`MirrorStatus::check_max_staleness`]).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::api::error::ApiError;
use crate::api::response;
use crate::registry::index::DiscoveryKey;
use crate::storage::Db;
use crate::{Registry, RegistryError};

use pack_verify::trust::envelope::Envelope;
pub use pack_verify::trust::mirror_status::{
    MirrorStatus, STATUS_PATH, STATUS_PAYLOAD_TYPE, StatusError, UpstreamStatus,
};

/// A stored row of `mirror_upstreams`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct UpstreamRow {
    pub name: String,
    pub url: String,
    pub last_success: Option<String>,
    pub last_attempt: Option<String>,
    pub last_error: Option<String>,
    pub discovery_keys: String,
    pub trust_state: Option<String>,
}

/// A narrowed upstream key as stored for discovery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredKey {
    pub key_id: String,
    pub permitted_namespaces: Vec<String>,
    pub status: String,
}

pub(crate) async fn rows(db: &Db) -> Result<Vec<UpstreamRow>, RegistryError> {
    Ok(sqlx::query_as(
        "SELECT name, url, last_success, last_attempt, last_error, discovery_keys, trust_state \
         FROM mirror_upstreams ORDER BY name",
    )
    .fetch_all(&db.pool)
    .await?)
}

pub(crate) async fn row(db: &Db, name: &str) -> Result<Option<UpstreamRow>, RegistryError> {
    Ok(sqlx::query_as(
        "SELECT name, url, last_success, last_attempt, last_error, discovery_keys, trust_state \
         FROM mirror_upstreams WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(&db.pool)
    .await?)
}

/// Records a sync attempt: `error: None` makes `attempt` the last success.
pub(crate) async fn record_attempt(
    db: &Db,
    name: &str,
    url: &str,
    attempt: &str,
    error: Option<&str>,
    keys: Option<&[StoredKey]>,
    trust_state: Option<&str>,
) -> Result<(), RegistryError> {
    let keys_json = keys.map(|k| serde_json::to_string(k).unwrap_or_else(|_| "[]".into()));
    // One transaction through `commit_write`: discovery derives from these rows, so the
    // metadata cache must see the change.
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO mirror_upstreams (name, url, last_success, last_attempt, last_error, discovery_keys, trust_state) \
         VALUES ($1, $2, NULL, $3, $4, COALESCE($5, '[]'), $6) ON CONFLICT (name) DO UPDATE SET \
         url = $2, last_attempt = $3, last_error = $4, \
         discovery_keys = COALESCE($5, mirror_upstreams.discovery_keys), \
         trust_state = COALESCE($6, mirror_upstreams.trust_state)",
    )
    .bind(name)
    .bind(url)
    .bind(attempt)
    .bind(error)
    .bind(keys_json)
    .bind(trust_state)
    .execute(&mut *tx)
    .await?;
    if error.is_none() {
        sqlx::query("UPDATE mirror_upstreams SET last_success = $2 WHERE name = $1")
            .bind(name)
            .bind(attempt)
            .execute(&mut *tx)
            .await?;
    }
    db.commit_write(tx).await
}

/// Records where a version came from.
pub(crate) async fn record_version(
    db: &Db,
    name: &str,
    version: &str,
    upstream: &str,
    at: &str,
) -> Result<(), RegistryError> {
    sqlx::query(
        "INSERT INTO mirror_versions (name, version, upstream, mirrored_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name, version) DO NOTHING",
    )
    .bind(name)
    .bind(version)
    .bind(upstream)
    .bind(at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The upstream a mirrored version came from.
pub async fn version_upstream(db: &Db, name: &str, version: &str) -> Result<Option<String>, RegistryError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT upstream FROM mirror_versions WHERE name = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(u,)| u))
}

/// Upstream keys, narrowed, for the generated discovery document (empty when not mirroring).
pub async fn discovery_keys(db: &Db) -> Result<Vec<DiscoveryKey>, RegistryError> {
    let mut out: Vec<DiscoveryKey> = Vec::new();
    for row in rows(db).await? {
        let keys: Vec<StoredKey> = serde_json::from_str(&row.discovery_keys).unwrap_or_default();
        for k in keys {
            if let Some(existing) = out.iter_mut().find(|o| o.key_id == k.key_id) {
                for ns in k.permitted_namespaces {
                    if !existing.permitted_namespaces.contains(&ns) {
                        existing.permitted_namespaces.push(ns);
                    }
                }
                continue;
            }
            out.push(DiscoveryKey { key_id: k.key_id, permitted_namespaces: k.permitted_namespaces, status: k.status });
        }
    }
    Ok(out)
}

/// The current status document (configured upstreams first, then any others recorded).
pub async fn status(registry: &Registry) -> Result<MirrorStatus, RegistryError> {
    let stored = rows(&registry.storage().db).await?;
    let mirror = registry.mirror();
    let mut upstreams: Vec<UpstreamStatus> = Vec::new();
    let to_status = |r: &UpstreamRow| UpstreamStatus {
        name: r.name.clone(),
        url: r.url.clone(),
        last_successful_sync: r.last_success.clone(),
        last_attempt: r.last_attempt.clone(),
        last_error: r.last_error.clone(),
    };
    if let Some(m) = mirror {
        for u in m.upstreams() {
            upstreams.push(match stored.iter().find(|r| r.name == u.spec.name) {
                Some(r) => to_status(r),
                None => UpstreamStatus {
                    name: u.spec.name.clone(),
                    url: u.spec.url.clone(),
                    last_successful_sync: None,
                    last_attempt: None,
                    last_error: None,
                },
            });
        }
    }
    for r in &stored {
        if !upstreams.iter().any(|u| u.name == r.name) {
            upstreams.push(to_status(r));
        }
    }
    let url = mirror
        .and_then(|m| m.settings_url().map(str::to_string))
        .or_else(|| registry.trust().map(|t| t.bundle.registry.clone()))
        .unwrap_or_default();
    Ok(MirrorStatus {
        doc_type: "openwop.mirror-status".into(),
        mirror: url,
        generated_at: pack_verify::trust::format_time(OffsetDateTime::now_utc()),
        upstreams,
    })
}

/// `GET /v1/-/mirror/status.json`: the status as an envelope, signed by the statement key when
/// one is configured (unsigned otherwise: clients that check staleness then refuse it).
pub async fn get(State(registry): State<Registry>, headers: HeaderMap) -> Result<Response, ApiError> {
    let doc = status(&registry).await?;
    if registry.mirror().is_none() && doc.upstreams.is_empty() {
        return Err(ApiError::not_found("not_found", "this registry mirrors no upstream"));
    }
    let payload = serde_json::to_vec(&doc).unwrap_or_default();
    let signers: Vec<(&str, &pack_verify::keys::PrivateKey)> = registry
        .trust()
        .and_then(|t| t.statement_key.as_ref())
        .map(|(id, key)| vec![(id.as_str(), key)])
        .unwrap_or_default();
    let envelope = Envelope::sign(STATUS_PAYLOAD_TYPE, &payload, &signers);
    let mut resp = response::json_document(&headers, envelope.to_json());
    // Freshness is the point of this document: never cache it.
    resp.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(resp)
}

//! The signed status of a mirror (issue 5, decisions §14): the last successful sync per
//! upstream, served by a mirror as a DSSE envelope signed with its registry key, so a client can
//! verify it and refuse a mirror staler than it accepts. Shared by the server (which signs it)
//! and clients (`pack install --max-staleness`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::keys::PublicKey;
use crate::trust::envelope::Envelope;

/// Envelope payload type of the mirror status.
pub const STATUS_PAYLOAD_TYPE: &str = "application/vnd.openwop.mirror-status+json";
/// Where the status is served.
pub const STATUS_PATH: &str = "/v1/-/mirror/status.json";

/// One upstream's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamStatus {
    /// Configured name.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// Start of the last sync that completed with no error (RFC 3339), if any.
    pub last_successful_sync: Option<String>,
    /// Start of the last sync attempt.
    pub last_attempt: Option<String>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
}

/// The signed status document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MirrorStatus {
    /// Always `openwop.mirror-status`.
    #[serde(rename = "_type")]
    pub doc_type: String,
    /// This mirror's URL.
    pub mirror: String,
    /// When the document was made.
    pub generated_at: String,
    /// Per upstream.
    pub upstreams: Vec<UpstreamStatus>,
}

/// Why a status document is refused by a client.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// Not an envelope, wrong type, bad signature, bad payload.
    #[error("mirror status does not verify: {0}")]
    Invalid(String),
    /// Older than the client accepts.
    #[error("mirror upstream `{upstream}` is stale: last successful sync {last}, over the {max_secs} s allowed")]
    Stale {
        /// Upstream name.
        upstream: String,
        /// Its last success (or `never`).
        last: String,
        /// The client's maximum staleness.
        max_secs: u64,
    },
}

impl StatusError {
    /// `mirror_status_invalid` or `mirror_stale`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "mirror_status_invalid",
            Self::Stale { .. } => "mirror_stale",
        }
    }
}

impl MirrorStatus {
    /// Verifies a status envelope signed by `key_id` (the mirror's statement key) and returns
    /// the document. What a client (`pack install --max-staleness`) does first.
    pub fn verify(bytes: &[u8], key_id: &str, key: &PublicKey) -> Result<Self, StatusError> {
        let envelope = Envelope::parse(bytes, "mirror status").map_err(StatusError::Invalid)?;
        let payload =
            envelope.verify_by(STATUS_PAYLOAD_TYPE, key_id, key).map_err(|e| StatusError::Invalid(e.to_string()))?;
        let doc: Self = serde_json::from_slice(&payload).map_err(|e| StatusError::Invalid(e.to_string()))?;
        if doc.doc_type != "openwop.mirror-status" {
            return Err(StatusError::Invalid(format!("_type is `{}`", doc.doc_type)));
        }
        Ok(doc)
    }

    /// How long ago `upstream` (or, with `None`, the stalest upstream) last synced; `None` when
    /// it never did.
    pub fn staleness(&self, upstream: Option<&str>, now: OffsetDateTime) -> Option<time::Duration> {
        let mut worst = Some(time::Duration::ZERO);
        for u in self.upstreams.iter().filter(|u| upstream.is_none_or(|n| n == u.name)) {
            let age = u
                .last_successful_sync
                .as_deref()
                .and_then(|t| crate::trust::parse_time(t, "lastSuccessfulSync").ok())
                .map(|t| now - t);
            worst = match (worst, age) {
                (Some(w), Some(a)) => Some(w.max(a)),
                _ => None,
            };
        }
        worst
    }

    /// Refuses when an upstream (or the named one) last synced more than `max` before `now`.
    pub fn check_max_staleness(
        &self,
        upstream: Option<&str>,
        max: std::time::Duration,
        now: OffsetDateTime,
    ) -> Result<(), StatusError> {
        for u in self.upstreams.iter().filter(|u| upstream.is_none_or(|n| n == u.name)) {
            let fresh = u
                .last_successful_sync
                .as_deref()
                .and_then(|t| crate::trust::parse_time(t, "lastSuccessfulSync").ok())
                .is_some_and(|t| now - t <= max);
            if !fresh {
                return Err(StatusError::Stale {
                    upstream: u.name.clone(),
                    last: u.last_successful_sync.clone().unwrap_or_else(|| "never".into()),
                    max_secs: max.as_secs(),
                });
            }
        }
        Ok(())
    }
}

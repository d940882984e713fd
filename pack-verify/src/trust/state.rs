//! What a host stores between runs so that rollback and freeze attacks are visible.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::keychain::Keychain;
use super::{format_time, parse_time};
use crate::error::VerifyError;

/// Whether an expired keychain is refused (the default) or accepted with a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpiryPolicy {
    /// Refuse expired trust metadata (`trust_keychain_expired`).
    #[default]
    Enforce,
    /// Accept it, offline and on explicit request; the result carries a
    /// [`TrustWarning::ExpiredKeychainAccepted`] that front ends must print.
    AllowExpired,
}

/// Something the caller must show, though verification went on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustWarning {
    /// An expired keychain was accepted under [`ExpiryPolicy::AllowExpired`].
    ExpiredKeychainAccepted {
        /// Registry.
        registry: String,
        /// Keychain version.
        version: u64,
        /// When it expired.
        expires_at: String,
    },
}

impl std::fmt::Display for TrustWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrustWarning::ExpiredKeychainAccepted { registry, version, expires_at } => write!(
                f,
                "accepting EXPIRED keychain v{version} of {registry} (expired {expires_at}) because expired metadata was explicitly allowed"
            ),
        }
    }
}

/// Per-registry record of the newest keychain seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryTrustRecord {
    /// Highest keychain version accepted.
    pub keychain_version: u64,
    /// SHA-256 of that version's payload.
    pub keychain_sha256: String,
    /// Its expiry.
    pub expires_at: String,
    /// When it was last verified (guards against a clock set backwards).
    pub verified_at: String,
}

/// The trusted state a host keeps between runs (a small JSON file).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustState {
    /// Format version (1).
    #[serde(default = "one")]
    pub openwop_trust_state: u32,
    /// Records by normalised registry URL.
    #[serde(default)]
    pub registries: BTreeMap<String, RegistryTrustRecord>,
}

fn one() -> u32 {
    1
}

impl TrustState {
    /// An empty state (first run).
    pub fn new() -> Self {
        TrustState { openwop_trust_state: 1, registries: BTreeMap::new() }
    }

    /// Parses a stored state.
    pub fn from_json(bytes: &[u8]) -> Result<Self, VerifyError> {
        serde_json::from_slice(bytes)
            .map_err(|e| VerifyError::TrustBundleInvalid { detail: format!("trust state is not valid: {e}") })
    }

    /// Serialises the state.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Refuses a clock earlier than any verification already recorded.
    pub fn check_clock(&self, now: OffsetDateTime) -> Result<(), VerifyError> {
        for record in self.registries.values() {
            if let Ok(seen) = parse_time(&record.verified_at, "verifiedAt") {
                // Five minutes of tolerance for ordinary clock adjustment.
                if now < seen - time::Duration::minutes(5) {
                    return Err(VerifyError::ClockRollback {
                        now: format_time(now),
                        last_seen: record.verified_at.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Refuses a keychain older than, or forked from, what was accepted before.
    pub fn check_keychain(&self, keychain: &Keychain) -> Result<(), VerifyError> {
        if let Some(record) = self.registries.get(&keychain.registry) {
            if keychain.version < record.keychain_version {
                return Err(VerifyError::KeychainRollback { found: keychain.version, seen: record.keychain_version });
            }
            if keychain.version == record.keychain_version && keychain.payload_sha256 != record.keychain_sha256 {
                return Err(VerifyError::KeychainFork { version: keychain.version });
            }
        }
        Ok(())
    }

    /// Records an accepted keychain.
    pub fn record_keychain(&mut self, keychain: &Keychain, now: OffsetDateTime) {
        self.registries.insert(
            keychain.registry.clone(),
            RegistryTrustRecord {
                keychain_version: keychain.version,
                keychain_sha256: keychain.payload_sha256.clone(),
                expires_at: format_time(keychain.expires_at),
                verified_at: format_time(now),
            },
        );
    }
}

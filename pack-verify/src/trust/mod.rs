//! The trust chain: from a pinned root to the keys allowed to sign each namespace.
//!
//! Two kinds of trust root exist (see `docs/trust-model.md`):
//! - a registry that publishes a root-signed [`keychain`]: the bundle pins only the root key;
//!   the keychain lists signing keys with namespaces, roles, status and validity windows, and a
//!   registry key signs a [`statement`] per version binding its integrity;
//! - the public reference registry, which has no keychain: the bundle pins its published keys
//!   and namespaces directly (decisions §8).
//!
//! Either way the result is a [`TrustRoot`], the only thing a [`crate::Verifier`] consults.

pub mod bundle;
pub mod envelope;
pub mod keychain;
pub mod mirror_status;
pub mod namespace;
pub mod state;
pub mod statement;

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::VerifyError;
use crate::keys::PublicKey;

pub use bundle::TrustBundle;
pub use keychain::{Keychain, KeychainKey};
pub use state::{ExpiryPolicy, TrustState, TrustWarning};
pub use statement::VersionStatement;

/// Where "now" comes from. Expiry code never reads the system clock itself, so tests can fix
/// the time and a clock set backwards is caught against the stored [`TrustState`].
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock stuck at one instant (tests, reproducible runs).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

/// Parses an RFC 3339 timestamp.
pub fn parse_time(value: &str, what: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(value, &Rfc3339).map_err(|_| format!("{what} {value:?} is not an RFC 3339 timestamp"))
}

/// Formats a timestamp as RFC 3339.
pub fn format_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// The current time, formatted as RFC 3339 (what the registry records for every write).
pub fn now_rfc3339() -> String {
    format_time(OffsetDateTime::now_utc())
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyRole {
    /// Signs packs in its permitted namespaces.
    Publisher,
    /// Signs version statements for the registry.
    Registry,
}

impl KeyRole {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "publisher" => Some(KeyRole::Publisher),
            "registry" => Some(KeyRole::Registry),
            _ => None,
        }
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyRole::Publisher => "publisher",
            KeyRole::Registry => "registry",
        }
    }
}

/// A key's lifecycle status. Only `Active` keys sign new versions; `Rotated` keys still verify
/// what they signed; `Revoked` keys verify only what was published before `revokedAt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// May sign new publications.
    Active,
    /// Retired: verifies old versions, signs nothing new.
    Rotated,
    /// Compromised or withdrawn.
    Revoked,
}

impl KeyStatus {
    fn parse(s: &str) -> Self {
        match s {
            "active" => KeyStatus::Active,
            "revoked" => KeyStatus::Revoked,
            // The runbooks use "rotated"; any other non-active word means the same.
            _ => KeyStatus::Rotated,
        }
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Rotated => "rotated",
            KeyStatus::Revoked => "revoked",
        }
    }
}

/// A key the trust root vouches for, with what it may sign and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    /// The key id packs name in `signing.keyId` / `signing.publicKeyRef`.
    pub key_id: String,
    /// The key.
    pub key: PublicKey,
    /// Namespace globs this key may sign.
    pub permitted_namespaces: Vec<String>,
    /// Lifecycle status.
    pub status: KeyStatus,
    /// Roles.
    pub roles: Vec<KeyRole>,
    /// Start of the validity window (judged at publish time).
    pub valid_from: Option<OffsetDateTime>,
    /// End of the validity window (judged at publish time).
    pub valid_until: Option<OffsetDateTime>,
    /// When the key was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

impl TrustedKey {
    /// Checks that this key was allowed to sign at `published_at` (decisions §7: validity is
    /// judged at the version's publish time, so rotation never breaks old releases).
    pub fn check_valid_at(&self, published_at: Option<OffsetDateTime>) -> Result<(), VerifyError> {
        let when = published_at.map(format_time).unwrap_or_else(|| "(unknown)".into());
        if let Some(revoked) = self.revoked_at {
            if published_at.is_none_or(|p| p >= revoked) {
                return Err(VerifyError::KeyRevoked { key_id: self.key_id.clone(), revoked_at: format_time(revoked) });
            }
        } else if self.status == KeyStatus::Revoked {
            return Err(VerifyError::KeyRevoked { key_id: self.key_id.clone(), revoked_at: "(unspecified)".into() });
        }
        let has_window = self.valid_from.is_some() || self.valid_until.is_some();
        match published_at {
            None if has_window => {
                Err(VerifyError::KeyOutsideValidity { key_id: self.key_id.clone(), published_at: when })
            }
            None => Ok(()),
            Some(p) => {
                let early = self.valid_from.is_some_and(|from| p < from);
                let late = self.valid_until.is_some_and(|until| p > until);
                if early || late {
                    Err(VerifyError::KeyOutsideValidity { key_id: self.key_id.clone(), published_at: when })
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// The resolved set of keys one registry is trusted with.
#[derive(Debug, Clone)]
pub struct TrustRoot {
    registry: String,
    keys: BTreeMap<String, TrustedKey>,
    require_statements: bool,
    keychain_version: Option<u64>,
    warnings: Vec<TrustWarning>,
}

impl TrustRoot {
    /// A root made of directly pinned keys (the public reference registry's form).
    pub fn pinned(registry: &str, keys: Vec<TrustedKey>) -> Self {
        TrustRoot {
            registry: normalise_registry(registry),
            keys: keys.into_iter().map(|k| (k.key_id.clone(), k)).collect(),
            require_statements: false,
            keychain_version: None,
            warnings: Vec::new(),
        }
    }

    /// A root built from a verified keychain; version statements become mandatory.
    pub fn from_keychain(keychain: &Keychain, warnings: Vec<TrustWarning>) -> Self {
        TrustRoot {
            registry: keychain.registry.clone(),
            keys: keychain.keys.iter().map(|k| (k.key_id.clone(), k.clone())).collect(),
            require_statements: true,
            keychain_version: Some(keychain.version),
            warnings,
        }
    }

    /// The registry this root speaks for.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Whether every version must come with a registry statement (decisions §9).
    pub fn requires_statements(&self) -> bool {
        self.require_statements
    }

    /// The keychain version behind this root, if any.
    pub fn keychain_version(&self) -> Option<u64> {
        self.keychain_version
    }

    /// Warnings raised while building the root (an expired keychain accepted offline, …).
    pub fn warnings(&self) -> &[TrustWarning] {
        &self.warnings
    }

    /// All keys, by id.
    pub fn keys(&self) -> impl Iterator<Item = &TrustedKey> {
        self.keys.values()
    }

    /// Looks a key up by id.
    pub fn key(&self, key_id: &str) -> Result<&TrustedKey, VerifyError> {
        self.keys.get(key_id).ok_or_else(|| VerifyError::KeyUnknown { key_id: key_id.chars().take(128).collect() })
    }

    /// The key `key_id`, if it may sign pack `name` published at `published_at`.
    pub fn authorize_publisher(
        &self,
        key_id: &str,
        name: &str,
        published_at: Option<OffsetDateTime>,
    ) -> Result<&TrustedKey, VerifyError> {
        let key = self.key(key_id)?;
        if !key.roles.contains(&KeyRole::Publisher) || !namespace::any_admits(&key.permitted_namespaces, name) {
            return Err(VerifyError::NamespaceUnauthorized {
                key_id: key_id.to_string(),
                name: name.to_string(),
                permitted: key.permitted_namespaces.clone(),
            });
        }
        key.check_valid_at(published_at)?;
        Ok(key)
    }
}

/// Registry URLs compare without a trailing slash.
pub fn normalise_registry(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

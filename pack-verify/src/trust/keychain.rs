//! The root-signed keychain: which keys may sign what, for how long, in which version.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::envelope::Envelope;
use super::state::{ExpiryPolicy, TrustState, TrustWarning};
use super::{Clock, KeyRole, KeyStatus, TrustedKey, format_time, normalise_registry, parse_time};
use crate::error::VerifyError;
use crate::keys::{PrivateKey, PublicKey};

/// Envelope payload type of a keychain.
pub const KEYCHAIN_PAYLOAD_TYPE: &str = "application/vnd.openwop.keychain+json";
/// Largest keychain envelope accepted.
pub const MAX_KEYCHAIN_BYTES: usize = 4 * 1024 * 1024;
/// Most keys one keychain may list.
pub const MAX_KEYCHAIN_KEYS: usize = 10_000;

/// One key entry as written in a keychain document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeychainKey {
    /// Key id.
    pub key_id: String,
    /// Always `ed25519`.
    pub algorithm: String,
    /// The public key (raw base64, SPKI base64 or PEM).
    pub public_key: String,
    /// `publisher` and/or `registry`.
    pub roles: Vec<String>,
    /// Namespace globs (publisher keys).
    #[serde(default)]
    pub permitted_namespaces: Vec<String>,
    /// `active`, `rotated` or `revoked`.
    pub status: String,
    /// Validity window start (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    /// Validity window end (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// Revocation time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// Who operates the key (display only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

/// The keychain document a registry's root signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeychainDocument {
    /// Always `openwop.keychain`.
    #[serde(rename = "_type")]
    pub doc_type: String,
    /// The registry base URL this keychain speaks for.
    pub registry: String,
    /// Strictly increasing with every change.
    pub version: u64,
    /// When it was signed.
    pub issued_at: String,
    /// When it stops being trusted.
    pub expires_at: String,
    /// The keys.
    pub keys: Vec<KeychainKey>,
}

/// A keychain that passed verification against a pinned root.
#[derive(Debug, Clone)]
pub struct Keychain {
    /// Registry it speaks for.
    pub registry: String,
    /// Version.
    pub version: u64,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// SHA-256 of the envelope's payload (to detect forks of one version).
    pub payload_sha256: String,
    /// The keys, parsed.
    pub keys: Vec<TrustedKey>,
}

impl KeychainDocument {
    /// Signs this document with the root key, giving the envelope a registry serves.
    pub fn sign(&self, root_key_id: &str, root: &PrivateKey) -> Envelope {
        let payload = serde_json::to_vec(self).unwrap_or_default();
        Envelope::sign(KEYCHAIN_PAYLOAD_TYPE, &payload, &[(root_key_id, root)])
    }
}

fn invalid(detail: impl Into<String>) -> VerifyError {
    VerifyError::KeychainInvalid { detail: detail.into() }
}

fn parse_key(entry: &KeychainKey) -> Result<TrustedKey, VerifyError> {
    let ctx = |m: String| invalid(format!("key `{}`: {m}", entry.key_id));
    if entry.algorithm != "ed25519" {
        return Err(ctx(format!("algorithm `{}` is not ed25519", entry.algorithm)));
    }
    let key = PublicKey::parse(&entry.public_key).map_err(|e| ctx(e.to_string()))?;
    let mut roles = Vec::new();
    for r in &entry.roles {
        roles.push(KeyRole::parse(r).ok_or_else(|| ctx(format!("unknown role `{r}`")))?);
    }
    let time = |v: &Option<String>, what: &str| v.as_deref().map(|s| parse_time(s, what)).transpose().map_err(ctx);
    Ok(TrustedKey {
        key_id: entry.key_id.clone(),
        key,
        permitted_namespaces: entry.permitted_namespaces.clone(),
        status: KeyStatus::parse(&entry.status),
        roles,
        valid_from: time(&entry.valid_from, "validFrom")?,
        valid_until: time(&entry.valid_until, "validUntil")?,
        revoked_at: time(&entry.revoked_at, "revokedAt")?,
    })
}

impl Keychain {
    /// Verifies a keychain envelope against the pinned root, the expected registry and the
    /// stored trust state, and records it in the state on success.
    pub fn verify(
        envelope_bytes: &[u8],
        root_key_id: &str,
        root: &PublicKey,
        registry: &str,
        state: &mut TrustState,
        clock: &dyn Clock,
        policy: ExpiryPolicy,
    ) -> Result<(Keychain, Vec<TrustWarning>), VerifyError> {
        if envelope_bytes.len() > MAX_KEYCHAIN_BYTES {
            return Err(invalid(format!("{} bytes is over the {MAX_KEYCHAIN_BYTES}-byte limit", envelope_bytes.len())));
        }
        let envelope = Envelope::parse(envelope_bytes, "keychain").map_err(invalid)?;
        if envelope.payload_type != KEYCHAIN_PAYLOAD_TYPE {
            return Err(invalid(format!("payload type is `{}`", envelope.payload_type)));
        }
        let payload = envelope
            .verify_by(KEYCHAIN_PAYLOAD_TYPE, root_key_id, root)
            .map_err(|_| VerifyError::KeychainSignatureInvalid { root_key_id: root_key_id.to_string() })?;
        // Only now, with the signature checked over the exact bytes, is the payload parsed.
        let doc: KeychainDocument =
            serde_json::from_slice(&payload).map_err(|e| invalid(format!("payload is not a keychain: {e}")))?;
        if doc.doc_type != "openwop.keychain" {
            return Err(invalid(format!("_type is `{}`", doc.doc_type)));
        }
        let expected = normalise_registry(registry);
        if normalise_registry(&doc.registry) != expected {
            return Err(VerifyError::KeychainRegistryMismatch { expected, found: doc.registry.clone() });
        }
        if doc.keys.len() > MAX_KEYCHAIN_KEYS {
            return Err(invalid(format!("{} keys; at most {MAX_KEYCHAIN_KEYS}", doc.keys.len())));
        }
        let expires_at = parse_time(&doc.expires_at, "expiresAt").map_err(invalid)?;
        parse_time(&doc.issued_at, "issuedAt").map_err(invalid)?;
        let mut keys = Vec::with_capacity(doc.keys.len());
        for entry in &doc.keys {
            if keys.iter().any(|k: &TrustedKey| k.key_id == entry.key_id) {
                return Err(invalid(format!("key `{}` is listed twice", entry.key_id)));
            }
            keys.push(parse_key(entry)?);
        }
        let payload_sha256 = Sha256::digest(&payload).iter().map(|b| format!("{b:02x}")).collect::<String>();
        let keychain = Keychain { registry: expected, version: doc.version, expires_at, payload_sha256, keys };

        let now = clock.now();
        state.check_clock(now)?;
        state.check_keychain(&keychain)?;
        let mut warnings = Vec::new();
        if now >= expires_at {
            match policy {
                ExpiryPolicy::Enforce => {
                    return Err(VerifyError::KeychainExpired {
                        version: doc.version,
                        expires_at: format_time(expires_at),
                    });
                }
                ExpiryPolicy::AllowExpired => warnings.push(TrustWarning::ExpiredKeychainAccepted {
                    registry: keychain.registry.clone(),
                    version: doc.version,
                    expires_at: format_time(expires_at),
                }),
            }
        }
        state.record_keychain(&keychain, now);
        Ok((keychain, warnings))
    }
}

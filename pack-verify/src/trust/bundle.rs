//! Trust bundles: the file a host pins for one registry (our own format, `keys/*.trust.json`).

use serde::{Deserialize, Serialize};

use super::envelope::Envelope;
use super::keychain::Keychain;
use super::state::{ExpiryPolicy, TrustState};
use super::{Clock, KeyRole, KeyStatus, TrustRoot, TrustedKey, normalise_registry};
use crate::error::VerifyError;
use crate::keys::PublicKey;

/// The shipped bundle for the public reference registry (decisions §8).
pub const REFERENCE_BUNDLE: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../keys/openwop-reference-registry.trust.json"));

/// The pinned root of a registry that publishes a keychain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleRoot {
    /// Root key id (conventionally `openwop-registry-root`).
    pub key_id: String,
    /// Root public key.
    pub public_key: String,
}

/// A directly pinned key (registries without a keychain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleKey {
    /// Key id.
    pub key_id: String,
    /// Always `ed25519`.
    pub algorithm: String,
    /// Public key (raw base64, SPKI base64 or PEM).
    pub public_key: String,
    /// Namespace globs.
    pub permitted_namespaces: Vec<String>,
    /// Status as published.
    pub status: String,
    /// Roles (`publisher`, `registry`); absent or empty: `publisher`. A pinned `registry` key
    /// signs what the registry itself states, such as a mirror's status document.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Operator (display only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

/// A trust bundle document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustBundle {
    /// Format version (1).
    pub openwop_trust_bundle: u32,
    /// Registry base URL.
    pub registry: String,
    /// What this bundle is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The pinned root, for registries with a keychain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<BundleRoot>,
    /// Directly pinned keys, for registries without one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<BundleKey>,
    /// A keychain shipped with the bundle (offline installs); a fetched one may supersede it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keychain: Option<Envelope>,
}

fn invalid(detail: impl Into<String>) -> VerifyError {
    VerifyError::TrustBundleInvalid { detail: detail.into() }
}

impl TrustBundle {
    /// Parses a bundle and checks it is self-consistent.
    pub fn parse(bytes: &[u8]) -> Result<Self, VerifyError> {
        let bundle: TrustBundle = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        if bundle.openwop_trust_bundle != 1 {
            return Err(invalid(format!(
                "format version {} is not supported (expected 1)",
                bundle.openwop_trust_bundle
            )));
        }
        match (&bundle.root, bundle.keys.is_empty()) {
            (None, true) => return Err(invalid("the bundle pins neither a root nor any keys")),
            (Some(_), false) => return Err(invalid("pin either a root (with a keychain) or keys, not both")),
            (Some(root), true) => {
                PublicKey::parse(&root.public_key).map_err(|e| invalid(format!("root key: {e}")))?;
            }
            (None, false) => {
                bundle.pinned_keys()?;
            }
        }
        Ok(bundle)
    }

    /// The bundle shipped for the public reference registry.
    pub fn reference() -> Result<Self, VerifyError> {
        Self::parse(REFERENCE_BUNDLE.as_bytes())
    }

    /// Whether trust comes from a root-signed keychain.
    pub fn has_root(&self) -> bool {
        self.root.is_some()
    }

    fn pinned_keys(&self) -> Result<Vec<TrustedKey>, VerifyError> {
        let mut out: Vec<TrustedKey> = Vec::new();
        for k in &self.keys {
            if k.algorithm != "ed25519" {
                return Err(invalid(format!("key `{}`: algorithm `{}` is not ed25519", k.key_id, k.algorithm)));
            }
            if out.iter().any(|o| o.key_id == k.key_id) {
                return Err(invalid(format!("key `{}` is listed twice", k.key_id)));
            }
            let key = PublicKey::parse(&k.public_key).map_err(|e| invalid(format!("key `{}`: {e}", k.key_id)))?;
            let mut roles = Vec::new();
            for role in &k.roles {
                let parsed = KeyRole::parse(role).ok_or_else(|| {
                    invalid(format!("key `{}`: role `{role}` is not `publisher` or `registry`", k.key_id))
                })?;
                if !roles.contains(&parsed) {
                    roles.push(parsed);
                }
            }
            if roles.is_empty() {
                roles.push(KeyRole::Publisher);
            }
            out.push(TrustedKey {
                key_id: k.key_id.clone(),
                key,
                permitted_namespaces: k.permitted_namespaces.clone(),
                // A pinned publisher key verifies whatever its status: a verifier must not refuse
                // a version because its key is no longer `active` (contract §4.5).
                status: if k.status == "revoked" { KeyStatus::Revoked } else { KeyStatus::parse(&k.status) },
                roles,
                valid_from: None,
                valid_until: None,
                revoked_at: None,
            });
        }
        Ok(out)
    }

    /// Resolves the bundle into the keys to trust. For a rooted bundle, `fetched_keychain` is
    /// the keychain envelope the registry serves now (or `None` to use the bundled one); it is
    /// verified against the pinned root and the stored `state`, which records it on success.
    pub fn resolve(
        &self,
        fetched_keychain: Option<&[u8]>,
        state: &mut TrustState,
        clock: &dyn Clock,
        policy: ExpiryPolicy,
    ) -> Result<TrustRoot, VerifyError> {
        let Some(root) = &self.root else {
            return Ok(TrustRoot::pinned(&self.registry, self.pinned_keys()?));
        };
        let root_key = PublicKey::parse(&root.public_key).map_err(|e| invalid(format!("root key: {e}")))?;
        let bundled;
        let envelope: &[u8] = match (fetched_keychain, &self.keychain) {
            (Some(bytes), _) => bytes,
            (None, Some(env)) => {
                bundled = serde_json::to_vec(env).map_err(|e| invalid(e.to_string()))?;
                &bundled
            }
            (None, None) => {
                return Err(VerifyError::KeychainInvalid {
                    detail: format!("no keychain for {}: fetch /keys/keychain.json or bundle one", self.registry),
                });
            }
        };
        let (keychain, warnings) = Keychain::verify(
            envelope,
            &root.key_id,
            &root_key,
            &normalise_registry(&self.registry),
            state,
            clock,
            policy,
        )?;
        Ok(TrustRoot::from_keychain(&keychain, warnings))
    }
}

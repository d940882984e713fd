//! The registry's signed statement per version (decisions §9): it binds name, version,
//! integrity, publish time and signer, so no byte a host executes is covered only by unsigned
//! metadata even under the `manual` convention (whose signature covers `pack.json` alone).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::envelope::Envelope;
use super::{KeyRole, TrustRoot, normalise_registry, parse_time};
use crate::error::VerifyError;
use crate::keys::PrivateKey;

/// Envelope payload type of a version statement.
pub const STATEMENT_PAYLOAD_TYPE: &str = "application/vnd.openwop.version-statement+json";
/// Largest statement envelope accepted.
pub const MAX_STATEMENT_BYTES: usize = 64 * 1024;

/// The statement document a registry key signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementDocument {
    /// Always `openwop.version-statement`.
    #[serde(rename = "_type")]
    pub doc_type: String,
    /// Registry base URL.
    pub registry: String,
    /// Pack name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Integrity of the `.tgz`.
    pub integrity: String,
    /// Publish time (RFC 3339), the instant key validity is judged at.
    pub published_at: String,
    /// The publisher key that signed the pack.
    pub signing_key_id: String,
    /// The pack's signing method.
    pub signing_method: String,
    /// Keychain version in force at publish time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keychain_version: Option<u64>,
}

impl StatementDocument {
    /// Signs the statement with a registry key.
    pub fn sign(&self, key_id: &str, key: &PrivateKey) -> Envelope {
        let payload = serde_json::to_vec(self).unwrap_or_default();
        Envelope::sign(STATEMENT_PAYLOAD_TYPE, &payload, &[(key_id, key)])
    }
}

/// A statement whose signature checked out against a registry key of the trust root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionStatement {
    /// The document.
    pub doc: StatementDocument,
    /// Parsed publish time.
    pub published_at: OffsetDateTime,
    /// The registry key that signed it.
    pub signed_by: String,
}

fn invalid(detail: impl Into<String>) -> VerifyError {
    VerifyError::StatementInvalid { detail: detail.into() }
}

impl VersionStatement {
    /// Verifies a statement envelope against the registry keys of `root`.
    pub fn verify(bytes: &[u8], root: &TrustRoot) -> Result<Self, VerifyError> {
        if bytes.len() > MAX_STATEMENT_BYTES {
            return Err(invalid(format!("{} bytes is over the {MAX_STATEMENT_BYTES}-byte limit", bytes.len())));
        }
        let envelope = Envelope::parse(bytes, "version statement").map_err(invalid)?;
        let mut last_err = invalid("no signature by a registry key of the keychain");
        for sig in &envelope.signatures {
            let Ok(key) = root.key(&sig.key_id) else { continue };
            if !key.roles.contains(&KeyRole::Registry) {
                last_err = invalid(format!("`{}` is not a registry key", sig.key_id));
                continue;
            }
            let payload = match envelope.verify_by(STATEMENT_PAYLOAD_TYPE, &sig.key_id, &key.key) {
                Ok(p) => p,
                Err(e) => {
                    last_err = invalid(e.to_string());
                    continue;
                }
            };
            let doc: StatementDocument =
                serde_json::from_slice(&payload).map_err(|e| invalid(format!("payload is not a statement: {e}")))?;
            if doc.doc_type != "openwop.version-statement" {
                return Err(invalid(format!("_type is `{}`", doc.doc_type)));
            }
            if normalise_registry(&doc.registry) != root.registry() {
                return Err(invalid(format!("statement is for registry `{}`", doc.registry)));
            }
            let published_at = parse_time(&doc.published_at, "publishedAt").map_err(invalid)?;
            // The registry key itself must have been valid when it made the statement.
            key.check_valid_at(Some(published_at))?;
            return Ok(VersionStatement { doc, published_at, signed_by: sig.key_id.clone() });
        }
        Err(last_err)
    }
}

//! The registry's own trust configuration: the bundle it checks publishes against (its pinned
//! root, or pinned keys), the root-signed keychain uploaded through the API, and the registry key
//! that signs version statements (decisions §7–§9).

use pack_verify::keys::PrivateKey;
use pack_verify::trust::bundle::TrustBundle;
use pack_verify::trust::state::TrustState;
use pack_verify::trust::{ExpiryPolicy, SystemClock, TrustRoot};

use crate::RegistryError;
use crate::storage::Db;

/// Document key of the stored keychain envelope (served at `/keys/keychain.json`).
pub const DOC_KEYCHAIN: &str = "keychain";

/// How this registry decides who may publish and signs what it serves.
pub struct RegistryTrust {
    /// The bundle: a pinned root (keys come from the uploaded keychain) or pinned keys.
    pub bundle: TrustBundle,
    /// The registry key (id, private key) that signs version statements, if configured.
    pub statement_key: Option<(String, PrivateKey)>,
}

impl std::fmt::Debug for RegistryTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("RegistryTrust")
            .field("registry", &self.bundle.registry)
            .field("statement_key", &self.statement_key.as_ref().map(|(id, _)| id))
            .finish()
    }
}

/// The error for a file the verifier refused, naming the file as every other refusal of one does.
fn verify_err(path: &std::path::Path) -> impl FnOnce(pack_verify::error::VerifyError) -> RegistryError + '_ {
    move |source| RegistryError::Verify { context: path.display().to_string(), source }
}

impl RegistryTrust {
    /// Loads a bundle file and, optionally, the statement key (PKCS#8 PEM) with its id.
    pub fn load(
        bundle_path: &std::path::Path,
        statement_key: Option<(&str, &std::path::Path)>,
    ) -> Result<Self, RegistryError> {
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|source| RegistryError::Io { path: p.display().to_string(), source })
        };
        let bundle = TrustBundle::parse(&read(bundle_path)?).map_err(verify_err(bundle_path))?;
        let statement_key = match statement_key {
            Some((id, path)) => {
                let pem = String::from_utf8(read(path)?)
                    .map_err(|_| RegistryError::Config { what: format!("{} is not a PEM file", path.display()) })?;
                Some((id.to_string(), PrivateKey::from_pkcs8_pem(&pem).map_err(verify_err(path))?))
            }
            None => None,
        };
        Ok(Self { bundle, statement_key })
    }

    /// The trust root in force: the bundle resolved with the stored keychain, if any.
    pub async fn root(&self, db: &Db) -> Result<TrustRoot, RegistryError> {
        let keychain = db.document(DOC_KEYCHAIN).await?;
        self.resolve(keychain.as_deref().map(str::as_bytes))
    }

    /// Resolves the bundle with `keychain` (for a rooted bundle) at the current time.
    pub fn resolve(&self, keychain: Option<&[u8]>) -> Result<TrustRoot, RegistryError> {
        let mut state = TrustState::new();
        let fetched = if self.bundle.has_root() { keychain } else { None };
        self.bundle.resolve(fetched, &mut state, &SystemClock, ExpiryPolicy::Enforce).map_err(|source| {
            RegistryError::Verify {
                context: "this registry's trust configuration (upload a current root-signed keychain)".into(),
                source,
            }
        })
    }
}

//! What the registry serves, derived from storage: the discovery document, the registry-wide
//! index, per-pack indexes, version manifests and their blobs.

pub mod index;
pub mod sbom;
pub mod schemas;
pub mod search;

use bytes::Bytes;

use crate::RegistryError;
use crate::storage::{Storage, VersionRow};

/// Document key of the stored discovery document (kept verbatim from an import).
pub const DOC_DISCOVERY: &str = "discovery";
/// Document key of the advisory feed (`/security/advisories.json`).
pub const DOC_ADVISORIES: &str = "advisories";
/// Document key of the registry index's `generatedAt` value.
pub const DOC_GENERATED_AT: &str = "index.generatedAt";

/// The registry: storage plus the rules that turn rows into wire documents.
#[derive(Clone, Debug)]
pub struct Registry {
    storage: Storage,
    trust: Option<std::sync::Arc<crate::trust::RegistryTrust>>,
}

impl Registry {
    /// Wraps opened storage (read-only until [`Registry::with_trust`] enables publishing).
    pub fn new(storage: Storage) -> Self {
        Self { storage, trust: None }
    }

    /// Enables the write API with the trust the registry checks publishes against.
    pub fn with_trust(mut self, trust: crate::trust::RegistryTrust) -> Self {
        self.trust = Some(std::sync::Arc::new(trust));
        self
    }

    /// The trust configuration, when publishing is enabled.
    pub fn trust(&self) -> Option<&crate::trust::RegistryTrust> {
        self.trust.as_deref()
    }

    /// The underlying storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The discovery document body: the stored one, or a generated default for a registry that
    /// was never given one.
    pub async fn discovery(&self) -> Result<String, RegistryError> {
        if let Some(doc) = self.storage.db.document(DOC_DISCOVERY).await? {
            return Ok(doc);
        }
        let options = match self.trust() {
            Some(trust) => {
                let root = trust.root(&self.storage.db).await?;
                index::DiscoveryOptions {
                    url: Some(root.registry().to_string()),
                    keys: root
                        .keys()
                        .map(|k| index::DiscoveryKey {
                            key_id: k.key_id.clone(),
                            permitted_namespaces: k.permitted_namespaces.clone(),
                            status: k.status.as_str().to_string(),
                        })
                        .collect(),
                    write_api: true,
                    keychain: trust.bundle.has_root(),
                }
            }
            None => index::DiscoveryOptions {
                url: None,
                keys: self
                    .storage
                    .db
                    .keys()
                    .await?
                    .into_iter()
                    .map(|(key_id, _)| index::DiscoveryKey {
                        key_id,
                        permitted_namespaces: Vec::new(),
                        status: "active".into(),
                    })
                    .collect(),
                write_api: false,
                keychain: false,
            },
        };
        Ok(index::default_discovery(&options))
    }

    /// The advisory feed body: the imported document verbatim while it holds exactly the stored
    /// advisories, otherwise that document (or an empty feed) with `advisories` rebuilt from the
    /// `advisories` table, ordered by id.
    pub async fn advisories(&self) -> Result<String, RegistryError> {
        let stored: Vec<serde_json::Value> =
            self.storage.db.advisories().await?.iter().filter_map(|body| serde_json::from_str(body).ok()).collect();
        let doc = self.storage.db.document(DOC_ADVISORIES).await?;
        let mut feed: serde_json::Value = match &doc {
            Some(text) => serde_json::from_str(text).map_err(|e| RegistryError::InvalidDocument {
                path: "/security/advisories.json".into(),
                reason: e.to_string(),
            })?,
            None => serde_json::json!({ "advisories": [] }),
        };
        let ids = |list: &[serde_json::Value]| {
            let mut ids: Vec<String> = list
                .iter()
                .filter_map(|a| a.get("id").and_then(serde_json::Value::as_str))
                .map(str::to_string)
                .collect();
            ids.sort();
            ids
        };
        let in_doc = feed.get("advisories").and_then(serde_json::Value::as_array).cloned().unwrap_or_default();
        if let Some(text) = doc
            && ids(&in_doc) == ids(&stored)
        {
            return Ok(text);
        }
        if let Some(obj) = feed.as_object_mut() {
            obj.insert("advisories".into(), serde_json::Value::Array(stored));
        }
        Ok(index::to_json_document(&feed))
    }

    /// `/v1/index.json`.
    pub async fn registry_index(&self) -> Result<String, RegistryError> {
        let rows = self.storage.db.all_versions().await?;
        let generated_at = self.storage.db.document(DOC_GENERATED_AT).await?;
        index::registry_index(rows, generated_at.as_deref())
    }

    /// `/v1/packs/{name}` and `/v1/packs/{name}/index.json`; `None` when no such pack.
    pub async fn pack_index(&self, name: &str) -> Result<Option<String>, RegistryError> {
        let rows = self.storage.db.versions_of(name).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        index::pack_index(rows).map(Some)
    }

    /// One version's stored row.
    pub async fn version(&self, name: &str, version: &str) -> Result<Option<VersionRow>, RegistryError> {
        self.storage.db.version(name, version).await
    }

    /// A blob named by a version row.
    pub async fn blob(&self, key: &str) -> Result<Bytes, RegistryError> {
        self.storage.blobs.get(key).await
    }

    /// A public key's PEM, byte for byte as stored.
    pub async fn key(&self, key_id: &str) -> Result<Option<String>, RegistryError> {
        self.storage.db.key(key_id).await
    }
}

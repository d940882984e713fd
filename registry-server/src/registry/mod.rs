//! What the registry serves, derived from storage: the discovery document, the registry-wide
//! index, per-pack indexes, version manifests and their blobs.

pub mod index;

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
}

impl Registry {
    /// Wraps opened storage.
    pub fn new(storage: Storage) -> Self {
        Self { storage }
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
        let keys = self.storage.db.keys().await?;
        Ok(index::default_discovery(&keys))
    }

    /// The advisory feed body (an empty feed when none was stored).
    pub async fn advisories(&self) -> Result<String, RegistryError> {
        Ok(match self.storage.db.document(DOC_ADVISORIES).await? {
            Some(doc) => doc,
            None => index::to_json_document(&serde_json::json!({ "advisories": [] })),
        })
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

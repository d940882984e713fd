//! What the registry serves, derived from storage: the discovery document, the registry-wide
//! index, per-pack indexes, version manifests and their blobs.

pub mod cache;
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
///
/// Cheap to clone: axum clones the state for every request, and [`Registry::viewed`] once more,
/// so everything but the view sits behind one `Arc` (one increment per clone instead of one per
/// field).
#[derive(Clone, Debug)]
pub struct Registry {
    shared: std::sync::Arc<Shared>,
    /// Who is looking: every pack read filters its rows through it (see [`crate::tenant`]).
    view: crate::tenant::View,
}

/// What every view of one registry shares.
#[derive(Clone, Debug)]
struct Shared {
    storage: Storage,
    trust: Option<std::sync::Arc<crate::trust::RegistryTrust>>,
    /// Rendered hot documents, invalidated by every write (see [`cache`]).
    cache: std::sync::Arc<cache::Cache>,
    /// Mirror mode (see [`crate::mirror`]).
    mirror: Option<std::sync::Arc<crate::mirror::Mirror>>,
}

impl Registry {
    /// Wraps opened storage (read-only until [`Registry::with_trust`] enables publishing).
    pub fn new(storage: Storage) -> Self {
        let cache = std::sync::Arc::new(cache::Cache::new(std::sync::Arc::clone(storage.db.changes())));
        let shared = Shared { storage, trust: None, cache, mirror: None };
        Self { shared: std::sync::Arc::new(shared), view: crate::tenant::View::Public }
    }

    /// The same registry seen through `view` (shares storage and the cache).
    pub fn viewed(&self, view: crate::tenant::View) -> Self {
        Self { shared: std::sync::Arc::clone(&self.shared), view }
    }

    /// Who this registry value serves (see [`Registry::viewed`]).
    pub fn view(&self) -> &crate::tenant::View {
        &self.view
    }

    /// The cache for the public view; tenant views render from rows every time.
    async fn cached<F, Fut>(
        &self,
        key: cache::Key,
        render: F,
    ) -> Result<Option<std::sync::Arc<cache::Doc>>, RegistryError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<cache::Doc>, RegistryError>>,
    {
        if self.view.is_public() {
            self.shared.cache.get_or_render(key, render).await
        } else {
            Ok(render().await?.map(std::sync::Arc::new))
        }
    }

    /// Every version row this view sees.
    pub async fn visible_versions(&self) -> Result<Vec<VersionRow>, RegistryError> {
        Ok(self.view.filter_rows(self.storage().db.all_versions().await?))
    }

    /// Enables the write API with the trust the registry checks publishes against.
    pub fn with_trust(mut self, trust: impl Into<std::sync::Arc<crate::trust::RegistryTrust>>) -> Self {
        std::sync::Arc::make_mut(&mut self.shared).trust = Some(trust.into());
        self
    }

    /// Enables mirror mode (pull-through on local misses, status, narrowed upstream keys).
    pub fn with_mirror(mut self, mirror: std::sync::Arc<crate::mirror::Mirror>) -> Self {
        std::sync::Arc::make_mut(&mut self.shared).mirror = Some(mirror);
        self
    }

    /// The mirror configuration, in mirror mode.
    pub fn mirror(&self) -> Option<&crate::mirror::Mirror> {
        self.shared.mirror.as_deref()
    }

    /// The trust configuration, when publishing is enabled.
    pub fn trust(&self) -> Option<&crate::trust::RegistryTrust> {
        self.shared.trust.as_deref()
    }

    /// The underlying storage.
    pub fn storage(&self) -> &Storage {
        &self.shared.storage
    }

    /// The discovery document body: the stored one, or a generated default for a registry that
    /// was never given one.
    pub async fn discovery(&self) -> Result<String, RegistryError> {
        Ok(self.discovery_doc().await?.text())
    }

    /// [`Registry::discovery`], rendered once per registry generation with its ETag.
    pub async fn discovery_doc(&self) -> Result<std::sync::Arc<cache::Doc>, RegistryError> {
        let doc = self
            .shared
            .cache
            .get_or_render(cache::Key::Discovery, || async {
                Ok(Some(cache::Doc::json(self.render_discovery().await?)))
            })
            .await?;
        doc.ok_or_else(|| RegistryError::Config { what: "discovery document missing".into() })
    }

    async fn render_discovery(&self) -> Result<String, RegistryError> {
        if let Some(doc) = self.storage().db.document(DOC_DISCOVERY).await? {
            return Ok(doc);
        }
        let options = match self.trust() {
            Some(trust) => {
                let root = trust.root(&self.storage().db).await?;
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
                    mirrored: crate::mirror::status::discovery_keys(&self.storage().db).await?,
                }
            }
            None => index::DiscoveryOptions {
                url: None,
                keys: self
                    .storage()
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
                mirrored: crate::mirror::status::discovery_keys(&self.storage().db).await?,
            },
        };
        Ok(index::default_discovery(&options))
    }

    /// The advisory feed body: the imported document verbatim while it holds exactly the stored
    /// advisories, otherwise that document (or an empty feed) with `advisories` rebuilt from the
    /// `advisories` table, ordered by id.
    pub async fn advisories(&self) -> Result<String, RegistryError> {
        Ok(self.advisories_doc().await?.text())
    }

    /// [`Registry::advisories`], rendered once per registry generation with its ETag.
    pub async fn advisories_doc(&self) -> Result<std::sync::Arc<cache::Doc>, RegistryError> {
        let doc = self
            .shared
            .cache
            .get_or_render(cache::Key::Advisories, || async {
                Ok(Some(cache::Doc::json(self.render_advisories().await?)))
            })
            .await?;
        doc.ok_or_else(|| RegistryError::Config { what: "advisory feed missing".into() })
    }

    async fn render_advisories(&self) -> Result<String, RegistryError> {
        let stored: Vec<serde_json::Value> =
            self.storage().db.advisories().await?.iter().filter_map(|body| serde_json::from_str(body).ok()).collect();
        let doc = self.storage().db.document(DOC_ADVISORIES).await?;
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
        Ok(self.registry_index_doc().await?.text())
    }

    /// [`Registry::registry_index`], rendered once per registry generation with its ETag.
    pub async fn registry_index_doc(&self) -> Result<std::sync::Arc<cache::Doc>, RegistryError> {
        let doc = self
            .cached(cache::Key::Index, || async { Ok(Some(cache::Doc::json(self.render_registry_index().await?))) })
            .await?;
        doc.ok_or_else(|| RegistryError::Config { what: "registry index missing".into() })
    }

    async fn render_registry_index(&self) -> Result<String, RegistryError> {
        let rows = self.visible_versions().await?;
        let generated_at = self.storage().db.document(DOC_GENERATED_AT).await?;
        index::registry_index(rows, generated_at.as_deref())
    }

    /// `/v1/packs/{name}` and `/v1/packs/{name}/index.json`; `None` when no such pack.
    pub async fn pack_index(&self, name: &str) -> Result<Option<String>, RegistryError> {
        Ok(self.pack_index_doc(name).await?.map(|doc| doc.text()))
    }

    /// [`Registry::pack_index`], rendered once per registry generation with its ETag.
    pub async fn pack_index_doc(&self, name: &str) -> Result<Option<std::sync::Arc<cache::Doc>>, RegistryError> {
        self.cached(cache::Key::Pack(name.to_string()), || async {
            Ok(self.render_pack_index(name).await?.map(cache::Doc::json))
        })
        .await
    }

    async fn render_pack_index(&self, name: &str) -> Result<Option<String>, RegistryError> {
        let rows = self.view.filter_rows(self.storage().db.versions_of(name).await?);
        if rows.is_empty() {
            return Ok(None);
        }
        index::pack_index(rows).map(Some)
    }

    /// One version's stored row and its manifest body (with the manifest's ETag), cached per
    /// registry generation.
    pub async fn version_doc(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<std::sync::Arc<cache::Doc>>, RegistryError> {
        self.cached(cache::Key::Version(name.to_string(), version.to_string()), || async {
            Ok(self.version(name, version).await?.map(|row| {
                let mut doc = cache::Doc::json(row.manifest.clone());
                doc.row = Some(row);
                doc
            }))
        })
        .await
    }

    /// One version's stored row.
    pub async fn version(&self, name: &str, version: &str) -> Result<Option<VersionRow>, RegistryError> {
        Ok(self.storage().db.version(name, version).await?.filter(|row| self.view.admits(row)))
    }

    /// A blob named by a version row.
    pub async fn blob(&self, key: &str) -> Result<Bytes, RegistryError> {
        if let Some(body) = self.shared.cache.blob(key) {
            return Ok(body);
        }
        // Boxed: the object store's future is large and only a miss needs it.
        let body = Box::pin(self.storage().blob(key)).await?;
        self.shared.cache.keep_blob(key, &body);
        Ok(body)
    }

    /// A public key's PEM, byte for byte as stored.
    pub async fn key(&self, key_id: &str) -> Result<Option<String>, RegistryError> {
        self.storage().db.key(key_id).await
    }
}

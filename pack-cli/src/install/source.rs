//! The resolver's view of the configured registries: a primary plus ordered fallbacks (contract
//! §8.1). For each pack the first registry that lists it wins, and its candidates carry that
//! registry as their source, so trust never passes between registries (decisions §13).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use pack_verify::trust::bundle::TrustBundle;
use semver::Version;
use serde_json::Value;

use crate::registry::RegistryClient;
use crate::resolve::{Advisory, Candidate, PackageIndex, ResolveError};

/// One registry the consumer uses.
pub struct Registry {
    /// Normalised base URL (what lockfiles and candidates name).
    pub url: String,
    /// The HTTP client; `None` offline.
    pub client: Option<RegistryClient>,
    /// The registry's own trust bundle.
    pub bundle: TrustBundle,
}

impl Registry {
    /// The registry at `url` with its own trust bundle from `config` (decisions §13) and, unless
    /// `offline`, a client carrying that registry's token.
    pub fn open(config: &crate::config::Config, url: String, offline: bool) -> crate::error::CliResult<Self> {
        let bundle = config.trust_for(&url)?;
        let client = if offline {
            None
        } else {
            let options = crate::registry::ClientOptions {
                token: config.token_for(&url),
                ..crate::registry::ClientOptions::default()
            };
            Some(RegistryClient::new(&url, options).map_err(|e| crate::error::CliError::from_registry(&e))?)
        };
        Ok(Self { url, client, bundle })
    }
}

/// Candidates per pack, fetched once per run.
pub struct RegistryIndex<'a> {
    registries: &'a [Registry],
    /// Where manifests of versions downloaded before are found without a request.
    cache: Option<crate::install::cache::Cache>,
    seen: RefCell<HashMap<String, Vec<Candidate>>>,
    /// Raw version manifests fetched while resolving, reused by the download step.
    pub manifests: RefCell<HashMap<(String, String), Vec<u8>>>,
}

fn unreachable(registry: &str, e: &crate::registry::RegistryError) -> ResolveError {
    if e.status == Some(401) {
        // A token pack sent was refused: keep the registry's code (its message says what to do).
        let code = match e.code.as_str() {
            "key_expired" => "key_expired",
            "key_revoked" => "key_revoked",
            _ => "unauthenticated",
        };
        return ResolveError::Index { code, message: format!("{registry}: {e}") };
    }
    if e.is_unreachable() {
        ResolveError::RegistryUnreachable { registry: registry.to_string(), reason: e.to_string() }
    } else {
        ResolveError::Index { code: "pack_registry_error", message: format!("{registry}: {e}") }
    }
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
        .unwrap_or_default()
}

fn truthy(v: Option<&Value>) -> bool {
    v.is_some_and(|v| !matches!(v, Value::Null | Value::Bool(false)))
}

/// The candidate a served version manifest describes.
pub fn candidate_from_manifest(manifest: &Value, version: Version, source: &str) -> Candidate {
    let deprecated = truthy(manifest.get("deprecated"))
        .then(|| manifest.get("deprecationReason").and_then(Value::as_str).unwrap_or("deprecated").to_string());
    Candidate {
        version,
        dependencies: string_map(manifest.get("dependencies")),
        peer_dependencies: string_map(manifest.get("peerDependencies")),
        yanked: truthy(manifest.get("yanked")),
        deprecated,
        integrity: manifest.get("integrity").and_then(Value::as_str).unwrap_or_default().to_string(),
        source: source.to_string(),
    }
}

impl<'a> RegistryIndex<'a> {
    /// An index over `registries` (primary first).
    pub fn new(registries: &'a [Registry]) -> Self {
        Self { registries, cache: None, seen: RefCell::default(), manifests: RefCell::default() }
    }

    /// Reads the manifests of versions already in `cache` from there instead of the network.
    /// Yank and deprecation state still come from the freshly fetched pack index.
    pub fn with_cache(mut self, cache: crate::install::cache::Cache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The version manifest for one index entry, raw and parsed: from the cache when its
    /// integrity is there, else from the registry (`None`: not served, or not JSON). The flag
    /// says whether it came from the cache.
    fn manifest_for(
        &self,
        client: &RegistryClient,
        name: &str,
        version: &str,
        entry: &Value,
    ) -> Result<Option<(Vec<u8>, Value, bool)>, crate::registry::RegistryError> {
        let cached = entry
            .get("integrity")
            .and_then(Value::as_str)
            .and_then(|integrity| self.cache.as_ref().and_then(|c| c.manifest(integrity)));
        if let Some((bytes, manifest)) = cached {
            return Ok(Some((bytes, manifest, true)));
        }
        let Some(bytes) = client.version_manifest(name, version)? else { return Ok(None) };
        Ok(serde_json::from_slice::<Value>(&bytes).ok().map(|manifest| (bytes, manifest, false)))
    }

    /// Advisories of every registry, for the resolver.
    pub fn advisories(&self) -> Result<Vec<Advisory>, ResolveError> {
        let mut out = Vec::new();
        for registry in self.registries {
            let Some(client) = &registry.client else { continue };
            let feed = client.advisories().map_err(|e| unreachable(&registry.url, &e))?;
            for advisory in feed.get("advisories").and_then(Value::as_array).into_iter().flatten() {
                let Some(id) = advisory.get("id").and_then(Value::as_str) else { continue };
                for affected in advisory.get("affected").and_then(Value::as_array).into_iter().flatten() {
                    let (Some(pack), Some(range)) = (
                        affected.get("packName").and_then(Value::as_str),
                        affected.get("versions").and_then(Value::as_str),
                    ) else {
                        continue;
                    };
                    // An unparsable range in a feed is skipped, not fatal: the registry yanks
                    // what an advisory matches, and yanked versions are excluded anyway.
                    if let Ok(range) = pack_verify::range::Range::parse(range) {
                        out.push(Advisory { id: id.to_string(), pack: pack.to_string(), range });
                    }
                }
            }
        }
        Ok(out)
    }
}

impl PackageIndex for RegistryIndex<'_> {
    fn versions(&self, name: &str) -> Result<Vec<Candidate>, ResolveError> {
        if let Some(found) = self.seen.borrow().get(name) {
            return Ok(found.clone());
        }
        let mut found = Vec::new();
        for registry in self.registries {
            let Some(client) = &registry.client else { continue };
            let Some(index) = client.pack_index(name).map_err(|e| unreachable(&registry.url, &e))? else {
                continue;
            };
            for entry in index.get("versions").and_then(Value::as_array).into_iter().flatten() {
                let Some(text) = entry.get("version").and_then(Value::as_str) else { continue };
                let Ok(version) = Version::parse(text) else { continue };
                let Some((bytes, manifest, from_cache)) =
                    self.manifest_for(client, name, text, entry).map_err(|e| unreachable(&registry.url, &e))?
                else {
                    continue;
                };
                let mut candidate = candidate_from_manifest(&manifest, version, &registry.url);
                if from_cache {
                    // A cached manifest is as old as the download; the index is current.
                    if let Some(yanked) = entry.get("yanked") {
                        candidate.yanked = truthy(Some(yanked));
                    }
                    if let Some(deprecated) = entry.get("deprecated") {
                        candidate.deprecated = truthy(Some(deprecated))
                            .then(|| candidate.deprecated.take().unwrap_or_else(|| "deprecated".into()));
                    }
                }
                found.push(candidate);
                self.manifests.borrow_mut().insert((name.to_string(), text.to_string()), bytes);
            }
            // The first registry that lists the pack wins; later ones are not consulted for it.
            break;
        }
        self.seen.borrow_mut().insert(name.to_string(), found.clone());
        Ok(found)
    }
}

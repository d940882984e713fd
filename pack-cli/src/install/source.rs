//! The resolver's view of the configured registries: a primary plus ordered fallbacks (contract
//! §8.1). For each pack the first registry that lists it wins, and its candidates carry that
//! registry as their source, so trust never passes between registries (decisions §13).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use pack_verify::trust::bundle::TrustBundle;
use semver::Version;
use serde_json::Value;

use crate::install::cache::Cache;
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
    cache: Option<Cache>,
    seen: RefCell<HashMap<String, Vec<Candidate>>>,
    /// What [`RegistryIndex::prefetch`] could not load, handed to the resolver when it asks for
    /// that pack (so a failure is reported where resolution meets it, and not waited for twice).
    failed: RefCell<HashMap<String, ResolveError>>,
    /// Raw version manifests fetched from the network while resolving, by (name, version); the
    /// download step takes them instead of requesting them again.
    manifests: RefCell<HashMap<(String, String), Vec<u8>>>,
}

/// The most packs [`RegistryIndex::prefetch`] loads before the solver asks for them.
pub const PREFETCH_LIMIT: usize = 10_000;

/// One pack as the index loads it: its candidates, and the manifests that came from the network.
struct Loaded {
    candidates: Vec<Candidate>,
    fetched: Vec<(String, Vec<u8>)>,
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
        Self {
            registries,
            cache: None,
            seen: RefCell::default(),
            failed: RefCell::default(),
            manifests: RefCell::default(),
        }
    }

    /// Reads the manifests of versions already in `cache` from there instead of the network.
    /// Yank and deprecation state still come from the freshly fetched pack index.
    pub fn with_cache(mut self, cache: Cache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Loads `roots` and every pack their versions depend on, wave by wave, `jobs` packs at a
    /// time, before resolution asks for them one by one. Each pack costs a request for its index
    /// and one per uncached version manifest; made in sequence, those requests were most of a
    /// cold install of many packs (358 in a row for the 117 fixture packs). What fails to load
    /// is kept and returned when the resolver asks for that pack, as a direct fetch would.
    /// Dependencies of every candidate are followed, not only of the versions the solver will
    /// pick, so at most [`PREFETCH_LIMIT`] packs are loaded ahead: a registry whose manifests
    /// name endless dependencies costs no more requests here than the solver would make.
    pub fn prefetch<'n>(&self, roots: impl IntoIterator<Item = &'n String>, jobs: usize) {
        let mut queued: HashSet<String> = HashSet::new();
        let mut wave: Vec<String> = Vec::new();
        for name in roots {
            if !self.seen.borrow().contains_key(name) && queued.insert(name.clone()) {
                wave.push(name.clone());
            }
        }
        let (registries, cache) = (self.registries, self.cache.as_ref());
        while !wave.is_empty() {
            let loaded = pack_verify::parallel::map(
                jobs,
                &wave,
                |name| load(registries, cache, name),
                || Err(ResolveError::Index { code: "internal_error", message: "a prefetch worker panicked".into() }),
            );
            let mut next = Vec::new();
            for (name, result) in wave.iter().zip(loaded) {
                match result {
                    Ok(pack) => {
                        for dep in pack.candidates.iter().flat_map(|c| c.dependencies.keys()) {
                            if queued.len() < PREFETCH_LIMIT
                                && !self.seen.borrow().contains_key(dep)
                                && queued.insert(dep.clone())
                            {
                                next.push(dep.clone());
                            }
                        }
                        self.keep(name, pack);
                    }
                    Err(e) => {
                        self.failed.borrow_mut().insert(name.clone(), e);
                    }
                }
            }
            wave = next;
        }
    }

    /// The manifests fetched from the network while resolving, by (name, version).
    pub fn take_manifests(&self) -> HashMap<(String, String), Vec<u8>> {
        std::mem::take(&mut *self.manifests.borrow_mut())
    }

    fn keep(&self, name: &str, pack: Loaded) -> Vec<Candidate> {
        let mut manifests = self.manifests.borrow_mut();
        for (version, bytes) in pack.fetched {
            manifests.insert((name.to_string(), version), bytes);
        }
        self.seen.borrow_mut().insert(name.to_string(), pack.candidates.clone());
        pack.candidates
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
        if let Some(e) = self.failed.borrow_mut().remove(name) {
            return Err(e);
        }
        let pack = load(self.registries, self.cache.as_ref(), name)?;
        Ok(self.keep(name, pack))
    }
}

/// The version manifest for one index entry, raw and parsed: from `cache` when its integrity is
/// there, else from the registry (`None`: not served, or not JSON). The flag says whether it
/// came from the cache.
fn manifest_for(
    cache: Option<&Cache>,
    client: &RegistryClient,
    name: &str,
    version: &str,
    entry: &Value,
) -> Result<Option<(Vec<u8>, Value, bool)>, crate::registry::RegistryError> {
    let cached =
        entry.get("integrity").and_then(Value::as_str).and_then(|integrity| cache.and_then(|c| c.manifest(integrity)));
    if let Some((bytes, manifest)) = cached {
        return Ok(Some((bytes, manifest, true)));
    }
    let Some(bytes) = client.version_manifest(name, version)? else { return Ok(None) };
    Ok(serde_json::from_slice::<Value>(&bytes).ok().map(|manifest| (bytes, manifest, false)))
}

/// One pack's candidates from the first registry that lists it (none when no registry does).
fn load(registries: &[Registry], cache: Option<&Cache>, name: &str) -> Result<Loaded, ResolveError> {
    let mut loaded = Loaded { candidates: Vec::new(), fetched: Vec::new() };
    for registry in registries {
        let Some(client) = &registry.client else { continue };
        let Some(index) = client.pack_index(name).map_err(|e| unreachable(&registry.url, &e))? else {
            continue;
        };
        for entry in index.get("versions").and_then(Value::as_array).into_iter().flatten() {
            let Some(text) = entry.get("version").and_then(Value::as_str) else { continue };
            let Ok(version) = Version::parse(text) else { continue };
            let Some((bytes, manifest, from_cache)) =
                manifest_for(cache, client, name, text, entry).map_err(|e| unreachable(&registry.url, &e))?
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
            } else {
                loaded.fetched.push((text.to_string(), bytes));
            }
            loaded.candidates.push(candidate);
        }
        // The first registry that lists the pack wins; later ones are not consulted for it.
        break;
    }
    Ok(loaded)
}

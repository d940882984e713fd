//! The resolver's view of the configured registries: a primary plus ordered fallbacks (contract
//! §8.1). For each pack the first registry that lists it wins, and its candidates carry that
//! registry as their source, so trust never passes between registries (decisions §13).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use pack_verify::manifest::{Deprecation, Lifecycle};
use pack_verify::trust::bundle::TrustBundle;
use semver::Version;
use serde_json::Value;

use crate::install::cache::Cache;
use crate::registry::RegistryClient;
use crate::resolve::{Advisory, Candidate, PackageIndex, Request, ResolveError};

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
    /// Versions whose manifest the prefetch found missing or unreadable, by (name, version):
    /// [`PackageIndex::complete`] answers `None` for them without asking again.
    unreadable: RefCell<HashSet<(String, String)>>,
}

/// The most packs [`RegistryIndex::prefetch`] loads before the solver asks for them.
pub const PREFETCH_LIMIT: usize = 10_000;

/// What [`prefetch_one`] did for one pack: its candidates (listed only, unless their manifest was
/// in the cache or has been read now), the manifests it read from the network by version, the
/// candidates it guessed the solver will pick (their manifests read), whose dependencies the next
/// wave follows, and the guessed versions that have no readable manifest.
struct Prefetched {
    candidates: Vec<Candidate>,
    fetched: Vec<(String, Vec<u8>)>,
    picks: Vec<usize>,
    unreadable: Vec<String>,
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

/// The candidate a served version manifest describes.
pub fn candidate_from_manifest(manifest: &Value, version: Version, source: &str) -> Candidate {
    Candidate {
        dependencies: string_map(manifest.get("dependencies")),
        peer_dependencies: string_map(manifest.get("peerDependencies")),
        listed_only: false,
        ..listed(manifest, version, source)
    }
}

/// The candidate a pack index entry (or a manifest: the same fields) lists, before its manifest
/// is read ([`Candidate::listed_only`]).
fn listed(entry: &Value, version: Version, source: &str) -> Candidate {
    let Lifecycle { yanked, deprecation, .. } = Lifecycle::from_value(entry);
    Candidate {
        yanked,
        deprecated: deprecation,
        integrity: entry.get("integrity").and_then(Value::as_str).unwrap_or_default().to_string(),
        source: source.to_string(),
        listed_only: true,
        ..Candidate::new(version)
    }
}

/// `listed` completed by its `manifest`, keeping the listing's yanked and deprecated state: a
/// manifest may be as old as the download that cached it, the pack index is current. A
/// deprecation keeps the manifest's reason and successor where it gives them; a manifest without
/// `integrity` takes the index's.
fn completed(manifest: &Value, listed: &Candidate) -> Candidate {
    let mut full = candidate_from_manifest(manifest, listed.version.clone(), &listed.source);
    full.yanked = listed.yanked;
    if full.integrity.is_empty() {
        // Checked against the downloaded bytes either way; the index's value is as good.
        full.integrity.clone_from(&listed.integrity);
    }
    full.deprecated = match (&listed.deprecated, full.deprecated.take()) {
        (None, _) => None,
        (Some(index), Some(manifest)) => Some(Deprecation {
            reason: manifest.reason.or_else(|| index.reason.clone()),
            superseded_by: manifest.superseded_by.or_else(|| index.superseded_by.clone()),
        }),
        (Some(index), None) => Some(index.clone()),
    };
    full
}

/// Reads the manifest of `listed` (a version of `name`) from `client`: the full candidate and the
/// raw bytes. `None` when the registry serves no manifest for it, or one that is not JSON.
fn read_manifest(
    client: &RegistryClient,
    name: &str,
    listed: &Candidate,
) -> Result<Option<(Vec<u8>, Candidate)>, crate::registry::RegistryError> {
    let Some(bytes) = client.version_manifest(name, &listed.version.to_string())? else { return Ok(None) };
    let Ok(manifest) = serde_json::from_slice::<Value>(&bytes) else { return Ok(None) };
    let full = completed(&manifest, listed);
    Ok(Some((bytes, full)))
}

/// The client of the registry a candidate came from.
fn client_for<'r>(registries: &'r [Registry], candidate: &Candidate) -> Option<&'r RegistryClient> {
    registries.iter().find(|r| r.url == candidate.source).and_then(|r| r.client.as_ref())
}

/// The version the solver will most likely pick for `range` among `candidates`: the override,
/// else the lockfile's pin when the range allows it, else the highest matching version not
/// yanked. Only a guess for [`RegistryIndex::prefetch`] (advisories and the other ranges on the
/// pack are the solver's business): a wrong guess costs one manifest, read later on demand.
fn likely_pick(candidates: &[Candidate], range: &str, pin: Option<&Version>, exact: Option<&Version>) -> Option<usize> {
    if let Some(exact) = exact {
        return candidates.iter().position(|c| &c.version == exact);
    }
    let range = pack_verify::range::Range::parse(range).ok()?;
    if let Some(pin) = pin.filter(|pin| range.matches(pin))
        && let Some(i) = candidates.iter().position(|c| &c.version == pin)
    {
        return Some(i);
    }
    (0..candidates.len())
        .filter(|&i| !candidates[i].yanked && range.matches(&candidates[i].version))
        .max_by(|&a, &b| candidates[a].version.cmp(&candidates[b].version))
}

/// One pack for [`RegistryIndex::prefetch`]: its listing (`listing`, or loaded now), then the
/// manifest of the likely pick for each of `ranges`.
fn prefetch_one(
    registries: &[Registry],
    cache: Option<&Cache>,
    name: &str,
    ranges: &[String],
    listing: Option<&Vec<Candidate>>,
    request: &Request,
) -> Result<Prefetched, ResolveError> {
    let mut candidates = match listing {
        Some(candidates) => candidates.clone(),
        None => load(registries, cache, name)?,
    };
    let (mut fetched, mut picks, mut unreadable) = (Vec::new(), Vec::new(), Vec::new());
    for range in ranges {
        let Some(i) = likely_pick(&candidates, range, request.pins.get(name), request.overrides.get(name)) else {
            continue;
        };
        let candidate = &candidates[i];
        if candidate.listed_only {
            let Some(client) = client_for(registries, candidate) else { continue };
            // No manifest: the solver skips this version when it considers it.
            let Some((bytes, full)) =
                read_manifest(client, name, candidate).map_err(|e| unreachable(&candidate.source, &e))?
            else {
                unreadable.push(candidate.version.to_string());
                continue;
            };
            fetched.push((full.version.to_string(), bytes));
            candidates[i] = full;
        }
        if !picks.contains(&i) {
            picks.push(i);
        }
    }
    Ok(Prefetched { candidates, fetched, picks, unreadable })
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
            unreadable: RefCell::default(),
        }
    }

    /// Reads the manifests of versions already in `cache` from there instead of the network.
    /// Yank and deprecation state still come from the freshly fetched pack index.
    pub fn with_cache(mut self, cache: Cache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Loads what resolving `request` will most likely read, wave by wave, `jobs` requests at a
    /// time, before the solver asks for it one pack at a time: each pack's index, and the manifest
    /// of the version the solver will most likely pick for each range on it ([`likely_pick`]),
    /// whose dependencies are the next wave. Made in sequence, those requests were most of a cold
    /// install of many packs. Manifests of other versions are read only if the solver turns to
    /// them ([`PackageIndex::complete`]), so a pack with many releases costs two requests, not
    /// one per release. What fails to load is kept and returned when the resolver asks for that
    /// pack, as a direct fetch would. At most [`PREFETCH_LIMIT`] (pack, range) pairs are
    /// followed: a registry whose manifests name endless dependencies costs no more requests
    /// here than the solver would make.
    pub fn prefetch(&self, request: &Request, jobs: usize) {
        let mut followed: HashSet<(String, String)> = HashSet::new();
        let mut wave: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let overridden = request.overrides.iter().map(|(name, version)| (name, format!("={version}")));
        for (name, range) in request.roots.iter().map(|(n, r)| (n, r.clone())).chain(overridden) {
            if followed.insert((name.clone(), range.clone())) {
                wave.entry(name.clone()).or_default().push(range);
            }
        }
        let (registries, cache) = (self.registries, self.cache.as_ref());
        while !wave.is_empty() {
            let work: Vec<(String, Vec<String>, Option<Vec<Candidate>>)> = std::mem::take(&mut wave)
                .into_iter()
                .filter(|(name, _)| !self.failed.borrow().contains_key(name))
                .map(|(name, ranges)| {
                    let listing = self.seen.borrow().get(&name).cloned();
                    (name, ranges, listing)
                })
                .collect();
            let done = pack_verify::parallel::map(
                jobs,
                &work,
                |(name, ranges, listing)| prefetch_one(registries, cache, name, ranges, listing.as_ref(), request),
                || Err(ResolveError::Index { code: "internal_error", message: "a prefetch worker panicked".into() }),
            );
            for ((name, _, _), result) in work.iter().zip(done) {
                match result {
                    Ok(Prefetched { candidates, fetched, picks, unreadable }) => {
                        let versions = unreadable.into_iter().map(|version| (name.clone(), version));
                        self.unreadable.borrow_mut().extend(versions);
                        for &i in &picks {
                            for (dep, range) in &candidates[i].dependencies {
                                if followed.len() < PREFETCH_LIMIT && followed.insert((dep.clone(), range.clone())) {
                                    wave.entry(dep.clone()).or_default().push(range.clone());
                                }
                            }
                        }
                        self.keep(name, candidates, fetched);
                    }
                    Err(e) => {
                        self.failed.borrow_mut().insert(name.clone(), e);
                    }
                }
            }
        }
    }

    /// The manifests fetched from the network while resolving, by (name, version).
    pub fn take_manifests(&self) -> HashMap<(String, String), Vec<u8>> {
        std::mem::take(&mut *self.manifests.borrow_mut())
    }

    /// Records `name`'s candidates and the manifests read for them (by version).
    fn keep(&self, name: &str, candidates: Vec<Candidate>, fetched: Vec<(String, Vec<u8>)>) {
        let mut manifests = self.manifests.borrow_mut();
        for (version, bytes) in fetched {
            manifests.insert((name.to_string(), version), bytes);
        }
        self.seen.borrow_mut().insert(name.to_string(), candidates);
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
        let candidates = load(self.registries, self.cache.as_ref(), name)?;
        self.keep(name, candidates.clone(), Vec::new());
        Ok(candidates)
    }

    fn complete(&self, name: &str, candidate: &Candidate) -> Result<Option<Candidate>, ResolveError> {
        if !candidate.listed_only {
            return Ok(Some(candidate.clone()));
        }
        if self.unreadable.borrow().contains(&(name.to_string(), candidate.version.to_string())) {
            return Ok(None);
        }
        let Some(client) = client_for(self.registries, candidate) else { return Ok(None) };
        let read = read_manifest(client, name, candidate).map_err(|e| unreachable(&candidate.source, &e))?;
        Ok(read.map(|(bytes, full)| {
            self.manifests.borrow_mut().insert((name.to_string(), full.version.to_string()), bytes);
            full
        }))
    }
}

/// One pack's listing from the first registry that lists it (none when no registry does): every
/// version the index names, listed only, except those whose manifest `cache` holds (by the
/// integrity the index gives), which come complete without a request.
fn load(registries: &[Registry], cache: Option<&Cache>, name: &str) -> Result<Vec<Candidate>, ResolveError> {
    let mut candidates = Vec::new();
    for registry in registries {
        let Some(client) = &registry.client else { continue };
        let Some(index) = client.pack_index(name).map_err(|e| unreachable(&registry.url, &e))? else {
            continue;
        };
        for entry in index.get("versions").and_then(Value::as_array).into_iter().flatten() {
            let Some(text) = entry.get("version").and_then(Value::as_str) else { continue };
            let Ok(version) = Version::parse(text) else { continue };
            let candidate = listed(entry, version, &registry.url);
            let cached =
                cache.filter(|_| !candidate.integrity.is_empty()).and_then(|c| c.manifest(&candidate.integrity));
            candidates.push(match cached {
                Some((_, manifest)) => completed(&manifest, &candidate),
                None => candidate,
            });
        }
        // The first registry that lists the pack wins; later ones are not consulted for it.
        break;
    }
    Ok(candidates)
}

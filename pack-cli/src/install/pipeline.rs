//! The steps of `pack lock` and `pack install`: resolve into a lockfile, fetch every locked
//! version (cache first, then its registry, in parallel), verify each with `pack-verify` against
//! its own registry's trust root before anything is extracted, check peers, install atomically.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use pack_verify::integrity::Integrity;
use pack_verify::parallel::joined;
use pack_verify::trust::state::TrustState;
use pack_verify::trust::{ExpiryPolicy, SystemClock, TrustRoot};
use pack_verify::verify::{Verifier, VersionInput};
use semver::Version;
use serde_json::Value;

use super::cache::{Cache, CachedVersion};
use super::host::InstallItem;
use super::peers::{HostCapabilities, check};
use super::source::{Registry, RegistryIndex};
use crate::error::{CliError, CliResult};
use crate::lockfile::{LockMeta, LockedPack, Lockfile, timestamp};
use crate::resolve::{Request, ResolveError, ResolveWarning, resolve};

/// What to resolve.
#[derive(Debug, Clone, Default)]
pub struct LockOptions {
    /// Requested packs: name → node-semver range.
    pub roots: BTreeMap<String, String>,
    /// Exact versions forced ahead of ranges (lockfile `overrides`).
    pub overrides: BTreeMap<String, Version>,
    /// Advisory ids the user accepts.
    pub allow_advisories: BTreeSet<String>,
    /// Requests in flight at once while loading the pack indexes and manifests to resolve
    /// (`None`: as many as the registries allow, [`request_jobs`]).
    pub jobs: Option<usize>,
}

/// What [`lock`] produced.
pub struct Locked {
    /// The new lockfile.
    pub lockfile: Lockfile,
    /// The resolver's warnings.
    pub warnings: Vec<ResolveWarning>,
    /// Version manifests fetched while resolving, by (name, version): the download step uses
    /// them instead of requesting them again (they are verified like any download).
    pub manifests: HashMap<(String, String), Vec<u8>>,
}

/// The most requests `--jobs` may put in flight (one thread each).
pub const MAX_JOBS: usize = 256;

/// Requests in flight at once: `--jobs` when given (1 to [`MAX_JOBS`]), else the fewest any
/// configured registry allows ([`RegistryClient::parallel_requests`]: more once it has answered
/// over HTTP/2 from further than next door). Asked again before each step, so a step after the
/// first requests (advisories, trust) uses what they showed.
///
/// [`RegistryClient::parallel_requests`]: crate::registry::RegistryClient::parallel_requests
pub fn request_jobs(registries: &[Registry], jobs: Option<usize>) -> usize {
    match jobs {
        Some(jobs) => jobs.clamp(1, MAX_JOBS),
        None => registries
            .iter()
            .filter_map(|r| r.client.as_ref())
            .map(|c| c.parallel_requests())
            .min()
            .unwrap_or(pack_verify::registry::HTTP_CONCURRENCY),
    }
}

fn resolve_error(e: &ResolveError) -> CliError {
    // Conflicts, cycles and a registry refusing the token exit 1; the rest are usage errors.
    let exit_verification = matches!(
        e.code(),
        "pack_dependency_conflict" | "pack_dependency_cycle" | "unauthenticated" | "key_expired" | "key_revoked"
    );
    let mut err = if exit_verification {
        CliError::verification(e.code(), e.to_string(), e.hint())
    } else {
        CliError::usage(e.code(), e.to_string(), e.hint())
    };
    err.details = Some(Box::new(e.details()));
    err
}

/// Resolves `options` against `registries` (primary first), keeping `previous` pins that still
/// satisfy; manifests of versions already in `cache` are read from there.
pub fn lock(
    registries: &[Registry],
    previous: Option<&Lockfile>,
    options: &LockOptions,
    cache: Option<&Cache>,
) -> CliResult<Locked> {
    let mut index = RegistryIndex::new(registries);
    if let Some(cache) = cache {
        index = index.with_cache(cache.clone());
    }
    let advisories = index.advisories().map_err(|e| resolve_error(&e))?;
    let mut overrides = previous.map(|p| p.overrides.clone()).unwrap_or_default();
    overrides.extend(options.overrides.clone());
    let request = Request {
        roots: options.roots.clone(),
        pins: previous.map(Lockfile::pins).unwrap_or_default(),
        overrides: overrides.clone(),
        advisories,
        allow_advisories: options.allow_advisories.clone(),
    };
    index.prefetch(&request, request_jobs(registries, options.jobs));
    let resolution = resolve(&index, &request).map_err(|e| resolve_error(&e))?;
    let meta = LockMeta {
        generated_at: timestamp(time::OffsetDateTime::now_utc()),
        registry: registries.first().map(|r| r.url.clone()),
        fallback_registries: registries.iter().skip(1).map(|r| r.url.clone()).collect(),
        overrides,
        // Lockfile signatures must verify over the .tgz bytes (decisions §12); `pack lock`
        // downloads no tarballs, so it records none and install verifies through the registry's
        // trust chain instead.
        signatures: BTreeMap::new(),
    };
    let mut lockfile = Lockfile::from_resolution(&resolution, meta);
    if let Some(prev) = previous {
        lockfile.keep_generated_at(prev);
    }
    Ok(Locked { lockfile, warnings: resolution.warnings, manifests: index.take_manifests() })
}

/// The registry a locked pack comes from: the configured registry its `resolved` URL starts
/// with, else the lockfile's default registry.
fn registry_for<'a>(registries: &'a [Registry], lockfile: &Lockfile, pack: &LockedPack) -> CliResult<&'a Registry> {
    let by_resolved = pack
        .resolved
        .as_deref()
        .and_then(|url| registries.iter().find(|r| url.starts_with(&format!("{}/", r.url.trim_end_matches('/')))));
    let by_default = || {
        lockfile
            .registry
            .as_deref()
            .and_then(|d| registries.iter().find(|r| r.url.trim_end_matches('/') == d.trim_end_matches('/')))
    };
    by_resolved.or_else(by_default).ok_or_else(|| {
        CliError::usage(
            "pack_registry_unknown",
            format!(
                "{}@{} comes from {}, which is not a configured registry",
                pack.name,
                pack.version,
                pack.resolved.as_deref().or(lockfile.registry.as_deref()).unwrap_or("an unnamed registry")
            ),
            "configure that registry (with its trust bundle) in pack.toml, or re-lock",
        )
    })
}

/// Where per-registry trust state and last-seen keychains live.
fn trust_dir(cache: &Cache) -> PathBuf {
    cache.root().join("trust")
}

fn url_key(url: &str) -> String {
    Integrity::of(url.as_bytes()).hex()[..16].to_string()
}

/// The trust root of `registry`: its bundle, resolved with the keychain it serves now (or, offline,
/// the last one seen), checked against the stored state so a keychain can never roll back.
pub fn trust_root(registry: &Registry, cache: &Cache) -> CliResult<TrustRoot> {
    let dir = trust_dir(cache);
    let state_path = dir.join("state.json");
    let keychain_path = dir.join(format!("keychain-{}.json", url_key(&registry.url)));
    let mut state = match std::fs::read(&state_path) {
        Ok(bytes) => TrustState::from_json(&bytes).map_err(|e| CliError::input(&e).at(&state_path))?,
        Err(_) => TrustState::new(),
    };
    let fetched = if registry.bundle.has_root() {
        match &registry.client {
            Some(client) => client.keychain().map_err(|e| CliError::from_registry(&e))?,
            None => std::fs::read(&keychain_path).ok(),
        }
    } else {
        None
    };
    let root = registry
        .bundle
        .resolve(fetched.as_deref(), &mut state, &SystemClock, ExpiryPolicy::Enforce)
        .map_err(|e| CliError::from_verify(&e).hint(format!("{} (registry {})", e.hint(), registry.url)))?;
    std::fs::create_dir_all(&dir).map_err(|e| CliError::io(&dir, "create", &e))?;
    std::fs::write(&state_path, state.to_json()).map_err(|e| CliError::io(&state_path, "write", &e))?;
    if let Some(bytes) = fetched {
        std::fs::write(&keychain_path, bytes).map_err(|e| CliError::io(&keychain_path, "write", &e))?;
    }
    Ok(root)
}

/// What the download step knows before it starts.
#[derive(Default)]
pub struct Known {
    /// Version manifests fetched while resolving, by (name, version): used instead of
    /// requesting them again (they are verified like any download).
    pub manifests: HashMap<(String, String), Vec<u8>>,
    /// Whether each registry's trust root checks version statements, by registry URL. `false`:
    /// its statements are not requested (on the reference registry, one 404 per version).
    /// `true`: a cached version without its statement is downloaded again. Absent: statements
    /// are requested where served and cached versions used as they are.
    pub statements: HashMap<String, bool>,
}

impl Known {
    /// What `verifiers` (by registry URL) need: each one's statement rule.
    pub fn statements_of(verifiers: &HashMap<String, Verifier>) -> HashMap<String, bool> {
        verifiers.iter().map(|(url, v)| (url.clone(), v.root().requires_statements())).collect()
    }
}

/// Fetches the artifacts of every locked pack: from the cache when present (always when
/// `offline`), else from its registry, `jobs` at a time. `progress` is told each finished pack.
pub fn fetch_all(
    registries: &[Registry],
    lockfile: &Lockfile,
    cache: &Cache,
    known: &Known,
    offline: bool,
    jobs: Option<usize>,
    progress: &(dyn Fn(&LockedPack) + Sync),
) -> CliResult<Vec<CachedVersion>> {
    super::on_workers(request_jobs(registries, jobs), "download", &lockfile.packs, |pack| {
        let result = fetch_one(registries, lockfile, pack, cache, known, offline);
        progress(pack);
        result
    })
}

fn fetch_one(
    registries: &[Registry],
    lockfile: &Lockfile,
    pack: &LockedPack,
    cache: &Cache,
    known: &Known,
    offline: bool,
) -> CliResult<CachedVersion> {
    let registry = registry_for(registries, lockfile, pack)?;
    let statements = known.statements.get(&registry.url).copied();
    if let Some(hit) = cache.get(&pack.integrity) {
        // An entry cached from a registry without statements lacks the one this registry's
        // trust requires: fetch the version again rather than fail its verification.
        if hit.statement.is_some() || statements != Some(true) || offline {
            return Ok(hit);
        }
    }
    let version = pack.version.to_string();
    let Some(client) = registry.client.as_ref().filter(|_| !offline) else {
        return Err(CliError::usage(
            "pack_version_not_found",
            format!("{}@{version} is not in the cache and the network is off", pack.name),
            "run once online (without --offline/--frozen) to fill the cache",
        ));
    };
    let err = |e: crate::registry::RegistryError| CliError::from_registry(&e);
    let known_manifest = known.manifests.get(&(pack.name.clone(), version.clone()));
    let manifest = || match known_manifest {
        Some(bytes) => Ok(Some(bytes.clone())),
        None => client.version_manifest(&pack.name, &version),
    };
    let signature = || client.signature(&pack.name, &version);
    let statement = || if statements == Some(false) { Ok(None) } else { client.statement(&pack.name, &version) };
    let tarball = || client.tarball(&pack.name, &version, &|_, _| {});
    let present = |manifest: Result<Option<Vec<u8>>, _>| {
        manifest.map_err(err)?.ok_or_else(|| {
            CliError::usage(
                "pack_version_not_found",
                format!("{} no longer serves {}@{version}", registry.url, pack.name),
                "re-lock to pick an available version",
            )
        })
    };
    if !client.together() {
        // One after the other: over HTTP/1.1 each request in flight is a connection, and the
        // workers already hold 16; next door the round trips saved would not pay for the threads.
        let manifest = present(manifest())?;
        let (tarball, signature, statement) =
            (tarball().map_err(err)?, signature().map_err(err)?, statement().map_err(err)?);
        return Ok(CachedVersion { tarball, signature, manifest, statement });
    }
    // Over HTTP/2 the four are streams of one connection: asked together, from afar they cost
    // one round trip instead of up to four. A thread only for what goes to the network.
    let (manifest, tarball, signature, statement) = std::thread::scope(|s| {
        let m = known_manifest.is_none().then(|| s.spawn(manifest));
        let t = (statements != Some(false)).then(|| s.spawn(statement));
        let g = s.spawn(signature);
        let tarball = tarball();
        // A panic in a download thread is a transport failure of that request.
        let panicked = || crate::registry::RegistryError::transport(client.base_url(), "a download thread panicked");
        let manifest = m.map_or_else(manifest, |m| joined(m, panicked));
        let statement = t.map_or(Ok(None), |t| joined(t, panicked));
        (manifest, tarball, joined(g, panicked), statement)
    });
    let manifest = present(manifest)?;
    let (tarball, signature, statement) = (tarball.map_err(err)?, signature.map_err(err)?, statement.map_err(err)?);
    Ok(CachedVersion { tarball, signature, manifest, statement })
}

/// Verifies one fetched version completely; nothing is extracted unless this passes.
/// `other_versions` (the pack's other versions, where known) only sharpen the error when the
/// signature is a replay from another version.
pub fn verify_one(
    verifier: &Verifier,
    pack: &LockedPack,
    files: &CachedVersion,
    other_versions: &[String],
) -> CliResult<InstallItem> {
    let version = pack.version.to_string();
    let at = |e: pack_verify::error::VerifyError| {
        let mut err = CliError::from_verify(&e);
        err.message = format!("{}@{version}: {}", pack.name, err.message);
        err
    };
    // Integrity against the lockfile first: the bytes must be the ones that were locked.
    Integrity::parse(&pack.integrity).and_then(|i| i.check(&files.tarball)).map_err(at)?;
    if let Some(sig) = &pack.signature {
        // Lockfile rule 3: a recorded signature must verify over the tarball bytes.
        let key = pack_verify::keys::PublicKey::parse(&sig.public_key).map_err(at)?;
        let signature = pack_verify::signature::Signature::from_base64(&sig.value).map_err(at)?;
        if !key.verify(&files.tarball, &signature) {
            return Err(CliError::verification(
                "pack_signature_invalid",
                format!("{}@{version}: the lockfile's signature does not verify over the tarball", pack.name),
                "the tarball or the lockfile was altered; re-lock from a trusted registry",
            ));
        }
    }
    let verified = verifier
        .verify(&VersionInput {
            manifest: &files.manifest,
            tarball: &files.tarball,
            signature: &files.signature,
            statement: files.statement.as_deref(),
            expected: Some((&pack.name, &version)),
            other_versions,
        })
        .map_err(at)?;
    Ok(InstallItem {
        name: verified.name,
        version: verified.version,
        integrity: verified.integrity.to_string(),
        source: String::new(),
        files: verified.archive.into_files(),
    })
}

/// One verifier per registry the lockfile's packs come from, by URL, trust roots resolved in
/// lockfile order (resolving one may fetch and store a keychain).
pub fn verifiers(registries: &[Registry], lockfile: &Lockfile, cache: &Cache) -> CliResult<HashMap<String, Verifier>> {
    let mut verifiers: HashMap<String, Verifier> = HashMap::new();
    for pack in &lockfile.packs {
        let registry = registry_for(registries, lockfile, pack)?;
        if !verifiers.contains_key(&registry.url) {
            verifiers.insert(registry.url.clone(), Verifier::new(trust_root(registry, cache)?));
        }
    }
    Ok(verifiers)
}

/// `registry`'s verifier among `verifiers` (from [`verifiers`], which makes one for every registry
/// a lockfile's packs come from).
pub fn verifier_for<'v>(verifiers: &'v HashMap<String, Verifier>, registry: &Registry) -> CliResult<&'v Verifier> {
    verifiers
        .get(&registry.url)
        .ok_or_else(|| CliError::usage("internal_error", "no verifier for a registry", "report this bug"))
}

/// Verifies every fetched version with its registry's verifier (from [`verifiers`]), on every
/// core; the first failure in lockfile order is the one reported.
pub fn verify_all(
    registries: &[Registry],
    lockfile: &Lockfile,
    fetched: &[CachedVersion],
    verifiers: &HashMap<String, Verifier>,
) -> CliResult<Vec<InstallItem>> {
    let mut work: Vec<(&LockedPack, &CachedVersion, &Registry)> = Vec::new();
    for (pack, files) in lockfile.packs.iter().zip(fetched) {
        work.push((pack, files, registry_for(registries, lockfile, pack)?));
    }
    super::on_workers(0, "verifying", &work, |&(pack, files, registry)| {
        let verifier = verifier_for(verifiers, registry)?;
        let mut item = match verify_one(verifier, pack, files, &[]) {
            // A bad signature: ask the registry which other versions exist, to tell a replayed
            // signature from a forged one (the failure path only; nothing more is trusted).
            Err(e) if e.code == "pack_signature_invalid" => {
                let others = registry.client.as_ref().and_then(|c| listed_versions(c, &pack.name));
                match others {
                    Some(others) => verify_one(verifier, pack, files, &others)?,
                    None => return Err(e),
                }
            }
            other => other?,
        };
        item.source = registry.url.clone();
        Ok(item)
    })
}

/// The versions a registry's pack index lists, or `None` if it cannot be read.
fn listed_versions(client: &crate::registry::RegistryClient, name: &str) -> Option<Vec<String>> {
    let index = client.pack_index(name).ok()??;
    let rows = index.get("versions")?.as_array()?;
    Some(rows.iter().filter_map(|r| r.get("version")?.as_str().map(str::to_string)).collect())
}

/// Peers of every pack against the host: `(missing required, degraded optional)` per pack.
pub fn check_peers(items: &[InstallItem], host: &HostCapabilities) -> (Vec<String>, Vec<String>) {
    let mut missing = Vec::new();
    let mut degraded = Vec::new();
    for item in items {
        let Some(manifest) = item
            .files
            .iter()
            .find(|f| f.path == pack_verify::tarball::PACK_JSON)
            .and_then(|f| serde_json::from_slice::<Value>(&f.data).ok())
        else {
            continue;
        };
        let result = check(&manifest, host);
        missing.extend(result.missing.into_iter().map(|c| format!("{}@{}: {c}", item.name, item.version)));
        degraded.extend(result.degraded.into_iter().map(|c| format!("{}@{}: {c}", item.name, item.version)));
    }
    (missing, degraded)
}

/// Parses `90s`, `15m`, `2h`, `7d` or plain seconds.
pub fn parse_duration(text: &str) -> CliResult<std::time::Duration> {
    let bad = || {
        CliError::usage(
            "invalid_duration",
            format!("`{text}` is not a duration"),
            "use seconds or a number with s, m, h or d, e.g. --max-staleness 2h",
        )
    };
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&text[..i], &text[i..]),
        None => (text, "s"),
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(bad()),
    };
    Ok(std::time::Duration::from_secs(secs))
}

/// Refuses a registry that is a mirror staler than `max` (decisions §14): its signed status
/// (`/v1/-/mirror/status.json`) must verify with a registry key of its own trust root and every
/// upstream must have synced within `max`. A registry that publishes no status is refused too,
/// since its freshness cannot be known.
pub fn check_staleness(registry: &Registry, cache: &Cache, max: std::time::Duration) -> CliResult<()> {
    use pack_verify::trust::mirror_status::{MirrorStatus, STATUS_PATH};
    let Some(client) = &registry.client else { return Ok(()) };
    let bytes = client.fetch_raw(STATUS_PATH).map_err(|e| CliError::from_registry(&e))?.ok_or_else(|| {
        CliError::verification(
            "mirror_status_missing",
            format!("{} publishes no mirror status, so its staleness is unknown", registry.url),
            "drop --max-staleness for registries that are not mirrors",
        )
    })?;
    let root = trust_root(registry, cache)?;
    let envelope = pack_verify::trust::envelope::Envelope::parse(&bytes, "mirror status")
        .map_err(|e| CliError::verification("mirror_status_invalid", e, "the mirror's status is malformed"))?;
    let signer = envelope.signatures.first().map(|s| s.key_id.clone()).unwrap_or_default();
    let key = root
        .keys()
        .find(|k| k.key_id == signer && k.roles.contains(&pack_verify::trust::KeyRole::Registry))
        .ok_or_else(|| {
            CliError::verification(
                "mirror_status_invalid",
                format!("the mirror status of {} is signed by `{signer}`, not a registry key it trusts", registry.url),
                "check the registry's trust bundle",
            )
        })?;
    let status = MirrorStatus::verify(&bytes, &signer, &key.key)
        .map_err(|e| CliError::verification(e.code(), e.to_string(), "check the registry's trust bundle"))?;
    status.check_max_staleness(None, max, time::OffsetDateTime::now_utc()).map_err(|e| {
        CliError::verification(
            e.code(),
            format!("{}: {e}", registry.url),
            "wait for the mirror to sync, or raise --max-staleness",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").map(|d| d.as_secs()).ok(), Some(90));
        assert_eq!(parse_duration("15m").map(|d| d.as_secs()).ok(), Some(900));
        assert_eq!(parse_duration("2h").map(|d| d.as_secs()).ok(), Some(7200));
        assert_eq!(parse_duration("7d").map(|d| d.as_secs()).ok(), Some(604_800));
        for bad in ["", "h", "2w", "-1s", "1.5h"] {
            assert_eq!(parse_duration(bad).map_err(|e| e.code).err(), Some("invalid_duration"), "{bad}");
        }
    }
}

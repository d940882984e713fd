//! `pack lock` and `pack install`.
//!
//! The consumer's requirements live in a manifest (`openwop-packs.json` in the host directory, or
//! any pack.json): its `dependencies` map names node-semver ranges. `pack lock` resolves them into
//! `pack-lock.json`; `pack install` does the same (or uses the lockfile as is with `--frozen`),
//! then fetches, verifies and installs. `--locked` refuses to change the lockfile; `--frozen`
//! also refuses the network; `--offline` never touches the network.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::cli::{InstallArgs, LockArgs, ResolveFlags};
use crate::config::{Config, normalize_url};
use crate::error::{CliError, CliResult};
use crate::install::cache::{Cache, default_cache_dir};
use crate::install::host;
use crate::install::peers::HostCapabilities;
use crate::install::pipeline::{Known, LockOptions, Locked, check_peers, fetch_all, lock, verifiers, verify_all};
use crate::install::source::Registry;
use crate::lockfile::Lockfile;
use crate::output::{Outcome, Shell};
use crate::registry::{ClientOptions, RegistryClient};

/// File name of the consumer manifest in a host directory.
pub const HOST_MANIFEST: &str = "openwop-packs.json";
/// File name of the lockfile.
pub const LOCKFILE: &str = "pack-lock.json";

fn read_json(path: &Path) -> CliResult<Option<Value>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            CliError::usage("invalid_manifest", format!("{} is not valid JSON: {e}", path.display()), "fix the file")
                .at(path)
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::io(path, "read", &e)),
    }
}

fn read_lockfile(path: &Path) -> CliResult<Option<Lockfile>> {
    match std::fs::read(path) {
        Ok(bytes) => Lockfile::parse(&bytes).map(Some).map_err(|e| {
            CliError::usage(e.code(), e.to_string(), "fix or delete the lockfile and run `pack lock`").at(path)
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::io(path, "read", &e)),
    }
}

/// Writes `bytes` to `path` atomically (temporary file + rename).
fn write_atomic(path: &Path, bytes: &[u8]) -> CliResult<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| CliError::io(&tmp, "write", &e))?;
    std::fs::rename(&tmp, path).map_err(|e| CliError::io(path, "replace", &e))
}

/// `name@range` (the range defaults to `*`).
fn parse_spec(spec: &str) -> CliResult<(String, String)> {
    let (name, range) = match spec.rsplit_once('@') {
        Some((n, r)) if !n.is_empty() => (n, r),
        _ => (spec, "*"),
    };
    crate::ops::names::check_pack_name(name)?;
    pack_verify::range::Range::parse(range).map_err(|e| {
        CliError::usage("invalid_range", e.to_string(), "use a node-semver range, e.g. vendor.acme.tools@^1.2")
    })?;
    Ok((name.to_string(), range.to_string()))
}

fn roots_of(manifest: Option<&Value>) -> BTreeMap<String, String> {
    manifest
        .and_then(|m| m.get("dependencies"))
        .and_then(Value::as_object)
        .map(|d| d.iter().filter_map(|(k, v)| v.as_str().map(|r| (k.clone(), r.to_string()))).collect())
        .unwrap_or_default()
}

/// The registries in use (primary first), each with its own trust bundle; no clients offline.
fn registries(config: &Config, flag: Option<&str>, offline: bool) -> CliResult<Vec<Registry>> {
    let primary = config.registry_url(flag)?;
    let mut urls = vec![normalize_url(&primary)];
    for fallback in config.fallbacks() {
        if !urls.contains(&fallback) {
            urls.push(fallback);
        }
    }
    urls.into_iter().map(|url| Registry::open(config, url, offline)).collect()
}

fn overrides(flags: &ResolveFlags) -> CliResult<BTreeMap<String, semver::Version>> {
    flags
        .overrides
        .iter()
        .map(|o| {
            let (name, version) = o.split_once('=').ok_or_else(|| {
                CliError::usage(
                    "invalid_override",
                    format!("`{o}` is not NAME=VERSION"),
                    "e.g. --override vendor.x.y=1.2.5",
                )
            })?;
            let v = pack_verify::names::check_version(version)
                .map_err(|e| CliError::usage(e.code(), e.to_string(), e.hint()))?;
            Ok((name.to_string(), v))
        })
        .collect()
}

/// Whether `lockfile` already satisfies every root (so `--frozen`/offline can use it as is).
fn lockfile_covers(lockfile: &Lockfile, roots: &BTreeMap<String, String>) -> Result<(), String> {
    for (name, range) in roots {
        let Some(locked) = lockfile.get(name) else {
            return Err(format!("{name} is not in the lockfile"));
        };
        let ok = pack_verify::range::Range::parse(range).is_ok_and(|r| r.matches(&locked.version));
        if !ok {
            return Err(format!("the lockfile has {name}@{} but `{range}` is required", locked.version));
        }
    }
    Ok(())
}

struct Planned {
    lockfile: Lockfile,
    changed: bool,
    /// Version manifests fetched while resolving (empty when the lockfile was used as is).
    manifests: HashMap<(String, String), Vec<u8>>,
}

/// Resolves (or reuses) the lockfile per the flags, `jobs` requests at a time.
fn plan(
    shell: &Shell,
    registries: &[Registry],
    roots: &BTreeMap<String, String>,
    lock_path: &Path,
    flags: &ResolveFlags,
    cache: &Cache,
    jobs: Option<usize>,
) -> CliResult<Planned> {
    let previous = read_lockfile(lock_path)?;
    let no_network = flags.frozen || flags.offline;
    if no_network {
        let Some(previous) = previous else {
            return Err(CliError::usage(
                "pack_lockfile_incomplete",
                format!("{} does not exist and the network is off", lock_path.display()),
                "run `pack lock` (online) first",
            ));
        };
        lockfile_covers(&previous, roots).map_err(|why| {
            CliError::usage("pack_lockfile_incomplete", why, "run `pack lock` (online) to update the lockfile")
                .at(lock_path)
        })?;
        return Ok(Planned { lockfile: previous, changed: false, manifests: HashMap::new() });
    }
    let options = LockOptions {
        roots: roots.clone(),
        overrides: overrides(flags)?,
        allow_advisories: flags.allow_advisories.iter().cloned().collect(),
        jobs,
    };
    shell.status("Resolving", &format!("{} requirement(s)", roots.len()));
    let Locked { lockfile, warnings, manifests } = lock(registries, previous.as_ref(), &options, Some(cache))?;
    for w in &warnings {
        shell.warn_coded(w.code(), &w.to_string());
    }
    let changed = previous.as_ref().is_none_or(|p| p.to_bytes() != lockfile.to_bytes());
    if flags.locked && changed {
        return Err(CliError::usage(
            "pack_lockfile_outdated",
            format!("{} would change, and --locked forbids that", lock_path.display()),
            "run `pack lock` and commit the new lockfile, or drop --locked",
        )
        .at(lock_path));
    }
    Ok(Planned { lockfile, changed, manifests })
}

fn summary(lockfile: &Lockfile) -> Value {
    Value::Array(
        lockfile
            .packs
            .iter()
            .map(|p| json!({"name": p.name, "version": p.version.to_string(), "integrity": p.integrity}))
            .collect(),
    )
}

/// `pack lock`.
pub fn exec_lock(args: &LockArgs, shell: &Shell) -> CliResult<Outcome> {
    let config = Config::load()?;
    let manifest = read_json(&args.manifest)?.ok_or_else(|| {
        CliError::usage(
            "invalid_manifest",
            format!("{} does not exist", args.manifest.display()),
            "create it with a `dependencies` map, e.g. {\"dependencies\": {\"core.openwop.http\": \"^1\"}}",
        )
    })?;
    let roots = roots_of(Some(&manifest));
    let lock_path = args
        .lockfile
        .clone()
        .unwrap_or_else(|| args.manifest.parent().map_or_else(|| PathBuf::from(LOCKFILE), |d| d.join(LOCKFILE)));
    let registries =
        registries(&config, args.registry.registry.as_deref(), args.resolve.frozen || args.resolve.offline)?;
    let cache = Cache::new(default_cache_dir());
    let planned = plan(shell, &registries, &roots, &lock_path, &args.resolve, &cache, args.jobs)?;
    if planned.changed {
        write_atomic(&lock_path, &planned.lockfile.to_bytes())?;
    }
    let n = planned.lockfile.packs.len();
    Ok(Outcome::new(
        "lock",
        json!({"lockfile": lock_path.display().to_string(), "changed": planned.changed, "packs": summary(&planned.lockfile)}),
        vec![format!(
            "{} {} ({n} pack{})",
            if planned.changed { "wrote" } else { "up to date:" },
            lock_path.display(),
            if n == 1 { "" } else { "s" }
        )],
    ))
}

/// `pack install`.
pub fn exec_install(args: &InstallArgs, shell: &Shell) -> CliResult<Outcome> {
    let config = Config::load()?;
    let manifest_path = args.manifest.clone().unwrap_or_else(|| args.host_dir.join(HOST_MANIFEST));
    let lock_path = args.lockfile.clone().unwrap_or_else(|| args.host_dir.join(LOCKFILE));
    let mut manifest = read_json(&manifest_path)?.unwrap_or_else(|| json!({"dependencies": {}}));
    let mut roots = roots_of(Some(&manifest));
    for spec in &args.packs {
        let (name, range) = parse_spec(spec)?;
        roots.insert(name, range);
    }
    let no_network = args.resolve.frozen || args.resolve.offline;
    let registries = registries(&config, args.registry.registry.as_deref(), no_network)?;
    let cache = Cache::new(args.cache_dir.clone().unwrap_or_else(default_cache_dir));
    let planned = plan(shell, &registries, &roots, &lock_path, &args.resolve, &cache, args.jobs)?;
    let lockfile = &planned.lockfile;

    // Fetch everything (cache first), then verify everything, before touching the host dir.
    if let Some(max) = &args.max_staleness {
        let max = crate::install::pipeline::parse_duration(max)?;
        for registry in &registries {
            crate::install::pipeline::check_staleness(registry, &cache, max)?;
        }
    }
    let bar = (!args.registry.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(lockfile.packs.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} downloading [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    // Trust roots before the download: they say which registries' statements are needed.
    let verifiers = verifiers(&registries, lockfile, &cache)?;
    let known = Known { manifests: planned.manifests, statements: Known::statements_of(&verifiers) };
    let fetched = fetch_all(&registries, lockfile, &cache, &known, no_network, args.jobs, &|p| {
        if let Some(bar) = &bar {
            bar.set_message(format!("{}@{}", p.name, p.version));
            bar.inc(1);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let fetched = fetched?;
    shell.status("Verifying", &format!("{} pack(s)", fetched.len()));
    let items = verify_all(&registries, lockfile, &fetched, &verifiers)?;
    cache.put_all(&fetched)?;

    // Host capabilities, when given.
    let host_caps = match (&args.host_capabilities, &args.host_url) {
        (Some(path), _) => Some(HostCapabilities::from_document(read_json(path)?.ok_or_else(|| {
            CliError::usage("io_error", format!("{} does not exist", path.display()), "pass an existing file")
        })?)),
        (None, Some(url)) => {
            let client = RegistryClient::new(url, ClientOptions::default()).map_err(|e| CliError::from_registry(&e))?;
            let doc = client
                .fetch_raw("/.well-known/openwop")
                .map_err(|e| CliError::from_registry(&e))?
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .ok_or_else(|| {
                    CliError::usage(
                        "host_discovery_missing",
                        format!("{url}/.well-known/openwop is missing or not JSON"),
                        "check --host-url, or pass --host-capabilities FILE",
                    )
                })?;
            Some(HostCapabilities::from_document(doc))
        }
        (None, None) => None,
    };
    let mut degraded = Vec::new();
    if let Some(caps) = &host_caps {
        let (missing, soft) = check_peers(&items, caps);
        if !missing.is_empty() {
            return Err(CliError::verification(
                "pack_peer_dependency_missing",
                format!("the host lacks required capabilities: {}", missing.join(", ")),
                "install on a host that provides them, or pick packs that do not need them",
            ));
        }
        for d in &soft {
            shell.warn(&format!("installed degraded (optional capability missing): {d}"));
        }
        degraded = soft;
    }

    shell.status("Installing", &format!("{} pack(s) into {}", items.len(), args.host_dir.display()));
    let generation = host::install(&args.host_dir, &items)?;
    if planned.changed && !no_network {
        write_atomic(&lock_path, &lockfile.to_bytes())?;
    }
    if !args.packs.is_empty() {
        if let Some(deps) = manifest.as_object_mut().map(|m| m.entry("dependencies").or_insert_with(|| json!({})))
            && let Some(deps) = deps.as_object_mut()
        {
            for spec in &args.packs {
                let (name, range) = parse_spec(spec)?;
                deps.insert(name, Value::from(range));
            }
        }
        write_atomic(&manifest_path, (pack_verify::canonical::to_canonical_pretty(&manifest) + "\n").as_bytes())?;
    }
    let n = items.len();
    Ok(Outcome::new(
        "install",
        json!({
            "hostDir": args.host_dir.display().to_string(),
            "generation": generation.display().to_string(),
            "lockfile": lock_path.display().to_string(),
            "packs": summary(lockfile),
            "degraded": degraded,
        }),
        vec![format!("installed {n} pack{} into {}", if n == 1 { "" } else { "s" }, args.host_dir.display())],
    ))
}

//! `pack bundle`: an air-gap bundle of exactly what a lockfile needs.
//!
//! The bundle is a tar (gzip when the output name ends in `.gz` or `.tgz`) written
//! deterministically: entries sorted by path, regular files only, mode 0644, uid/gid 0, mtime 0.
//! It holds `bundle.json` and one static registry tree per source registry, kept apart so trust
//! never passes between registries (decisions §13):
//!
//! ```text
//! bundle.json                                   format, createdAt, the lockfile, per registry: url, path, trust bundle, packs
//! registries/<i>/.well-known/openwop-registry.json   the registry's discovery, keys narrowed to what is bundled
//! registries/<i>/v1/index.json                  the bundled packs
//! registries/<i>/v1/packs/<name>/index.json     the bundled versions
//! registries/<i>/v1/packs/<name>/-/<v>.{json,tgz,sig}  exact bytes as served (+ .statement.json)
//! registries/<i>/keys/<id>.pub, keys/keychain.json   keys of the trust root, the root-signed keychain
//! registries/<i>/security/advisories.json       advisories naming a bundled pack
//! ```
//!
//! Every version is verified with the install pipeline's own functions ([`fetch_all`],
//! [`verify_all`], [`verifiers`]) against its registry's configured trust bundle before anything
//! is written. Each `registries/<i>` directory is a static mirror of its registry; the registry
//! server's `import-bundle` re-verifies it against the pinned trust bundle before it ingests it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pack_verify::canonical::to_canonical_pretty;
use pack_verify::integrity::Integrity;
use pack_verify::manifest::Lifecycle;
use pack_verify::trust::KeyRole;
use pack_verify::trust::namespace::any_admits;
use serde_json::{Map, Value, json};

use crate::config::{Config, normalize_url};
use crate::error::{CliError, CliResult};
use crate::install::cache::{Cache, CachedVersion};
use crate::install::pipeline::{Known, fetch_all, verifier_for, verifiers, verify_all};
use crate::install::source::Registry;
use crate::lockfile::{Lockfile, timestamp};

/// The `bundle.json` format this module writes.
pub const BUNDLE_FORMAT: u64 = 1;
/// Name of the bundle's own manifest at the archive root.
pub const BUNDLE_MANIFEST: &str = "bundle.json";

/// What to bundle.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    /// The lockfile whose packs to bundle.
    pub lockfile: PathBuf,
    /// Where to write the bundle (`.tar`, or `.tar.gz`/`.tgz` for gzip).
    pub output: PathBuf,
    /// Take every version from the download cache and never touch the network.
    pub offline: bool,
    /// The download cache.
    pub cache_dir: PathBuf,
    /// Parallel downloads (`None`: as many as the registries allow).
    pub jobs: Option<usize>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSummary {
    /// The bundle file.
    pub output: PathBuf,
    /// Versions bundled.
    pub packs: usize,
    /// Source registries, in bundle order.
    pub registries: Vec<String>,
    /// Size of the bundle file.
    pub bytes: u64,
    /// Hex SHA-256 of the bundle file.
    pub sha256: String,
}

/// One file of the bundle.
type Files = BTreeMap<String, Vec<u8>>;

fn bundle_error(message: impl Into<String>, hint: impl Into<String>) -> CliError {
    CliError::usage("bundle_invalid", message, hint)
}

/// The registries a lockfile names (default first, then fallbacks), each with the trust bundle
/// the configuration pins for it; clients only when online.
fn lockfile_registries(config: &Config, lockfile: &Lockfile, offline: bool) -> CliResult<Vec<Registry>> {
    let mut urls: Vec<String> = Vec::new();
    for url in lockfile.registry.iter().chain(&lockfile.fallback_registries) {
        let url = normalize_url(url);
        if !urls.contains(&url) {
            urls.push(url);
        }
    }
    if urls.is_empty() {
        return Err(bundle_error(
            "the lockfile names no registry",
            "re-create it with `pack lock` so it records `registry`",
        ));
    }
    urls.into_iter().map(|url| Registry::open(config, url, offline)).collect()
}

/// The keychain last seen for `url`, as the install pipeline stores it (offline bundles).
fn cached_keychain(cache: &Cache, url: &str) -> Option<Vec<u8>> {
    let key = &Integrity::of(url.as_bytes()).hex()[..16];
    std::fs::read(cache.root().join("trust").join(format!("keychain-{key}.json"))).ok()
}

fn json_bytes(value: &Value) -> Vec<u8> {
    (to_canonical_pretty(value) + "\n").into_bytes()
}

fn version_field<'a>(manifest: &'a Value, key: &str) -> Option<&'a Value> {
    manifest.get(key).filter(|v| !v.is_null())
}

/// Builds the bundle in memory and returns its files (path → bytes), after verifying every pack.
pub fn collect(config: &Config, options: &BundleOptions, created_at: &str) -> CliResult<(Files, Vec<String>, usize)> {
    let lock_bytes = std::fs::read(&options.lockfile).map_err(|e| CliError::io(&options.lockfile, "read", &e))?;
    let lockfile = Lockfile::parse(&lock_bytes).map_err(|e| {
        CliError::usage(e.code(), e.to_string(), "fix the lockfile or re-create it with `pack lock`")
            .at(&options.lockfile)
    })?;
    let registries = lockfile_registries(config, &lockfile, options.offline)?;
    let cache = Cache::new(&options.cache_dir);
    // Every statement a registry serves is fetched: the bundle keeps them all.
    let fetched = fetch_all(&registries, &lockfile, &cache, &Known::default(), options.offline, options.jobs, &|_| {})?;
    // The same verification install does, before a single byte goes into the bundle.
    let verifiers = verifiers(&registries, &lockfile, &cache)?;
    let items = verify_all(&registries, &lockfile, &fetched, &verifiers)?;

    let mut files = Files::new();
    let mut entries = Vec::new();
    let mut used = Vec::new();
    for registry in &registries {
        let chosen: Vec<(&crate::lockfile::LockedPack, &CachedVersion)> = lockfile
            .packs
            .iter()
            .zip(&fetched)
            .zip(&items)
            .filter(|(_, item)| item.source == registry.url)
            .map(|(pair, _)| pair)
            .collect();
        if chosen.is_empty() {
            continue;
        }
        let dir = format!("registries/{}", used.len());
        used.push(registry.url.clone());
        // The root the packs were just verified with (resolving it again would fetch the
        // keychain a second time).
        let root = verifier_for(&verifiers, registry)?.root();
        let put = |files: &mut Files, rel: &str, bytes: Vec<u8>| {
            files.insert(format!("{dir}/{rel}"), bytes);
        };

        // Versions, exact bytes; per-pack indexes built from the verified manifests.
        let mut packs: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut listed = Vec::new();
        for (pack, version) in &chosen {
            let v = pack.version.to_string();
            let base = format!("v1/packs/{}/-/{v}", pack.name);
            put(&mut files, &format!("{base}.json"), version.manifest.clone());
            put(&mut files, &format!("{base}.tgz"), version.tarball.clone());
            put(&mut files, &format!("{base}.sig"), version.signature.clone());
            if let Some(statement) = &version.statement {
                put(&mut files, &format!("{base}.statement.json"), statement.clone());
            }
            let manifest: Value = serde_json::from_slice(&version.manifest).unwrap_or(Value::Null);
            let mut row = Map::new();
            row.insert("version".into(), json!(v));
            row.insert("integrity".into(), json!(pack.integrity));
            if let Some(value) = version_field(&manifest, "publishedAt") {
                row.insert("publishedAt".into(), value.clone());
            }
            // The reference registry's booleans, whichever spelling the manifest used.
            let lifecycle = Lifecycle::from_value(&manifest);
            row.insert("yanked".into(), json!(lifecycle.yanked));
            row.insert("deprecated".into(), json!(lifecycle.deprecated()));
            packs.entry(pack.name.clone()).or_default().push(Value::Object(row));
            listed.push(json!({"name": pack.name, "version": v, "integrity": pack.integrity}));
        }
        let mut index_rows = Vec::new();
        for (name, versions) in &packs {
            let latest = versions.iter().filter_map(|r| r["version"].as_str()).next_back().unwrap_or_default();
            put(
                &mut files,
                &format!("v1/packs/{name}/index.json"),
                json_bytes(&json!({"name": name, "latest": latest, "versions": versions})),
            );
            index_rows.push(json!({"name": name, "latestVersion": latest}));
        }
        put(
            &mut files,
            "v1/index.json",
            json_bytes(&json!({"registryVersion": "1.0.0", "generatedAt": created_at,
                               "packCount": index_rows.len(), "packs": index_rows})),
        );

        // Keys of the trust root, narrowed to those that may sign a bundled pack, plus registry keys.
        let names: BTreeSet<&str> = packs.keys().map(String::as_str).collect();
        let mut keys = Vec::new();
        for key in root.keys() {
            let signs_bundled = names.iter().any(|n| any_admits(&key.permitted_namespaces, n));
            if signs_bundled || key.roles.contains(&KeyRole::Registry) {
                put(&mut files, &format!("keys/{}.pub", key.key_id), key.key.to_pem().into_bytes());
                keys.push(json!({"keyId": key.key_id, "algorithm": "ed25519",
                                 "publicKeyUrl": format!("/keys/{}.pub", key.key_id),
                                 "permittedNamespaces": key.permitted_namespaces,
                                 "status": key.status.as_str()}));
            }
        }
        let keychain = if registry.bundle.has_root() {
            match &registry.client {
                Some(client) => client.keychain().map_err(|e| CliError::from_registry(&e))?,
                None => cached_keychain(&cache, &registry.url),
            }
            .or_else(|| registry.bundle.keychain.as_ref().and_then(|k| serde_json::to_vec(k).ok()))
        } else {
            None
        };
        if let Some(bytes) = keychain {
            put(&mut files, "keys/keychain.json", bytes);
        }

        // Discovery: the registry's own, keys narrowed and writes off (a mirror is read-only).
        let discovery = registry.client.as_ref().and_then(|c| c.discovery().ok());
        let mut discovery = match discovery {
            Some(Value::Object(doc)) => doc,
            _ => Map::from_iter([("registryUrl".to_string(), json!(registry.url))]),
        };
        discovery.insert("signingKeys".into(), Value::Array(keys));
        if let Some(write) = discovery.get_mut("writeApi").and_then(Value::as_object_mut) {
            write.insert("supported".into(), json!(false));
        }
        put(&mut files, ".well-known/openwop-registry.json", json_bytes(&Value::Object(discovery)));

        // Advisories that name a bundled pack.
        let feed = match &registry.client {
            Some(client) => client.advisories().map_err(|e| CliError::from_registry(&e))?,
            None => json!({"advisories": []}),
        };
        let relevant: Vec<Value> = feed
            .get("advisories")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|a| {
                a.get("affected")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(|x| x.get("packName").and_then(Value::as_str).is_some_and(|n| names.contains(n)))
            })
            .cloned()
            .collect();
        let mut feed = feed.as_object().cloned().unwrap_or_default();
        feed.insert("advisories".into(), Value::Array(relevant));
        put(&mut files, "security/advisories.json", json_bytes(&Value::Object(feed)));

        let trust = serde_json::to_value(&registry.bundle).map_err(|e| {
            bundle_error(format!("cannot encode the trust bundle of {}: {e}", registry.url), "report it")
        })?;
        entries.push(json!({"url": registry.url, "path": dir, "trust": trust, "packs": listed}));
    }
    let lock_value: Value = serde_json::from_slice(&lockfile.to_bytes()).unwrap_or(Value::Null);
    let manifest = json!({
        "openwopBundle": BUNDLE_FORMAT,
        "createdAt": created_at,
        "createdBy": concat!("pack/", env!("CARGO_PKG_VERSION")),
        "lockfile": lock_value,
        "registries": entries,
    });
    files.insert(BUNDLE_MANIFEST.to_string(), json_bytes(&manifest));
    Ok((files, used, items.len()))
}

/// Writes `files` as a deterministic tar: sorted, regular files, mode 0644, uid/gid 0, mtime 0,
/// ustar names (long paths use the ustar prefix field, never PAX or GNU headers).
pub fn write_tar(files: &Files, gzip: bool) -> CliResult<Vec<u8>> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        bundle_error(format!("cannot write {what} into the bundle: {e}"), "shorten the path or report it")
    };
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_ustar();
        header.set_path(path).map_err(|e| fail(path, &e))?;
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(data.len() as u64);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, data.as_slice()).map_err(|e| fail(path, &e))?;
    }
    let tar = builder.into_inner().map_err(|e| fail("the end of archive", &e))?;
    if !gzip {
        return Ok(tar);
    }
    Ok(pack_verify::tarball::gzip(&tar))
}

/// `createdAt`: `SOURCE_DATE_EPOCH` when set (reproducible bundles), else now.
pub fn created_at() -> String {
    let now = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    timestamp(now)
}

/// Verifies and bundles everything `options.lockfile` locks, writing `options.output` atomically.
pub fn create(config: &Config, options: &BundleOptions) -> CliResult<BundleSummary> {
    let (files, registries, packs) = collect(config, options, &created_at())?;
    let name = options.output.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let gzip = name.ends_with(".gz") || name.ends_with(".tgz");
    let bytes = write_tar(&files, gzip)?;
    write_atomic(&options.output, &bytes)?;
    Ok(BundleSummary {
        output: options.output.clone(),
        packs,
        registries,
        bytes: bytes.len() as u64,
        sha256: Integrity::of(&bytes).hex(),
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> CliResult<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| CliError::io(&tmp, "write", &e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::io(path, "replace", &e)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tar_is_deterministic_and_reads_back_with_the_safe_reader() {
        let mut files = Files::new();
        files.insert("b/x.json".into(), b"{}".to_vec());
        files.insert("a".into(), b"1".to_vec());
        let long = format!("registries/0/v1/packs/{}/-/1.0.0.statement.json", "vendor.acme.".repeat(10));
        files.insert(long.clone(), b"s".to_vec());
        for gzip in [false, true] {
            let one = write_tar(&files, gzip).unwrap();
            assert_eq!(write_tar(&files, gzip).unwrap(), one);
            let read = pack_verify::tarball::read_archive(&one, &pack_verify::TarLimits::default()).unwrap();
            let names: Vec<&str> = read.iter().map(|f| f.path.as_str()).collect();
            assert_eq!(names, ["a", "b/x.json", long.as_str()]);
        }
    }
}

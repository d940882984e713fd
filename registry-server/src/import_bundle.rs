//! `registry-server import-bundle <bundle.tar>`: ingest an air-gap bundle written by `pack bundle`.
//!
//! Order, and nothing is written before the last step:
//! 1. read the bundle with `pack_verify::tarball::read_archive` (the project's one tar reader:
//!    bounded entry count and sizes; no links, devices, absolute or `..` paths, duplicates,
//!    PAX/GNU headers or trailing data), refusing any path outside `bundle.json` and
//!    `registries/<i>/`;
//! 2. parse `bundle.json` and pick the source registry to mirror (a registry server mirrors
//!    one registry's trust: decisions §13);
//! 3. require the trust bundle shipped for it to equal the one the operator pinned (`--trust`),
//!    unless the operator explicitly accepted the bundled one;
//! 4. check every version the bundle lists is in its tree with the listed integrity, extract the
//!    tree to a private temporary directory, and hand it to [`import_tree`], which verifies every
//!    version with `pack-verify` before it stores anything.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pack_verify::TarLimits;
use pack_verify::trust::bundle::TrustBundle;
use serde_json::Value;

use crate::RegistryError;
use crate::import::{ImportOptions, ImportSummary, import_tree};
use crate::storage::Storage;

/// The `bundle.json` format this reader understands.
pub const BUNDLE_FORMAT: u64 = 1;

/// Bounds on a bundle. The defaults admit a few hundred full-size packs.
#[derive(Debug, Clone)]
pub struct BundleLimits {
    /// Limits for the bundle archive itself (`max_compressed` is the largest bundle file).
    pub archive: TarLimits,
}

impl Default for BundleLimits {
    fn default() -> Self {
        BundleLimits {
            archive: TarLimits {
                max_compressed: 2 * 1024 * 1024 * 1024,
                max_uncompressed: 4 * 1024 * 1024 * 1024,
                // A pack tarball is at most 10 MB (contract); leave room for its manifest files.
                max_file: 12 * 1024 * 1024,
                max_entries: 100_000,
                max_manifest: 256 * 1024,
            },
        }
    }
}

/// Which trust bundle the bundle's registry must verify against.
#[derive(Debug, Clone)]
pub enum TrustPin {
    /// The operator's pinned bundle (`--trust FILE`): the bundled one must match it.
    Pinned(TrustBundle),
    /// The operator accepted whatever trust bundle the bundle ships (`--accept-bundled-trust`).
    AcceptBundled,
}

/// How to import a bundle.
#[derive(Debug, Clone)]
pub struct BundleImportOptions {
    /// The trust pin.
    pub pin: TrustPin,
    /// The source registry to ingest (its URL as `bundle.json` names it); required when the bundle
    /// holds more than one.
    pub registry: Option<String>,
    /// Bounds on the bundle.
    pub limits: BundleLimits,
}

/// What an import did.
#[derive(Debug)]
pub struct BundleImportSummary {
    /// The source registry mirrored.
    pub registry: String,
    /// What the tree import did.
    pub import: ImportSummary,
}

fn invalid(path: &Path, reason: impl Into<String>) -> RegistryError {
    RegistryError::InvalidDocument { path: path.display().to_string(), reason: reason.into() }
}

/// The trust-relevant fields of a bundle: registry id, pinned root, pinned keys (not the
/// description, and not a shipped keychain, which is itself verified against the root).
fn same_trust(a: &TrustBundle, b: &TrustBundle) -> bool {
    a.registry.trim_end_matches('/') == b.registry.trim_end_matches('/') && a.root == b.root && a.keys == b.keys
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self, RegistryError> {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random)
            .map_err(|e| RegistryError::Config { what: format!("no randomness for a temporary directory: {e}") })?;
        let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let path = std::env::temp_dir().join(format!("openwop-bundle-{name}"));
        std::fs::create_dir(&path).map_err(|source| RegistryError::Io { path: path.display().to_string(), source })?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One registry of `bundle.json`.
struct Entry {
    url: String,
    path: String,
    trust: TrustBundle,
    packs: Vec<(String, String, String)>,
}

fn parse_manifest(bundle: &Path, bytes: &[u8]) -> Result<Vec<Entry>, RegistryError> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| invalid(bundle, format!("bundle.json: {e}")))?;
    match doc.get("openwopBundle").and_then(Value::as_u64) {
        Some(BUNDLE_FORMAT) => {}
        other => {
            return Err(invalid(
                bundle,
                format!("bundle.json: format {other:?} is not supported (this server reads {BUNDLE_FORMAT})"),
            ));
        }
    }
    let list = doc
        .get("registries")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(bundle, "bundle.json: `registries` is missing"))?;
    let mut entries = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let field = |key: &str| {
            r.get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| invalid(bundle, format!("bundle.json: registries[{i}].{key} is missing")))
        };
        let url = field("url")?;
        let path = field("path")?;
        let digits = path.strip_prefix("registries/").unwrap_or_default();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(bundle, format!("bundle.json: registries[{i}].path `{path}` is not registries/<n>")));
        }
        let trust_doc =
            r.get("trust").ok_or_else(|| invalid(bundle, format!("bundle.json: registries[{i}].trust is missing")))?;
        let trust = serde_json::to_vec(trust_doc).map_err(|e| invalid(bundle, e.to_string())).and_then(|b| {
            TrustBundle::parse(&b).map_err(|source| RegistryError::Verify {
                context: format!("{}: bundle.json registries[{i}].trust", bundle.display()),
                source,
            })
        })?;
        let mut packs = Vec::new();
        for p in r.get("packs").and_then(Value::as_array).into_iter().flatten() {
            let get = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            packs.push((get("name"), get("version"), get("integrity")));
        }
        entries.push(Entry { url, path, trust, packs });
    }
    Ok(entries)
}

/// Reads, checks and extracts the bundle; returns the extracted tree of the chosen registry.
/// Blocking; nothing is written to storage.
fn prepare(bundle: &Path, options: &BundleImportOptions) -> Result<(TempDir, Entry), RegistryError> {
    let io = |source| RegistryError::Io { path: bundle.display().to_string(), source };
    let size = std::fs::metadata(bundle).map_err(io)?.len();
    let limit = options.limits.archive.max_compressed;
    if size > limit {
        return Err(invalid(bundle, format!("the bundle is {size} bytes, more than the {limit} accepted")));
    }
    let bytes = std::fs::read(bundle).map_err(io)?;
    let files = pack_verify::tarball::read_archive(&bytes, &options.limits.archive)
        .map_err(|source| RegistryError::Verify { context: format!("bundle {}", bundle.display()), source })?;
    let mut manifest = None;
    for file in &files {
        if file.path == "bundle.json" {
            manifest = Some(file.data.as_slice());
        } else if !file.path.starts_with("registries/") {
            return Err(invalid(
                bundle,
                format!("unexpected entry `{}` (only bundle.json and registries/)", file.path),
            ));
        }
    }
    let manifest = manifest.ok_or_else(|| invalid(bundle, "bundle.json is missing: not a `pack bundle` bundle"))?;
    let entries = parse_manifest(bundle, manifest)?;
    let urls: Vec<String> = entries.iter().map(|e| e.url.clone()).collect();
    let wanted = match (&options.registry, entries.len()) {
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, 1) => urls.join(""),
        (None, _) => {
            return Err(RegistryError::Config {
                what: format!(
                    "the bundle holds {} registries ({}); pick the one this server mirrors with --registry URL",
                    entries.len(),
                    urls.join(", ")
                ),
            });
        }
    };
    let entry = entries.into_iter().find(|e| e.url.trim_end_matches('/') == wanted).ok_or_else(|| {
        RegistryError::Config { what: format!("the bundle has no registry {wanted} (it has {})", urls.join(", ")) }
    })?;

    if let TrustPin::Pinned(pinned) = &options.pin
        && !same_trust(pinned, &entry.trust)
    {
        return Err(RegistryError::Refused {
            status: 400,
            code: "bundle_trust_mismatch",
            message: format!(
                "the trust bundle shipped for {} (registry id {}) differs from the one pinned with --trust \
                     (registry id {}); nothing was imported. Get the registry's bundle from its operator and pass it \
                     with --trust",
                entry.url, entry.trust.registry, pinned.registry
            ),
        });
    }

    // Extract this registry's tree; every other path is ignored.
    let tmp = TempDir::new()?;
    let prefix = format!("{}/", entry.path);
    let mut present = BTreeSet::new();
    for file in files.iter().filter(|f| f.path.starts_with(&prefix)) {
        let rel = &file.path[prefix.len()..];
        present.insert(rel.to_string());
        let target = tmp.0.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| RegistryError::Io { path: parent.display().to_string(), source })?;
        }
        std::fs::write(&target, &file.data)
            .map_err(|source| RegistryError::Io { path: target.display().to_string(), source })?;
    }
    if !present.contains("v1/index.json") {
        return Err(invalid(bundle, format!("{prefix}v1/index.json is missing")));
    }
    // Every listed version must be there, with the integrity the bundle (and its lockfile) lists.
    for (name, version, integrity) in &entry.packs {
        let rel = format!("v1/packs/{name}/-/{version}.json");
        let manifest: Value = present
            .contains(&rel)
            .then(|| std::fs::read(tmp.0.join(&rel)).ok())
            .flatten()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| invalid(bundle, format!("{name}@{version} is listed but {prefix}{rel} is missing")))?;
        if manifest.get("integrity").and_then(Value::as_str) != Some(integrity.as_str()) {
            return Err(invalid(
                bundle,
                format!("{name}@{version}: the manifest's integrity differs from bundle.json"),
            ));
        }
    }
    Ok((tmp, entry))
}

/// Imports the registry tree of `bundle` into `storage` after every check passed.
pub async fn import_bundle(
    storage: &Storage,
    bundle: &Path,
    options: BundleImportOptions,
) -> Result<BundleImportSummary, RegistryError> {
    let path = bundle.to_path_buf();
    let (tmp, entry) = tokio::task::spawn_blocking(move || prepare(&path, &options))
        .await
        .map_err(|e| invalid(bundle, format!("reading the bundle aborted: {e}")))??;
    // import_tree verifies every version against the trust bundle before it writes anything.
    let import = import_tree(storage, &tmp.0, ImportOptions { bundle: entry.trust, skip_verification: false }).await?;
    drop(tmp);
    Ok(BundleImportSummary { registry: entry.url, import })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut header = tar::Header::new_ustar();
            header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            header.set_mode(0o644);
            header.set_size(data.len() as u64);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn prepare_bytes(bytes: &[u8]) -> Result<(TempDir, Entry), RegistryError> {
        let dir = TempDir::new().unwrap();
        let path = dir.0.join("b.tar");
        std::fs::write(&path, bytes).unwrap();
        let options =
            BundleImportOptions { pin: TrustPin::AcceptBundled, registry: None, limits: BundleLimits::default() };
        prepare(&path, &options)
    }

    #[test]
    fn hostile_and_foreign_entries_are_refused() {
        let code = |b: &[u8]| prepare_bytes(b).err().map(|e| e.code());
        assert_eq!(code(&tar(&[("../escape", b"x")])), Some("tarball_path_traversal"));
        assert_eq!(code(&tar(&[("/etc/passwd", b"x")])), Some("tarball_absolute_path"));
        assert_eq!(code(&tar(&[("bundle.json", b"{}"), ("bundle.json", b"{}")])), Some("tarball_duplicate_entry"));
        assert_eq!(code(&tar(&[("bundle.json", b"{}"), ("other", b"x")])), Some("invalid_document"));
        assert_eq!(code(&tar(&[("registries/0/x", b"x")])), Some("invalid_document"));
        assert_eq!(code(&tar(&[("bundle.json", b"{\"openwopBundle\": 9}")])), Some("invalid_document"));
    }
}

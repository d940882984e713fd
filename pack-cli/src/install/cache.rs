//! The content-addressed download cache: every fetched artifact of a version (tarball, detached
//! signature, version manifest, registry statement) stored under the SHA-256 of the tarball, so a
//! second install of the same lockfile needs no network. Bytes from the cache are verified exactly
//! like fresh downloads; the cache is a convenience, never a trust anchor.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use pack_verify::integrity::Integrity;

use crate::error::{CliError, CliResult};

/// The files kept for one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedVersion {
    /// The `.tgz`.
    pub tarball: Vec<u8>,
    /// The detached signature.
    pub signature: Vec<u8>,
    /// The served version manifest, exact bytes.
    pub manifest: Vec<u8>,
    /// The registry statement, when the registry signs them.
    pub statement: Option<Vec<u8>>,
}

/// A cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

/// `$PACK_CACHE_DIR`, else `$XDG_CACHE_HOME/openwop/packs`, else `~/.cache/openwop/packs`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PACK_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HOME").map_or_else(|| PathBuf::from(".cache"), |h| PathBuf::from(h).join(".cache"))
    });
    base.join("openwop").join("packs")
}

/// Numbers temporary names, unique per process and per call: `put_all` runs several puts at once.
static PUTS: AtomicUsize = AtomicUsize::new(0);

fn io_err(path: &Path, e: &std::io::Error) -> CliError {
    CliError::io(path, "write", e)
}

impl Cache {
    /// A cache rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Where the cache lives.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir_for(&self, integrity: &Integrity) -> PathBuf {
        let hex = integrity.hex();
        self.root.join("sha256").join(&hex[..2]).join(hex)
    }

    /// The cached files of the version whose tarball has `integrity`, if complete and intact.
    pub fn get(&self, integrity: &str) -> Option<CachedVersion> {
        let integrity = Integrity::parse(integrity).ok()?;
        let dir = self.dir_for(&integrity);
        let tarball = std::fs::read(dir.join("pack.tgz")).ok()?;
        // A damaged cache entry is a miss, never an error: the network copy is re-verified.
        integrity.check(&tarball).ok()?;
        Some(CachedVersion {
            tarball,
            signature: std::fs::read(dir.join("pack.sig")).ok()?,
            manifest: std::fs::read(dir.join("manifest.json")).ok()?,
            statement: std::fs::read(dir.join("statement.json")).ok(),
        })
    }

    /// Only the cached version manifest of the tarball with `integrity`, raw and parsed, for
    /// resolution: the entry must be complete and the manifest must name that integrity.
    /// Install still reads and verifies the whole entry ([`Cache::get`]).
    pub fn manifest(&self, integrity: &str) -> Option<(Vec<u8>, serde_json::Value)> {
        let parsed = Integrity::parse(integrity).ok()?;
        let dir = self.dir_for(&parsed);
        if !dir.join("pack.tgz").is_file() {
            return None;
        }
        let bytes = std::fs::read(dir.join("manifest.json")).ok()?;
        let manifest = serde_json::from_slice::<serde_json::Value>(&bytes).ok()?;
        (manifest.get("integrity").and_then(serde_json::Value::as_str) == Some(integrity)).then_some((bytes, manifest))
    }

    /// Stores verified versions, several at once (each entry is its own directory); the first
    /// failure in input order is the one reported.
    pub fn put_all(&self, versions: &[CachedVersion]) -> CliResult<()> {
        super::on_workers(0, "cache-writing", versions, |v| self.put(v)).map(|_| ())
    }

    /// Stores a verified version. Files are written to a temporary directory and renamed into
    /// place, so a reader never sees a half-written entry.
    pub fn put(&self, version: &CachedVersion) -> CliResult<()> {
        let integrity = Integrity::of(&version.tarball);
        let dir = self.dir_for(&integrity);
        if dir.join("pack.tgz").is_file() {
            // An entry cached without a statement gains the one fetched now (written aside and
            // renamed in, so a reader sees the whole file or none).
            let path = dir.join("statement.json");
            if let Some(statement) = &version.statement
                && !path.is_file()
            {
                let n = PUTS.fetch_add(1, Ordering::Relaxed);
                let tmp = dir.join(format!(".tmp-statement-{}-{n}", std::process::id()));
                std::fs::write(&tmp, statement).map_err(|e| io_err(&tmp, &e))?;
                std::fs::rename(&tmp, &path).map_err(|e| io_err(&path, &e))?;
            }
            return Ok(());
        }
        let parent = dir.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(|e| io_err(&parent, &e))?;
        let n = PUTS.fetch_add(1, Ordering::Relaxed);
        let tmp = parent.join(format!(".tmp-{}-{n}-{}", std::process::id(), integrity.hex()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| io_err(&tmp, &e))?;
        let write = |name: &str, bytes: &[u8]| {
            let p = tmp.join(name);
            std::fs::write(&p, bytes).map_err(|e| io_err(&p, &e))
        };
        write("pack.tgz", &version.tarball)?;
        write("pack.sig", &version.signature)?;
        write("manifest.json", &version.manifest)?;
        if let Some(statement) = &version.statement {
            write("statement.json", statement)?;
        }
        match std::fs::rename(&tmp, &dir) {
            Ok(()) => Ok(()),
            // Another process cached the same bytes first: identical content, keep theirs.
            Err(_) if dir.join("pack.tgz").is_file() => {
                let _ = std::fs::remove_dir_all(&tmp);
                Ok(())
            }
            Err(e) => Err(io_err(&dir, &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_damage_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let v = CachedVersion {
            tarball: b"tgz bytes".to_vec(),
            signature: vec![1; 64],
            manifest: b"{}".to_vec(),
            statement: None,
        };
        let integrity = Integrity::of(&v.tarball).to_string();
        assert_eq!(cache.get(&integrity), None);
        cache.put(&v).unwrap();
        cache.put(&v).unwrap();
        assert_eq!(cache.get(&integrity), Some(v.clone()));
        let hex = Integrity::of(&v.tarball).hex();
        std::fs::write(dir.path().join("sha256").join(&hex[..2]).join(&hex).join("pack.tgz"), b"evil").unwrap();
        assert_eq!(cache.get(&integrity), None, "a tampered cache entry is not used");
    }

    #[test]
    fn an_entry_cached_without_a_statement_gains_one_later() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let bare =
            CachedVersion { tarball: b"t".to_vec(), signature: vec![2; 64], manifest: b"{}".to_vec(), statement: None };
        let integrity = Integrity::of(&bare.tarball).to_string();
        cache.put(&bare).unwrap();
        assert_eq!(cache.get(&integrity).unwrap().statement, None);
        let stated = CachedVersion { statement: Some(b"signed statement".to_vec()), ..bare.clone() };
        cache.put(&stated).unwrap();
        assert_eq!(cache.get(&integrity), Some(stated.clone()));
        // A later put without one keeps it.
        cache.put(&bare).unwrap();
        assert_eq!(cache.get(&integrity), Some(stated));
        let leftovers: Vec<String> = walk(dir.path()).into_iter().filter(|name| name.starts_with(".tmp-")).collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[test]
    fn put_all_stores_every_entry_even_the_same_bytes_twice_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let version = |n: usize| CachedVersion {
            tarball: format!("tgz {}", n % 30).into_bytes(),
            signature: vec![(n % 30) as u8; 64],
            manifest: format!("{{\"n\":{}}}", n % 30).into_bytes(),
            statement: n.is_multiple_of(2).then(|| b"statement".to_vec()),
        };
        // 60 puts of 30 distinct entries: each entry is written by two puts, maybe concurrently.
        let versions: Vec<CachedVersion> = (0..60).map(version).collect();
        cache.put_all(&versions).unwrap();
        for v in &versions[..30] {
            let got = cache.get(&Integrity::of(&v.tarball).to_string()).unwrap();
            assert_eq!(
                (got.tarball.as_slice(), got.manifest.as_slice()),
                (v.tarball.as_slice(), v.manifest.as_slice())
            );
        }
        let leftovers: Vec<String> = walk(dir.path()).into_iter().filter(|name| name.starts_with(".tmp-")).collect();
        assert!(leftovers.is_empty(), "temporary directories left: {leftovers:?}");
    }

    fn walk(dir: &Path) -> Vec<String> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            names.push(entry.file_name().to_string_lossy().into_owned());
            if entry.file_type().unwrap().is_dir() {
                names.extend(walk(&entry.path()));
            }
        }
        names
    }
}

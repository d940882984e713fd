//! `pack-lock.json` (contract §7.4, `pack-lockfile.schema.json`): the exact version, integrity and
//! dependency pins of every pack a workspace installs.
//!
//! Writing is deterministic (decisions §12): [`Lockfile::to_bytes`] sorts `packs` by name then
//! version, and [`pack_verify::canonical::to_canonical_pretty`] sorts every object's keys, so the
//! same inputs give the same bytes. `generatedAt` is the one field that would otherwise change on
//! every run, so it is a parameter: `pack lock` passes the existing lockfile's `generatedAt` when
//! nothing else changed ([`Lockfile::keep_generated_at`]), so re-locking an unchanged workspace
//! rewrites the identical file.
//!
//! Reading is lenient where the contract asks for it (unknown fields are ignored, for forward
//! compatibility) and strict about the fields it knows: a malformed entry fails with
//! `pack_lockfile_invalid` and the path of the offending value.

use std::collections::{BTreeMap, BTreeSet};

use pack_verify::canonical::to_canonical_pretty;
use semver::Version;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::resolve::Resolution;

/// The lockfile format this module reads and writes.
pub const LOCKFILE_VERSION: u64 = 1;

/// A parsed or freshly built `pack-lock.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockfile {
    /// Always [`LOCKFILE_VERSION`].
    pub lockfile_version: u64,
    /// RFC 3339 time of writing; audit only, never used for resolution. Kept as the exact text so
    /// reusing it keeps the bytes identical.
    pub generated_at: String,
    /// The default registry base URL for entries without `resolved`.
    pub registry: Option<String>,
    /// Registries consulted in order after `registry` (each keeps its own trust root).
    pub fallback_registries: Vec<String>,
    /// Exact versions that replace normal range resolution.
    pub overrides: BTreeMap<String, Version>,
    /// One entry per resolved pack.
    pub packs: Vec<LockedPack>,
}

/// One pack in the lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPack {
    /// The pack name.
    pub name: String,
    /// The exact version.
    pub version: Version,
    /// The tarball URL it was fetched from (an audit aid; integrity is always checked).
    pub resolved: Option<String>,
    /// `sha256-…` of the tarball.
    pub integrity: String,
    /// A signature over the `.tgz` bytes, present only when it verifies over them (decisions §12).
    pub signature: Option<LockedSignature>,
    /// Each declared dependency → the exact version chosen for it.
    pub dependencies: BTreeMap<String, Version>,
    /// The manifest's `peerDependencies`, echoed for audit.
    pub peer_dependencies: BTreeMap<String, String>,
}

/// The lockfile's `signature` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedSignature {
    /// Always `ed25519`.
    pub algorithm: String,
    /// Base64 Ed25519 public key.
    pub public_key: String,
    /// Base64 signature over the tarball bytes.
    pub value: String,
}

/// What a lockfile records besides the resolution itself.
#[derive(Debug, Clone, Default)]
pub struct LockMeta {
    /// RFC 3339 timestamp to record: the previous lockfile's when nothing changed (see
    /// [`Lockfile::keep_generated_at`]), else [`timestamp`] of now.
    pub generated_at: String,
    /// The default registry.
    pub registry: Option<String>,
    /// Fallback registries, in order.
    pub fallback_registries: Vec<String>,
    /// The overrides the resolution honoured.
    pub overrides: BTreeMap<String, Version>,
    /// Signatures by pack name. The caller includes only signatures it has verified over the
    /// exact `.tgz` bytes (`ed25519` packs); `manual` signatures cover `pack.json` and would fail
    /// the lockfile's signature rule, so they are left out (decisions §12).
    pub signatures: BTreeMap<String, LockedSignature>,
}

/// A lockfile that cannot be used: `pack_lockfile_invalid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid lockfile at {path}: {message}")]
pub struct LockfileError {
    /// Where in the document (`packs[2].integrity`; `$` for the whole document).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl LockfileError {
    /// `pack_lockfile_invalid`.
    pub fn code(&self) -> &'static str {
        "pack_lockfile_invalid"
    }

    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        LockfileError { path: path.into(), message: message.into() }
    }
}

/// `time` as the lockfile records it: UTC, whole seconds, `Z` (`2026-11-25T10:00:00Z`).
pub fn timestamp(time: OffsetDateTime) -> String {
    let t = time.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl Lockfile {
    /// Builds the lockfile for `resolution`: one entry per resolved pack, with `resolved` pointing
    /// at `<source>/v1/packs/<name>/-/<version>.tgz` when the pack's source registry is known.
    pub fn from_resolution(resolution: &Resolution, meta: LockMeta) -> Lockfile {
        let LockMeta { generated_at, registry, fallback_registries, overrides, mut signatures } = meta;
        let packs = resolution
            .packages
            .values()
            .map(|r| LockedPack {
                name: r.name.clone(),
                version: r.version.clone(),
                resolved: (!r.source.is_empty())
                    .then(|| format!("{}/v1/packs/{}/-/{}.tgz", r.source.trim_end_matches('/'), r.name, r.version)),
                integrity: r.integrity.clone(),
                signature: signatures.remove(&r.name),
                dependencies: r.dependencies.clone(),
                peer_dependencies: r.peer_dependencies.clone(),
            })
            .collect();
        Lockfile { lockfile_version: LOCKFILE_VERSION, generated_at, registry, fallback_registries, overrides, packs }
    }

    /// Keeps `previous.generated_at` when everything else is equal, so re-locking an unchanged
    /// workspace writes the same bytes.
    pub fn keep_generated_at(&mut self, previous: &Lockfile) {
        let same = Lockfile { generated_at: self.generated_at.clone(), ..previous.clone() };
        if self.to_bytes() == same.to_bytes() {
            self.generated_at = previous.generated_at.clone();
        }
    }

    /// The exact versions to keep on the next resolution ([`crate::resolve::Request::pins`]).
    pub fn pins(&self) -> BTreeMap<String, Version> {
        self.packs.iter().map(|p| (p.name.clone(), p.version.clone())).collect()
    }

    /// The entry for `name`, if locked.
    pub fn get(&self, name: &str) -> Option<&LockedPack> {
        self.packs.iter().find(|p| p.name == name)
    }

    /// The canonical document: two-space indentation, sorted keys, packs sorted by name then
    /// version, one trailing newline. Empty optional fields are omitted.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut packs: Vec<&LockedPack> = self.packs.iter().collect();
        packs.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        let mut doc = Map::new();
        doc.insert("lockfileVersion".into(), json!(self.lockfile_version));
        doc.insert("generatedAt".into(), json!(self.generated_at));
        if let Some(registry) = &self.registry {
            doc.insert("registry".into(), json!(registry));
        }
        if !self.fallback_registries.is_empty() {
            doc.insert("fallbackRegistries".into(), json!(self.fallback_registries));
        }
        if !self.overrides.is_empty() {
            doc.insert("overrides".into(), versions_object(&self.overrides));
        }
        doc.insert("packs".into(), Value::Array(packs.into_iter().map(LockedPack::to_value).collect()));
        to_canonical_pretty(&Value::Object(doc)).into_bytes()
    }

    /// Parses a lockfile. Unknown fields are ignored; known fields must be well formed.
    pub fn parse(bytes: &[u8]) -> Result<Lockfile, LockfileError> {
        let doc: Value =
            serde_json::from_slice(bytes).map_err(|e| LockfileError::new("$", format!("not JSON: {e}")))?;
        let doc = doc.as_object().ok_or_else(|| LockfileError::new("$", "expected an object"))?;

        let lockfile_version = match doc.get("lockfileVersion") {
            None => return Err(LockfileError::new("lockfileVersion", "missing")),
            Some(v) => v.as_u64().ok_or_else(|| LockfileError::new("lockfileVersion", "expected an integer"))?,
        };
        if lockfile_version != LOCKFILE_VERSION {
            return Err(LockfileError::new(
                "lockfileVersion",
                format!("version {lockfile_version} is not supported (this client reads {LOCKFILE_VERSION})"),
            ));
        }
        let generated_at = required_str(doc, "generatedAt", "generatedAt")?;
        OffsetDateTime::parse(&generated_at, &Rfc3339)
            .map_err(|_| LockfileError::new("generatedAt", format!("`{generated_at}` is not an RFC 3339 date-time")))?;
        let registry = optional_str(doc, "registry", "registry")?;
        if let Some(url) = &registry {
            check_uri(url, "registry")?;
        }
        let mut fallback_registries = Vec::new();
        if let Some(list) = doc.get("fallbackRegistries") {
            let list = list.as_array().ok_or_else(|| LockfileError::new("fallbackRegistries", "expected an array"))?;
            let mut seen = BTreeSet::new();
            for (i, item) in list.iter().enumerate() {
                let path = format!("fallbackRegistries[{i}]");
                let url = item.as_str().ok_or_else(|| LockfileError::new(&path, "expected a string"))?;
                check_uri(url, &path)?;
                if !seen.insert(url) {
                    return Err(LockfileError::new(path, format!("`{url}` is listed twice")));
                }
                fallback_registries.push(url.to_string());
            }
        }
        let overrides = match doc.get("overrides") {
            Some(v) => versions_map(v, "overrides")?,
            None => BTreeMap::new(),
        };
        let packs = doc
            .get("packs")
            .ok_or_else(|| LockfileError::new("packs", "missing"))?
            .as_array()
            .ok_or_else(|| LockfileError::new("packs", "expected an array"))?;
        let mut names = BTreeSet::new();
        let mut locked = Vec::with_capacity(packs.len());
        for (i, entry) in packs.iter().enumerate() {
            let pack = LockedPack::parse(entry, &format!("packs[{i}]"))?;
            if !names.insert(pack.name.clone()) {
                return Err(LockfileError::new(format!("packs[{i}].name"), format!("{} is locked twice", pack.name)));
            }
            locked.push(pack);
        }
        Ok(Lockfile { lockfile_version, generated_at, registry, fallback_registries, overrides, packs: locked })
    }
}

impl LockedPack {
    fn to_value(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("name".into(), json!(self.name));
        entry.insert("version".into(), json!(self.version.to_string()));
        entry.insert("integrity".into(), json!(self.integrity));
        if let Some(url) = &self.resolved {
            entry.insert("resolved".into(), json!(url));
        }
        if let Some(sig) = &self.signature {
            entry.insert(
                "signature".into(),
                json!({"algorithm": sig.algorithm, "publicKey": sig.public_key, "value": sig.value}),
            );
        }
        if !self.dependencies.is_empty() {
            entry.insert("dependencies".into(), versions_object(&self.dependencies));
        }
        if !self.peer_dependencies.is_empty() {
            entry.insert("peerDependencies".into(), json!(self.peer_dependencies));
        }
        Value::Object(entry)
    }

    fn parse(entry: &Value, path: &str) -> Result<LockedPack, LockfileError> {
        let obj = entry.as_object().ok_or_else(|| LockfileError::new(path, "expected an object"))?;
        let name = required_str(obj, "name", &format!("{path}.name"))?;
        // Our registry also accepts `_` and capitals after the second segment (contract §3.4), which
        // the schema's pattern does not; reading our own lockfiles must not fail on them.
        if !schema_name_ok(&name) && pack_verify::names::check_pack_name(&name).is_err() {
            return Err(LockfileError::new(format!("{path}.name"), format!("`{name}` is not a valid pack name")));
        }
        let version_text = required_str(obj, "version", &format!("{path}.version"))?;
        let version = exact_version(&version_text, &format!("{path}.version"))?;
        let integrity = required_str(obj, "integrity", &format!("{path}.integrity"))?;
        if !integrity_ok(&integrity) {
            return Err(LockfileError::new(
                format!("{path}.integrity"),
                "expected `sha256-` and 44 characters of base64 ending in `=`",
            ));
        }
        let resolved = optional_str(obj, "resolved", &format!("{path}.resolved"))?;
        if let Some(url) = &resolved {
            check_uri(url, &format!("{path}.resolved"))?;
        }
        let signature = match obj.get("signature") {
            None => None,
            Some(sig) => {
                let at = format!("{path}.signature");
                let sig = sig.as_object().ok_or_else(|| LockfileError::new(&at, "expected an object"))?;
                let algorithm = required_str(sig, "algorithm", &format!("{at}.algorithm"))?;
                if algorithm != "ed25519" {
                    return Err(LockfileError::new(format!("{at}.algorithm"), "only `ed25519` is defined"));
                }
                let public_key = required_str(sig, "publicKey", &format!("{at}.publicKey"))?;
                let value = required_str(sig, "value", &format!("{at}.value"))?;
                for (field, text) in [("publicKey", &public_key), ("value", &value)] {
                    if text.is_empty() {
                        return Err(LockfileError::new(format!("{at}.{field}"), "must not be empty"));
                    }
                }
                Some(LockedSignature { algorithm, public_key, value })
            }
        };
        let dependencies = match obj.get("dependencies") {
            Some(v) => versions_map(v, &format!("{path}.dependencies"))?,
            None => BTreeMap::new(),
        };
        let mut peer_dependencies = BTreeMap::new();
        if let Some(peers) = obj.get("peerDependencies") {
            let at = format!("{path}.peerDependencies");
            let peers = peers.as_object().ok_or_else(|| LockfileError::new(&at, "expected an object"))?;
            for (key, value) in peers {
                let text = value.as_str().filter(|s| (1..=64).contains(&s.len())).ok_or_else(|| {
                    LockfileError::new(format!("{at}.{key}"), "expected a string of 1 to 64 characters")
                })?;
                peer_dependencies.insert(key.clone(), text.to_string());
            }
        }
        Ok(LockedPack { name, version, resolved, integrity, signature, dependencies, peer_dependencies })
    }
}

fn versions_object(map: &BTreeMap<String, Version>) -> Value {
    Value::Object(map.iter().map(|(k, v)| (k.clone(), Value::String(v.to_string()))).collect())
}

fn versions_map(value: &Value, path: &str) -> Result<BTreeMap<String, Version>, LockfileError> {
    let obj = value.as_object().ok_or_else(|| LockfileError::new(path, "expected an object"))?;
    let mut out = BTreeMap::new();
    for (key, value) in obj {
        let at = format!("{path}.{key}");
        let text = value.as_str().ok_or_else(|| LockfileError::new(&at, "expected a version string"))?;
        out.insert(key.clone(), exact_version(text, &at)?);
    }
    Ok(out)
}

fn exact_version(text: &str, path: &str) -> Result<Version, LockfileError> {
    if text.is_empty() || text.len() > 64 {
        return Err(LockfileError::new(path, "a version is 1 to 64 characters"));
    }
    pack_verify::names::check_version(text)
        .map_err(|_| LockfileError::new(path, format!("`{text}` is not an exact SemVer version")))
}

fn required_str(obj: &Map<String, Value>, key: &str, path: &str) -> Result<String, LockfileError> {
    optional_str(obj, key, path)?.ok_or_else(|| LockfileError::new(path, "missing"))
}

fn optional_str(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>, LockfileError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(LockfileError::new(path, "expected a string")),
    }
}

/// The schema's `format: uri` as far as it matters here: an absolute URL with a scheme.
fn check_uri(url: &str, path: &str) -> Result<(), LockfileError> {
    let ok = url.split_once(':').is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    }) && !url.chars().any(char::is_whitespace);
    if ok { Ok(()) } else { Err(LockfileError::new(path, format!("`{url}` is not an absolute URL"))) }
}

/// The schema's name pattern `^(core|vendor|community|private|local)\.[a-z0-9][a-z0-9.-]*$`,
/// 3 to 256 characters.
fn schema_name_ok(name: &str) -> bool {
    let Some((scope, rest)) = name.split_once('.') else { return false };
    (3..=256).contains(&name.len())
        && ["core", "vendor", "community", "private", "local"].contains(&scope)
        && rest.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

/// `^sha256-[A-Za-z0-9+/]{43}=$`.
fn integrity_ok(integrity: &str) -> bool {
    integrity.strip_prefix("sha256-").and_then(|b| b.strip_suffix('=')).is_some_and(|body| {
        body.len() == 43 && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    })
}

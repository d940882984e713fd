//! An in-memory [`PackageIndex`] and small builders.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use pack_cli::resolve::{Candidate, PackageIndex, Request, Resolution, ResolveError, resolve};
use semver::Version;

pub const REGISTRY: &str = "https://packs.example.test";

/// A registry snapshot held in memory. Counts fetches, and can fail for chosen packs.
#[derive(Default)]
pub struct MemIndex {
    pub packs: BTreeMap<String, Vec<Candidate>>,
    pub unreachable: BTreeSet<String>,
    pub fetches: RefCell<Vec<String>>,
}

pub fn v(text: &str) -> Version {
    Version::parse(text).unwrap()
}

/// A well-formed, distinct `sha256-…` value for `name@version`.
pub fn integrity(name: &str, version: &str) -> String {
    let body: String = format!("{name}{version}")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .chain(std::iter::repeat('A'))
        .take(43)
        .collect();
    format!("sha256-{body}=")
}

impl MemIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Publishes `name@version` depending on `deps` (name, range).
    pub fn add(&mut self, name: &str, version: &str, deps: &[(&str, &str)]) -> &mut Candidate {
        let mut candidate = Candidate::new(v(version));
        candidate.dependencies = deps.iter().map(|(n, r)| (n.to_string(), r.to_string())).collect();
        candidate.integrity = integrity(name, version);
        candidate.source = REGISTRY.to_string();
        let list = self.packs.entry(name.to_string()).or_default();
        list.push(candidate);
        list.last_mut().unwrap()
    }
}

impl PackageIndex for MemIndex {
    fn versions(&self, name: &str) -> Result<Vec<Candidate>, ResolveError> {
        self.fetches.borrow_mut().push(name.to_string());
        if self.unreachable.contains(name) {
            return Err(ResolveError::RegistryUnreachable {
                registry: REGISTRY.into(),
                reason: "connection refused".into(),
            });
        }
        Ok(self.packs.get(name).cloned().unwrap_or_default())
    }
}

pub fn request(roots: &[(&str, &str)]) -> Request {
    Request { roots: roots.iter().map(|(n, r)| (n.to_string(), r.to_string())).collect(), ..Request::default() }
}

pub fn solve(index: &MemIndex, request: &Request) -> Resolution {
    resolve(index, request).unwrap_or_else(|e| panic!("resolution failed: {e}"))
}

pub fn fail(index: &MemIndex, request: &Request) -> ResolveError {
    match resolve(index, request) {
        Ok(r) => panic!(
            "expected a failure, got {:?}",
            r.packages.values().map(|p| format!("{}@{}", p.name, p.version)).collect::<Vec<_>>()
        ),
        Err(e) => e,
    }
}

/// `name -> version` of a resolution.
pub fn versions(resolution: &Resolution) -> BTreeMap<String, String> {
    resolution.packages.iter().map(|(n, r)| (n.clone(), r.version.to_string())).collect()
}

pub fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

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

/// The same snapshot as a registry serves it: `versions` lists every version without its
/// dependencies ([`Candidate::listed_only`], like a pack index), and each version's manifest is
/// read on demand through `complete`, which records `name@version`. Versions in `no_manifest`
/// have none.
pub struct Listed<'a> {
    pub index: &'a MemIndex,
    pub no_manifest: BTreeSet<String>,
    pub completed: RefCell<Vec<String>>,
}

impl<'a> Listed<'a> {
    pub fn new(index: &'a MemIndex) -> Self {
        Listed { index, no_manifest: BTreeSet::new(), completed: RefCell::default() }
    }

    /// `name@version` of every manifest read, sorted.
    pub fn completed(&self) -> Vec<String> {
        let mut out = self.completed.borrow().clone();
        out.sort();
        out
    }
}

impl PackageIndex for Listed<'_> {
    fn versions(&self, name: &str) -> Result<Vec<Candidate>, ResolveError> {
        if self.index.unreachable.contains(name) {
            return Err(unreachable());
        }
        let listed = |c: &Candidate| Candidate {
            dependencies: BTreeMap::new(),
            peer_dependencies: BTreeMap::new(),
            listed_only: true,
            ..c.clone()
        };
        Ok(self.index.packs.get(name).map(|list| list.iter().map(listed).collect()).unwrap_or_default())
    }

    fn complete(&self, name: &str, candidate: &Candidate) -> Result<Option<Candidate>, ResolveError> {
        let id = format!("{name}@{}", candidate.version);
        assert!(!self.completed.borrow().contains(&id), "{id}: manifest read twice");
        self.completed.borrow_mut().push(id.clone());
        if self.no_manifest.contains(&id) {
            return Ok(None);
        }
        let list = self.index.packs.get(name).expect("complete() asked for a pack versions() listed");
        Ok(list.iter().find(|c| c.version == candidate.version).cloned())
    }
}

fn unreachable() -> ResolveError {
    ResolveError::RegistryUnreachable { registry: REGISTRY.into(), reason: "connection refused".into() }
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
            return Err(unreachable());
        }
        Ok(self.packs.get(name).cloned().unwrap_or_default())
    }
}

pub fn request(roots: &[(&str, &str)]) -> Request {
    Request { roots: roots.iter().map(|(n, r)| (n.to_string(), r.to_string())).collect(), ..Request::default() }
}

/// Resolves against `index` as given and as a registry lists it ([`Listed`]), and asserts both
/// give the same outcome: reading manifests only on demand must not change any answer.
fn both(index: &MemIndex, request: &Request) -> Result<Resolution, Box<ResolveError>> {
    let eager = resolve(index, request);
    let listed = Listed::new(index);
    let lazy = resolve(&listed, request);
    match (&eager, &lazy) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "listed-only resolution differs"),
        (Err(a), Err(b)) => {
            assert_eq!((a.code(), a.details()), (b.code(), b.details()), "listed-only failure differs");
            assert_eq!(a.to_string(), b.to_string(), "listed-only failure reads differently");
        }
        _ => panic!("listed-only resolution gave {lazy:?} where the full index gave {eager:?}"),
    }
    eager.map_err(Box::new)
}

pub fn solve(index: &MemIndex, request: &Request) -> Resolution {
    both(index, request).unwrap_or_else(|e| panic!("resolution failed: {e}"))
}

pub fn fail(index: &MemIndex, request: &Request) -> ResolveError {
    match both(index, request) {
        Ok(r) => panic!(
            "expected a failure, got {:?}",
            r.packages.values().map(|p| format!("{}@{}", p.name, p.version)).collect::<Vec<_>>()
        ),
        Err(e) => *e,
    }
}

/// `name -> version` of a resolution.
pub fn versions(resolution: &Resolution) -> BTreeMap<String, String> {
    resolution.packages.iter().map(|(n, r)| (n.clone(), r.version.to_string())).collect()
}

pub fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

//! The dependency resolver: picks one version of every pack a request needs, transitively, with
//! PubGrub (the `pubgrub` crate), so a failure comes with a derivation a person can follow.
//!
//! Semantics (contract §7, decisions §5 and §11):
//! - the highest version satisfying every range is chosen, unless the lockfile pins a version
//!   ([`Request::pins`]) that still satisfies them, which is kept;
//! - yanked versions are never chosen for a range, only kept when pinned or overridden (with a
//!   warning); deprecated versions are chosen with a warning;
//! - versions matched by an [`Advisory`] are refused unless its id is accepted;
//! - [`Request::overrides`] replace every range on a pack with one exact version, which must still
//!   satisfy at least one parent's declared range;
//! - prereleases match only ranges that name one on the same `major.minor.patch`
//!   ([`pack_verify::range::Range::matches`]);
//! - dependencies must form a DAG.
//!
//! ```
//! use std::collections::BTreeMap;
//! use pack_cli::resolve::{resolve, Candidate, PackageIndex, Request, ResolveError};
//!
//! struct Index(BTreeMap<String, Vec<Candidate>>);
//! impl PackageIndex for Index {
//!     fn versions(&self, name: &str) -> Result<Vec<Candidate>, ResolveError> {
//!         Ok(self.0.get(name).cloned().unwrap_or_default())
//!     }
//! }
//! # fn main() -> Result<(), ResolveError> {
//! let mut packs = BTreeMap::new();
//! packs.insert("vendor.acme.tools".to_string(), vec![Candidate::new("1.2.0".parse().expect("version"))]);
//! let request = Request { roots: [("vendor.acme.tools".into(), "^1".into())].into(), ..Request::default() };
//! let resolution = resolve(&Index(packs), &request)?;
//! assert_eq!(resolution.packages["vendor.acme.tools"].version.to_string(), "1.2.0");
//! # Ok(()) }
//! ```

mod error;
mod explain;
mod provider;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use pack_verify::manifest::Deprecation;
use pack_verify::range::Range;
use semver::Version;

pub use error::{ConflictingRange, ResolveError};

/// One published version of a pack, as the resolver needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The version.
    pub version: Version,
    /// The manifest's `dependencies`: pack name → node-semver range.
    pub dependencies: BTreeMap<String, String>,
    /// The manifest's `peerDependencies` (host capability → value), echoed into the lockfile.
    pub peer_dependencies: BTreeMap<String, String>,
    /// Yanked in the registry: never chosen for a range.
    pub yanked: bool,
    /// The deprecation (reason and successor, where given), if the version is deprecated.
    pub deprecated: Option<Deprecation>,
    /// `sha256-…` of the tarball.
    pub integrity: String,
    /// The base URL of the registry this version came from.
    pub source: String,
    /// Listed by the pack index, manifest not read yet: `dependencies` and `peer_dependencies`
    /// are empty until [`PackageIndex::complete`] reads it, which the resolver does only for the
    /// versions it considers.
    pub listed_only: bool,
}

impl Candidate {
    /// A candidate with no dependencies, not yanked or deprecated, and empty integrity and source:
    /// a starting point for tests and builders.
    pub fn new(version: Version) -> Self {
        Candidate {
            version,
            dependencies: BTreeMap::new(),
            peer_dependencies: BTreeMap::new(),
            yanked: false,
            deprecated: None,
            integrity: String::new(),
            source: String::new(),
            listed_only: false,
        }
    }
}

/// Where the resolver reads the published versions of a pack (a registry client, a mirror, a
/// test fixture). Each pack is asked for at most once per resolution.
pub trait PackageIndex {
    /// Every published version of `name`, in any order; an unknown pack is an empty list.
    /// Transport failures are [`ResolveError::RegistryUnreachable`]. Versions may come back
    /// [`Candidate::listed_only`] (a registry's pack index lists versions without their
    /// dependencies, which only each version's manifest has).
    fn versions(&self, name: &str) -> Result<Vec<Candidate>, ResolveError>;

    /// `candidate` (one of `versions(name)`, [`Candidate::listed_only`]) with its manifest read:
    /// dependencies filled in, `listed_only` false. `Ok(None)` when the version has no readable
    /// manifest, which makes it unusable. Asked at most once per version, and only for versions
    /// the resolver considers, so a pack with hundreds of releases costs one manifest when its
    /// newest one fits. The default returns the candidate as it is.
    fn complete(&self, name: &str, candidate: &Candidate) -> Result<Option<Candidate>, ResolveError> {
        let _ = name;
        Ok(Some(candidate.clone()))
    }
}

/// A security advisory affecting a range of one pack's versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisory {
    /// The advisory id (`OPENWOP-2026-0001`).
    pub id: String,
    /// The affected pack.
    pub pack: String,
    /// The affected versions.
    pub range: Range,
}

/// What to resolve.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// What the user asked for: pack name → node-semver range.
    pub roots: BTreeMap<String, String>,
    /// Versions from an existing lockfile: kept when they still satisfy every range, even if
    /// yanked since (contract §6.3: a pinned version still resolves).
    pub pins: BTreeMap<String, Version>,
    /// Exact versions that replace every range on a pack (the lockfile's `overrides`).
    pub overrides: BTreeMap<String, Version>,
    /// Known advisories; matching versions are refused unless accepted.
    pub advisories: Vec<Advisory>,
    /// Advisory ids the user accepted.
    pub allow_advisories: BTreeSet<String>,
}

/// The chosen version of every pack, direct and transitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Pack name → its chosen version.
    pub packages: BTreeMap<String, Resolved>,
    /// Things the user should hear about (deprecations, kept yanked pins, accepted advisories).
    pub warnings: Vec<ResolveWarning>,
}

/// One chosen pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The pack name.
    pub name: String,
    /// The chosen version.
    pub version: Version,
    /// `sha256-…` of its tarball.
    pub integrity: String,
    /// The registry it came from.
    pub source: String,
    /// Each declared dependency → the exact version chosen for it.
    pub dependencies: BTreeMap<String, Version>,
    /// The manifest's `peerDependencies`, echoed.
    pub peer_dependencies: BTreeMap<String, String>,
    /// Who required it: (`root` or `name@version`, declared range), sorted.
    pub requested_by: Vec<(String, String)>,
}

/// Something the user should be told about a successful resolution.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResolveWarning {
    /// A chosen version is deprecated (contract §6.2: warn with the reason and the successor,
    /// when set).
    Deprecated {
        /// The pack.
        name: String,
        /// The version.
        version: Version,
        /// The publisher's reason and successor.
        deprecation: Deprecation,
    },
    /// A yanked version was kept because the lockfile pins it or an override names it
    /// (contract §6.3: a structured warning, the run may proceed).
    YankedPinned {
        /// The pack.
        name: String,
        /// The version.
        version: Version,
    },
    /// A chosen version is affected by an advisory the user accepted.
    AdvisoryAccepted {
        /// The advisory id.
        id: String,
        /// The pack.
        name: String,
        /// The version.
        version: Version,
    },
}

impl ResolveWarning {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Deprecated { .. } => "pack_deprecated",
            Self::YankedPinned { .. } => "pack_yanked_pinned",
            Self::AdvisoryAccepted { .. } => "pack_advisory_accepted",
        }
    }
}

impl fmt::Display for ResolveWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Deprecated { name, version, deprecation } => {
                write!(f, "{name}@{version} is deprecated")?;
                if let Some(reason) = &deprecation.reason {
                    write!(f, ": {reason}")?;
                }
                if let Some(successor) = &deprecation.superseded_by {
                    write!(f, " (superseded by {successor})")?;
                }
                Ok(())
            }
            Self::YankedPinned { name, version } => {
                write!(f, "{name}@{version} is yanked; kept because it is pinned")
            }
            Self::AdvisoryAccepted { id, name, version } => {
                write!(f, "{name}@{version} is affected by {id} (accepted)")
            }
        }
    }
}

/// Resolves `request` against `index`.
///
/// Every pack is fetched from `index` at most once. Errors: [`ResolveError::DependencyConflict`],
/// [`ResolveError::DependencyCycle`], [`ResolveError::VersionNotFound`],
/// [`ResolveError::AdvisoryBlocked`], [`ResolveError::InvalidRange`],
/// [`ResolveError::ManifestInvalid`], or whatever the index returned.
pub fn resolve(index: &dyn PackageIndex, request: &Request) -> Result<Resolution, ResolveError> {
    provider::run(index, request)
}

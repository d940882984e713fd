//! The bridge between our index and PubGrub: packages, version sets, version choice, and the
//! checks that run on the chosen graph (cycles, overrides, warnings).
//!
//! **Version sets.** A node-semver range is not an interval of SemVer order: `^1.2.3` excludes
//! `1.5.0-beta` although it lies between `1.2.3` and `2.0.0-0`, so translating a range's
//! comparators into `pubgrub::Ranges` bounds would be wrong exactly where decisions §11 matters.
//! But the index lists every version of a pack, and only listed versions can ever be chosen. So a
//! range becomes the set of listed versions [`Range::matches`] accepts, stored as one closed
//! interval per maximal run of consecutive matching versions in sorted order. Restricted to the
//! listed versions this is exactly the range; the unlisted versions an interval also covers are
//! never chosen (`choose_version` only returns listed versions), and runs keep the sets small
//! (`^1` over twenty 1.x releases is one interval, not twenty singletons).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use pack_verify::range::{Range, RangeError};
use pubgrub::{
    Dependencies, DependencyProvider, PackageResolutionStatistics, PubGrubError, Ranges, SelectedDependencies,
};
use semver::Version;

use super::{
    Advisory, Candidate, ConflictingRange, PackageIndex, Request, Resolution, ResolveError, ResolveWarning, Resolved,
};

/// A set of versions of one pack (see the module docs for how ranges map onto it).
pub(crate) type Vs = Ranges<Version>;

/// A PubGrub package: the request itself (the root) or a pack.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Pkg {
    Root,
    Pack(Arc<str>),
}

impl fmt::Display for Pkg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pkg::Root => f.write_str("root"),
            Pkg::Pack(name) => f.write_str(name),
        }
    }
}

/// Why a listed version cannot be used. Reported to PubGrub as "dependencies unavailable" so the
/// failure derivation names the reason instead of just "no versions".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unusable {
    Yanked,
    Advisory(String),
    InvalidRange { dep: String, range: String, why: String },
    Unlisted,
    NoManifest,
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unusable::Yanked => f.write_str("is yanked"),
            Unusable::Advisory(id) => write!(f, "is affected by advisory {id}"),
            Unusable::InvalidRange { dep, range, why } => {
                write!(f, "declares an invalid range `{range}` for {dep} ({why})")
            }
            Unusable::Unlisted => f.write_str("is not published"),
            Unusable::NoManifest => f.write_str("has no readable manifest"),
        }
    }
}

/// Every listed version of one pack, ascending, one candidate per version.
pub(crate) struct PackInfo {
    pub(crate) candidates: Vec<Candidate>,
}

impl PackInfo {
    pub(crate) fn get(&self, version: &Version) -> Option<&Candidate> {
        self.candidates.binary_search_by(|c| c.version.cmp(version)).ok().and_then(|i| self.candidates.get(i))
    }

    /// The listed versions inside `set`, ascending.
    pub(crate) fn versions_in<'s>(&'s self, set: &'s Vs) -> impl Iterator<Item = &'s Version> + 's {
        self.candidates.iter().map(|c| &c.version).filter(move |v| set.contains(*v))
    }
}

/// A listed-only version after [`PackageIndex::complete`]: `None` when it has no readable manifest.
type Completed = Option<Rc<Candidate>>;

pub(crate) struct Provider<'a> {
    index: &'a dyn PackageIndex,
    pub(crate) request: &'a Request,
    advisories: HashMap<&'a str, Vec<&'a Advisory>>,
    packs: RefCell<HashMap<Arc<str>, Rc<PackInfo>>>,
    /// Listed-only candidates with their manifests read ([`PackageIndex::complete`]); `None`:
    /// no readable manifest.
    completed: RefCell<HashMap<(Arc<str>, Version), Completed>>,
    /// (pack, range text) → its version set; also lets explanations print a set as the range a
    /// manifest wrote.
    ranges: RefCell<HashMap<Arc<str>, BTreeMap<String, Vs>>>,
    pub(crate) root_version: Version,
}

impl<'a> Provider<'a> {
    fn new(index: &'a dyn PackageIndex, request: &'a Request) -> Self {
        let mut advisories: HashMap<&str, Vec<&Advisory>> = HashMap::new();
        for advisory in &request.advisories {
            advisories.entry(advisory.pack.as_str()).or_default().push(advisory);
        }
        for list in advisories.values_mut() {
            list.sort_by(|a, b| a.id.cmp(&b.id));
        }
        Provider {
            index,
            request,
            advisories,
            packs: RefCell::new(HashMap::new()),
            completed: RefCell::new(HashMap::new()),
            ranges: RefCell::new(HashMap::new()),
            root_version: Version::new(0, 0, 0),
        }
    }

    /// The pack's listed versions, fetched from the index once.
    pub(crate) fn pack(&self, name: &str) -> Result<Rc<PackInfo>, ResolveError> {
        if let Some(info) = self.packs.borrow().get(name) {
            return Ok(Rc::clone(info));
        }
        let mut candidates = self.index.versions(name)?;
        candidates.sort_by(|a, b| a.version.cmp(&b.version));
        // A registry listing one version twice keeps the first entry; versions are immutable.
        candidates.dedup_by(|later, earlier| later.version == earlier.version);
        let info = Rc::new(PackInfo { candidates });
        self.packs.borrow_mut().insert(Arc::from(name), Rc::clone(&info));
        Ok(info)
    }

    /// A listed-only `candidate` of `name` with its manifest read, as the index completes it,
    /// asked once per version. `None`: no readable manifest.
    fn full(&self, name: &str, candidate: &Candidate) -> Result<Option<Rc<Candidate>>, ResolveError> {
        let key = (Arc::from(name), candidate.version.clone());
        if let Some(done) = self.completed.borrow().get(&key) {
            return Ok(done.clone());
        }
        let done = self.index.complete(name, candidate)?.map(|mut full| {
            // The listed version stands, whatever an index implementation hands back.
            full.version = candidate.version.clone();
            full.listed_only = false;
            Rc::new(full)
        });
        self.completed.borrow_mut().insert(key, done.clone());
        Ok(done)
    }

    /// The range `name@version`'s manifest declares for `dep`, if that manifest has been read.
    pub(crate) fn declared_range(&self, name: &str, version: &Version, dep: &str) -> Option<String> {
        let info = self.cached(name)?;
        let candidate = info.get(version)?;
        if !candidate.listed_only {
            return candidate.dependencies.get(dep).cloned();
        }
        let completed = self.completed.borrow();
        completed.get(&(Arc::from(name), version.clone()))?.as_ref()?.dependencies.get(dep).cloned()
    }

    /// The cached listing, for callers that cannot fail (priorities, explanations).
    pub(crate) fn cached(&self, name: &str) -> Option<Rc<PackInfo>> {
        self.packs.borrow().get(name).cloned()
    }

    fn pinned(&self, name: &str, version: &Version) -> bool {
        self.request.pins.get(name) == Some(version) || self.request.overrides.get(name) == Some(version)
    }

    /// The advisories (not accepted) matching `version`, sorted by id.
    fn blocking_advisory(&self, name: &str, version: &Version) -> Option<&'a Advisory> {
        self.advisories.get(name).and_then(|list| {
            list.iter().find(|a| !self.request.allow_advisories.contains(&a.id) && a.range.matches(version)).copied()
        })
    }

    /// Why `candidate` cannot be chosen, if it cannot.
    pub(crate) fn status(&self, name: &str, candidate: &Candidate) -> Option<Unusable> {
        if let Some(advisory) = self.blocking_advisory(name, &candidate.version) {
            return Some(Unusable::Advisory(advisory.id.clone()));
        }
        if candidate.yanked && !self.pinned(name, &candidate.version) {
            return Some(Unusable::Yanked);
        }
        None
    }

    /// The version set of `text` over `name`'s listed versions; `Ok(Err(_))` when it does not parse.
    fn range_set(&self, name: &Arc<str>, text: &str) -> Result<Result<Vs, RangeError>, ResolveError> {
        if let Some(set) = self.ranges.borrow().get(name).and_then(|m| m.get(text)) {
            return Ok(Ok(set.clone()));
        }
        let range = match Range::parse(text) {
            Ok(range) => range,
            Err(err) => return Ok(Err(err)),
        };
        let info = self.pack(name)?;
        let set = runs(&info, |v| range.matches(v));
        self.ranges.borrow_mut().entry(Arc::clone(name)).or_default().insert(text.to_string(), set.clone());
        Ok(Ok(set))
    }

    /// A range text that maps to exactly `set` on `name`, for explanations.
    pub(crate) fn range_text(&self, name: &str, set: &Vs) -> Option<String> {
        self.ranges.borrow().get(name)?.iter().find(|(_, s)| *s == set).map(|(text, _)| text.clone())
    }

    /// Fails with `pack_version_not_found` when an override names a version nobody published.
    fn check_overrides(&self) -> Result<(), ResolveError> {
        for (name, version) in &self.request.overrides {
            if self.pack(name)?.get(version).is_none() {
                return Err(ResolveError::VersionNotFound {
                    pack_name: name.clone(),
                    range: version.to_string(),
                    requested_by: "overrides".into(),
                    why: "the override names a version that is not published".into(),
                    explanation: String::new(),
                });
            }
        }
        Ok(())
    }
}

/// One closed interval per maximal run of consecutive listed versions accepted by `accept`.
fn runs(info: &PackInfo, accept: impl Fn(&Version) -> bool) -> Vs {
    let mut set = Vs::empty();
    let mut run: Option<(&Version, &Version)> = None;
    for candidate in &info.candidates {
        let v = &candidate.version;
        if accept(v) {
            run = Some(run.map_or((v, v), |(start, _)| (start, v)));
        } else if let Some((start, end)) = run.take() {
            set = set.union(&Vs::from_range_bounds(start.clone()..=end.clone()));
        }
    }
    if let Some((start, end)) = run {
        set = set.union(&Vs::from_range_bounds(start.clone()..=end.clone()));
    }
    set
}

impl DependencyProvider for Provider<'_> {
    type P = Pkg;
    type V = Version;
    type VS = Vs;
    type M = Unusable;
    type Err = ResolveError;
    type Priority = (u32, Reverse<usize>);

    /// Like pubgrub's offline provider: packs that conflicted most first, then the ones with the
    /// fewest usable versions left (a pack with none is decided first, so failures surface early).
    fn prioritize(&self, package: &Pkg, range: &Vs, stats: &PackageResolutionStatistics) -> Self::Priority {
        let Pkg::Pack(name) = package else { return (u32::MAX, Reverse(0)) };
        let usable = self.cached(name).map_or(0, |info| {
            info.candidates.iter().filter(|c| range.contains(&c.version) && self.status(name, c).is_none()).count()
        });
        if usable == 0 {
            return (u32::MAX, Reverse(0));
        }
        (stats.conflict_count(), Reverse(usable))
    }

    /// The lockfile's pin when it is still allowed, else the highest usable version; an unusable
    /// version only when nothing else is left, so that the failure names why it is unusable.
    fn choose_version(&self, package: &Pkg, range: &Vs) -> Result<Option<Version>, ResolveError> {
        let Pkg::Pack(name) = package else { return Ok(Some(self.root_version.clone())) };
        let info = self.pack(name)?;
        if let Some(pin) = self.request.pins.get(name.as_ref())
            && range.contains(pin)
            && info.get(pin).is_some_and(|c| self.status(name, c).is_none())
        {
            return Ok(Some(pin.clone()));
        }
        let mut in_range = info.candidates.iter().rev().filter(|c| range.contains(&c.version)).peekable();
        let fallback = in_range.peek().map(|c| c.version.clone());
        Ok(in_range.find(|c| self.status(name, c).is_none()).map(|c| c.version.clone()).or(fallback))
    }

    fn get_dependencies(
        &self,
        package: &Pkg,
        version: &Version,
    ) -> Result<Dependencies<Pkg, Vs, Unusable>, ResolveError> {
        let mut out = Vec::new();
        match package {
            Pkg::Root => {
                for (name, text) in &self.request.roots {
                    let dep: Arc<str> = Arc::from(name.as_str());
                    let set = self.range_set(&dep, text)?.map_err(|source| ResolveError::InvalidRange {
                        pack_name: name.clone(),
                        requested_by: "root".into(),
                        source,
                    })?;
                    let set = self.request.overrides.get(name).map_or(set, |v| Vs::singleton(v.clone()));
                    out.push((Pkg::Pack(dep), set));
                }
            }
            Pkg::Pack(name) => {
                let info = self.pack(name)?;
                let Some(candidate) = info.get(version) else {
                    return Ok(Dependencies::Unavailable(Unusable::Unlisted));
                };
                if let Some(why) = self.status(name, candidate) {
                    return Ok(Dependencies::Unavailable(why));
                }
                let full;
                let candidate = if candidate.listed_only {
                    full = self.full(name, candidate)?;
                    match full.as_deref() {
                        Some(full) => full,
                        None => return Ok(Dependencies::Unavailable(Unusable::NoManifest)),
                    }
                } else {
                    candidate
                };
                for (dep_name, text) in &candidate.dependencies {
                    // A self-dependency is a cycle; it is reported from the chosen graph, where
                    // every edge is checked, rather than handed to the solver.
                    if dep_name.as_str() == name.as_ref() {
                        continue;
                    }
                    let dep: Arc<str> = Arc::from(dep_name.as_str());
                    let set = match self.range_set(&dep, text)? {
                        Ok(set) => set,
                        Err(err) => {
                            return Ok(Dependencies::Unavailable(Unusable::InvalidRange {
                                dep: dep_name.clone(),
                                range: text.clone(),
                                why: err.why,
                            }));
                        }
                    };
                    let set = self.request.overrides.get(dep_name).map_or(set, |v| Vs::singleton(v.clone()));
                    out.push((Pkg::Pack(dep), set));
                }
            }
        }
        Ok(Dependencies::Available(out.into_iter().collect()))
    }
}

/// Runs the solver and the checks on its result.
pub(crate) fn run(index: &dyn PackageIndex, request: &Request) -> Result<Resolution, ResolveError> {
    let provider = Provider::new(index, request);
    provider.check_overrides()?;
    let solution = match pubgrub::resolve(&provider, Pkg::Root, provider.root_version.clone()) {
        Ok(solution) => solution,
        Err(PubGrubError::NoSolution(tree)) => return Err(super::explain::classify(&provider, &tree)),
        Err(PubGrubError::ErrorRetrievingDependencies { source, .. })
        | Err(PubGrubError::ErrorChoosingVersion { source, .. })
        | Err(PubGrubError::ErrorInShouldCancel(source)) => return Err(source),
    };
    build(&provider, solution)
}

fn build(provider: &Provider<'_>, solution: SelectedDependencies<Pkg, Version>) -> Result<Resolution, ResolveError> {
    let request = provider.request;
    let mut chosen: BTreeMap<String, Candidate> = BTreeMap::new();
    for (package, version) in solution {
        if let Pkg::Pack(name) = package {
            let info = provider.pack(&name)?;
            let candidate = match info.get(&version) {
                // Every chosen version had its dependencies asked for, so this reads no manifest.
                Some(listed) if listed.listed_only => {
                    provider.full(&name, listed)?.map_or_else(|| listed.clone(), |c| (*c).clone())
                }
                Some(candidate) => candidate.clone(),
                None => Candidate::new(version),
            };
            chosen.insert(name.to_string(), candidate);
        }
    }
    if let Some(cycle) = find_cycle(&chosen) {
        return Err(ResolveError::DependencyCycle { cycle });
    }

    let mut requested_by: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    for (name, range) in &request.roots {
        requested_by.entry(name).or_default().push(("root".into(), range.clone()));
    }
    for (name, candidate) in &chosen {
        for (dep, range) in &candidate.dependencies {
            requested_by.entry(dep).or_default().push((format!("{name}@{}", candidate.version), range.clone()));
        }
    }
    for list in requested_by.values_mut() {
        list.sort();
    }

    // An override must still satisfy at least one parent's declared range (contract §7.3).
    for (name, version) in &request.overrides {
        let Some(parents) = requested_by.get(name.as_str()) else { continue };
        let accepted = parents.iter().any(|(_, range)| Range::parse(range).is_ok_and(|r| r.matches(version)));
        if !accepted {
            let mut conflicting_ranges: Vec<ConflictingRange> = parents
                .iter()
                .map(|(by, range)| ConflictingRange { requested_by: by.clone(), range: range.clone() })
                .collect();
            conflicting_ranges.push(ConflictingRange { requested_by: "overrides".into(), range: version.to_string() });
            let mut explanation =
                format!("the override {name} {version} satisfies none of the ranges its parents declare:");
            for (by, range) in parents {
                explanation.push_str(&format!("\n  {by} requires {name} {range}"));
            }
            return Err(ResolveError::DependencyConflict { pack_name: name.clone(), conflicting_ranges, explanation });
        }
    }

    let mut warnings = Vec::new();
    let mut packages = BTreeMap::new();
    for (name, candidate) in &chosen {
        if let Some(deprecation) = &candidate.deprecated {
            warnings.push(ResolveWarning::Deprecated {
                name: name.clone(),
                version: candidate.version.clone(),
                deprecation: deprecation.clone(),
            });
        }
        if candidate.yanked {
            warnings.push(ResolveWarning::YankedPinned { name: name.clone(), version: candidate.version.clone() });
        }
        for advisory in request.advisories.iter().filter(|a| &a.pack == name && a.range.matches(&candidate.version)) {
            warnings.push(ResolveWarning::AdvisoryAccepted {
                id: advisory.id.clone(),
                name: name.clone(),
                version: candidate.version.clone(),
            });
        }
        let dependencies = candidate
            .dependencies
            .keys()
            .filter_map(|dep| chosen.get(dep).map(|c| (dep.clone(), c.version.clone())))
            .collect();
        packages.insert(
            name.clone(),
            Resolved {
                name: name.clone(),
                version: candidate.version.clone(),
                integrity: candidate.integrity.clone(),
                source: candidate.source.clone(),
                dependencies,
                peer_dependencies: candidate.peer_dependencies.clone(),
                requested_by: requested_by.remove(name.as_str()).unwrap_or_default(),
            },
        );
    }
    warnings.sort();
    warnings.dedup();
    Ok(Resolution { packages, warnings })
}

/// The first cycle in the chosen graph, walking packs and their dependencies in name order (so
/// the same graph always reports the same cycle), as `[a, b, …, a]`. Iterative, so deep chains
/// cannot overflow the stack.
fn find_cycle(chosen: &BTreeMap<String, Candidate>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = HashMap::new();
    for start in chosen.keys() {
        if marks.contains_key(start.as_str()) {
            continue;
        }
        let mut stack: Vec<(&str, Vec<&str>)> = Vec::new();
        let successors = |name: &str| -> Vec<&str> {
            chosen.get(name).map_or_else(Vec::new, |c| {
                c.dependencies.keys().filter(|d| chosen.contains_key(*d)).rev().map(String::as_str).collect()
            })
        };
        marks.insert(start, Mark::Active);
        stack.push((start, successors(start)));
        while let Some((node, pending)) = stack.last_mut() {
            let node = *node;
            match pending.pop() {
                Some(next) => match marks.get(next) {
                    Some(Mark::Active) => {
                        let from = stack.iter().position(|(n, _)| *n == next).unwrap_or(0);
                        let mut cycle: Vec<String> = stack[from..].iter().map(|(n, _)| n.to_string()).collect();
                        cycle.push(next.to_string());
                        return Some(cycle);
                    }
                    Some(Mark::Done) => {}
                    None => {
                        marks.insert(next, Mark::Active);
                        stack.push((next, successors(next)));
                    }
                },
                None => {
                    marks.insert(node, Mark::Done);
                    stack.pop();
                }
            }
        }
    }
    None
}

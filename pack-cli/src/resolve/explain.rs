//! Turning PubGrub's derivation tree into a [`ResolveError`]: which contract code applies, its
//! `details`, and a readable explanation that prints ranges as the manifests wrote them.

use std::collections::BTreeMap;

use pubgrub::{DefaultStringReporter, DerivationTree, Derived, External, Map, ReportFormatter, Reporter, Term};
use semver::Version;

use super::provider::{Pkg, Provider, Unusable, Vs};
use super::{ConflictingRange, ResolveError};

type Tree = DerivationTree<Pkg, Vs, Unusable>;
type Ext = External<Pkg, Vs, Unusable>;

/// How many versions a set lists by name before it is summarised.
const LISTED_VERSIONS: usize = 4;

/// Picks the code for a failed resolution. A requirement that cannot be met on its own (nothing
/// published, only yanked versions, every version blocked by an advisory) is reported as such,
/// because that is what the user has to fix; anything else is a conflict between requirements.
pub(crate) fn classify(provider: &Provider<'_>, tree: &Tree) -> ResolveError {
    let explanation = DefaultStringReporter::report_with_formatter(tree, &Explainer { provider });
    let mut externals = Vec::new();
    collect(tree, &mut externals);
    let blocked: Vec<(&Pkg, &Vs, &Unusable)> = externals
        .iter()
        .filter_map(|e| match e {
            External::Custom(p, set, why) => Some((p, set, why)),
            _ => None,
        })
        .collect();

    let mut not_found = None;
    let mut invalid = None;
    let mut edges: BTreeMap<String, Vec<(ConflictingRange, &Vs)>> = BTreeMap::new();
    for external in &externals {
        let External::FromDependencyOf(parent, parent_set, Pkg::Pack(dep), dep_set) = external else { continue };
        let (requested_by, range) = declared(provider, parent, parent_set, dep);
        let listed: Vec<Version> =
            provider.cached(dep).map(|info| info.versions_in(dep_set).cloned().collect()).unwrap_or_default();
        let reasons: Vec<&Unusable> = listed
            .iter()
            .filter_map(|v| blocked.iter().find(|(p, set, _)| **p == Pkg::Pack(dep.clone()) && set.contains(v)))
            .map(|(_, _, why)| *why)
            .collect();
        let entry = (dep.to_string(), range.clone(), requested_by.clone());
        if listed.is_empty() {
            let why = if provider.cached(dep).is_some_and(|info| info.candidates.is_empty()) {
                "the pack is not published"
            } else {
                "no published version is in that range"
            };
            not_found.get_or_insert((entry, why.to_string()));
        } else if reasons.len() == listed.len() {
            let mut advisories: Vec<String> = reasons
                .iter()
                .filter_map(|r| match r {
                    Unusable::Advisory(id) => Some(id.clone()),
                    _ => None,
                })
                .collect();
            advisories.sort();
            advisories.dedup();
            if !advisories.is_empty() {
                let (pack_name, range, requested_by) = entry;
                return ResolveError::AdvisoryBlocked { pack_name, range, requested_by, advisories, explanation };
            }
            if reasons.iter().all(|r| **r == Unusable::Yanked) {
                not_found.get_or_insert((entry, "every matching version is yanked".to_string()));
            } else {
                invalid.get_or_insert(entry);
            }
        }
        let list = edges.entry(dep.to_string()).or_default();
        let conflicting = ConflictingRange { requested_by, range };
        if !list.iter().any(|(c, _)| *c == conflicting) {
            list.push((conflicting, dep_set));
        }
    }
    if let Some(((pack_name, range, requested_by), why)) = not_found {
        return ResolveError::VersionNotFound { pack_name, range, requested_by, why, explanation };
    }
    if let Some((pack_name, range, requested_by)) = invalid {
        return ResolveError::ManifestInvalid { pack_name, range, requested_by, explanation };
    }

    // The conflict is about the pack whose requirements have no usable version in common;
    // among several, the one with the most requirements, then by name.
    let usable_in = |name: &str, set: &Vs| {
        provider.cached(name).is_some_and(|info| {
            info.candidates.iter().any(|c| set.contains(&c.version) && provider.status(name, c).is_none())
        })
    };
    let mut best: Option<(bool, usize, &String)> = None;
    for (name, list) in &edges {
        let common = list.iter().fold(Vs::full(), |acc, (_, set)| acc.intersection(set));
        let disjoint = list.len() >= 2 && !usable_in(name, &common);
        let key = (disjoint, list.len(), name);
        if best.is_none_or(|(d, n, _)| (disjoint, list.len()) > (d, n)) {
            best = Some(key);
        }
    }
    let pack_name = best.map(|(_, _, name)| name.clone()).unwrap_or_default();
    let mut conflicting_ranges: Vec<ConflictingRange> =
        edges.remove(&pack_name).unwrap_or_default().into_iter().map(|(c, _)| c).collect();
    conflicting_ranges.sort_by(|a, b| (a.requested_by != "root", a).cmp(&(b.requested_by != "root", b)));
    ResolveError::DependencyConflict { pack_name, conflicting_ranges, explanation }
}

fn collect<'t>(tree: &'t Tree, out: &mut Vec<&'t Ext>) {
    match tree {
        DerivationTree::External(external) => out.push(external),
        DerivationTree::Derived(derived) => {
            collect(&derived.cause1, out);
            collect(&derived.cause2, out);
        }
    }
}

/// Who declared the requirement on `dep` and the range as written: `root` and the requested
/// range, or `name@version` and its manifest's range. An override shows as `=version`.
fn declared(provider: &Provider<'_>, parent: &Pkg, parent_set: &Vs, dep: &str) -> (String, String) {
    let request = provider.request;
    let (by, range) = match parent {
        Pkg::Root => ("root".to_string(), request.roots.get(dep).cloned()),
        Pkg::Pack(name) => {
            let info = provider.cached(name);
            let versions: Vec<Version> =
                info.as_ref().map(|i| i.versions_in(parent_set).cloned().collect()).unwrap_or_default();
            // The newest version whose manifest was read (a listed-only one declares nothing yet).
            let range = versions.iter().rev().find_map(|v| provider.declared_range(name, v, dep));
            (with_versions(name, &versions), range)
        }
    };
    let range = match request.overrides.get(dep) {
        Some(version) => format!("={version} (override)"),
        None => range.unwrap_or_else(|| "*".into()),
    };
    (by, range)
}

/// `name@1.0.0`, `name@1.0.0 || 1.1.0`, or a summary for many versions.
fn with_versions(name: &str, versions: &[Version]) -> String {
    match versions {
        [] => name.to_string(),
        [one] => format!("{name}@{one}"),
        few if few.len() <= LISTED_VERSIONS => {
            format!("{name}@{}", few.iter().map(Version::to_string).collect::<Vec<_>>().join(" || "))
        }
        [first, .., last] => format!("{name} ({} versions, {first} to {last})", versions.len()),
    }
}

/// The formatter: PubGrub's default sentences, with sets printed as ranges or version lists.
struct Explainer<'p, 'a> {
    provider: &'p Provider<'a>,
}

impl Explainer<'_, '_> {
    fn describe(&self, package: &Pkg, set: &Vs) -> String {
        let Pkg::Pack(name) = package else { return "the request".into() };
        if *set == Vs::full() {
            return name.to_string();
        }
        if let Some(text) = self.provider.range_text(name, set) {
            return format!("{name} {text}");
        }
        let versions: Vec<Version> =
            self.provider.cached(name).map(|info| info.versions_in(set).cloned().collect()).unwrap_or_default();
        if versions.is_empty() {
            return format!("{name} (no published version)");
        }
        with_versions(name, &versions)
    }

    fn term(&self, package: &Pkg, term: &Term<Vs>) -> String {
        match term {
            Term::Positive(set) => self.describe(package, set),
            Term::Negative(set) => format!("not {}", self.describe(package, set)),
        }
    }
}

impl ReportFormatter<Pkg, Vs, Unusable> for Explainer<'_, '_> {
    type Output = String;

    fn format_external(&self, external: &Ext) -> String {
        match external {
            External::NotRoot(..) => "the request must be resolved".into(),
            External::NoVersions(package, set) => {
                format!("no usable version of {} is left", self.describe(package, set))
            }
            External::Custom(package, set, why) => format!("{} {why}", self.describe(package, set)),
            External::FromDependencyOf(parent, parent_set, dep, _) => {
                let (by, range) = declared(self.provider, parent, parent_set, &dep.to_string());
                match parent {
                    Pkg::Root => format!("the request requires {dep} {range}"),
                    Pkg::Pack(_) => format!("{by} depends on {dep} {range}"),
                }
            }
        }
    }

    fn format_terms(&self, terms: &Map<Pkg, Term<Vs>>) -> String {
        let mut terms: Vec<(&Pkg, &Term<Vs>)> = terms.iter().collect();
        terms.sort_by(|a, b| a.0.cmp(b.0));
        match terms.as_slice() {
            [] | [(Pkg::Root, Term::Positive(_))] => "version solving failed".into(),
            [(package, Term::Positive(set))] => format!("{} cannot be used", self.describe(package, set)),
            [(package, Term::Negative(set))] => format!("{} is required", self.describe(package, set)),
            [(p1, Term::Positive(s1)), (p2, Term::Negative(s2))]
            | [(p2, Term::Negative(s2)), (p1, Term::Positive(s1))] => {
                format!("{} requires {}", self.describe(p1, s1), self.describe(p2, s2))
            }
            many => {
                let parts: Vec<String> = many.iter().map(|(p, t)| self.term(p, t)).collect();
                format!("{} cannot be used together", parts.join(" and "))
            }
        }
    }

    fn explain_both_external(&self, external1: &Ext, external2: &Ext, current: &Map<Pkg, Term<Vs>>) -> String {
        format!(
            "Because {} and {}, {}.",
            self.format_external(external1),
            self.format_external(external2),
            self.format_terms(current)
        )
    }

    fn explain_both_ref(
        &self,
        ref_id1: usize,
        derived1: &Derived<Pkg, Vs, Unusable>,
        ref_id2: usize,
        derived2: &Derived<Pkg, Vs, Unusable>,
        current: &Map<Pkg, Term<Vs>>,
    ) -> String {
        format!(
            "Because {} ({ref_id1}) and {} ({ref_id2}), {}.",
            self.format_terms(&derived1.terms),
            self.format_terms(&derived2.terms),
            self.format_terms(current)
        )
    }

    fn explain_ref_and_external(
        &self,
        ref_id: usize,
        derived: &Derived<Pkg, Vs, Unusable>,
        external: &Ext,
        current: &Map<Pkg, Term<Vs>>,
    ) -> String {
        format!(
            "Because {} ({ref_id}) and {}, {}.",
            self.format_terms(&derived.terms),
            self.format_external(external),
            self.format_terms(current)
        )
    }

    fn and_explain_external(&self, external: &Ext, current: &Map<Pkg, Term<Vs>>) -> String {
        format!("And because {}, {}.", self.format_external(external), self.format_terms(current))
    }

    fn and_explain_ref(
        &self,
        ref_id: usize,
        derived: &Derived<Pkg, Vs, Unusable>,
        current: &Map<Pkg, Term<Vs>>,
    ) -> String {
        format!("And because {} ({ref_id}), {}.", self.format_terms(&derived.terms), self.format_terms(current))
    }

    fn and_explain_prior_and_external(&self, prior: &Ext, external: &Ext, current: &Map<Pkg, Term<Vs>>) -> String {
        format!(
            "And because {} and {}, {}.",
            self.format_external(prior),
            self.format_external(external),
            self.format_terms(current)
        )
    }
}

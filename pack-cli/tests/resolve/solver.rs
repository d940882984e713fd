//! Resolution semantics: choice, conflicts, cycles, overrides, prereleases, yanks, deprecations,
//! advisories, missing versions and pass-through index errors.

use pack_cli::resolve::{Advisory, Deprecation, ResolveError, ResolveWarning, resolve};
use pack_verify::range::Range;
use serde_json::json;

use crate::support::*;

const A: &str = "vendor.acme.a";
const B: &str = "vendor.acme.b";
const C: &str = "vendor.acme.c";

#[test]
fn highest_versions_with_transitive_dependencies() {
    let mut index = MemIndex::new();
    index.add(A, "1.0.0", &[(C, "^1.0.0")]);
    index.add(A, "1.1.0", &[(C, "^1.1.0")]);
    index.add(A, "2.0.0", &[(C, "^2")]);
    index.add(C, "1.0.0", &[]);
    index.add(C, "1.1.0", &[]);
    index.add(C, "1.2.0", &[]);
    index.add(C, "2.0.0", &[]);
    let resolution = solve(&index, &request(&[(A, "^1")]));
    assert_eq!(versions(&resolution), map(&[(A, "1.1.0"), (C, "1.2.0")]));
    let a = &resolution.packages[A];
    assert_eq!(a.dependencies[C], v("1.2.0"));
    assert_eq!(a.integrity, integrity(A, "1.1.0"));
    assert_eq!(a.source, REGISTRY);
    assert_eq!(a.requested_by, vec![("root".to_string(), "^1".to_string())]);
    assert_eq!(resolution.packages[C].requested_by, vec![(format!("{A}@1.1.0"), "^1.1.0".to_string())]);
    assert!(resolution.warnings.is_empty());
    // Each pack is fetched once.
    let mut fetched = index.fetches.borrow().clone();
    fetched.sort();
    assert_eq!(fetched, vec![A.to_string(), C.to_string()]);
}

#[test]
fn backtracks_to_an_older_version_that_fits() {
    let mut index = MemIndex::new();
    index.add(A, "1.0.0", &[(C, "^1")]);
    index.add(A, "2.0.0", &[(C, "^2")]);
    index.add(B, "1.0.0", &[(C, "~1.1")]);
    index.add(C, "1.1.5", &[]);
    index.add(C, "2.0.0", &[]);
    let resolution = solve(&index, &request(&[(A, "*"), (B, "1.x")]));
    assert_eq!(versions(&resolution), map(&[(A, "1.0.0"), (B, "1.0.0"), (C, "1.1.5")]));
}

#[test]
fn conflict_reports_details_and_explanation() {
    let mut index = MemIndex::new();
    index.add(A, "1.0.0", &[(C, "^2")]);
    index.add(B, "1.0.0", &[(C, "^1")]);
    index.add(C, "1.0.0", &[]);
    index.add(C, "2.0.0", &[]);
    let err = fail(&index, &request(&[(A, "^1"), (B, "^1")]));
    assert_eq!(err.code(), "pack_dependency_conflict");
    assert_eq!(
        err.details(),
        json!({"packName": C, "conflictingRanges": [
            {"requestedBy": format!("{A}@1.0.0"), "range": "^2"},
            {"requestedBy": format!("{B}@1.0.0"), "range": "^1"},
        ]})
    );
    let ResolveError::DependencyConflict { explanation, .. } = &err else { panic!("{err:?}") };
    eprintln!("{explanation}");
    assert!(explanation.starts_with("Because "), "{explanation}");
    assert!(explanation.contains(&format!("{A}@1.0.0 depends on {C} ^2")), "{explanation}");
    assert!(explanation.contains(&format!("{B}@1.0.0 depends on {C} ^1")), "{explanation}");
    assert!(explanation.contains(&format!("the request requires {A} ^1")), "{explanation}");
    assert!(explanation.trim_end().ends_with("version solving failed."), "{explanation}");
    assert!(err.to_string().contains(&format!("no version of {C} satisfies every requirement")));
}

#[test]
fn cycles_are_refused() {
    let mut index = MemIndex::new();
    index.add(A, "1.0.0", &[(B, "^1")]);
    index.add(B, "1.0.0", &[(C, "^1")]);
    index.add(C, "1.0.0", &[(A, "^1")]);
    let err = fail(&index, &request(&[(A, "^1")]));
    assert_eq!(err.code(), "pack_dependency_cycle");
    assert_eq!(err.details(), json!({"cycle": [A, B, C, A]}));

    let mut index = MemIndex::new();
    index.add(A, "1.0.0", &[(A, "^1")]);
    let err = fail(&index, &request(&[(A, "^1")]));
    assert_eq!(err.details(), json!({"cycle": [A, A]}));
}

#[test]
fn overrides_are_honoured_and_must_fit_a_parent() {
    let mut index = MemIndex::new();
    index.add(A, "1.0.0", &[(C, "^1")]);
    index.add(B, "1.0.0", &[(C, ">=1.4.0 <3")]);
    for version in ["1.0.0", "1.5.0", "1.9.0", "2.0.0", "3.0.0"] {
        index.add(C, version, &[]);
    }
    let mut req = request(&[(A, "^1"), (B, "^1")]);
    req.overrides.insert(C.into(), v("1.5.0"));
    assert_eq!(solve(&index, &req).packages[C].version, v("1.5.0"));

    // 2.0.0 fits B's range only: still allowed (at least one parent).
    req.overrides.insert(C.into(), v("2.0.0"));
    assert_eq!(solve(&index, &req).packages[C].version, v("2.0.0"));

    // 3.0.0 fits no parent.
    req.overrides.insert(C.into(), v("3.0.0"));
    let err = fail(&index, &req);
    assert_eq!(err.code(), "pack_dependency_conflict");
    assert_eq!(
        err.details(),
        json!({"packName": C, "conflictingRanges": [
            {"requestedBy": format!("{A}@1.0.0"), "range": "^1"},
            {"requestedBy": format!("{B}@1.0.0"), "range": ">=1.4.0 <3"},
            {"requestedBy": "overrides", "range": "3.0.0"},
        ]})
    );

    // An override naming an unpublished version.
    req.overrides.insert(C.into(), v("1.2.3"));
    let err = fail(&index, &req);
    assert_eq!(err.code(), "pack_version_not_found");
    assert_eq!(err.details()["requestedBy"], "overrides");
}

#[test]
fn prereleases_only_when_the_range_names_one() {
    let mut index = MemIndex::new();
    index.add(C, "1.0.0", &[]);
    index.add(C, "1.1.0-beta.1", &[]);
    index.add(C, "1.2.0-rc.1", &[]);
    assert_eq!(solve(&index, &request(&[(C, "^1.0.0")])).packages[C].version, v("1.0.0"));
    assert_eq!(solve(&index, &request(&[(C, "*")])).packages[C].version, v("1.0.0"));
    assert_eq!(solve(&index, &request(&[(C, "^1.1.0-beta.0")])).packages[C].version, v("1.1.0-beta.1"));
    assert_eq!(solve(&index, &request(&[(C, "1.2.0-rc.1")])).packages[C].version, v("1.2.0-rc.1"));
    // A prerelease on another major.minor.patch is not admitted by naming one.
    assert_eq!(solve(&index, &request(&[(C, ">=1.1.0-beta.0")])).packages[C].version, v("1.1.0-beta.1"));
    let err = fail(&index, &request(&[(C, ">1.0.0")]));
    assert_eq!(err.code(), "pack_version_not_found");
}

#[test]
fn yanked_versions_are_excluded_unless_pinned() {
    let mut index = MemIndex::new();
    index.add(C, "1.0.0", &[]);
    index.add(C, "1.1.0", &[]).yanked = true;
    let mut req = request(&[(C, "^1")]);
    assert_eq!(solve(&index, &req).packages[C].version, v("1.0.0"));

    req.pins.insert(C.into(), v("1.1.0"));
    let resolution = solve(&index, &req);
    assert_eq!(resolution.packages[C].version, v("1.1.0"));
    assert_eq!(resolution.warnings, vec![ResolveWarning::YankedPinned { name: C.into(), version: v("1.1.0") }]);

    let err = fail(&index, &request(&[(C, "1.1.0")]));
    assert_eq!(err.code(), "pack_version_not_found");
    assert!(err.to_string().contains("yanked"), "{err}");
}

#[test]
fn pins_are_kept_while_they_satisfy() {
    let mut index = MemIndex::new();
    index.add(A, "1.0.0", &[(C, "^1")]);
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        index.add(C, version, &[]);
    }
    let mut req = request(&[(A, "^1")]);
    req.pins.insert(C.into(), v("1.1.0"));
    assert_eq!(solve(&index, &req).packages[C].version, v("1.1.0"));
    // The pin no longer satisfies the range: re-resolved to the highest.
    req.roots.insert(C.into(), ">=1.2.0".into());
    assert_eq!(solve(&index, &req).packages[C].version, v("1.2.0"));
}

#[test]
fn deprecated_versions_resolve_with_a_warning() {
    let mut index = MemIndex::new();
    let deprecation = Deprecation { reason: Some("use 2.x".into()), superseded_by: Some(format!("{C}@2.0.0")) };
    index.add(C, "1.0.0", &[]).deprecated = Some(deprecation.clone());
    let resolution = solve(&index, &request(&[(C, "^1")]));
    assert_eq!(resolution.packages[C].version, v("1.0.0"));
    assert_eq!(
        resolution.warnings,
        vec![ResolveWarning::Deprecated { name: C.into(), version: v("1.0.0"), deprecation }]
    );
    assert_eq!(resolution.warnings[0].code(), "pack_deprecated");
    // Contract §6.2: the warning names the reason and the successor when set.
    assert_eq!(
        resolution.warnings[0].to_string(),
        format!("{C}@1.0.0 is deprecated: use 2.x (superseded by {C}@2.0.0)")
    );
}

#[test]
fn advisories_block_unless_accepted() {
    let mut index = MemIndex::new();
    index.add(C, "1.0.0", &[]);
    index.add(C, "1.1.0", &[]);
    let advisory = Advisory { id: "OPENWOP-2026-0001".into(), pack: C.into(), range: Range::parse(">=1.1.0").unwrap() };
    let mut req = request(&[(C, "^1")]);
    req.advisories.push(advisory);
    // The affected highest version is skipped.
    assert_eq!(solve(&index, &req).packages[C].version, v("1.0.0"));

    // Nothing unaffected is left.
    req.roots.insert(C.into(), "1.1.0".into());
    let err = fail(&index, &req);
    assert_eq!(err.code(), "pack_advisory_blocked");
    assert_eq!(
        err.details(),
        json!({"packName": C, "range": "1.1.0", "requestedBy": "root", "advisories": ["OPENWOP-2026-0001"]})
    );
    assert!(err.to_string().contains("OPENWOP-2026-0001"), "{err}");

    // Accepted.
    req.allow_advisories.insert("OPENWOP-2026-0001".into());
    let resolution = solve(&index, &req);
    assert_eq!(resolution.packages[C].version, v("1.1.0"));
    assert_eq!(resolution.warnings[0].code(), "pack_advisory_accepted");
}

#[test]
fn advisory_on_a_transitive_dependency_is_named() {
    let mut index = MemIndex::new();
    index.add(A, "1.0.0", &[(C, "~1.0.0")]);
    index.add(C, "1.0.0", &[]);
    index.add(C, "1.1.0", &[]);
    let mut req = request(&[(A, "^1")]);
    req.advisories.push(Advisory {
        id: "OPENWOP-2026-0002".into(),
        pack: C.into(),
        range: Range::parse("<1.0.1").unwrap(),
    });
    let err = fail(&index, &req);
    assert_eq!(err.code(), "pack_advisory_blocked");
    assert_eq!(err.details()["requestedBy"], format!("{A}@1.0.0"));
    assert_eq!(err.details()["range"], "~1.0.0");
}

#[test]
fn missing_versions_are_version_not_found() {
    let mut index = MemIndex::new();
    index.add(A, "1.0.0", &[(C, "^9")]);
    index.add(C, "1.0.0", &[]);
    let err = fail(&index, &request(&[("vendor.acme.nothing", "^1")]));
    assert_eq!(err.code(), "pack_version_not_found");
    assert_eq!(err.details(), json!({"packName": "vendor.acme.nothing", "range": "^1", "requestedBy": "root"}));

    let err = fail(&index, &request(&[(C, "^5")]));
    assert_eq!(err.code(), "pack_version_not_found");

    let err = fail(&index, &request(&[(A, "^1")]));
    assert_eq!(err.code(), "pack_version_not_found");
    assert_eq!(err.details(), json!({"packName": C, "range": "^9", "requestedBy": format!("{A}@1.0.0")}));
}

#[test]
fn a_broken_manifest_range_makes_that_version_unusable() {
    let mut index = MemIndex::new();
    index.add(A, "1.0.0", &[(C, "^1")]);
    index.add(A, "1.1.0", &[(C, "not a range")]);
    index.add(C, "1.0.0", &[]);
    // The broken newer version is skipped.
    assert_eq!(solve(&index, &request(&[(A, "^1")])).packages[A].version, v("1.0.0"));
    let err = fail(&index, &request(&[(A, "1.1.0")]));
    assert_eq!(err.code(), "pack_manifest_invalid");
    assert!(err.to_string().contains("not a range"), "{err}");
}

#[test]
fn invalid_root_range_and_index_errors_pass_through() {
    let mut index = MemIndex::new();
    index.add(C, "1.0.0", &[]);
    let err = fail(&index, &request(&[(C, "^^1")]));
    assert_eq!(err.code(), "invalid_range");

    index.add(A, "1.0.0", &[(B, "^1")]);
    index.unreachable.insert(B.into());
    let err = fail(&index, &request(&[(A, "^1")]));
    assert_eq!(err.code(), "pack_registry_unreachable");
    assert_eq!(err.details(), json!({"registry": REGISTRY}));
}

#[test]
fn peer_dependencies_are_echoed() {
    let mut index = MemIndex::new();
    index.add(C, "1.0.0", &[]).peer_dependencies.insert("host.aiEnvelope".into(), "supported".into());
    let resolution = resolve(&index, &request(&[(C, "^1")])).unwrap();
    assert_eq!(resolution.packages[C].peer_dependencies, map(&[("host.aiEnvelope", "supported")]));
}

#[test]
fn a_registry_listing_reads_only_the_manifests_the_solver_considers() {
    let mut index = MemIndex::new();
    for minor in 0..30 {
        index.add(A, &format!("1.{minor}.0"), &[(C, "^1")]);
    }
    for patch in 0..10 {
        index.add(C, &format!("1.0.{patch}"), &[]);
    }
    let listed = Listed::new(&index);
    let resolution = resolve(&listed, &request(&[(A, "^1")])).unwrap();
    assert_eq!(versions(&resolution), map(&[(A, "1.29.0"), (C, "1.0.9")]));
    assert_eq!(resolution.packages[A].dependencies[C], v("1.0.9"));
    // Two manifests of forty, where reading every version's costs one request each.
    assert_eq!(listed.completed(), vec![format!("{A}@1.29.0"), format!("{C}@1.0.9")]);

    // Backtracking reads the versions it tries, and no others.
    let mut index = MemIndex::new();
    index.add(A, "1.0.0", &[(B, "^1")]);
    index.add(A, "1.5.0", &[(B, "^1")]);
    index.add(A, "2.0.0", &[(B, "^2")]);
    index.add(B, "1.0.0", &[]);
    index.add(B, "1.1.0", &[]);
    let listed = Listed::new(&index);
    let resolution = resolve(&listed, &request(&[(A, "*")])).unwrap();
    assert_eq!(versions(&resolution), map(&[(A, "1.5.0"), (B, "1.1.0")]));
    assert_eq!(listed.completed(), vec![format!("{A}@1.5.0"), format!("{A}@2.0.0"), format!("{B}@1.1.0")]);
}

#[test]
fn a_version_without_a_readable_manifest_is_skipped_then_reported() {
    let mut index = MemIndex::new();
    index.add(A, "1.0.0", &[(C, "^1")]);
    index.add(A, "1.1.0", &[(C, "^1")]);
    index.add(C, "1.0.0", &[]);
    let mut listed = Listed::new(&index);
    listed.no_manifest.insert(format!("{A}@1.1.0"));
    let resolution = resolve(&listed, &request(&[(A, "^1")])).unwrap();
    assert_eq!(versions(&resolution), map(&[(A, "1.0.0"), (C, "1.0.0")]));
    assert_eq!(resolution.packages[A].integrity, integrity(A, "1.0.0"));

    let mut listed = Listed::new(&index);
    listed.no_manifest.insert(format!("{A}@1.0.0"));
    listed.no_manifest.insert(format!("{A}@1.1.0"));
    let err = resolve(&listed, &request(&[(A, "^1")])).unwrap_err();
    assert_eq!(err.code(), "pack_manifest_invalid");
    assert_eq!(err.details(), json!({"packName": A, "range": "^1", "requestedBy": "root"}));
    assert!(err.to_string().contains("has no readable manifest"), "{err}");
    // Each manifest was asked for once (`Listed` panics on a second read).
    assert_eq!(listed.completed(), vec![format!("{A}@1.0.0"), format!("{A}@1.1.0")]);
}

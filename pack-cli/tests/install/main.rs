//! `pack lock` / `pack install` end to end: against a running registry-server with our own root
//! (publish → depend → lock → install → tamper → refuse), and against the public fixture tree
//! served by a plain static file server with the shipped trust bundle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

#[path = "../common/mod.rs"]
mod common;

use common::*;
use openwop_test_support::{serve_static, serve_static_logged_at, serve_static_tls, sign_keychain};

#[test]
fn publish_depend_lock_install_then_refuse_tampering() {
    let pack_bin = binary("pack-cli", "pack");
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let pack = Pack { dir: d.to_path_buf(), bin: pack_bin };
    let mut registry = start_our_registry(&pack, d);
    // Publisher: a base pack, then an app pack that depends on it.
    let publish = |name: &str, dir: &str, version: &str, deps: Value| {
        pack.ok(&["--json", "init", dir, "--name", name, "--version", version]);
        let pj = d.join(dir).join("pack.json");
        let mut manifest: Value = serde_json::from_slice(&std::fs::read(&pj).unwrap()).unwrap();
        manifest["dependencies"] = deps;
        std::fs::write(&pj, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
        pack.ok(&["--json", "publish", dir, "--key", "acme-1.key", "--key-id", "acme-1"]);
    };
    publish("vendor.acme.base", "base-1", "0.1.0", json!({}));
    publish("vendor.acme.base", "base-2", "0.2.0", json!({}));
    publish("vendor.acme.app", "app", "1.0.0", json!({"vendor.acme.base": "^0.1"}));

    let version_file_gets = || -> u64 {
        let text = reqwest::blocking::get(format!("{}/metrics", registry.base)).unwrap().text().unwrap();
        text.lines()
            .filter(|l| l.starts_with("openwop_http_requests_total{method=\"GET\",route=\"/v1/packs/{name}/-/{file}\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };

    // Consumer: lock and install; the transitive dependency resolves to ^0.1's highest, 0.1.0.
    let host = d.join("host");
    let gets = version_file_gets();
    let out = pack.ok(&["--json", "install", "vendor.acme.app@^1", "--host-dir", "host"]);
    // Every version file is requested once, and only the chosen versions': their two manifests
    // while resolving (base@0.2.0's is never read, no range asks for it; the download reuses
    // both), then each one's tarball, signature and registry statement.
    assert_eq!(version_file_gets() - gets, 2 + 2 * 3, "a version file was requested twice");
    assert_eq!(out["reason"], "install");
    let lock: Value = serde_json::from_slice(&std::fs::read(host.join("pack-lock.json")).unwrap()).unwrap();
    let packs = lock["packs"].as_array().unwrap();
    assert_eq!(packs.len(), 2, "{lock}");
    assert_eq!((packs[0]["name"].clone(), packs[0]["version"].clone()), (json!("vendor.acme.app"), json!("1.0.0")));
    assert_eq!(packs[0]["dependencies"], json!({"vendor.acme.base": "0.1.0"}));
    assert_eq!(packs[1]["version"], "0.1.0");
    assert!(host.join("packs/vendor.acme.app/pack.json").is_file());
    assert!(host.join("packs/vendor.acme.base/index.mjs").is_file());
    let manifest: Value = serde_json::from_slice(&std::fs::read(host.join("openwop-packs.json")).unwrap()).unwrap();
    assert_eq!(manifest["dependencies"]["vendor.acme.app"], "^1");
    let lock_bytes = std::fs::read(host.join("pack-lock.json")).unwrap();

    // Re-locking changes nothing (byte-identical), and --locked accepts it.
    pack.ok(&["--json", "lock", "--manifest", "host/openwop-packs.json", "--locked"]);
    assert_eq!(std::fs::read(host.join("pack-lock.json")).unwrap(), lock_bytes);

    // Offline re-install comes from the cache.
    pack.ok(&["--json", "install", "--host-dir", "host", "--offline"]);
    let before = tree_files(&host.join("packs/"));

    // A warm re-resolve reads the manifests of cached versions from the cache: no version file
    // is requested (base@0.2.0's manifest, never downloaded, is still not needed).
    let gets = version_file_gets();
    pack.ok(&["--json", "install", "vendor.acme.app@^1", "--host-dir", "host-warm"]);
    assert_eq!(version_file_gets() - gets, 0, "nothing is fetched");

    // This registry's trust requires statements: a cache entry that lacks its statement (cached
    // from a registry without them) is downloaded again, not refused, and gains the statement.
    let statements = |root: &Path| -> Vec<PathBuf> {
        tree_files(root).into_iter().map(|(p, _)| p).filter(|p| p.ends_with("statement.json")).collect()
    };
    let cached = statements(&d.join("cache"));
    assert_eq!(cached.len(), 2, "{cached:?}");
    std::fs::remove_file(d.join("cache").join(&cached[0])).unwrap();
    let gets = version_file_gets();
    pack.ok(&["--json", "install", "vendor.acme.app@^1", "--host-dir", "host-restated"]);
    assert_eq!(version_file_gets() - gets, 4, "that version's manifest, tarball, signature and statement");
    assert_eq!(statements(&d.join("cache")), cached);
    // Yank state still comes from the fresh pack index, not from the cached manifest: base@0.1.0
    // is cached and then yanked, so a new ^0.1 finds nothing usable.
    pack.ok(&["--json", "yank", "vendor.acme.base@0.1.0", "--reason", "broken"]);
    let refused = pack.fails(
        &["--json", "install", "vendor.acme.base@^0.1", "--host-dir", "host-yanked"],
        2,
        "pack_version_not_found",
    );
    assert!(refused["message"].as_str().unwrap().contains("yanked"), "{refused}");
    assert!(!d.join("host-yanked").exists());
    pack.ok(&["--json", "unyank", "vendor.acme.base@0.1.0"]);

    // Tamper with the stored tarball of vendor.acme.base@0.1.0 on the server, drop the cache:
    // install refuses with the integrity code and leaves the host directory as it was.
    let integrity = packs[1]["integrity"].as_str().unwrap();
    let hex: String = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(integrity.trim_start_matches("sha256-"))
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let blob = d.join("data/blobs/sha256").join(&hex[..2]).join(&hex);
    let mut bytes = std::fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&blob, bytes).unwrap();
    // The server may hold the bytes in memory; a restart makes it read the tampered storage.
    registry.restart();
    std::fs::remove_dir_all(d.join("cache")).unwrap();
    pack.fails(&["--json", "install", "--host-dir", "host"], 1, "pack_integrity_mismatch");
    assert_eq!(tree_files(&host.join("packs/")), before, "a refused install must not touch the host dir");

    // --frozen with a manifest the lockfile does not cover is refused without touching the network.
    pack.fails(
        &["--json", "install", "vendor.acme.other@^1", "--host-dir", "host", "--frozen"],
        2,
        "pack_lockfile_incomplete",
    );

    // A token the registry does not know, on reads: the 401 says to remove or replace it, and
    // `pack` shows that (people and --json alike); nothing is installed.
    let config = std::fs::read_to_string(d.join("pack.toml")).unwrap();
    let line = config.lines().find(|l| l.starts_with("token = ")).unwrap();
    std::fs::write(d.join("pack.toml"), config.replace(line, "token = \"owp_unknown_secret\"")).unwrap();
    let out = pack.run(&["install", "vendor.acme.app@^1", "--host-dir", "host-token"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a registry refusal: {stderr}");
    assert!(stderr.contains("error[unauthenticated]") && stderr.contains("reads need no token"), "{stderr}");
    assert!(stderr.contains("hint: the token sent to this registry is not valid"), "{stderr}");
    assert!(stderr.contains("pack.toml") && stderr.contains("pack login"), "{stderr}");
    assert!(!d.join("host-token").exists());
    let refused = pack.fails(&["--json", "search", "acme"], 1, "unauthenticated");
    assert!(refused["message"].as_str().unwrap().contains("reads need no token"), "{refused}");
    let hint = refused["hint"].as_str().unwrap();
    assert!(hint.contains("pack login") && hint.contains("pack.toml"), "{refused}");
    let out = pack.run(&["info", "vendor.acme.app"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error[unauthenticated]") && stderr.contains("hint:"), "{stderr}");
    assert!(stderr.contains("remove the invalid one"), "{stderr}");
}

#[test]
fn install_from_the_fixture_tree_on_a_static_server() {
    let Some(fixtures) = std::env::var_os("OPENWOP_FIXTURES") else {
        eprintln!("SKIPPED install_from_the_fixture_tree_on_a_static_server: OPENWOP_FIXTURES not set");
        return;
    };
    let tree = PathBuf::from(fixtures).join("openwop-registry");
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let served = d.join("tree");
    copy_tree(&tree, &served, |_| true);
    let port = free_port();
    let log = d.join("requests.log");
    let (server, base) = serve_static_logged_at(&served, port, Some(&log));
    let pack = fixture_consumer(d, &base);

    // The tree offers a statement for every version of core.openwop.http; the shipped bundle's
    // trust does not check statements, so none is downloaded (the cache keeps none).
    for entry in std::fs::read_dir(served.join("v1/packs/core.openwop.http/-")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tgz") {
            std::fs::write(path.with_extension("statement.json"), b"{\"unused\": true}").unwrap();
        }
    }
    let out = pack.ok(&["--json", "install", "core.openwop.http@^1", "--host-dir", "host"]);
    let installed = &out["packs"][0];
    assert_eq!(installed["name"], "core.openwop.http");
    let version = installed["version"].as_str().unwrap().to_string();
    let cached: Vec<String> = tree_files(&d.join("cache/sha256"))
        .into_iter()
        .filter_map(|(p, _)| Some(p.file_name()?.to_string_lossy().into_owned()))
        .collect();
    assert!(cached.contains(&"pack.tgz".to_string()), "{cached:?}");
    assert!(!cached.contains(&"statement.json".to_string()), "no statement fetched: {cached:?}");
    let index: Value =
        serde_json::from_slice(&std::fs::read(tree.join("v1/packs/core.openwop.http/index.json")).unwrap()).unwrap();
    // The unyanked 1.x versions, ascending.
    let mut ones: Vec<semver::Version> = index["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["yanked"] == false && v["version"].as_str().unwrap().starts_with("1."))
        .map(|v| semver::Version::parse(v["version"].as_str().unwrap()).unwrap())
        .collect();
    ones.sort();
    assert!(ones.len() >= 2, "the fixture has two unyanked 1.x versions: {ones:?}");
    assert_eq!(version, ones[ones.len() - 1].to_string(), "the highest unyanked ^1 version");
    // Of the pack's version manifests only the chosen one was requested: the pack index lists
    // the versions, and the others' manifests are read only when resolution turns to them.
    let listed = index["versions"].as_array().unwrap().len();
    assert!(listed > 2, "the fixture lists {listed} versions");
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(manifest_requests(&log_text), vec![version.as_str()], "{log_text}");
    // Installed files equal the tarball's files.
    let tgz = std::fs::read(tree.join(format!("v1/packs/core.openwop.http/-/{version}.tgz"))).unwrap();
    let archive = pack_verify::tarball::read_pack(&tgz, &pack_verify::tarball::TarLimits::default()).unwrap();
    for file in archive.files() {
        let installed = std::fs::read(d.join("host/packs/core.openwop.http").join(&file.path)).unwrap();
        assert_eq!(installed, file.data, "{}", file.path);
    }

    // peerDependencies against a host's capabilities: a2a needs `a2a`.
    std::fs::write(d.join("caps-none.json"), r#"{"capabilities": {"aiProviders": ["x"]}}"#).unwrap();
    std::fs::write(d.join("caps-a2a.json"), r#"{"capabilities": {"a2a": "supported"}}"#).unwrap();
    let refused = pack.fails(
        &[
            "--json",
            "install",
            "core.openwop.a2a@^1",
            "--host-dir",
            "host-a2a",
            "--host-capabilities",
            "caps-none.json",
        ],
        1,
        "pack_peer_dependency_missing",
    );
    assert!(refused["message"].as_str().unwrap().contains("a2a"), "{refused}");
    assert!(!d.join("host-a2a/packs").exists(), "nothing installed");
    pack.ok(&[
        "--json",
        "install",
        "core.openwop.a2a@^1",
        "--host-dir",
        "host-a2a",
        "--host-capabilities",
        "caps-a2a.json",
    ]);
    assert!(d.join("host-a2a/packs/core.openwop.a2a/pack.json").is_file());

    // With the server gone, --offline installs from the cache.
    drop(server);
    std::fs::remove_file(d.join("host/packs")).unwrap();
    std::fs::remove_dir_all(d.join("host/.pack-generations")).unwrap();
    pack.ok(&["--json", "install", "--host-dir", "host", "--offline"]);
    assert!(d.join("host/packs/core.openwop.http/pack.json").is_file());

    // A tampered tarball on the server is refused once the cache cannot answer.
    let (_server, _) = serve_static_logged_at(&served, port, Some(&log));
    let target = served.join(format!("v1/packs/core.openwop.http/-/{version}.tgz"));
    let mut bytes = std::fs::read(&target).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0x01;
    std::fs::write(&target, bytes).unwrap();
    std::fs::remove_dir_all(d.join("cache")).unwrap();
    pack.fails(&["--json", "install", "--host-dir", "host"], 1, "pack_integrity_mismatch");
    assert!(d.join("host/packs/core.openwop.http/pack.json").is_file(), "the previous install is intact");

    // A pack index that is not JSON: resolution loads the requested packs side by side before it
    // starts, and the failure reaches the user as that pack's registry error, nothing installed.
    std::fs::write(served.join("v1/packs/core.openwop.a2a/index.json"), b"{not json").unwrap();
    let refused = pack.fails(
        &["--json", "install", "core.openwop.http@^1", "core.openwop.a2a@^1", "--host-dir", "host-broken"],
        2,
        "pack_registry_error",
    );
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("core.openwop.a2a/index.json") && message.contains("not JSON"), "{refused}");
    assert!(!d.join("host-broken/packs").exists(), "nothing installed");

    // A listed version whose manifest is unreadable (a mirror still catching up, a broken file)
    // is skipped for the next one that fits, and its manifest is asked for once.
    let next = ones[ones.len() - 2].to_string();
    std::fs::write(served.join(format!("v1/packs/core.openwop.http/-/{version}.json")), b"<html>busy</html>").unwrap();
    std::fs::remove_dir_all(d.join("cache")).unwrap();
    let logged = std::fs::read_to_string(&log).unwrap().len();
    let out = pack.ok(&["--json", "install", "core.openwop.http@^1", "--host-dir", "host-lag"]);
    assert_eq!(out["packs"][0]["version"], next.as_str(), "{out}");
    let log_text = std::fs::read_to_string(&log).unwrap();
    let mut manifests = manifest_requests(&log_text[logged..]);
    manifests.sort();
    let mut expected = vec![next.as_str(), version.as_str()];
    expected.sort();
    assert_eq!(manifests, expected, "{}", &log_text[logged..]);
}

/// A registry may spell a deprecation three ways (contract §6.1: the reference registry's
/// `deprecated`, the spec's `deprecation: {deprecated, reason, supersededBy}`, v2's
/// `versionDeprecated`), in the pack index or only in the version manifest. Each one makes the
/// install warn with the reason and the successor; an object that says false does not.
#[test]
fn every_spelling_of_a_deprecation_warns_at_install() {
    let Some(fixtures) = std::env::var_os("OPENWOP_FIXTURES") else {
        eprintln!("SKIPPED every_spelling_of_a_deprecation_warns_at_install: OPENWOP_FIXTURES not set");
        return;
    };
    let tree = PathBuf::from(fixtures).join("openwop-registry");
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let served = d.join("tree");
    let pack_dir = "v1/packs/core.openwop.http";
    // The registry's documents and keys, and the one pack.
    copy_tree(&tree, &served, |rel| !rel.starts_with("v1/packs") || rel.starts_with(pack_dir));
    let (_server, base) = serve_static_logged_at(&served, free_port(), None);
    let pack = fixture_consumer(d, &base);
    let index_path = served.join(pack_dir).join("index.json");
    let original_index: Value = serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    // The version `^1` picks: the highest unyanked 1.x.
    let version = original_index["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["yanked"] == false)
        .filter_map(|v| semver::Version::parse(v["version"].as_str()?).ok())
        .filter(|v| v.major == 1)
        .max()
        .unwrap()
        .to_string();
    let manifest_path = served.join(pack_dir).join(format!("-/{version}.json"));
    let original_manifest = std::fs::read(&manifest_path).unwrap();
    let successor = "core.openwop.http@9.0.0";
    let cases: [(&str, Value, Option<Value>, Option<String>); 5] = [
        (
            "reference",
            json!({"deprecated": true, "deprecationReason": "flat", "supersededBy": successor}),
            None,
            Some(format!("is deprecated: flat (superseded by {successor})")),
        ),
        ("v2", json!({"versionDeprecated": true, "deprecationReason": "v2"}), None, Some("is deprecated: v2".into())),
        (
            "spec",
            json!({"deprecation": {"deprecated": true, "reason": "spec", "supersededBy": successor}}),
            None,
            Some(format!("is deprecated: spec (superseded by {successor})")),
        ),
        (
            "index flag, reason in the manifest",
            json!({"deprecated": true}),
            Some(json!({"deprecation": {"deprecated": true, "reason": "from the manifest"}})),
            Some("is deprecated: from the manifest".into()),
        ),
        ("an object that says false", json!({"deprecation": {"deprecated": false, "reason": "no"}}), None, None),
    ];
    for (i, (spelling, entry_fields, manifest_fields, expected)) in cases.into_iter().enumerate() {
        let mut index = original_index.clone();
        for entry in index["versions"].as_array_mut().unwrap() {
            if entry["version"] == version.as_str() {
                let entry = entry.as_object_mut().unwrap();
                entry.remove("deprecated");
                entry.extend(entry_fields.as_object().unwrap().clone());
            }
        }
        std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
        let mut manifest: Value = serde_json::from_slice(&original_manifest).unwrap();
        if let Some(fields) = manifest_fields {
            manifest.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        }
        std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
        let _ = std::fs::remove_dir_all(d.join("cache"));

        let host = format!("host-{i}");
        let out = pack.run(&["--json", "install", "core.openwop.http@^1", "--host-dir", &host]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{spelling}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        // `--json` warnings carry the code beside the message.
        let warnings: Vec<(Value, String)> = stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["reason"] == "warning")
            .filter_map(|l| Some((l["code"].clone(), l["message"].as_str()?.to_string())))
            .collect();
        let expected: Vec<(Value, String)> = expected
            .into_iter()
            .map(|e| (json!("pack_deprecated"), format!("core.openwop.http@{version} {e}")))
            .collect();
        assert_eq!(warnings, expected, "{spelling}");
        assert!(
            d.join(&host).join("packs/core.openwop.http/pack.json").is_file(),
            "{spelling}: deprecated versions install"
        );
    }
}

/// A registry that offers HTTP/2 (TLS, ALPN) gets it: every request is a stream on a few
/// connections, more of them are in flight at once than the 16 connections `pack` opens to a
/// registry that speaks HTTP/1.1 alone (which gets at most 16), and a pack's files are asked for
/// together.
#[test]
fn http2_registries_get_more_requests_in_flight() {
    let Some(fixtures) = std::env::var_os("OPENWOP_FIXTURES") else {
        eprintln!("SKIPPED http2_registries_get_more_requests_in_flight: OPENWOP_FIXTURES not set");
        return;
    };
    let tree = PathBuf::from(fixtures).join("openwop-registry");
    let index: Value = serde_json::from_slice(&std::fs::read(tree.join("v1/index.json")).unwrap()).unwrap();
    // Every pack with a version that is not yanked.
    let names: Vec<String> = index["packs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .filter(|name| {
            let index = std::fs::read(tree.join(format!("v1/packs/{name}/index.json"))).unwrap();
            let index: Value = serde_json::from_slice(&index).unwrap();
            index["versions"].as_array().unwrap().iter().any(|v| v["yanked"] == false)
        })
        .map(str::to_string)
        .take(40)
        .collect();
    // More than 16 at once: the first step alone asks for the 40 pack indexes.
    assert_eq!(names.len(), 40);
    for http2 in [true, false] {
        let work = tempfile::tempdir().unwrap();
        let d = work.path();
        // Long enough that a client on a busy two-core machine still has the requests of a step
        // out before the first answer (at 30 ms a CI run once saw 39 at once for 40 packs).
        let server = serve_static_tls(&tree, &d.join("certs"), http2, Duration::from_millis(120));
        let pack = fixture_consumer(d, &server.base);
        let mut args = vec!["--json", "install", "--host-dir", "host"];
        args.extend(names.iter().map(String::as_str));
        let out = pack.run_with(&args, &[("SSL_CERT_FILE", &server.ca)]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "http2 {http2}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(last_json(&out)["packs"].as_array().map(Vec::len), Some(names.len()), "{stdout}");
        let seen = |n: &std::sync::atomic::AtomicUsize| n.load(std::sync::atomic::Ordering::SeqCst);
        let stats = &server.stats;
        let (h2, h1) = (seen(&stats.http2_requests), seen(&stats.other_requests));
        let (connections, in_flight) = (seen(&stats.connections), seen(&stats.max_in_flight));
        let report = format!("{h2} HTTP/2 and {h1} HTTP/1.1 requests, {connections} connections, {in_flight} at once");
        if http2 {
            assert!(h1 == 0 && h2 > names.len(), "{report}");
            assert!(connections < pack_verify::registry::HTTP_CONCURRENCY, "{report}");
            assert!(in_flight > pack_verify::registry::HTTP_CONCURRENCY, "{report}");
            // More than one request per pack at once: a pack's files are asked for together.
            assert!(in_flight > names.len(), "{report}");
        } else {
            assert!(h2 == 0 && h1 > names.len(), "{report}");
            assert!(in_flight <= pack_verify::registry::HTTP_CONCURRENCY, "{report}");
        }
        eprintln!("http2 {http2}: {report}");
    }
}

/// Copies the files of `tree` that `keep` accepts (by relative path) to `to`: a private copy the
/// test can tamper with.
fn copy_tree(tree: &Path, to: &Path, keep: impl Fn(&Path) -> bool) {
    for (rel, data) in tree_files(tree) {
        if keep(&rel) {
            let p = to.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
    }
}

/// `pack` in `d`, configured for the fixture tree served at `base` with the shipped bundle.
fn fixture_consumer(d: &Path, base: &str) -> Pack {
    let bundle = Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys/openwop-reference-registry.trust.json");
    std::fs::write(
        d.join("pack.toml"),
        format!("registry = \"{base}\"\n[registries.\"{base}\"]\ntrust = \"{}\"\n", bundle.display()),
    )
    .unwrap();
    Pack { dir: d.to_path_buf(), bin: binary("pack-cli", "pack") }
}

/// The versions of `core.openwop.http` whose manifest a static server's access log shows requested.
fn manifest_requests(log: &str) -> Vec<&str> {
    log.lines()
        .filter_map(|line| line.split('"').nth(1)?.strip_prefix("GET /v1/packs/core.openwop.http/-/"))
        .filter_map(|rest| rest.split(' ').next()?.strip_suffix(".json"))
        .filter(|stem| semver::Version::parse(stem).is_ok())
        .collect()
}

/// A primary registry (ours, own root) and a fallback (the public tree, the shipped bundle): each
/// pack comes from the first registry that lists it and is verified with that registry's trust
/// alone; a fallback configured with the wrong registry's trust refuses its packs.
#[test]
fn fallback_registries_keep_their_own_trust() {
    let Some(fixtures) = std::env::var_os("OPENWOP_FIXTURES") else {
        eprintln!("SKIPPED fallback_registries_keep_their_own_trust: OPENWOP_FIXTURES not set");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let pack = Pack { dir: d.to_path_buf(), bin: binary("pack-cli", "pack") };
    let ours = start_our_registry(&pack, d);
    pack.ok(&["--json", "init", "app", "--name", "vendor.acme.app"]);
    pack.ok(&["--json", "publish", "app", "--key", "acme-1.key", "--key-id", "acme-1"]);
    let (_static, fallback) = serve_static(&PathBuf::from(fixtures).join("openwop-registry"));
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys/openwop-reference-registry.trust.json");
    let own = d.join("ops/root/trust.json");
    let config = |fallback_trust: &Path| {
        let primary = std::fs::read_to_string(d.join("pack.toml")).unwrap();
        let primary = primary.split("\nfallback_registries").next().unwrap().to_string();
        format!(
            "fallback_registries = [\"{fallback}\"]\n{primary}\n[registries.\"{fallback}\"]\ntrust = \"{}\"\n",
            fallback_trust.display()
        )
    };
    let primary_config = std::fs::read_to_string(d.join("pack.toml")).unwrap();
    std::fs::write(d.join("pack.toml"), config(&reference)).unwrap();
    pack.ok(&["--json", "install", "vendor.acme.app@^0.1", "core.openwop.http@^1", "--host-dir", "host"]);
    let lock: Value = serde_json::from_slice(&std::fs::read(d.join("host/pack-lock.json")).unwrap()).unwrap();
    assert_eq!(lock["registry"], ours.base.as_str());
    assert_eq!(lock["fallbackRegistries"], json!([fallback.as_str()]));
    let resolved = |name: &str| {
        lock["packs"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap()["resolved"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(resolved("core.openwop.http").starts_with(&format!("{fallback}/")), "{lock}");
    assert!(resolved("vendor.acme.app").starts_with(&format!("{}/", ours.base)), "{lock}");

    // The fallback with our root's bundle instead of its own: its packs no longer verify.
    std::fs::write(d.join("pack.toml"), primary_config.clone()).unwrap();
    std::fs::write(d.join("pack.toml"), config(&own)).unwrap();
    std::fs::remove_dir_all(d.join("cache")).unwrap();
    let out = pack.run(&["--json", "install", "--host-dir", "host"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let last = last_json(&out);
    assert!(
        ["pack_key_unknown", "trust_keychain_invalid", "registry_statement_missing"]
            .contains(&last["error"].as_str().unwrap_or_default()),
        "{last}"
    );
}

/// A proxy in front of `target` that rewrites the mirror status on the way: the payload's
/// `lastSuccessfulSync` values become "now" while the signature stays (a stale mirror, or a man
/// in the middle, faking freshness).
const TAMPERING_PROXY: &str = r#"
import base64, datetime, http.server, json, sys, urllib.error, urllib.request
port, target = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        try:
            with urllib.request.urlopen(target + self.path) as r:
                code, ctype, body = r.status, r.headers.get("content-type", ""), r.read()
        except urllib.error.HTTPError as e:
            code, ctype, body = e.code, e.headers.get("content-type", ""), e.read()
        if self.path.endswith("/mirror/status.json") and code == 200:
            env = json.loads(body)
            doc = json.loads(base64.b64decode(env["payload"]))
            now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            for u in doc["upstreams"]:
                u["lastSuccessfulSync"] = now
            env["payload"] = base64.b64encode(json.dumps(doc).encode()).decode()
            body = json.dumps(env).encode()
        self.send_response(code)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
"#;

/// `pack install --max-staleness` against a mirror (registry-server in mirror mode in front of
/// our registry): a fresh mirror passes; once the upstream is gone and the last successful sync
/// is older than the limit the install is refused with `mirror_stale` and writes nothing; a
/// status document altered on the way is refused with `mirror_status_invalid`. The client checks
/// the status with a `registry` key of the trust it uses for the mirror: the root-signed keychain
/// the mirror serves, or a pinned bundle key with `"roles": ["registry"]`.
#[test]
fn max_staleness_refuses_stale_and_tampered_mirrors() {
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let pack = Pack { dir: d.to_path_buf(), bin: binary("pack-cli", "pack") };
    let server_bin = binary("registry-server", "registry-server");
    let mut upstream = start_our_registry(&pack, d);
    pack.ok(&["--json", "init", "app", "--name", "vendor.acme.app"]);
    pack.ok(&["--json", "publish", "app", "--key", "acme-1.key", "--key-id", "acme-1"]);

    // The upstream's operator vouches for the mirror's status key: a newer keychain, signed by the
    // same root, adds `mirror-1` with the `registry` role. (Version statements name the upstream
    // registry, so a client verifies mirrored bytes with the upstream's root; the mirror serves
    // this keychain.)
    let mirror_id = "https://mirror.example.com";
    pack.ok(&["--json", "keygen", "--name", "mirror-1"]);
    let spec = json!({"registry": "https://packs.example.com", "version": 2, "keys": [
        {"keyId": "acme-1", "publicKeyFile": "acme-1.pub", "roles": ["publisher"], "permittedNamespaces": ["vendor.acme.*"]},
        {"keyId": "registry-1", "publicKeyFile": "registry-1.pub", "roles": ["registry"]},
        {"keyId": "mirror-1", "publicKeyFile": "mirror-1.pub", "roles": ["registry"]}]});
    sign_keychain(&pack.bin, d, &spec, "mirror-keychain.json", "mirror-keychain.signed.json");
    std::fs::write(
        d.join("mirror.toml"),
        format!(
            "[mirror]\nurl = \"{mirror_id}\"\ntimeout_secs = 2\nretries = 0\n\
             [[mirror.upstreams]]\nname = \"up\"\nurl = \"{}\"\ntrust = \"{}\"\ninclude = [\"vendor.acme.*\"]\n",
            upstream.base,
            d.join("ops/root/trust.json").display()
        ),
    )
    .unwrap();
    let server = |args: &[&str]| {
        Command::new(&server_bin).current_dir(d).arg("--config").arg(d.join("mirror.toml")).args(args).output().unwrap()
    };
    let out = server(&["token", "create", "--data-dir", "mdata", "--principal", "ops", "--scope", "admin"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let admin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let out = server(&["mirror", "sync", "--data-dir", "mdata"]);
    assert!(out.status.success(), "first sync: {}", String::from_utf8_lossy(&out.stderr));
    let port = free_port();
    let mirror_base = format!("http://127.0.0.1:{port}");
    let _mirror = Proc(
        Command::new(&server_bin)
            .current_dir(d)
            .arg("--config")
            .arg(d.join("mirror.toml"))
            .args(["serve", "--data-dir", "mdata", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--trust", "ops/root/trust.json", "--statement-key", "mirror-1.key"])
            .args(["--statement-key-id", "mirror-1"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(&format!("{mirror_base}/readyz"));
    put_keychain(&mirror_base, &admin, &d.join("mirror-keychain.signed.json"));

    // The consumer uses the mirror only, with the upstream's pinned root.
    let use_registry = |base: &str, trust: &Path| {
        std::fs::write(
            d.join("pack.toml"),
            format!("registry = \"{base}\"\n[registries.\"{base}\"]\ntrust = \"{}\"\n", trust.display()),
        )
        .unwrap();
    };
    let rooted = d.join("ops/root/trust.json");
    use_registry(&mirror_base, &rooted);
    let out = pack.ok(&["--json", "install", "vendor.acme.app@^0.1", "--host-dir", "host", "--max-staleness", "1h"]);
    assert_eq!(out["packs"][0]["name"], "vendor.acme.app", "{out}");
    assert!(d.join("host/packs/vendor.acme.app/pack.json").is_file());

    // A pinned bundle states the status key's role; without it the status cannot be trusted.
    let pem = |name: &str| std::fs::read_to_string(d.join(name)).unwrap();
    let pinned = |status_roles: Value| {
        json!({"openwopTrustBundle": 1, "registry": mirror_id, "keys": [
            {"keyId": "acme-1", "algorithm": "ed25519", "publicKey": pem("acme-1.pub"),
             "permittedNamespaces": ["vendor.acme.*"], "status": "active"},
            {"keyId": "mirror-1", "algorithm": "ed25519", "publicKey": pem("mirror-1.pub"),
             "permittedNamespaces": [], "status": "active", "roles": status_roles}]})
    };
    std::fs::write(d.join("pinned.trust.json"), pinned(json!(["registry"])).to_string()).unwrap();
    std::fs::write(d.join("pinned-no-role.trust.json"), pinned(json!([])).to_string()).unwrap();
    use_registry(&mirror_base, &d.join("pinned.trust.json"));
    pack.ok(&["--json", "install", "vendor.acme.app@^0.1", "--host-dir", "host-pinned", "--max-staleness", "1h"]);
    use_registry(&mirror_base, &d.join("pinned-no-role.trust.json"));
    let refused = pack.fails(
        &["--json", "install", "vendor.acme.app@^0.1", "--host-dir", "host-x", "--max-staleness", "1h"],
        1,
        "mirror_status_invalid",
    );
    assert!(refused["message"].as_str().unwrap().contains("mirror-1"), "{refused}");
    assert!(!d.join("host-x").exists());
    use_registry(&mirror_base, &rooted);

    // The upstream goes away: a sync now fails and the last success ages.
    let _ = upstream.server.0.kill();
    let _ = upstream.server.0.wait();
    let out = server(&["mirror", "sync", "--data-dir", "mdata"]);
    assert!(!out.status.success(), "a sync with the upstream down must fail");
    std::thread::sleep(Duration::from_secs(3));
    let before = tree_files(&d.join("host"));
    let refused = pack.fails(&["--json", "install", "--host-dir", "host", "--max-staleness", "2s"], 1, "mirror_stale");
    assert!(refused["message"].as_str().unwrap().contains("`up`"), "{refused}");
    assert_eq!(tree_files(&d.join("host")), before, "a refused install writes nothing into the host dir");
    pack.fails(
        &["--json", "install", "vendor.acme.app@^0.1", "--host-dir", "host-new", "--max-staleness", "2s"],
        1,
        "mirror_stale",
    );
    assert!(!d.join("host-new").exists(), "nothing written for a new host dir either");
    // Within a looser limit the mirror still serves what it has.
    pack.ok(&["--json", "install", "--host-dir", "host", "--max-staleness", "1h"]);

    // A status rewritten on the way to look fresh: its signature no longer verifies.
    let proxy_port = free_port();
    let proxy_base = format!("http://127.0.0.1:{proxy_port}");
    let _proxy = Proc(
        Command::new("python3")
            .args(["-c", TAMPERING_PROXY, &proxy_port.to_string(), &mirror_base])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 is needed for the proxy"),
    );
    wait_for(&format!("{proxy_base}/readyz"));
    use_registry(&proxy_base, &rooted);
    let before = tree_files(&d.join("host"));
    let refused = pack.fails(
        &["--json", "install", "vendor.acme.app@^0.1", "--host-dir", "host", "--max-staleness", "2s"],
        1,
        "mirror_status_invalid",
    );
    assert!(refused["message"].as_str().unwrap().contains("does not verify"), "{refused}");
    assert_eq!(tree_files(&d.join("host")), before);
}

//! `pack bundle` and `registry-server import-bundle` end to end: publish to a registry with our
//! own root, install to get a lockfile, bundle it, stop that registry, import the bundle into a
//! fresh one pinned to the same trust, and install from that mirror with a fresh cache; tampered
//! bundles (tarball, signature, trust bundle) and hostile tar entries are refused with nothing
//! written.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

#[path = "../common/mod.rs"]
mod common;

use common::*;

fn server_bin() -> PathBuf {
    binary("registry-server", "registry-server")
}

/// `registry-server import-bundle` into `data` (relative to `d`).
fn import(d: &Path, data: &str, bundle: &Path, extra: &[&str]) -> Output {
    Command::new(server_bin())
        .current_dir(d)
        .args(["import-bundle"])
        .arg(bundle)
        .args(["--data-dir", data])
        .args(extra)
        .output()
        .unwrap()
}

fn serve(d: &Path, data: &str, port: u16) -> Proc {
    let base = format!("http://127.0.0.1:{port}");
    let p = Proc(
        Command::new(server_bin())
            .current_dir(d)
            .args(["serve", "--data-dir", data, "--listen", &format!("127.0.0.1:{port}")])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(&format!("{base}/readyz"));
    p
}

/// Rewrites one entry of a (plain) bundle, keeping every other byte.
fn rewrite(bundle: &Path, out: &Path, path_suffix: &str, edit: &dyn Fn(&mut Vec<u8>)) {
    let bytes = std::fs::read(bundle).unwrap();
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut builder = tar::Builder::new(Vec::new());
    let mut hit = false;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        if path.ends_with(path_suffix) {
            edit(&mut data);
            hit = true;
        }
        let mut header = entry.header().clone();
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data.as_slice()).unwrap();
    }
    assert!(hit, "no entry ends with {path_suffix}");
    std::fs::write(out, builder.into_inner().unwrap()).unwrap();
}

fn assert_empty_registry(d: &Path, data: &str) {
    // A refused import writes no version: a registry served from that data dir lists nothing.
    let port = free_port();
    let _p = serve(d, data, port);
    let index: Value = serde_json::from_slice(
        &reqwest::blocking::get(format!("http://127.0.0.1:{port}/v1/index.json")).unwrap().bytes().unwrap(),
    )
    .unwrap();
    assert_eq!(index["packs"], json!([]), "{index}");
}

#[test]
fn bundle_round_trip_and_refusals() {
    let pack_bin = binary("pack-cli", "pack");
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let pack = Pack { dir: d.to_path_buf(), bin: pack_bin };
    let registry = start_our_registry(&pack, d);
    let base = registry.base.clone();
    let publish = |name: &str, dir: &str, version: &str, deps: Value| {
        pack.ok(&["--json", "init", dir, "--name", name, "--version", version]);
        let pj = d.join(dir).join("pack.json");
        let mut manifest: Value = serde_json::from_slice(&std::fs::read(&pj).unwrap()).unwrap();
        manifest["dependencies"] = deps;
        std::fs::write(&pj, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
        pack.ok(&["--json", "publish", dir, "--key", "acme-1.key", "--key-id", "acme-1"]);
    };
    publish("vendor.acme.base", "base-1", "0.1.0", json!({}));
    publish("vendor.acme.app", "app", "1.0.0", json!({"vendor.acme.base": "^0.1"}));
    pack.ok(&["--json", "install", "vendor.acme.app@^1", "--host-dir", "host"]);
    let lock_bytes = std::fs::read(d.join("host/pack-lock.json")).unwrap();

    // Bundle online, and again from the cache: same files (SOURCE_DATE_EPOCH pins createdAt).
    let bundle = |args: &[&str]| {
        let out = Command::new(&pack.bin)
            .current_dir(d)
            .env("OPENWOP_PACK_CONFIG", d.join("pack.toml"))
            .env("PACK_CACHE_DIR", d.join("cache"))
            .env("SOURCE_DATE_EPOCH", "1795000000")
            .args(["--json", "bundle", "--lockfile", "host/pack-lock.json"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        last_json(&out)
    };
    let summary = bundle(&["-o", "bundle.tar"]);
    assert_eq!(summary["packs"], 2, "{summary}");
    assert_eq!(summary["registries"], json!([base]));
    let again = bundle(&["-o", "bundle-again.tar"]);
    assert_eq!(again["sha256"], summary["sha256"], "the same lockfile gives the same bytes");
    // From the cache alone (discovery and advisories are then built locally, not fetched).
    let offline = bundle(&["-o", "bundle-offline.tar", "--offline"]);
    assert_eq!(offline["packs"], 2, "{offline}");
    let tar_path = d.join("bundle.tar");
    let files = pack_verify::tarball::read_archive(&std::fs::read(&tar_path).unwrap(), &Default::default()).unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for expected in [
        "bundle.json",
        "registries/0/.well-known/openwop-registry.json",
        "registries/0/keys/keychain.json",
        "registries/0/keys/acme-1.pub",
        "registries/0/v1/index.json",
        "registries/0/v1/packs/vendor.acme.app/-/1.0.0.tgz",
        "registries/0/v1/packs/vendor.acme.app/-/1.0.0.statement.json",
        "registries/0/v1/packs/vendor.acme.base/index.json",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }

    // The source registry goes away.
    drop(registry);

    // Refusals first (each into its own data dir, which stays empty).
    let trust = d.join("ops/root/trust.json");
    let trust_arg = trust.display().to_string();
    let refused = |bundle: &Path, data: &str, extra: &[&str], code: &str| {
        let out = import(d, data, bundle, extra);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "import of {} succeeded", bundle.display());
        assert!(err.contains(&format!("error[{code}]")), "expected {code}: {err}");
        assert_empty_registry(d, data);
    };
    // No pin at all: refused unless the operator accepts the bundled trust explicitly.
    refused(&tar_path, "data-nopin", &[], "invalid_configuration");
    // One tarball byte flipped.
    rewrite(&tar_path, &d.join("bad-tgz.tar"), "vendor.acme.base/-/0.1.0.tgz", &|b| {
        let mid = b.len() / 2;
        b[mid] ^= 1;
    });
    refused(&d.join("bad-tgz.tar"), "data-tgz", &["--trust", &trust_arg], "invalid_document");
    // One signature byte flipped.
    rewrite(&tar_path, &d.join("bad-sig.tar"), "vendor.acme.app/-/1.0.0.sig", &|b| b[0] ^= 1);
    refused(&d.join("bad-sig.tar"), "data-sig", &["--trust", &trust_arg], "invalid_document");
    // A trust bundle swapped for another root: not what the operator pinned.
    pack.ok(&["--json", "keys", "root-init", "--registry", "https://packs.example.com", "--out-dir", "evil"]);
    let evil: Value = serde_json::from_slice(&std::fs::read(d.join("evil/trust.json")).unwrap()).unwrap();
    rewrite(&tar_path, &d.join("bad-trust.tar"), "bundle.json", &|b| {
        let mut doc: Value = serde_json::from_slice(b).unwrap();
        doc["registries"][0]["trust"] = evil.clone();
        *b = serde_json::to_vec_pretty(&doc).unwrap();
    });
    refused(&d.join("bad-trust.tar"), "data-trust", &["--trust", &trust_arg], "bundle_trust_mismatch");
    // Hostile tar entries.
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.as_old_mut().name[..9].copy_from_slice(b"../escape");
    header.set_size(1);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append(&header, &b"x"[..]).unwrap();
    std::fs::write(d.join("hostile.tar"), builder.into_inner().unwrap()).unwrap();
    refused(&d.join("hostile.tar"), "data-hostile", &["--accept-bundled-trust"], "tarball_path_traversal");
    assert!(!d.join("escape").exists());

    // The real import, pinned to the operator's trust bundle, then served read-only on the
    // source's address (the air-gapped network's name for it): the lockfile stays valid as is.
    let out = import(d, "mirror", &tar_path, &["--trust", &trust_arg]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 2 versions"));
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let _mirror = serve(d, "mirror", port);

    // The air-gapped side has its own tokens (none here): the source registry's token is not
    // valid on the mirror, and a registry answers an unknown token with 401 even on reads.
    let config = std::fs::read_to_string(d.join("pack.toml")).unwrap();
    let config: String = config.lines().filter(|l| !l.starts_with("token")).map(|l| format!("{l}\n")).collect();
    std::fs::write(d.join("pack.toml"), config).unwrap();

    // A fresh host, a fresh cache: `--locked` installs exactly the lockfile from the mirror.
    std::fs::create_dir_all(d.join("new")).unwrap();
    std::fs::write(d.join("new/pack-lock.json"), &lock_bytes).unwrap();
    std::fs::copy(d.join("host/openwop-packs.json"), d.join("new/openwop-packs.json")).unwrap();
    std::fs::remove_dir_all(d.join("cache")).unwrap();
    pack.ok(&["--json", "install", "--host-dir", "new", "--locked"]);
    assert_eq!(std::fs::read(d.join("new/pack-lock.json")).unwrap(), lock_bytes);
    assert!(d.join("new/packs/vendor.acme.app/pack.json").is_file());
    assert!(d.join("new/packs/vendor.acme.base/pack.json").is_file());
    // …and from then on the cache alone: --frozen needs no network at all.
    pack.ok(&["--json", "install", "--host-dir", "new", "--frozen"]);
}

/// With OPENWOP_FIXTURES: bundle a real pack of the public tree served by a plain static server,
/// verified with the shipped reference bundle.
#[test]
fn bundle_a_real_pack_from_the_fixture_tree() {
    let Some(fixtures) = std::env::var_os("OPENWOP_FIXTURES") else {
        eprintln!("SKIPPED bundle_a_real_pack_from_the_fixture_tree: OPENWOP_FIXTURES not set");
        return;
    };
    let tree = PathBuf::from(fixtures).join("openwop-registry");
    let pack_bin = binary("pack-cli", "pack");
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let pack = Pack { dir: d.to_path_buf(), bin: pack_bin };
    let (_static, base) = openwop_test_support::serve_static(&tree);
    let reference = d.join("reference.trust.json");
    std::fs::write(&reference, pack_verify::trust::bundle::REFERENCE_BUNDLE).unwrap();
    std::fs::write(
        d.join("pack.toml"),
        format!("registry = \"{base}\"\n[registries.\"{base}\"]\ntrust = \"{}\"\n", reference.display()),
    )
    .unwrap();
    pack.ok(&["--json", "install", "core.openwop.http@1.0.0", "--host-dir", "host"]);
    let summary = pack.ok(&["--json", "bundle", "--lockfile", "host/pack-lock.json", "-o", "real.tar.gz"]);
    assert!(summary["packs"].as_u64().unwrap() >= 1, "{summary}");
    let files = pack_verify::tarball::read_archive(&std::fs::read(d.join("real.tar.gz")).unwrap(), &Default::default())
        .unwrap();
    assert!(files.iter().any(|f| f.path == "registries/0/v1/packs/core.openwop.http/-/1.0.0.tgz"));
    // The bundle imports into a fresh registry pinned to the shipped reference bundle.
    let out = import(d, "mirror", &d.join("real.tar.gz"), &["--trust", &reference.display().to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

//! End to end: a registry-server serving the imported reference tree over HTTP, checked by the
//! `pack-verify` and `pack` binaries exactly as a host and a publisher would run them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use pack_verify::trust::bundle::TrustBundle;
use registry_server::import::{ImportOptions, import_tree};
use registry_server::storage::Storage;
use registry_server::{Config, Registry};
use serde_json::Value;

/// A workspace binary, built on demand (`cargo test -p openwop-e2e` alone does not build other
/// packages' binaries).
fn binary(package: &str, name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap().to_path_buf();
    let path = profile_dir.join(name);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", package, "--bin", name]);
    if profile_dir.ends_with("release") {
        cmd.arg("--release");
    }
    let status = cmd.status().unwrap();
    assert!(status.success(), "building {name} failed");
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// Imports the fixture tree into a fresh embedded registry and serves it on a loopback port.
fn serve_fixture_registry(tree: &std::path::Path, data: &std::path::Path) -> (String, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let base = runtime.block_on(async {
        let storage = Storage::open(&Config::embedded(data)).await.unwrap();
        let options = ImportOptions { bundle: TrustBundle::reference().unwrap(), skip_verification: false };
        let summary = import_tree(&storage, tree, options).await.unwrap();
        assert_eq!(summary.imported, 241);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = registry_server::api::router(Registry::new(storage));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    });
    (base, runtime)
}

fn fixture_tree() -> Option<PathBuf> {
    match std::env::var_os("OPENWOP_FIXTURES") {
        Some(dir) => Some(PathBuf::from(dir).join("openwop-registry")),
        None => {
            eprintln!("SKIPPED e2e: OPENWOP_FIXTURES not set (run with OPENWOP_FIXTURES=../shared/fixtures)");
            None
        }
    }
}

#[test]
fn hosts_verify_the_served_registry_and_a_downloaded_pack() {
    let Some(tree) = fixture_tree() else { return };
    let pack_verify = binary("pack-verify", "pack-verify");
    let pack = binary("pack-cli", "pack");
    let data = tempfile::tempdir().unwrap();
    let (base, _runtime) = serve_fixture_registry(&tree, data.path());

    // Every version, fetched over HTTP from our server, verifies with the shipped bundle.
    let out = Command::new(&pack_verify).args(["registry", &base, "--json"]).output().unwrap();
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success(), "{report}");
    assert_eq!(report["verified"], 241);
    assert_eq!(report["failed"], 0);
    assert_eq!(report["results"].as_array().unwrap().len(), 241);

    // A host downloads one version's three files and verifies them with `pack verify`.
    let dl = tempfile::tempdir().unwrap();
    let client = reqwest::blocking::Client::new();
    for ext in ["json", "tgz", "sig"] {
        let bytes = client.get(format!("{base}/v1/packs/core.openwop.http/-/1.0.0.{ext}")).send().unwrap();
        assert_eq!(bytes.status(), 200, "{ext}");
        std::fs::write(dl.path().join(format!("v.{ext}")), bytes.bytes().unwrap()).unwrap();
    }
    let verify = |tgz: &str| {
        Command::new(&pack)
            .current_dir(dl.path())
            .args(["--json", "verify", tgz, "--sig", "v.sig", "--manifest", "v.json"])
            .output()
            .unwrap()
    };
    let out = verify("v.tgz");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));

    // The same bytes with one flipped: refused with the integrity code, exit 1.
    let mut tgz = std::fs::read(dl.path().join("v.tgz")).unwrap();
    let last = tgz.len() - 1;
    tgz[last] ^= 0x80;
    std::fs::write(dl.path().join("bad.tgz"), tgz).unwrap();
    let out = verify("bad.tgz");
    assert_eq!(out.status.code(), Some(1));
    let last_line = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_string();
    let result: Value = serde_json::from_str(&last_line).unwrap();
    assert_eq!(result["error"], "pack_integrity_mismatch", "{result}");
}

//! End to end: a registry-server serving the imported reference tree over HTTP, checked by the
//! `pack-verify` and `pack` binaries exactly as a host and a publisher would run them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hostile;

use std::path::PathBuf;
use std::process::Command;

use pack_verify::trust::bundle::TrustBundle;
use registry_server::import::{ImportOptions, import_tree};
use registry_server::storage::Storage;
use registry_server::{Config, Registry};
use serde_json::Value;

use openwop_test_support::{binary, free_port, operator_keychain, put_keychain, serve_operated_registry};

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

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// An operator sets up a registry with its own root, a publisher builds and publishes with the
/// `pack` CLI, and a host verifies the live registry with `pack-verify` against the root alone.
#[test]
fn operator_publisher_and_host_with_our_own_root() {
    let pack = binary("pack-cli", "pack");
    let pack_verify = binary("pack-verify", "pack-verify");
    let server_bin = binary("registry-server", "registry-server");
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let in_dir = |bin: &PathBuf| {
        let mut c = Command::new(bin);
        c.current_dir(d);
        c
    };
    let registry_id = "https://packs.example.com";

    // Operator: an offline root, a statement key, a keychain naming the publisher's key.
    operator_keychain(&pack, d, registry_id, &[("acme-1", "vendor.acme.*")]);
    let storage = ["--data-dir", "data"];
    let admin = run(in_dir(&server_bin).args(["token", "create"]).args(storage).args([
        "--principal",
        "ops",
        "--scope",
        "admin",
    ]));
    let acme = run(in_dir(&server_bin).args(["token", "create"]).args(storage).args([
        "--principal",
        "acme",
        "--namespace",
        "vendor.acme.*",
        "--scope",
        "publish",
    ]));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = serve_operated_registry(d, port);
    put_keychain(&base, admin.trim(), &d.join("keychain.signed.json"));
    let client = reqwest::blocking::Client::new();

    // Publisher: init, build, publish.
    run(in_dir(&pack).args(["init", "my-pack", "--name", "vendor.acme.tools"]));
    run(in_dir(&pack).args(["build", "my-pack", "--key", "acme-1.key", "--key-id", "acme-1"]));
    let tgz = std::fs::read(d.join("vendor.acme.tools-0.1.0.tgz")).unwrap();
    let resp = client
        .put(format!("{base}/v1/packs/vendor.acme.tools/-/0.1.0.tgz"))
        .bearer_auth(acme.trim())
        .header("content-type", "application/gzip")
        .body(tgz.clone())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().unwrap_or_default());
    // The registry serves the detached signature the CLI wrote, byte for byte.
    let sig = client.get(format!("{base}/v1/packs/vendor.acme.tools/-/0.1.0.sig")).send().unwrap().bytes().unwrap();
    assert_eq!(sig[..], std::fs::read(d.join("vendor.acme.tools-0.1.0.sig")).unwrap()[..]);

    // Host: the live registry verifies against the pinned root alone (keychain fetched, statements
    // required), and a bundle pinning another root refuses it.
    let out = Command::new(&pack_verify)
        .args(["registry", &base, "--trust"])
        .arg(d.join("ops/root/trust.json"))
        .arg("--json")
        .output()
        .unwrap();
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success(), "{report}");
    assert_eq!((report["verified"].clone(), report["failed"].clone()), (serde_json::json!(1), serde_json::json!(0)));
    run(in_dir(&pack).args(["keys", "root-init", "--registry", registry_id, "--out-dir", "other-root"]));
    let out = Command::new(&pack_verify)
        .args(["registry", &base, "--trust"])
        .arg(d.join("other-root/trust.json"))
        .arg("--json")
        .output()
        .unwrap();
    assert!(!out.status.success(), "a registry signed under another root must not verify");
}

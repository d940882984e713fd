//! Support for tests that run the workspace's binaries as processes (`pack-cli`'s suites and the
//! `tests/` end-to-end crate): one place for building a binary on demand, killing children when
//! a test ends (also when it panics), picking a free port and waiting for a server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

mod tls;
pub use tls::{TlsStatic, TlsStats, serve_static_tls};

/// Path of workspace binary `name` from `package`, built first: `cargo test -p X` does not build
/// other packages' binaries, and a stale one must never be tested, so `cargo build` always runs
/// (a no-op when nothing changed), into the profile directory of the running test.
pub fn binary(package: &str, name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps").to_path_buf();
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--quiet", "-p", package, "--bin", name]);
    if profile_dir.ends_with("release") {
        cmd.arg("--release");
    }
    assert!(cmd.status().expect("cargo runs").success(), "building {name} failed");
    let path = profile_dir.join(name);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// A child process that is killed and reaped when dropped.
#[derive(Debug)]
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port").local_addr().expect("its address").port()
}

/// Waits up to 10 s for `url` to answer with a success status.
pub fn wait_for(url: &str) {
    for _ in 0..200 {
        if reqwest::blocking::get(url).is_ok_and(|r| r.status().is_success()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{url} did not come up");
}

/// Runs the `pack` binary at `pack` in `dir` and returns its stdout; panics with its output if
/// it fails. For the operator commands, which read no configuration.
pub fn pack_ok(pack: &Path, dir: &Path, args: &[&str]) -> String {
    let out = Command::new(pack).current_dir(dir).args(args).output().expect("pack runs");
    assert!(
        out.status.success(),
        "pack {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes keychain `spec` to `spec_file` in `dir` and signs it with the root made by
/// [`operator_keychain`] (valid 30 days) into `out`.
pub fn sign_keychain(pack: &Path, dir: &Path, spec: &serde_json::Value, spec_file: &str, out: &str) {
    std::fs::write(dir.join(spec_file), spec.to_string()).expect("write the keychain spec");
    let root = "ops/root/openwop-registry-root.key";
    pack_ok(
        pack,
        dir,
        &["keys", "keychain-sign", "--root", root, "--spec", spec_file, "--expires-in-days", "30", "-o", out],
    );
}

/// An operator's set-up with the `pack` CLI in `dir`, as docs/operations.md describes it: an
/// offline root for `registry` (`ops/root/`, with its `trust.json`), the statement key
/// `registry-1`, a key pair per `(keyId, namespace glob)` publisher, and the root-signed keychain
/// listing them all in `keychain.signed.json`. Key files are `<keyId>.key` / `<keyId>.pub`.
pub fn operator_keychain(pack: &Path, dir: &Path, registry: &str, publishers: &[(&str, &str)]) {
    pack_ok(pack, dir, &["keys", "root-init", "--registry", registry, "--out-dir", "ops/root"]);
    let mut keys = Vec::new();
    for (key_id, namespace) in publishers {
        pack_ok(pack, dir, &["keygen", "--name", key_id]);
        keys.push(serde_json::json!({"keyId": key_id, "publicKeyFile": format!("{key_id}.pub"),
            "roles": ["publisher"], "permittedNamespaces": [namespace]}));
    }
    pack_ok(pack, dir, &["keygen", "--name", "registry-1"]);
    keys.push(serde_json::json!({"keyId": "registry-1", "publicKeyFile": "registry-1.pub", "roles": ["registry"]}));
    sign_keychain(
        pack,
        dir,
        &serde_json::json!({"registry": registry, "keys": keys}),
        "keychain.json",
        "keychain.signed.json",
    );
}

/// Starts `registry-server` in `dir` as [`operator_keychain`] left it: data in `data/`, publishes
/// checked against `ops/root/trust.json`, statements signed with `registry-1`. Returns once
/// `/readyz` answers on `port`.
pub fn serve_operated_registry(dir: &Path, port: u16) -> Proc {
    let server = Proc(
        Command::new(binary("registry-server", "registry-server"))
            .current_dir(dir)
            .args(["serve", "--data-dir", "data", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--trust", "ops/root/trust.json", "--statement-key", "registry-1.key"])
            .args(["--statement-key-id", "registry-1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("registry-server starts"),
    );
    wait_for(&format!("http://127.0.0.1:{port}/readyz"));
    server
}

/// Installs the root-signed keychain in `file` on the registry at `base` with an `admin` token;
/// the registry must accept it (201).
pub fn put_keychain(base: &str, admin: &str, file: &Path) {
    let resp = reqwest::blocking::Client::new()
        .put(format!("{base}/keys/keychain.json"))
        .bearer_auth(admin)
        .body(std::fs::read(file).expect("read the signed keychain"))
        .send()
        .expect("PUT /keys/keychain.json");
    let status = resp.status();
    assert_eq!(status, 201, "{}", resp.text().unwrap_or_default());
}

/// Serves `dir` as a plain static file tree (`python3 -m http.server`) on a free loopback port,
/// as the public reference registry is served; returns the process and its base URL once
/// `/v1/index.json` answers.
pub fn serve_static(dir: &Path) -> (Proc, String) {
    serve_static_at(dir, free_port())
}

/// [`serve_static`] on a given port (to restart a server at the URL a lockfile names).
pub fn serve_static_at(dir: &Path, port: u16) -> (Proc, String) {
    serve_static_logged_at(dir, port, None)
}

/// [`serve_static_at`], appending the server's access log (one line per request, naming its
/// path) to `log` when given.
pub fn serve_static_logged_at(dir: &Path, port: u16, log: Option<&Path>) -> (Proc, String) {
    let base = format!("http://127.0.0.1:{port}");
    let stderr = match log {
        Some(log) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the static server's log")
            .into(),
        None => std::process::Stdio::null(),
    };
    let server = Proc(
        Command::new("python3")
            .args(["-u", "-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("python3 is needed for the static file server"),
    );
    wait_for(&format!("{base}/v1/index.json"));
    (server, base)
}

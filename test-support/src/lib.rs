//! Support for tests that run the workspace's binaries as processes (`pack-cli`'s suites and the
//! `tests/` end-to-end crate): one place for building a binary on demand, killing children when
//! a test ends (also when it panics), picking a free port and waiting for a server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

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

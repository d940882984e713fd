//! Test support shared by the `install` and `bundle` suites: workspace binaries built on demand,
//! child processes killed on drop, the `pack` runner, and a registry-server with its own root.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub use openwop_test_support::{
    Proc, binary, free_port, operator_keychain, put_keychain, serve_operated_registry, wait_for,
};

/// Runs `pack` in `dir` with an isolated config and cache.
pub struct Pack {
    pub dir: PathBuf,
    pub bin: PathBuf,
}

impl Pack {
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    /// [`Pack::run`] with more environment variables.
    pub fn run_with(&self, args: &[&str], envs: &[(&str, &Path)]) -> Output {
        Command::new(&self.bin)
            .current_dir(&self.dir)
            .env("OPENWOP_PACK_CONFIG", self.dir.join("pack.toml"))
            .env("XDG_CONFIG_HOME", self.dir.join("xdg"))
            .env("PACK_CACHE_DIR", self.dir.join("cache"))
            .env_remove("OPENWOP_REGISTRY_URL")
            .env_remove("OPENWOP_TOKEN")
            .envs(envs.iter().copied())
            .args(args)
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "pack {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        last_json(&out)
    }

    pub fn fails(&self, args: &[&str], exit: i32, code: &str) -> Value {
        let out = self.run(args);
        let last = last_json(&out);
        assert_eq!(out.status.code(), Some(exit), "pack {args:?}: {last}\n{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(last["error"], code, "pack {args:?}: {last}");
        last
    }
}

pub fn last_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("null")).unwrap_or(Value::Null)
}

pub fn tree_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let data = std::fs::read(&p).unwrap();
                out.push((p.strip_prefix(dir).unwrap().to_path_buf(), data));
            }
        }
    }
    out.sort();
    out
}

/// A running registry-server with our own root, its keychain uploaded, and a consumer config
/// (`pack.toml`) naming it with its trust bundle and a publish token for `vendor.acme.*`.
pub struct OurRegistry {
    pub server: Proc,
    pub dir: PathBuf,
    pub port: u16,
    pub base: String,
}

pub fn start_our_registry(pack: &Pack, d: &Path) -> OurRegistry {
    let server_bin = binary("registry-server", "registry-server");
    let registry_id = "https://packs.example.com";
    // Operator: root, keychain with a publisher key for vendor.acme.* and a statement key.
    operator_keychain(&pack.bin, d, registry_id, &[("acme-1", "vendor.acme.*")]);
    let token = |args: &[&str]| {
        let out = Command::new(&server_bin)
            .current_dir(d)
            .args(["token", "create", "--data-dir", "data"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let admin = token(&["--principal", "ops", "--scope", "admin"]);
    let acme = token(&["--principal", "acme", "--namespace", "vendor.acme.*", "--scope", "publish,yank,yank-revert"]);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = serve_operated_registry(d, port);
    put_keychain(&base, &admin, &d.join("keychain.signed.json"));

    // The consumer's config: this registry, its trust bundle, the publisher's token.
    std::fs::write(
        d.join("pack.toml"),
        format!(
            "registry = \"{base}\"\n[registries.\"{base}\"]\ntrust = \"{}\"\ntoken = \"{acme}\"\n",
            d.join("ops/root/trust.json").display()
        ),
    )
    .unwrap();

    OurRegistry { server, dir: d.to_path_buf(), port, base }
}

impl OurRegistry {
    /// Restarts the server process (its in-memory caches start empty; storage is kept).
    pub fn restart(&mut self) {
        let _ = self.server.0.kill();
        let _ = self.server.0.wait();
        self.server = serve_operated_registry(&self.dir, self.port);
    }
}

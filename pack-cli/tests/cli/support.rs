//! Running the binary and building throwaway packs.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The result of one run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns self.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// The last JSON line on stdout (the result or the error).
    #[track_caller]
    pub fn json(&self) -> Value {
        let line = self.stdout.lines().last().unwrap_or_else(|| panic!("no stdout; stderr:\n{}", self.stderr));
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Asserts a failure with `exit` and, in `--json` output, the error `code`.
    #[track_caller]
    pub fn fails_with(&self, exit: i32, code: &str) -> Value {
        assert_eq!(self.code, exit, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        let json = self.json();
        assert_eq!(json["reason"], "error");
        assert_eq!(json["error"], code, "{json}");
        assert!(!json["hint"].as_str().unwrap_or("").is_empty(), "every error has a hint: {json}");
        json
    }
}

/// Runs `pack` with `args` in `cwd`.
pub fn pack(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_pack")).args(args).current_dir(cwd).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temporary working directory.
pub fn workdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A publisher's set-up: key `acme-1`, pack `my-pack` (vendor.acme.tools 0.1.0), built in `dir`.
pub struct Published {
    pub tarball: PathBuf,
    pub signature: PathBuf,
}

pub const NAME: &str = "vendor.acme.tools";
pub const TGZ: &str = "vendor.acme.tools-0.1.0.tgz";
pub const SIG: &str = "vendor.acme.tools-0.1.0.sig";

pub fn publish(dir: &Path) -> Published {
    pack(dir, &["keygen", "--name", "acme-1"]).ok();
    pack(dir, &["init", "my-pack", "--name", NAME]).ok();
    pack(dir, &["build", "my-pack", "--key", "acme-1.key", "--key-id", "acme-1"]).ok();
    Published { tarball: dir.join(TGZ), signature: dir.join(SIG) }
}

/// The version manifest a registry would serve for a tarball: its pack.json plus `integrity`
/// and any `extra` fields.
pub fn manifest_for(tgz: &[u8], extra: Value) -> Vec<u8> {
    let archive = pack_verify::tarball::read_pack(tgz, &Default::default()).unwrap();
    let mut value: Value = serde_json::from_slice(archive.pack_json()).unwrap();
    value["integrity"] = Value::from(pack_verify::Integrity::of(tgz).to_string());
    if let (Value::Object(obj), Value::Object(more)) = (&mut value, extra) {
        obj.extend(more);
    }
    serde_json::to_vec(&value).unwrap()
}

/// The fixture tree, or `None` with a loud message when `OPENWOP_FIXTURES` is unset.
pub fn fixtures(test: &str) -> Option<PathBuf> {
    match std::env::var_os("OPENWOP_FIXTURES") {
        Some(dir) => {
            let path = PathBuf::from(dir);
            assert!(path.join("openwop-registry/v1/index.json").is_file(), "OPENWOP_FIXTURES has no registry tree");
            Some(path)
        }
        None => {
            eprintln!("SKIPPED: OPENWOP_FIXTURES not set ({test}; point it at ../shared/fixtures)");
            None
        }
    }
}

//! `pack publish`, `yank`, `deprecate`, `advisory`, `info`, `search` and `login` against a real
//! `registry-server` process with its own root, keychain and tokens.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::Run;

pub use openwop_test_support::binary;

/// Runs `pack` in `dir` with a hermetic environment: the config file and XDG directory inside
/// `dir`, no inherited registry or token, plus `env`.
pub fn pack_in(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pack"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("OPENWOP_TOKEN")
        .env_remove("OPENWOP_REGISTRY_URL")
        .env("OPENWOP_PACK_CONFIG", dir.join("config/pack.toml"))
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env("HOME", dir.join("home"))
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A registry-server serving from a temporary directory, stopped on drop.
pub struct LiveRegistry {
    _server: openwop_test_support::Proc,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A token with `packs:publish`, `packs:yank`, `packs:yank-revert` on `vendor.acme.*`.
    pub acme: String,
    /// A `registry:admin` token.
    pub admin: String,
    /// The operator's trust bundle (pins the root).
    pub trust: PathBuf,
}

/// Sets up a root, a keychain listing publisher key `acme-1` (for `vendor.acme.*`) and the
/// statement key `registry-1`, tokens, and starts the server; keys are written into `d`.
pub fn start_registry(d: &Path) -> LiveRegistry {
    let server_bin = binary("registry-server", "registry-server");
    let registry_id = "https://packs.example.com";
    openwop_test_support::operator_keychain(
        Path::new(env!("CARGO_BIN_EXE_pack")),
        d,
        registry_id,
        &[("acme-1", "vendor.acme.*")],
    );
    let token = |args: &[&str]| {
        run(Command::new(&server_bin).current_dir(d).args(["token", "create", "--data-dir", "data"]).args(args))
            .trim()
            .to_string()
    };
    let admin = token(&["--principal", "ops", "--scope", "admin"]);
    let acme = token(&["--principal", "acme", "--namespace", "vendor.acme.*", "--scope", "publish,yank,yank-revert"]);
    let port = openwop_test_support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = openwop_test_support::serve_operated_registry(d, port);
    openwop_test_support::put_keychain(&base, &admin, &d.join("keychain.signed.json"));
    LiveRegistry { _server: server, base, acme, admin, trust: d.join("ops/root/trust.json") }
}

const NAME: &str = "vendor.acme.tools";

#[test]
fn publish_lifecycle_info_and_search() {
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let reg = start_registry(d);
    let with_token = [("OPENWOP_TOKEN", reg.acme.as_str())];
    let cli = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["--json", "--registry", reg.base.as_str()];
        all.extend_from_slice(args);
        pack_in(d, &all, env, None)
    };
    pack_in(d, &["init", "my-pack", "--name", NAME], &[], None).ok();

    // No token: the server's 401, exit 1, with a hint that says how to log in.
    let run = cli(&["publish", "my-pack", "--key", "acme-1.key", "--key-id", "acme-1"], &[]);
    let err = run.fails_with(1, "unauthenticated");
    assert!(err["hint"].as_str().unwrap().contains("pack login"), "{err}");

    // A directory is built, signed and uploaded: 201.
    let run = cli(&["publish", "my-pack", "--key", "acme-1.key", "--key-id", "acme-1"], &with_token).ok();
    let out = run.json();
    assert_eq!(
        (out["reason"].clone(), out["created"].clone(), out["status"].clone()),
        (json!("publish"), json!(true), json!(201))
    );
    let tgz = std::fs::read(d.join("vendor.acme.tools-0.1.0.tgz")).unwrap();
    assert_eq!(out["integrity"], pack_verify::Integrity::of(&tgz).to_string());
    assert_eq!(out["url"], format!("{}/v1/packs/{NAME}/-/0.1.0.tgz", reg.base));
    let served = reqwest::blocking::get(out["url"].as_str().unwrap()).unwrap().bytes().unwrap();
    assert_eq!(served[..], tgz[..], "the registry serves the uploaded bytes");

    // The same bytes again (as the built .tgz): 200, reported as already published.
    let run = pack_in(d, &["--registry", &reg.base, "publish", "vendor.acme.tools-0.1.0.tgz"], &with_token, None).ok();
    assert!(run.stdout.contains("already published"), "{}", run.stdout);

    // Other bytes under the same version: refused, exit 1, the server's code and a hint.
    std::fs::write(d.join("my-pack/README.md"), "changed\n").unwrap();
    let build = ["build", "my-pack", "--key", "acme-1.key", "--key-id", "acme-1", "--out-dir", "other"];
    pack_in(d, &build, &[], None).ok();
    let run = cli(&["publish", "other/vendor.acme.tools-0.1.0.tgz"], &with_token);
    let err = run.fails_with(1, "version_conflict");
    assert!(err["hint"].as_str().unwrap().contains("bump"), "{err}");
    let human =
        pack_in(d, &["--registry", &reg.base, "publish", "other/vendor.acme.tools-0.1.0.tgz"], &with_token, None);
    assert!(human.stderr.contains("error[version_conflict]:"), "{}", human.stderr);
    assert!(human.stderr.contains("hint: "), "{}", human.stderr);

    // A second version, then lifecycle on the first.
    let pack_json = d.join("my-pack/pack.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&pack_json).unwrap()).unwrap();
    manifest["version"] = json!("0.2.0");
    std::fs::write(&pack_json, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    cli(&["publish", "my-pack", "--key", "acme-1.key", "--key-id", "acme-1"], &with_token).ok();

    let out = cli(&["yank", &format!("{NAME}@0.2.0"), "--reason", "broken build"], &with_token).ok().json();
    assert_eq!((out["yanked"].clone(), out["yankedReason"].clone()), (json!(true), json!("broken build")));
    let info = cli(&["info", NAME], &[]).ok().json();
    assert_eq!(info["version"], "0.1.0", "a yanked version is never picked: {info}");
    assert_eq!(info["versions"][1]["yanked"], true);
    assert_eq!(info["signer"], "acme-1");
    let run = cli(&["info", &format!("{NAME}@^0.2")], &[]);
    run.fails_with(1, "pack_version_not_found");
    let out = cli(&["unyank", &format!("{NAME}@0.2.0")], &with_token).ok().json();
    assert_eq!(out["yanked"], false);
    let info = cli(&["info", &format!("{NAME}@^0.2")], &[]).ok().json();
    assert_eq!((info["version"].clone(), info["latest"].clone()), (json!("0.2.0"), json!("0.2.0")));

    let superseded = format!("{NAME}@0.2.0");
    let args = ["deprecate", &format!("{NAME}@0.1.0"), "--reason", "use 0.2", "--superseded-by", &superseded];
    let out = cli(&args, &with_token).ok().json();
    assert_eq!((out["deprecated"].clone(), out["supersededBy"].clone()), (json!(true), json!(superseded)));
    let info = pack_in(d, &["--registry", &reg.base, "info", &format!("{NAME}@0.1.0")], &[], None).ok();
    assert!(info.stdout.contains("0.1.0 [deprecated]"), "{}", info.stdout);
    let out = cli(&["undeprecate", &format!("{NAME}@0.1.0")], &with_token).ok().json();
    assert_eq!(out["deprecated"], false);

    // Yank without a token is refused by the server; a bad spec never reaches it.
    cli(&["yank", &format!("{NAME}@0.1.0")], &[]).fails_with(1, "unauthenticated");
    cli(&["yank", NAME], &with_token).fails_with(2, "invalid_spec");

    // Advisories need an admin token; the matched version is yanked.
    let advisory = json!({
        "id": "TEST-2026-0002", "publishedAt": "2026-11-25", "severity": "high", "summary": "bad",
        "affected": [{"packName": NAME, "versions": "<0.2.0", "fixedIn": "0.2.0"}]
    });
    std::fs::write(d.join("advisory.json"), advisory.to_string()).unwrap();
    cli(&["advisory", "add", "advisory.json"], &with_token).fails_with(1, "forbidden");
    let out = cli(&["advisory", "add", "advisory.json"], &[("OPENWOP_TOKEN", reg.admin.as_str())]).ok().json();
    assert_eq!(out["yanked"], json!([format!("{NAME}@0.1.0")]));

    // Search finds it by a word of its name.
    let out = cli(&["search", "acme"], &[]).ok().json();
    assert_eq!(out["total"], 1, "{out}");
    assert_eq!(out["results"][0]["name"], NAME);
    let human = pack_in(d, &["--registry", &reg.base, "search", "nothing-like-this"], &[], None).ok();
    assert!(human.stdout.contains("no packs match"), "{}", human.stdout);

    // A pack the registry does not have.
    cli(&["info", "vendor.acme.missing"], &[]).fails_with(1, "not_found");
}

#[test]
fn login_stores_a_private_token_that_later_commands_use() {
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let reg = start_registry(d);
    pack_in(d, &["init", "my-pack", "--name", NAME], &[], None).ok();

    // Some unrelated content already in the config file survives the login.
    std::fs::create_dir_all(d.join("config")).unwrap();
    std::fs::write(d.join("config/pack.toml"), "fallback_registries = [\"https://packs.openwop.dev\"]\n").unwrap();
    let out = pack_in(
        d,
        &["--json", "login", "--registry", &reg.base, "--token-stdin"],
        &[],
        Some(&format!("{}\n", reg.acme)),
    )
    .ok();
    assert!(!out.stdout.contains(&reg.acme) && !out.stderr.contains(&reg.acme), "the token is never printed");
    let path = d.join("config/pack.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("fallback_registries"), "{text}");
    assert!(text.contains(&reg.acme));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // The stored token is used; the registry comes from the environment this time.
    let env = [("OPENWOP_REGISTRY_URL", reg.base.as_str())];
    let out = pack_in(d, &["--json", "publish", "my-pack", "--key", "acme-1.key", "--key-id", "acme-1"], &env, None)
        .ok()
        .json();
    assert_eq!(out["created"], true);

    // An empty token is refused before anything is written.
    pack_in(d, &["--json", "login", "--registry", &reg.base, "--token-stdin"], &[], Some("\n"))
        .fails_with(2, "token_invalid");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

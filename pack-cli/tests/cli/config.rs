//! Where `pack` finds its registry, token and trust: flag > environment > config file > default,
//! and trust roots that never pass between registries.

use std::collections::HashMap;
use std::path::Path;

use pack_cli::config::{Config, DEFAULT_REGISTRY};

use crate::publish::{pack_in, start_registry};

const NAME: &str = "vendor.acme.tools";

fn config(dir: &Path, vars: &[(&str, &str)]) -> Config {
    let mut env: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    env.insert("OPENWOP_PACK_CONFIG".into(), dir.join("pack.toml").display().to_string());
    Config::load_with(|k| env.get(k).cloned()).unwrap()
}

#[test]
fn precedence_flag_over_env_over_file_against_a_live_registry() {
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let reg = start_registry(d);
    pack_in(d, &["init", "my-pack", "--name", NAME], &[], None).ok();
    let env_token = [("OPENWOP_TOKEN", reg.acme.as_str())];
    pack_in(
        d,
        &["--registry", &reg.base, "publish", "my-pack", "--key", "acme-1.key", "--key-id", "acme-1"],
        &env_token,
        None,
    )
    .ok();
    // Port 9 on loopback refuses connections: a registry that is certainly not ours.
    let dead = "http://127.0.0.1:9";
    std::fs::create_dir_all(d.join("config")).unwrap();
    let info = ["--json", "info", NAME];

    // File only: the file's registry is used.
    std::fs::write(d.join("config/pack.toml"), format!("registry = \"{}\"\n", reg.base)).unwrap();
    assert_eq!(pack_in(d, &info, &[], None).ok().json()["registry"], reg.base.as_str());
    // Environment over file.
    let env_dead = [("OPENWOP_REGISTRY_URL", dead)];
    let err = pack_in(d, &info, &env_dead, None).fails_with(2, "pack_registry_unreachable");
    assert!(err["message"].as_str().unwrap().contains("127.0.0.1:9"), "{err}");
    // Flag over environment, before or after the subcommand.
    let flagged = pack_in(d, &["--json", "--registry", &reg.base, "info", NAME], &env_dead, None).ok();
    assert_eq!(flagged.json()["registry"], reg.base.as_str());
    let flagged = pack_in(d, &["--json", "info", NAME, "--registry", &reg.base], &env_dead, None).ok();
    assert_eq!(flagged.json()["registry"], reg.base.as_str());
    // A flag that is not a URL is a usage error.
    pack_in(d, &["--json", "--registry", "packs.example.com", "info", NAME], &[], None)
        .fails_with(2, "invalid_registry_url");

    // Token precedence: the environment over the file's entry for that registry.
    std::fs::write(
        d.join("config/pack.toml"),
        format!("registry = \"{}\"\n[registries.\"{}\"]\ntoken = \"owp_wrong_wrong\"\n", reg.base, reg.base),
    )
    .unwrap();
    let yank = ["--json", "yank", "vendor.acme.tools@0.1.0"];
    pack_in(d, &yank, &[], None).fails_with(1, "unauthenticated");
    pack_in(d, &yank, &env_token, None).ok();

    // The operator's bundle, configured for this registry, is its trust.
    let text = format!("[registries.\"{}\"]\ntrust = \"{}\"\n", reg.base, reg.trust.display());
    std::fs::write(d.join("config/pack.toml"), text).unwrap();
    assert!(config(&d.join("config"), &[]).trust_for(&reg.base).unwrap().has_root());
}

#[test]
fn trust_is_per_registry_and_an_unknown_one_needs_a_bundle() {
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let none = config(d, &[]);
    assert_eq!(none.registry_url(None).unwrap(), DEFAULT_REGISTRY);
    assert!(none.trust_for(DEFAULT_REGISTRY).is_ok(), "the shipped bundle covers the reference registry");
    let err = none.trust_for("https://packs.example.com").unwrap_err();
    assert_eq!(err.code, "trust_bundle_missing");
    assert!(err.message.contains("https://packs.example.com"), "{}", err.message);
    assert!(err.hint.contains("[registries.\"https://packs.example.com\"]"), "{}", err.hint);
    assert!(err.hint.contains("trust = "), "{}", err.hint);
    // Being a fallback lends no trust (decisions §13).
    std::fs::write(d.join("pack.toml"), "fallback_registries = [\"https://mirror.example.com\"]\n").unwrap();
    let with_fallback = config(d, &[]);
    assert_eq!(with_fallback.fallbacks(), vec!["https://mirror.example.com".to_string()]);
    assert_eq!(with_fallback.trust_for("https://mirror.example.com").unwrap_err().code, "trust_bundle_missing");

    // A configured bundle, relative to the config file, is the one used.
    pack_in(d, &["keys", "root-init", "--registry", "https://packs.example.com", "--out-dir", "root"], &[], None).ok();
    std::fs::write(d.join("pack.toml"), "[registries.\"https://packs.example.com/\"]\ntrust = \"root/trust.json\"\n")
        .unwrap();
    let bundle = config(d, &[]).trust_for("https://packs.example.com").unwrap();
    assert_eq!(bundle.registry, "https://packs.example.com");
    assert!(bundle.has_root());

    // A broken config file is reported with its path.
    std::fs::write(d.join("pack.toml"), "registry = [\n").unwrap();
    let mut env = HashMap::new();
    env.insert("OPENWOP_PACK_CONFIG".to_string(), d.join("pack.toml").display().to_string());
    let err = Config::load_with(|k| env.get(k).cloned()).unwrap_err();
    assert_eq!(err.code, "config_invalid");
    assert_eq!(err.path.as_deref(), Some(d.join("pack.toml").as_path()));
}

#[test]
fn config_path_follows_xdg_then_home() {
    let vars: HashMap<&str, &str> = [("XDG_CONFIG_HOME", "/x/config"), ("HOME", "/home/u")].into_iter().collect();
    let config = Config::load_with(|k| vars.get(k).map(|v| v.to_string())).unwrap();
    assert_eq!(config.path(), Path::new("/x/config/openwop/pack.toml"));
    let vars: HashMap<&str, &str> = [("HOME", "/home/u")].into_iter().collect();
    let config = Config::load_with(|k| vars.get(k).map(|v| v.to_string())).unwrap();
    assert_eq!(config.path(), Path::new("/home/u/.config/openwop/pack.toml"));
}

#[test]
fn completions_for_every_shell() {
    let work = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = pack_in(work.path(), &["completions", shell], &[], None).ok();
        assert!(run.stdout.contains("publish"), "{shell}: {}", run.stdout);
    }
    pack_in(work.path(), &["completions", "tcsh"], &[], None);
}

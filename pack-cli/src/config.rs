//! The `pack` configuration file and the precedence of its settings.
//!
//! The file is TOML at `$OPENWOP_PACK_CONFIG`, else `$XDG_CONFIG_HOME/openwop/pack.toml`, else
//! `~/.config/openwop/pack.toml`; a missing file means defaults:
//!
//! ```toml
//! registry = "https://packs.example.com"        # the default registry
//! token = "owp_…"                              # token for that default registry only
//! fallback_registries = ["https://packs.openwop.dev"]
//!
//! [registries."https://packs.example.com"]
//! token = "owp_…"                              # written by `pack login`
//! trust = "trust/packs.example.com.json"       # relative to this file
//! ```
//!
//! Registry: `--registry` > `OPENWOP_REGISTRY_URL` > `registry` > `https://packs.openwop.dev`.
//! Token: `OPENWOP_TOKEN` > `[registries."URL"].token` > top-level `token` (only for the
//! file's own `registry`, so a token is never sent to a registry it was not issued for).
//! Trust: `[registries."URL"].trust`, else the shipped bundle, but only for the reference
//! registry: trust roots never pass between registries (decisions §13).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pack_verify::trust::bundle::TrustBundle;
use serde::{Deserialize, Serialize};

use crate::error::{CliError, CliResult};
use crate::ops::{fsutil, keyfile};
use crate::registry::{ClientOptions, RegistryClient};

/// The public reference registry, the default when nothing is configured.
pub const DEFAULT_REGISTRY: &str = "https://packs.openwop.dev";

/// Environment variable naming the config file.
pub const ENV_CONFIG: &str = "OPENWOP_PACK_CONFIG";
/// Environment variable naming the registry.
pub const ENV_REGISTRY: &str = "OPENWOP_REGISTRY_URL";
/// Environment variable holding a token.
pub const ENV_TOKEN: &str = "OPENWOP_TOKEN";

/// One `[registries."URL"]` table.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryEntry {
    /// Bearer token for this registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Trust bundle for this registry (relative paths are relative to the config file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<PathBuf>,
}

impl std::fmt::Debug for RegistryEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryEntry")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("trust", &self.trust)
            .finish()
    }
}

/// The file's contents.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFile {
    /// Default registry URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Token for the default registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Registries to consult, in order, when the primary has no such pack (contract §8.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_registries: Vec<String>,
    /// Per-registry settings, keyed by base URL.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub registries: BTreeMap<String, RegistryEntry>,
}

impl std::fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigFile")
            .field("registry", &self.registry)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("fallback_registries", &self.fallback_registries)
            .field("registries", &self.registries)
            .finish()
    }
}

/// The loaded configuration: the file plus the environment it was loaded under.
#[derive(Clone)]
pub struct Config {
    path: PathBuf,
    file: ConfigFile,
    env_registry: Option<String>,
    env_token: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("path", &self.path)
            .field("file", &self.file)
            .field("env_registry", &self.env_registry)
            .field("env_token", &self.env_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A registry URL in one spelling: no trailing slash, so `…/` and `…` name one registry.
pub fn normalize_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

fn check_url(url: &str, from: &str) -> CliResult<String> {
    let url = normalize_url(url);
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(url),
        _ => Err(CliError::usage(
            "invalid_registry_url",
            format!("`{url}` (from {from}) is not a registry URL"),
            "give the registry's base URL, e.g. https://packs.openwop.dev",
        )),
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

impl Config {
    /// Loads the configuration from the process environment and the config file.
    pub fn load() -> CliResult<Self> {
        Self::load_with(|key| std::env::var(key).ok())
    }

    /// Loads the configuration with `env` standing in for the process environment (tests).
    pub fn load_with(env: impl Fn(&str) -> Option<String>) -> CliResult<Self> {
        let path = Self::path_with(&env)?;
        let file = match std::fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| {
                    CliError::usage("config_invalid", "the config file is not UTF-8", "rewrite it as UTF-8 TOML")
                        .at(&path)
                })?;
                toml::from_str::<ConfigFile>(&text).map_err(|e| {
                    CliError::usage(
                        "config_invalid",
                        format!("the config file does not parse: {}", e.message()),
                        "fix the file (keys: registry, token, fallback_registries, [registries.\"URL\"] token/trust)",
                    )
                    .at(&path)
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConfigFile::default(),
            Err(e) => return Err(CliError::io(&path, "read", &e)),
        };
        Ok(Config { path, file, env_registry: non_empty(env(ENV_REGISTRY)), env_token: non_empty(env(ENV_TOKEN)) })
    }

    /// Where the config file lives (whether or not it exists).
    pub fn default_path() -> CliResult<PathBuf> {
        Self::path_with(&|key| std::env::var(key).ok())
    }

    fn path_with(env: &dyn Fn(&str) -> Option<String>) -> CliResult<PathBuf> {
        if let Some(path) = non_empty(env(ENV_CONFIG)) {
            return Ok(PathBuf::from(path));
        }
        if let Some(xdg) = non_empty(env("XDG_CONFIG_HOME")).filter(|p| Path::new(p).is_absolute()) {
            return Ok(Path::new(&xdg).join("openwop").join("pack.toml"));
        }
        match non_empty(env("HOME")) {
            Some(home) => Ok(Path::new(&home).join(".config").join("openwop").join("pack.toml")),
            None => Err(CliError::usage(
                "config_path_unknown",
                "neither OPENWOP_PACK_CONFIG, XDG_CONFIG_HOME nor HOME is set",
                format!("set {ENV_CONFIG} to the config file's path"),
            )),
        }
    }

    /// The config file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's contents as loaded.
    pub fn file(&self) -> &ConfigFile {
        &self.file
    }

    /// The registry to use: `flag` > `OPENWOP_REGISTRY_URL` > the file's `registry` > the default.
    pub fn registry_url(&self, flag: Option<&str>) -> CliResult<String> {
        if let Some(url) = flag {
            return check_url(url, "--registry");
        }
        if let Some(url) = &self.env_registry {
            return check_url(url, ENV_REGISTRY);
        }
        if let Some(url) = &self.file.registry {
            return check_url(url, &self.path.display().to_string()).map_err(|e| e.at(&self.path));
        }
        Ok(DEFAULT_REGISTRY.to_string())
    }

    fn entry(&self, url: &str) -> Option<&RegistryEntry> {
        let url = normalize_url(url);
        self.file.registries.iter().find(|(k, _)| normalize_url(k) == url).map(|(_, v)| v)
    }

    /// The token for `url`: `OPENWOP_TOKEN` > `[registries."URL"].token` > the top-level
    /// `token` when `url` is the file's own `registry`.
    pub fn token_for(&self, url: &str) -> Option<String> {
        if let Some(token) = &self.env_token {
            return Some(token.clone());
        }
        if let Some(token) = self.entry(url).and_then(|e| non_empty(e.token.clone())) {
            return Some(token);
        }
        let own = self.file.registry.as_deref().is_some_and(|r| normalize_url(r) == normalize_url(url));
        if own { non_empty(self.file.token.clone()) } else { None }
    }

    /// The trust bundle for `url`: the configured `trust` file, else the shipped bundle for the
    /// reference registry only. Any other registry without one is an error.
    pub fn trust_for(&self, url: &str) -> CliResult<TrustBundle> {
        if let Some(trust) = self.entry(url).and_then(|e| e.trust.as_ref()) {
            let path = if trust.is_relative() {
                self.path.parent().map_or_else(|| trust.clone(), |dir| dir.join(trust))
            } else {
                trust.clone()
            };
            let bytes = fsutil::read(&path)?;
            return TrustBundle::parse(&bytes).map_err(|e| CliError::input(&e).at(&path));
        }
        if normalize_url(url) == DEFAULT_REGISTRY {
            return TrustBundle::reference().map_err(|e| CliError::input(&e));
        }
        Err(CliError::usage(
            "trust_bundle_missing",
            format!("no trust bundle is configured for {}", normalize_url(url)),
            format!(
                "add `trust = \"path/to/trust.json\"` under [registries.\"{}\"] in {} (get the bundle from the \
                 registry's operator); the reference registry's keys are never used for another registry",
                normalize_url(url),
                self.path.display()
            ),
        )
        .at(&self.path))
    }

    /// A client for the registry chosen by `flag` (see [`Config::registry_url`]), with that
    /// registry's token.
    pub fn client(&self, flag: Option<&str>) -> CliResult<RegistryClient> {
        let url = self.registry_url(flag)?;
        let options = ClientOptions { token: self.token_for(&url), ..ClientOptions::default() };
        RegistryClient::new(&url, options).map_err(|e| CliError::from_registry(&e))
    }

    /// The fallback registries, in order.
    pub fn fallbacks(&self) -> Vec<String> {
        self.file.fallback_registries.iter().map(|u| normalize_url(u)).collect()
    }

    /// Stores `token` for `url` in the config file, keeping everything else in it, and writes
    /// the file with mode 0600 (it holds secrets).
    pub fn store_token(&mut self, url: &str, token: &str) -> CliResult<()> {
        let url = normalize_url(url);
        // Edit the file as a generic table so keys this version does not know survive.
        let mut table = match std::fs::read_to_string(&self.path) {
            Ok(text) => text.parse::<toml::Table>().map_err(|e| {
                CliError::usage("config_invalid", format!("the config file does not parse: {}", e.message()), "fix it")
                    .at(&self.path)
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
            Err(e) => return Err(CliError::io(&self.path, "read", &e)),
        };
        let registries = table.entry("registries").or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(registries) = registries else {
            return Err(CliError::usage("config_invalid", "`registries` is not a table", "fix the file").at(&self.path));
        };
        // An existing entry spelled with a trailing slash is the same registry.
        let key = registries.keys().find(|k| normalize_url(k) == url).cloned().unwrap_or_else(|| url.clone());
        let entry = registries.entry(key.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(entry) = entry else {
            return Err(CliError::usage(
                "config_invalid",
                format!("`registries.\"{key}\"` is not a table"),
                "fix the file",
            )
            .at(&self.path));
        };
        entry.insert("token".into(), toml::Value::String(token.to_string()));
        let text = toml::to_string(&table).map_err(|e| {
            CliError::usage("config_invalid", format!("cannot write the config: {e}"), "fix the file").at(&self.path)
        })?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fsutil::ensure_dir(dir)?;
        }
        keyfile::write_secret(&self.path, text.as_bytes(), true)?;
        self.file.registries.entry(key).or_default().token = Some(token.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(dir: &Path, toml: Option<&str>, env: &[(&str, &str)]) -> Config {
        let path = dir.join("pack.toml");
        if let Some(text) = toml {
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        }
        let mut vars: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        vars.insert(ENV_CONFIG.into(), path.display().to_string());
        Config::load_with(|k| vars.get(k).cloned()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn precedence_flag_env_file_default() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let none = load(dir.path(), None, &[]);
        assert_eq!(none.registry_url(None).ok().as_deref(), Some(DEFAULT_REGISTRY));
        let file = load(dir.path(), Some("registry = \"https://file.example/\"\n"), &[]);
        assert_eq!(file.registry_url(None).ok().as_deref(), Some("https://file.example"));
        let env = load(dir.path(), None, &[(ENV_REGISTRY, "https://env.example")]);
        assert_eq!(env.registry_url(None).ok().as_deref(), Some("https://env.example"));
        assert_eq!(env.registry_url(Some("http://flag.example")).ok().as_deref(), Some("http://flag.example"));
        assert_eq!(env.registry_url(Some("nope")).map_err(|e| e.code).err(), Some("invalid_registry_url"));
    }

    #[test]
    fn tokens_go_only_to_their_registry() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let text =
            "registry = \"https://a.example\"\ntoken = \"top\"\n[registries.\"https://b.example/\"]\ntoken = \"b\"\n";
        let config = load(dir.path(), Some(text), &[]);
        assert_eq!(config.token_for("https://a.example/").as_deref(), Some("top"));
        assert_eq!(config.token_for("https://b.example").as_deref(), Some("b"));
        assert_eq!(config.token_for("https://c.example"), None);
        assert!(!format!("{config:?}").contains("top"));
        let env = load(dir.path(), None, &[(ENV_TOKEN, "env")]);
        assert_eq!(env.token_for("https://c.example").as_deref(), Some("env"));
    }

    #[test]
    fn trust_is_per_registry() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = load(dir.path(), None, &[]);
        assert!(config.trust_for(DEFAULT_REGISTRY).is_ok());
        let err = config.trust_for("https://other.example").err().map(|e| e.code);
        assert_eq!(err, Some("trust_bundle_missing"));
    }

    #[test]
    fn store_token_keeps_other_content() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let text = "registry = \"https://a.example\"\nfallback_registries = [\"https://f.example\"]\n";
        let mut config = load(dir.path(), Some(text), &[]);
        config.store_token("https://a.example/", "secret").unwrap_or_else(|e| panic!("{e}"));
        let again = load(dir.path(), None, &[]);
        assert_eq!(again.token_for("https://a.example").as_deref(), Some("secret"));
        assert_eq!(again.fallbacks(), vec!["https://f.example".to_string()]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("pack.toml")).map(|m| m.permissions().mode());
            assert_eq!(mode.ok().map(|m| m & 0o777), Some(0o600));
        }
    }
}

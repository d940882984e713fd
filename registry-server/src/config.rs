//! Server configuration: where metadata and blobs live and where to listen.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the registry keeps its state.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory for the embedded default (SQLite file and blob directory).
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// `sqlite://…` or `postgres://…`; defaults to `<data_dir>/registry.db`.
    pub database_url: Option<String>,
    /// `file:///dir`, a plain directory, or `s3://bucket[/prefix]`; defaults to `<data_dir>/blobs`.
    pub object_store: Option<String>,
}

impl Config {
    /// The embedded default rooted at `data_dir`.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            object_store: None,
        }
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("registry.db").display()),
        }
    }

    /// The object-store location in effect.
    pub fn object_store(&self) -> String {
        match &self.object_store {
            Some(url) => url.clone(),
            None => format!("file://{}", self.data_dir.join("blobs").display()),
        }
    }
}

/// The `--config` file (TOML). Every key is optional; environment variables and flags override
/// it, in that order.
///
/// ```toml
/// data_dir = "/var/lib/openwop-registry"
/// listen = "0.0.0.0:8080"
/// database_url = "postgres://registry@db/registry"
/// object_store = "s3://openwop-packs/prod"
/// trust = "/etc/openwop/trust.json"
/// statement_key = "/etc/openwop/registry-1.key"
/// statement_key_id = "registry-1"
/// writes_per_minute = 600
/// request_timeout_secs = 60
/// ```
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// See `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// See `--listen`.
    pub listen: Option<SocketAddr>,
    /// See `--database-url`.
    pub database_url: Option<String>,
    /// See `--object-store`.
    pub object_store: Option<String>,
    /// See `--trust`.
    pub trust: Option<PathBuf>,
    /// See `--statement-key`.
    pub statement_key: Option<PathBuf>,
    /// See `--statement-key-id`.
    pub statement_key_id: Option<String>,
    /// See `--writes-per-minute`.
    pub writes_per_minute: Option<u32>,
    /// See `--request-timeout-secs`.
    pub request_timeout_secs: Option<u64>,
    /// Mirror mode: `[mirror]` and `[[mirror.upstreams]]` (see [`crate::mirror::config`]).
    pub mirror: Option<crate::mirror::MirrorSection>,
}

impl FileConfig {
    /// Reads and parses a config file.
    pub fn load(path: &std::path::Path) -> Result<Self, crate::RegistryError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| crate::RegistryError::Io { path: path.display().to_string(), source })?;
        toml::from_str(&text).map_err(|e| crate::RegistryError::Config { what: format!("{}: {e}", path.display()) })
    }
}

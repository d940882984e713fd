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

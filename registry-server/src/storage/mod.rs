//! Persistent state: metadata in SQL ([`db`]) and blobs in object storage ([`blobs`]).

pub mod blobs;
pub mod db;
pub mod writes;

pub use blobs::Blobs;
pub use db::{Db, VersionRow};

use crate::{Config, RegistryError};

/// Both halves of the registry's state.
#[derive(Clone, Debug)]
pub struct Storage {
    /// Metadata.
    pub db: Db,
    /// Tarballs, signatures, SBOMs.
    pub blobs: Blobs,
}

impl Storage {
    /// Opens (and creates where needed) the configured database and object store, applying
    /// migrations.
    pub async fn open(config: &Config) -> Result<Self, RegistryError> {
        if config.database_url.is_none() || config.object_store.is_none() {
            std::fs::create_dir_all(&config.data_dir)
                .map_err(|source| RegistryError::Io { path: config.data_dir.display().to_string(), source })?;
        }
        let db = Db::connect(&config.database_url()).await?;
        let blobs = Blobs::open(&config.object_store())?;
        Ok(Self { db, blobs })
    }
}

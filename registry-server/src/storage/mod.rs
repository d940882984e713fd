//! Persistent state: metadata in SQL ([`db`]) and blobs in object storage ([`blobs`]).

pub mod blobs;
pub mod db;
pub mod writes;

pub use blobs::{Blobs, InlineBlob};
pub use db::{Db, VersionRow};

use crate::{Config, RegistryError};

/// Both halves of the registry's state.
#[derive(Clone, Debug)]
pub struct Storage {
    /// Metadata.
    pub db: Db,
    /// Tarballs and signatures (and SBOMs and statements too large for the database).
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

    /// Reads a blob whole, wherever its key says it is: the database for a key with
    /// [`blobs::INLINE_PREFIX`], the object store for any other.
    pub async fn blob(&self, key: &str) -> Result<bytes::Bytes, RegistryError> {
        if key.starts_with(blobs::INLINE_PREFIX) {
            return match self.db.inline_blob(key).await? {
                Some(body) => Ok(bytes::Bytes::from(body)),
                None => Err(RegistryError::BlobMissing { key: key.to_string() }),
            };
        }
        self.blobs.get(key).await
    }
}

//! Registry metadata in SQL: SQLite (the embedded default, WAL) or PostgreSQL, through sqlx's
//! Any driver so both run the same statements. Migrations live in `/migrations`.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

use crate::RegistryError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Which SQL engine is behind the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file (embedded default).
    Sqlite,
    /// PostgreSQL (production).
    Postgres,
}

/// The metadata database.
#[derive(Clone, Debug)]
pub struct Db {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// Change tracking for the metadata cache (bumped by [`Db::commit_write`]).
    changes: std::sync::Arc<crate::registry::cache::Changes>,
}

/// The ordering columns of a version row (`major`, `minor`, `patch`, `prerelease`), so SQL can
/// sort versions; numbers beyond `i64` saturate.
pub fn ordering_columns(version: &semver::Version) -> (i64, i64, i64, String) {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    (n(version.major), n(version.minor), n(version.patch), version.pre.to_string())
}

/// One stored version, as the `versions` table holds it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct VersionRow {
    /// Pack name.
    pub name: String,
    /// Exact version string.
    pub version: String,
    /// Semver major (for ordering in SQL).
    pub major: i64,
    /// Semver minor.
    pub minor: i64,
    /// Semver patch.
    pub patch: i64,
    /// Prerelease part, empty for a release.
    pub prerelease: String,
    /// The served version manifest, verbatim.
    pub manifest: String,
    /// `sha256-<base64>` of the tarball.
    pub integrity: String,
    /// `signing.method` of the manifest.
    pub signing_method: String,
    /// The signing key id the pack index reports.
    pub signing_key_id: String,
    /// RFC 3339 publication time.
    pub published_at: String,
    /// 1 when yanked.
    pub yanked: i64,
    /// 1 when deprecated.
    pub deprecated: i64,
    /// Object-store key of the tarball.
    pub tarball_blob: String,
    /// Tarball size in bytes.
    pub tarball_size: i64,
    /// Object-store key of the detached signature.
    pub signature_blob: String,
    /// Object-store key of the SBOM, when one exists.
    pub sbom_blob: Option<String>,
    /// Object-store key of the signed registry statement, when the registry signs them.
    pub statement_blob: Option<String>,
}

/// The outcome of [`Db::insert_version`].
#[derive(Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The version is new and now visible.
    Inserted,
    /// The version already exists; carries the stored integrity so callers can tell an
    /// identical re-publish from a conflicting one.
    Exists {
        /// Integrity of the version already stored.
        integrity: String,
    },
}

/// The `versions` columns in [`VersionRow`] order. A macro so statements stay `&'static str`
/// literals (sqlx refuses dynamically built SQL).
macro_rules! version_columns {
    () => {
        "name, version, major, minor, patch, prerelease, manifest, integrity, signing_method, \
         signing_key_id, published_at, yanked, deprecated, tarball_blob, tarball_size, signature_blob, sbom_blob, \
         statement_blob"
    };
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, RegistryError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(RegistryError::Config {
                what: format!("database URL `{url}` is neither sqlite://… nor postgres://…"),
            });
        };
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; the busy timeout makes a
                        // concurrent writer wait instead of failing at once.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        let changes = crate::registry::cache::Changes::new(url, backend);
        Ok(Self { pool, backend, changes })
    }

    /// The change tracking the metadata cache follows.
    pub fn changes(&self) -> &std::sync::Arc<crate::registry::cache::Changes> {
        &self.changes
    }

    /// The engine behind this database.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Makes a version visible, creating its pack row if needed, in one transaction. Every blob
    /// the row names must already be stored.
    pub async fn insert_version(&self, row: &VersionRow, now: &str) -> Result<InsertOutcome, RegistryError> {
        self.insert_version_audited(row, &[], now, None).await
    }

    /// [`Db::insert_version`], storing `inline` (the row's blobs kept in the database, from
    /// `Blobs::put_version`) and recording `audit` in the same transaction when the version is
    /// new.
    pub async fn insert_version_audited(
        &self,
        row: &VersionRow,
        inline: &[crate::storage::InlineBlob],
        now: &str,
        audit: Option<&crate::storage::writes::AuditEvent>,
    ) -> Result<InsertOutcome, RegistryError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO packs (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(&row.name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let sql = concat!(
            "INSERT INTO versions (",
            version_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             ON CONFLICT (name, version) DO NOTHING"
        );
        let inserted = sqlx::query(sql)
            .bind(&row.name)
            .bind(&row.version)
            .bind(row.major)
            .bind(row.minor)
            .bind(row.patch)
            .bind(&row.prerelease)
            .bind(&row.manifest)
            .bind(&row.integrity)
            .bind(&row.signing_method)
            .bind(&row.signing_key_id)
            .bind(&row.published_at)
            .bind(row.yanked)
            .bind(row.deprecated)
            .bind(&row.tarball_blob)
            .bind(row.tarball_size)
            .bind(&row.signature_blob)
            .bind(&row.sbom_blob)
            .bind(&row.statement_blob)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 1 {
            for blob in inline {
                // Content-addressed: a body already stored under its key is the same body.
                sqlx::query(
                    "INSERT INTO inline_blobs (blob_key, body) VALUES ($1, $2) ON CONFLICT (blob_key) DO NOTHING",
                )
                .bind(&blob.key)
                .bind(&blob.body)
                .execute(&mut *tx)
                .await?;
            }
            if let Some(event) = audit {
                crate::storage::writes::record_audit(&mut tx, event).await?;
            }
            self.commit_write(tx).await?;
            return Ok(InsertOutcome::Inserted);
        }
        let (integrity,): (String,) = sqlx::query_as("SELECT integrity FROM versions WHERE name = $1 AND version = $2")
            .bind(&row.name)
            .bind(&row.version)
            .fetch_one(&mut *tx)
            .await?;
        tx.rollback().await?;
        Ok(InsertOutcome::Exists { integrity })
    }

    /// A blob kept in the database (a key with `blobs::INLINE_PREFIX`), if stored.
    pub async fn inline_blob(&self, key: &str) -> Result<Option<String>, RegistryError> {
        self.text_by_key("SELECT body FROM inline_blobs WHERE blob_key = $1", key).await
    }

    /// The one text column `sql` selects for `key` (its only parameter), if a row has it.
    pub(crate) async fn text_by_key(&self, sql: &'static str, key: &str) -> Result<Option<String>, RegistryError> {
        let row: Option<(String,)> = sqlx::query_as(sql).bind(key).fetch_optional(&self.pool).await?;
        Ok(row.map(|(body,)| body))
    }

    /// Every version of `name`, in no particular order.
    pub async fn versions_of(&self, name: &str) -> Result<Vec<VersionRow>, RegistryError> {
        let sql = concat!("SELECT ", version_columns!(), " FROM versions WHERE name = $1");
        Ok(sqlx::query_as(sql).bind(name).fetch_all(&self.pool).await?)
    }

    /// Every version of every pack, in no particular order.
    pub async fn all_versions(&self) -> Result<Vec<VersionRow>, RegistryError> {
        let sql = concat!("SELECT ", version_columns!(), " FROM versions");
        Ok(sqlx::query_as(sql).fetch_all(&self.pool).await?)
    }

    /// One version.
    pub async fn version(&self, name: &str, version: &str) -> Result<Option<VersionRow>, RegistryError> {
        let sql = concat!("SELECT ", version_columns!(), " FROM versions WHERE name = $1 AND version = $2");
        Ok(sqlx::query_as(sql).bind(name).bind(version).fetch_optional(&self.pool).await?)
    }

    /// Stores (or replaces) a public key's PEM.
    pub async fn put_key(&self, key_id: &str, pem: &str) -> Result<(), RegistryError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO keys (key_id, pem) VALUES ($1, $2) ON CONFLICT (key_id) DO UPDATE SET pem = $2")
            .bind(key_id)
            .bind(pem)
            .execute(&mut *tx)
            .await?;
        self.commit_write(tx).await
    }

    /// A public key's PEM.
    pub async fn key(&self, key_id: &str) -> Result<Option<String>, RegistryError> {
        self.text_by_key("SELECT pem FROM keys WHERE key_id = $1", key_id).await
    }

    /// Every key id with its PEM, sorted by key id.
    pub async fn keys(&self) -> Result<Vec<(String, String)>, RegistryError> {
        Ok(sqlx::query_as("SELECT key_id, pem FROM keys ORDER BY key_id").fetch_all(&self.pool).await?)
    }

    /// Stores (or replaces) a registry-level document.
    pub async fn put_document(&self, doc_key: &str, body: &str, now: &str) -> Result<(), RegistryError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO documents (doc_key, body, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (doc_key) DO UPDATE SET body = $2, updated_at = $3",
        )
        .bind(doc_key)
        .bind(body)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        self.commit_write(tx).await
    }

    /// A registry-level document.
    pub async fn document(&self, doc_key: &str) -> Result<Option<String>, RegistryError> {
        self.text_by_key("SELECT body FROM documents WHERE doc_key = $1", doc_key).await
    }

    /// Checks the database answers (for readiness).
    pub async fn ping(&self) -> Result<(), RegistryError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

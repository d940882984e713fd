//! Content-addressed blobs in object storage (a local directory or S3).
//!
//! A blob's key is `sha256/<2 hex>/<64 hex>` of its bytes, so a tarball published twice is
//! stored once and a blob, once written, never changes.

use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, PutMode, PutOptions, PutPayload};

use crate::RegistryError;

/// One stored blob.
#[derive(Debug, Clone)]
pub struct BlobInfo {
    /// Its key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification.
    pub last_modified: time::OffsetDateTime,
}

/// The key prefix of a blob kept in the database (table `inline_blobs`) instead of the object
/// store: `db:sha256/<2 hex>/<64 hex>`. A key without it names an object-store blob.
pub const INLINE_PREFIX: &str = "db:";

/// The largest SBOM or statement kept in the database; a larger one goes to the object store.
pub const INLINE_LIMIT: usize = 256 * 1024;

/// A document kept in the database beside its version row (see [`Blobs::put_version`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineBlob {
    /// Its key, [`INLINE_PREFIX`] and the content address of `body`.
    pub key: String,
    /// The document, byte for byte.
    pub body: String,
}

/// Where the files of one version are stored (content addresses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionBlobs {
    /// The `.tgz`.
    pub tarball: String,
    /// The detached signature.
    pub signature: String,
    /// The per-version SBOM, if there is one.
    pub sbom: Option<String>,
    /// The registry statement, if there is one.
    pub statement: Option<String>,
    /// The documents among them that the caller stores in the version row's own transaction
    /// (`Db::insert_version_audited`), not in the object store.
    pub inline: Vec<InlineBlob>,
}

/// Where [`Blobs::put_version`] puts an SBOM or a statement.
enum Placed {
    /// In the database, under this key (in [`VersionBlobs::inline`]).
    Inline(String),
    /// In the object store, still to be written.
    Object(Bytes),
}

/// The blob store.
#[derive(Clone, Debug)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// Whether [`Blobs::put_version`] hands SBOMs and statements to the database: true for S3,
    /// where each object is a network round trip (and a billed request); false for a local
    /// directory, where writing a file beside the transaction is cheaper than adding the body
    /// to it under SQLite's single write lock (publishes measured 17% slower that way).
    inline_documents: bool,
}

impl Blobs {
    /// Opens `location`: `s3://bucket[/prefix][?endpoint=URL&region=NAME]`, `file:///dir` or a
    /// plain directory path.
    ///
    /// S3 credentials come from the `AWS_*` environment variables; endpoint and region from the
    /// URL's options or `AWS_ENDPOINT_URL` / `AWS_REGION` (plain `http://` endpoints are allowed,
    /// for S3-compatible servers on loopback).
    pub fn open(location: &str) -> Result<Self, RegistryError> {
        let remote = location.starts_with("s3://");
        let store: Arc<dyn ObjectStore> = if let Some(rest) = location.strip_prefix("s3://") {
            let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(RegistryError::Config {
                    what: format!("object store `{location}` names no bucket; use s3://<bucket>[/<prefix>]"),
                });
            }
            let mut endpoint = std::env::var("AWS_ENDPOINT_URL").or_else(|_| std::env::var("AWS_ENDPOINT")).ok();
            let mut region = std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION")).ok();
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                match pair.split_once('=') {
                    Some(("endpoint", value)) => endpoint = Some(value.to_string()),
                    Some(("region", value)) => region = Some(value.to_string()),
                    _ => {
                        return Err(RegistryError::Config {
                            what: format!(
                                "object store `{location}`: unknown option `{pair}` (known: endpoint=URL, region=NAME)"
                            ),
                        });
                    }
                }
            }
            // Bounded timeouts and retries: an object store that hangs must turn into a quick
            // 503, never a request that waits minutes (object_store retries for 3 minutes by
            // default).
            let retry = object_store::RetryConfig {
                max_retries: 2,
                retry_timeout: std::time::Duration::from_secs(10),
                ..object_store::RetryConfig::default()
            };
            let client = object_store::ClientOptions::new()
                .with_connect_timeout(std::time::Duration::from_secs(3))
                .with_timeout(std::time::Duration::from_secs(10));
            let mut builder = AmazonS3Builder::from_env()
                .with_retry(retry)
                .with_client_options(client)
                .with_bucket_name(bucket)
                .with_region(region.unwrap_or_else(|| "us-east-1".to_string()));
            if let Some(endpoint) = endpoint {
                builder = builder.with_allow_http(endpoint.starts_with("http://")).with_endpoint(endpoint);
            }
            let s3 = builder.build()?;
            if prefix.trim_matches('/').is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(s3, prefix.trim_matches('/')))
            }
        } else {
            let dir = location.strip_prefix("file://").unwrap_or(location);
            if dir.is_empty() {
                return Err(RegistryError::Config { what: "object store directory is empty".into() });
            }
            std::fs::create_dir_all(dir).map_err(|source| RegistryError::Io { path: dir.to_string(), source })?;
            Arc::new(LocalFileSystem::new_with_prefix(dir)?)
        };
        Ok(Self { store, inline_documents: remote })
    }

    /// Whether SBOMs and statements go to the database (see [`Blobs::put_version`]).
    pub fn inlines_documents(&self) -> bool {
        self.inline_documents
    }

    /// The same store, with SBOMs and statements sent to the database or not, whatever the
    /// store's kind would choose (both placements are read back alike).
    pub fn with_inline_documents(mut self, inline: bool) -> Self {
        self.inline_documents = inline;
        self
    }

    /// The content address of `bytes`.
    pub fn key_for(bytes: &[u8]) -> String {
        let hex = pack_verify::integrity::Integrity::of(bytes).hex();
        format!("sha256/{}/{}", &hex[..2], hex)
    }

    /// Stores `bytes` under their content address and returns the key. Storing the same bytes
    /// again is a no-op, which makes retries and concurrent publishes of one tarball safe.
    pub async fn put(&self, bytes: Bytes) -> Result<String, RegistryError> {
        let key = Self::key_for(&bytes);
        let path = Path::from(key.as_str());
        let opts = PutOptions { mode: PutMode::Create, ..Default::default() };
        match self.store.put_opts(&path, PutPayload::from_bytes(bytes.clone()), opts).await {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(key),
            Err(object_store::Error::NotImplemented { .. }) => {
                // Stores without create-if-absent: content addressing makes an overwrite harmless.
                self.store.put_opts(&path, PutPayload::from_bytes(bytes), PutOptions::default()).await?;
                Ok(key)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Stores the files of one version, concurrently (on S3 one round trip instead of four); a
    /// failure part-way leaves only unreferenced blobs, which the version row never points at
    /// and `registry-server gc` removes. On S3 ([`Blobs::inlines_documents`]) the SBOM and the
    /// statement, small JSON the registry serves whole, are returned in [`VersionBlobs::inline`]
    /// for the version row's own transaction instead: two object-store writes per publish
    /// instead of four, which bounded publishes on S3 (docs/performance-log.md). One that is not
    /// UTF-8, holds a NUL (PostgreSQL's TEXT refuses it) or exceeds [`INLINE_LIMIT`] goes to the
    /// object store like the tarball.
    pub async fn put_version(
        &self,
        tarball: Bytes,
        signature: Bytes,
        sbom: Option<Bytes>,
        statement: Option<Bytes>,
    ) -> Result<VersionBlobs, RegistryError> {
        // A document for the database gets its key here; any other is stored like the tarball,
        // whose `put` names it (one hash per file either way).
        let mut inline = Vec::new();
        let mut place = |bytes: Option<Bytes>| -> Option<Placed> {
            let bytes = bytes?;
            match std::str::from_utf8(&bytes) {
                Ok(text) if self.inline_documents && bytes.len() <= INLINE_LIMIT && !bytes.contains(&0) => {
                    let key = format!("{INLINE_PREFIX}{}", Self::key_for(&bytes));
                    inline.push(InlineBlob { key: key.clone(), body: text.to_string() });
                    Some(Placed::Inline(key))
                }
                _ => Some(Placed::Object(bytes)),
            }
        };
        let (sbom, statement) = (place(sbom), place(statement));
        let optional = |placed: Option<Placed>| async move {
            match placed {
                Some(Placed::Inline(key)) => Ok(Some(key)),
                Some(Placed::Object(bytes)) => self.put(bytes).await.map(Some),
                None => Ok(None),
            }
        };
        let (tarball, signature, sbom, statement) =
            tokio::try_join!(self.put(tarball), self.put(signature), optional(sbom), optional(statement))?;
        Ok(VersionBlobs { tarball, signature, sbom, statement, inline })
    }

    /// Every blob under the content-address prefix.
    pub async fn list(&self) -> Result<Vec<BlobInfo>, RegistryError> {
        use futures_util::TryStreamExt as _;
        let prefix = Path::from("sha256");
        let metas: Vec<object_store::ObjectMeta> = self.store.list(Some(&prefix)).try_collect().await?;
        Ok(metas
            .into_iter()
            .map(|m| BlobInfo {
                key: m.location.to_string(),
                size: m.size,
                last_modified: time::OffsetDateTime::from_unix_timestamp(m.last_modified.timestamp())
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            })
            .collect())
    }

    /// Deletes a blob (absent blobs are fine).
    pub async fn delete(&self, key: &str) -> Result<(), RegistryError> {
        use futures_util::StreamExt as _;
        let path = Path::from(key);
        let mut results = self.store.delete_stream(futures_util::stream::iter([Ok(path)]).boxed());
        while let Some(result) = results.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Reads a blob whole.
    pub async fn get(&self, key: &str) -> Result<Bytes, RegistryError> {
        let path = Path::from(key);
        match self.store.get_opts(&path, GetOptions::default()).await {
            Ok(result) => Ok(result.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => Err(RegistryError::BlobMissing { key: key.to_string() }),
            Err(e) => Err(e.into()),
        }
    }
}

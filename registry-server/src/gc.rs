//! `registry-server gc`: removes blobs that no version references. Publishes write blobs before
//! the transaction that makes a version visible, so a crash or a refused publish can leave
//! unreferenced blobs; unpublish leaves its blobs too. Blobs younger than the grace period are
//! kept, so a publish in flight on another replica never loses its tarball.

use crate::RegistryError;
use crate::storage::Storage;

/// What a collection found or removed.
#[derive(Debug, Default)]
pub struct GcReport {
    /// Blobs metadata references.
    pub referenced: usize,
    /// Unreferenced blobs removed (or, on a dry run, that would be).
    pub removed: Vec<String>,
    /// Their total size.
    pub removed_bytes: u64,
    /// Unreferenced blobs kept because they are younger than the grace period.
    pub young: usize,
}

/// Collects garbage.
pub async fn collect(storage: &Storage, grace: std::time::Duration, dry_run: bool) -> Result<GcReport, RegistryError> {
    // List blobs before reading references: a blob stored after the listing is not considered,
    // and one referenced after it is in `referenced` below.
    let blobs = storage.blobs.list().await?;
    let referenced = storage.db.referenced_blobs().await?;
    let cutoff = time::OffsetDateTime::now_utc() - grace;
    let mut report = GcReport { referenced: referenced.len(), ..GcReport::default() };
    for blob in blobs {
        if referenced.contains(&blob.key) {
            continue;
        }
        if blob.last_modified > cutoff {
            report.young += 1;
            continue;
        }
        if !dry_run {
            storage.blobs.delete(&blob.key).await?;
        }
        report.removed_bytes += blob.size;
        report.removed.push(blob.key);
    }
    Ok(report)
}

//! The schema `$id` mirror (contract §3.7): `/{name}/{version}/{file}.json` serves
//! `schemas/{file}.json` from inside that version's tarball, a derived (unsigned) view that lets
//! JSON-Schema `$id`s like `https://<registry>/core.openwop.flow/1.0.0/if.config.json` resolve.
//!
//! The spec says the mirror "MUST NOT expose schemas of unpublished or yanked packs", so yanked
//! versions have no mirror here (the reference tree still serves them; the spec wins because a
//! yanked schema is exactly what a host should stop resolving). Every path decision of the mirror
//! lives in this file, for the HTTP handler and for `export` alike.
//!
//! The tarball is read per request with `pack_verify::tarball::read_pack` (the one tar reader and
//! its limits); schemas are small and the tarball blob is content addressed, so a cache can be
//! added here later without touching callers.

use bytes::Bytes;
use pack_verify::tarball::{PackArchive, TarLimits, read_pack};

use super::Registry;
use crate::RegistryError;

/// Directory inside a pack tarball whose direct `*.json` children are mirrored.
pub const SCHEMA_DIR: &str = "schemas/";

/// Whether `file` (the last URL segment) can name a mirrored schema: a plain `*.json` file name,
/// never a path, so the mirror cannot reach outside `schemas/`.
pub fn is_schema_file_name(file: &str) -> bool {
    file.len() > ".json".len()
        && file.ends_with(".json")
        && !file.starts_with('.')
        && !file.contains(['/', '\\'])
        && !file.chars().any(char::is_control)
}

/// The mirrored schemas of an archive: `(file name, bytes)` for every direct `schemas/*.json`
/// child, in archive order.
pub fn schema_files(archive: &PackArchive) -> Vec<(&str, &[u8])> {
    archive
        .files()
        .iter()
        .filter_map(|f| {
            let file = f.path.strip_prefix(SCHEMA_DIR)?;
            is_schema_file_name(file).then_some((file, f.data.as_slice()))
        })
        .collect()
}

/// Reads a tarball with the shared reader and its default limits.
pub fn read_archive(name: &str, version: &str, tgz: &[u8]) -> Result<PackArchive, RegistryError> {
    read_pack(tgz, &TarLimits::default())
        .map_err(|source| RegistryError::Verify { context: format!("{name}@{version}"), source })
}

impl Registry {
    /// The mirrored schema `schemas/{file}` of `name@version`; `None` when the pack or version is
    /// unknown, the version is yanked, or the tarball has no such schema.
    pub async fn schema(&self, name: &str, version: &str, file: &str) -> Result<Option<Bytes>, RegistryError> {
        if !is_schema_file_name(file) {
            return Ok(None);
        }
        let Some(row) = self.version(name, version).await? else { return Ok(None) };
        if row.yanked != 0 {
            return Ok(None);
        }
        let tgz = self.storage().blobs.get(&row.tarball_blob).await?;
        let (name, version, path) = (name.to_string(), version.to_string(), format!("{SCHEMA_DIR}{file}"));
        // Decompression is CPU work: keep it off the async workers.
        tokio::task::spawn_blocking(move || {
            let archive = read_archive(&name, &version, &tgz)?;
            Ok(archive.get(&path).map(Bytes::copy_from_slice))
        })
        .await
        .map_err(|e| RegistryError::InvalidDocument {
            path: file.to_string(),
            reason: format!("tar reader aborted: {e}"),
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::is_schema_file_name;

    #[test]
    fn only_plain_json_file_names_are_mirrored() {
        assert!(is_schema_file_name("if.config.json"));
        for bad in ["", ".json", "x.txt", "../pack.json", "a/b.json", "a\\b.json", ".hidden.json", "x\n.json"] {
            assert!(!is_schema_file_name(bad), "{bad:?}");
        }
    }
}

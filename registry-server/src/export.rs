//! `registry-server export <dir>`: write the registry as a static tree that any plain file server
//! serves the way the registry does (the reference registry is such a tree).
//!
//! Written: `.well-known/openwop-registry.json`, `v1/index.json`, `v1/sbom.json`,
//! `v1/packs/<name>/index.json`, `v1/packs/<name>/-/<v>.{json,tgz,sig,sbom.json}`,
//! `keys/<id>.pub`, `security/advisories.json`, the schema mirror `<name>/<v>/<schema>.json` of
//! unyanked versions, and the HTML catalog (`index.html`, `-/catalog/<name>/index.html`). Every
//! body comes from the same functions the HTTP handlers use, so the bytes are the served bytes.
//!
//! A plain file server needs rewrites for the two extensionless aliases:
//! `/.well-known/openwop-registry` → `….json` and `/v1/packs/{name}` → `/v1/packs/{name}/index.json`.
//!
//! The tree is built in a temporary directory beside the target and renamed into place, so a
//! reader never sees half an export. An existing non-empty target is refused unless `force`; then
//! the old tree is renamed aside, the new one renamed in, and the old one deleted.

use std::path::{Path, PathBuf};

use crate::api::catalog;
use crate::registry::schemas::{read_archive, schema_files};
use crate::{Registry, RegistryError};

/// How to export.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    /// Replace a non-empty target directory.
    pub force: bool,
}

/// What an export wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Packs written.
    pub packs: usize,
    /// Versions written.
    pub versions: usize,
    /// Schema mirror files written.
    pub schemas: usize,
    /// Files written in total.
    pub files: usize,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io { path: path.display().to_string(), source }
}

/// A path segment taken from stored data: refused unless it is a plain file name, so no stored
/// value can write outside the export.
fn segment<'a>(what: &str, value: &'a str) -> Result<&'a str, RegistryError> {
    let ok = !value.is_empty()
        && value != "."
        && value != ".."
        && !value.contains(['/', '\\'])
        && !value.chars().any(char::is_control);
    if ok {
        Ok(value)
    } else {
        Err(RegistryError::InvalidDocument {
            path: what.to_string(),
            reason: format!("`{value}` is not a safe path segment"),
        })
    }
}

struct Writer {
    root: PathBuf,
    files: usize,
}

impl Writer {
    fn write(&mut self, rel: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, bytes).map_err(io(&path))?;
        self.files += 1;
        Ok(())
    }
}

fn is_empty_dir(path: &Path) -> Result<bool, RegistryError> {
    Ok(std::fs::read_dir(path).map_err(io(path))?.next().is_none())
}

/// Exports `registry` to `target`.
pub async fn export_tree(
    registry: &Registry,
    target: &Path,
    options: ExportOptions,
) -> Result<ExportSummary, RegistryError> {
    let exists = target.exists();
    if exists && !target.is_dir() {
        return Err(RegistryError::Config { what: format!("{} exists and is not a directory", target.display()) });
    }
    if exists && !options.force && !is_empty_dir(target)? {
        return Err(RegistryError::Config {
            what: format!("{} is not empty; pass --force to replace it", target.display()),
        });
    }
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = target.file_name().map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let temp = parent.join(format!(".{base}.export-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&temp).map_err(io(&temp))?;

    let mut writer = Writer { root: temp.clone(), files: 0 };
    let written = write_all(registry, &mut writer).await;
    let summary = match written {
        Ok(summary) => summary,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&temp);
            return Err(e);
        }
    };

    if exists {
        // Rename aside first: `rename` onto a non-empty directory fails on every platform.
        let old = parent.join(format!(".{base}.old-{}-{stamp}", std::process::id()));
        std::fs::rename(target, &old).map_err(io(target))?;
        if let Err(source) = std::fs::rename(&temp, target) {
            let _ = std::fs::rename(&old, target);
            return Err(RegistryError::Io { path: target.display().to_string(), source });
        }
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    } else {
        std::fs::rename(&temp, target).map_err(io(target))?;
    }
    Ok(summary)
}

async fn write_all(registry: &Registry, w: &mut Writer) -> Result<ExportSummary, RegistryError> {
    // An export is a public static tree: never any tenant's private packs (crate::tenant).
    let public = registry.viewed(crate::tenant::View::Public);
    let registry = &public;
    let mut summary = ExportSummary::default();
    let discovery = registry.discovery().await?;
    w.write(".well-known/openwop-registry.json", discovery.as_bytes())?;
    w.write("v1/index.json", registry.registry_index().await?.as_bytes())?;
    w.write("v1/sbom.json", registry.aggregate_sbom().await?.as_bytes())?;
    w.write("security/advisories.json", registry.advisories().await?.as_bytes())?;
    for (key_id, pem) in registry.storage().db.keys().await? {
        w.write(&format!("keys/{}.pub", segment("key id", &key_id)?), pem.as_bytes())?;
    }
    w.write("index.html", catalog::home_page(registry, None).await?.as_bytes())?;

    let mut rows = registry.visible_versions().await?;
    rows.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.version.cmp(&b.version)));
    let mut names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    names.dedup();
    for name in &names {
        let name = segment("pack name", name)?;
        let Some(index) = registry.pack_index(name).await? else { continue };
        w.write(&format!("v1/packs/{name}/index.json"), index.as_bytes())?;
        if let Some(html) = catalog::pack_page(registry, name).await? {
            w.write(&format!("-/catalog/{name}/index.html"), html.as_bytes())?;
        }
        summary.packs += 1;
    }
    for row in &rows {
        let (name, version) = (segment("pack name", &row.name)?, segment("version", &row.version)?);
        let base = format!("v1/packs/{name}/-/{version}");
        w.write(&format!("{base}.json"), row.manifest.as_bytes())?;
        let tgz = registry.blob(&row.tarball_blob).await?;
        w.write(&format!("{base}.tgz"), &tgz)?;
        w.write(&format!("{base}.sig"), &registry.blob(&row.signature_blob).await?)?;
        if let Some(key) = &row.sbom_blob {
            w.write(&format!("{base}.sbom.json"), &registry.blob(key).await?)?;
        }
        // The mirror covers unyanked versions only (contract §3.7), exactly like the handler.
        if row.yanked == 0 {
            let archive = read_archive(name, version, &tgz)?;
            for (file, bytes) in schema_files(&archive) {
                w.write(&format!("{name}/{version}/{file}"), bytes)?;
                summary.schemas += 1;
            }
        }
        summary.versions += 1;
    }
    summary.files = w.files;
    Ok(summary)
}

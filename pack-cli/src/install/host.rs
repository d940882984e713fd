//! Installing into a host directory atomically.
//!
//! Layout: `<host-dir>/packs` is a symbolic link to `<host-dir>/.pack-generations/<id>/`, which
//! holds one directory per installed pack (`<name>/…` the tarball's files) plus
//! `installed.json` (what is installed, with integrity). An install builds a complete new
//! generation beside the old one, then swaps the link with one `rename`, which is atomic: a crash
//! or a failure at any point leaves the previous install exactly as it was. Old generations are
//! removed after the swap.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use pack_verify::tarball::PackFile;
use serde_json::{Value, json};

use crate::error::{CliError, CliResult};

/// One verified pack to place in the host directory.
#[derive(Debug, Clone)]
pub struct InstallItem {
    /// Pack name (validated by the verifier).
    pub name: String,
    /// Exact version.
    pub version: String,
    /// Integrity of the tarball the files came from.
    pub integrity: String,
    /// Registry it came from.
    pub source: String,
    /// The files, from the safe tar reader.
    pub files: Vec<PackFile>,
}

const LINK: &str = "packs";
const GENERATIONS: &str = ".pack-generations";
const INSTALLED: &str = "installed.json";

fn io<'a>(path: &'a Path, action: &str) -> impl FnOnce(std::io::Error) -> CliError + 'a {
    let action = action.to_string();
    move |e| CliError::io(path, &action, &e)
}

fn generation_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-{}", std::process::id())
}

/// What is installed in `host_dir` now (empty when nothing is).
pub fn installed(host_dir: &Path) -> CliResult<Value> {
    let path = host_dir.join(LINK).join(INSTALLED);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            CliError::usage("host_dir_invalid", format!("{} is not valid JSON: {e}", path.display()), "reinstall")
                .at(&path)
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({"packs": []})),
        Err(e) => Err(CliError::io(&path, "read", &e)),
    }
}

/// Replaces the host directory's installed set with `items`, atomically.
pub fn install(host_dir: &Path, items: &[InstallItem]) -> CliResult<PathBuf> {
    std::fs::create_dir_all(host_dir).map_err(io(host_dir, "create"))?;
    let link = host_dir.join(LINK);
    if let Ok(meta) = std::fs::symlink_metadata(&link)
        && !meta.file_type().is_symlink()
    {
        return Err(CliError::usage(
            "host_dir_invalid",
            format!("{} exists and is not managed by pack (not a link to a generation)", link.display()),
            "move it away, or choose another --host-dir",
        )
        .at(&link));
    }
    let generations = host_dir.join(GENERATIONS);
    std::fs::create_dir_all(&generations).map_err(io(&generations, "create"))?;
    let id = generation_id();
    let staging = generations.join(format!(".staging-{id}"));
    let result = build_generation(&staging, items);
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let generation = generations.join(&id);
    std::fs::rename(&staging, &generation).map_err(io(&generation, "rename"))?;
    // Swap the link: create it under a temporary name, then rename over the old one.
    let tmp_link = host_dir.join(format!(".packs-{id}"));
    let target = Path::new(GENERATIONS).join(&id);
    std::os::unix::fs::symlink(&target, &tmp_link).map_err(io(&tmp_link, "link"))?;
    if let Err(e) = std::fs::rename(&tmp_link, &link) {
        let _ = std::fs::remove_file(&tmp_link);
        let _ = std::fs::remove_dir_all(&generation);
        return Err(CliError::io(&link, "replace", &e));
    }
    // Old generations are garbage now; failing to remove them loses nothing.
    if let Ok(entries) = std::fs::read_dir(&generations) {
        for entry in entries.flatten() {
            if entry.file_name() != id.as_str() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(generation)
}

fn build_generation(staging: &Path, items: &[InstallItem]) -> CliResult<()> {
    std::fs::create_dir_all(staging).map_err(io(staging, "create"))?;
    // File creation is most of an install's time (kernel work per file), so packs are written on
    // every core; each pack's tree is its own, so the workers never touch the same directory.
    super::on_workers(0, "pack-writing", items, |item| write_pack_tree(&staging.join(&item.name), &item.files))?;
    let index: Vec<Value> = items
        .iter()
        .map(|item| {
            json!({"name": item.name, "version": item.version, "integrity": item.integrity, "source": item.source})
        })
        .collect();
    let doc = pack_verify::canonical::to_canonical_pretty(&json!({ "packs": index })) + "\n";
    let path = staging.join(INSTALLED);
    std::fs::write(&path, doc).map_err(io(&path, "write"))?;
    Ok(())
}

/// Writes one pack's files below `root`, creating each directory once (not a failing `mkdir`
/// and a `stat` per file, which `create_dir_all` costs on a directory that exists).
fn write_pack_tree(root: &Path, files: &[PackFile]) -> CliResult<()> {
    let mut made: HashSet<PathBuf> = HashSet::new();
    for file in files {
        // Paths come from the safe tar reader (no `..`, no absolute paths, normalised).
        let path = root.join(&file.path);
        if let Some(parent) = path.parent()
            && !made.contains(parent)
        {
            std::fs::create_dir_all(parent).map_err(io(parent, "create"))?;
            made.insert(parent.to_path_buf());
        }
        std::fs::write(&path, &file.data).map_err(io(&path, "write"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn item(name: &str, body: &str) -> InstallItem {
        InstallItem {
            name: name.into(),
            version: "1.0.0".into(),
            integrity: "sha256-x".into(),
            source: "https://r".into(),
            files: vec![PackFile { path: "pack.json".into(), data: body.as_bytes().to_vec() }],
        }
    }

    #[test]
    fn swaps_generations_and_keeps_the_old_one_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        install(dir.path(), &[item("vendor.a.b", "one")]).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("packs/vendor.a.b/pack.json")).unwrap(), "one");
        install(dir.path(), &[item("vendor.a.b", "two"), item("vendor.a.c", "c")]).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("packs/vendor.a.b/pack.json")).unwrap(), "two");
        assert_eq!(installed(dir.path()).unwrap()["packs"].as_array().unwrap().len(), 2);
        assert_eq!(std::fs::read_dir(dir.path().join(GENERATIONS)).unwrap().count(), 1, "old generations removed");

        // A failing build (a file where a directory must go) leaves the previous install intact.
        let bad = InstallItem {
            files: vec![PackFile { path: "x".into(), data: vec![1] }, PackFile { path: "x/y".into(), data: vec![2] }],
            ..item("vendor.a.d", "")
        };
        assert!(install(dir.path(), &[bad]).is_err());
        assert_eq!(std::fs::read_to_string(dir.path().join("packs/vendor.a.b/pack.json")).unwrap(), "two");
        assert_eq!(std::fs::read_dir(dir.path().join(GENERATIONS)).unwrap().count(), 1, "no staging left");
    }

    #[test]
    fn many_nested_packs_are_written_whole_and_one_failure_among_them_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let nested = |n: usize| InstallItem {
            files: (0..6)
                .map(|f| PackFile {
                    path: format!("d{}/e{}/f{f}.json", f % 2, f % 3),
                    data: format!("{n}:{f}").into_bytes(),
                })
                .chain([PackFile { path: "pack.json".into(), data: n.to_string().into_bytes() }])
                .collect(),
            ..item(&format!("vendor.a.p{n}"), "")
        };
        let items: Vec<InstallItem> = (0..40).map(nested).collect();
        install(dir.path(), &items).unwrap();
        for n in 0..40 {
            for f in 0..6 {
                let path = dir.path().join(format!("packs/vendor.a.p{n}/d{}/e{}/f{f}.json", f % 2, f % 3));
                assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{n}:{f}"), "{}", path.display());
            }
        }
        let listed = installed(dir.path()).unwrap();
        let names: Vec<&str> = listed["packs"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(names.len(), 40);
        assert_eq!(names[39], "vendor.a.p39", "installed.json keeps the given order");

        // One bad pack among many: the install fails and the previous one stays, with no staging.
        let mut more: Vec<InstallItem> = (40..80).map(nested).collect();
        more[20].files.push(PackFile { path: "pack.json/under-a-file".into(), data: vec![1] });
        let err = install(dir.path(), &more).unwrap_err();
        assert!(err.message.contains("pack.json"), "{}", err.message);
        assert_eq!(std::fs::read_to_string(dir.path().join("packs/vendor.a.p3/pack.json")).unwrap(), "3");
        assert!(!dir.path().join("packs/vendor.a.p41").exists());
        assert_eq!(std::fs::read_dir(dir.path().join(GENERATIONS)).unwrap().count(), 1, "no staging left");
    }

    #[test]
    fn refuses_an_unmanaged_packs_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("packs")).unwrap();
        assert_eq!(install(dir.path(), &[]).unwrap_err().code, "host_dir_invalid");
    }
}

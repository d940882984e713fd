//! Collecting a pack's files from its source directory: what is left out, and what is refused.

use std::fs;
use std::path::{Path, PathBuf};

use pack_verify::PackFile;
use pack_verify::tarball::normalise_name;

use crate::error::{CliError, CliResult};

/// Directories never packed, wherever they are.
pub const SKIPPED_DIRS: &[&str] = &[".git", "node_modules", "target"];
/// File suffixes never packed: built artifacts, signatures (the embedded one is re-made), keys.
pub const SKIPPED_SUFFIXES: &[&str] = &[".tgz", ".sig", ".key"];
/// File names never packed.
pub const SKIPPED_FILES: &[&str] = &[".DS_Store"];

/// The files of a pack source directory.
#[derive(Debug, Default)]
pub struct SourceFiles {
    /// Files to pack, with `/`-separated relative paths, sorted by byte order.
    pub files: Vec<PackFile>,
    /// Relative paths left out by the skip rules.
    pub skipped: Vec<String>,
}

fn skipped_file(name: &str) -> bool {
    SKIPPED_FILES.contains(&name) || SKIPPED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Reads every file under `root`. Refuses symlinks, special files, non-UTF-8 names and names the
/// tar reader would refuse or that do not fit the 100-byte ustar name field.
pub fn collect(root: &Path) -> CliResult<SourceFiles> {
    let meta = fs::metadata(root).map_err(|e| CliError::io(root, "read", &e))?;
    if !meta.is_dir() {
        return Err(CliError::usage(
            "source_not_a_directory",
            format!("{} is not a directory", root.display()),
            "pass the pack's source directory (the one holding pack.json)",
        )
        .at(root));
    }
    let mut out = SourceFiles::default();
    walk(root, "", &mut out)?;
    out.files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut SourceFiles) -> CliResult<()> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| CliError::io(dir, "list", &e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| CliError::io(dir, "list", &e))?;
    entries.sort();
    for path in entries {
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            return Err(CliError::usage(
                "source_name_not_utf8",
                format!("{} has a name that is not UTF-8", path.display()),
                "rename it: pack entry names must be UTF-8 (tarball_name_not_utf8)",
            )
            .at(&path));
        };
        let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        let meta = fs::symlink_metadata(&path).map_err(|e| CliError::io(&path, "inspect", &e))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            return Err(CliError::usage(
                "source_symlink",
                format!("`{rel}` is a symbolic link; packs hold regular files only"),
                "replace the link with a copy of the file, or move it out of the pack directory",
            )
            .at(&path));
        }
        if kind.is_dir() {
            if SKIPPED_DIRS.contains(&name.as_str()) {
                out.skipped.push(format!("{rel}/"));
            } else {
                walk(&path, &rel, out)?;
            }
            continue;
        }
        if !kind.is_file() {
            return Err(CliError::usage(
                "source_unsupported_file",
                format!("`{rel}` is not a regular file (device, FIFO or socket)"),
                "remove it from the pack directory",
            )
            .at(&path));
        }
        if skipped_file(&name) {
            out.skipped.push(rel);
            continue;
        }
        match normalise_name(&rel) {
            Ok(n) if n == rel => {}
            Ok(_) => {
                return Err(bad_name(&rel, &path, "it does not normalise to itself".into()));
            }
            Err(e) => return Err(bad_name(&rel, &path, format!("{e} ({})", e.code()))),
        }
        if rel.len() > 100 {
            return Err(CliError::usage(
                "source_name_too_long",
                format!("`{rel}` is {} bytes long; pack entry names must fit in 100 bytes", rel.len()),
                "shorten the path: the deterministic layout has no long-name headers",
            )
            .at(&path));
        }
        let data = fs::read(&path).map_err(|e| CliError::io(&path, "read", &e))?;
        out.files.push(PackFile { path: rel, data });
    }
    Ok(())
}

fn bad_name(rel: &str, path: &Path, why: String) -> CliError {
    CliError::usage(
        "source_bad_name",
        format!("`{rel}` cannot be a pack entry name: {why}"),
        "rename the file: no backslashes, NUL bytes or drive letters",
    )
    .at(path)
}

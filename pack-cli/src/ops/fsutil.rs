//! Small file-system helpers: atomic replacement and reading with a path in the error.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{CliError, CliResult};

/// Reads a whole file.
pub fn read(path: &Path) -> CliResult<Vec<u8>> {
    fs::read(path).map_err(|e| CliError::io(path, "read", &e))
}

/// Reads a whole file as UTF-8 text.
pub fn read_text(path: &Path) -> CliResult<String> {
    let bytes = read(path)?;
    String::from_utf8(bytes)
        .map_err(|_| CliError::usage("not_utf8", format!("{} is not UTF-8 text", path.display()), "pass a text file"))
        .map_err(|e| e.at(path))
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, synced, then
/// renamed over the target, so a reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> CliResult<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        CliError::io(path, "write", &e)
    })
}

/// Creates `dir` (and parents) if missing.
pub fn ensure_dir(dir: &Path) -> CliResult<()> {
    fs::create_dir_all(dir).map_err(|e| CliError::io(dir, "create directory", &e))
}

//! Key files: generating Ed25519 keys, writing the private half with mode 0600 without ever
//! overwriting by accident, and reading keys back.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use pack_verify::{PrivateKey, PublicKey};

use super::fsutil;
use super::names::check_key_id;
use crate::error::{CliError, CliResult};

/// A freshly generated key pair and where it was written.
#[derive(Debug)]
pub struct GeneratedKey {
    /// Key id (the file stem).
    pub key_id: String,
    /// The private key file (PKCS#8 PEM, mode 0600).
    pub key_path: PathBuf,
    /// The public key file (SPKI PEM).
    pub pub_path: PathBuf,
    /// The public key.
    pub public: PublicKey,
}

/// Makes a new private key from 32 bytes of operating-system randomness.
pub fn generate() -> CliResult<PrivateKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| {
        CliError::usage("rng_unavailable", format!("no randomness from the operating system: {e}"), "retry")
    })?;
    Ok(PrivateKey::from_seed(seed))
}

fn exists_error(path: &Path) -> CliError {
    CliError::usage(
        "key_file_exists",
        format!("{} already exists; refusing to overwrite a key", path.display()),
        "choose another key name (`pack keygen --name`, `pack keys root-init --key-id`) or --out-dir, or pass --force to replace it",
    )
    .at(path)
}

#[cfg(unix)]
fn secret_options() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true).mode(0o600);
    options
}

#[cfg(not(unix))]
fn secret_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    options
}

/// Writes a secret file readable only by its owner. The file is created with `create_new` and
/// mode 0600 in one step (never world-readable, not even briefly); with `force` it is created
/// under a temporary name and renamed over the old file.
pub fn write_secret(path: &Path, contents: &[u8], force: bool) -> CliResult<()> {
    let target = if force {
        path.with_file_name(format!(
            ".{}.tmp-{}",
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            std::process::id()
        ))
    } else {
        path.to_path_buf()
    };
    let mut file = secret_options().open(&target).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists && !force {
            exists_error(path)
        } else {
            CliError::io(&target, "create", &e)
        }
    })?;
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(&target);
        return Err(CliError::io(&target, "write", &e));
    }
    if force {
        fs::rename(&target, path).map_err(|e| {
            let _ = fs::remove_file(&target);
            CliError::io(path, "replace", &e)
        })?;
    }
    Ok(())
}

/// Generates a key pair and writes `<dir>/<key_id>.key` and `<dir>/<key_id>.pub`. Refuses to
/// touch either file if one exists, unless `force`.
pub fn generate_files(dir: &Path, key_id: &str, force: bool) -> CliResult<GeneratedKey> {
    check_key_id(key_id)?;
    fsutil::ensure_dir(dir)?;
    let key_path = dir.join(format!("{key_id}.key"));
    let pub_path = dir.join(format!("{key_id}.pub"));
    if !force {
        for p in [&key_path, &pub_path] {
            if fs::symlink_metadata(p).is_ok() {
                return Err(exists_error(p));
            }
        }
    }
    let key = generate()?;
    let pem = key.to_pkcs8_pem().map_err(|e| CliError::input(&e))?;
    write_secret(&key_path, pem.as_bytes(), force)?;
    let public = key.public_key();
    fsutil::write_atomic(&pub_path, public.to_pem().as_bytes())?;
    Ok(GeneratedKey { key_id: key_id.to_string(), key_path, pub_path, public })
}

/// Reads a PKCS#8 PEM private key.
pub fn read_private(path: &Path) -> CliResult<PrivateKey> {
    let text = fsutil::read_text(path)?;
    PrivateKey::from_pkcs8_pem(&text).map_err(|e| {
        CliError::input(&e).at(path).hint("pass the `.key` file written by `pack keygen` (or, for a root key, `pack keys root-init`): PKCS#8 PEM, Ed25519")
    })
}

/// Reads a public key (PEM SPKI, base64 SPKI DER or raw base64).
pub fn read_public(path: &Path) -> CliResult<PublicKey> {
    let text = fsutil::read_text(path)?;
    PublicKey::parse(&text).map_err(|e| CliError::input(&e).at(path))
}

//! `pack build`: source directory → deterministic signed `<name>-<version>.tgz` + `.sig`.

use std::path::{Path, PathBuf};

use pack_verify::canonical::to_canonical_vec;
use pack_verify::tarball::{EMBEDDED_SIGNATURE, PACK_JSON, write_pack};
use pack_verify::{Integrity, PackFile, PrivateKey};
use serde_json::Value;

use super::names::{check_key_id, check_pack_name, check_version};
use super::sign::{detached_signature, manual_signing_block, pack_json_object};
use super::{fsutil, source};
use crate::error::{CliError, CliResult};

/// A built pack.
#[derive(Debug)]
pub struct Built {
    /// Pack name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Key id that signed it.
    pub key_id: String,
    /// The `.tgz` written.
    pub tarball: PathBuf,
    /// The detached `.sig` written.
    pub signature: PathBuf,
    /// Integrity of the `.tgz`.
    pub integrity: Integrity,
    /// Size of the `.tgz` in bytes.
    pub size: usize,
    /// Entry names, in archive order.
    pub files: Vec<String>,
    /// Source paths left out by the skip rules.
    pub skipped: Vec<String>,
}

/// What is built, with which key, into where.
#[derive(Debug)]
pub struct BuildOptions<'a> {
    /// Source directory.
    pub dir: &'a Path,
    /// Signing key.
    pub key: &'a PrivateKey,
    /// Its key id.
    pub key_id: &'a str,
    /// Output directory.
    pub out_dir: &'a Path,
}

fn str_field<'a>(obj: &'a serde_json::Map<String, Value>, key: &str, path: &Path) -> CliResult<&'a str> {
    obj.get(key).and_then(Value::as_str).ok_or_else(|| {
        CliError::usage("invalid_manifest", format!("pack.json has no string `{key}`"), "`pack init` writes a skeleton")
            .at(path)
    })
}

/// Files pack.json says must be in the pack: the runtime entry and each node's schemas.
fn referenced_files(obj: &serde_json::Map<String, Value>) -> Vec<(String, String)> {
    let mut refs = Vec::new();
    if let Some(runtime) = obj.get("runtime").and_then(Value::as_object) {
        let remote = runtime.get("language").and_then(Value::as_str) == Some("remote");
        if let (false, Some(entry)) = (remote, runtime.get("entry").and_then(Value::as_str)) {
            refs.push(("runtime.entry".to_string(), entry.to_string()));
        }
    }
    for (i, node) in obj.get("nodes").and_then(Value::as_array).into_iter().flatten().enumerate() {
        for field in ["configSchemaRef", "inputSchemaRef", "outputSchemaRef"] {
            if let Some(r) = node.get(field).and_then(Value::as_str) {
                refs.push((format!("nodes[{i}].{field}"), r.to_string()));
            }
        }
    }
    refs
}

/// Builds and signs the pack in `opts.dir`. Building the same sources with the same key twice
/// gives byte-identical files.
pub fn build(opts: &BuildOptions<'_>) -> CliResult<Built> {
    check_key_id(opts.key_id)?;
    let collected = source::collect(opts.dir)?;
    let mut files = collected.files;
    let manifest_path = opts.dir.join(PACK_JSON);
    let Some(index) = files.iter().position(|f| f.path == PACK_JSON) else {
        return Err(CliError::usage(
            "tarball_manifest_missing",
            format!("{} has no pack.json", opts.dir.display()),
            "run `pack init` to create a pack, or pass the directory that holds pack.json",
        )
        .at(opts.dir));
    };
    let mut manifest = pack_json_object(&files[index].data, &manifest_path)?;
    let name = str_field(&manifest, "name", &manifest_path)?.to_string();
    let version = str_field(&manifest, "version", &manifest_path)?.to_string();
    check_pack_name(&name).map_err(|e| e.at(&manifest_path))?;
    check_version(&version).map_err(|e| e.at(&manifest_path))?;
    for (field, reference) in referenced_files(&manifest) {
        let wanted = reference.strip_prefix("./").unwrap_or(&reference);
        if !files.iter().any(|f| f.path == wanted) {
            return Err(CliError::usage(
                "pack_file_missing",
                format!("pack.json `{field}` names `{reference}`, which is not in the pack"),
                "add the file, or fix the path in pack.json (paths are relative to the pack root)",
            )
            .at(&manifest_path));
        }
    }

    // The bytes signed are the bytes stored: canonical JSON including the signing block.
    manifest.insert("signing".into(), manual_signing_block(opts.key_id));
    let canonical = to_canonical_vec(&Value::Object(manifest));
    let embedded = opts.key.sign(&canonical);
    files[index].data = canonical;
    files.push(PackFile { path: EMBEDDED_SIGNATURE.to_string(), data: embedded.to_bytes().to_vec() });

    let tgz = write_pack(&files).map_err(|e| CliError::from_verify(&e).at(opts.dir))?;
    // The same path `pack sign` takes: read the tarball back with the safe reader, sign, and
    // check the result equals what was embedded.
    let detached = detached_signature(&tgz, opts.key, opts.key_id).map_err(|e| e.at(opts.dir))?;

    fsutil::ensure_dir(opts.out_dir)?;
    let stem = format!("{name}-{version}");
    let tarball = opts.out_dir.join(format!("{stem}.tgz"));
    let signature = opts.out_dir.join(format!("{stem}.sig"));
    fsutil::write_atomic(&tarball, &tgz)?;
    fsutil::write_atomic(&signature, &detached.to_bytes())?;
    let mut names: Vec<String> = files.into_iter().map(|f| f.path).collect();
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(Built {
        name,
        version,
        key_id: opts.key_id.to_string(),
        tarball,
        signature,
        integrity: Integrity::of(&tgz),
        size: tgz.len(),
        files: names,
        skipped: collected.skipped,
    })
}

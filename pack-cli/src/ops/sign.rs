//! The `manual` signing convention (decisions §6): an Ed25519 signature over the exact
//! canonical `pack.json` bytes stored in the tarball, embedded as `keys/pack.json.sig` and
//! published as the detached `.sig` (the same 64 raw bytes).

use std::path::{Path, PathBuf};

use pack_verify::manifest::PackJson;
use pack_verify::tarball::{EMBEDDED_SIGNATURE, TarLimits, read_pack};
use pack_verify::{PrivateKey, Signature, SigningMethod};
use serde_json::{Value, json};

use crate::error::{CliError, CliResult};

/// The signing block a `manual` pack carries, as the reference builder writes it.
pub fn manual_signing_block(key_id: &str) -> Value {
    json!({"method": "manual", "publicKeyRef": key_id, "signatureRef": EMBEDDED_SIGNATURE})
}

/// The detached signature file that belongs next to a tarball (`x.tgz` → `x.sig`).
pub fn sig_path_for(tarball: &Path) -> PathBuf {
    tarball.with_extension("sig")
}

/// Computes the detached signature of a built `manual` tarball with `key`, the one code path
/// `pack build` and `pack sign` share. The tarball must name `key_id` as its signer and the
/// signature must equal the embedded `keys/pack.json.sig`; otherwise this key did not sign it.
pub fn detached_signature(tgz: &[u8], key: &PrivateKey, key_id: &str) -> CliResult<Signature> {
    let archive = read_pack(tgz, &TarLimits::default()).map_err(|e| CliError::from_verify(&e))?;
    let pack = PackJson::parse(archive.pack_json()).map_err(|e| CliError::from_verify(&e))?;
    let Some(signing) = pack.signing else {
        return Err(CliError::verification(
            "pack_unsigned",
            "pack.json in the tarball has no signing block",
            "build the pack with `pack build --key … --key-id …`, which signs it",
        ));
    };
    if signing.method != SigningMethod::Manual {
        return Err(CliError::verification(
            "pack_signing_method_unsupported",
            format!(
                "the pack uses signing method `{}`; `pack sign` writes `manual` signatures",
                signing.method.as_str()
            ),
            "rebuild the pack with `pack build` (it signs the manual way)",
        ));
    }
    if signing.key_id != key_id {
        return Err(CliError::verification(
            "pack_signer_mismatch",
            format!("pack.json names signer `{}`, not `{key_id}`", signing.key_id),
            format!(
                "sign with `--key-id {}` and its key, or rebuild with `pack build --key-id {key_id}`",
                signing.key_id
            ),
        ));
    }
    let signature = key.sign(archive.pack_json());
    match archive.get(EMBEDDED_SIGNATURE) {
        None => Err(CliError::verification(
            "pack_signature_mismatch",
            format!("the tarball has no embedded {EMBEDDED_SIGNATURE}"),
            "rebuild the pack with `pack build`, which embeds it",
        )),
        Some(embedded) if embedded != signature.to_bytes().as_slice() => Err(CliError::verification(
            "pack_signature_mismatch",
            format!(
                "this key's signature over pack.json differs from the embedded {EMBEDDED_SIGNATURE}: the pack was not signed with this key"
            ),
            format!("pass the private key of `{key_id}` that built the pack, or rebuild it with `pack build`"),
        )),
        Some(_) => Ok(signature),
    }
}

/// Parses a pack.json document from source bytes into a JSON object.
pub fn pack_json_object(bytes: &[u8], path: &Path) -> CliResult<serde_json::Map<String, Value>> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        CliError::usage("invalid_manifest", format!("pack.json is not valid JSON: {e}"), "fix the JSON syntax").at(path)
    })?;
    match value {
        Value::Object(map) => Ok(map),
        _ => {
            Err(CliError::usage("invalid_manifest", "pack.json is not a JSON object", "`pack init` writes a skeleton")
                .at(path))
        }
    }
}

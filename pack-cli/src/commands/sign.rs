//! `pack sign`.

use serde_json::json;

use crate::cli::SignArgs;
use crate::error::CliResult;
use crate::ops::sign::{detached_signature, sig_path_for};
use crate::ops::{fsutil, keyfile};
use crate::output::{Outcome, Shell};

/// (Re)writes the detached signature of a built tarball.
pub fn exec(args: &SignArgs, shell: &Shell) -> CliResult<Outcome> {
    let key = keyfile::read_private(&args.key)?;
    let tgz = fsutil::read(&args.tarball)?;
    let signature = detached_signature(&tgz, &key, &args.key_id).map_err(|e| e.at(&args.tarball))?;
    let out = args.out.clone().unwrap_or_else(|| sig_path_for(&args.tarball));
    fsutil::write_atomic(&out, &signature.to_bytes())?;
    shell.status("Signed", &args.tarball.display().to_string());
    Ok(Outcome::new(
        "sign",
        json!({
            "tarball": args.tarball.display().to_string(),
            "signature": out.display().to_string(),
            "keyId": args.key_id,
            "method": "manual",
            "signatureBase64": signature.to_base64(),
        }),
        vec![format!("wrote {} (key {}, manual: equals the embedded keys/pack.json.sig)", out.display(), args.key_id)],
    ))
}

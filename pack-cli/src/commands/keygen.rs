//! `pack keygen`.

use serde_json::json;

use crate::cli::KeygenArgs;
use crate::error::CliResult;
use crate::ops::keyfile;
use crate::output::{Outcome, Shell};

/// Generates a signing key pair.
pub fn exec(args: &KeygenArgs, shell: &Shell) -> CliResult<Outcome> {
    let key = keyfile::generate_files(&args.out_dir, &args.name, args.force)?;
    shell.status("Generated", &format!("Ed25519 key `{}`", key.key_id));
    let public = key.public.to_base64();
    Ok(Outcome::new(
        "keygen",
        json!({
            "keyId": key.key_id,
            "publicKey": public,
            "publicKeySpki": key.public.to_spki_base64(),
            "privateKeyPath": key.key_path.display().to_string(),
            "publicKeyPath": key.pub_path.display().to_string(),
        }),
        vec![
            format!("key id:      {}", key.key_id),
            format!("public key:  {public}"),
            format!("private key: {} (mode 0600; keep it secret, never commit it)", key.key_path.display()),
            format!("public key:  {}", key.pub_path.display()),
        ],
    ))
}

//! `pack build`.

use serde_json::json;

use crate::cli::BuildArgs;
use crate::error::CliResult;
use crate::ops::build::{BuildOptions, build};
use crate::ops::keyfile;
use crate::output::{Outcome, Shell};

/// Builds and signs a pack.
pub fn exec(args: &BuildArgs, shell: &Shell) -> CliResult<Outcome> {
    let key = keyfile::read_private(&args.key)?;
    shell.status("Building", &args.dir.display().to_string());
    let built = build(&BuildOptions { dir: &args.dir, key: &key, key_id: &args.key_id, out_dir: &args.out_dir })?;
    for skipped in &built.skipped {
        shell.status("Skipped", skipped);
    }
    shell.status("Signed", &format!("pack.json with `{}` ({})", built.key_id, args.sign_method));
    Ok(Outcome::new(
        "build",
        json!({
            "name": built.name,
            "version": built.version,
            "tarball": built.tarball.display().to_string(),
            "signature": built.signature.display().to_string(),
            "integrity": built.integrity.to_string(),
            "size": built.size,
            "fileCount": built.files.len(),
            "files": built.files,
            "skipped": built.skipped,
            "keyId": built.key_id,
            "method": args.sign_method,
        }),
        vec![
            format!("built {}@{}", built.name, built.version),
            format!("  tarball:   {}", built.tarball.display()),
            format!("  signature: {} (key {}, {})", built.signature.display(), built.key_id, args.sign_method),
            format!("  integrity: {}", built.integrity),
            format!("  size:      {} bytes, {} files", built.size, built.files.len()),
        ],
    ))
}

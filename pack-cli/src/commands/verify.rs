//! `pack verify`.

use pack_verify::trust::format_time;
use serde_json::json;

use crate::cli::VerifyArgs;
use crate::error::CliResult;
use crate::ops::verify::{TrustSource, VerifyOptions, verify};
use crate::output::{Outcome, Shell};

/// Verifies a tarball.
pub fn exec(args: &VerifyArgs, shell: &Shell) -> CliResult<Outcome> {
    let trust = match (&args.key, &args.trust) {
        (Some(key), _) => TrustSource::Key(key.clone()),
        (None, Some(bundle)) => TrustSource::Bundle(bundle.clone()),
        (None, None) => TrustSource::Reference,
    };
    let opts = VerifyOptions {
        tarball: args.tarball.clone(),
        sig: args.sig.clone(),
        manifest: args.manifest.clone(),
        trust,
        statement: args.statement.clone(),
        keychain: args.keychain.clone(),
        allow_expired: args.allow_expired_metadata,
    };
    shell.status("Verifying", &args.tarball.display().to_string());
    let result = verify(&opts)?;
    for w in &result.warnings {
        shell.warn(w);
    }
    let v = &result.version;
    let mut human = vec![format!(
        "ok {}@{}{}: signed by {} ({}), {}",
        v.name,
        v.version,
        if v.yanked { " (YANKED)" } else { "" },
        v.signing_key_id,
        v.method.as_str(),
        v.integrity
    )];
    if result.manifest_synthesised {
        human.push(
            "note: no --manifest given, so integrity was computed from this file; under `manual` the signature \
             covers pack.json only"
                .into(),
        );
    }
    Ok(Outcome::new(
        "verify",
        json!({
            "name": v.name,
            "version": v.version,
            "integrity": v.integrity.to_string(),
            "keyId": v.signing_key_id,
            "method": v.method.as_str(),
            "yanked": v.yanked,
            "deprecated": v.deprecated,
            "publishedAt": v.published_at.map(format_time),
            "fileCount": v.archive.files().len(),
            "manifestSynthesised": result.manifest_synthesised,
            "warnings": result.warnings,
        }),
        human,
    ))
}

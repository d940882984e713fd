//! `pack keys root-init`, `pack keys keychain-sign`, `pack keys bundle-update`.

use serde_json::json;
use time::OffsetDateTime;

use crate::cli::{BundleUpdateArgs, KeychainSignArgs, RootInitArgs};
use crate::error::CliResult;
use crate::ops::bundle::{UpdateSource, bundle_update as update};
use crate::ops::keychain::{KeychainSignOptions, keychain_sign as sign, root_init as init};
use crate::ops::{fsutil, keyfile};
use crate::output::{Outcome, Shell};

/// Generates the root key and the bundle pinning it.
pub fn root_init(args: &RootInitArgs, shell: &Shell) -> CliResult<Outcome> {
    let done = init(&args.registry, &args.out_dir, &args.key_id, args.force)?;
    shell.status("Generated", &format!("root key `{}` for {}", done.key.key_id, done.registry));
    Ok(Outcome::new(
        "root-init",
        json!({
            "registry": done.registry,
            "keyId": done.key.key_id,
            "publicKey": done.key.public.to_base64(),
            "privateKeyPath": done.key.key_path.display().to_string(),
            "publicKeyPath": done.key.pub_path.display().to_string(),
            "bundlePath": done.bundle_path.display().to_string(),
        }),
        vec![
            format!("root key id: {}", done.key.key_id),
            format!("public key:  {}", done.key.public.to_base64()),
            format!("private key: {} (mode 0600; keep it OFFLINE)", done.key.key_path.display()),
            format!("trust bundle: {} (distribute this; it pins the root)", done.bundle_path.display()),
        ],
    ))
}

/// Signs a keychain spec with the root key.
pub fn keychain_sign(args: &KeychainSignArgs, shell: &Shell) -> CliResult<Outcome> {
    let root = keyfile::read_private(&args.root)?;
    let signed = sign(&KeychainSignOptions {
        spec: &args.spec,
        root: &root,
        root_key_id: &args.root_key_id,
        expires_in_days: args.expires_in_days,
        previous: args.previous.as_deref(),
        now: OffsetDateTime::now_utc(),
    })?;
    fsutil::write_atomic(&args.out, signed.envelope.to_json().as_bytes())?;
    shell.status("Signed", &format!("keychain v{} for {}", signed.doc.version, signed.doc.registry));
    let previous = signed.previous_version.map(|p| format!(" (previous v{p})")).unwrap_or_default();
    Ok(Outcome::new(
        "keychain-sign",
        json!({
            "registry": signed.doc.registry,
            "version": signed.doc.version,
            "previousVersion": signed.previous_version,
            "issuedAt": signed.doc.issued_at,
            "expiresAt": signed.doc.expires_at,
            "keys": signed.doc.keys.iter().map(|k| &k.key_id).collect::<Vec<_>>(),
            "out": args.out.display().to_string(),
        }),
        vec![
            format!("signed keychain v{}{previous} for {}", signed.doc.version, signed.doc.registry),
            format!("  keys:    {}", signed.doc.keys.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>().join(", ")),
            format!("  expires: {}", signed.doc.expires_at),
            format!("  wrote:   {}", args.out.display()),
        ],
    ))
}

/// Shows (and with `--write` applies) a trust bundle update.
pub fn bundle_update(args: &BundleUpdateArgs, shell: &Shell) -> CliResult<Outcome> {
    let source = match (&args.keychain, &args.from) {
        (Some(k), _) => UpdateSource::Keychain(k.clone()),
        (None, Some(dir)) => UpdateSource::Registry(dir.clone()),
        (None, None) => unreachable_source()?,
    };
    let done = update(&args.bundle, &source, args.write)?;
    for note in &done.notes {
        shell.warn(note);
    }
    let mut human: Vec<String> = done
        .changes
        .iter()
        .map(|c| {
            let sign = match c.change {
                "added" => "+",
                "removed" => "-",
                _ => "~",
            };
            if c.key_id.is_empty() {
                format!("{sign} {}", c.detail)
            } else {
                format!("{sign} {} {}", c.key_id, c.detail)
            }
        })
        .collect();
    if done.changes.is_empty() {
        human.push(format!("{} is up to date", args.bundle.display()));
    } else if done.written {
        human.push(format!("wrote {} ({} change(s))", args.bundle.display(), done.changes.len()));
    } else {
        human.push(format!("{} change(s) not written; review them, then rerun with --write", done.changes.len()));
    }
    Ok(Outcome::new(
        "bundle-update",
        json!({
            "bundle": args.bundle.display().to_string(),
            "changes": done.changes,
            "written": done.written,
            "upToDate": done.changes.is_empty(),
        }),
        human,
    ))
}

fn unreachable_source() -> CliResult<UpdateSource> {
    Err(crate::error::CliError::usage(
        "usage_error",
        "pass --keychain FILE or --from DIR",
        "see `pack keys bundle-update --help`",
    ))
}

//! `pack publish`: build (for a directory) and upload a pack.

use std::io::IsTerminal as _;
use std::path::Path;

use pack_verify::Integrity;
use pack_verify::signature::Signature;
use pack_verify::tarball::{EMBEDDED_SIGNATURE, read_pack};
use serde_json::{Value, json};

use crate::cli::PublishArgs;
use crate::config::Config;
use crate::error::{CliError, CliResult};
use crate::ops::build::{BuildOptions, build};
use crate::ops::{fsutil, keyfile};
use crate::output::{Outcome, Shell};
use crate::registry::encode;

/// A tarball ready to upload.
struct Upload {
    name: String,
    version: String,
    tgz: Vec<u8>,
    /// Base64 detached signature over the tarball, for packs signed the `ed25519` way.
    signature: Option<String>,
}

fn build_dir(args: &PublishArgs, shell: &Shell) -> CliResult<Upload> {
    let (Some(key_path), Some(key_id)) = (&args.key, &args.key_id) else {
        return Err(CliError::usage(
            "publish_key_missing",
            format!("{} is a directory: publishing it means building and signing it first", args.path.display()),
            "pass --key FILE --key-id ID (the key the registry's keychain lists), or publish a built .tgz",
        )
        .at(&args.path));
    };
    let key = keyfile::read_private(key_path)?;
    shell.status("Building", &args.path.display().to_string());
    let built = build(&BuildOptions { dir: &args.path, key: &key, key_id, out_dir: &args.out_dir })?;
    shell.status("Built", &format!("{}@{} ({})", built.name, built.version, built.tarball.display()));
    let tgz = fsutil::read(&built.tarball)?;
    Ok(Upload { name: built.name, version: built.version, tgz, signature: None })
}

fn read_tarball(path: &Path) -> CliResult<Upload> {
    let tgz = fsutil::read(path)?;
    let archive = read_pack(&tgz, &Default::default()).map_err(|e| CliError::input(&e).at(path))?;
    let pack: Value = serde_json::from_slice(archive.pack_json()).map_err(|e| {
        CliError::usage("tarball_manifest_not_json", format!("pack.json is not JSON: {e}"), "rebuild with `pack build`")
            .at(path)
    })?;
    let field = |key: &str| {
        pack[key].as_str().map(str::to_string).ok_or_else(|| {
            CliError::usage("invalid_manifest", format!("pack.json has no `{key}`"), "rebuild with `pack build`")
                .at(path)
        })
    };
    let (name, version) = (field("name")?, field("version")?);
    // `manual` packs carry their signature inside; an `ed25519` pack's lies beside it.
    let signature = match archive.get(EMBEDDED_SIGNATURE) {
        Some(_) => None,
        None => {
            let sig_path = path.with_extension("sig");
            if sig_path.is_file() {
                let bytes = fsutil::read(&sig_path)?;
                let sig = Signature::from_bytes(&bytes).map_err(|e| CliError::input(&e).at(&sig_path))?;
                Some(sig.to_base64())
            } else {
                None
            }
        }
    };
    Ok(Upload { name, version, tgz, signature })
}

/// Uploads a pack.
pub fn exec(args: &PublishArgs, shell: &Shell) -> CliResult<Outcome> {
    let config = Config::load()?;
    let client = config.client(args.registry.registry.as_deref())?;
    let upload = if args.path.is_dir() {
        build_dir(args, shell)?
    } else if args.path.is_file() {
        read_tarball(&args.path)?
    } else {
        return Err(CliError::usage(
            "publish_path_missing",
            format!("{} is neither a pack directory nor a .tgz", args.path.display()),
            "pass a directory holding pack.json, or a tarball written by `pack build`",
        )
        .at(&args.path));
    };
    let Upload { name, version, tgz, signature } = upload;
    let integrity = Integrity::of(&tgz).to_string();
    shell.status("Uploading", &format!("{name}@{version} ({} bytes) to {}", tgz.len(), client.base_url()));
    // A bar only for people watching a terminal; never in --json output or logs.
    let bar = (!args.registry.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(tgz.len() as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    });
    let progress = |done: u64, _total: Option<u64>| {
        if let Some(bar) = &bar {
            bar.set_position(done);
        }
    };
    let result = client.publish(&name, &version, &tgz, signature.as_deref(), &progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let published = result.map_err(|e| {
        let err = CliError::from_registry(&e);
        if e.code == "unauthenticated" && !client.has_token() {
            err.hint(format!(
                "no token is configured for {}: run `pack login --registry {}` or set OPENWOP_TOKEN",
                client.base_url(),
                client.base_url()
            ))
        } else {
            err
        }
    })?;
    let served = published.manifest["integrity"].as_str().unwrap_or(&integrity).to_string();
    if served != integrity {
        shell.warn(&format!("the registry reports integrity {served}, the uploaded bytes are {integrity}"));
    }
    let url = client.url(&format!("/v1/packs/{}/-/{}.tgz", encode(&name), encode(&version)));
    let what = if published.created { "published" } else { "already published (identical bytes)" };
    Ok(Outcome::new(
        "publish",
        json!({
            "registry": client.base_url(),
            "name": name,
            "version": version,
            "created": published.created,
            "status": published.status,
            "alreadyPublished": !published.created,
            "url": url,
            "integrity": served,
            "size": tgz.len(),
        }),
        vec![format!("{what} {name}@{version}"), format!("  url:       {url}"), format!("  integrity: {served}")],
    ))
}

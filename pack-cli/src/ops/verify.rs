//! `pack verify`: the same library calls as `pack-verify pack`, plus a publisher mode that trusts
//! one public key for the pack's own name.

use std::path::{Path, PathBuf};

use pack_verify::manifest::{PackJson, VersionManifest};
use pack_verify::tarball::{TarLimits, read_pack};
use pack_verify::trust::{ExpiryPolicy, KeyRole, KeyStatus, SystemClock, TrustRoot, TrustState, TrustedKey};
use pack_verify::{Integrity, PublicKey, TrustBundle, VerifiedVersion, Verifier, VersionInput};
use serde_json::Value;

use super::{fsutil, sign::sig_path_for};
use crate::error::{CliError, CliResult};

/// Where trust comes from.
#[derive(Debug, Clone)]
pub enum TrustSource {
    /// One public key, trusted for the pack's own name only.
    Key(PathBuf),
    /// A trust bundle file.
    Bundle(PathBuf),
    /// The shipped bundle of the public reference registry.
    Reference,
}

/// What to verify, against what.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The `.tgz`.
    pub tarball: PathBuf,
    /// Detached signature; default: the `.sig` next to the tarball.
    pub sig: Option<PathBuf>,
    /// Version manifest; default: made from the tarball.
    pub manifest: Option<PathBuf>,
    /// Trust source.
    pub trust: TrustSource,
    /// Registry statement.
    pub statement: Option<PathBuf>,
    /// Keychain envelope overriding the bundled one.
    pub keychain: Option<PathBuf>,
    /// Accept an expired keychain.
    pub allow_expired: bool,
}

/// A verified version and how it was checked.
#[derive(Debug)]
pub struct Verified {
    /// The verified version.
    pub version: VerifiedVersion,
    /// Whether the manifest was made from the tarball (integrity computed locally).
    pub manifest_synthesised: bool,
    /// Warnings from the trust root (e.g. an expired keychain accepted).
    pub warnings: Vec<String>,
}

/// The version manifest a registry would serve for this tarball: its pack.json plus the
/// integrity of the bytes given.
fn synthesise_manifest(tgz: &[u8], path: &Path) -> CliResult<Vec<u8>> {
    let archive = read_pack(tgz, &TarLimits::default()).map_err(|e| CliError::from_verify(&e).at(path))?;
    let (_, mut value) =
        PackJson::parse_document(archive.pack_json()).map_err(|e| CliError::from_verify(&e).at(path))?;
    if let Value::Object(obj) = &mut value {
        obj.insert("integrity".into(), Value::from(Integrity::of(tgz).to_string()));
    }
    serde_json::to_vec(&value).map_err(|e| CliError::usage("invalid_manifest", e.to_string(), "report this bug"))
}

fn single_key_root(key: PublicKey, key_id: &str, name: &str) -> TrustRoot {
    TrustRoot::pinned(
        "local",
        vec![TrustedKey {
            key_id: key_id.to_string(),
            key,
            permitted_namespaces: vec![name.to_string()],
            status: KeyStatus::Active,
            roles: vec![KeyRole::Publisher],
            valid_from: None,
            valid_until: None,
            revoked_at: None,
        }],
    )
}

/// Verifies one tarball.
pub fn verify(opts: &VerifyOptions) -> CliResult<Verified> {
    let tgz = fsutil::read(&opts.tarball)?;
    let sig_path = opts.sig.clone().unwrap_or_else(|| sig_path_for(&opts.tarball));
    let signature = fsutil::read(&sig_path)
        .map_err(|e| e.hint("pass --sig FILE, or write the signature next to the tarball with `pack sign`"))?;
    let statement = opts.statement.as_deref().map(fsutil::read).transpose()?;

    let (manifest, synthesised) = match &opts.manifest {
        Some(path) => (fsutil::read(path)?, false),
        None => (synthesise_manifest(&tgz, &opts.tarball)?, true),
    };

    let mut warnings = Vec::new();
    let root = match &opts.trust {
        TrustSource::Key(path) => {
            let key = super::keyfile::read_public(path)?;
            let parsed = VersionManifest::parse(&manifest).map_err(|e| CliError::from_verify(&e))?;
            let Some(signing) = parsed.signing else {
                return Err(CliError::from_verify(&pack_verify::VerifyError::Unsigned).at(&opts.tarball));
            };
            single_key_root(key, &signing.key_id, &parsed.name)
        }
        TrustSource::Bundle(_) | TrustSource::Reference => {
            let bundle = match &opts.trust {
                TrustSource::Bundle(path) => {
                    TrustBundle::parse(&fsutil::read(path)?).map_err(|e| CliError::from_verify(&e).at(path))?
                }
                _ => TrustBundle::reference().map_err(|e| CliError::from_verify(&e))?,
            };
            let keychain = opts.keychain.as_deref().map(fsutil::read).transpose()?;
            let policy = if opts.allow_expired { ExpiryPolicy::AllowExpired } else { ExpiryPolicy::Enforce };
            let root = bundle
                .resolve(keychain.as_deref(), &mut TrustState::new(), &SystemClock, policy)
                .map_err(|e| CliError::from_verify(&e))?;
            warnings.extend(root.warnings().iter().map(ToString::to_string));
            root
        }
    };

    let version = Verifier::new(root)
        .verify(&VersionInput {
            manifest: &manifest,
            tarball: &tgz,
            signature: &signature,
            statement: statement.as_deref(),
            expected: None,
            other_versions: &[],
        })
        .map_err(|e| CliError::from_verify(&e).at(&opts.tarball))?;
    Ok(Verified { version, manifest_synthesised: synthesised, warnings })
}

//! `pack keys root-init` and `pack keys keychain-sign`: a registry's root key, the bundle that
//! pins it, and root-signed keychains whose `version` only grows.

use std::path::{Path, PathBuf};

use pack_verify::trust::bundle::BundleRoot;
use pack_verify::trust::envelope::Envelope;
use pack_verify::trust::keychain::{KeychainDocument, KeychainKey};
use pack_verify::trust::{ExpiryPolicy, FixedClock, Keychain, TrustState, format_time, normalise_registry, parse_time};
use pack_verify::{PrivateKey, PublicKey, TrustBundle, VerifyError};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use super::fsutil;
use super::keyfile::{self, GeneratedKey};
use crate::error::{CliError, CliResult};

/// File name of the bundle `root-init` writes.
pub const BUNDLE_FILE: &str = "trust.json";

/// What `root-init` wrote.
#[derive(Debug)]
pub struct RootInit {
    /// The root key pair.
    pub key: GeneratedKey,
    /// The trust bundle pinning it.
    pub bundle_path: PathBuf,
    /// The registry.
    pub registry: String,
}

/// Serialises a bundle the way it is stored (pretty JSON, trailing newline).
pub fn bundle_json(bundle: &TrustBundle) -> CliResult<String> {
    serde_json::to_string_pretty(bundle)
        .map(|s| s + "\n")
        .map_err(|e| CliError::usage("trust_bundle_invalid", e.to_string(), "report this bug"))
}

fn check_registry_url(registry: &str) -> CliResult<()> {
    if registry.starts_with("https://") || registry.starts_with("http://") {
        Ok(())
    } else {
        Err(CliError::usage(
            "invalid_registry_url",
            format!("`{registry}` is not an http(s) URL"),
            "pass the registry's base URL, e.g. --registry https://packs.example.com",
        ))
    }
}

/// Generates the root key pair in `out_dir` and a bundle (`trust.json`) pinning its public key.
pub fn root_init(registry: &str, out_dir: &Path, key_id: &str, force: bool) -> CliResult<RootInit> {
    check_registry_url(registry)?;
    let bundle_path = out_dir.join(BUNDLE_FILE);
    if !force && bundle_path.exists() {
        return Err(CliError::usage(
            "bundle_exists",
            format!("{} already exists; refusing to replace a trust root", bundle_path.display()),
            "choose another --out-dir, or pass --force",
        )
        .at(&bundle_path));
    }
    let key = keyfile::generate_files(out_dir, key_id, force)?;
    let registry = normalise_registry(registry);
    let bundle = TrustBundle {
        openwop_trust_bundle: 1,
        registry: registry.clone(),
        description: Some(format!(
            "Trust root of {registry}: the pinned root key `{key_id}`, which signs the registry's keychain. \
             Change only through a reviewed update."
        )),
        root: Some(BundleRoot { key_id: key_id.to_string(), public_key: key.public.to_base64() }),
        keys: vec![],
        keychain: None,
    };
    fsutil::write_atomic(&bundle_path, bundle_json(&bundle)?.as_bytes())?;
    Ok(RootInit { key, bundle_path, registry })
}

fn default_algorithm() -> String {
    "ed25519".into()
}

fn default_status() -> String {
    "active".into()
}

/// One key of a keychain spec. Like a keychain entry, but `algorithm` and `status` default, and
/// the key may be given as a file (`publicKeyFile`, relative to the spec).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeySpec {
    key_id: String,
    #[serde(default = "default_algorithm")]
    algorithm: String,
    #[serde(default)]
    public_key: Option<String>,
    #[serde(default)]
    public_key_file: Option<PathBuf>,
    roles: Vec<String>,
    #[serde(default)]
    permitted_namespaces: Vec<String>,
    #[serde(default = "default_status")]
    status: String,
    #[serde(default)]
    valid_from: Option<String>,
    #[serde(default)]
    valid_until: Option<String>,
    #[serde(default)]
    revoked_at: Option<String>,
    #[serde(default)]
    operator: Option<String>,
}

/// The keychain spec an operator edits. `issuedAt` is always the signing time; `version`
/// defaults to the previous keychain's plus one (or 1).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeychainSpec {
    #[serde(rename = "_type", default)]
    doc_type: Option<String>,
    registry: String,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    #[allow(dead_code)]
    issued_at: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
    keys: Vec<KeySpec>,
}

/// A signed keychain.
#[derive(Debug)]
pub struct SignedKeychain {
    /// The signed document.
    pub doc: KeychainDocument,
    /// The envelope as written.
    pub envelope: Envelope,
    /// The previous version, when `--previous` was given.
    pub previous_version: Option<u64>,
}

/// Inputs of `keychain-sign`.
#[derive(Debug)]
pub struct KeychainSignOptions<'a> {
    /// The spec file.
    pub spec: &'a Path,
    /// The root private key.
    pub root: &'a PrivateKey,
    /// The root key id.
    pub root_key_id: &'a str,
    /// Days until expiry (overrides the spec).
    pub expires_in_days: Option<u32>,
    /// The previous signed keychain.
    pub previous: Option<&'a Path>,
    /// Signing time.
    pub now: OffsetDateTime,
}

fn spec_error(path: &Path, message: String) -> CliError {
    CliError::usage("keychain_spec_invalid", message, "see `pack keys keychain-sign --help` and docs/trust-model.md")
        .at(path)
}

fn key_entry(spec_path: &Path, key: KeySpec) -> CliResult<KeychainKey> {
    let text = match (&key.public_key, &key.public_key_file) {
        (Some(text), None) => text.clone(),
        (None, Some(file)) => {
            let base = spec_path.parent().unwrap_or(Path::new("."));
            fsutil::read_text(&base.join(file))?
        }
        _ => {
            return Err(spec_error(
                spec_path,
                format!("key `{}`: give exactly one of `publicKey` and `publicKeyFile`", key.key_id),
            ));
        }
    };
    let public = PublicKey::parse(&text).map_err(|e| spec_error(spec_path, format!("key `{}`: {e}", key.key_id)))?;
    Ok(KeychainKey {
        key_id: key.key_id,
        algorithm: key.algorithm,
        public_key: public.to_base64(),
        roles: key.roles,
        permitted_namespaces: key.permitted_namespaces,
        status: key.status,
        valid_from: key.valid_from,
        valid_until: key.valid_until,
        revoked_at: key.revoked_at,
        operator: key.operator,
    })
}

/// Verifies a signed keychain envelope against the root (expiry not enforced: an old keychain
/// may well have expired) and returns it.
fn verify_previous(bytes: &[u8], path: &Path, opts: &KeychainSignOptions<'_>, registry: &str) -> CliResult<Keychain> {
    Keychain::verify(
        bytes,
        opts.root_key_id,
        &opts.root.public_key(),
        registry,
        &mut TrustState::new(),
        &FixedClock(opts.now),
        ExpiryPolicy::AllowExpired,
    )
    .map(|(k, _)| k)
    .map_err(|e| {
        let err = CliError::input(&e).at(path);
        match e {
            VerifyError::KeychainSignatureInvalid { .. } => {
                err.hint("--previous must be the keychain this root signed last (the one the registry serves now)")
            }
            _ => err,
        }
    })
}

/// Signs the keychain described by the spec with the root key, refusing a `version` that does
/// not grow past `--previous`, and checks the result verifies against the root.
pub fn keychain_sign(opts: &KeychainSignOptions<'_>) -> CliResult<SignedKeychain> {
    let spec_text = fsutil::read(opts.spec)?;
    let spec: KeychainSpec =
        serde_json::from_slice(&spec_text).map_err(|e| spec_error(opts.spec, format!("not a keychain spec: {e}")))?;
    if let Some(t) = spec.doc_type.as_deref().filter(|t| *t != "openwop.keychain") {
        return Err(spec_error(opts.spec, format!("_type is `{t}`, expected `openwop.keychain`")));
    }
    check_registry_url(&spec.registry).map_err(|e| {
        e.at(opts.spec)
            .hint("set `registry` in the spec to the registry's http(s) base URL, e.g. https://packs.example.com")
    })?;
    let registry = normalise_registry(&spec.registry);

    let previous = match opts.previous {
        Some(path) => Some(verify_previous(&fsutil::read(path)?, path, opts, &registry)?),
        None => None,
    };
    let version = match (spec.version, &previous) {
        (Some(v), Some(prev)) if v <= prev.version => {
            return Err(CliError::usage(
                "trust_keychain_rollback",
                format!("keychain version {v} does not grow past version {} of --previous", prev.version),
                format!(
                    "set `version` in the spec to {} or more (or leave it out to use {})",
                    prev.version + 1,
                    prev.version + 1
                ),
            )
            .at(opts.spec));
        }
        (Some(v), _) => v,
        (None, Some(prev)) => prev.version + 1,
        (None, None) => 1,
    };

    let now = opts.now.replace_nanosecond(0).unwrap_or(opts.now);
    let expires_at = match (opts.expires_in_days, &spec.expires_at) {
        (Some(days), _) => format_time(now + Duration::days(i64::from(days))),
        (None, Some(at)) => {
            parse_time(at, "expiresAt").map_err(|m| spec_error(opts.spec, m))?;
            at.clone()
        }
        (None, None) => {
            return Err(spec_error(opts.spec, "no expiry: pass --expires-in-days or set `expiresAt`".into()));
        }
    };
    let mut keys = Vec::with_capacity(spec.keys.len());
    for key in spec.keys {
        keys.push(key_entry(opts.spec, key)?);
    }
    let doc = KeychainDocument {
        doc_type: "openwop.keychain".into(),
        registry: registry.clone(),
        version,
        issued_at: format_time(now),
        expires_at,
        keys,
    };
    let envelope = doc.sign(opts.root_key_id, opts.root);
    // What we hand out must verify exactly as a client will check it.
    Keychain::verify(
        envelope.to_json().as_bytes(),
        opts.root_key_id,
        &opts.root.public_key(),
        &registry,
        &mut TrustState::new(),
        &FixedClock(now),
        ExpiryPolicy::Enforce,
    )
    .map_err(|e| {
        CliError::input(&e).at(opts.spec).hint("fix the spec: every key must parse, roles be publisher/registry, times be RFC 3339 and the expiry in the future")
    })?;
    Ok(SignedKeychain { doc, envelope, previous_version: previous.map(|p| p.version) })
}

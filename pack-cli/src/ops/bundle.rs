//! `pack keys bundle-update`: the only way a trust bundle changes. It computes the difference
//! (keys and namespaces added, removed or changed; keychain version), prints it for review, and
//! writes the bundle only when asked to.

use std::path::{Component, Path, PathBuf};

use pack_verify::trust::bundle::BundleKey;
use pack_verify::trust::envelope::Envelope;
use pack_verify::trust::{ExpiryPolicy, Keychain, SystemClock, TrustState, TrustedKey, format_time};
use pack_verify::{PublicKey, TrustBundle};
use serde::Serialize;
use serde_json::Value;

use super::fsutil;
use super::keychain::bundle_json;
use crate::error::{CliError, CliResult};

/// One difference between the bundle and its update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `added`, `removed`, `changed` or `keychain`.
    pub change: &'static str,
    /// The key concerned (empty for the keychain version).
    #[serde(rename = "keyId")]
    pub key_id: String,
    /// What changed, for people.
    pub detail: String,
}

/// The outcome of an update.
#[derive(Debug)]
pub struct BundleUpdate {
    /// The differences, in a stable order.
    pub changes: Vec<Change>,
    /// Whether the bundle file was written.
    pub written: bool,
    /// Notes for the reviewer.
    pub notes: Vec<String>,
}

/// The comparable facts of a trusted key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyView {
    key_id: String,
    public_key: String,
    roles: Vec<String>,
    namespaces: Vec<String>,
    status: String,
    window: String,
    operator: Option<String>,
}

impl KeyView {
    fn from_trusted(k: &TrustedKey) -> Self {
        let t = |v: Option<time::OffsetDateTime>| v.map(format_time).unwrap_or_else(|| "-".into());
        KeyView {
            key_id: k.key_id.clone(),
            public_key: k.key.to_base64(),
            roles: k.roles.iter().map(|r| r.as_str().to_string()).collect(),
            namespaces: k.permitted_namespaces.clone(),
            status: k.status.as_str().to_string(),
            window: format!("from {} until {} revoked {}", t(k.valid_from), t(k.valid_until), t(k.revoked_at)),
            operator: None,
        }
    }

    fn from_bundle_key(k: &BundleKey) -> Self {
        KeyView {
            key_id: k.key_id.clone(),
            public_key: PublicKey::parse(&k.public_key).map(|p| p.to_base64()).unwrap_or_else(|_| k.public_key.clone()),
            roles: vec!["publisher".into()],
            namespaces: k.permitted_namespaces.clone(),
            status: k.status.clone(),
            window: String::new(),
            operator: k.operator.clone(),
        }
    }

    fn summary(&self) -> String {
        format!(
            "{} [{}] namespaces [{}] status {}",
            self.public_key,
            self.roles.join(","),
            self.namespaces.join(", "),
            self.status
        )
    }
}

fn diff(old: &[KeyView], new: &[KeyView]) -> Vec<Change> {
    let mut changes = Vec::new();
    for o in old {
        if !new.iter().any(|n| n.key_id == o.key_id) {
            changes.push(Change { change: "removed", key_id: o.key_id.clone(), detail: o.summary() });
        }
    }
    for n in new {
        let Some(o) = old.iter().find(|o| o.key_id == n.key_id) else {
            changes.push(Change { change: "added", key_id: n.key_id.clone(), detail: n.summary() });
            continue;
        };
        let mut field = |name: &str, from: String, to: String| {
            if from != to {
                changes.push(Change {
                    change: "changed",
                    key_id: n.key_id.clone(),
                    detail: format!("{name}: {from} -> {to}"),
                });
            }
        };
        field("publicKey", o.public_key.clone(), n.public_key.clone());
        field("roles", o.roles.join(","), n.roles.join(","));
        field(
            "permittedNamespaces",
            format!("[{}]", o.namespaces.join(", ")),
            format!("[{}]", n.namespaces.join(", ")),
        );
        field("status", o.status.clone(), n.status.clone());
        field("validity", o.window.clone(), n.window.clone());
        field(
            "operator",
            o.operator.clone().unwrap_or_else(|| "-".into()),
            n.operator.clone().unwrap_or_else(|| "-".into()),
        );
    }
    changes
}

fn bundle_error(path: &Path, message: impl Into<String>, hint: &str) -> CliError {
    CliError::usage("trust_bundle_invalid", message, hint).at(path)
}

/// Where the update comes from.
#[derive(Debug, Clone)]
pub enum UpdateSource {
    /// A signed keychain envelope (rooted bundles).
    Keychain(PathBuf),
    /// A static registry tree with `.well-known/openwop-registry.json` and `keys/` (pinned bundles).
    Registry(PathBuf),
}

/// Computes the update of the bundle at `path` and writes it when `write` is set and something
/// changed.
pub fn bundle_update(path: &Path, source: &UpdateSource, write: bool) -> CliResult<BundleUpdate> {
    let bytes = fsutil::read(path)?;
    let bundle = TrustBundle::parse(&bytes).map_err(|e| CliError::from_verify(&e).at(path))?;
    let mut notes = Vec::new();
    let (changes, updated) = match source {
        UpdateSource::Keychain(file) => from_keychain(path, &bundle, file)?,
        UpdateSource::Registry(dir) => from_registry(path, &bundle, dir, &mut notes)?,
    };
    let written = write && !changes.is_empty();
    if written {
        let text = bundle_json(&updated)?;
        TrustBundle::parse(text.as_bytes()).map_err(|e| CliError::from_verify(&e).at(path))?;
        fsutil::write_atomic(path, text.as_bytes())?;
    }
    Ok(BundleUpdate { changes, written, notes })
}

fn from_keychain(path: &Path, bundle: &TrustBundle, file: &Path) -> CliResult<(Vec<Change>, TrustBundle)> {
    let Some(root) = &bundle.root else {
        return Err(bundle_error(
            path,
            "this bundle pins keys directly (no root), so it takes no keychain",
            "update a pinned-key bundle with --from <registry tree>",
        ));
    };
    let root_key = PublicKey::parse(&root.public_key).map_err(|e| CliError::from_verify(&e).at(path))?;
    let new_bytes = fsutil::read(file)?;
    // One state for both: verifying the bundled keychain first records it, so the new one is
    // then refused if it is older (rollback) or the same version with other content (fork).
    let mut state = TrustState::new();
    let old = match &bundle.keychain {
        Some(env) => {
            let old_bytes =
                serde_json::to_vec(env).map_err(|e| bundle_error(path, e.to_string(), "report this bug"))?;
            let (k, _) = Keychain::verify(
                &old_bytes,
                &root.key_id,
                &root_key,
                &bundle.registry,
                &mut state,
                &SystemClock,
                ExpiryPolicy::AllowExpired,
            )
            .map_err(|e| {
                CliError::input(&e)
                    .at(path)
                    .hint("the bundled keychain does not verify: restore the bundle from review history")
            })?;
            Some(k)
        }
        None => None,
    };
    let (new, _) = Keychain::verify(
        &new_bytes,
        &root.key_id,
        &root_key,
        &bundle.registry,
        &mut state,
        &SystemClock,
        ExpiryPolicy::Enforce,
    )
    .map_err(|e| CliError::from_verify(&e).at(file))?;
    let old_views: Vec<KeyView> = old.iter().flat_map(|k| k.keys.iter().map(KeyView::from_trusted)).collect();
    let new_views: Vec<KeyView> = new.keys.iter().map(KeyView::from_trusted).collect();
    let mut changes = Vec::new();
    let old_version = old.as_ref().map(|k| k.version);
    if old_version != Some(new.version) {
        changes.push(Change {
            change: "keychain",
            key_id: String::new(),
            detail: format!(
                "keychain version {} -> {} (expires {})",
                old_version.map(|v| v.to_string()).unwrap_or_else(|| "(none)".into()),
                new.version,
                format_time(new.expires_at)
            ),
        });
    }
    changes.extend(diff(&old_views, &new_views));
    let envelope =
        Envelope::parse(&new_bytes, "keychain").map_err(|m| bundle_error(file, m, "pass a signed keychain"))?;
    let mut updated = bundle.clone();
    updated.keychain = Some(envelope);
    Ok((changes, updated))
}

fn discovery_paths(from: &Path) -> (PathBuf, PathBuf) {
    if from.is_file() {
        // …/.well-known/openwop-registry.json: the tree root is two levels up.
        let base = from.parent().and_then(Path::parent).unwrap_or(Path::new(".")).to_path_buf();
        (from.to_path_buf(), base)
    } else {
        (from.join(".well-known/openwop-registry.json"), from.to_path_buf())
    }
}

fn from_registry(
    path: &Path,
    bundle: &TrustBundle,
    from: &Path,
    notes: &mut Vec<String>,
) -> CliResult<(Vec<Change>, TrustBundle)> {
    if bundle.root.is_some() {
        return Err(bundle_error(
            path,
            "this bundle pins a root; its keys come from the root-signed keychain",
            "update a rooted bundle with --keychain <signed keychain>",
        ));
    }
    let (discovery_path, base) = discovery_paths(from);
    let discovery: Value = serde_json::from_slice(&fsutil::read(&discovery_path)?).map_err(|e| {
        CliError::usage("invalid_discovery", format!("not a discovery document: {e}"), "pass the registry tree's root")
            .at(&discovery_path)
    })?;
    let bad = |m: String| {
        CliError::usage("invalid_discovery", m, "the discovery document must list `signingKeys[]`").at(&discovery_path)
    };
    if let Some(url) = discovery.get("url").and_then(Value::as_str)
        && url.trim_end_matches('/') != bundle.registry.trim_end_matches('/')
    {
        notes.push(format!("the discovery document is for {url}, the bundle for {}", bundle.registry));
    }
    let entries =
        discovery.get("signingKeys").and_then(Value::as_array).ok_or_else(|| bad("no `signingKeys` array".into()))?;
    let mut keys = Vec::with_capacity(entries.len());
    for entry in entries {
        let s = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_string);
        let key_id = s("keyId").ok_or_else(|| bad("a signing key has no `keyId`".into()))?;
        let url = s("publicKeyUrl").unwrap_or_else(|| format!("/keys/{key_id}.pub"));
        let rel = Path::new(url.trim_start_matches('/'));
        if url.contains("://") || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(bad(format!("key `{key_id}`: publicKeyUrl `{url}` is not a path inside the registry tree")));
        }
        let public = super::keyfile::read_public(&base.join(rel))?;
        let namespaces = entry
            .get("permittedNamespaces")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        // Roles are the bundle's own (a registry tree does not state them): keep them.
        let roles = bundle.keys.iter().find(|k| k.key_id == key_id).map(|k| k.roles.clone()).unwrap_or_default();
        keys.push(BundleKey {
            roles,
            key_id,
            algorithm: s("algorithm").unwrap_or_else(|| "ed25519".into()),
            public_key: public.to_base64(),
            permitted_namespaces: namespaces,
            status: s("status").unwrap_or_else(|| "active".into()),
            operator: s("operator"),
        });
    }
    let old_views: Vec<KeyView> = bundle.keys.iter().map(KeyView::from_bundle_key).collect();
    let new_views: Vec<KeyView> = keys.iter().map(KeyView::from_bundle_key).collect();
    let changes = diff(&old_views, &new_views);
    let mut updated = bundle.clone();
    updated.keys = keys;
    Ok((changes, updated))
}

//! `registry-server import <tree>`: ingest a static registry tree (such as the public reference
//! registry's) keeping every byte of tarballs, signatures, SBOMs and keys.
//!
//! The whole tree is verified with `pack-verify` against a trust bundle first; if any version
//! fails, nothing is written. Then each version's blobs are stored before one transaction makes
//! the version visible (registry statements included; a root-signed keychain the tree verified
//! with is stored too), so an interrupted import leaves only whole versions (and orphan blobs,
//! which are harmless and content addressed). Re-importing the same tree is a no-op.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use pack_verify::registry::{DirSource, RegistryCheck, verify_registry};
use pack_verify::trust::bundle::TrustBundle;
use pack_verify::trust::state::TrustState;
use serde_json::Value;

use crate::RegistryError;
use crate::registry::{DOC_ADVISORIES, DOC_DISCOVERY, DOC_GENERATED_AT};
use crate::storage::db::{InsertOutcome, ordering_columns};
use crate::storage::writes::AuditEvent;
use crate::storage::{InlineBlob, Storage, VersionRow};

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Versions newly made visible.
    pub imported: usize,
    /// Versions already present with identical bytes.
    pub unchanged: usize,
    /// Public keys stored.
    pub keys: usize,
}

/// How to import.
pub struct ImportOptions {
    /// Trust bundle the tree must verify against (the shipped reference bundle by default).
    pub bundle: TrustBundle,
    /// Skip signature verification (integrity is still checked). For trees signed by keys the
    /// operator has no bundle for; the CLI makes this loud.
    pub skip_verification: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io { path: path.display().to_string(), source }
}

fn read(path: &Path) -> Result<Vec<u8>, RegistryError> {
    std::fs::read(path).map_err(io(path))
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, RegistryError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RegistryError::Io { path: path.display().to_string(), source }),
    }
}

fn json_doc(path: &Path, bytes: &[u8]) -> Result<Value, RegistryError> {
    serde_json::from_slice(bytes)
        .map_err(|e| RegistryError::InvalidDocument { path: path.display().to_string(), reason: e.to_string() })
}

fn text(path: &Path, bytes: Vec<u8>) -> Result<String, RegistryError> {
    String::from_utf8(bytes)
        .map_err(|_| RegistryError::InvalidDocument { path: path.display().to_string(), reason: "not UTF-8".into() })
}

/// Imports the tree rooted at `tree` into `storage`.
pub async fn import_tree(
    storage: &Storage,
    tree: &Path,
    options: ImportOptions,
) -> Result<ImportSummary, RegistryError> {
    let index_path = tree.join("v1/index.json");
    let index = json_doc(&index_path, &read(&index_path)?)?;
    if !options.skip_verification {
        verify_tree(tree.to_path_buf(), options.bundle.clone()).await?;
    }
    let stamp = pack_verify::trust::now_rfc3339();
    let mut summary = ImportSummary::default();

    // Keys first: a served version must never name a key the registry cannot serve.
    let keys_dir = tree.join("keys");
    if keys_dir.is_dir() {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(&keys_dir).map_err(io(&keys_dir))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for path in entries {
            let Some(key_id) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".pub")) else {
                continue;
            };
            let pem = text(&path, read(&path)?)?;
            pack_verify::keys::PublicKey::parse(&pem)
                .map_err(|source| RegistryError::Verify { context: path.display().to_string(), source })?;
            storage.db.put_key(key_id, &pem).await?;
            summary.keys += 1;
        }
    }

    // A root-signed keychain, verified above against the bundle's root, is served as the mirror's
    // `/keys/keychain.json` (registry statements are checked against it). A stored one is kept.
    let keychain_path = tree.join("keys/keychain.json");
    if !options.skip_verification
        && options.bundle.has_root()
        && let Some(bytes) = read_optional(&keychain_path)?
        && storage.db.document(crate::trust::DOC_KEYCHAIN).await?.is_none()
    {
        storage.db.put_document(crate::trust::DOC_KEYCHAIN, &text(&keychain_path, bytes)?, &stamp).await?;
    }

    for (doc_key, rel) in
        [(DOC_DISCOVERY, ".well-known/openwop-registry.json"), (DOC_ADVISORIES, "security/advisories.json")]
    {
        let path = tree.join(rel);
        if let Some(bytes) = read_optional(&path)? {
            let doc = json_doc(&path, &bytes)?;
            if doc_key == DOC_ADVISORIES {
                for advisory in doc.get("advisories").and_then(Value::as_array).into_iter().flatten() {
                    let Some(id) = advisory.get("id").and_then(Value::as_str) else {
                        return Err(RegistryError::InvalidDocument {
                            path: path.display().to_string(),
                            reason: "an advisory has no `id`".into(),
                        });
                    };
                    let audit =
                        AuditEvent::new(&stamp, "import", "advisory", id, serde_json::json!({"source": "import"}));
                    storage.db.insert_advisory(id, &advisory.to_string(), &audit).await?;
                }
            }
            storage.db.put_document(doc_key, &text(&path, bytes)?, &stamp).await?;
        }
    }
    if let Some(generated) = index.get("generatedAt").and_then(Value::as_str) {
        storage.db.put_document(DOC_GENERATED_AT, generated, &stamp).await?;
    }

    let names: Vec<String> = index
        .get("packs")
        .and_then(Value::as_array)
        .map(|packs| packs.iter().filter_map(|p| p.get("name").and_then(Value::as_str)).map(str::to_string).collect())
        .unwrap_or_default();
    for name in names {
        if !pack_name_is_path_safe(&name) {
            return Err(RegistryError::InvalidDocument {
                path: index_path.display().to_string(),
                reason: format!("pack name `{name}` is not a valid pack name"),
            });
        }
        let pack_dir = tree.join("v1/packs").join(&name);
        let pack_index_path = pack_dir.join("index.json");
        let pack_index = json_doc(&pack_index_path, &read(&pack_index_path)?)?;
        let entries = pack_index.get("versions").and_then(Value::as_array).cloned().unwrap_or_default();
        for entry in entries {
            let Some(version) = entry.get("version").and_then(Value::as_str) else { continue };
            let published_at = entry.get("publishedAt").and_then(Value::as_str);
            let (row, inline) = import_version(storage, &pack_dir, &name, version, published_at, &stamp).await?;
            match storage.db.insert_version_audited(&row, &inline, &stamp, None).await? {
                InsertOutcome::Inserted => summary.imported += 1,
                InsertOutcome::Exists { integrity } if integrity == row.integrity => summary.unchanged += 1,
                InsertOutcome::Exists { integrity } => {
                    return Err(RegistryError::InvalidDocument {
                        path: format!("{}", pack_dir.join("-").join(format!("{version}.tgz")).display()),
                        reason: format!(
                            "{name}@{version} is already in the registry with integrity {integrity}, and published \
                             versions are immutable; this tree has {}",
                            row.integrity
                        ),
                    });
                }
            }
        }
    }
    Ok(summary)
}

fn pack_name_is_path_safe(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 214
        && !name.contains("..")
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'))
}

/// Verifies the whole tree (blocking work, off the async runtime).
async fn verify_tree(tree: PathBuf, bundle: TrustBundle) -> Result<(), RegistryError> {
    let context = tree.display().to_string();
    let report = tokio::task::spawn_blocking(move || {
        let mut state = TrustState::new();
        verify_registry(&DirSource::new(tree), RegistryCheck::enforcing(&bundle, &mut state))
    })
    .await
    .map_err(|e| RegistryError::InvalidDocument {
        path: context.clone(),
        reason: format!("verification aborted: {e}"),
    })?
    .map_err(|source| RegistryError::Verify { context: context.clone(), source })?;
    if let Some(bad) = report.results.iter().find(|r| !r.ok) {
        return Err(RegistryError::InvalidDocument {
            path: context,
            reason: format!(
                "{} of {} versions fail verification, nothing was imported; first: {}@{}: {} ({})",
                report.failed,
                report.verified + report.failed,
                bad.name,
                bad.version,
                bad.message.as_deref().unwrap_or("failed"),
                bad.error.as_deref().unwrap_or("unknown"),
            ),
        });
    }
    Ok(())
}

/// Stores one version's blobs and returns the row that makes it visible, with the blobs its
/// insert stores in the database.
async fn import_version(
    storage: &Storage,
    pack_dir: &Path,
    name: &str,
    version: &str,
    published_at: Option<&str>,
    stamp: &str,
) -> Result<(VersionRow, Vec<InlineBlob>), RegistryError> {
    let parsed = semver::Version::parse(version).map_err(|e| RegistryError::InvalidDocument {
        path: pack_dir.display().to_string(),
        reason: format!("version `{version}` is not semver: {e}"),
    })?;
    let base = pack_dir.join("-");
    let manifest_path = base.join(format!("{version}.json"));
    let manifest_text = text(&manifest_path, read(&manifest_path)?)?;
    let manifest = json_doc(&manifest_path, manifest_text.as_bytes())?;
    let tarball = read(&base.join(format!("{version}.tgz")))?;
    let signature = read(&base.join(format!("{version}.sig")))?;
    let sbom = read_optional(&base.join(format!("{version}.sbom.json")))?;
    let statement = read_optional(&base.join(format!("{version}.statement.json")))?;

    let integrity = manifest.get("integrity").and_then(Value::as_str).unwrap_or_default().to_string();
    // Integrity is checked even when signature verification was skipped.
    pack_verify::integrity::Integrity::parse(&integrity)
        .and_then(|i| i.check(&tarball))
        .map_err(|source| RegistryError::Verify { context: format!("{name}@{version}"), source })?;
    let signing = manifest.get("signing");
    let field = |key: &str| signing.and_then(|s| s.get(key)).and_then(Value::as_str);
    let signing_method = field("method").unwrap_or("ed25519").to_string();
    let signing_key_id =
        field("publicKeyRef").or_else(|| field("keyId")).unwrap_or("openwop-registry-root").to_string();
    let lifecycle = pack_verify::manifest::Lifecycle::from_value(&manifest);

    let tarball_size = i64::try_from(tarball.len()).unwrap_or(i64::MAX);
    let blobs = storage
        .blobs
        .put_version(Bytes::from(tarball), Bytes::from(signature), sbom.map(Bytes::from), statement.map(Bytes::from))
        .await?;
    let (major, minor, patch, prerelease) = ordering_columns(&parsed);
    let row = VersionRow {
        name: name.to_string(),
        version: version.to_string(),
        major,
        minor,
        patch,
        prerelease,
        manifest: manifest_text,
        integrity,
        signing_method,
        signing_key_id,
        published_at: published_at
            .map(str::to_string)
            .or_else(|| manifest.get("publishedAt").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| stamp.to_string()),
        yanked: i64::from(lifecycle.yanked),
        deprecated: i64::from(lifecycle.deprecated()),
        tarball_blob: blobs.tarball,
        tarball_size,
        signature_blob: blobs.signature,
        sbom_blob: blobs.sbom,
        statement_blob: blobs.statement,
    };
    Ok((row, blobs.inline))
}

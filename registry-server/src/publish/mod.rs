//! Publishing a version (`PUT /v1/packs/{name}/-/{version}.tgz`, contract §2.3).
//!
//! Checks run in the contract's order, first failure wins: URL (scope, name, version) → body →
//! asserted SHA-256 → tarball (the shared safe reader) → manifest (JSON, name/version, engines,
//! entry and schema files) → signature and trust chain (`pack-verify`, the same code hosts run)
//! → namespace reservation → conflict. Authentication happens before any of it, in the handler.
//!
//! Crash safety: every blob (tarball, signature, SBOM, statement) is written first, content
//! addressed; one transaction then makes the version visible together with its audit record. A
//! crash in between leaves only unreferenced blobs, which `registry-server gc` removes.

pub mod sbom;

use bytes::Bytes;
use pack_verify::integrity::Integrity;
use pack_verify::manifest::PackJson;
use pack_verify::signature::Signature;
use pack_verify::tarball::{EMBEDDED_SIGNATURE, TarLimits, read_pack};
use pack_verify::trust::statement::StatementDocument;
use pack_verify::verify::{Verifier, VersionInput};
use serde_json::Value;

use crate::RegistryError;
use crate::auth::Principal;
use crate::registry::Registry;
use crate::storage::VersionRow;
use crate::storage::db::{InsertOutcome, ordering_columns};
use crate::storage::writes::AuditEvent;

/// Largest compressed upload accepted (contract: recommended 10 MB).
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

/// Largest `runtime.entry` file (contract: recommended 5 MB); other files are held to the
/// tarball reader's 10 MiB per file.
pub const MAX_ENTRY_BYTES: usize = 5 * 1024 * 1024;

/// One publish request, as received.
pub struct PublishRequest<'a> {
    /// Name from the URL.
    pub name: &'a str,
    /// Version from the URL.
    pub version: &'a str,
    /// The raw body.
    pub body: Bytes,
    /// `Content-Type`, if sent.
    pub content_type: Option<&'a str>,
    /// `X-Pack-Sha256`, if sent.
    pub asserted_sha256: Option<&'a str>,
    /// `X-Pack-Signature` (base64), required for the `ed25519` method.
    pub signature: Option<&'a str>,
    /// The authenticated caller.
    pub principal: &'a Principal,
}

/// What a publish did.
#[derive(Debug)]
pub enum PublishOutcome {
    /// A new version (201); carries the served manifest.
    Created(String),
    /// The identical bytes were already published (200); carries the stored manifest.
    Unchanged(String),
}

fn bad(code: &'static str, message: impl Into<String>) -> RegistryError {
    RegistryError::refused(400, code, message)
}

fn verify_refusal(context: &str, e: pack_verify::error::VerifyError) -> RegistryError {
    let status = match e.code() {
        "pack_namespace_unauthorized" => 403,
        "payload_too_large" => 413,
        _ => 400,
    };
    RegistryError::refused(status, e.code(), format!("{context}: {e} (hint: {})", e.hint()))
}

/// The namespace a first publish reserves: `vendor.<org>` or `community.<author>`.
fn reservable_namespace(name: &str) -> Option<String> {
    let mut parts = name.split('.');
    match (parts.next(), parts.next()) {
        (Some(scope @ ("vendor" | "community")), Some(org)) => Some(format!("{scope}.{org}")),
        _ => None,
    }
}

fn check_asserted_sha(asserted: &str, tarball: &[u8]) -> Result<(), RegistryError> {
    let actual = Integrity::of(tarball);
    let matches = if let Some(hex) = asserted.strip_prefix("sha256:").or(Some(asserted)).filter(|h| h.len() == 64) {
        hex.eq_ignore_ascii_case(&actual.hex())
    } else {
        Integrity::parse(asserted).is_ok_and(|i| i == actual)
    };
    if matches {
        Ok(())
    } else {
        Err(bad(
            "pack_integrity_failure",
            format!("X-Pack-Sha256 says {asserted} but the body is {actual}; the upload was altered or truncated"),
        ))
    }
}

/// Checks the manifest fields the registry needs beyond what the verifier checks.
/// `file_size` gives the size of a file in the tarball, `None` when it is absent.
fn check_manifest(pack: &Value, file_size: &dyn Fn(&str) -> Option<usize>) -> Result<(), RegistryError> {
    let engines = pack.pointer("/engines/openwop").and_then(Value::as_str).ok_or_else(|| {
        bad("invalid_engines_range", "pack.json needs `engines.openwop`, a version range such as \">=1.0.0 <2.0.0\"")
    })?;
    pack_verify::range::Range::parse(engines)
        .map_err(|e| bad("invalid_engines_range", format!("engines.openwop: {e}")))?;
    if let Some(entry) = pack.pointer("/runtime/entry").and_then(Value::as_str) {
        let entry = entry.trim_start_matches("./");
        match file_size(entry) {
            None => return Err(bad("tarball_entry_missing", format!("runtime.entry `{entry}` is not in the tarball"))),
            Some(size) if size > MAX_ENTRY_BYTES => {
                return Err(bad(
                    "tarball_entry_too_large",
                    format!(
                        "runtime.entry `{entry}` is {size} bytes, over the {MAX_ENTRY_BYTES}-byte limit; \
                         bundle less into it or load the rest as separate modules"
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    for list in ["nodes", "agents"] {
        for item in pack.get(list).and_then(Value::as_array).into_iter().flatten() {
            for field in ["configSchemaRef", "inputSchemaRef", "outputSchemaRef"] {
                if let Some(r) = item.get(field).and_then(Value::as_str)
                    && !r.starts_with("http://")
                    && !r.starts_with("https://")
                    && file_size(r.trim_start_matches("./")).is_none()
                {
                    return Err(bad("schema_ref_missing", format!("{list}[].{field} `{r}` is not in the tarball")));
                }
            }
        }
    }
    Ok(())
}

/// Publishes one version.
pub async fn publish(registry: &Registry, req: PublishRequest<'_>) -> Result<PublishOutcome, RegistryError> {
    // URL.
    pack_verify::names::check_pack_name(req.name).map_err(|e| bad(e.code(), format!("{e}; {}", e.hint())))?;
    pack_verify::names::check_version(req.version).map_err(|e| bad(e.code(), format!("{e}; {}", e.hint())))?;
    let Some(trust) = registry.trust() else {
        return Err(RegistryError::refused(
            501,
            "not_implemented",
            "publishing is off: start registry-server with --trust <bundle> to accept publishes",
        ));
    };
    req.principal
        .require(crate::auth::Scope::Publish, Some(req.name))
        .map_err(|e| RegistryError::refused(403, e.code(), e.to_string()))?;

    // Body.
    if req.body.is_empty() {
        return Err(bad("invalid_body", "the body is empty; send the .tgz bytes"));
    }
    if req.content_type.is_some_and(|ct| ct.starts_with("application/json") || ct.starts_with("text/")) {
        return Err(bad(
            "invalid_body",
            "send the tarball with Content-Type application/gzip or application/octet-stream",
        ));
    }
    if req.body.len() > MAX_UPLOAD_BYTES {
        return Err(RegistryError::refused(
            413,
            "payload_too_large",
            format!("{} bytes is over the {MAX_UPLOAD_BYTES}-byte upload limit", req.body.len()),
        ));
    }
    if let Some(asserted) = req.asserted_sha256 {
        check_asserted_sha(asserted, &req.body)?;
    }

    // Tarball and manifest.
    let archive = read_pack(&req.body, &TarLimits::default()).map_err(|e| verify_refusal("tarball", e))?;
    let (pack, document) = PackJson::parse_document(archive.pack_json()).map_err(|e| verify_refusal("pack.json", e))?;
    if pack.name != req.name {
        return Err(bad(
            "manifest_name_mismatch",
            format!("pack.json names `{}` but the URL names `{}`", pack.name, req.name),
        ));
    }
    if pack.version != req.version {
        return Err(bad(
            "manifest_version_mismatch",
            format!("pack.json has version `{}` but the URL has `{}`", pack.version, req.version),
        ));
    }
    check_manifest(&document, &|path| archive.get(path).map(<[u8]>::len))?;
    let Some(signing) = &pack.signing else {
        return Err(bad("pack_unsigned", "pack.json has no `signing` block; build with `pack build --key …`"));
    };

    // Signature: embedded for `manual`, a header for `ed25519` (over the tarball).
    let signature: Vec<u8> = match (archive.get(EMBEDDED_SIGNATURE), req.signature) {
        (Some(embedded), Some(header)) => {
            let given = Signature::from_base64(header).map_err(|e| verify_refusal("X-Pack-Signature", e))?;
            if given.to_bytes()[..] != embedded[..] {
                return Err(bad(
                    "pack_signature_mismatch",
                    "X-Pack-Signature differs from the embedded keys/pack.json.sig",
                ));
            }
            embedded.to_vec()
        }
        (Some(embedded), None) => embedded.to_vec(),
        (None, Some(header)) => {
            Signature::from_base64(header).map_err(|e| verify_refusal("X-Pack-Signature", e))?.to_bytes().to_vec()
        }
        (None, None) => {
            return Err(bad(
                "pack_unsigned",
                "no signature: embed keys/pack.json.sig (method manual) or send X-Pack-Signature (method ed25519)",
            ));
        }
    };

    // The served manifest: pack.json plus what the registry adds.
    let integrity = Integrity::of(&req.body).to_string();
    let published_at = pack_verify::trust::now_rfc3339();
    let mut manifest = document;
    if let Some(obj) = manifest.as_object_mut() {
        obj.insert("integrity".into(), Value::from(integrity.clone()));
        obj.insert("publishedAt".into(), Value::from(published_at.clone()));
    }
    let manifest_text = pack_verify::canonical::to_canonical_pretty(&manifest) + "\n";

    // The registry statement (decisions §9), then the whole chain exactly as a host checks it.
    let root = trust.root(&registry.storage().db).await?;
    let statement = trust.statement_key.as_ref().map(|(key_id, key)| {
        StatementDocument {
            doc_type: "openwop.version-statement".into(),
            registry: root.registry().to_string(),
            name: req.name.to_string(),
            version: req.version.to_string(),
            integrity: integrity.clone(),
            published_at: published_at.clone(),
            signing_key_id: signing.key_id.clone(),
            signing_method: signing.method.as_str().to_string(),
            keychain_version: root.keychain_version(),
        }
        .sign(key_id, key)
        .to_json()
    });
    let verifier = Verifier::new(root);
    let input = VersionInput {
        manifest: manifest_text.as_bytes(),
        tarball: &req.body,
        signature: &signature,
        statement: statement.as_deref().map(str::as_bytes),
        expected: Some((req.name, req.version)),
        other_versions: &[],
    };
    let refused = |e| verify_refusal(&format!("{}@{}", req.name, req.version), e);
    match verifier.verify(&input) {
        Ok(_) => {}
        // A bad signature: the versions already published tell a replay from a forgery.
        Err(e @ pack_verify::error::VerifyError::SignatureInvalid { .. }) => {
            let others: Vec<String> =
                registry.storage().db.versions_of(req.name).await?.into_iter().map(|v| v.version).collect();
            verifier.verify(&VersionInput { other_versions: &others, ..input }).map_err(refused)?;
            return Err(refused(e));
        }
        Err(e) => return Err(refused(e)),
    }

    // Namespace reservation and conflicts.
    let db = &registry.storage().db;
    if let Some(existing) = db.version(req.name, req.version).await? {
        return if existing.integrity == integrity {
            Ok(PublishOutcome::Unchanged(existing.manifest))
        } else {
            Err(conflict(req.name, req.version, &existing.integrity))
        };
    }
    if db.was_unpublished(req.name, req.version).await? {
        return Err(RegistryError::refused(
            409,
            "version_conflict",
            format!("{}@{} was unpublished and can never be published again; bump the version", req.name, req.version),
        ));
    }
    if let Some(namespace) = reservable_namespace(req.name) {
        let holder = db.reserve_namespace(&namespace, &req.principal.name, &published_at).await?;
        if holder != req.principal.name {
            return Err(RegistryError::refused(
                403,
                "forbidden",
                format!("`{namespace}` is reserved by another publisher; ask its owner or use your own namespace"),
            ));
        }
    }

    // Blobs first, then one transaction.
    let parsed = semver::Version::parse(req.version).map_err(|e| bad("invalid_version", e.to_string()))?;
    let files: Vec<(&str, &[u8])> = archive.files().iter().map(|f| (f.path.as_str(), f.data.as_slice())).collect();
    let sbom = sbom::version_sbom(&manifest, &req.body, &files);
    let tarball_size = i64::try_from(req.body.len()).unwrap_or(i64::MAX);
    let blobs = registry
        .storage()
        .blobs
        .put_version(req.body.clone(), Bytes::from(signature), Some(Bytes::from(sbom)), statement.map(Bytes::from))
        .await?;
    let (major, minor, patch, prerelease) = ordering_columns(&parsed);
    let row = VersionRow {
        name: req.name.to_string(),
        version: req.version.to_string(),
        major,
        minor,
        patch,
        prerelease,
        manifest: manifest_text.clone(),
        integrity: integrity.clone(),
        signing_method: signing.method.as_str().to_string(),
        signing_key_id: signing.key_id.clone(),
        published_at: published_at.clone(),
        yanked: 0,
        deprecated: 0,
        tarball_blob: blobs.tarball,
        tarball_size,
        signature_blob: blobs.signature,
        sbom_blob: blobs.sbom,
        statement_blob: blobs.statement,
    };
    let audit = AuditEvent::new(
        &published_at,
        &req.principal.name,
        "publish",
        &format!("{}@{}", req.name, req.version),
        serde_json::json!({"integrity": integrity, "tokenId": req.principal.token_id, "signingKeyId": signing.key_id}),
    );
    match db.insert_version_audited(&row, &blobs.inline, &published_at, Some(&audit)).await? {
        InsertOutcome::Inserted => Ok(PublishOutcome::Created(manifest_text)),
        // Lost a race with an identical publish through another replica: same bytes, same answer.
        InsertOutcome::Exists { integrity: stored } if stored == integrity => {
            let existing = db.version(req.name, req.version).await?.map(|r| r.manifest).unwrap_or(manifest_text);
            Ok(PublishOutcome::Unchanged(existing))
        }
        InsertOutcome::Exists { integrity: stored } => Err(conflict(req.name, req.version, &stored)),
    }
}

fn conflict(name: &str, version: &str, stored: &str) -> RegistryError {
    RegistryError::refused(
        409,
        "version_conflict",
        format!(
            "{name}@{version} is already published with integrity {stored}; versions are immutable, bump the version"
        ),
    )
}

//! One sync of one upstream: resolve its trust root (its pinned bundle, with its keychain when
//! the bundle pins a root), read its index, and for every version the filter admits fetch the
//! manifest, tarball, signature, statement and SBOM, verify them with `pack_verify::Verifier`
//! exactly as a host does, and only then store them the way `import` does: blobs first, one
//! transaction per version, bytes unchanged.

use bytes::Bytes;
use pack_verify::error::VerifyError;
use pack_verify::keys::PublicKey;
use pack_verify::registry::KEYCHAIN_PATH;
use pack_verify::trust::state::TrustState;
use pack_verify::trust::{ExpiryPolicy, KeyRole, SystemClock, TrustRoot};
use pack_verify::verify::{Verifier, VersionInput};
use serde::Serialize;
use serde_json::Value;

use super::config::{Pattern, UpstreamSpec};
use super::status::{self, StoredKey};
use super::upstream::{UpstreamClient, UpstreamError};
use crate::RegistryError;
use crate::storage::db::{InsertOutcome, ordering_columns};
use crate::storage::writes::AuditEvent;
use crate::storage::{InlineBlob, Storage, VersionRow};

/// An upstream with its client (and circuit breaker).
#[derive(Debug)]
pub struct Upstream {
    /// Its configuration.
    pub spec: UpstreamSpec,
    /// Its HTTP client.
    pub client: UpstreamClient,
    /// This mirror's own trust, when it re-signs what it mirrors (decisions §14).
    pub resigner: Option<std::sync::Arc<crate::trust::RegistryTrust>>,
}

/// What a sync covers beyond the upstream's own filter.
#[derive(Debug, Clone, Default)]
pub struct SyncScope {
    /// Only versions some pattern admits (empty: every version the filter admits).
    pub patterns: Vec<Pattern>,
    /// Exactly these `(name, version)` pairs (from a `pack-lock.json`), when non-empty.
    pub lock: Vec<(String, String)>,
}

/// A version the mirror refused to take.
#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    /// `name@version`.
    pub subject: String,
    /// Contract code (`pack_integrity_mismatch`, `pack_signature_invalid`, …).
    pub code: &'static str,
    /// Why.
    pub message: String,
}

/// What one sync of one upstream did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    /// Upstream name.
    pub upstream: String,
    /// `name@version` newly stored.
    pub stored: Vec<String>,
    /// Versions already present with the same integrity.
    pub unchanged: usize,
    /// Versions refused (nothing of them was stored).
    pub refused: Vec<Refusal>,
    /// Why the sync stopped early (upstream unreachable, trust root unusable), if it did.
    pub error: Option<String>,
}

impl SyncReport {
    /// Whether the sync completed with nothing refused.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.refused.is_empty()
    }

    fn summary(&self) -> Option<String> {
        if self.ok() {
            return None;
        }
        let mut parts: Vec<String> = self.error.iter().cloned().collect();
        for r in self.refused.iter().take(5) {
            parts.push(format!("{} refused: {} ({})", r.subject, r.message, r.code));
        }
        if self.refused.len() > 5 {
            parts.push(format!("and {} more refused", self.refused.len() - 5));
        }
        Some(parts.join("; "))
    }
}

/// Why a sync stopped.
pub(crate) enum Abort {
    /// The upstream failed (unreachable, breaker open, unexpected status).
    Upstream(UpstreamError),
    /// Local storage failed.
    Local(RegistryError),
}

impl From<RegistryError> for Abort {
    fn from(e: RegistryError) -> Self {
        Self::Local(e)
    }
}

impl From<UpstreamError> for Abort {
    fn from(e: UpstreamError) -> Self {
        Self::Upstream(e)
    }
}

fn path_safe(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 214
        && !s.contains("..")
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
}

/// Resolves the upstream's trust root: pinned keys, or its keychain (fetched, else the bundled
/// one) verified against the pinned root and the stored rollback state.
pub(crate) async fn resolve_root(storage: &Storage, up: &Upstream) -> Result<(TrustRoot, String), Abort> {
    let stored = status::row(&storage.db, &up.spec.name).await?;
    let mut state = stored
        .and_then(|r| r.trust_state)
        .and_then(|s| TrustState::from_json(s.as_bytes()).ok())
        .unwrap_or_else(TrustState::new);
    let fetched = if up.spec.bundle.has_root() { up.client.get(KEYCHAIN_PATH).await? } else { None };
    let bundle = up.spec.bundle.clone();
    let root =
        bundle.resolve(fetched.as_deref(), &mut state, &SystemClock, ExpiryPolicy::Enforce).map_err(|source| {
            RegistryError::Verify { context: format!("trust root of upstream {}", up.spec.name), source }
        })?;
    Ok((root, state.to_json()))
}

/// The upstream's publisher keys narrowed to what this mirror takes from it.
fn narrowed_keys(up: &Upstream, root: &TrustRoot) -> Vec<StoredKey> {
    root.keys()
        .filter(|k| k.roles.contains(&KeyRole::Publisher))
        .filter_map(|k| {
            let ns = up.spec.filter.narrow(&k.permitted_namespaces);
            (!ns.is_empty()).then(|| StoredKey {
                key_id: k.key_id.clone(),
                permitted_namespaces: ns,
                status: k.status.as_str().to_string(),
            })
        })
        .collect()
}

/// Stores the PEM of an upstream key so `/keys/{id}.pub` serves it; the upstream's own bytes
/// when they encode the trusted key. A key id already stored for a different key is refused
/// (trust roots stay per registry, decisions §13).
async fn store_key(storage: &Storage, up: &Upstream, key_id: &str, key: &PublicKey) -> Result<(), Abort> {
    if let Some(existing) = storage.db.key(key_id).await? {
        if PublicKey::parse(&existing).is_ok_and(|k| &k == key) {
            return Ok(());
        }
        return Err(Abort::Local(RegistryError::refused(
            409,
            "key_id_conflict",
            format!("key id `{key_id}` of upstream {} is already served here for a different key", up.spec.name),
        )));
    }
    let fetched =
        if path_safe(key_id) { up.client.get(&format!("/keys/{key_id}.pub")).await.ok().flatten() } else { None };
    let pem = fetched
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .filter(|pem| PublicKey::parse(pem).is_ok_and(|k| &k == key))
        .unwrap_or_else(|| key.to_pem());
    storage.db.put_key(key_id, &pem).await?;
    Ok(())
}

/// Syncs one upstream and records the attempt (and, when nothing failed, the success).
pub async fn sync_upstream(storage: &Storage, up: &Upstream, scope: &SyncScope) -> Result<SyncReport, RegistryError> {
    let attempt = pack_verify::trust::now_rfc3339();
    let mut report = SyncReport { upstream: up.spec.name.clone(), ..SyncReport::default() };
    let mut keys: Option<Vec<StoredKey>> = None;
    let mut state: Option<String> = None;
    match run(storage, up, scope, &mut report, &mut keys, &mut state).await {
        Ok(()) => {}
        Err(Abort::Upstream(e)) => report.error = Some(e.to_string()),
        Err(Abort::Local(RegistryError::Verify { context, source })) => {
            report.error = Some(format!("{context}: {source} ({})", source.code()));
        }
        Err(Abort::Local(e)) => {
            // Record the attempt, then surface the local failure to the caller.
            let msg = format!("local storage: {e}");
            status::record_attempt(&storage.db, &up.spec.name, &up.spec.url, &attempt, Some(&msg), None, None)
                .await
                .ok();
            return Err(e);
        }
    }
    let summary = report.summary();
    status::record_attempt(
        &storage.db,
        &up.spec.name,
        &up.spec.url,
        &attempt,
        summary.as_deref(),
        keys.as_deref(),
        state.as_deref(),
    )
    .await?;
    if let Some(s) = &summary {
        tracing::warn!(upstream = %up.spec.name, error = %s, stored = report.stored.len(), "mirror sync incomplete");
    } else {
        tracing::info!(upstream = %up.spec.name, stored = report.stored.len(), unchanged = report.unchanged, "mirror sync done");
    }
    Ok(report)
}

async fn run(
    storage: &Storage,
    up: &Upstream,
    scope: &SyncScope,
    report: &mut SyncReport,
    keys_out: &mut Option<Vec<StoredKey>>,
    state_out: &mut Option<String>,
) -> Result<(), Abort> {
    let (root, state) = resolve_root(storage, up).await?;
    *state_out = Some(state);
    let mut keys = narrowed_keys(up, &root);
    let mut listed = Vec::new();
    for k in keys.drain(..) {
        match root.key(&k.key_id) {
            Ok(t) => match store_key(storage, up, &k.key_id, &t.key).await {
                Ok(()) => listed.push(k),
                Err(Abort::Local(RegistryError::Refused { message, .. })) => {
                    report.refused.push(Refusal { subject: k.key_id.clone(), code: "key_id_conflict", message });
                }
                Err(e) => return Err(e),
            },
            Err(_) => continue,
        }
    }
    *keys_out = Some(listed);

    let filter = &up.spec.filter;
    let wanted = |name: &str, version: &str| {
        filter.admits(name, version)
            && (scope.patterns.is_empty() || scope.patterns.iter().any(|p| p.admits(name, version)))
            && (scope.lock.is_empty() || scope.lock.iter().any(|(n, v)| n == name && v == version))
    };
    let names: Vec<String> = if scope.lock.is_empty() {
        let index = up
            .client
            .get("/v1/index.json")
            .await?
            .ok_or_else(|| UpstreamError::Status { url: format!("{}/v1/index.json", up.spec.url), status: 404 })?;
        let index: Value = serde_json::from_slice(&index).map_err(|e| UpstreamError::Transport {
            url: format!("{}/v1/index.json", up.spec.url),
            detail: format!("not JSON: {e}"),
        })?;
        index
            .get("packs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("name").and_then(Value::as_str))
            .filter(|n| filter.admits_name(n))
            .filter(|n| scope.patterns.is_empty() || scope.patterns.iter().any(|p| p.admits_name(n)))
            .map(str::to_string)
            .collect()
    } else {
        let mut names: Vec<String> =
            scope.lock.iter().filter(|(n, v)| filter.admits(n, v)).map(|(n, _)| n.clone()).collect();
        names.sort();
        names.dedup();
        names
    };
    for name in names {
        sync_pack(storage, up, &root, &name, &|v| wanted(&name, v), report).await?;
    }
    Ok(())
}

/// Takes every wanted version of `name` from `up` (verified against `root`).
pub(crate) async fn sync_pack(
    storage: &Storage,
    up: &Upstream,
    root: &TrustRoot,
    name: &str,
    wanted: &(dyn Fn(&str) -> bool + Sync),
    report: &mut SyncReport,
) -> Result<(), Abort> {
    if !path_safe(name) {
        report.refused.push(Refusal {
            subject: name.to_string(),
            code: "invalid_pack_name",
            message: "the upstream lists a name that is not a valid pack name".into(),
        });
        return Ok(());
    }
    let Some(index) = up.client.get(&format!("/v1/packs/{name}/index.json")).await? else {
        return Ok(());
    };
    let Ok(index) = serde_json::from_slice::<Value>(&index) else {
        report.refused.push(Refusal {
            subject: name.to_string(),
            code: "invalid_document",
            message: "the upstream's pack index is not JSON".into(),
        });
        return Ok(());
    };
    let verifier = Verifier::new(root.clone());
    for entry in index.get("versions").and_then(Value::as_array).into_iter().flatten() {
        let Some(version) = entry.get("version").and_then(Value::as_str) else { continue };
        if !path_safe(version) || !wanted(version) {
            continue;
        }
        let subject = format!("{name}@{version}");
        let listed_integrity = entry.get("integrity").and_then(Value::as_str).unwrap_or_default();
        if let Some(local) = storage.db.version(name, version).await? {
            if local.integrity == listed_integrity {
                report.unchanged += 1;
            } else {
                report.refused.push(Refusal {
                    subject,
                    code: "version_conflict",
                    message: format!(
                        "already stored here with integrity {}, the upstream lists {listed_integrity}; versions are immutable",
                        local.integrity
                    ),
                });
            }
            continue;
        }
        match take_version(storage, up, &verifier, name, version, entry).await? {
            Ok((row, inline)) => {
                let stamp = pack_verify::trust::now_rfc3339();
                let audit = AuditEvent::new(
                    &stamp,
                    &format!("mirror:{}", up.spec.name),
                    "mirror",
                    &subject,
                    serde_json::json!({"upstream": up.spec.url, "integrity": row.integrity}),
                );
                match storage.db.insert_version_audited(&row, &inline, &stamp, Some(&audit)).await? {
                    InsertOutcome::Inserted => {
                        status::record_version(&storage.db, name, version, &up.spec.name, &stamp).await?;
                        report.stored.push(subject);
                    }
                    InsertOutcome::Exists { integrity } if integrity == row.integrity => report.unchanged += 1,
                    InsertOutcome::Exists { integrity } => report.refused.push(Refusal {
                        subject,
                        code: "version_conflict",
                        message: format!("already stored here with integrity {integrity}"),
                    }),
                }
            }
            Err(refusal) => {
                tracing::warn!(upstream = %up.spec.name, subject = %refusal.subject, code = refusal.code,
                    "mirror: refused upstream version: {}", refusal.message);
                report.refused.push(refusal);
            }
        }
    }
    Ok(())
}

fn refusal(subject: &str, e: &VerifyError) -> Refusal {
    Refusal { subject: subject.to_string(), code: e.code(), message: e.to_string() }
}

/// Fetches, verifies and stores the blobs of one version; returns the row that makes it
/// visible, or why it was refused (then nothing was stored).
async fn take_version(
    storage: &Storage,
    up: &Upstream,
    verifier: &Verifier,
    name: &str,
    version: &str,
    entry: &Value,
) -> Result<Result<(VersionRow, Vec<InlineBlob>), Refusal>, Abort> {
    let subject = format!("{name}@{version}");
    let base = format!("/v1/packs/{name}/-/{version}");
    let missing = |what: &str| Refusal {
        subject: subject.clone(),
        code: "pack_version_not_found",
        message: format!("the upstream lists it but serves no {what}"),
    };
    let Some(manifest) = up.client.get(&format!("{base}.json")).await? else { return Ok(Err(missing("manifest"))) };
    let Some(tarball) = up.client.get(&format!("{base}.tgz")).await? else { return Ok(Err(missing("tarball"))) };
    let Some(signature) = up.client.get(&format!("{base}.sig")).await? else { return Ok(Err(missing("signature"))) };
    let statement: Option<Bytes> = if verifier.root().requires_statements() {
        up.client.get(&format!("{base}.statement.json")).await?
    } else {
        None
    };
    let sbom = up.client.get(&format!("{base}.sbom.json")).await?;

    // Verification is CPU work: off the async runtime.
    let verifier2 = verifier.clone();
    let (m, t, s, st) = (manifest.clone(), tarball.clone(), signature.clone(), statement.clone());
    let (n, v) = (name.to_string(), version.to_string());
    let verdict = tokio::task::spawn_blocking(move || {
        verifier2.verify(&VersionInput {
            manifest: &m,
            tarball: &t,
            signature: &s,
            statement: st.as_deref(),
            expected: Some((&n, &v)),
            other_versions: &[],
        })
    })
    .await
    .map_err(|e| RegistryError::InvalidDocument {
        path: subject.clone(),
        reason: format!("verification aborted: {e}"),
    })?;
    let verified = match verdict {
        Ok(v) => v,
        Err(e) => return Ok(Err(refusal(&subject, &e))),
    };
    // The index is what resolvers choose from: it must agree with what verified.
    let listed_integrity = entry.get("integrity").and_then(Value::as_str);
    let agrees = |i: &str| pack_verify::integrity::Integrity::parse(i).is_ok_and(|p| p == verified.integrity);
    if listed_integrity.is_some_and(|i| !agrees(i)) {
        let e = VerifyError::IntegrityMismatch {
            expected: listed_integrity.unwrap_or_default().to_string(),
            actual: verified.integrity.to_string(),
        };
        return Ok(Err(refusal(&subject, &e)));
    }
    if let Some(key) = entry.get("signingKeyId").and_then(Value::as_str)
        && key != verified.signing_key_id
    {
        let e = VerifyError::SignerMismatch { expected: key.to_string(), found: verified.signing_key_id.clone() };
        return Ok(Err(refusal(&subject, &e)));
    }
    let Ok(manifest_text) = String::from_utf8(manifest.to_vec()) else {
        return Ok(Err(Refusal { subject, code: "manifest_invalid", message: "manifest is not UTF-8".into() }));
    };
    let manifest_json: Value = serde_json::from_str(&manifest_text).unwrap_or(Value::Null);
    let sbom = sbom.filter(|b| serde_json::from_slice::<Value>(b).is_ok());
    let Ok(parsed) = semver::Version::parse(version) else {
        return Ok(Err(Refusal { subject, code: "invalid_version", message: "not semver".into() }));
    };

    // The signing key must be servable here (discovery and `/keys/{id}.pub`).
    if let Ok(trusted) = verifier.root().key(&verified.signing_key_id) {
        match store_key(storage, up, &verified.signing_key_id, &trusted.key).await {
            Ok(()) => {}
            Err(Abort::Local(RegistryError::Refused { message, .. })) => {
                return Ok(Err(Refusal { subject, code: "key_id_conflict", message }));
            }
            Err(e) => return Err(e),
        }
    }

    let published_at = entry
        .get("publishedAt")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| verified.published_at.map(pack_verify::trust::format_time))
        .or_else(|| manifest_json.get("publishedAt").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(pack_verify::trust::now_rfc3339);
    let tarball_size = i64::try_from(tarball.len()).unwrap_or(i64::MAX);
    // Re-signing: the upstream's statement (already verified above) is replaced by one this
    // mirror makes over the same verified facts, for its own registry id and keychain.
    let statement = match &up.resigner {
        Some(trust) => Some(Bytes::from(own_statement(storage, trust, &verified, version, &published_at).await?)),
        None => statement,
    };
    // Blobs first; the version becomes visible only by the caller's single insert.
    let blobs = storage.blobs.put_version(tarball, signature, sbom, statement).await?;
    let (major, minor, patch, prerelease) = ordering_columns(&parsed);
    let row = VersionRow {
        name: name.to_string(),
        version: version.to_string(),
        major,
        minor,
        patch,
        prerelease,
        manifest: manifest_text,
        integrity: verified.integrity.to_string(),
        signing_method: manifest_json
            .pointer("/signing/method")
            .and_then(Value::as_str)
            .unwrap_or("ed25519")
            .to_string(),
        signing_key_id: verified.signing_key_id.clone(),
        published_at,
        // The verifier read them from these manifest bytes (`pack_verify::manifest::Lifecycle`).
        yanked: i64::from(verified.yanked),
        deprecated: i64::from(verified.deprecated),
        tarball_blob: blobs.tarball,
        tarball_size,
        signature_blob: blobs.signature,
        sbom_blob: blobs.sbom,
        statement_blob: blobs.statement,
    };
    Ok(Ok((row, blobs.inline)))
}

/// This mirror's registry statement for a verified upstream version.
async fn own_statement(
    storage: &Storage,
    trust: &crate::trust::RegistryTrust,
    verified: &pack_verify::verify::VerifiedVersion,
    version: &str,
    published_at: &str,
) -> Result<String, Abort> {
    let Some((key_id, key)) = trust.statement_key.as_ref() else {
        return Err(Abort::Local(RegistryError::Config { what: "re-signing needs a statement key".into() }));
    };
    let root = trust.root(&storage.db).await.map_err(Abort::Local)?;
    Ok(pack_verify::trust::statement::StatementDocument {
        doc_type: "openwop.version-statement".into(),
        registry: root.registry().to_string(),
        name: verified.name.clone(),
        version: version.to_string(),
        integrity: verified.integrity.to_string(),
        published_at: published_at.to_string(),
        signing_key_id: verified.signing_key_id.clone(),
        signing_method: verified.method.as_str().to_string(),
        keychain_version: root.keychain_version(),
    }
    .sign(key_id, key)
    .to_json())
}

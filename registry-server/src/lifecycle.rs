//! Changing published versions (contract §2.3, §6): yank and unyank, deprecate and undeprecate,
//! unpublish within the window, and advisories (every version an advisory matches is yanked in
//! the same step). Each change rewrites the version manifest in the reference fields
//! (`yanked` + `yankedReason`, `deprecated` + `deprecationReason` + `supersededBy`) under
//! optimistic concurrency, and lands in the audit log with who, what and when. A manifest that
//! came in with the spec's or v2's spelling (an import, a mirror) is rewritten in the reference
//! fields, so that no stale spelling outlives the change (all are read: contract §6.1).

use pack_verify::manifest::Lifecycle;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::RegistryError;
use crate::auth::{Principal, Scope};
use crate::registry::Registry;
use crate::storage::writes::{AuditEvent, Change};

/// The spec's and v2's deprecation fields, replaced by the reference ones on any deprecation
/// change.
const OTHER_DEPRECATION_SPELLINGS: [&str; 2] = ["deprecation", "versionDeprecated"];

/// How long after publishing a version may still be unpublished (contract: 72 h).
pub const UNPUBLISH_WINDOW: time::Duration = time::Duration::hours(72);

/// Body of `POST …/yank`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct YankRequest {
    /// One-line reason (max 512 characters).
    pub reason: Option<String>,
    /// Where the advisory lives.
    pub advisory_url: Option<String>,
}

/// Body of `POST …/deprecate`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeprecateRequest {
    /// One-line reason (max 512 characters).
    pub reason: Option<String>,
    /// The replacement, `version` or `name@version` (max 256 characters).
    pub superseded_by: Option<String>,
}

fn forbid(e: crate::auth::AuthError) -> RegistryError {
    RegistryError::refused(403, e.code(), e.to_string())
}

fn not_found(name: &str, version: &str) -> RegistryError {
    RegistryError::refused(404, "pack_version_not_found", format!("{name}@{version} is not in this registry"))
}

fn check_len(what: &str, value: Option<&str>, max: usize) -> Result<(), RegistryError> {
    match value {
        Some(v) if v.chars().count() > max => {
            Err(RegistryError::refused(400, "invalid_body", format!("`{what}` is longer than {max} characters")))
        }
        _ => Ok(()),
    }
}

/// Rewrites one version's manifest with `edit`, retrying when another writer changed it first.
/// `edit` returns false when nothing needs to change (the call is then idempotent).
async fn change(
    registry: &Registry,
    principal: &str,
    name: &str,
    version: &str,
    action: &str,
    details: Value,
    edit: impl Fn(&mut Map<String, Value>) -> bool,
) -> Result<String, RegistryError> {
    let db = &registry.storage().db;
    for _ in 0..8 {
        let row = db.version(name, version).await?.ok_or_else(|| not_found(name, version))?;
        let mut manifest: Value = serde_json::from_str(&row.manifest).map_err(|e| RegistryError::InvalidDocument {
            path: format!("/v1/packs/{name}/-/{version}.json"),
            reason: e.to_string(),
        })?;
        let Some(obj) = manifest.as_object_mut() else {
            return Err(RegistryError::InvalidDocument {
                path: format!("/v1/packs/{name}/-/{version}.json"),
                reason: "not an object".into(),
            });
        };
        if !edit(obj) {
            return Ok(row.manifest);
        }
        let lifecycle = Lifecycle::from_value(&manifest);
        let (yanked, deprecated) = (lifecycle.yanked, lifecycle.deprecated());
        let text = pack_verify::canonical::to_canonical_pretty(&manifest) + "\n";
        let stamp = pack_verify::trust::now_rfc3339();
        let audit = AuditEvent::new(&stamp, principal, action, &format!("{name}@{version}"), details.clone());
        if db.update_lifecycle(&row, &text, yanked, deprecated, &audit).await? {
            return Ok(text);
        }
    }
    Err(RegistryError::refused(409, "conflict", format!("{name}@{version} is changing too fast; retry")))
}

/// Yanks a version (scope `packs:yank`).
pub async fn yank(
    registry: &Registry,
    principal: &Principal,
    name: &str,
    version: &str,
    req: YankRequest,
) -> Result<String, RegistryError> {
    principal.require(Scope::Yank, Some(name)).map_err(forbid)?;
    check_len("reason", req.reason.as_deref(), 512)?;
    let details = serde_json::json!({"reason": req.reason, "advisoryUrl": req.advisory_url});
    change(registry, &principal.name, name, version, "yank", details, |m| {
        let reason = req.reason.clone().map(Value::from);
        if m.get("yanked") == Some(&Value::Bool(true)) && m.get("yankedReason") == reason.as_ref() {
            return false;
        }
        m.insert("yanked".into(), Value::Bool(true));
        match &reason {
            Some(r) => m.insert("yankedReason".into(), r.clone()),
            None => m.remove("yankedReason"),
        };
        true
    })
    .await
}

/// Reverts a yank (scope `packs:yank-revert`); the yank stays in the audit log.
pub async fn unyank(
    registry: &Registry,
    principal: &Principal,
    name: &str,
    version: &str,
) -> Result<String, RegistryError> {
    principal.require(Scope::YankRevert, Some(name)).map_err(forbid)?;
    change(registry, &principal.name, name, version, "unyank", Value::Null, |m| {
        let was = m.remove("yanked").is_some();
        m.remove("yankedReason").is_some() || was
    })
    .await
}

/// Deprecates a version (scope `packs:publish`); the same body again is a no-op, another one
/// replaces the message.
pub async fn deprecate(
    registry: &Registry,
    principal: &Principal,
    name: &str,
    version: &str,
    req: DeprecateRequest,
) -> Result<String, RegistryError> {
    principal.require(Scope::Publish, Some(name)).map_err(forbid)?;
    check_len("reason", req.reason.as_deref(), 512)?;
    check_len("supersededBy", req.superseded_by.as_deref(), 256)?;
    let details = serde_json::json!({"reason": req.reason, "supersededBy": req.superseded_by});
    change(registry, &principal.name, name, version, "deprecate", details, |m| {
        let before = m.clone();
        for key in OTHER_DEPRECATION_SPELLINGS {
            m.remove(key);
        }
        m.insert("deprecated".into(), Value::Bool(true));
        for (key, value) in [("deprecationReason", &req.reason), ("supersededBy", &req.superseded_by)] {
            match value {
                Some(v) => m.insert(key.into(), Value::from(v.clone())),
                None => m.remove(key),
            };
        }
        *m != before
    })
    .await
}

/// Removes a deprecation (scope `packs:publish`).
pub async fn undeprecate(
    registry: &Registry,
    principal: &Principal,
    name: &str,
    version: &str,
) -> Result<String, RegistryError> {
    principal.require(Scope::Publish, Some(name)).map_err(forbid)?;
    change(registry, &principal.name, name, version, "undeprecate", Value::Null, |m| {
        let mut changed = false;
        for key in ["deprecated", "deprecationReason", "supersededBy"].into_iter().chain(OTHER_DEPRECATION_SPELLINGS) {
            changed |= m.remove(key).is_some();
        }
        changed
    })
    .await
}

/// Unpublishes a version within [`UNPUBLISH_WINDOW`] of its publication (scope
/// `packs:publish`). The version can never be published again.
pub async fn unpublish(
    registry: &Registry,
    principal: &Principal,
    name: &str,
    version: &str,
) -> Result<(), RegistryError> {
    principal.require(Scope::Publish, Some(name)).map_err(forbid)?;
    let db = &registry.storage().db;
    let row = db.version(name, version).await?.ok_or_else(|| not_found(name, version))?;
    let published = pack_verify::trust::parse_time(&row.published_at, "publishedAt")
        .map_err(|e| RegistryError::InvalidDocument { path: format!("{name}@{version}"), reason: e })?;
    if time::OffsetDateTime::now_utc() - published > UNPUBLISH_WINDOW {
        return Err(RegistryError::refused(
            400,
            "unpublish_window_expired",
            format!(
                "{name}@{version} was published at {} and the unpublish window is 72 hours; yank or deprecate it instead",
                row.published_at
            ),
        ));
    }
    let audit = AuditEvent::new(
        &pack_verify::trust::now_rfc3339(),
        &principal.name,
        "unpublish",
        &format!("{name}@{version}"),
        serde_json::json!({"integrity": row.integrity}),
    );
    match db.unpublish(&row, &audit).await? {
        Change::Applied => Ok(()),
        Change::NotFound => Err(not_found(name, version)),
    }
}

/// Adds an advisory (scope `registry:admin`) and yanks every version it matches, naming the
/// advisory as the reason. Returns the yanked `name@version`s.
pub async fn add_advisory(
    registry: &Registry,
    principal: &Principal,
    advisory: Value,
) -> Result<Vec<String>, RegistryError> {
    principal.require(Scope::Admin, None).map_err(forbid)?;
    let invalid = |m: String| RegistryError::refused(400, "invalid_body", m);
    let id = advisory
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty() && id.len() <= 64)
        .ok_or_else(|| invalid("the advisory needs an `id` such as OPENWOP-2026-0002".into()))?
        .to_string();
    for field in ["summary", "severity", "publishedAt"] {
        if advisory.get(field).and_then(Value::as_str).is_none() {
            return Err(invalid(format!("the advisory needs a string `{field}`")));
        }
    }
    let affected = advisory
        .get("affected")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| invalid("the advisory needs a non-empty `affected` list".into()))?;
    let mut targets = Vec::new();
    for entry in affected {
        let pack =
            entry.get("packName").and_then(Value::as_str).ok_or_else(|| invalid("affected[].packName".into()))?;
        let range_text =
            entry.get("versions").and_then(Value::as_str).ok_or_else(|| invalid("affected[].versions".into()))?;
        let range =
            pack_verify::range::Range::parse(range_text).map_err(|e| invalid(format!("affected[].versions: {e}")))?;
        for row in registry.storage().db.versions_of(pack).await? {
            if let Ok(v) = semver::Version::parse(&row.version)
                && range.matches(&v)
            {
                targets.push((row.name, row.version));
            }
        }
    }
    let audit = AuditEvent::new(
        &pack_verify::trust::now_rfc3339(),
        &principal.name,
        "advisory",
        &id,
        serde_json::json!({"matched": targets.len()}),
    );
    if !registry.storage().db.insert_advisory(&id, &advisory.to_string(), &audit).await? {
        return Err(RegistryError::refused(409, "conflict", format!("advisory {id} already exists")));
    }
    // The advisory is stored first: if yanking stops half-way, re-running `advisory add` is
    // refused, but every yank below is idempotent and `pack yank` finishes the rest.
    let mut yanked = Vec::new();
    for (name, version) in targets {
        let details = serde_json::json!({"reason": id, "advisory": id});
        change(registry, &principal.name, &name, &version, "yank", details, |m| {
            if m.get("yanked") == Some(&Value::Bool(true)) {
                return false;
            }
            m.insert("yanked".into(), Value::Bool(true));
            m.insert("yankedReason".into(), Value::from(id.clone()));
            true
        })
        .await?;
        yanked.push(format!("{name}@{version}"));
    }
    Ok(yanked)
}

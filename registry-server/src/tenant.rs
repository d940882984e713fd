//! Tenants: who sees what. Every read path filters version rows through one [`View`] before
//! documents are built, so the registry index, pack indexes, version files, search, the aggregate
//! SBOM, the schema mirror, the HTML catalog and export all apply the same rules:
//!
//! - `private.<tenant>.*` belongs to `<tenant>` by construction. Only that tenant's view admits
//!   it; every other view (other tenants, anonymous callers, operator tokens) sees no `private.*`
//!   pack at all, so reads answer 404 exactly like a missing pack, never 403.
//! - A tenant's view of the other (public) packs is narrowed by its `allow` patterns (empty: all),
//!   its `deny` patterns (`name`, `prefix.*` or either with `@RANGE`; deny wins), a minimum publish
//!   age (versions younger than the cooldown are hidden) and, with `blockAdvisories`, every version
//!   a stored advisory's `affected` entry matches.
//!
//! Only the public view is served from the metadata cache (see [`crate::registry::Registry`]);
//! tenant views are rendered from rows per request.

use std::sync::Arc;

use pack_verify::range::Range;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::RegistryError;
use crate::mirror::config::Filter;
use crate::storage::writes::{AuditEvent, record_audit};
use crate::storage::{Db, VersionRow};

/// The scope every tenant namespace lives under.
pub const PRIVATE_SCOPE: &str = "private.";

/// What a tenant is configured with (stored as JSON in `tenants.config`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantConfig {
    /// `GLOB[@RANGE]` patterns of public packs the tenant sees; empty: all of them.
    #[serde(default)]
    pub allow: Vec<String>,
    /// `GLOB[@RANGE]` patterns hidden from the tenant (wins over `allow`).
    #[serde(default)]
    pub deny: Vec<String>,
    /// Public versions younger than this (from `publishedAt`) are hidden.
    #[serde(default)]
    pub min_publish_age_secs: u64,
    /// Hide every version a stored advisory matches.
    #[serde(default)]
    pub block_advisories: bool,
}

impl TenantConfig {
    /// Checks the patterns (the same `GLOB[@RANGE]` syntax as mirror filters).
    pub fn filter(&self) -> Result<Filter, RegistryError> {
        Filter::parse(&self.allow, &self.deny).map_err(|e| RegistryError::Config {
            what: format!("tenant patterns: {e} (use a pack name, `prefix.*` or `*`, optionally with @RANGE)"),
        })
    }
}

/// Whether `name` is a valid tenant name: one pack-name segment (`[a-z][a-z0-9_-]*`, ≤ 64).
pub fn valid_tenant_name(name: &str) -> bool {
    name.len() <= 64
        && name.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
}

/// The tenant owning `name`, when it is a `private.<tenant>.*` pack name.
pub fn owner(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(PRIVATE_SCOPE)?;
    rest.split_once('.').map(|(tenant, _)| tenant).filter(|t| !t.is_empty())
}

/// Whether a pack name is under the `private.*` scope (owned by some tenant, or reserved).
pub fn is_private(name: &str) -> bool {
    name.starts_with(PRIVATE_SCOPE)
}

/// A tenant's resolved view: its name, parsed patterns and the facts its rules need.
#[derive(Debug, Clone)]
pub struct TenantView {
    /// Tenant name (`private.<name>.*` is its namespace).
    pub name: String,
    filter: Filter,
    min_publish_age_secs: u64,
    /// `(packName, range)` of every stored advisory, when the tenant blocks advisories.
    blocked: Vec<(String, Range)>,
    /// The request time the cooldown is measured against.
    now: OffsetDateTime,
}

/// Who is looking: the public (anonymous and operator tokens) or one tenant.
#[derive(Debug, Clone, Default)]
pub enum View {
    /// No `private.*` pack; everything else.
    #[default]
    Public,
    /// The tenant's own private packs plus its filtered view of the public ones.
    Tenant(Arc<TenantView>),
}

impl View {
    /// Whether this is the public view (the only one served from the cache).
    pub fn is_public(&self) -> bool {
        matches!(self, Self::Public)
    }

    /// The one rule: whether this view sees the version `row`.
    pub fn admits(&self, row: &VersionRow) -> bool {
        self.admits_version(&row.name, &row.version, &row.published_at)
    }

    /// [`View::admits`] on the fields it reads.
    pub fn admits_version(&self, name: &str, version: &str, published_at: &str) -> bool {
        let tenant = match self {
            Self::Public => return !is_private(name),
            Self::Tenant(t) => t,
        };
        if is_private(name) {
            // A tenant always sees its own private packs (no cooldown, no patterns).
            return owner(name) == Some(tenant.name.as_str());
        }
        if !tenant.filter.admits(name, version) {
            return false;
        }
        if tenant.min_publish_age_secs > 0 {
            let Ok(at) = OffsetDateTime::parse(published_at, &time::format_description::well_known::Rfc3339) else {
                // An unreadable publication time cannot prove the version is old enough.
                return false;
            };
            let age = tenant.now - at;
            if age < time::Duration::seconds(i64::try_from(tenant.min_publish_age_secs).unwrap_or(i64::MAX)) {
                return false;
            }
        }
        let blocked = || {
            semver::Version::parse(version)
                .is_ok_and(|v| tenant.blocked.iter().any(|(pack, range)| pack == name && range.matches(&v)))
        };
        !blocked()
    }

    /// Keeps the rows this view admits.
    pub fn filter_rows(&self, rows: Vec<VersionRow>) -> Vec<VersionRow> {
        rows.into_iter().filter(|r| self.admits(r)).collect()
    }

    /// Whether a pack name could be visible at all (guards mirror pull-through: never fetch a
    /// private name, and never fetch a name the tenant's patterns exclude outright).
    pub fn may_see_name(&self, name: &str) -> bool {
        match self {
            Self::Public => !is_private(name),
            Self::Tenant(t) if is_private(name) => owner(name) == Some(t.name.as_str()),
            Self::Tenant(t) => t.filter.admits_name(name),
        }
    }

    /// Builds the view of tenant `name` at `now` from storage; `None` when no such tenant.
    pub async fn of_tenant(db: &Db, name: &str, now: OffsetDateTime) -> Result<Option<Self>, RegistryError> {
        let Some(config) = db.tenant(name).await? else { return Ok(None) };
        let filter = config.filter()?;
        let mut blocked = Vec::new();
        if config.block_advisories {
            for body in db.advisories().await? {
                let Ok(advisory) = serde_json::from_str::<serde_json::Value>(&body) else { continue };
                for entry in advisory.get("affected").and_then(serde_json::Value::as_array).into_iter().flatten() {
                    let pack = entry.get("packName").and_then(serde_json::Value::as_str);
                    let range = entry.get("versions").and_then(serde_json::Value::as_str).map(Range::parse);
                    if let (Some(pack), Some(Ok(range))) = (pack, range) {
                        blocked.push((pack.to_string(), range));
                    }
                }
            }
        }
        Ok(Some(Self::Tenant(Arc::new(TenantView {
            name: name.to_string(),
            filter,
            min_publish_age_secs: config.min_publish_age_secs,
            blocked,
            now,
        }))))
    }
}

/// What a view may see of an unsigned document that names namespaces or packs (discovery, the
/// advisory feed): `body` is the document to serve (`None`: the input unchanged), `hidden_keys`
/// the signing keys it had to drop (their `/keys/{id}.pub` answers 404 to this view).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filtered {
    /// The filtered document, when anything was removed.
    pub body: Option<String>,
    /// Key ids removed from `signingKeys`.
    pub hidden_keys: Vec<String>,
}

impl View {
    /// The tenant this view belongs to (`None` for the public view).
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Self::Public => None,
            Self::Tenant(t) => Some(t.name.as_str()),
        }
    }

    /// Whether pack `name` is someone else's private pack (the same rule as version rows: the
    /// public view sees no `private.*` name, a tenant only its own).
    pub fn hides_private_name(&self, name: &str) -> bool {
        is_private(name) && (self.tenant().is_none() || owner(name) != self.tenant())
    }

    /// Whether namespace glob or name `pattern` lies inside another tenant's private namespace
    /// (`private.<other>.*` or a name under it). Globs spanning tenants (`private.*`, `*`) name
    /// no tenant and stay visible.
    pub fn hides_namespace(&self, pattern: &str) -> bool {
        owner(pattern).is_some_and(|t| self.tenant() != Some(t))
    }

    /// The advisory feed as this view may see it: `affected` entries naming a private pack the
    /// view does not own are dropped, and so is an advisory left with none. Advisories that
    /// name no such pack are served as they are; a feed with nothing to drop is not re-rendered.
    pub fn filter_advisories(&self, body: &str) -> Filtered {
        if !body.contains(PRIVATE_SCOPE) {
            return Filtered::default();
        }
        let Ok(mut feed) = serde_json::from_str::<serde_json::Value>(body) else { return Filtered::default() };
        let Some(list) = feed.get_mut("advisories").and_then(serde_json::Value::as_array_mut) else {
            return Filtered::default();
        };
        let mut changed = false;
        list.retain_mut(|advisory| {
            let Some(affected) = advisory.get_mut("affected").and_then(serde_json::Value::as_array_mut) else {
                return true;
            };
            let before = affected.len();
            affected.retain(|entry| {
                !entry.get("packName").and_then(serde_json::Value::as_str).is_some_and(|n| self.hides_private_name(n))
            });
            if affected.len() == before {
                return true;
            }
            changed = true;
            !affected.is_empty()
        });
        Filtered { body: changed.then(|| crate::registry::index::to_json_document(&feed)), hidden_keys: Vec::new() }
    }

    /// The discovery document as this view may see it: `permittedNamespaces` inside another
    /// tenant's private namespace are dropped from `signingKeys`, a key left with none is dropped
    /// (and reported in `hidden_keys`), and so is every `namespaceAssignments` entry for such a
    /// namespace or a dropped key.
    pub fn filter_discovery(&self, body: &str) -> Filtered {
        if !body.contains(PRIVATE_SCOPE) {
            return Filtered::default();
        }
        let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(body) else { return Filtered::default() };
        let mut changed = false;
        let mut hidden_keys = Vec::new();
        if let Some(keys) = doc.get_mut("signingKeys").and_then(serde_json::Value::as_array_mut) {
            keys.retain_mut(|key| {
                let Some(namespaces) = key.get_mut("permittedNamespaces").and_then(serde_json::Value::as_array_mut)
                else {
                    return true;
                };
                let before = namespaces.len();
                namespaces.retain(|ns| !ns.as_str().is_some_and(|ns| self.hides_namespace(ns)));
                if namespaces.len() == before {
                    return true;
                }
                changed = true;
                if !namespaces.is_empty() {
                    return true;
                }
                if let Some(id) = key.get("keyId").and_then(serde_json::Value::as_str) {
                    hidden_keys.push(id.to_string());
                }
                false
            });
        }
        if let Some(assignments) = doc.get_mut("namespaceAssignments").and_then(serde_json::Value::as_array_mut) {
            let before = assignments.len();
            assignments.retain(|a| {
                let ns = a.get("namespace").and_then(serde_json::Value::as_str);
                let key = a.get("signingKeyId").and_then(serde_json::Value::as_str);
                !(ns.is_some_and(|ns| self.hides_namespace(ns))
                    || key.is_some_and(|k| hidden_keys.iter().any(|h| h == k)))
            });
            changed |= assignments.len() != before;
        }
        Filtered { body: changed.then(|| crate::registry::index::to_json_document(&doc)), hidden_keys }
    }
}

impl Db {
    /// Creates tenant `name` (audited); false when it already exists.
    pub async fn insert_tenant(
        &self,
        name: &str,
        config: &TenantConfig,
        audit: &AuditEvent,
    ) -> Result<bool, RegistryError> {
        let body = serde_json::to_string(config)
            .map_err(|e| RegistryError::Config { what: format!("tenant configuration: {e}") })?;
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "INSERT INTO tenants (name, config, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(&body)
        .bind(&audit.at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            record_audit(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// A tenant's configuration; `None` when no such tenant.
    pub async fn tenant(&self, name: &str) -> Result<Option<TenantConfig>, RegistryError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT config FROM tenants WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        match row {
            None => Ok(None),
            Some((text,)) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| RegistryError::InvalidDocument { path: format!("tenants/{name}"), reason: e.to_string() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(config: TenantConfig, blocked: Vec<(String, Range)>) -> View {
        View::Tenant(Arc::new(TenantView {
            name: "a".into(),
            filter: config.filter().expect("patterns"),
            min_publish_age_secs: config.min_publish_age_secs,
            blocked,
            now: OffsetDateTime::parse("2026-11-25T12:00:00Z", &time::format_description::well_known::Rfc3339)
                .expect("time"),
        }))
    }

    const OLD: &str = "2026-01-01T00:00:00Z";

    #[test]
    fn private_packs_belong_to_their_tenant_only() {
        assert_eq!(owner("private.a.tools"), Some("a"));
        assert_eq!(owner("private.tools"), None);
        assert_eq!(owner("vendor.a.tools"), None);
        let a = view(TenantConfig::default(), vec![]);
        assert!(a.admits_version("private.a.tools", "1.0.0", OLD));
        assert!(!a.admits_version("private.b.tools", "1.0.0", OLD));
        assert!(!a.admits_version("private.ab.tools", "1.0.0", OLD));
        assert!(a.admits_version("vendor.acme.tools", "1.0.0", OLD));
        assert!(!View::Public.admits_version("private.a.tools", "1.0.0", OLD));
        assert!(View::Public.admits_version("vendor.acme.tools", "1.0.0", OLD));
        assert!(!View::Public.may_see_name("private.a.tools"));
        assert!(!a.may_see_name("private.b.tools"));
    }

    #[test]
    fn allow_deny_cooldown_and_advisories() {
        let config = TenantConfig {
            allow: vec!["vendor.*".into()],
            deny: vec!["vendor.acme.bad".into(), "vendor.acme.tools@>=2.0.0".into()],
            min_publish_age_secs: 3600,
            block_advisories: true,
        };
        let blocked = vec![("vendor.acme.vuln".to_string(), Range::parse("<1.0.1").expect("range"))];
        let a = view(config, blocked);
        assert!(a.admits_version("vendor.acme.tools", "1.0.0", OLD));
        assert!(!a.admits_version("vendor.acme.tools", "2.0.0", OLD), "a denied range");
        assert!(!a.admits_version("vendor.acme.bad", "1.0.0", OLD), "a denied name");
        assert!(!a.admits_version("core.openwop.flow", "1.0.0", OLD), "not allowed");
        assert!(!a.admits_version("vendor.acme.tools", "1.0.0", "2026-11-25T11:30:00Z"), "too young");
        assert!(a.admits_version("vendor.acme.tools", "1.0.0", "2026-11-25T10:59:00Z"));
        assert!(!a.admits_version("vendor.acme.tools", "1.0.0", "yesterday"), "unreadable time");
        assert!(!a.admits_version("vendor.acme.vuln", "1.0.0", OLD), "advisory");
        assert!(a.admits_version("vendor.acme.vuln", "1.0.1", OLD));
        assert!(a.admits_version("private.a.x", "9.0.0", "2026-11-25T12:00:00Z"), "own packs: no cooldown");
    }

    #[test]
    fn unsigned_documents_lose_only_other_tenants_private_entries() {
        let a = view(TenantConfig::default(), vec![]);
        for (pattern, hidden_from_a, hidden_from_public) in [
            ("private.b.*", true, true),
            ("private.b.tools", true, true),
            ("private.a.*", false, true),
            ("private.*", false, false),
            ("vendor.acme.*", false, false),
        ] {
            assert_eq!(a.hides_namespace(pattern), hidden_from_a, "{pattern}");
            assert_eq!(View::Public.hides_namespace(pattern), hidden_from_public, "{pattern}");
        }
        let discovery = r#"{"signingKeys": [
            {"keyId": "b-1", "permittedNamespaces": ["private.b.*"]},
            {"keyId": "mixed", "permittedNamespaces": ["vendor.x.*", "private.b.*"]},
            {"keyId": "plain", "permittedNamespaces": ["vendor.y.*"]}],
            "namespaceAssignments": [{"namespace": "private.b.*", "signingKeyId": "b-1"}]}"#;
        let seen = a.filter_discovery(discovery);
        assert_eq!(seen.hidden_keys, ["b-1"]);
        let body: serde_json::Value = serde_json::from_str(&seen.body.expect("filtered")).expect("json");
        assert_eq!(body["signingKeys"].as_array().map(Vec::len), Some(2));
        assert_eq!(body["signingKeys"][0]["permittedNamespaces"], serde_json::json!(["vendor.x.*"]));
        assert_eq!(body["namespaceAssignments"], serde_json::json!([]));
        assert_eq!(a.filter_discovery(r#"{"signingKeys": []}"#), Filtered::default(), "nothing private: as is");
        let feed = r#"{"advisories": [{"id": "X", "affected": [{"packName": "private.a.t"}, {"packName": "private.b.t"}]},
                                      {"id": "Y", "affected": [{"packName": "private.b.t"}]}]}"#;
        let body: serde_json::Value =
            serde_json::from_str(&a.filter_advisories(feed).body.expect("filtered")).expect("json");
        assert_eq!(body["advisories"], serde_json::json!([{"id": "X", "affected": [{"packName": "private.a.t"}]}]));
        let public: serde_json::Value =
            serde_json::from_str(&View::Public.filter_advisories(feed).body.expect("filtered")).expect("json");
        assert_eq!(public["advisories"], serde_json::json!([]));
    }

    #[test]
    fn tenant_names() {
        assert!(valid_tenant_name("acme-corp_2"));
        for bad in ["", "Acme", "1acme", "a.b", "a*", &"a".repeat(65)] {
            assert!(!valid_tenant_name(bad), "{bad:?}");
        }
    }
}

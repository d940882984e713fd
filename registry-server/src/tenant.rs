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
    fn tenant_names() {
        assert!(valid_tenant_name("acme-corp_2"));
        for bad in ["", "Acme", "1acme", "a.b", "a*", &"a".repeat(65)] {
            assert!(!valid_tenant_name(bad), "{bad:?}");
        }
    }
}

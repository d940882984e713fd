//! Write-side statements: tokens, namespace reservations, lifecycle changes, unpublish,
//! advisories and the audit log. Each multi-row change runs in one transaction, and every write
//! records an [`AuditEvent`] in that same transaction.

use sqlx::{Any, Transaction};

use super::db::{Db, VersionRow};
use crate::RegistryError;

/// One audit record: who did what to which subject, when.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEvent {
    /// Random id.
    pub event_id: String,
    /// RFC 3339 time.
    pub at: String,
    /// The token's principal (or `operator` for local commands).
    pub principal: String,
    /// `publish`, `yank`, `unyank`, `deprecate`, `undeprecate`, `unpublish`, `advisory`,
    /// `keychain`, `token-create`, …
    pub action: String,
    /// `name@version`, an advisory id, a key id, …
    pub subject: String,
    /// JSON with the action's parameters.
    pub details: String,
}

impl AuditEvent {
    /// A new event with a random id.
    pub fn new(at: &str, principal: &str, action: &str, subject: &str, details: serde_json::Value) -> Self {
        Self {
            event_id: random_id(),
            at: at.to_string(),
            principal: principal.to_string(),
            action: action.to_string(),
            subject: subject.to_string(),
            details: details.to_string(),
        }
    }
}

/// 128 random bits as hex.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // The OS RNG failing is not recoverable; a time-based id keeps audit ids unique enough.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        bytes = nanos.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) async fn record_audit(tx: &mut Transaction<'static, Any>, event: &AuditEvent) -> Result<(), RegistryError> {
    sqlx::query(
        "INSERT INTO audit (event_id, at, principal, action, subject, details) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&event.event_id)
    .bind(&event.at)
    .bind(&event.principal)
    .bind(&event.action)
    .bind(&event.subject)
    .bind(&event.details)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A stored token (without its secret).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    /// Public id (the part of the token before the secret).
    pub token_id: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    /// Who the token acts for.
    pub principal: String,
    /// JSON array of namespace globs.
    pub namespaces: String,
    /// JSON array of scopes.
    pub scopes: String,
    /// Creation time.
    pub created_at: String,
    /// Expiry, if any.
    pub expires_at: Option<String>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<String>,
    /// The tenant the token acts for (`None`: an operator or public token).
    pub tenant: Option<String>,
}

/// The result of a lifecycle change.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// Applied.
    Applied,
    /// The version does not exist.
    NotFound,
}

impl Db {
    /// Records an audit event on its own.
    pub async fn audit(&self, event: &AuditEvent) -> Result<(), RegistryError> {
        let mut tx = self.pool.begin().await?;
        record_audit(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The audit log, newest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEvent>, RegistryError> {
        Ok(sqlx::query_as(
            "SELECT event_id, at, principal, action, subject, details FROM audit ORDER BY at DESC, event_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Stores a new token and audits its creation.
    pub async fn insert_token(&self, token: &TokenRow, audit: &AuditEvent) -> Result<(), RegistryError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO tokens (token_id, secret_hash, principal, namespaces, scopes, created_at, expires_at, \
             revoked_at, tenant) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&token.token_id)
        .bind(&token.secret_hash)
        .bind(&token.principal)
        .bind(&token.namespaces)
        .bind(&token.scopes)
        .bind(&token.created_at)
        .bind(&token.expires_at)
        .bind(&token.revoked_at)
        .bind(&token.tenant)
        .execute(&mut *tx)
        .await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A token by its public id.
    pub async fn token(&self, token_id: &str) -> Result<Option<TokenRow>, RegistryError> {
        Ok(sqlx::query_as(
            "SELECT token_id, secret_hash, principal, namespaces, scopes, created_at, expires_at, revoked_at, \
             tenant FROM tokens WHERE token_id = $1",
        )
        .bind(token_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Revokes a token; false when no such token.
    pub async fn revoke_token(&self, token_id: &str, audit: &AuditEvent) -> Result<bool, RegistryError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE token_id = $2 AND revoked_at IS NULL")
            .bind(&audit.at)
            .bind(token_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 1 {
            record_audit(&mut tx, audit).await?;
        }
        self.commit_write(tx).await?;
        Ok(n == 1)
    }

    /// Reserves `namespace` for `principal` unless someone holds it; returns the holder.
    pub async fn reserve_namespace(
        &self,
        namespace: &str,
        principal: &str,
        now: &str,
    ) -> Result<String, RegistryError> {
        sqlx::query(
            "INSERT INTO namespace_owners (namespace, principal, reserved_at) VALUES ($1, $2, $3) \
             ON CONFLICT (namespace) DO NOTHING",
        )
        .bind(namespace)
        .bind(principal)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let (holder,): (String,) = sqlx::query_as("SELECT principal FROM namespace_owners WHERE namespace = $1")
            .bind(namespace)
            .fetch_one(&self.pool)
            .await?;
        Ok(holder)
    }

    /// Whether `(name, version)` was unpublished (and so may never return).
    pub async fn was_unpublished(&self, name: &str, version: &str) -> Result<bool, RegistryError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT integrity FROM unpublished WHERE name = $1 AND version = $2")
                .bind(name)
                .bind(version)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    /// Replaces a version's manifest and lifecycle flags if the manifest is still `expected`
    /// (optimistic concurrency: two replicas changing one version never lose an update).
    /// Returns false when another writer got there first; the caller re-reads and retries.
    pub async fn update_lifecycle(
        &self,
        expected: &VersionRow,
        manifest: &str,
        yanked: bool,
        deprecated: bool,
        audit: &AuditEvent,
    ) -> Result<bool, RegistryError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE versions SET manifest = $1, yanked = $2, deprecated = $3 \
             WHERE name = $4 AND version = $5 AND manifest = $6",
        )
        .bind(manifest)
        .bind(i64::from(yanked))
        .bind(i64::from(deprecated))
        .bind(&expected.name)
        .bind(&expected.version)
        .bind(&expected.manifest)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        record_audit(&mut tx, audit).await?;
        self.commit_write(tx).await?;
        Ok(true)
    }

    /// Removes a version and remembers it as unpublished, in one transaction.
    pub async fn unpublish(&self, row: &VersionRow, audit: &AuditEvent) -> Result<Change, RegistryError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("DELETE FROM versions WHERE name = $1 AND version = $2")
            .bind(&row.name)
            .bind(&row.version)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            tx.rollback().await?;
            return Ok(Change::NotFound);
        }
        // Its blobs kept in the database go with it, unless another version names the same bytes
        // (object-store blobs are left to `registry-server gc`).
        for key in [&row.sbom_blob, &row.statement_blob].into_iter().flatten() {
            if key.starts_with(crate::storage::blobs::INLINE_PREFIX) {
                sqlx::query(
                    "DELETE FROM inline_blobs WHERE blob_key = $1 AND NOT EXISTS \
                     (SELECT 1 FROM versions WHERE sbom_blob = $1 OR statement_blob = $1)",
                )
                .bind(key)
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query(
            "INSERT INTO unpublished (name, version, integrity, unpublished_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name, version) DO NOTHING",
        )
        .bind(&row.name)
        .bind(&row.version)
        .bind(&row.integrity)
        .bind(&audit.at)
        .execute(&mut *tx)
        .await?;
        record_audit(&mut tx, audit).await?;
        self.commit_write(tx).await?;
        Ok(Change::Applied)
    }

    /// Stores an advisory; false when its id already exists.
    pub async fn insert_advisory(&self, id: &str, body: &str, audit: &AuditEvent) -> Result<bool, RegistryError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "INSERT INTO advisories (advisory_id, body, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (advisory_id) DO NOTHING",
        )
        .bind(id)
        .bind(body)
        .bind(&audit.at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            record_audit(&mut tx, audit).await?;
        }
        self.commit_write(tx).await?;
        Ok(n == 1)
    }

    /// Every advisory body, ordered by id.
    pub async fn advisories(&self) -> Result<Vec<String>, RegistryError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT body FROM advisories ORDER BY advisory_id").fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(b,)| b).collect())
    }

    /// Every blob key that metadata references (for garbage collection).
    pub async fn referenced_blobs(&self) -> Result<std::collections::HashSet<String>, RegistryError> {
        let rows: Vec<(String, String, Option<String>, Option<String>)> =
            sqlx::query_as("SELECT tarball_blob, signature_blob, sbom_blob, statement_blob FROM versions")
                .fetch_all(&self.pool)
                .await?;
        let mut out = std::collections::HashSet::new();
        for (t, s, b, st) in rows {
            out.insert(t);
            out.insert(s);
            out.extend(b);
            out.extend(st);
        }
        Ok(out)
    }
}

impl Db {
    /// Replaces document `doc_key` only if it still holds `expected` (`None`: does not exist),
    /// recording `audit` in the same transaction. False when another writer changed it first.
    pub async fn swap_document(
        &self,
        doc_key: &str,
        expected: Option<&str>,
        body: &str,
        audit: &AuditEvent,
    ) -> Result<bool, RegistryError> {
        let mut tx = self.pool.begin().await?;
        let n = match expected {
            None => sqlx::query(
                "INSERT INTO documents (doc_key, body, updated_at) VALUES ($1, $2, $3) ON CONFLICT (doc_key) DO NOTHING",
            )
            .bind(doc_key)
            .bind(body)
            .bind(&audit.at)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            Some(old) => sqlx::query("UPDATE documents SET body = $1, updated_at = $2 WHERE doc_key = $3 AND body = $4")
                .bind(body)
                .bind(&audit.at)
                .bind(doc_key)
                .bind(old)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
        };
        if n != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        record_audit(&mut tx, audit).await?;
        self.commit_write(tx).await?;
        Ok(true)
    }
}

//! API tokens and what they allow (contract §2.3): bearer tokens scoped to namespaces and to the
//! scopes `packs:publish`, `packs:yank`, `packs:yank-revert`, plus our `registry:admin` for
//! keys and advisories. Only a SHA-256 of each secret is stored.

use base64::Engine as _;

use crate::RegistryError;
use crate::storage::Db;
use crate::storage::writes::{AuditEvent, TokenRow, random_id};

/// What a token may do. Scopes never imply one another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Publish, deprecate, unpublish.
    Publish,
    /// Yank.
    Yank,
    /// Undo a yank.
    YankRevert,
    /// Keychain uploads, advisories, the audit log.
    Admin,
}

impl Scope {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publish => "packs:publish",
            Self::Yank => "packs:yank",
            Self::YankRevert => "packs:yank-revert",
            Self::Admin => "registry:admin",
        }
    }

    /// Parses `packs:publish` or the short form `publish` (likewise yank, yank-revert, admin).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "packs:publish" | "publish" => Some(Self::Publish),
            "packs:yank" | "yank" => Some(Self::Yank),
            "packs:yank-revert" | "yank-revert" => Some(Self::YankRevert),
            "registry:admin" | "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// Why a request was not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token, or not one of ours (401 `unauthenticated`).
    #[error("{0}")]
    Unauthenticated(String),
    /// The token expired (401 `key_expired`).
    #[error("this token expired at {0}; create a new one")]
    Expired(String),
    /// The token was revoked (401 `key_revoked`).
    #[error("this token was revoked at {0}")]
    Revoked(String),
    /// Authenticated but not allowed (403 `forbidden`).
    #[error("{0}")]
    Forbidden(String),
}

impl AuthError {
    /// The contract code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Expired(_) => "key_expired",
            Self::Revoked(_) => "key_revoked",
            Self::Forbidden(_) => "forbidden",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Who the token acts for (audit log, namespace reservations).
    pub name: String,
    /// Token id (never the secret).
    pub token_id: String,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// Namespace globs the token may act on (dot-boundary globs, decisions §10).
    pub namespaces: Vec<String>,
    /// The tenant the token acts for: reads go through its view, and pack actions are confined
    /// to `private.<tenant>.*` whatever the namespace globs say.
    pub tenant: Option<String>,
}

impl Principal {
    /// Requires `scope`, and (for pack actions) that `name` is inside the token's namespaces.
    pub fn require(&self, scope: Scope, name: Option<&str>) -> Result<(), AuthError> {
        if !self.scopes.contains(&scope) {
            return Err(AuthError::Forbidden(format!(
                "this token lacks the `{}` scope; create one with --scope {}",
                scope.as_str(),
                scope.as_str()
            )));
        }
        if let (Some(tenant), Some(name)) = (&self.tenant, name)
            && crate::tenant::owner(name) != Some(tenant.as_str())
        {
            return Err(AuthError::Forbidden(format!(
                "this token acts for tenant `{tenant}` and may act only on private.{tenant}.*, not on `{name}`"
            )));
        }
        if let Some(name) = name
            && !pack_verify::trust::namespace::any_admits(&self.namespaces, name)
        {
            return Err(AuthError::Forbidden(format!(
                "this token may act on {} but not on `{name}`",
                if self.namespaces.is_empty() { "no namespace".to_string() } else { self.namespaces.join(", ") }
            )));
        }
        Ok(())
    }
}

const PREFIX: &str = "owp_";

fn hash_hex(secret: &str) -> String {
    pack_verify::integrity::Integrity::of(secret.as_bytes()).hex()
}

/// Compares two equal-length strings without an early exit (token hashes).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A token to create.
pub struct NewToken<'a> {
    /// Principal name.
    pub principal: &'a str,
    /// Namespace globs.
    pub namespaces: &'a [String],
    /// Scopes.
    pub scopes: &'a [Scope],
    /// Expiry (RFC 3339), if any.
    pub expires_at: Option<String>,
}

/// Creates and stores a token; returns the secret, which is shown once and never stored.
pub async fn create_token(db: &Db, new: &NewToken<'_>, now: &str) -> Result<(String, TokenRow), RegistryError> {
    create_tenant_token(db, new, None, now).await
}

/// [`create_token`] for a token acting for `tenant` (which must exist, see [`crate::tenant`]).
pub async fn create_tenant_token(
    db: &Db,
    new: &NewToken<'_>,
    tenant: Option<&str>,
    now: &str,
) -> Result<(String, TokenRow), RegistryError> {
    if let Some(tenant) = tenant
        && db.tenant(tenant).await?.is_none()
    {
        return Err(RegistryError::Config {
            what: format!("no tenant named `{tenant}`; create it with `registry-server tenant create {tenant}`"),
        });
    }
    let token_id = random_id()[..16].to_string();
    let mut secret_bytes = [0u8; 32];
    getrandom::fill(&mut secret_bytes)
        .map_err(|e| RegistryError::Config { what: format!("no secure random numbers available: {e}") })?;
    let secret =
        format!("{PREFIX}{token_id}_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret_bytes));
    let scopes: Vec<&str> = new.scopes.iter().map(|s| s.as_str()).collect();
    let row = TokenRow {
        token_id: token_id.clone(),
        secret_hash: hash_hex(&secret),
        principal: new.principal.to_string(),
        namespaces: serde_json::to_string(new.namespaces).unwrap_or_else(|_| "[]".into()),
        scopes: serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into()),
        created_at: now.to_string(),
        expires_at: new.expires_at.clone(),
        revoked_at: None,
        tenant: tenant.map(str::to_string),
    };
    let audit = AuditEvent::new(
        now,
        "operator",
        "token-create",
        &token_id,
        serde_json::json!({"principal": new.principal, "namespaces": new.namespaces, "scopes": scopes,
                           "tenant": tenant}),
    );
    db.insert_token(&row, &audit).await?;
    Ok((secret, row))
}

/// Authenticates an `Authorization` header value.
pub async fn authenticate(
    db: &Db,
    header: Option<&str>,
    now: &str,
) -> Result<Result<Principal, AuthError>, RegistryError> {
    let unauth = |m: &str| Ok(Err(AuthError::Unauthenticated(m.to_string())));
    let Some(header) = header else {
        return unauth(
            "this endpoint needs `Authorization: Bearer <token>`; create a token with `registry-server token create`",
        );
    };
    let Some(secret) = header.strip_prefix("Bearer ").map(str::trim) else {
        return unauth("the Authorization header must be `Bearer <token>`");
    };
    let Some(token_id) = secret.strip_prefix(PREFIX).and_then(|rest| rest.split_once('_')).map(|(id, _)| id) else {
        return unauth("that is not a registry token (they start with `owp_`)");
    };
    let Some(row) = db.token(token_id).await? else {
        return unauth("unknown token");
    };
    if !constant_time_eq(hash_hex(secret).as_bytes(), row.secret_hash.as_bytes()) {
        return unauth("unknown token");
    }
    if let Some(at) = row.revoked_at {
        return Ok(Err(AuthError::Revoked(at)));
    }
    if let Some(exp) = row.expires_at
        && exp.as_str() <= now
    {
        return Ok(Err(AuthError::Expired(exp)));
    }
    let namespaces: Vec<String> = serde_json::from_str(&row.namespaces).unwrap_or_default();
    let scope_names: Vec<String> = serde_json::from_str(&row.scopes).unwrap_or_default();
    Ok(Ok(Principal {
        name: row.principal,
        token_id: row.token_id,
        scopes: scope_names.iter().filter_map(|s| Scope::parse(s)).collect(),
        namespaces,
        tenant: row.tenant,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_namespaces() {
        let p = Principal {
            name: "acme".into(),
            token_id: "t".into(),
            scopes: vec![Scope::Publish],
            namespaces: vec!["vendor.acme.*".into()],
            tenant: None,
        };
        assert!(p.require(Scope::Publish, Some("vendor.acme.tools")).is_ok());
        assert_eq!(p.require(Scope::Publish, Some("vendor.acmex.tools")).map_err(|e| e.code()), Err("forbidden"));
        assert_eq!(p.require(Scope::Yank, Some("vendor.acme.tools")).map_err(|e| e.code()), Err("forbidden"));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert_eq!(Scope::parse("yank-revert"), Some(Scope::YankRevert));
        assert_eq!(Scope::parse("everything"), None);
        let tenant =
            Principal { tenant: Some("a".into()), namespaces: vec!["private.*".into(), "vendor.acme.*".into()], ..p };
        assert!(tenant.require(Scope::Publish, Some("private.a.tools")).is_ok());
        assert_eq!(tenant.require(Scope::Publish, Some("private.b.tools")).map_err(|e| e.code()), Err("forbidden"));
        assert_eq!(tenant.require(Scope::Publish, Some("vendor.acme.tools")).map_err(|e| e.code()), Err("forbidden"));
    }
}

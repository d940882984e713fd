//! Bearer-token authentication for the write endpoints.

use axum::http::{HeaderMap, StatusCode, header};

use super::error::ApiError;
use crate::Registry;
use crate::auth::{Principal, authenticate};

/// The authenticated caller, or a 401 with `unauthenticated` / `key_expired` / `key_revoked`.
pub async fn principal(registry: &Registry, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let now = pack_verify::trust::now_rfc3339();
    match authenticate(&registry.storage().db, header, &now).await? {
        Ok(p) => Ok(p),
        Err(e) => {
            // Never echo the presented token.
            tracing::info!(code = e.code(), "authentication refused");
            Err(ApiError { status: StatusCode::UNAUTHORIZED, code: e.code(), message: e.to_string(), details: None })
        }
    }
}

/// What a reader with a bad token should do (reads need no token, but a presented one must be
/// valid, as with npm and cargo registries).
pub const READ_TOKEN_HINT: &str = "reads need no token: remove it (`token` under this registry in pack.toml, or \
     OPENWOP_TOKEN), or replace it with a valid one (`pack login --registry URL`)";

/// A 401 on a read: the same code, with what to do about the token in the message and in
/// `details.hint`.
fn read_refusal(mut err: ApiError) -> ApiError {
    err.message = format!("{}; {READ_TOKEN_HINT}", err.message);
    err.details = Some(serde_json::json!({ "hint": READ_TOKEN_HINT }));
    err
}

/// The registry as the caller may see it (an extractor for every read handler): anonymous
/// requests and operator tokens get the public view, a tenant token its tenant's view
/// ([`crate::tenant`]). A presented token that does not authenticate is a 401, never a silent
/// downgrade to the public view.
pub struct Viewed(pub Registry);

impl axum::extract::FromRequestParts<Registry> for Viewed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        registry: &Registry,
    ) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Ok(Self(registry.viewed(crate::tenant::View::Public)));
        }
        let caller = principal(registry, &parts.headers).await.map_err(read_refusal)?;
        let Some(tenant) = caller.tenant else {
            return Ok(Self(registry.viewed(crate::tenant::View::Public)));
        };
        let now = time::OffsetDateTime::now_utc();
        match crate::tenant::View::of_tenant(&registry.storage().db, &tenant, now).await? {
            Some(view) => Ok(Self(registry.viewed(view))),
            None => Err(read_refusal(ApiError {
                status: StatusCode::UNAUTHORIZED,
                code: "unauthenticated",
                message: format!("this token's tenant `{tenant}` no longer exists"),
                details: None,
            })),
        }
    }
}

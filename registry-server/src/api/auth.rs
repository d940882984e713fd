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
        let caller = principal(registry, &parts.headers).await?;
        let Some(tenant) = caller.tenant else {
            return Ok(Self(registry.viewed(crate::tenant::View::Public)));
        };
        let now = time::OffsetDateTime::now_utc();
        match crate::tenant::View::of_tenant(&registry.storage().db, &tenant, now).await? {
            Some(view) => Ok(Self(registry.viewed(view))),
            None => Err(ApiError {
                status: StatusCode::UNAUTHORIZED,
                code: "unauthenticated",
                message: format!("this token's tenant `{tenant}` no longer exists"),
                details: None,
            }),
        }
    }
}

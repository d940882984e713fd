//! The HTTP API. Each URL family has its own module:
//!
//! | URL | module |
//! | --- | --- |
//! | `/.well-known/openwop-registry[.json]` | [`discovery`] |
//! | `/v1/index.json`, `/v1/packs/{name}[/index.json]`, `/v1/packs/{name}/-/{version}.{json,tgz,sig,sbom.json}` | [`packs`] |
//! | `/keys/{keyId}.pub` | [`keys`] |
//! | `/security/advisories.json` | [`security`] |
//! | `/healthz`, `/readyz` | [`health`] |
//!
//! [`response`] holds the shared header rules (content types, caching, ETag/304, CORS) and
//! [`error`] the JSON error envelope.

pub mod discovery;
pub mod error;
pub mod health;
pub mod keys;
pub mod packs;
pub mod response;
pub mod security;

use axum::Router;
use axum::routing::get;

use crate::Registry;

/// Builds the router over a registry.
pub fn router(registry: Registry) -> Router {
    Router::new()
        .route("/.well-known/openwop-registry", get(discovery::get))
        .route("/.well-known/openwop-registry.json", get(discovery::get))
        .route("/v1/index.json", get(packs::registry_index))
        .route("/v1/packs/{name}", get(packs::pack_index))
        .route("/v1/packs/{name}/index.json", get(packs::pack_index))
        .route("/v1/packs/{name}/-/{file}", get(packs::version_file))
        .route("/keys/{file}", get(keys::get))
        .route("/security/advisories.json", get(security::advisories))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(error::not_found_fallback)
        .layer(axum::middleware::map_response(response::cors))
        .with_state(registry)
}

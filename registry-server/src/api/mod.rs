//! The HTTP API. Each URL family has its own module:
//!
//! | URL | module |
//! | --- | --- |
//! | `/.well-known/openwop-registry[.json]` | [`discovery`] |
//! | `/v1/index.json`, `/v1/packs/{name}[/index.json]`, `/v1/packs/{name}/-/{version}.{json,tgz,sig,sbom.json}` | [`packs`] |
//! | `/keys/{keyId}.pub` | [`keys`] |
//! | `/security/advisories.json` | [`security`] |
//! | `/healthz`, `/readyz` | [`health`] |
//! | `/v1/-/mirror/status.json` (mirror mode) | [`crate::mirror::status`] |
//! | `/v1/packs/-/search?q=&page=&perPage=` | [`search`] |
//! | `/v1/sbom.json` | [`sbom`] |
//! | `/{name}/{version}/{file}.json` (schema `$id` mirror) | [`schemas`] |
//! | `/`, `/index.html`, `/-/catalog/{name}` (HTML) | [`catalog`] |
//!
//! Requests reach the router through [`front`], which answers the anonymous `GET`s of the
//! discovery document, the indexes, version files and the advisory feed by calling the same
//! handlers directly (a profile showed the router's layers costing more than the handlers).
//!
//! [`response`] holds the shared header rules (content types, caching, ETag/304, CORS) and
//! [`error`] the JSON error envelope.

pub mod admin;
pub mod auth;
pub mod body;
pub mod discovery;
pub mod error;
pub mod front;
pub mod health;
pub mod keys;
pub mod lifecycle;
pub mod limits;
pub mod metrics;
pub mod packs;
pub mod publish;
pub mod response;
pub mod security;
pub mod segments;
// Read-side extras: schema mirror, search, aggregate SBOM, HTML catalog.
pub mod catalog;
pub mod sbom;
pub mod schemas;
pub mod search;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};

use crate::Registry;

/// Route templates of the hot read routes, shared by the router's table and [`front`]'s
/// matcher: both record metrics under them, so they must be the same strings.
mod route {
    pub const DISCOVERY: &str = "/.well-known/openwop-registry";
    pub const DISCOVERY_JSON: &str = "/.well-known/openwop-registry.json";
    pub const REGISTRY_INDEX: &str = "/v1/index.json";
    pub const PACK_INDEX: &str = "/v1/packs/{name}";
    pub const PACK_INDEX_JSON: &str = "/v1/packs/{name}/index.json";
    pub const VERSION_FILE: &str = "/v1/packs/{name}/-/{file}";
    pub const ADVISORIES: &str = "/security/advisories.json";
}

/// Builds the service over a registry with default [`limits::Limits`].
pub fn router(registry: Registry) -> front::Front {
    router_with(registry, limits::Limits::default())
}

/// Builds the service over a registry with explicit limits: the router, behind
/// [`front::Front`], which answers the hot anonymous GETs with the same handlers. Serve it with
/// `axum::serve(listener, service)`; it records each connection's peer address itself.
pub fn router_with(registry: Registry, limits: limits::Limits) -> front::Front {
    let metrics = metrics::Metrics::default();
    let edge = Edge { limiter: limits::Limiter::new(limits), metrics: metrics.clone() };
    let metrics_route = Router::new().route("/metrics", get(metrics::get)).with_state(metrics);
    let router = Router::new()
        .route(route::DISCOVERY, get(discovery::get))
        .route(route::DISCOVERY_JSON, get(discovery::get))
        .route(route::REGISTRY_INDEX, get(packs::registry_index))
        .route(route::PACK_INDEX, get(packs::pack_index))
        .route(route::PACK_INDEX_JSON, get(packs::pack_index))
        .route(route::VERSION_FILE, get(packs::version_file).put(publish::put).delete(publish::delete))
        .route("/v1/packs/{name}/-/{file}/yank", post(lifecycle::yank).delete(lifecycle::unyank))
        .route("/v1/packs/{name}/-/{file}/deprecate", post(lifecycle::deprecate).delete(lifecycle::undeprecate))
        .route("/security/advisories", post(admin::post_advisory))
        .route("/v1/-/audit", get(admin::audit))
        .route(crate::mirror::status::STATUS_PATH, get(crate::mirror::status::get))
        .route("/keys/{file}", get(keys::get).put(admin::put_keychain))
        .route(route::ADVISORIES, get(security::advisories))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        // Read-side extras. Static segments win over `{…}` ones, so `/v1/packs/-/search` never
        // reaches `/v1/packs/{name}/…` and `/-/catalog/…` never reaches the schema mirror.
        .route("/v1/packs/-/search", get(search::search))
        .route("/v1/sbom.json", get(sbom::aggregate))
        .route("/", get(catalog::home))
        .route("/index.html", get(catalog::home))
        .route("/-/catalog/{name}", get(catalog::pack))
        .route("/{name}/{version}/{file}", get(schemas::get))
        .fallback(error::not_found_fallback)
        .with_state(registry.clone())
        .merge(metrics_route)
        // After the merge, so `/metrics` gets it too (it applies to the routes added before it).
        .method_not_allowed_fallback(error::method_not_allowed_fallback)
        .layer(axum::middleware::from_fn_with_state(edge.clone(), edge_layer));
    front::Front::new(router, registry, edge)
}

/// What the edge layer needs: the limits and the metrics.
#[derive(Clone)]
struct Edge {
    limiter: limits::Limiter,
    metrics: metrics::Metrics,
}

/// The one middleware every request passes, outermost first: metrics (route template, status,
/// latency), CORS, then the limits (write and failed-authentication rate, request time limit).
/// One layer instead of three: each `from_fn` layer boxes a clone of the inner service and its
/// future per request.
async fn edge_layer(State(edge): State<Edge>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let authorized = req.headers().contains_key(axum::http::header::AUTHORIZATION);
    let admitted = edge.limiter.admit(&req);
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    // Whatever the handling leaves of the body (a refusal, a route that reads none, a refused
    // admission or a timeout) is settled here, so the client gets the answer, not a reset.
    let (req, body) = body::track(req);
    let response = edge.guard(&method, route, authorized, admitted, next.run(req)).await;
    match body {
        Some(body) => body.settle(response),
        None => response,
    }
}

impl Edge {
    /// The edge's work around one request, for the router's layer and for [`front::Front`]:
    /// `inner` runs under the time limit once admitted, then the metrics (under the route
    /// template `route`), CORS and, for a caller that sent credentials, private caching.
    async fn guard(
        &self,
        method: &axum::http::Method,
        route: &str,
        authorized: bool,
        admitted: Result<std::net::IpAddr, Box<Response>>,
        inner: impl std::future::Future<Output = Response>,
    ) -> Response {
        let start = std::time::Instant::now();
        let mut response = match admitted {
            Ok(ip) => self.limiter.run(ip, start, inner).await,
            Err(refused) => *refused,
        };
        self.metrics.record(method, route, response.status().as_u16(), start.elapsed().as_secs_f64());
        response::cors(&mut response);
        if authorized {
            response::private_to_caller(&mut response);
        }
        response
    }
}

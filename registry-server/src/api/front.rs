//! The service `serve` runs, in front of the router: an anonymous `GET` of one of the hot
//! read routes goes straight to its handler, the same function the router would call, without
//! the router's matching, extractors and boxed route layers; everything else goes to the router.
//!
//! Why: on the machines where the metadata GETs trailed nginx, a profile put the server's kernel
//! time per request at nginx's and its user time 2.3–2.5 µs above it, about 15% of the CPU in
//! the layers between hyper and the handler (`docs/performance-log.md`, the 2026-12-07 06:30 section).
//! What a request passes is unchanged: the edge's limits, metrics (under the same route
//! template) and CORS, then the handler with the public view.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::HttpBody as _;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};

use super::auth::Viewed;
use super::segments::Segments;
use super::{Edge, discovery, packs, route, security};
use crate::Registry;

/// The router, with the hot read routes answered before it (see the module docs). It is its own
/// make-service for `axum::serve`, recording each connection's peer address as `ConnectInfo`.
#[derive(Clone)]
pub struct Front {
    /// Behind one `Arc`: hyper clones the service for every request, and each of these holds
    /// its own reference counts (five in all), every one an atomic add and subtract.
    shared: Arc<Shared>,
    peer: Option<SocketAddr>,
    /// Whether hot routes skip the router (off only in [`Front::router_only`]).
    shortcut: bool,
}

/// What every connection's [`Front`] shares.
struct Shared {
    router: Router,
    registry: Registry,
    edge: Edge,
}

/// A hot route's handler, on the heap (see [`Front::hot`]).
type HandlerFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// A hot read route, matched from the path alone; [`Hot::template`] is the router's pattern for
/// it (the label its metrics are recorded under).
enum Hot {
    Discovery(&'static str),
    RegistryIndex,
    PackIndex(&'static str, String),
    VersionFile(String, String),
    Advisories,
}

impl Hot {
    /// The route `path` asks for, where it is a hot one. A path the router would decode (`%`)
    /// or that has an empty segment is left to the router.
    fn of(path: &str) -> Option<Hot> {
        // Bytes, not chars: `memchr` instead of a char searcher (measurable per request).
        if path.as_bytes().contains(&b'%') {
            return None;
        }
        // The static routes' paths are their templates.
        match path {
            route::DISCOVERY => return Some(Hot::Discovery(route::DISCOVERY)),
            route::DISCOVERY_JSON => return Some(Hot::Discovery(route::DISCOVERY_JSON)),
            route::REGISTRY_INDEX => return Some(Hot::RegistryIndex),
            route::ADVISORIES => return Some(Hot::Advisories),
            _ => {}
        }
        let rest = path.strip_prefix("/v1/packs/")?;
        let (name, tail) = split_segment(rest);
        if name.is_empty() {
            return None;
        }
        let Some(tail) = tail else { return Some(Hot::PackIndex(route::PACK_INDEX, name.to_string())) };
        match split_segment(tail) {
            ("index.json", None) => Some(Hot::PackIndex(route::PACK_INDEX_JSON, name.to_string())),
            ("-", Some(file)) if !file.is_empty() && !file.as_bytes().contains(&b'/') => {
                Some(Hot::VersionFile(name.to_string(), file.to_string()))
            }
            _ => None,
        }
    }

    fn template(&self) -> &'static str {
        match self {
            Hot::Discovery(template) | Hot::PackIndex(template, _) => template,
            Hot::RegistryIndex => route::REGISTRY_INDEX,
            Hot::VersionFile(..) => route::VERSION_FILE,
            Hot::Advisories => route::ADVISORIES,
        }
    }
}

/// `path`'s first segment and what follows its `/`, if any. By bytes: `str::split('/')`'s
/// char searcher cost about 130 instructions per segment of a short path.
fn split_segment(path: &str) -> (&str, Option<&str>) {
    match path.as_bytes().iter().position(|b| *b == b'/') {
        // `/` is ASCII, so both sides are on character boundaries.
        Some(at) => (&path[..at], Some(&path[at + 1..])),
        None => (path, None),
    }
}

impl Front {
    pub(super) fn new(router: Router, registry: Registry, edge: Edge) -> Self {
        Front { shared: Arc::new(Shared { router, registry, edge }), peer: None, shortcut: true }
    }

    /// The same service with every request through the router: what the hot path must answer
    /// exactly like (the tests compare the two).
    pub fn router_only(self) -> Self {
        Front { shortcut: false, ..self }
    }

    /// Answers a hot route through the edge, as the router would have. What needs no waiting
    /// is done before the future is made, so the future holds neither the request nor its parts:
    /// both heap blocks a hot GET allocates stay under 1 KB, mimalloc's small-block limit, above
    /// which an allocation through Rust's allocator interface (always "aligned" for mimalloc)
    /// takes its over-allocating slow path, about 280 instructions each (`docs/performance-log.md`).
    fn hot(
        hot: Hot,
        shared: Arc<Shared>,
        peer: IpAddr,
        req: Request,
    ) -> <Self as tower_service::Service<Request>>::Future {
        let admitted = shared.edge.limiter.admit_from(peer, &req);
        let (parts, _) = req.into_parts();
        let viewed = Viewed(shared.registry.viewed(crate::tenant::View::Public));
        let template = hot.template();
        // Boxed once: each async layer of the edge (guard, limiter, time limit) keeps its
        // argument beside its own state, so an inline handler future was stored and copied
        // about seven times, 10 KB of `memcpy` per request (2.7% of the server's CPU).
        let handler: HandlerFuture = Box::pin(Front::handler(hot, viewed, parts.headers));
        Box::pin(Front::edged(shared, parts.method, template, admitted, handler))
    }

    /// The hot route's handler, the function the router would call.
    // Not an `async fn`: its future would keep the arguments beside the locals they move into
    // (48 bytes more, over the small-block limit); the block captures them once.
    #[allow(clippy::manual_async_fn)]
    fn handler(hot: Hot, viewed: Viewed, headers: HeaderMap) -> impl Future<Output = Response> + Send + 'static {
        async move {
            match hot {
                Hot::Discovery(_) => discovery::get(viewed, headers).await.into_response(),
                Hot::RegistryIndex => packs::registry_index(viewed, headers).await.into_response(),
                Hot::PackIndex(_, name) => packs::pack_index(viewed, Segments(name), headers).await.into_response(),
                Hot::VersionFile(name, file) => {
                    packs::version_file(viewed, Segments((name, file)), headers).await.into_response()
                }
                Hot::Advisories => security::advisories(viewed, headers).await.into_response(),
            }
        }
    }

    /// `handler` through the edge's work, as the router's edge layer runs it.
    async fn edged(
        shared: Arc<Shared>,
        method: Method,
        template: &'static str,
        admitted: Result<IpAddr, Box<Response>>,
        handler: HandlerFuture,
    ) -> Result<Response, Infallible> {
        Ok(shared.edge.guard(&method, template, false, admitted, handler).await)
    }
}

impl tower_service::Service<Request> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready, and the hot path holds nothing that could be busy.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        // Only anonymous GETs without a body: a token selects a tenant's view and may fail to
        // authenticate, which the router's extractor handles; HEAD and the rest take the router's
        // method rules; a body is the router's edge to settle (`body::Rest`).
        let hot = if self.shortcut
            && req.method() == Method::GET
            && !req.headers().contains_key(header::AUTHORIZATION)
            && req.body().is_end_stream()
        {
            Hot::of(req.uri().path())
        } else {
            None
        };
        match hot {
            Some(hot) => {
                // The peer goes to the limiter directly: the handlers do not read extensions.
                let peer = self.peer.map_or(super::limits::UNKNOWN_PEER, |peer| peer.ip());
                Front::hot(hot, Arc::clone(&self.shared), peer, req)
            }
            None => {
                if let Some(peer) = self.peer {
                    req.extensions_mut().insert(ConnectInfo(peer));
                }
                let routed = tower_service::Service::call(&mut self.shared.router.clone(), req);
                Box::pin(routed)
            }
        }
    }
}

/// `axum::serve` asks the make-service for one service per connection: this one, with the
/// connection's peer address.
impl<L> tower_service::Service<axum::serve::IncomingStream<'_, L>> for Front
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    type Response = Front;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Front, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, stream: axum::serve::IncomingStream<'_, L>) -> Self::Future {
        std::future::ready(Ok(Front { peer: Some(*stream.remote_addr()), ..self.clone() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mimalloc's largest small block: above it, an allocation through Rust's allocator
    /// interface takes the over-allocating slow path (see [`Front::hot`]).
    const SMALL_BLOCK: usize = 1024;

    #[tokio::test]
    async fn a_hot_gets_two_heap_blocks_stay_small() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let storage = crate::storage::Storage::open(&crate::config::Config::embedded(dir.path()))
            .await
            .expect("embedded storage opens");
        let front = super::super::router(Registry::new(storage));
        let shared = Arc::clone(&front.shared);
        let hot = Hot::of("/v1/packs/core.openwop.http/-/1.0.0.json").expect("a hot route");
        let viewed = Viewed(shared.registry.viewed(crate::tenant::View::Public));
        // Every route shares the one handler future type; its size is the largest route's.
        let handler = Front::handler(hot, viewed, HeaderMap::new());
        assert!(
            std::mem::size_of_val(&handler) <= SMALL_BLOCK,
            "handler future: {} bytes",
            std::mem::size_of_val(&handler)
        );
        let edged = Front::edged(
            shared,
            Method::GET,
            route::VERSION_FILE,
            Ok(crate::api::limits::UNKNOWN_PEER),
            Box::pin(handler),
        );
        assert!(std::mem::size_of_val(&edged) <= SMALL_BLOCK, "edge future: {} bytes", std::mem::size_of_val(&edged));
    }
}

//! Request limits: a time limit on every request and a per-client rate limit on writes
//! (non-GET/HEAD), both answered with the JSON error envelope.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// Limits the API enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest a request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// Writes each client address may make per minute (burst: the same number).
    pub writes_per_minute: u32,
    /// Failed authentications (401) each client address may cause per minute; past that, every
    /// request carrying credentials from it is refused with 429 until the budget refills, which
    /// makes guessing tokens impractical.
    pub auth_failures_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self { request_timeout: Duration::from_secs(60), writes_per_minute: 600, auth_failures_per_minute: 30 }
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The client address budgets are kept under when the connection's peer is not known (a
/// service built without it, as in tests): every such request shares one budget.
pub(crate) const UNKNOWN_PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

/// A request time limit that never ends a request (about thirty years).
const NO_LIMIT: Duration = Duration::from_secs(30 * 365 * 86_400);

/// Token buckets per client address.
#[derive(Clone, Default)]
struct Buckets(Arc<Mutex<HashMap<IpAddr, Bucket>>>);

/// Shared limiter state.
#[derive(Clone)]
pub struct Limiter {
    limits: Limits,
    writes: Buckets,
    auth_failures: Buckets,
}

impl Limiter {
    /// A limiter enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self { limits, writes: Buckets::default(), auth_failures: Buckets::default() }
    }
}

impl Buckets {
    /// Whether `ip` has a token left (without taking one).
    fn has(&self, ip: IpAddr, per_minute: u32) -> bool {
        let capacity = f64::from(per_minute.max(1));
        let per_second = capacity / 60.0;
        let buckets = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        buckets.get(&ip).is_none_or(|b| b.tokens + b.last.elapsed().as_secs_f64() * per_second >= 1.0)
    }

    /// Takes one token for `ip`; `Err(wait)` when none is left.
    fn take(&self, ip: IpAddr, per_minute: u32) -> Result<(), Duration> {
        let capacity = f64::from(per_minute.max(1));
        let per_second = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > 100_000 {
            // Bound memory under address churn: full buckets carry no state worth keeping.
            buckets.retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * per_second < capacity);
        }
        let bucket = buckets.entry(ip).or_insert(Bucket { tokens: capacity, last: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.last).as_secs_f64() * per_second).min(capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

fn too_many(message: String, wait: Duration) -> Response {
    let secs = wait.as_secs().max(1);
    let mut response = ApiError { status: StatusCode::TOO_MANY_REQUESTS, code: "rate_limited", message, details: None }
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

impl Limiter {
    /// The checks made before a request runs: `Ok(client address)` to go ahead, or the 429 to
    /// answer with (boxed: the refusal is the rare path). A plain read without credentials
    /// touches no shared state.
    pub(crate) fn admit(&self, req: &Request) -> Result<IpAddr, Box<Response>> {
        let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(UNKNOWN_PEER, |c| c.0.ip());
        self.admit_from(ip, req)
    }

    /// [`Limiter::admit`] for a request from `ip`, when the caller knows the client's address
    /// without a `ConnectInfo` extension (inserting one costs the request two allocations).
    pub(crate) fn admit_from(&self, ip: IpAddr, req: &Request) -> Result<IpAddr, Box<Response>> {
        let has_credentials = req.headers().contains_key(header::AUTHORIZATION);
        let auth_budget = self.limits.auth_failures_per_minute;
        if has_credentials && !self.auth_failures.has(ip, auth_budget) {
            return Err(Box::new(too_many(
                format!("too many failed authentications from this address ({auth_budget} per minute); wait and retry"),
                Duration::from_secs(60 / u64::from(auth_budget.clamp(1, 60))),
            )));
        }
        let is_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        if is_write && let Err(wait) = self.writes.take(ip, self.limits.writes_per_minute) {
            let secs = wait.as_secs().max(1);
            return Err(Box::new(too_many(
                format!(
                    "too many writes from this address ({} per minute); retry in {secs} s",
                    self.limits.writes_per_minute
                ),
                wait,
            )));
        }
        Ok(ip)
    }

    /// Runs `request` under the time limit counted from `started` (the caller's clock reading,
    /// reused: a clock read is a measurable part of a cached GET), then counts a 401 against
    /// `ip`'s budget.
    pub(crate) async fn run<F>(&self, ip: IpAddr, started: Instant, request: F) -> Response
    where
        F: std::future::Future<Output = Response>,
    {
        // A limit past the clock's range (`request_timeout_secs` near u64::MAX) would overflow
        // the deadline; thirty years is no limit either.
        let limit = self.limits.request_timeout.min(NO_LIMIT);
        let deadline = tokio::time::Instant::from_std(started + limit);
        match tokio::time::timeout_at(deadline, request).await {
            Ok(response) => {
                if response.status() == StatusCode::UNAUTHORIZED {
                    let _ = self.auth_failures.take(ip, self.limits.auth_failures_per_minute);
                }
                response
            }
            Err(_) => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "pack_registry_unreachable",
                message: format!("the request took longer than {:?}; retry", self.limits.request_timeout),
                details: None,
            }
            .into_response(),
        }
    }
}

/// Middleware enforcing [`Limits`] (the router runs the same checks in its one edge layer).
pub async fn enforce(State(limiter): State<Limiter>, req: Request, next: Next) -> Response {
    match limiter.admit(&req) {
        Ok(ip) => limiter.run(ip, Instant::now(), next.run(req)).await,
        Err(refused) => *refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_time_limit_past_the_clocks_range_is_no_limit() {
        let limiter = Limiter::new(Limits { request_timeout: Duration::MAX, ..Limits::default() });
        let ip = IpAddr::from([127, 0, 0, 1]);
        let response = limiter.run(ip, Instant::now(), async { StatusCode::NO_CONTENT.into_response() }).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }

    #[tokio::test]
    async fn the_time_limit_counts_from_the_callers_start() {
        let limiter = Limiter::new(Limits { request_timeout: Duration::from_secs(60), ..Limits::default() });
        let ip = IpAddr::from([127, 0, 0, 1]);
        let request = || async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            StatusCode::NO_CONTENT.into_response()
        };
        // Started a minute ago: no time is left for a request that has to wait.
        let long_ago = Instant::now() - Duration::from_secs(60);
        assert_eq!(limiter.run(ip, long_ago, request()).await.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(limiter.run(ip, Instant::now(), request()).await.status(), StatusCode::NO_CONTENT);
    }
}

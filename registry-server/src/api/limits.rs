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
}

impl Default for Limits {
    fn default() -> Self {
        Self { request_timeout: Duration::from_secs(60), writes_per_minute: 600 }
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Shared limiter state.
#[derive(Clone)]
pub struct Limiter {
    limits: Limits,
    buckets: Arc<Mutex<HashMap<IpAddr, Bucket>>>,
}

impl Limiter {
    /// A limiter enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self { limits, buckets: Arc::default() }
    }

    /// Takes one write token for `ip`; `Err(wait)` when none is left.
    fn take(&self, ip: IpAddr) -> Result<(), Duration> {
        let capacity = f64::from(self.limits.writes_per_minute.max(1));
        let per_second = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
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

/// Middleware enforcing [`Limits`].
pub async fn enforce(State(limiter): State<Limiter>, req: Request, next: Next) -> Response {
    let is_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if is_write {
        let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        if let Err(wait) = limiter.take(ip) {
            let secs = wait.as_secs().max(1);
            let mut response = ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "rate_limited",
                message: format!(
                    "too many writes from this address ({} per minute); retry in {secs} s",
                    limiter.limits.writes_per_minute
                ),
                details: None,
            }
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return response;
        }
    }
    match tokio::time::timeout(limiter.limits.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "pack_registry_unreachable",
            message: format!("the request took longer than {:?}; retry", limiter.limits.request_timeout),
            details: None,
        }
        .into_response(),
    }
}

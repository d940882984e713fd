//! The HTTP client of one upstream: per-request timeouts, retries with exponential backoff
//! (transport errors, 5xx and 429 only; a 404 is an answer) and a circuit breaker that fails
//! fast while the upstream keeps failing, so a dead upstream costs local readers nothing.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::config::Resilience;

/// Largest upstream document or artifact accepted.
pub const MAX_UPSTREAM_BYTES: usize = crate::publish::MAX_UPLOAD_BYTES + 1024 * 1024;

/// Why an upstream request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The circuit is open: recent requests failed, none is tried until the cooldown ends.
    #[error("upstream {url} is failing; circuit open for another {remaining_ms} ms")]
    CircuitOpen {
        /// Upstream base URL.
        url: String,
        /// Time left in the cooldown.
        remaining_ms: u128,
    },
    /// Connection, timeout or body errors (after retries).
    #[error("GET {url}: {detail}")]
    Transport {
        /// The URL requested.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// An HTTP status other than 200/404 (after retries where retrying made sense).
    #[error("GET {url}: HTTP {status}")]
    Status {
        /// The URL requested.
        url: String,
        /// The status.
        status: u16,
    },
    /// The body is larger than [`MAX_UPSTREAM_BYTES`].
    #[error("GET {url}: body over {MAX_UPSTREAM_BYTES} bytes")]
    TooLarge {
        /// The URL requested.
        url: String,
    },
}

impl UpstreamError {
    /// Whether the failure says the upstream is unavailable (as opposed to a refusal).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::CircuitOpen { .. } | Self::Transport { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 429,
            Self::TooLarge { .. } => false,
        }
    }
}

#[derive(Debug, Default)]
struct Breaker {
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

/// One upstream's client.
#[derive(Debug)]
pub struct UpstreamClient {
    base: String,
    http: reqwest::Client,
    resilience: Resilience,
    breaker: Mutex<Breaker>,
}

enum Attempt {
    Done(Option<Bytes>),
    Retry(UpstreamError),
    Fail(UpstreamError),
}

impl UpstreamClient {
    /// A client of the registry at `base`.
    pub fn new(base: &str, resilience: Resilience) -> Result<Self, crate::RegistryError> {
        let http = reqwest::Client::builder()
            .timeout(resilience.timeout)
            .connect_timeout(resilience.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("openwop-registry-mirror/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| crate::RegistryError::Config { what: format!("HTTP client for {base}: {e}") })?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            http,
            resilience,
            breaker: Mutex::new(Breaker::default()),
        })
    }

    /// The upstream base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether the circuit is open now.
    pub fn circuit_open(&self) -> bool {
        self.breaker.lock().is_ok_and(|b| b.open_until.is_some_and(|t| Instant::now() < t))
    }

    fn check_breaker(&self) -> Result<(), UpstreamError> {
        let Ok(b) = self.breaker.lock() else { return Ok(()) };
        match b.open_until {
            Some(until) if Instant::now() < until => Err(UpstreamError::CircuitOpen {
                url: self.base.clone(),
                remaining_ms: until.saturating_duration_since(Instant::now()).as_millis(),
            }),
            // Closed, or half-open after the cooldown: let the request through.
            _ => Ok(()),
        }
    }

    fn record(&self, ok: bool) {
        let Ok(mut b) = self.breaker.lock() else { return };
        if ok {
            *b = Breaker::default();
        } else {
            b.consecutive_failures = b.consecutive_failures.saturating_add(1);
            if b.consecutive_failures >= self.resilience.breaker_threshold {
                b.open_until = Some(Instant::now() + self.resilience.breaker_cooldown);
                tracing::warn!(upstream = %self.base, failures = b.consecutive_failures, "mirror: circuit opened");
            }
        }
    }

    async fn attempt(&self, url: &str) -> Attempt {
        let resp = match self.http.get(url).send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(UpstreamError::Transport { url: url.to_string(), detail: e.to_string() }),
        };
        let status = resp.status().as_u16();
        if status == 404 || status == 410 {
            return Attempt::Done(None);
        }
        if status != 200 {
            let err = UpstreamError::Status { url: url.to_string(), status };
            return if status >= 500 || status == 429 { Attempt::Retry(err) } else { Attempt::Fail(err) };
        }
        if resp.content_length().is_some_and(|n| n > MAX_UPSTREAM_BYTES as u64) {
            return Attempt::Fail(UpstreamError::TooLarge { url: url.to_string() });
        }
        match resp.bytes().await {
            Ok(b) if b.len() > MAX_UPSTREAM_BYTES => Attempt::Fail(UpstreamError::TooLarge { url: url.to_string() }),
            Ok(b) => Attempt::Done(Some(b)),
            Err(e) => Attempt::Retry(UpstreamError::Transport { url: url.to_string(), detail: e.to_string() }),
        }
    }

    /// GETs a registry-relative `path`; `Ok(None)` on 404.
    pub async fn get(&self, path: &str) -> Result<Option<Bytes>, UpstreamError> {
        self.check_breaker()?;
        let url = format!("{}{path}", self.base);
        let mut delay = self.resilience.backoff;
        let mut tries = 0;
        loop {
            match self.attempt(&url).await {
                Attempt::Done(body) => {
                    self.record(true);
                    return Ok(body);
                }
                Attempt::Fail(err) => {
                    // The upstream answered: it is up, even if it refused.
                    self.record(true);
                    return Err(err);
                }
                Attempt::Retry(err) => {
                    if tries >= self.resilience.retries {
                        self.record(false);
                        return Err(err);
                    }
                    tries += 1;
                    tracing::debug!(url = %url, error = %err, "mirror: retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    // Another task may have opened the circuit meanwhile.
                    self.check_breaker()?;
                }
            }
        }
    }
}

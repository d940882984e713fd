//! Mirror mode (decisions §13–§14): this registry serves packs taken from one or more upstream
//! registries (another registry-server or any static OpenWOP tree), each verified against that
//! upstream's own pinned trust root before anything is stored or served.
//!
//! - [`config`]: the `[mirror]` section, include/exclude patterns, discovery narrowing.
//! - [`upstream`]: the HTTP client per upstream (timeouts, retries with backoff, circuit breaker).
//! - [`sync`]: fetch → verify → store, per upstream (`registry-server mirror sync`, periodic
//!   syncs under `serve`, and pull-through of a single pack on a local miss).
//! - [`status`]: the last successful sync per upstream, served signed at
//!   `GET /v1/-/mirror/status.json`.
//!
//! Local reads never wait on an upstream beyond the pull-through budget, and only when the pack
//! or version is missing locally.

pub mod config;
pub mod status;
pub mod sync;
pub mod upstream;

use std::sync::Arc;

use axum::http::StatusCode;

pub use config::{MirrorSection, MirrorSettings, Pattern};
pub use sync::{SyncReport, SyncScope};

use crate::api::error::ApiError;
use crate::storage::Storage;
use crate::{Registry, RegistryError};
use sync::{Abort, Upstream};

/// A configured mirror: its upstreams with their clients.
#[derive(Debug)]
pub struct Mirror {
    url: Option<String>,
    upstreams: Vec<Upstream>,
    resilience: config::Resilience,
    resign: bool,
}

/// What a pull-through did.
#[derive(Debug)]
pub enum PullOutcome {
    /// No upstream mirrors this name.
    NotMirrored,
    /// Something was stored (or was already there); read again.
    Stored,
    /// The upstreams that mirror it do not have it.
    NotFound,
    /// An upstream served it but it failed verification; nothing was stored.
    Refused(sync::Refusal),
    /// No upstream that mirrors it answered in time.
    Unavailable(String),
}

impl Mirror {
    /// Builds the clients.
    pub fn new(settings: MirrorSettings) -> Result<Self, RegistryError> {
        let upstreams = settings
            .upstreams
            .into_iter()
            .map(|spec| {
                let client = upstream::UpstreamClient::new(&spec.url, settings.resilience)?;
                Ok(Upstream { spec, client, resigner: None })
            })
            .collect::<Result<Vec<_>, RegistryError>>()?;
        Ok(Self { url: settings.url, upstreams, resilience: settings.resilience, resign: settings.resign })
    }

    /// Gives the mirror its own trust. With `resign` configured, every version it stores from
    /// now on gets a registry statement made and signed here (decisions §14), instead of the
    /// upstream's; that needs a statement key, and a mirror without one refuses to start.
    pub fn with_trust(mut self, trust: Option<Arc<crate::trust::RegistryTrust>>) -> Result<Self, RegistryError> {
        if !self.resign {
            return Ok(self);
        }
        let Some(shared) = trust.filter(|t| t.statement_key.is_some()) else {
            return Err(RegistryError::Config {
                what: "[mirror] resign = true needs this registry's trust bundle and statement key \
                       (`trust`, `statement_key`, `statement_key_id` in the config file; `serve` also takes --trust, \
                       --statement-key, --statement-key-id)"
                    .into(),
            });
        };
        for up in &mut self.upstreams {
            up.resigner = Some(Arc::clone(&shared));
        }
        Ok(self)
    }

    /// Whether mirrored versions carry this mirror's own statements.
    pub fn resigns(&self) -> bool {
        self.resign
    }

    /// The upstreams, in lookup order.
    pub fn upstreams(&self) -> &[Upstream] {
        &self.upstreams
    }

    /// This mirror's configured public URL.
    pub fn settings_url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// One sync of every upstream (or only `only`), in order.
    pub async fn sync(
        &self,
        storage: &Storage,
        only: Option<&str>,
        scope: &SyncScope,
    ) -> Result<Vec<SyncReport>, RegistryError> {
        if let Some(name) = only
            && !self.upstreams.iter().any(|u| u.spec.name == name)
        {
            return Err(RegistryError::Config { what: format!("no mirror upstream named `{name}`") });
        }
        let mut reports = Vec::new();
        for up in self.upstreams.iter().filter(|u| only.is_none_or(|n| n == u.spec.name)) {
            reports.push(sync::sync_upstream(storage, up, scope).await?);
        }
        Ok(reports)
    }

    /// Fetches `name` (one `version`, or every admitted version) from the first upstream that
    /// mirrors and has it. Unbounded in time: callers wrap it in the pull-through budget.
    pub async fn pull_through(&self, storage: &Storage, name: &str, version: Option<&str>) -> PullOutcome {
        let mut outcome = PullOutcome::NotMirrored;
        for up in self.upstreams.iter().filter(|u| u.spec.pull_through && u.spec.filter.admits_name(name)) {
            if version.is_some_and(|v| !up.spec.filter.admits(name, v)) {
                continue;
            }
            let result = async {
                let (root, _) = sync::resolve_root(storage, up).await?;
                let mut report = SyncReport { upstream: up.spec.name.clone(), ..SyncReport::default() };
                let wanted = |v: &str| version.is_none_or(|want| want == v) && up.spec.filter.admits(name, v);
                sync::sync_pack(storage, up, &root, name, &wanted, &mut report).await?;
                Ok::<_, Abort>(report)
            }
            .await;
            match result {
                Ok(report) if !report.stored.is_empty() || report.unchanged > 0 => return PullOutcome::Stored,
                Ok(report) => match report.refused.into_iter().next() {
                    Some(r) => outcome = PullOutcome::Refused(r),
                    None => {
                        if !matches!(outcome, PullOutcome::Refused(_) | PullOutcome::Unavailable(_)) {
                            outcome = PullOutcome::NotFound;
                        }
                    }
                },
                Err(Abort::Upstream(e)) => {
                    tracing::warn!(upstream = %up.spec.name, error = %e, "mirror: pull-through failed");
                    if !matches!(outcome, PullOutcome::Refused(_)) {
                        outcome = PullOutcome::Unavailable(format!("upstream {}: {e}", up.spec.name));
                    }
                }
                Err(Abort::Local(RegistryError::Verify { context, source })) => {
                    outcome = PullOutcome::Unavailable(format!("{context}: {source}"));
                }
                Err(Abort::Local(e)) => {
                    tracing::error!(error = %e, "mirror: pull-through could not store");
                    outcome = PullOutcome::Unavailable("the mirror could not store the pack".into());
                }
            }
        }
        outcome
    }

    /// Starts one periodic sync task per upstream with a `sync_interval` (first run at once).
    pub fn spawn_periodic(self: &Arc<Self>, storage: Storage) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        for (i, up) in self.upstreams.iter().enumerate() {
            let Some(interval) = up.spec.sync_interval else { continue };
            let mirror = Arc::clone(self);
            let storage = storage.clone();
            tasks.push(tokio::spawn(async move {
                let mut ticker = tokio::time::interval(interval);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticker.tick().await;
                    let Some(up) = mirror.upstreams.get(i) else { return };
                    if let Err(e) = sync::sync_upstream(&storage, up, &SyncScope::default()).await {
                        tracing::error!(upstream = %up.spec.name, error = %e, "mirror: periodic sync failed");
                    }
                }
            }));
        }
        tasks
    }
}

/// The hook the read handlers call when `name` (or `name@version`) is missing locally: pulls
/// it through when mirrored, within the pull-through budget. `Ok(true)`: read again.
pub async fn on_miss(registry: &Registry, name: &str, version: Option<&str>) -> Result<bool, ApiError> {
    let Some(mirror) = registry.mirror() else { return Ok(false) };
    let budget = mirror.resilience.pull_through_timeout;
    // Boxed: every hot read handler's future embeds this one, and an inline pull-through (HTTP
    // client, verification, storage writes) made each of them several KiB that tokio and axum
    // copy on every request, for a path taken only on a miss.
    let pull = Box::pin(mirror.pull_through(registry.storage(), name, version));
    let outcome = match tokio::time::timeout(budget, pull).await {
        Ok(o) => o,
        Err(_) => PullOutcome::Unavailable(format!("no upstream answered within {} ms", budget.as_millis())),
    };
    match outcome {
        PullOutcome::Stored => Ok(true),
        PullOutcome::NotMirrored | PullOutcome::NotFound => Ok(false),
        PullOutcome::Refused(r) => Err(ApiError {
            status: StatusCode::BAD_GATEWAY,
            code: r.code,
            message: format!(
                "the upstream copy of {} failed verification and was not mirrored: {}",
                r.subject, r.message
            ),
            details: Some(serde_json::json!({"subject": r.subject})),
        }),
        PullOutcome::Unavailable(why) => Err(ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "pack_registry_unreachable",
            message: format!("{name} is not mirrored here yet and its upstream is unavailable: {why}"),
            details: Some(serde_json::json!({"name": name})),
        }),
    }
}

/// The `(name, version)` pairs a `pack-lock.json` pins (its `packs[]`).
pub fn lock_entries(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let packs = doc.get("packs").and_then(serde_json::Value::as_array).ok_or("no `packs` array")?;
    packs
        .iter()
        .map(|p| {
            let field = |k: &str| p.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
            match (field("name"), field("version")) {
                (Some(n), Some(v)) => Ok((n, v)),
                _ => Err("a `packs[]` entry lacks `name` or `version`".to_string()),
            }
        })
        .collect()
}

//! The in-memory metadata cache: rendered bodies and ETags of the hot read documents
//! (discovery, `/v1/index.json`, pack indexes, the advisory feed, version rows and manifests),
//! invalidated by every write on any replica.
//!
//! # Freshness
//!
//! Every write transaction bumps the one-row `registry_generation` table
//! (`migrations/0004_generation.sql`) through [`Db::commit_write`], the single invalidation
//! function the write paths call. Each process keeps an *epoch*; every cached entry is tagged
//! with the epoch observed **before** the database was read to render it, and is served only while
//! the epoch is unchanged. The epoch moves when:
//!
//! - this process commits a write ([`Db::commit_write`] bumps it after the commit): read-your-writes
//!   within one replica is exact;
//! - SQLite (replicas share one host and one file): on every cached read the 48-byte WAL-index
//!   header at the start of `<db>-shm` is re-read (one `pread`, no database query, no lock held
//!   across it, so concurrent requests on several threads do not queue). SQLite changes
//!   that header in the same step that makes a commit visible to new readers, so a commit by another
//!   process is seen by the next request: staleness **0** while the `-shm` file is live. A poller
//!   also reads the generation row and follows a replaced `-shm` (never closing a descriptor of
//!   it, see [`Changes::reopen_shm`]) every [`SQLITE_POLL`] (100 ms), which bounds staleness at
//!   100 ms when `-shm` was recreated (all connections closed) or is absent;
//! - PostgreSQL: the write transaction runs `NOTIFY openwop_registry` (delivered at commit) and a
//!   [`sqlx::postgres::PgListener`] on its own connection bumps the epoch per notification.
//!   Staleness is the notification's delivery time (sub-millisecond on a LAN, no fixed bound under
//!   load). While the listener is not connected (start-up, lost connection) the cache is bypassed
//!   and every read goes to the database; after a reconnect the epoch moves, dropping everything.
//!
//! Misses are never cached: a version or pack this replica has not seen yet is always looked up in
//! the database, so a write on another replica is visible as soon as the database shows it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;

use axum::http::HeaderValue;
use bytes::Bytes;
use sqlx::{Any, Transaction};

use crate::RegistryError;
use crate::storage::VersionRow;
use crate::storage::db::{Backend, Db};

/// How often an SQLite replica re-reads the generation row and follows a replaced `-shm`.
pub const SQLITE_POLL: Duration = Duration::from_millis(100);
/// How many `-shm` files one process follows before it relies on the poller alone (each
/// replacement leaks one descriptor, see [`Changes::reopen_shm`]).
pub const MAX_SHM_REPLACEMENTS: u64 = 64;
/// The PostgreSQL channel every write notifies.
pub const CHANNEL: &str = "openwop_registry";
/// Entries kept before the cache is emptied (bounds memory with many versions).
pub const MAX_ENTRIES: usize = 8192;
/// Bytes of blobs kept in memory before the blob cache is emptied.
pub const BLOB_BUDGET: usize = 32 << 20;
/// Blobs larger than this are never kept in memory.
pub const MAX_CACHED_BLOB: usize = 1 << 20;

/// A rendered document: body, strong ETag, and for a version its stored row.
#[derive(Debug)]
pub struct Doc {
    /// The response body.
    pub body: Bytes,
    /// Its strong ETag (`"sha256-…"`).
    pub etag: String,
    /// [`Doc::etag`] as a ready header value (built once, cloned per response).
    pub etag_header: Option<HeaderValue>,
    /// The version row, for version entries.
    pub row: Option<VersionRow>,
    /// The tarball's ETag (its integrity) and the signature's (a SHA-256 of the blob), built on
    /// first use: a version row never changes while this entry lives.
    tarball_etag: OnceLock<Option<HeaderValue>>,
    signature_etag: OnceLock<Option<HeaderValue>>,
    /// Whether the body names anything under `private.`, found once: a document that does not
    /// is the same for every tenant view and is served without filtering.
    mentions_private: OnceLock<bool>,
}

impl Doc {
    /// A JSON document with its ETag computed once.
    pub fn json(body: String) -> Self {
        let body = Bytes::from(body);
        let etag = crate::api::response::etag_of(&body);
        let etag_header = crate::api::response::etag_header(etag.clone());
        Self {
            body,
            etag,
            etag_header,
            row: None,
            tarball_etag: OnceLock::new(),
            signature_etag: OnceLock::new(),
            mentions_private: OnceLock::new(),
        }
    }

    /// The ETag of this version's tarball: its integrity value, quoted (the spec's choice).
    pub fn tarball_etag(&self) -> Option<HeaderValue> {
        self.tarball_etag
            .get_or_init(|| {
                let row = self.row.as_ref()?;
                crate::api::response::etag_header(format!("\"{}\"", row.integrity))
            })
            .clone()
    }

    /// The ETag of this version's signature blob (`signature` is its body), computed once.
    pub fn signature_etag(&self, signature: &[u8]) -> Option<HeaderValue> {
        self.signature_etag
            .get_or_init(|| crate::api::response::etag_header(crate::api::response::etag_of(signature)))
            .clone()
    }

    /// Whether the body names a private namespace or pack (computed on first use).
    pub fn mentions_private(&self) -> bool {
        *self.mentions_private.get_or_init(|| {
            let needle = crate::tenant::PRIVATE_SCOPE.as_bytes();
            self.body.windows(needle.len()).any(|w| w == needle)
        })
    }

    /// The body as text (the bodies are rendered from `String`s).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What a cached entry is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// `/.well-known/openwop-registry`.
    Discovery,
    /// `/security/advisories.json`.
    Advisories,
    /// `/v1/index.json`.
    Index,
    /// `/v1/packs/{name}`.
    Pack(String),
    /// One version's row and manifest.
    Version(String, String),
}

/// Process-wide change tracking shared by the database handle (writers) and the cache (readers).
#[derive(Debug)]
pub struct Changes {
    epoch: AtomicU64,
    /// False while the cross-replica signal cannot be trusted (PostgreSQL listener down).
    live: AtomicBool,
    started: AtomicBool,
    url: String,
    backend: Backend,
    /// SQLite: the open `-shm` file (never closed, see [`Changes::reopen_shm`]; read-locked per
    /// request, never held across more than one `pread`) and the last header seen, as six words.
    shm: RwLock<Option<std::fs::File>>,
    shm_header: [AtomicU64; 6],
    /// How many times `-shm` was (re)opened (see [`Changes::reopen_shm`]).
    shm_replacements: AtomicU64,
    /// Last generation read from the database by the poller.
    seen_generation: AtomicU64,
}

impl Changes {
    /// Change tracking for the database at `url`.
    pub fn new(url: &str, backend: Backend) -> Arc<Self> {
        Arc::new(Self {
            epoch: AtomicU64::new(1),
            live: AtomicBool::new(backend == Backend::Sqlite),
            started: AtomicBool::new(false),
            url: url.to_string(),
            backend,
            shm: RwLock::new(None),
            shm_header: Default::default(),
            shm_replacements: AtomicU64::new(0),
            seen_generation: AtomicU64::new(u64::MAX),
        })
    }

    /// Moves the epoch: every cached entry becomes stale.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// The current epoch, or `None` when the cache must be bypassed. Cheap: an atomic load, plus
    /// on SQLite one 48-byte `pread` of the WAL-index header.
    pub fn epoch(self: &Arc<Self>) -> Option<u64> {
        self.start();
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        if self.backend == Backend::Sqlite {
            self.check_shm();
        }
        Some(self.epoch.load(Ordering::Acquire))
    }

    fn check_shm(&self) {
        use std::os::unix::fs::FileExt as _;
        let mut header = [0u8; 48];
        let read = match self.shm.read() {
            Ok(file) => file.as_ref().and_then(|file| file.read_at(&mut header, 0).ok()),
            Err(_) => None,
        };
        if read != Some(48) {
            return;
        }
        let mut words = [0u64; 6];
        for (word, bytes) in words.iter_mut().zip(header.chunks_exact(8)) {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(bytes);
            *word = u64::from_ne_bytes(buf);
        }
        if words.iter().zip(&self.shm_header).all(|(word, seen)| seen.load(Ordering::Acquire) == *word) {
            return;
        }
        // Invalidate *before* publishing the new header: a thread that then reads this header
        // and finds it already recorded also finds the epoch moved. Threads racing here (one
        // with an older read) only cause extra invalidations, never a missed one.
        self.invalidate();
        for (word, seen) in words.iter().zip(&self.shm_header) {
            seen.store(*word, Ordering::Release);
        }
    }

    /// The `-shm` path of an SQLite database URL, when it names a file.
    fn shm_path(&self) -> Option<std::path::PathBuf> {
        let rest = self.url.strip_prefix("sqlite://").or_else(|| self.url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        if path.is_empty() || path.starts_with(":memory:") {
            return None;
        }
        Some(std::path::PathBuf::from(format!("{path}-shm")))
    }

    /// Follows `-shm` when SQLite has replaced it (only after every connection to the database
    /// closed), without ever closing a descriptor of it: closing *any* descriptor of a file drops
    /// every POSIX lock this process holds on that file, and SQLite's WAL locks live on `-shm`
    /// (sqlite.org/howtocorrupt.html §2.2). A replaced file's descriptor is leaked instead, at
    /// most [`MAX_SHM_REPLACEMENTS`] times; after that the poller's 100 ms bound applies.
    fn reopen_shm(&self) {
        use std::os::unix::fs::MetadataExt as _;
        let Some(path) = self.shm_path() else { return };
        let Ok(on_disk) = std::fs::metadata(&path) else {
            // Gone or not yet created: keep reading what is open (if anything).
            self.check_shm();
            return;
        };
        let open = self.shm.read().ok().and_then(|file| file.as_ref().and_then(|f| f.metadata().ok()));
        let same = open.is_some_and(|m| m.ino() == on_disk.ino() && m.dev() == on_disk.dev());
        if !same
            && self.shm_replacements.fetch_add(1, Ordering::AcqRel) < MAX_SHM_REPLACEMENTS
            && let Ok(file) = std::fs::File::open(&path)
        {
            match self.shm.write() {
                Ok(mut shm) => {
                    if let Some(previous) = shm.replace(file) {
                        std::mem::forget(previous);
                    }
                }
                Err(_) => std::mem::forget(file),
            }
        }
        self.check_shm();
    }

    /// Starts the background watcher once, when a tokio runtime is available.
    fn start(self: &Arc<Self>) {
        if self.started.load(Ordering::Acquire) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(self);
        match self.backend {
            Backend::Sqlite => {
                self.reopen_shm();
                handle.spawn(poll_sqlite(weak));
            }
            Backend::Postgres => {
                handle.spawn(listen_postgres(weak, self.url.clone()));
            }
        }
    }
}

/// SQLite: re-read the generation row and follow a replaced `-shm` every [`SQLITE_POLL`].
async fn poll_sqlite(changes: Weak<Changes>) {
    let mut tick = tokio::time::interval(SQLITE_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let Ok(mut conn) = open_poll_connection(&changes).await else { return };
    loop {
        tick.tick().await;
        let Some(changes) = changes.upgrade() else { return };
        changes.reopen_shm();
        let row: Result<(i64,), _> =
            sqlx::query_as("SELECT generation FROM registry_generation WHERE id = 1").fetch_one(&mut conn).await;
        if let Ok((generation,)) = row {
            let generation = u64::try_from(generation).unwrap_or(0);
            let before = changes.seen_generation.swap(generation, Ordering::AcqRel);
            if before != generation && before != u64::MAX {
                changes.invalidate();
            }
        }
    }
}

async fn open_poll_connection(changes: &Weak<Changes>) -> Result<sqlx::AnyConnection, sqlx::Error> {
    use sqlx::Connection as _;
    let url = changes.upgrade().map(|c| c.url.clone()).unwrap_or_default();
    sqlx::AnyConnection::connect(&url).await
}

/// PostgreSQL: bump the epoch on every notification; bypass the cache while disconnected.
async fn listen_postgres(changes: Weak<Changes>, url: String) {
    loop {
        if changes.strong_count() == 0 {
            return;
        }
        let listener = async {
            let mut listener = sqlx::postgres::PgListener::connect(&url).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        if let Ok(mut listener) = listener {
            if let Some(c) = changes.upgrade() {
                // Anything may have changed while nobody listened.
                c.invalidate();
                c.live.store(true, Ordering::Release);
            }
            loop {
                // `Ok(None)`: the connection was lost (notifications may be missing).
                let next = tokio::time::timeout(Duration::from_secs(5), listener.try_recv()).await;
                let Some(c) = changes.upgrade() else { return };
                match next {
                    Err(_elapsed) => continue,
                    Ok(Ok(Some(_))) => c.invalidate(),
                    Ok(Ok(None) | Err(_)) => {
                        c.live.store(false, Ordering::Release);
                        c.invalidate();
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Bumps the generation inside a write transaction (and notifies on PostgreSQL, delivered at
/// commit).
pub(crate) async fn bump_generation(tx: &mut Transaction<'static, Any>, backend: Backend) -> Result<(), RegistryError> {
    sqlx::query("UPDATE registry_generation SET generation = generation + 1 WHERE id = 1").execute(&mut **tx).await?;
    if backend == Backend::Postgres {
        sqlx::query("NOTIFY openwop_registry").execute(&mut **tx).await?;
    }
    Ok(())
}

impl Db {
    /// Commits a write transaction, bumping the registry generation in it and invalidating this
    /// process's cache after the commit. Every write that changes served metadata ends here.
    pub async fn commit_write(&self, mut tx: Transaction<'static, Any>) -> Result<(), RegistryError> {
        bump_generation(&mut tx, self.backend()).await?;
        tx.commit().await?;
        self.changes().invalidate();
        Ok(())
    }
}

/// The cached documents of one registry handle.
#[derive(Debug)]
pub struct Cache {
    changes: Arc<Changes>,
    state: RwLock<State>,
    /// Blobs by key. Keys are content hashes (`sha256/…`), so an entry never goes stale and no
    /// write invalidates it; only versions a row still names are ever looked up.
    blobs: RwLock<(HashMap<String, Bytes, TrustedKeys>, usize)>,
    /// One renderer per key at a time: concurrent misses of one document wait for the first
    /// instead of all reading the database (a cold `/v1/index.json` under load).
    /// (SipHash: its keys come from requests.)
    inflight: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
}

/// The hasher of the maps whose keys are never chosen by a client: the cached documents (only
/// what was found in the database is inserted; a miss inserts nothing) and blobs (content hashes
/// from version rows). A request's key is only looked up, and a lookup cannot lengthen a chain,
/// so the seeded, non-cryptographic foldhash is enough there; it costs a cached GET about 300
/// instructions less than SipHash (`docs/performance-log.md`).
pub(crate) type TrustedKeys = foldhash::fast::RandomState;

#[derive(Debug, Default)]
struct State {
    epoch: u64,
    docs: HashMap<Key, Arc<Doc>, TrustedKeys>,
}

impl Cache {
    /// An empty cache following `changes`.
    pub fn new(changes: Arc<Changes>) -> Self {
        Self {
            changes,
            state: RwLock::new(State::default()),
            blobs: RwLock::new((HashMap::default(), 0)),
            inflight: Mutex::default(),
        }
    }

    /// A blob kept in memory, by its content-hash key.
    pub fn blob(&self, key: &str) -> Option<Bytes> {
        self.blobs.read().ok()?.0.get(key).cloned()
    }

    /// Keeps a small blob in memory (emptying the blob cache when it would exceed its budget).
    pub fn keep_blob(&self, key: &str, body: &Bytes) {
        if body.len() > MAX_CACHED_BLOB {
            return;
        }
        if let Ok(mut blobs) = self.blobs.write() {
            if blobs.1 + body.len() > BLOB_BUDGET {
                blobs.0.clear();
                blobs.1 = 0;
            }
            if blobs.0.insert(key.to_string(), body.clone()).is_none() {
                blobs.1 += body.len();
            }
        }
    }

    /// The cached entry for `key`, or renders it with `render` (a database read). `None` results
    /// (not found) are returned but never cached.
    pub async fn get_or_render<F, Fut>(&self, key: Key, render: F) -> Result<Option<Arc<Doc>>, RegistryError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<Doc>, RegistryError>>,
    {
        if let Some(doc) = self.lookup(&key) {
            return Ok(Some(doc));
        }
        // Boxed: the miss path holds the database read's future, which would otherwise size
        // every cached read's future (and the hot path's heap block) after it.
        Box::pin(self.render_once(key, render)).await
    }

    /// A miss of [`Cache::get_or_render`]: one renderer per key at a time.
    async fn render_once<F, Fut>(&self, key: Key, render: F) -> Result<Option<Arc<Doc>>, RegistryError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<Doc>, RegistryError>>,
    {
        let flight = self.inflight.lock().ok().map(|mut inflight| Arc::clone(inflight.entry(key.clone()).or_default()));
        let _turn = match &flight {
            Some(flight) => Some(flight.lock().await),
            None => None,
        };
        // Whoever held the turn before may have rendered it.
        if let Some(doc) = self.lookup(&key) {
            return Ok(Some(doc));
        }
        let epoch = self.changes.epoch();
        let rendered = render().await;
        if let Ok(mut inflight) = self.inflight.lock() {
            inflight.remove(&key);
        }
        let Some(doc) = rendered? else { return Ok(None) };
        let doc = Arc::new(doc);
        if let Some(epoch) = epoch
            && let Ok(mut state) = self.state.write()
        {
            if state.epoch < epoch {
                state.docs.clear();
                state.epoch = epoch;
            }
            if state.epoch == epoch {
                if state.docs.len() >= MAX_ENTRIES {
                    state.docs.clear();
                }
                state.docs.insert(key, Arc::clone(&doc));
            }
        }
        Ok(Some(doc))
    }

    /// The entry for `key` if it is current.
    fn lookup(&self, key: &Key) -> Option<Arc<Doc>> {
        let epoch = self.changes.epoch()?;
        let state = self.state.read().ok()?;
        if state.epoch != epoch {
            return None;
        }
        state.docs.get(key).map(Arc::clone)
    }
}

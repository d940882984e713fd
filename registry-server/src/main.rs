//! `registry-server`: run the OpenWOP pack registry, or import a static tree into it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use axum::serve::ListenerExt as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use pack_verify::trust::bundle::TrustBundle;
use registry_server::api::limits::Limits;
use registry_server::auth::{NewToken, Scope, create_tenant_token};
use registry_server::config::FileConfig;
use registry_server::import::{ImportOptions, import_tree};
use registry_server::storage::Storage;
use registry_server::storage::writes::AuditEvent;
use registry_server::trust::RegistryTrust;
use registry_server::{Config, Registry, RegistryError};

/// Every request allocates a few small buffers on one of several runtime threads, and publish
/// unpacks tarballs; mimalloc's thread-local free lists beat glibc's arenas on both (see
/// docs/performance-log.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "registry-server", version, about = "The OpenWOP pack registry")]
struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty, env = "OPENWOP_LOG_FORMAT")]
    log_format: LogFormat,
    /// Configuration file (TOML); environment variables and flags override it.
    #[arg(long, global = true, env = "OPENWOP_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Pretty,
    Json,
}

#[derive(Args, Clone)]
struct StorageArgs {
    /// Data directory of the embedded default (SQLite file and blob directory).
    /// [default: .openwop-registry]
    #[arg(long, env = "OPENWOP_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Metadata database: sqlite://FILE or postgres://… (default: <data-dir>/registry.db).
    #[arg(long, env = "OPENWOP_DATABASE_URL")]
    database_url: Option<String>,
    /// Blob storage: s3://BUCKET[/PREFIX], file:///DIR or a directory (default: <data-dir>/blobs).
    #[arg(long, env = "OPENWOP_OBJECT_STORE")]
    object_store: Option<String>,
}

impl StorageArgs {
    /// Flags and environment over the config file over defaults.
    fn config(&self, file: &FileConfig, listen: SocketAddr) -> Config {
        Config {
            data_dir: self
                .data_dir
                .clone()
                .or_else(|| file.data_dir.clone())
                .unwrap_or_else(|| PathBuf::from(".openwop-registry")),
            listen,
            database_url: self.database_url.clone().or_else(|| file.database_url.clone()),
            object_store: self.object_store.clone().or_else(|| file.object_store.clone()),
        }
    }

    fn storage_config(&self, file: &FileConfig) -> Config {
        self.config(file, SocketAddr::from(([127, 0, 0, 1], 0)))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the registry over HTTP.
    Serve {
        #[command(flatten)]
        storage: StorageArgs,
        /// Address to listen on.
        /// [default: 127.0.0.1:8080]
        #[arg(long, env = "OPENWOP_LISTEN")]
        listen: Option<SocketAddr>,
        #[command(flatten)]
        write: WriteArgs,
        /// Writes (publish, yank, …) each client address may make per minute [default: 600].
        #[arg(long, env = "OPENWOP_WRITES_PER_MINUTE")]
        writes_per_minute: Option<u32>,
        /// Longest a request may take [default: 60].
        #[arg(long, env = "OPENWOP_REQUEST_TIMEOUT_SECS")]
        request_timeout_secs: Option<u64>,
        /// HTTP threads, each with its own single-threaded runtime accepting from the one
        /// listening socket and serving its connections start to finish (no hand-off between
        /// threads per request). 0: serve on the shared multi-threaded runtime instead.
        /// [default: the number of CPUs]
        #[arg(long, env = "OPENWOP_HTTP_THREADS")]
        http_threads: Option<usize>,
    },
    /// Manage tenants: each has its own tokens, view and `private.<tenant>.*` namespace.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage API tokens (the secret is printed once; only its hash is stored).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Remove blobs no version references (left by interrupted publishes or unpublishes).
    Gc {
        #[command(flatten)]
        storage: StorageArgs,
        /// Only remove blobs older than this, so in-flight publishes keep theirs.
        #[arg(long, default_value_t = 60)]
        grace_minutes: u64,
        /// List what would be removed without removing it.
        #[arg(long)]
        dry_run: bool,
    },
    /// Import a static registry tree (e.g. ../shared/fixtures/openwop-registry).
    Import {
        /// Root of the tree (the directory holding v1/index.json).
        tree: PathBuf,
        #[command(flatten)]
        storage: StorageArgs,
        /// Trust bundle the tree must verify against (default: the shipped reference bundle).
        #[arg(long)]
        trust: Option<PathBuf>,
        /// Import without checking signatures (integrity is still checked). Use only for trees
        /// whose keys you have no bundle for.
        #[arg(long)]
        skip_verification: bool,
    },
    /// Import an air-gap bundle written by `pack bundle`: every check first, then the mirror.
    ImportBundle {
        /// The bundle (`.tar` or `.tar.gz`).
        bundle: PathBuf,
        #[command(flatten)]
        storage: StorageArgs,
        /// The trust bundle you pinned for the source registry; the bundle's must match it.
        #[arg(long, conflicts_with = "accept_bundled_trust")]
        trust: Option<PathBuf>,
        /// Trust whatever trust bundle the bundle ships (only when it reached you over a channel
        /// you trust as much as the registry's operator).
        #[arg(long)]
        accept_bundled_trust: bool,
        /// The source registry to mirror, when the bundle holds several.
        #[arg(long, value_name = "URL")]
        registry: Option<String>,
    },
    /// Export the registry as a static tree any plain file server can serve (see README).
    Export {
        /// Directory to create (must be absent or empty unless --force).
        dir: PathBuf,
        #[command(flatten)]
        storage: StorageArgs,
        /// Replace a non-empty target directory.
        #[arg(long)]
        force: bool,
    },
    /// Mirror mode: sync packs from the upstreams of the `[mirror]` config section.
    Mirror {
        #[command(subcommand)]
        command: MirrorCommand,
    },
}

#[derive(Subcommand)]
enum MirrorCommand {
    /// Run one sync: every upstream (or --upstream), every admitted pack (or --pattern, or the
    /// packs a pack-lock.json pins).
    Sync {
        #[command(flatten)]
        storage: StorageArgs,
        /// Only this upstream (its `name` in the config).
        #[arg(long)]
        upstream: Option<String>,
        /// Only versions these patterns admit (`core.openwop.*`, `name`, `name@^1.2`; repeatable).
        #[arg(long = "pattern")]
        patterns: Vec<String>,
        /// Exactly the packs this lockfile pins.
        #[arg(long)]
        lockfile: Option<PathBuf>,
    },
}

#[derive(Args, Clone, Default)]
struct WriteArgs {
    /// Trust bundle publishes are checked against (a pinned root from `pack keys root-init`, or
    /// pinned keys). Without it the registry is read-only.
    #[arg(long, env = "OPENWOP_TRUST")]
    trust: Option<PathBuf>,
    /// Registry key (PKCS#8 PEM) that signs a statement for every published version.
    #[arg(long, env = "OPENWOP_STATEMENT_KEY")]
    statement_key: Option<PathBuf>,
    /// Key id of --statement-key, as listed in the keychain with the `registry` role.
    #[arg(long, env = "OPENWOP_STATEMENT_KEY_ID")]
    statement_key_id: Option<String>,
}

impl WriteArgs {
    fn load(&self, file: &FileConfig) -> Result<Option<RegistryTrust>, RegistryError> {
        let trust = self.trust.clone().or_else(|| file.trust.clone());
        let key = self.statement_key.clone().or_else(|| file.statement_key.clone());
        let key_id = self.statement_key_id.clone().or_else(|| file.statement_key_id.clone());
        let Some(bundle) = trust else {
            if key.is_some() {
                return Err(RegistryError::Config { what: "--statement-key needs --trust".into() });
            }
            return Ok(None);
        };
        let key = match (&key_id, &key) {
            (Some(id), Some(path)) => Some((id.as_str(), path.as_path())),
            (None, None) => None,
            _ => {
                return Err(RegistryError::Config {
                    what: "--statement-key and --statement-key-id go together".into(),
                });
            }
        };
        RegistryTrust::load(&bundle, key).map(Some)
    }
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print its secret once.
    Create {
        #[command(flatten)]
        storage: StorageArgs,
        /// Who the token acts for (audit log; owner of namespaces it reserves).
        #[arg(long)]
        principal: String,
        /// Namespace globs the token may act on, e.g. 'vendor.acme.*' (repeatable; not needed
        /// for an admin-only token).
        #[arg(long = "namespace")]
        namespaces: Vec<String>,
        /// Comma-separated scopes: publish, yank, yank-revert, admin (or packs:publish, …).
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<String>,
        /// Expire the token after this many days.
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// The tenant the token acts for: reads see that tenant's view, and pack actions are
        /// confined to `private.<tenant>.*` (the tenant must exist: `tenant create`).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a token by its id (the part after `owp_`, before the next `_`).
    Revoke {
        #[command(flatten)]
        storage: StorageArgs,
        /// Token id.
        token_id: String,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant.
    Create {
        #[command(flatten)]
        storage: StorageArgs,
        /// Tenant name: one lowercase name segment; its namespace is `private.<name>.*`.
        name: String,
        /// Public packs the tenant sees, `GLOB[@RANGE]` (repeatable; none: all).
        #[arg(long = "allow")]
        allow: Vec<String>,
        /// Packs or versions hidden from the tenant, `GLOB[@RANGE]` (repeatable; wins over --allow).
        #[arg(long = "deny")]
        deny: Vec<String>,
        /// Hide public versions published less than this many hours ago (a cooldown).
        #[arg(long, default_value_t = 0)]
        min_publish_age_hours: u64,
        /// Hide every version a security advisory matches.
        #[arg(long)]
        block_advisories: bool,
    },
}

async fn tenant(command: TenantCommand, file: &FileConfig) -> Result<(), RegistryError> {
    let stamp = pack_verify::trust::now_rfc3339();
    match command {
        TenantCommand::Create { storage, name, allow, deny, min_publish_age_hours, block_advisories } => {
            if !registry_server::tenant::valid_tenant_name(&name) {
                return Err(RegistryError::Config {
                    what: format!("tenant name `{name}` must be one lowercase name segment, e.g. `acme`"),
                });
            }
            let config = registry_server::tenant::TenantConfig {
                allow,
                deny,
                min_publish_age_secs: min_publish_age_hours.saturating_mul(3600),
                block_advisories,
            };
            config.filter()?;
            let store = Storage::open(&storage.storage_config(file)).await?;
            let details = serde_json::to_value(&config).unwrap_or(serde_json::Value::Null);
            let audit = AuditEvent::new(&stamp, "operator", "tenant-create", &name, details);
            if store.db.insert_tenant(&name, &config, &audit).await? {
                println!("created tenant {name} (namespace private.{name}.*)");
                Ok(())
            } else {
                Err(RegistryError::Config { what: format!("tenant `{name}` already exists") })
            }
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn hint(err: &RegistryError) -> &'static str {
    match err {
        RegistryError::Database(_) | RegistryError::Migration(_) => {
            "check --database-url (or OPENWOP_DATABASE_URL) and that the database server is running"
        }
        RegistryError::ObjectStore(_) | RegistryError::BlobMissing { .. } => {
            "check --object-store and the AWS_* settings (AWS_ENDPOINT_URL, AWS_REGION, credentials)"
        }
        RegistryError::Config { .. } => "fix the flag or environment variable named above",
        RegistryError::InvalidDocument { .. } => "fix or remove the document named above and retry",
        // The verifier's own hint fits every place this comes from: an imported tree, a bundle, a
        // trust bundle or key file named in the flags or the config.
        RegistryError::Verify { source, .. } => source.hint(),
        RegistryError::Io { .. } => "check the path exists and is readable",
        RegistryError::Refused { .. } => "fix the request as the message says",
    }
}

async fn serve(
    config: Config,
    trust: Option<std::sync::Arc<RegistryTrust>>,
    limits: Limits,
    mirror: Option<std::sync::Arc<registry_server::mirror::Mirror>>,
    http_threads: usize,
) -> Result<(), RegistryError> {
    let storage = Storage::open(&config).await?;
    let publishing = trust.is_some();
    tracing::info!(
        listen = %config.listen,
        database = ?storage.db.backend(),
        object_store = %redact(&config.object_store()),
        publishing,
        "registry-server starting"
    );
    let registry = match trust {
        Some(trust) => Registry::new(storage.clone()).with_trust(trust),
        None => Registry::new(storage.clone()),
    };
    let (registry, _periodic) = match mirror {
        Some(mirror) => {
            tracing::info!(upstreams = mirror.upstreams().len(), "mirror mode");
            let tasks = mirror.spawn_periodic(storage);
            (registry.with_mirror(mirror), tasks)
        }
        None => (registry, Vec::new()),
    };
    let app = registry_server::api::router_with(registry, limits);
    let io_error = |source| RegistryError::Io { path: config.listen.to_string(), source };
    let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(io_error)?;
    if http_threads == 0 {
        axum::serve(listener.tap_io(no_delay), app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(io_error)?;
    } else {
        serve_threads(listener.into_std().map_err(io_error)?, app, http_threads).await.map_err(io_error)?;
    }
    tracing::info!("registry-server stopped");
    Ok(())
}

/// Small responses go out at once (hyper writes each response in one call anyway).
fn no_delay(stream: &mut tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
}

/// Serves `app` on `threads` OS threads, each running a single-threaded tokio runtime that
/// accepts from (a duplicate of) the one listening socket, like nginx's worker processes: a
/// connection stays on the thread that accepted it, so a request is parsed, answered and written
/// without waking or stealing across threads. Background work (the cache's SQLite poller, mirror
/// sync) keeps running on the main runtime or the thread that started it. Stops gracefully on
/// SIGINT/SIGTERM, or as soon as one thread fails.
async fn serve_threads(
    listener: std::net::TcpListener,
    app: registry_server::api::front::Front,
    threads: usize,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<std::io::Result<()>>(threads);
    for i in 0..threads {
        let listener = listener.try_clone()?;
        let app = app.clone();
        let mut stop = stop_rx.clone();
        let done = done_tx.clone();
        std::thread::Builder::new().name(format!("http-{i}")).spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread().enable_all().build().and_then(|runtime| {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?.tap_io(no_delay);
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stop.wait_for(|stop| *stop).await;
                        })
                        .await
                })
            });
            let _ = done.blocking_send(result);
        })?;
    }
    drop(done_tx);
    drop(listener);
    let mut outcome = Ok(());
    tokio::select! {
        () = shutdown_signal() => {},
        first = done_rx.recv() => {
            // A thread stopped on its own: an error (it is reported) or a bug; stop the others.
            if let Some(Err(e)) = first {
                outcome = Err(e);
            }
        }
    }
    let _ = stop_tx.send(true);
    while let Some(result) = done_rx.recv().await {
        if let Err(e) = result
            && outcome.is_ok()
        {
            outcome = Err(e);
        }
    }
    outcome
}

/// Object-store URLs carry no secrets, but strip any userinfo defensively.
fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((_, rest)) => format!("…@{rest}"),
        None => url.to_string(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

async fn run(cli: Cli) -> Result<(), RegistryError> {
    let file = match &cli.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    match cli.command {
        Command::Serve { storage, listen, write, writes_per_minute, request_timeout_secs, http_threads } => {
            let listen = listen.or(file.listen).unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
            let defaults = Limits::default();
            let limits = Limits {
                writes_per_minute: writes_per_minute.or(file.writes_per_minute).unwrap_or(defaults.writes_per_minute),
                auth_failures_per_minute: defaults.auth_failures_per_minute,
                request_timeout: request_timeout_secs
                    .or(file.request_timeout_secs)
                    .map_or(defaults.request_timeout, std::time::Duration::from_secs),
            };
            let trust = write.load(&file)?.map(std::sync::Arc::new);
            let mirror = match &file.mirror {
                Some(section) => Some(std::sync::Arc::new(
                    registry_server::mirror::Mirror::new(section.load()?)?.with_trust(trust.clone())?,
                )),
                None => None,
            };
            let http_threads = http_threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get));
            serve(storage.config(&file, listen), trust, limits, mirror, http_threads).await
        }
        Command::Mirror { command: MirrorCommand::Sync { storage, upstream, patterns, lockfile } } => {
            mirror_sync(&file, &storage, upstream.as_deref(), &patterns, lockfile.as_deref()).await
        }
        Command::Token { command } => token(command, &file).await,
        Command::Tenant { command } => tenant(command, &file).await,
        Command::Gc { storage, grace_minutes, dry_run } => {
            let store = Storage::open(&storage.storage_config(&file)).await?;
            let grace = std::time::Duration::from_secs(grace_minutes.saturating_mul(60));
            let report = registry_server::gc::collect(&store, grace, dry_run).await?;
            for key in &report.removed {
                println!("{} {key}", if dry_run { "would remove" } else { "removed" });
            }
            println!(
                "{} referenced, {} unreferenced {} ({} bytes), {} kept inside the grace period",
                report.referenced,
                report.removed.len(),
                if dry_run { "found" } else { "removed" },
                report.removed_bytes,
                report.young
            );
            Ok(())
        }
        Command::Import { tree, storage, trust, skip_verification } => {
            let bundle = match trust {
                Some(path) => {
                    let bytes = std::fs::read(&path)
                        .map_err(|source| RegistryError::Io { path: path.display().to_string(), source })?;
                    TrustBundle::parse(&bytes)
                        .map_err(|source| RegistryError::Verify { context: path.display().to_string(), source })?
                }
                None => TrustBundle::reference()
                    .map_err(|source| RegistryError::Verify { context: "shipped bundle".into(), source })?,
            };
            if skip_verification {
                tracing::warn!("--skip-verification: signatures of {} are NOT checked", tree.display());
            }
            let config = storage.storage_config(&file);
            let store = Storage::open(&config).await?;
            let summary = import_tree(&store, &tree, ImportOptions { bundle, skip_verification }).await?;
            println!(
                "imported {} versions ({} already present, {} keys) from {}",
                summary.imported,
                summary.unchanged,
                summary.keys,
                tree.display()
            );
            Ok(())
        }
        Command::ImportBundle { bundle, storage, trust, accept_bundled_trust, registry } => {
            use registry_server::import_bundle::{BundleImportOptions, BundleLimits, TrustPin, import_bundle};
            let pin = match (trust, accept_bundled_trust) {
                (Some(path), _) => {
                    let bytes = std::fs::read(&path)
                        .map_err(|source| RegistryError::Io { path: path.display().to_string(), source })?;
                    TrustPin::Pinned(
                        TrustBundle::parse(&bytes)
                            .map_err(|source| RegistryError::Verify { context: path.display().to_string(), source })?,
                    )
                }
                (None, true) => {
                    tracing::warn!(
                        "--accept-bundled-trust: {} is verified against the trust bundle it SHIPS, not one you pinned",
                        bundle.display()
                    );
                    eprintln!(
                        "warning: --accept-bundled-trust: trusting the keys {} ships for itself",
                        bundle.display()
                    );
                    TrustPin::AcceptBundled
                }
                (None, false) => {
                    return Err(RegistryError::Config {
                        what:
                            "import-bundle needs the source registry's trust bundle: pass --trust FILE (the bundle's \
                               own must match it), or --accept-bundled-trust to trust what the bundle ships"
                                .into(),
                    });
                }
            };
            let store = Storage::open(&storage.storage_config(&file)).await?;
            let options = BundleImportOptions { pin, registry, limits: BundleLimits::default() };
            let summary = import_bundle(&store, &bundle, options).await?;
            println!(
                "imported {} versions ({} already present, {} keys) of {} from {}",
                summary.import.imported,
                summary.import.unchanged,
                summary.import.keys,
                summary.registry,
                bundle.display()
            );
            Ok(())
        }
        Command::Export { dir, storage, force } => {
            let config = storage.storage_config(&file);
            let registry = Registry::new(Storage::open(&config).await?);
            let options = registry_server::export::ExportOptions { force };
            let summary = registry_server::export::export_tree(&registry, &dir, options).await?;
            println!(
                "exported {} packs, {} versions, {} schema files ({} files) to {}",
                summary.packs,
                summary.versions,
                summary.schemas,
                summary.files,
                dir.display()
            );
            Ok(())
        }
    }
}

async fn mirror_sync(
    file: &FileConfig,
    storage: &StorageArgs,
    upstream: Option<&str>,
    patterns: &[String],
    lockfile: Option<&std::path::Path>,
) -> Result<(), RegistryError> {
    use registry_server::mirror::{Mirror, Pattern, SyncScope};
    let Some(section) = &file.mirror else {
        return Err(RegistryError::Config { what: "no [mirror] section in the --config file".into() });
    };
    // The trust (and statement key) from the config file, for a mirror that re-signs.
    let trust = WriteArgs::default().load(file)?.map(std::sync::Arc::new);
    let mirror = Mirror::new(section.load()?)?.with_trust(trust)?;
    let mut scope =
        SyncScope { patterns: patterns.iter().map(|p| Pattern::parse(p)).collect::<Result<_, _>>()?, lock: Vec::new() };
    if let Some(path) = lockfile {
        let bytes =
            std::fs::read(path).map_err(|source| RegistryError::Io { path: path.display().to_string(), source })?;
        scope.lock = registry_server::mirror::lock_entries(&bytes)
            .map_err(|reason| RegistryError::InvalidDocument { path: path.display().to_string(), reason })?;
    }
    let store = Storage::open(&storage.storage_config(file)).await?;
    let reports = mirror.sync(&store, upstream, &scope).await?;
    let mut failed = false;
    for r in &reports {
        println!(
            "{}: {} stored, {} unchanged, {} refused{}",
            r.upstream,
            r.stored.len(),
            r.unchanged,
            r.refused.len(),
            r.error.as_deref().map(|e| format!("; stopped: {e}")).unwrap_or_default()
        );
        for refusal in &r.refused {
            println!("  refused {}: {} ({})", refusal.subject, refusal.message, refusal.code);
        }
        failed |= !r.ok();
    }
    if failed {
        return Err(RegistryError::refused(502, "mirror_sync_incomplete", "some upstream did not sync completely"));
    }
    Ok(())
}

async fn token(command: TokenCommand, file: &FileConfig) -> Result<(), RegistryError> {
    let now = time::OffsetDateTime::now_utc();
    let stamp = pack_verify::trust::format_time(now);
    match command {
        TokenCommand::Create { storage, principal, namespaces, scope, expires_in_days, tenant } => {
            let mut scopes = Vec::new();
            for s in &scope {
                scopes.push(Scope::parse(s).ok_or_else(|| RegistryError::Config {
                    what: format!("unknown scope `{s}` (known: publish, yank, yank-revert, admin)"),
                })?);
            }
            // A tenant token acts on its own namespace unless told otherwise (and never beyond it).
            let namespaces = match &tenant {
                Some(t) if namespaces.is_empty() => vec![format!("private.{t}.*")],
                _ => namespaces,
            };
            if namespaces.is_empty() && scopes.iter().any(|s| *s != Scope::Admin) {
                return Err(RegistryError::Config {
                    what: "pack scopes need at least one --namespace, e.g. --namespace 'vendor.acme.*'".into(),
                });
            }
            for ns in &namespaces {
                let base = ns.strip_suffix(".*").unwrap_or(ns);
                if base.is_empty() || base.contains(['*', ' ', '/']) {
                    return Err(RegistryError::Config {
                        what: format!("namespace `{ns}` must be a pack name or a `prefix.*` glob"),
                    });
                }
            }
            let expires_at =
                expires_in_days.map(|d| pack_verify::trust::format_time(now + time::Duration::days(i64::from(d))));
            let store = Storage::open(&storage.storage_config(file)).await?;
            let new = NewToken { principal: &principal, namespaces: &namespaces, scopes: &scopes, expires_at };
            let (secret, row) = create_tenant_token(&store.db, &new, tenant.as_deref(), &stamp).await?;
            eprintln!("created token {} for {principal} (shown once; store it now)", row.token_id);
            println!("{secret}");
            Ok(())
        }
        TokenCommand::Revoke { storage, token_id } => {
            let store = Storage::open(&storage.storage_config(file)).await?;
            let audit = AuditEvent::new(&stamp, "operator", "token-revoke", &token_id, serde_json::Value::Null);
            if store.db.revoke_token(&token_id, &audit).await? {
                println!("revoked token {token_id}");
                Ok(())
            } else {
                Err(RegistryError::Config { what: format!("no active token with id `{token_id}`") })
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error[{}]: {err}\n  hint: {}", err.code(), hint(&err));
            ExitCode::FAILURE
        }
    }
}

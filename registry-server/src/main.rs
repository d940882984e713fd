//! `registry-server`: run the OpenWOP pack registry, or import a static tree into it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pack_verify::trust::bundle::TrustBundle;
use registry_server::import::{ImportOptions, import_tree};
use registry_server::storage::Storage;
use registry_server::{Config, Registry, RegistryError};

#[derive(Parser)]
#[command(name = "registry-server", version, about = "The OpenWOP pack registry")]
struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty, env = "OPENWOP_LOG_FORMAT")]
    log_format: LogFormat,
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
    #[arg(long, env = "OPENWOP_DATA_DIR", default_value = ".openwop-registry")]
    data_dir: PathBuf,
    /// Metadata database: sqlite://FILE or postgres://… (default: <data-dir>/registry.db).
    #[arg(long, env = "OPENWOP_DATABASE_URL")]
    database_url: Option<String>,
    /// Blob storage: s3://BUCKET[/PREFIX], file:///DIR or a directory (default: <data-dir>/blobs).
    #[arg(long, env = "OPENWOP_OBJECT_STORE")]
    object_store: Option<String>,
}

impl StorageArgs {
    fn config(&self, listen: SocketAddr) -> Config {
        Config {
            data_dir: self.data_dir.clone(),
            listen,
            database_url: self.database_url.clone(),
            object_store: self.object_store.clone(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the registry over HTTP.
    Serve {
        #[command(flatten)]
        storage: StorageArgs,
        /// Address to listen on.
        #[arg(long, env = "OPENWOP_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
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
        RegistryError::Verify { .. } => {
            "the tree does not verify against the trust bundle; pass --trust with the registry's bundle"
        }
        RegistryError::Io { .. } => "check the path exists and is readable",
    }
}

async fn serve(config: Config) -> Result<(), RegistryError> {
    let storage = Storage::open(&config).await?;
    tracing::info!(
        listen = %config.listen,
        database = ?storage.db.backend(),
        object_store = %redact(&config.object_store()),
        "registry-server starting"
    );
    let app = registry_server::api::router(Registry::new(storage));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| RegistryError::Io { path: config.listen.to_string(), source })?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|source| RegistryError::Io { path: config.listen.to_string(), source })?;
    tracing::info!("registry-server stopped");
    Ok(())
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
    match cli.command {
        Command::Serve { storage, listen } => serve(storage.config(listen)).await,
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
            let config = storage.config(SocketAddr::from(([127, 0, 0, 1], 0)));
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

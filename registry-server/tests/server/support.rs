//! Test stacks, a server on an ephemeral port, and fixture access.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use registry_server::storage::Storage;
use registry_server::{Config, Registry};
use sqlx::Connection;

/// Which storage stack a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackKind {
    SqliteFs,
    PostgresS3,
}

/// A throwaway registry state on one stack.
pub struct TestStack {
    pub kind: StackKind,
    pub config: Config,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}{}x{}x{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst), nanos % 1_000_000_000)
}

fn require_services() -> bool {
    std::env::var("OPENWOP_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// The stacks available here: always SQLite + files; PostgreSQL + S3 when configured.
pub async fn stacks() -> Vec<TestStack> {
    let mut out = vec![sqlite_fs()];
    match (std::env::var("OPENWOP_TEST_DATABASE_URL"), std::env::var("OPENWOP_TEST_S3_ENDPOINT")) {
        (Ok(db), Ok(s3)) => out.push(postgres_s3(&db, &s3).await),
        _ if require_services() => {
            panic!("OPENWOP_REQUIRE_SERVICES=1 but OPENWOP_TEST_DATABASE_URL / OPENWOP_TEST_S3_ENDPOINT are not set")
        }
        _ => eprintln!(
            "SKIPPED (PostgreSQL + S3 stack): set OPENWOP_TEST_DATABASE_URL and OPENWOP_TEST_S3_ENDPOINT (.ci/run does)"
        ),
    }
    out
}

fn sqlite_fs() -> TestStack {
    let dir = tempfile::tempdir().unwrap();
    TestStack { kind: StackKind::SqliteFs, config: Config::embedded(dir.path()), _dir: dir, pg: None }
}

pub(crate) async fn postgres_s3(admin_url: &str, s3_endpoint: &str) -> TestStack {
    let db_name = unique("openwop_test_");
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {admin_url}: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}"))).execute(&mut admin).await.unwrap();
    admin.close().await.ok();
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    let database_url = format!("{base}/{db_name}");

    let bucket = unique("openwop-test-").replace('_', "-");
    let endpoint = s3_endpoint.trim_end_matches('/');
    let resp = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("cannot reach the S3 server at {endpoint}: {e}"));
    assert!(resp.status().is_success(), "creating bucket {bucket}: {}", resp.status());

    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::embedded(dir.path());
    config.database_url = Some(database_url);
    config.object_store = Some(format!("s3://{bucket}/blobs?endpoint={endpoint}&region=us-east-1"));
    TestStack { kind: StackKind::PostgresS3, config, _dir: dir, pg: Some((admin_url.to_string(), db_name)) }
}

impl TestStack {
    pub async fn storage(&self) -> Storage {
        Storage::open(&self.config).await.unwrap_or_else(|e| panic!("{:?}: opening storage: {e}", self.kind))
    }

    /// Drops the throwaway PostgreSQL database.
    pub async fn cleanup(self) {
        if let Some((admin_url, db_name)) = &self.pg
            && let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await
        {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")))
                .execute(&mut admin)
                .await;
        }
    }
}

/// A running server on an ephemeral loopback port.
pub struct TestServer {
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start(storage: Storage) -> Self {
        Self::start_registry(Registry::new(storage)).await
    }

    pub async fn start_registry(registry: Registry) -> Self {
        let app = registry_server::api::router(registry);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { base: format!("http://{addr}"), task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The fixture registry tree, or `None` (after saying so loudly) when `OPENWOP_FIXTURES` is unset.
pub fn fixture_tree(test: &str) -> Option<PathBuf> {
    match std::env::var_os("OPENWOP_FIXTURES") {
        Some(dir) => {
            let tree = PathBuf::from(dir).join("openwop-registry");
            assert!(
                tree.join("v1/index.json").is_file(),
                "OPENWOP_FIXTURES is set but {} has no v1/index.json",
                tree.display()
            );
            Some(tree)
        }
        None => {
            eprintln!("SKIPPED {test}: OPENWOP_FIXTURES not set (run with OPENWOP_FIXTURES=../shared/fixtures)");
            None
        }
    }
}

/// A private moto S3 server a test may freeze (SIGSTOP) without stalling every other test, with
/// the PostgreSQL URL to pair it with. Killed (after a thaw) on drop.
pub struct PrivateS3 {
    child: std::process::Child,
    /// Its endpoint URL.
    pub endpoint: String,
    /// The test database URL.
    pub database_url: String,
}

impl PrivateS3 {
    /// Starts one, or returns `None` (skipping loudly) when PostgreSQL or `moto_server` is
    /// missing; under `OPENWOP_REQUIRE_SERVICES=1` that is a failure instead.
    pub async fn start(test: &str) -> Option<Self> {
        use std::process::{Command, Stdio};
        let required = std::env::var("OPENWOP_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
        let moto_present =
            Command::new("moto_server").arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
        let (Ok(database_url), true) = (std::env::var("OPENWOP_TEST_DATABASE_URL"), moto_present) else {
            assert!(!required, "OPENWOP_REQUIRE_SERVICES=1 but PostgreSQL or moto_server is missing");
            eprintln!("SKIPPED {test}: needs OPENWOP_TEST_DATABASE_URL and moto_server");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if reqwest::get(&endpoint).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Some(Self { child, endpoint, database_url })
    }

    /// Freezes the server: requests hang until [`PrivateS3::thaw`].
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen server run again.
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let status = std::process::Command::new("kill").args([sig, &self.child.id().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill {sig} moto_server");
    }
}

impl Drop for PrivateS3 {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").args(["-CONT", &self.child.id().to_string()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

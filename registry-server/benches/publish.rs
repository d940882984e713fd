//! Publish throughput with full verification, and a synthetic registry for the memory check.
//!
//! ```sh
//! cargo bench -p registry-server --bench publish              # SQLite + local directory
//! # and PostgreSQL + S3 when both are set (as for the tests):
//! OPENWOP_TEST_DATABASE_URL=postgres://… OPENWOP_TEST_S3_ENDPOINT=http://127.0.0.1:45400 \
//!   cargo bench -p registry-server --bench publish
//! # fill a data dir with N synthetic versions (bench/run.sh's `rss` section):
//! BENCH_POPULATE=/tmp/dir BENCH_VERSIONS=10000 cargo bench -p registry-server --bench publish
//! ```
//!
//! Packs are built and signed before the clock starts. Each publish is an HTTP `PUT` to an
//! in-process server on loopback (token check, namespace, the full `pack-verify` verification of
//! the tarball, keychain trust, statement signing, blob writes, one SQL transaction).
//! `BENCH_PUBLISHES` (default 2000) versions are sent by `BENCH_CONCURRENCY` (default 16) clients.
//! Prints publishes/s. Not a test: nothing here fails on a timing.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, missing_docs)]

#[path = "../tests/server/support.rs"]
mod support;
#[path = "../tests/server/world.rs"]
mod world;

use std::sync::Arc;
use std::time::{Duration, Instant};

use registry_server::Registry;
use registry_server::api::limits::Limits;
use registry_server::auth::Scope;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `count` signed packs: `vendor.acme.bench<i / 10>` at `1.0.<i % 10>`, a small README each.
fn packs(count: usize) -> Vec<(String, String, Vec<u8>)> {
    let signer = world::key(2);
    (0..count)
        .map(|i| {
            let name = format!("vendor.acme.bench{}", i / 10);
            let version = format!("1.0.{}", i % 10);
            let body = world::pack(&name, &version, &signer, "acme-1", &format!("# bench pack {i}\n"));
            (name, version, body)
        })
        .collect()
}

async fn publish_all(
    registry: Registry,
    token: &str,
    packs: Vec<(String, String, Vec<u8>)>,
    concurrency: usize,
) -> f64 {
    let limits = Limits { writes_per_minute: u32::MAX / 2, ..Limits::default() };
    let app = registry_server::api::router_with(registry, limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let client = reqwest::Client::new();
    let n = packs.len();
    let queue = Arc::new(std::sync::Mutex::new(packs));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (queue, client, base, token) = (queue.clone(), client.clone(), base.clone(), token.to_string());
        workers.push(tokio::spawn(async move {
            loop {
                let Some((name, version, body)) = queue.lock().unwrap().pop() else { return };
                let r = client
                    .put(format!("{base}/v1/packs/{name}/-/{version}.tgz"))
                    .bearer_auth(&token)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 201, "{name}@{version}: {}", r.text().await.unwrap_or_default());
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = start.elapsed();
    server.abort();
    n as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
}

async fn run(stack: &support::TestStack, world: &world::World, count: usize, concurrency: usize) {
    let storage = stack.storage().await;
    let token = world::token(&storage, "acme", &["vendor.acme.*"], &[Scope::Publish]).await;
    let built = Instant::now();
    let packs = packs(count);
    let build = built.elapsed();
    let registry = Registry::new(storage).with_trust(world.trust());
    let rate = publish_all(registry, &token, packs, concurrency).await;
    println!(
        "publish/{:?}: {count} versions, {concurrency} clients: {rate:.0} publishes/s ({:.2} ms each; packs built in {:.2?})",
        stack.kind,
        1000.0 / rate,
        build
    );
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep that quick.
    let is_bench = std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let world = world::World::new();
        if let Ok(dir) = std::env::var("BENCH_POPULATE") {
            let count = env_usize("BENCH_VERSIONS", 10_000);
            let config = registry_server::Config::embedded(&dir);
            let storage = registry_server::storage::Storage::open(&config).await.unwrap();
            let token = world::token(&storage, "acme", &["vendor.acme.*"], &[Scope::Publish]).await;
            let registry = Registry::new(storage).with_trust(world.trust());
            let rate = publish_all(registry, &token, packs(count), 16).await;
            println!("populated {dir} with {count} versions ({rate:.0} publishes/s)");
            tokio::time::sleep(Duration::from_millis(10)).await;
            return;
        }
        let count = if is_bench { env_usize("BENCH_PUBLISHES", 2000) } else { 20 };
        let concurrency = env_usize("BENCH_CONCURRENCY", 16);
        for stack in support::stacks().await {
            run(&stack, &world, count, concurrency).await;
            stack.cleanup().await;
        }
    });
}

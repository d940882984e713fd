//! Crash consistency: publishers keep publishing while the server is killed with SIGKILL at
//! random moments and restarted. Afterwards every acknowledged publish is present and intact,
//! and every visible version is whole (all its blobs present, its bytes matching its integrity);
//! nothing unacknowledged is half-visible. Runs on each stack.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use registry_server::auth::Scope;
use reqwest::StatusCode;
use tokio::sync::Mutex;

use crate::operations::start_replica;
use crate::support::stacks;
use crate::world::{World, key, pack, token};

/// `(name, version)` → the bytes the server acknowledged.
type Acknowledged = BTreeMap<(String, String), Vec<u8>>;

/// xorshift64*: reproducible randomness without a dependency; the seed is printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn publishes() -> usize {
    std::env::var("OPENWOP_CRASH_PUBLISHES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_publishes_loses_nothing_acknowledged() {
    let world = World::new();
    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1;
    eprintln!("crash test seed {seed}, {} publishes per stack", publishes());
    for stack in stacks().await {
        let storage = stack.storage().await;
        let secret = token(&storage, "acme", &["vendor.acme.*"], &[Scope::Publish]).await;
        drop(storage);
        let total = publishes();
        // Ten packs, `total / 10` versions each; bodies differ so every version has its own bytes.
        let work: Vec<(String, String, Vec<u8>)> = (0..total)
            .map(|i| {
                let name = format!("vendor.acme.crash{}", i % 10);
                let version = format!("1.0.{}", i / 10);
                let body = pack(&name, &version, &key(2), "acme-1", &format!("body {i}"));
                (name, version, body)
            })
            .collect();
        let work = Arc::new(work);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let acknowledged: Arc<Mutex<Acknowledged>> = Arc::default();
        let server = Arc::new(Mutex::new(start_replica(&stack, &world).await));
        let base = Arc::new(Mutex::new(server.lock().await.base.clone()));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));

        let mut publishers = Vec::new();
        for _ in 0..4 {
            let (work, next, acknowledged, base, secret) =
                (work.clone(), next.clone(), acknowledged.clone(), base.clone(), secret.clone());
            publishers.push(tokio::spawn(async move {
                let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some((name, version, body)) = work.get(i) else { break };
                    // Retry until acknowledged: after a crash the same bytes give 201 or 200.
                    for _ in 0..200 {
                        let url = format!("{}/v1/packs/{name}/-/{version}.tgz", base.lock().await);
                        let sent = client.put(url).bearer_auth(&secret).body(body.clone()).send().await;
                        match sent.map(|r| r.status()) {
                            Ok(StatusCode::CREATED | StatusCode::OK) => {
                                acknowledged.lock().await.insert((name.clone(), version.clone()), body.clone());
                                break;
                            }
                            Ok(status) if status.is_client_error() => panic!("{name}@{version}: {status}"),
                            _ => tokio::time::sleep(Duration::from_millis(20)).await,
                        }
                    }
                }
            }));
        }
        // The killer: SIGKILL at random moments, restart at once.
        let killer = {
            let (server, base, done, stack_world) = (server.clone(), base.clone(), done.clone(), (&stack, &world));
            let mut rng = Rng(seed);
            async move {
                let mut kills = 0;
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(100 + rng.next() % 700)).await;
                    if done.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let mut guard = server.lock().await;
                    let _ = guard.child.kill(); // SIGKILL
                    let _ = guard.child.wait();
                    kills += 1;
                    *guard = start_replica(stack_world.0, stack_world.1).await;
                    *base.lock().await = guard.base.clone();
                }
                kills
            }
        };
        let waiter = async {
            for p in publishers {
                p.await.unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        };
        let (kills, ()) = tokio::join!(killer, waiter);
        let acknowledged = acknowledged.lock().await.clone();
        eprintln!("{:?}: {} acknowledged, {kills} SIGKILLs", stack.kind, acknowledged.len());
        assert_eq!(acknowledged.len(), total, "every publish was eventually acknowledged");
        assert!(kills > 0, "the server was never killed; the test proved nothing");

        // A clean restart; then check every acknowledged version and every visible one.
        let base = server.lock().await.base.clone();
        let client = reqwest::Client::new();
        for ((name, version), body) in &acknowledged {
            let served = client.get(format!("{base}/v1/packs/{name}/-/{version}.tgz")).send().await.unwrap();
            assert_eq!(served.status(), StatusCode::OK, "{name}@{version} lost");
            assert_eq!(served.bytes().await.unwrap()[..], body[..], "{name}@{version} corrupted");
        }
        let storage = stack.storage().await;
        let rows = storage.db.all_versions().await.unwrap();
        assert_eq!(rows.len(), total, "no version beyond the acknowledged ones is visible");
        for row in rows {
            let tgz = storage.blobs.get(&row.tarball_blob).await.unwrap();
            pack_verify::integrity::Integrity::parse(&row.integrity).unwrap().check(&tgz).unwrap();
            assert_eq!(storage.blobs.get(&row.signature_blob).await.unwrap().len(), 64);
            for blob in [&row.sbom_blob, &row.statement_blob].into_iter().flatten() {
                storage.blob(blob).await.unwrap();
            }
        }
        drop(server);
        stack.cleanup().await;
    }
}

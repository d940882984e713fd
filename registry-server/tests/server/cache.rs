//! The metadata cache: a write on one replica invalidates what the other replica cached, and
//! cached reads keep their ETag/304 behaviour. Checks visibility only, never timing.

use std::time::Duration;

use registry_server::Registry;
use registry_server::auth::Scope;
use reqwest::StatusCode;

use crate::operations::start_replica;
use crate::support::{StackKind, TestServer, stacks};
use crate::world::{World, key, pack, token};

/// How many versions `GET /v1/packs/{name}` lists through `base` (0 when the pack is unknown).
async fn listed(client: &reqwest::Client, base: &str, name: &str) -> usize {
    let r = client.get(format!("{base}/v1/packs/{name}")).send().await.unwrap();
    if r.status() == StatusCode::NOT_FOUND {
        return 0;
    }
    let index: serde_json::Value = r.json().await.unwrap();
    index["versions"].as_array().map_or(0, Vec::len)
}

/// Reads through `base` until the pack lists `want` versions. SQLite replicas see a commit on the
/// next request (the `-shm` header check); PostgreSQL ones once the NOTIFY is delivered.
async fn eventually(client: &reqwest::Client, base: &str, name: &str, want: usize, immediate: bool) {
    let mut got = listed(client, base, name).await;
    if immediate {
        assert_eq!(got, want, "{base}: stale pack index right after the write");
        return;
    }
    for _ in 0..400 {
        if got == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        got = listed(client, base, name).await;
    }
    panic!("{base}: the pack index never showed {want} versions (last {got})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_replica_invalidates_the_other() {
    let world = World::new();
    for stack in stacks().await {
        let storage = stack.storage().await;
        let publisher = token(&storage, "acme", &["vendor.acme.*"], &[Scope::Publish, Scope::Yank]).await;
        drop(storage);
        let immediate = matches!(stack.kind, StackKind::SqliteFs);
        let a = start_replica(&stack, &world).await;
        let b = start_replica(&stack, &world).await;
        let client = reqwest::Client::new();
        let name = "vendor.acme.cached";

        let put = |base: String, version: &str| {
            let body = pack(name, version, &key(2), "acme-1", version);
            client.put(format!("{base}/v1/packs/{name}/-/{version}.tgz")).bearer_auth(&publisher).body(body).send()
        };
        assert_eq!(put(a.base.clone(), "1.0.0").await.unwrap().status(), StatusCode::CREATED);
        // Both replicas render and cache the index, the pack index and the manifest.
        for base in [&a.base, &b.base] {
            eventually(&client, base, name, 1, immediate).await;
            assert_eq!(listed(&client, base, name).await, 1);
        }
        let index_b = client.get(format!("{}/v1/index.json", b.base)).send().await.unwrap();
        let etag = index_b.headers()["etag"].to_str().unwrap().to_string();

        // A publish through A: B's cached pack index and registry index move.
        assert_eq!(put(a.base.clone(), "1.1.0").await.unwrap().status(), StatusCode::CREATED);
        eventually(&client, &b.base, name, 2, immediate).await;
        let r = client.get(format!("{}/v1/index.json", b.base)).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "the registry index changed, so no 304 for the old ETag");
        let fresh = r.headers()["etag"].to_str().unwrap().to_string();
        let r = client.get(format!("{}/v1/index.json", b.base)).header("if-none-match", &fresh).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

        // A yank through B: A's cached manifest shows it.
        let manifest = format!("{}/v1/packs/{name}/-/1.0.0.json", a.base);
        let before: serde_json::Value = client.get(&manifest).send().await.unwrap().json().await.unwrap();
        assert!(before.get("yanked").is_none_or(serde_json::Value::is_null), "{before}");
        let yank = client
            .post(format!("{}/v1/packs/{name}/-/1.0.0/yank", b.base))
            .bearer_auth(&publisher)
            .json(&serde_json::json!({ "reason": "cache test" }))
            .send()
            .await
            .unwrap();
        assert!(yank.status().is_success(), "{}", yank.text().await.unwrap());
        let mut yanked = false;
        for _ in 0..400 {
            let after: serde_json::Value = client.get(&manifest).send().await.unwrap().json().await.unwrap();
            yanked = after.get("yanked").is_some_and(|y| !y.is_null());
            if yanked || immediate {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(yanked, "{:?}: A still serves the unyanked manifest", stack.kind);
        drop((a, b));
        stack.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_writes_invalidate_at_once() {
    let world = World::new();
    for stack in stacks().await {
        let storage = stack.storage().await;
        let publisher = token(&storage, "acme", &["vendor.acme.*"], &[Scope::Publish]).await;
        let server = TestServer::start_registry(Registry::new(storage.clone()).with_trust(world.trust())).await;
        let client = reqwest::Client::new();
        let name = "vendor.acme.local";
        for (i, version) in ["1.0.0", "1.0.1", "1.0.2"].into_iter().enumerate() {
            let body = pack(name, version, &key(2), "acme-1", version);
            let r = client
                .put(format!("{}/v1/packs/{name}/-/{version}.tgz", server.base))
                .bearer_auth(&publisher)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            // Read-your-writes on the replica that wrote: no delay on any backend.
            assert_eq!(listed(&client, &server.base, name).await, i + 1, "{:?}", stack.kind);
            let index: serde_json::Value =
                client.get(format!("{}/v1/index.json", server.base)).send().await.unwrap().json().await.unwrap();
            assert!(index.to_string().contains(version), "{:?}: {version} missing from the index", stack.kind);
        }
        drop(server);
        stack.cleanup().await;
    }
}

/// The SQLite watcher reads `<db>-shm` through its own descriptor. Closing any descriptor of a
/// file drops every POSIX lock the process holds on it, SQLite's WAL locks on `-shm` included, so
/// the watcher must never close one. Checked from outside: while a replica runs (and polls every
/// 100 ms), another process must not get the exclusive "dead man switch" lock SQLite takes to
/// reset a `-shm` nobody uses (byte 128, `UNIX_SHM_DMS` in SQLite's unix VFS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_replica_keeps_sqlite_shared_memory_locked() {
    let world = World::new();
    for stack in stacks().await {
        if !matches!(stack.kind, StackKind::SqliteFs) {
            stack.cleanup().await;
            continue;
        }
        let replica = start_replica(&stack, &world).await;
        let client = reqwest::Client::new();
        // A read starts the watcher; then let it poll (and, before the fix, re-open) a few times.
        assert_eq!(listed(&client, &replica.base, "vendor.acme.none").await, 0);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(listed(&client, &replica.base, "vendor.acme.none").await, 0);
        let shm = stack.config.data_dir.join("registry.db-shm");
        assert!(shm.exists(), "{} missing: the database is not in WAL mode", shm.display());
        let probe = std::process::Command::new("python3")
            .args([
                "-c",
                "import fcntl, os, sys\n\
                 fd = os.open(sys.argv[1], os.O_RDWR)\n\
                 try:\n    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)\n    print('acquired')\n\
                 except OSError:\n    print('held')\n",
            ])
            .arg(&shm)
            .output()
            .expect("python3 runs (the test suite needs it for the lock probe)");
        let verdict = String::from_utf8_lossy(&probe.stdout).trim().to_string();
        assert_eq!(verdict, "held", "another process could take SQLite's DMS lock on {}: {probe:?}", shm.display());
        drop(replica);
        stack.cleanup().await;
    }
}

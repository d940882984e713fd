//! Operating the server: metrics, write rate limits, and two real `registry-server` processes
//! on one database and blob store (replicas), with tokens made by the CLI and a graceful stop.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use registry_server::Registry;
use registry_server::api::limits::Limits;
use registry_server::auth::Scope;
use reqwest::StatusCode;

use crate::support::{TestStack, stacks};
use crate::world::{World, key, pack, token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_write_rate_limits() {
    let world = World::new();
    let stack = stacks().await.remove(0);
    let storage = stack.storage().await;
    let secret = token(&storage, "acme", &["vendor.acme.*"], &[Scope::Publish]).await;
    let app = registry_server::api::router_with(
        Registry::new(storage).with_trust(world.trust()),
        Limits { request_timeout: Duration::from_secs(30), writes_per_minute: 3, auth_failures_per_minute: 30 },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();

    let mut statuses = Vec::new();
    for i in 0..5 {
        let body = pack("vendor.acme.rl", &format!("1.0.{i}"), &key(2), "acme-1", "r");
        let resp = client
            .put(format!("{base}/v1/packs/vendor.acme.rl/-/1.0.{i}.tgz"))
            .bearer_auth(&secret)
            .body(body)
            .send()
            .await
            .unwrap();
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(resp.headers().contains_key("retry-after"));
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(body["error"], "rate_limited");
            statuses.push(429);
        } else {
            statuses.push(resp.status().as_u16());
        }
    }
    assert_eq!(statuses, vec![201, 201, 201, 429, 429]);
    // Reads are never rate limited.
    for _ in 0..10 {
        assert_eq!(client.get(format!("{base}/v1/index.json")).send().await.unwrap().status(), StatusCode::OK);
    }
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"openwop_http_requests_total{method="GET",route="/v1/index.json",status="200"} 10"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="/v1/packs/{name}/-/{file}",status="201"} 3"#), "{metrics}");
    assert!(metrics.contains(r#"status="429"} 2"#), "{metrics}");
    assert!(metrics.contains("openwop_http_request_duration_seconds_bucket"), "{metrics}");
    server.abort();
    stack.cleanup().await;
}

pub(crate) struct Replica {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn storage_args(stack: &TestStack) -> Vec<String> {
    let c = &stack.config;
    vec![
        "--data-dir".into(),
        c.data_dir.display().to_string(),
        "--database-url".into(),
        c.database_url(),
        "--object-store".into(),
        c.object_store(),
    ]
}

pub(crate) async fn start_replica(stack: &TestStack, world: &World) -> Replica {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_registry-server"))
        .arg("serve")
        .args(storage_args(stack))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--trust")
        .arg(world.bundle_path())
        .arg("--statement-key")
        .arg(world.dir.path().join("reg-1.key"))
        .args(["--statement-key-id", "reg-1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Owned by `Replica` at once, so every path (a panic included) kills and reaps it.
    let replica = Replica { child, base: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{}/readyz", replica.base)).send().await
            && r.status() == StatusCode::OK
        {
            return replica;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{:?}: registry-server did not become ready on {}", stack.kind, replica.base);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replica_processes_share_one_registry() {
    let world = World::new();
    for stack in stacks().await {
        // Migrations first, so the two processes do not both create the schema at once.
        drop(stack.storage().await);
        let out = Command::new(env!("CARGO_BIN_EXE_registry-server"))
            .args(["token", "create"])
            .args(storage_args(&stack))
            .args(["--principal", "acme", "--namespace", "vendor.acme.*", "--scope", "publish,yank"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert!(secret.starts_with("owp_"), "{secret}");
        let stored = stack.storage().await.db.token(secret.split('_').nth(1).unwrap()).await.unwrap().unwrap();
        assert!(!stored.secret_hash.contains(&secret) && stored.secret_hash.len() == 64, "only a hash is stored");

        let a = start_replica(&stack, &world).await;
        let b = start_replica(&stack, &world).await;
        let client = reqwest::Client::new();
        let put = |base: &str, version: &str, body: Vec<u8>| {
            client
                .put(format!("{base}/v1/packs/vendor.acme.multi/-/{version}.tgz"))
                .bearer_auth(&secret)
                .body(body)
                .send()
        };
        for round in 0..4 {
            let version = format!("1.0.{round}");
            let x = pack("vendor.acme.multi", &version, &key(2), "acme-1", "x");
            let y = pack("vendor.acme.multi", &version, &key(2), "acme-1", &format!("y{round}"));
            // Even rounds: different bytes (one 201, one 409); odd: identical (one 201, one 200).
            let second = if round % 2 == 0 { y } else { x.clone() };
            let (ra, rb) = tokio::join!(put(&a.base, &version, x.clone()), put(&b.base, &version, second));
            let mut got = [ra.unwrap().status().as_u16(), rb.unwrap().status().as_u16()];
            got.sort();
            let expected = if round % 2 == 0 { [201, 409] } else { [200, 201] };
            assert_eq!(got, expected, "{:?} round {round}", stack.kind);
            // Visible through both at once, byte-identical.
            let from_a =
                client.get(format!("{}/v1/packs/vendor.acme.multi/-/{version}.tgz", a.base)).send().await.unwrap();
            let from_b =
                client.get(format!("{}/v1/packs/vendor.acme.multi/-/{version}.tgz", b.base)).send().await.unwrap();
            assert_eq!(from_a.bytes().await.unwrap(), from_b.bytes().await.unwrap());
        }
        let index: serde_json::Value =
            client.get(format!("{}/v1/packs/vendor.acme.multi", b.base)).send().await.unwrap().json().await.unwrap();
        assert_eq!(index["versions"].as_array().unwrap().len(), 4);

        // SIGTERM: a graceful stop with exit status 0.
        let mut a = a;
        let status = Command::new("kill").args(["-TERM", &a.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let mut exited = None;
        for _ in 0..100 {
            if let Some(s) = a.child.try_wait().unwrap() {
                exited = Some(s);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(exited.is_some_and(|s| s.success()), "{exited:?}");
        drop(b);
        stack.cleanup().await;
    }
}

/// Guessing tokens is throttled, and no secret reaches the log or an error body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentication_is_throttled_and_secrets_stay_out_of_logs() {
    let world = World::new();
    let stack = stacks().await.remove(0);
    drop(stack.storage().await);
    let out = Command::new(env!("CARGO_BIN_EXE_registry-server"))
        .args(["token", "create"])
        .args(storage_args(&stack))
        .args(["--principal", "acme", "--namespace", "vendor.acme.*", "--scope", "publish"])
        .output()
        .unwrap();
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&secret), "the secret is printed on stdout only");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = stack.config.data_dir.join("server.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_registry-server"))
        .arg("serve")
        .args(storage_args(&stack))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--log-format", "json"])
        .arg("--trust")
        .arg(world.bundle_path())
        .arg("--statement-key")
        .arg(world.dir.path().join("reg-1.key"))
        .args(["--statement-key-id", "reg-1"])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A valid publish with the real token, then guesses.
    let body = pack("vendor.acme.quiet", "1.0.0", &key(2), "acme-1", "q");
    let put = |token: String, body: Vec<u8>| {
        client.put(format!("{base}/v1/packs/vendor.acme.quiet/-/1.0.0.tgz")).bearer_auth(token).body(body).send()
    };
    assert_eq!(put(secret.clone(), body.clone()).await.unwrap().status(), StatusCode::CREATED);
    let guess = format!("{}_GUESSEDSECRETVALUE", &secret[..secret.rfind('_').unwrap()]);
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let resp = put(guess.clone(), body.clone()).await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(
            !text.contains("GUESSEDSECRETVALUE") && !text.contains(&secret),
            "an error body echoed a token: {text}"
        );
        statuses.push(status.as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 30, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 10, "{statuses:?}");
    // While throttled, even the right token waits: the address is what is limited.
    assert_eq!(put(secret.clone(), body.clone()).await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    let _ = child.kill();
    let _ = child.wait();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("authentication refused"), "the refusals are logged");
    assert!(!logged.contains(&secret), "the token leaked into the log");
    assert!(!logged.contains("GUESSEDSECRETVALUE"), "a presented token leaked into the log");
    stack.cleanup().await;
}

/// A trust bundle or statement key the server cannot use is named by its path, with the
/// verifier's hint for what is wrong with it (not advice to pass the flag that was passed).
#[test]
fn a_bad_trust_file_or_key_is_named_with_its_own_hint() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad-trust.json");
    std::fs::write(&bad, "{}").unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_registry-server"))
            .arg("serve")
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "a bad trust file must stop the server");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    let stderr = run(&["--trust", bad.to_str().unwrap()]);
    assert!(stderr.contains("error[trust_bundle_invalid]"), "{stderr}");
    assert!(stderr.contains(bad.to_str().unwrap()), "the error names the file: {stderr}");
    assert!(stderr.contains("hint: check the trust bundle file"), "{stderr}");
    assert!(!stderr.contains("pass --trust"), "{stderr}");

    let key = dir.path().join("registry-1.key");
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n").unwrap();
    let trust = concat!(env!("CARGO_MANIFEST_DIR"), "/../keys/openwop-reference-registry.trust.json");
    let stderr = run(&["--trust", trust, "--statement-key", key.to_str().unwrap(), "--statement-key-id", "registry-1"]);
    assert!(stderr.contains(key.to_str().unwrap()), "the error names the key file: {stderr}");
    assert!(!stderr.contains("pass --trust"), "{stderr}");
}

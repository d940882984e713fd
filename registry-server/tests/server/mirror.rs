//! Mirror mode end to end: an upstream registry-server (world keys, published packs) behind a
//! controllable proxy (normal, tampering, down, stuck), a mirror on each storage stack, and a
//! client checking what the mirror serves.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use pack_verify::keys::PrivateKey;
use pack_verify::trust::bundle::{BundleKey, BundleRoot, TrustBundle};
use pack_verify::trust::keychain::KeychainDocument;
use pack_verify::trust::state::TrustState;
use pack_verify::trust::{ExpiryPolicy, SystemClock};
use pack_verify::verify::{Verifier, VersionInput};
use registry_server::auth::Scope;
use registry_server::mirror::config::{Filter, Resilience, UpstreamSpec};
use registry_server::mirror::status::MirrorStatus;
use registry_server::mirror::{Mirror, MirrorSettings, Pattern, SyncScope};
use registry_server::storage::Storage;
use registry_server::trust::RegistryTrust;
use registry_server::{Config, Registry};
use serde_json::Value;

use crate::support::{TestServer, stacks};
use crate::world::{World, key, keychain_key, pack, stamp, token};

const NORMAL: u8 = 0;
const TAMPER_TGZ: u8 = 1;
const TAMPER_SIG: u8 = 2;
const DOWN: u8 = 3;
const STUCK: u8 = 4;

/// A proxy in front of the upstream whose behaviour a test switches.
struct Proxy {
    upstream: String,
    mode: AtomicU8,
    served: AtomicUsize,
    /// Once this many requests were served, behave as `DOWN` (0: never).
    fail_after: AtomicUsize,
    client: reqwest::Client,
}

async fn proxy(State(p): State<Arc<Proxy>>, uri: Uri) -> Response {
    let n = p.served.fetch_add(1, Ordering::SeqCst) + 1;
    let limit = p.fail_after.load(Ordering::SeqCst);
    let mode = if limit > 0 && n > limit { DOWN } else { p.mode.load(Ordering::SeqCst) };
    match mode {
        DOWN => return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down").into_response(),
        STUCK => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return (axum::http::StatusCode::GATEWAY_TIMEOUT, "stuck").into_response();
        }
        _ => {}
    }
    let path = uri.path().to_string();
    let resp = p.client.get(format!("{}{path}", p.upstream)).send().await.unwrap();
    let status = resp.status();
    let mut body = resp.bytes().await.unwrap().to_vec();
    let flip = (mode == TAMPER_TGZ && path.ends_with(".tgz")) || (mode == TAMPER_SIG && path.ends_with(".sig"));
    if flip && status.is_success() && !body.is_empty() {
        let last = body.len() - 1;
        body[last] ^= 0x01;
    }
    (axum::http::StatusCode::from_u16(status.as_u16()).unwrap(), body).into_response()
}

struct Upstream {
    _dir: tempfile::TempDir,
    server: TestServer,
    proxy: Arc<Proxy>,
    proxy_base: String,
    _proxy_task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    fn set(&self, mode: u8) {
        self.proxy.mode.store(mode, Ordering::SeqCst);
        self.proxy.fail_after.store(0, Ordering::SeqCst);
    }
}

/// An upstream registry-server with vendor.acme.tools 1.0.0, 1.1.0, 2.0.0, vendor.acme.extra
/// 1.0.0 and vendor.other.thing 1.0.0, behind a proxy.
async fn upstream(world: &World) -> Upstream {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(&Config::embedded(dir.path())).await.unwrap();
    let acme = token(&storage, "acme", &["vendor.acme.*"], &[Scope::Publish]).await;
    let other = token(&storage, "other", &["vendor.other.*"], &[Scope::Publish]).await;
    let server = TestServer::start_registry(Registry::new(storage).with_trust(world.trust())).await;
    let client = reqwest::Client::new();
    let packs = [
        ("vendor.acme.tools", "1.0.0", 2u8, "acme-1", &acme),
        ("vendor.acme.tools", "1.1.0", 2, "acme-1", &acme),
        ("vendor.acme.tools", "2.0.0", 2, "acme-1", &acme),
        ("vendor.acme.extra", "1.0.0", 2, "acme-1", &acme),
        ("vendor.other.thing", "1.0.0", 3, "other-1", &other),
    ];
    for (name, version, seed, key_id, tok) in packs {
        let body = pack(name, version, &key(seed), key_id, &format!("{name} {version}"));
        let resp = client
            .put(server.url(&format!("/v1/packs/{name}/-/{version}.tgz")))
            .header("content-type", "application/gzip")
            .bearer_auth(tok)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "publishing {name}@{version} upstream");
    }
    let p = Arc::new(Proxy {
        upstream: server.base.clone(),
        mode: AtomicU8::new(NORMAL),
        served: AtomicUsize::new(0),
        fail_after: AtomicUsize::new(0),
        client,
    });
    let app = axum::Router::new().fallback(proxy).with_state(Arc::clone(&p));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Upstream { _dir: dir, server, proxy: p, proxy_base: format!("http://{addr}"), _proxy_task: task }
}

fn resilience() -> Resilience {
    Resilience {
        timeout: Duration::from_secs(2),
        pull_through_timeout: Duration::from_secs(1),
        retries: 1,
        backoff: Duration::from_millis(20),
        breaker_threshold: 3,
        breaker_cooldown: Duration::from_millis(500),
    }
}

fn mirror(url: &str, bundle: TrustBundle, include: &[&str], exclude: &[&str]) -> Arc<Mirror> {
    Arc::new(Mirror::new(settings(url, bundle, include, exclude, false)).unwrap())
}

fn settings(url: &str, bundle: TrustBundle, include: &[&str], exclude: &[&str], resign: bool) -> MirrorSettings {
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    MirrorSettings {
        url: Some("https://mirror.test".into()),
        upstreams: vec![UpstreamSpec {
            name: "up".into(),
            url: url.into(),
            bundle,
            filter: Filter::parse(&s(include), &s(exclude)).unwrap(),
            sync_interval: None,
            pull_through: true,
        }],
        resilience: resilience(),
        resign,
    }
}

/// The mirror's own trust: a pinned key for its own namespace and its statement key (which
/// signs the status).
fn mirror_trust(dir: &std::path::Path) -> (RegistryTrust, PrivateKey) {
    let k = key(7);
    let bundle = TrustBundle {
        openwop_trust_bundle: 1,
        registry: "https://mirror.test".into(),
        description: None,
        root: None,
        keys: vec![BundleKey {
            key_id: "mirror-1".into(),
            algorithm: "ed25519".into(),
            public_key: k.public_key().to_base64(),
            permitted_namespaces: vec!["vendor.mirror.*".into()],
            status: "active".into(),
            // The status signer and the mirror's own publisher key in one pinned key.
            roles: vec!["publisher".into(), "registry".into()],
            operator: None,
        }],
        keychain: None,
    };
    std::fs::write(dir.join("mirror-trust.json"), serde_json::to_vec(&bundle).unwrap()).unwrap();
    std::fs::write(dir.join("mirror-1.key"), k.to_pkcs8_pem().unwrap()).unwrap();
    let trust =
        RegistryTrust::load(&dir.join("mirror-trust.json"), Some(("mirror-1", &dir.join("mirror-1.key")))).unwrap();
    (trust, k)
}

async fn names(storage: &Storage) -> Vec<String> {
    let mut v: Vec<String> =
        storage.db.all_versions().await.unwrap().into_iter().map(|r| format!("{}@{}", r.name, r.version)).collect();
    v.sort();
    v
}

async fn get(client: &reqwest::Client, url: String) -> (u16, bytes::Bytes) {
    let resp = client.get(url).send().await.unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap())
}

async fn status(client: &reqwest::Client, server: &TestServer, key: &PrivateKey) -> MirrorStatus {
    let (code, body) = get(client, server.url("/v1/-/mirror/status.json")).await;
    assert_eq!(code, 200);
    MirrorStatus::verify(&body, "mirror-1", &key.public_key()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_mirror_client_chain() {
    let world = World::new();
    let up = upstream(&world).await;
    let client = reqwest::Client::new();
    for stack in stacks().await {
        let storage = stack.storage().await;
        let dir = tempfile::tempdir().unwrap();
        let (trust, mirror_key) = mirror_trust(dir.path());
        let m = mirror(
            &up.proxy_base,
            world.bundle.clone(),
            &["vendor.acme.tools", "vendor.acme.extra"],
            &["vendor.acme.tools@>=2"],
        );
        let registry = Registry::new(storage.clone()).with_trust(trust).with_mirror(Arc::clone(&m));
        let server = TestServer::start_registry(registry).await;

        // Before any sync the status names the upstream, never synced; a client demanding
        // freshness refuses it.
        let st = status(&client, &server, &mirror_key).await;
        assert_eq!(st.upstreams.len(), 1);
        assert!(st.upstreams[0].last_successful_sync.is_none());
        let now = time::OffsetDateTime::now_utc();
        assert!(st.check_max_staleness(None, Duration::from_secs(3600), now).is_err());

        // Sync by pattern: exactly the included versions of the named pack.
        let scope = SyncScope { patterns: vec![Pattern::parse("vendor.acme.tools").unwrap()], lock: vec![] };
        let reports = m.sync(&storage, None, &scope).await.unwrap();
        assert!(reports[0].ok(), "{:?}: {:?}", stack.kind, reports[0]);
        assert_eq!(names(&storage).await, vec!["vendor.acme.tools@1.0.0", "vendor.acme.tools@1.1.0"]);
        // Syncing again changes nothing.
        let again = m.sync(&storage, None, &scope).await.unwrap();
        assert_eq!((again[0].stored.len(), again[0].unchanged), (0, 2));

        // Bytes and signatures served unchanged; the client verifies them with the upstream's
        // own trust root (decisions §13).
        for file in ["1.0.0.tgz", "1.0.0.sig", "1.0.0.json", "1.0.0.statement.json", "1.1.0.tgz"] {
            let path = format!("/v1/packs/vendor.acme.tools/-/{file}");
            let (a, mine) = get(&client, server.url(&path)).await;
            let (b, theirs) = get(&client, up.server.url(&path)).await;
            assert_eq!((a, b), (200, 200), "{:?} {path}", stack.kind);
            assert_eq!(mine, theirs, "{:?} {path}", stack.kind);
        }
        let fetch = |f: &str| get(&client, server.url(&format!("/v1/packs/vendor.acme.tools/-/1.1.0.{f}")));
        let (manifest, tgz, sig, statement) =
            (fetch("json").await.1, fetch("tgz").await.1, fetch("sig").await.1, fetch("statement.json").await.1);
        let root = world.bundle.resolve(None, &mut TrustState::new(), &SystemClock, ExpiryPolicy::Enforce).unwrap();
        Verifier::new(root)
            .verify(&VersionInput {
                manifest: &manifest,
                tarball: &tgz,
                signature: &sig,
                statement: Some(&statement),
                expected: Some(("vendor.acme.tools", "1.1.0")),
                other_versions: &[],
            })
            .unwrap();

        // Excluded and not-included packs are never served; a not-yet-synced included pack is
        // pulled through on first read.
        assert_eq!(get(&client, server.url("/v1/packs/vendor.acme.tools/-/2.0.0.tgz")).await.0, 404);
        assert_eq!(get(&client, server.url("/v1/packs/vendor.other.thing")).await.0, 404);
        let (code, body) = get(&client, server.url("/v1/packs/vendor.acme.extra")).await;
        assert_eq!(code, 200, "{:?}: {}", stack.kind, String::from_utf8_lossy(&body));
        let index: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(index["latest"], "1.0.0");
        let (code, tgz) = get(&client, server.url("/v1/packs/vendor.acme.extra/-/1.0.0.tgz")).await;
        assert_eq!(code, 200);
        assert_eq!(tgz, get(&client, up.server.url("/v1/packs/vendor.acme.extra/-/1.0.0.tgz")).await.1);
        assert!(names(&storage).await.contains(&"vendor.acme.extra@1.0.0".to_string()));
        assert!(!names(&storage).await.iter().any(|n| n.starts_with("vendor.other")));

        // The signed status reports the last success; a client's staleness check passes now and
        // fails for a clock two hours ahead.
        let st = status(&client, &server, &mirror_key).await;
        assert_eq!(st.mirror, "https://mirror.test");
        let u = &st.upstreams[0];
        assert_eq!((u.name.as_str(), u.last_error.as_deref()), ("up", None));
        assert!(u.last_successful_sync.is_some());
        let now = time::OffsetDateTime::now_utc();
        st.check_max_staleness(None, Duration::from_secs(60), now).unwrap();
        assert!(st.staleness(Some("up"), now).unwrap() < time::Duration::seconds(60));
        assert!(st.check_max_staleness(None, Duration::from_secs(60), now + time::Duration::hours(2)).is_err());
        // Any change to the envelope breaks it; another key does not verify it.
        let (_, raw) = get(&client, server.url("/v1/-/mirror/status.json")).await;
        assert!(MirrorStatus::verify(&raw, "mirror-1", &key(8).public_key()).is_err());

        // Discovery: the mirror's own key plus the upstream key narrowed to what is mirrored.
        let (_, disc) = get(&client, server.url("/.well-known/openwop-registry")).await;
        let disc: Value = serde_json::from_slice(&disc).unwrap();
        let keys = disc["signingKeys"].as_array().unwrap();
        let by_id = |id: &str| keys.iter().find(|k| k["keyId"] == id).cloned();
        assert_eq!(by_id("mirror-1").unwrap()["permittedNamespaces"], serde_json::json!(["vendor.mirror.*"]));
        assert_eq!(
            by_id("acme-1").expect("upstream key listed")["permittedNamespaces"],
            serde_json::json!(["vendor.acme.extra", "vendor.acme.tools"])
        );
        assert!(by_id("other-1").is_none(), "keys for nothing mirrored are not listed");
        let (code, pem) = get(&client, server.url("/keys/acme-1.pub")).await;
        assert_eq!(code, 200);
        assert_eq!(
            pack_verify::keys::PublicKey::parse(std::str::from_utf8(&pem).unwrap()).unwrap(),
            key(2).public_key()
        );

        // Lockfile sync: exactly the pinned versions.
        let lock = serde_json::json!({"lockfileVersion": 1, "packs": [
            {"name": "vendor.acme.tools", "version": "1.0.0", "integrity": "x"},
        ]});
        let entries = registry_server::mirror::lock_entries(lock.to_string().as_bytes()).unwrap();
        let r = m.sync(&storage, Some("up"), &SyncScope { patterns: vec![], lock: entries }).await.unwrap();
        assert_eq!((r[0].stored.len(), r[0].unchanged), (0, 1), "{:?}", r[0]);
        stack.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_upstream_is_refused_and_never_served() {
    let world = World::new();
    let up = upstream(&world).await;
    let client = reqwest::Client::new();
    for stack in stacks().await {
        let storage = stack.storage().await;
        let m = mirror(&up.proxy_base, world.bundle.clone(), &["vendor.acme.*"], &[]);
        let server = TestServer::start_registry(Registry::new(storage.clone()).with_mirror(Arc::clone(&m))).await;
        for (mode, code) in [(TAMPER_TGZ, "pack_integrity_mismatch"), (TAMPER_SIG, "")] {
            up.set(mode);
            let r = m.sync(&storage, None, &SyncScope::default()).await.unwrap();
            assert!(r[0].stored.is_empty(), "{:?}: {:?}", stack.kind, r[0]);
            assert_eq!(r[0].refused.len(), 4, "{:?}", r[0]);
            if !code.is_empty() {
                assert!(r[0].refused.iter().all(|x| x.code == code), "{:?}", r[0].refused);
            }
            assert!(names(&storage).await.is_empty());
            // Pull-through refuses it too: never a 200.
            let (status, body) = get(&client, server.url("/v1/packs/vendor.acme.tools/-/1.0.0.tgz")).await;
            assert_eq!(status, 502, "{:?}: {}", stack.kind, String::from_utf8_lossy(&body));
            assert_eq!(get(&client, server.url("/v1/packs/vendor.acme.tools")).await.0, 502);
            assert!(names(&storage).await.is_empty());
        }
        // A status row records the failure, with no success.
        let rows = registry_server::mirror::status::status(&Registry::new(storage.clone()).with_mirror(Arc::clone(&m)))
            .await
            .unwrap();
        assert!(rows.upstreams[0].last_error.is_some());
        assert!(rows.upstreams[0].last_successful_sync.is_none());

        // A signer the upstream's trust (as pinned here) does not know: refused.
        up.set(NORMAL);
        let root = key(1);
        let keychain = crate::world::keychain(1, &root, vec![]);
        let mut env: pack_verify::trust::envelope::Envelope = serde_json::from_str(&keychain).unwrap();
        // Same root, but a keychain without acme-1.
        let mut doc: Value = serde_json::from_slice(&env.payload_bytes().unwrap()).unwrap();
        doc["keys"] =
            serde_json::json!([serde_json::to_value(keychain_key("reg-1", &key(4), "registry", &[])).unwrap()]);
        // A newer version (the mirror keeps the highest version seen per upstream: the same
        // version with other contents is refused as a fork).
        doc["version"] = serde_json::json!(2);
        let payload = serde_json::to_vec(&doc).unwrap();
        env = pack_verify::trust::envelope::Envelope::sign(&env.payload_type, &payload, &[("root", &root)]);
        let mut bundle = world.bundle.clone();
        bundle.keychain = Some(env);
        let strict = mirror(&up.proxy_base, bundle, &["vendor.acme.*"], &[]);
        let r = strict.sync(&storage, None, &SyncScope::default()).await.unwrap();
        assert!(r[0].stored.is_empty());
        assert_eq!(r[0].refused.len(), 4, "{:?}", r[0]);
        assert!(r[0].refused.iter().all(|x| x.code == "pack_key_unknown"), "{:?}", r[0]);
        assert!(names(&storage).await.is_empty());
        stack.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_mid_sync_then_restarted() {
    let world = World::new();
    let up = upstream(&world).await;
    let client = reqwest::Client::new();
    for stack in stacks().await {
        let storage = stack.storage().await;
        let dir = tempfile::tempdir().unwrap();
        let (trust, mirror_key) = mirror_trust(dir.path());
        let m = mirror(&up.proxy_base, world.bundle.clone(), &["vendor.acme.*"], &[]);
        let server =
            TestServer::start_registry(Registry::new(storage.clone()).with_trust(trust).with_mirror(Arc::clone(&m)))
                .await;

        // A first, complete sync of one version.
        up.set(NORMAL);
        let one = SyncScope { patterns: vec![Pattern::parse("vendor.acme.tools@1.0.0").unwrap()], lock: vec![] };
        assert!(m.sync(&storage, None, &one).await.unwrap()[0].ok());
        let first = status(&client, &server, &mirror_key).await.upstreams[0].last_successful_sync.clone().unwrap();

        // The upstream stops partway through the next sync.
        up.proxy.served.store(0, Ordering::SeqCst);
        up.proxy.fail_after.store(12, Ordering::SeqCst);
        let r = m.sync(&storage, None, &SyncScope::default()).await.unwrap();
        assert!(r[0].error.is_some(), "{:?}: {:?}", stack.kind, r[0]);
        let have = names(&storage).await;
        assert!(have.len() < 4, "{have:?}");
        assert!(have.contains(&"vendor.acme.tools@1.0.0".to_string()));

        // The mirror keeps serving what it has, quickly; the status says how stale it is.
        let t = Instant::now();
        assert_eq!(get(&client, server.url("/v1/packs/vendor.acme.tools/-/1.0.0.tgz")).await.0, 200);
        assert!(t.elapsed() < Duration::from_millis(500), "{:?}", t.elapsed());
        let st = status(&client, &server, &mirror_key).await;
        assert_eq!(st.upstreams[0].last_successful_sync.as_deref(), Some(first.as_str()));
        assert!(st.upstreams[0].last_error.as_deref().unwrap_or_default().contains("503"), "{st:?}");
        assert!(st.upstreams[0].last_attempt.as_deref() >= Some(first.as_str()));

        // A stuck upstream never makes reads hang: a miss answers within the pull-through budget.
        up.set(STUCK);
        let missing = if have.contains(&"vendor.acme.extra@1.0.0".to_string()) {
            "/v1/packs/vendor.acme.tools/-/2.0.0.json"
        } else {
            "/v1/packs/vendor.acme.extra/-/1.0.0.json"
        };
        let t = Instant::now();
        let (code, body) = get(&client, server.url(missing)).await;
        assert_eq!(code, 503, "{}", String::from_utf8_lossy(&body));
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "pack_registry_unreachable");
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        let t = Instant::now();
        assert_eq!(get(&client, server.url("/v1/packs/vendor.acme.tools")).await.0, 200);
        assert!(t.elapsed() < Duration::from_millis(500));

        // Restarted: once the breaker's cooldown passes, the next sync completes.
        up.set(NORMAL);
        tokio::time::sleep(Duration::from_millis(600)).await;
        let r = m.sync(&storage, None, &SyncScope::default()).await.unwrap();
        assert!(r[0].ok(), "{:?}: {:?}", stack.kind, r[0]);
        assert_eq!(names(&storage).await.len(), 4);
        let st = status(&client, &server, &mirror_key).await;
        assert!(st.upstreams[0].last_error.is_none());
        assert!(st.upstreams[0].last_successful_sync.as_deref() > Some(first.as_str()));
        stack.cleanup().await;
    }
}

#[test]
fn mirror_section_parses_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("up.trust.json");
    std::fs::write(&bundle, pack_verify::trust::bundle::REFERENCE_BUNDLE).unwrap();
    let text = format!(
        "data_dir = \"/tmp/x\"\n[mirror]\nurl = \"https://mirror.test\"\npull_through_timeout_secs = 2\n\
         [[mirror.upstreams]]\nname = \"public\"\nurl = \"https://packs.openwop.dev/\"\ntrust = {:?}\n\
         include = [\"core.openwop.*\", \"vendor.acme.tools@^1\"]\nexclude = [\"core.openwop.old\"]\n\
         sync_interval_secs = 3600\n",
        bundle.display().to_string()
    );
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let file = registry_server::config::FileConfig::load(&path).unwrap();
    let settings = file.mirror.unwrap().load().unwrap();
    assert_eq!(settings.upstreams[0].url, "https://packs.openwop.dev");
    assert_eq!(settings.upstreams[0].sync_interval, Some(Duration::from_secs(3600)));
    assert_eq!(settings.resilience.pull_through_timeout, Duration::from_secs(2));
    assert!(settings.upstreams[0].filter.admits("core.openwop.a", "1.0.0"));
    assert!(!settings.upstreams[0].filter.admits("core.openwop.old", "1.0.0"));
    std::fs::write(&path, "[mirror]\nbogus = 1\n").unwrap();
    assert!(registry_server::config::FileConfig::load(&path).is_err());
}

/// Re-signing (decisions §14): the mirror makes its own registry statement for every version it
/// stores, so a client pins the mirror's root alone; bytes and signatures stay the upstream's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resigning_mirror_is_verified_with_its_own_root() {
    let world = World::new();
    let up = upstream(&world).await;
    let client = reqwest::Client::new();
    for stack in stacks().await {
        let storage = stack.storage().await;
        let dir = tempfile::tempdir().unwrap();
        // The mirror operator's root and keychain: the upstream publisher key, only for what is
        // mirrored, and the mirror's own statement key.
        let (root, statement_key) = (key(30), key(31));
        let keychain = KeychainDocument {
            doc_type: "openwop.keychain".into(),
            registry: "https://mirror.test".into(),
            version: 1,
            issued_at: stamp(0),
            expires_at: stamp(30),
            keys: vec![
                keychain_key("acme-1", &key(2), "publisher", &["vendor.acme.tools"]),
                keychain_key("mirror-1", &statement_key, "registry", &[]),
            ],
        }
        .sign("mirror-root", &root)
        .to_json();
        storage.db.put_document(registry_server::trust::DOC_KEYCHAIN, &keychain, &stamp(0)).await.unwrap();
        let bundle = TrustBundle {
            openwop_trust_bundle: 1,
            registry: "https://mirror.test".into(),
            description: None,
            root: Some(BundleRoot { key_id: "mirror-root".into(), public_key: root.public_key().to_base64() }),
            keys: vec![],
            keychain: None,
        };
        std::fs::write(dir.path().join("trust.json"), serde_json::to_vec(&bundle).unwrap()).unwrap();
        std::fs::write(dir.path().join("mirror-1.key"), statement_key.to_pkcs8_pem().unwrap()).unwrap();
        let trust = Arc::new(
            RegistryTrust::load(&dir.path().join("trust.json"), Some(("mirror-1", &dir.path().join("mirror-1.key"))))
                .unwrap(),
        );
        let resigning = || settings(&up.proxy_base, world.bundle.clone(), &["vendor.acme.tools"], &[], true);
        let refused = Mirror::new(resigning()).unwrap().with_trust(None).unwrap_err();
        assert!(refused.to_string().contains("statement key"), "{refused}");
        let m = Arc::new(Mirror::new(resigning()).unwrap().with_trust(Some(Arc::clone(&trust))).unwrap());
        let registry = Registry::new(storage.clone()).with_trust(Arc::clone(&trust)).with_mirror(Arc::clone(&m));
        let server = TestServer::start_registry(registry).await;

        let scope = SyncScope { patterns: vec![Pattern::parse("vendor.acme.tools").unwrap()], lock: vec![] };
        let reports = m.sync(&storage, None, &scope).await.unwrap();
        assert!(reports[0].ok(), "{:?}: {:?}", stack.kind, reports[0]);

        let at = |base: &TestServer, f: &str| {
            let url = base.url(&format!("/v1/packs/vendor.acme.tools/-/1.1.0.{f}"));
            let client = client.clone();
            async move { get(&client, url).await.1 }
        };
        let (manifest, tgz, sig, statement) = (
            at(&server, "json").await,
            at(&server, "tgz").await,
            at(&server, "sig").await,
            at(&server, "statement.json").await,
        );
        let upstream_statement = at(&up.server, "statement.json").await;
        assert_eq!(tgz, at(&up.server, "tgz").await, "bytes unchanged");
        assert_eq!(sig, at(&up.server, "sig").await, "publisher signature unchanged");
        assert_ne!(statement, upstream_statement, "{:?}: the mirror's own statement", stack.kind);

        // A client that pins only the mirror's root verifies what the mirror serves ...
        let mirror_root = bundle
            .resolve(Some(keychain.as_bytes()), &mut TrustState::new(), &SystemClock, ExpiryPolicy::Enforce)
            .unwrap();
        let check = |statement: &[u8]| {
            Verifier::new(mirror_root.clone()).verify(&VersionInput {
                manifest: &manifest,
                tarball: &tgz,
                signature: &sig,
                statement: Some(statement),
                expected: Some(("vendor.acme.tools", "1.1.0")),
                other_versions: &[],
            })
        };
        let verified = check(&statement).unwrap();
        assert_eq!(verified.signing_key_id, "acme-1");
        // ... and would refuse the upstream's statement, which the mirror's root does not vouch for.
        let e = check(&upstream_statement).unwrap_err();
        assert!(e.code().starts_with("registry_statement"), "{:?}: {e}", stack.kind);
        stack.cleanup().await;
    }
}

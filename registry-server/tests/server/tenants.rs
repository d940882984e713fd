//! Tenants end to end on each stack: two tenants, each with a private pack, plus public packs.
//! Every read endpoint shows each caller exactly its view: a tenant sees its own private pack and
//! the public ones its patterns and cooldown admit; everyone else gets 404 (never 403) and finds
//! no trace of the private packs in the index, search, the aggregate SBOM or the catalog.

use pack_verify::canonical::to_canonical_vec;
use pack_verify::keys::PrivateKey;
use pack_verify::tarball::{EMBEDDED_SIGNATURE, PACK_JSON, PackFile, write_pack};
use registry_server::Registry;
use registry_server::auth::{NewToken, Scope, create_tenant_token};
use registry_server::export::{ExportOptions, export_tree};
use registry_server::storage::Storage;
use registry_server::storage::writes::AuditEvent;
use registry_server::tenant::TenantConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestServer, stacks};
use crate::world::{World, key, keychain, keychain_key, token};

/// A pack with a mirrored schema (`schemas/cfg.json`), signed by `signer`.
fn pack(name: &str, version: &str, signer: &PrivateKey, key_id: &str) -> Vec<u8> {
    let manifest = json!({
        "name": name,
        "version": version,
        "description": format!("test pack {name}"),
        "license": "Apache-2.0",
        "engines": {"openwop": ">=1.0.0 <2.0.0"},
        "signing": {"method": "manual", "publicKeyRef": key_id, "signatureRef": "keys/pack.json.sig"},
    });
    let bytes = to_canonical_vec(&manifest);
    let sig = signer.sign(&bytes);
    write_pack(&[
        PackFile { path: "README.md".into(), data: b"readme".to_vec() },
        PackFile { path: "schemas/cfg.json".into(), data: br#"{"type":"object"}"#.to_vec() },
        PackFile { path: EMBEDDED_SIGNATURE.into(), data: sig.to_bytes().to_vec() },
        PackFile { path: PACK_JSON.into(), data: bytes },
    ])
    .unwrap()
}

/// The test world plus publisher keys for `private.a.*` and `private.b.*`.
fn world() -> World {
    let mut world = World::new();
    let extra = vec![
        keychain_key("tenant-a-1", &key(5), "publisher", &["private.a.*"]),
        keychain_key("tenant-b-1", &key(6), "publisher", &["private.b.*"]),
    ];
    world.bundle.keychain = Some(serde_json::from_str(&keychain(1, &key(1), extra)).unwrap());
    std::fs::write(world.bundle_path(), serde_json::to_vec(&world.bundle).unwrap()).unwrap();
    world
}

async fn tenant(storage: &Storage, name: &str, config: TenantConfig, namespaces: &[&str]) -> String {
    let now = pack_verify::trust::format_time(time::OffsetDateTime::now_utc());
    let audit = AuditEvent::new(&now, "operator", "tenant-create", name, Value::Null);
    assert!(storage.db.insert_tenant(name, &config, &audit).await.unwrap());
    let namespaces: Vec<String> = namespaces.iter().map(|s| s.to_string()).collect();
    let new = NewToken { principal: name, namespaces: &namespaces, scopes: &[Scope::Publish], expires_at: None };
    create_tenant_token(&storage.db, &new, Some(name), &now).await.unwrap().0
}

struct Api {
    client: reqwest::Client,
    server: TestServer,
}

impl Api {
    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, String) {
        let mut req = self.client.get(self.server.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        (resp.status(), resp.text().await.unwrap())
    }

    async fn put(&self, name: &str, token: &str, body: Vec<u8>) -> (StatusCode, Value) {
        self.put_version(name, "1.0.0", token, body).await
    }

    async fn put_version(&self, name: &str, version: &str, token: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let resp = self
            .client
            .put(self.server.url(&format!("/v1/packs/{name}/-/{version}.tgz")))
            .header("content-type", "application/gzip")
            .bearer_auth(token)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn json(&self, path: &str, token: Option<&str>) -> Value {
        let (status, body) = self.get(path, token).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    async fn post_advisory(&self, token: &str, advisory: Value) {
        let resp = self
            .client
            .post(self.server.url("/security/advisories"))
            .bearer_auth(token)
            .json(&advisory)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        assert_eq!(status, StatusCode::CREATED, "{}", resp.text().await.unwrap());
    }

    /// Asserts `name@1.0.0` is fully visible (`true`) or absent everywhere (`false`) to `who`.
    async fn expect(&self, who: &str, token: Option<&str>, name: &str, visible: bool) {
        let ctx = format!("{who} looking at {name}");
        let files = [
            format!("/v1/packs/{name}"),
            format!("/v1/packs/{name}/index.json"),
            format!("/v1/packs/{name}/-/1.0.0.json"),
            format!("/v1/packs/{name}/-/1.0.0.tgz"),
            format!("/v1/packs/{name}/-/1.0.0.sig"),
            format!("/v1/packs/{name}/-/1.0.0.sbom.json"),
            format!("/v1/packs/{name}/-/1.0.0.statement.json"),
            format!("/{name}/1.0.0/cfg.json"),
            format!("/-/catalog/{name}"),
        ];
        for path in &files {
            let (status, body) = self.get(path, token).await;
            if visible {
                assert_eq!(status, StatusCode::OK, "{ctx}: GET {path}: {body}");
            } else {
                assert_eq!(status, StatusCode::NOT_FOUND, "{ctx}: GET {path} must be a 404 like a missing pack");
                assert!(!body.contains("forbidden"), "{ctx}: GET {path}: {body}");
            }
        }
        let search = format!("/v1/packs/-/search?q={name}&perPage=100");
        for path in ["/v1/index.json", search.as_str(), "/v1/sbom.json", "/"] {
            let (status, body) = self.get(path, token).await;
            assert_eq!(status, StatusCode::OK, "{ctx}: GET {path}");
            // The search echoes its query: look for a hit, not the text.
            let listed =
                if path == search { body.contains(&format!("\"name\": \"{name}\"")) } else { body.contains(name) };
            assert_eq!(listed, visible, "{ctx}: GET {path}: {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_are_isolated_on_every_endpoint() {
    let world = world();
    for stack in stacks().await {
        let storage = stack.storage().await;
        let operator = token(&storage, "acme", &["vendor.acme.*"], &[Scope::Publish]).await;
        // Tenant A's token names every namespace: the tenant confinement wins over the globs.
        let a = tenant(&storage, "a", TenantConfig::default(), &["private.*", "vendor.acme.*"]).await;
        let b = tenant(
            &storage,
            "b",
            TenantConfig { deny: vec!["vendor.acme.denied".into()], ..TenantConfig::default() },
            &["private.b.*"],
        )
        .await;
        let cooldown = TenantConfig { min_publish_age_secs: 3600, ..TenantConfig::default() };
        let c = tenant(&storage, "c", cooldown, &["private.c.*"]).await;
        let server = TestServer::start_registry(Registry::new(storage.clone()).with_trust(world.trust())).await;
        let api = Api { client: reqwest::Client::new(), server };

        // Publishing: each tenant into its own namespace only.
        let (status, body) =
            api.put("private.a.tools", &a, pack("private.a.tools", "1.0.0", &key(5), "tenant-a-1")).await;
        assert_eq!(status, StatusCode::CREATED, "{:?}: {body}", stack.kind);
        let (status, body) =
            api.put("private.b.tools", &b, pack("private.b.tools", "1.0.0", &key(6), "tenant-b-1")).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) =
            api.put("private.b.evil", &a, pack("private.b.evil", "1.0.0", &key(6), "tenant-b-1")).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{body}");
        let (status, body) =
            api.put("vendor.acme.evil", &a, pack("vendor.acme.evil", "1.0.0", &key(2), "acme-1")).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{body}");
        for name in ["vendor.acme.tools", "vendor.acme.denied"] {
            let (status, body) = api.put(name, &operator, pack(name, "1.0.0", &key(2), "acme-1")).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }

        // Anonymous first (it fills the public cache), then the tenants, then an operator token.
        let viewers = [("anonymous", None), ("tenant a", Some(&a)), ("tenant b", Some(&b)), ("tenant c", Some(&c))];
        let expected = |who: &str, name: &str| match (who, name) {
            (_, "private.a.tools") => who == "tenant a",
            (_, "private.b.tools") => who == "tenant b",
            ("tenant c", _) => false, // both public packs are inside the cooldown
            ("tenant b", "vendor.acme.denied") => false, // denied
            _ => true,
        };
        for (who, secret) in viewers {
            for name in ["private.a.tools", "private.b.tools", "vendor.acme.tools", "vendor.acme.denied"] {
                api.expect(who, secret.map(String::as_str), name, expected(who, name)).await;
            }
        }
        api.expect("operator", Some(&operator), "private.a.tools", false).await;
        api.expect("operator", Some(&operator), "vendor.acme.tools", true).await;

        // A tenant's own pack is still hidden after the public view was cached again.
        api.expect("anonymous", None, "private.a.tools", false).await;
        api.expect("tenant a", Some(&a), "private.a.tools", true).await;

        // A tenant's answers are its own: no shared cache may keep or replay them.
        for (path, secret) in
            [("/v1/packs/private.a.tools", Some(&a)), ("/v1/index.json", Some(&a)), ("/v1/index.json", None)]
        {
            let mut req = api.client.get(api.server.url(path));
            if let Some(t) = secret {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
            let cache = resp.headers()["cache-control"].to_str().unwrap().to_string();
            let vary: Vec<_> = resp.headers().get_all("vary").iter().filter_map(|v| v.to_str().ok()).collect();
            if secret.is_some() {
                assert!(cache.starts_with("private"), "GET {path} as tenant a: {cache}");
                assert!(vary.iter().any(|v| v.contains("Authorization")), "GET {path}: vary {vary:?}");
            } else {
                assert!(cache.starts_with("public"), "GET {path} anonymously: {cache}");
            }
        }

        // A bad token on a read is a 401, not a silent public view, and says what to do.
        for path in
            ["/v1/index.json", "/v1/packs/vendor.acme.tools", "/.well-known/openwop-registry", "/keys/acme-1.pub"]
        {
            let (status, body) = api.get(path, Some("owp_nope_nope")).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "GET {path}: {body}");
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["error"], "unauthenticated", "{body}");
            let message = body["message"].as_str().unwrap();
            assert!(message.contains("reads need no token") && message.contains("pack login"), "{body}");
            assert!(message.contains("pack.toml"), "{body}");
            assert_eq!(body["details"]["hint"], registry_server::api::auth::READ_TOKEN_HINT, "{body}");
        }

        // Export writes the public view only.
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("tree");
        export_tree(&Registry::new(storage.clone()), &target, ExportOptions::default()).await.unwrap();
        assert!(target.join("v1/packs/vendor.acme.tools/index.json").exists());
        assert!(!target.join("v1/packs/private.a.tools").exists());
        assert!(!target.join("v1/packs/private.b.tools").exists());
        let index = std::fs::read_to_string(target.join("v1/index.json")).unwrap();
        assert!(!index.contains("private."), "{index}");
        stack.cleanup().await;
    }
}

/// The versions a pack index lists.
fn listed(index: &Value) -> Vec<String> {
    index["versions"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap().to_string()).collect()
}

/// A tenant's `allow` patterns narrow the public packs it sees on every read path, and
/// `blockAdvisories` hides exactly the versions a stored advisory matches from that tenant only
/// (absent from version files, pack index, registry index, search and SBOM, so the resolver
/// never sees them), while another tenant and anonymous callers still see them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_patterns_and_advisory_blocks_on_every_read_path() {
    let world = world();
    for stack in stacks().await {
        let storage = stack.storage().await;
        let acme = token(&storage, "acme", &["vendor.acme.*"], &[Scope::Publish]).await;
        let other = token(&storage, "other", &["vendor.other.*"], &[Scope::Publish]).await;
        let admin = token(&storage, "ops", &[], &[Scope::Admin]).await;
        let allow = TenantConfig {
            allow: vec!["vendor.acme.tools".into(), "vendor.acme.vuln@<2".into()],
            ..TenantConfig::default()
        };
        let narrow = tenant(&storage, "narrow", allow, &["private.narrow.*"]).await;
        let blocking = TenantConfig { block_advisories: true, ..TenantConfig::default() };
        let blocker = tenant(&storage, "blocker", blocking, &["private.blocker.*"]).await;
        let open = tenant(&storage, "open", TenantConfig::default(), &["private.open.*"]).await;
        let server = TestServer::start_registry(Registry::new(storage.clone()).with_trust(world.trust())).await;
        let api = Api { client: reqwest::Client::new(), server };
        let publish = |name: &'static str, version: &'static str, tok: String, seed: u8, key_id: &'static str| {
            let api = &api;
            async move {
                let (status, body) =
                    api.put_version(name, version, &tok, pack(name, version, &key(seed), key_id)).await;
                assert_eq!(status, StatusCode::CREATED, "{name}@{version}: {body}");
            }
        };
        publish("vendor.acme.tools", "1.0.0", acme.clone(), 2, "acme-1").await;
        publish("vendor.acme.extra", "1.0.0", acme.clone(), 2, "acme-1").await;
        publish("vendor.acme.vuln", "1.0.0", acme.clone(), 2, "acme-1").await;
        publish("vendor.acme.vuln", "1.0.1", acme.clone(), 2, "acme-1").await;
        publish("vendor.acme.vuln", "2.0.0", acme.clone(), 2, "acme-1").await;
        publish("vendor.other.thing", "1.0.0", other.clone(), 3, "other-1").await;

        // Allow patterns: exactly the allowed packs (and range), everywhere.
        for (name, visible) in
            [("vendor.acme.tools", true), ("vendor.acme.extra", false), ("vendor.other.thing", false)]
        {
            api.expect("tenant narrow", Some(&narrow), name, visible).await;
            api.expect("tenant open", Some(&open), name, true).await;
        }
        let index = api.json("/v1/packs/vendor.acme.vuln", Some(&narrow)).await;
        assert_eq!(listed(&index), ["1.0.0", "1.0.1"], "{:?}: the allowed range only: {index}", stack.kind);
        assert_eq!(index["latest"], "1.0.1");
        assert_eq!(api.get("/v1/packs/vendor.acme.vuln/-/2.0.0.tgz", Some(&narrow)).await.0, StatusCode::NOT_FOUND);
        let all = api.json("/v1/index.json", Some(&narrow)).await;
        let names: Vec<&str> = all["packs"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["vendor.acme.tools", "vendor.acme.vuln"], "{all}");

        // An advisory on vendor.acme.vuln <1.0.1: yanked for everyone, absent for the blocker.
        api.post_advisory(
            &admin,
            json!({"id": "TEST-2026-0100", "publishedAt": "2026-11-25", "severity": "high", "summary": "bad",
                   "affected": [{"packName": "vendor.acme.vuln", "versions": "<1.0.1", "fixedIn": "1.0.1"}]}),
        )
        .await;
        let version_files = [
            "/v1/packs/vendor.acme.vuln/-/1.0.0.json",
            "/v1/packs/vendor.acme.vuln/-/1.0.0.tgz",
            "/v1/packs/vendor.acme.vuln/-/1.0.0.sig",
            "/v1/packs/vendor.acme.vuln/-/1.0.0.sbom.json",
            "/v1/packs/vendor.acme.vuln/-/1.0.0.statement.json",
            "/vendor.acme.vuln/1.0.0/cfg.json",
        ];
        for path in version_files {
            let (status, body) = api.get(path, Some(&blocker)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{:?}: blocker GET {path}: {body}", stack.kind);
            // Yanked versions stay downloadable for the others (decisions §5); the schema mirror
            // never serves yanked versions to anyone.
            let expected = if path.starts_with("/vendor.") { StatusCode::NOT_FOUND } else { StatusCode::OK };
            assert_eq!(api.get(path, Some(&open)).await.0, expected, "open GET {path}");
            assert_eq!(api.get(path, None).await.0, expected, "anonymous GET {path}");
        }
        let blocked = api.json("/v1/packs/vendor.acme.vuln", Some(&blocker)).await;
        assert_eq!(listed(&blocked), ["1.0.1", "2.0.0"], "{blocked}");
        for who in [Some(open.as_str()), None] {
            let seen = api.json("/v1/packs/vendor.acme.vuln", who).await;
            assert_eq!(listed(&seen), ["1.0.0", "1.0.1", "2.0.0"], "{seen}");
        }
        let sbom = api.get("/v1/sbom.json", Some(&blocker)).await.1;
        assert!(!sbom.contains("pkg:openwop/vendor.acme.vuln@1.0.0"), "{sbom}");
        assert!(sbom.contains("pkg:openwop/vendor.acme.vuln@1.0.1"), "{sbom}");
        assert!(api.get("/v1/sbom.json", Some(&open)).await.1.contains("pkg:openwop/vendor.acme.vuln@1.0.0"));
        // The pack itself stays listed (its other versions are fine), with the same latest.
        let search = api.json("/v1/packs/-/search?q=vendor.acme.vuln", Some(&blocker)).await;
        assert_eq!(search["results"][0]["name"], "vendor.acme.vuln", "{search}");
        assert_eq!(search["results"][0]["latest"], "2.0.0", "{search}");
        let all = api.json("/v1/index.json", Some(&blocker)).await;
        assert!(all["packs"].as_array().unwrap().iter().any(|p| p["name"] == "vendor.acme.vuln"), "{all}");

        // An advisory on every version of a pack hides the whole pack from the blocker only.
        api.post_advisory(
            &admin,
            json!({"id": "TEST-2026-0101", "publishedAt": "2026-11-25", "severity": "critical", "summary": "worse",
                   "affected": [{"packName": "vendor.acme.extra", "versions": "*"}]}),
        )
        .await;
        api.expect("tenant blocker", Some(&blocker), "vendor.acme.extra", false).await;
        let (status, _) = api.get("/v1/packs/vendor.acme.extra/-/1.0.0.tgz", Some(&open)).await;
        assert_eq!(status, StatusCode::OK, "a tenant without the block still sees it");
        let all = api.json("/v1/index.json", Some(&open)).await;
        assert!(all["packs"].as_array().unwrap().iter().any(|p| p["name"] == "vendor.acme.extra"), "{all}");
        stack.cleanup().await;
    }
}

/// Discovery, the advisory feed and `/keys/{id}.pub` never tell a tenant (or an anonymous
/// caller) about another tenant's private namespace; the root-signed keychain is served whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_advisories_and_keys_are_filtered_per_tenant() {
    let world = world();
    for stack in stacks().await {
        let storage = stack.storage().await;
        let acme = token(&storage, "acme", &["vendor.acme.*"], &[Scope::Publish]).await;
        let admin = token(&storage, "ops", &[], &[Scope::Admin]).await;
        let a = tenant(&storage, "a", TenantConfig::default(), &["private.a.*"]).await;
        let b = tenant(&storage, "b", TenantConfig::default(), &["private.b.*"]).await;
        let server = TestServer::start_registry(Registry::new(storage.clone()).with_trust(world.trust())).await;
        let api = Api { client: reqwest::Client::new(), server };
        for (name, tok, seed, key_id) in [
            ("private.a.tools", &a, 5, "tenant-a-1"),
            ("private.b.tools", &b, 6, "tenant-b-1"),
            ("vendor.acme.tools", &acme, 2, "acme-1"),
        ] {
            let (status, body) = api.put(name, tok, pack(name, "1.0.0", &key(seed), key_id)).await;
            assert_eq!(status, StatusCode::CREATED, "{:?}: {body}", stack.kind);
        }
        // A newer keychain with a key that signs for both a public and a private namespace.
        let shared = keychain_key("shared-1", &key(9), "publisher", &["vendor.shared.*", "private.b.*"]);
        let extra = vec![
            keychain_key("tenant-a-1", &key(5), "publisher", &["private.a.*"]),
            keychain_key("tenant-b-1", &key(6), "publisher", &["private.b.*"]),
            shared,
        ];
        let uploaded = keychain(2, &key(1), extra);
        let resp = api
            .client
            .put(api.server.url("/keys/keychain.json"))
            .bearer_auth(&admin)
            .body(uploaded.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());

        // Generated discovery: each viewer sees its own private keys only.
        let keys_of = |doc: &Value| -> Vec<(String, Value)> {
            doc["signingKeys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| (k["keyId"].as_str().unwrap().to_string(), k["permittedNamespaces"].clone()))
                .collect()
        };
        let viewers = [("anonymous", None), ("tenant a", Some(a.as_str())), ("tenant b", Some(b.as_str()))];
        for (who, tok) in viewers {
            let doc = api.json("/.well-known/openwop-registry", tok).await;
            let keys = keys_of(&doc);
            let has = |id: &str| keys.iter().any(|(k, _)| k == id);
            assert!(has("acme-1") && has("reg-1"), "{who}: {keys:?}");
            assert_eq!(has("tenant-a-1"), who == "tenant a", "{who}: {keys:?}");
            assert_eq!(has("tenant-b-1"), who == "tenant b", "{who}: {keys:?}");
            let shared = &keys.iter().find(|(k, _)| k == "shared-1").expect("a key with a public namespace stays").1;
            let expected =
                if who == "tenant b" { json!(["vendor.shared.*", "private.b.*"]) } else { json!(["vendor.shared.*"]) };
            assert_eq!(shared, &expected, "{who}");
            if who != "tenant b" {
                assert!(!doc.to_string().contains("private.b"), "{who}: {doc}");
            }
            if who != "tenant a" {
                assert!(!doc.to_string().contains("private.a"), "{who}: {doc}");
            }
            // The same for both spellings of the URL.
            assert_eq!(api.json("/.well-known/openwop-registry.json", tok).await, doc);

            // Keys: another tenant's key is a 404 like a missing one; the keychain is whole.
            for (id, visible) in [
                ("tenant-a-1", who == "tenant a"),
                ("tenant-b-1", who == "tenant b"),
                ("shared-1", true),
                ("acme-1", true),
            ] {
                let (status, body) = api.get(&format!("/keys/{id}.pub"), tok).await;
                let expected = if visible { StatusCode::OK } else { StatusCode::NOT_FOUND };
                assert_eq!(status, expected, "{who}: /keys/{id}.pub: {body}");
            }
            assert_eq!(api.get("/keys/nobody.pub", tok).await.0, StatusCode::NOT_FOUND);
            let (status, chain) = api.get("/keys/keychain.json", tok).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(chain, uploaded, "{who}: the signed keychain is never narrowed");
        }

        // A stored (imported) discovery document: namespaceAssignments are filtered too.
        let mut stored = api.json("/.well-known/openwop-registry", None).await;
        stored["signingKeys"].as_array_mut().unwrap().push(json!({
            "keyId": "tenant-b-1", "algorithm": "ed25519", "publicKeyUrl": "/keys/tenant-b-1.pub",
            "permittedNamespaces": ["private.b.*"], "status": "active"}));
        stored["namespaceAssignments"] = json!([
            {"namespace": "vendor.acme.*", "owner": "Acme", "signingKeyId": "acme-1"},
            {"namespace": "private.b.*", "owner": "B corp", "signingKeyId": "tenant-b-1"},
        ]);
        let now = pack_verify::trust::format_time(time::OffsetDateTime::now_utc());
        storage.db.put_document(registry_server::registry::DOC_DISCOVERY, &stored.to_string(), &now).await.unwrap();
        let seen_by = |doc: &Value| -> Vec<String> {
            doc["namespaceAssignments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["namespace"].as_str().unwrap().to_string())
                .collect()
        };
        let anon = api.json("/.well-known/openwop-registry", None).await;
        assert_eq!(seen_by(&anon), ["vendor.acme.*"], "{anon}");
        assert!(!anon.to_string().contains("private.b"), "{anon}");
        let for_a = api.json("/.well-known/openwop-registry", Some(&a)).await;
        assert_eq!(seen_by(&for_a), ["vendor.acme.*"]);
        assert!(!for_a.to_string().contains("private.b"), "{for_a}");
        let for_b = api.json("/.well-known/openwop-registry", Some(&b)).await;
        assert_eq!(seen_by(&for_b), ["vendor.acme.*", "private.b.*"]);
        assert!(keys_of(&for_b).iter().any(|(k, _)| k == "tenant-b-1"));
        assert_eq!(api.get("/keys/tenant-b-1.pub", Some(&a)).await.0, StatusCode::NOT_FOUND);
        assert_eq!(api.get("/keys/tenant-b-1.pub", Some(&b)).await.0, StatusCode::OK);

        // Advisories: one naming only tenant a's pack, one naming a public pack and tenant b's.
        api.post_advisory(
            &admin,
            json!({"id": "TEST-2026-0200", "publishedAt": "2026-11-25", "severity": "high", "summary": "a only",
                   "affected": [{"packName": "private.a.tools", "versions": "<2"}]}),
        )
        .await;
        api.post_advisory(
            &admin,
            json!({"id": "TEST-2026-0201", "publishedAt": "2026-11-25", "severity": "low", "summary": "mixed",
                   "affected": [{"packName": "vendor.acme.tools", "versions": "<2"},
                                {"packName": "private.b.tools", "versions": "<2"}]}),
        )
        .await;
        let feed_of = |feed: &Value| -> Vec<(String, Vec<String>)> {
            feed["advisories"]
                .as_array()
                .unwrap()
                .iter()
                .map(|adv| {
                    let packs = adv["affected"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|e| e["packName"].as_str().unwrap().to_string())
                        .collect();
                    (adv["id"].as_str().unwrap().to_string(), packs)
                })
                .collect()
        };
        let pair = |id: &str, packs: &[&str]| (id.to_string(), packs.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let anon = api.json("/security/advisories.json", None).await;
        assert_eq!(feed_of(&anon), [pair("TEST-2026-0201", &["vendor.acme.tools"])], "{anon}");
        let for_a = api.json("/security/advisories.json", Some(&a)).await;
        assert_eq!(
            feed_of(&for_a),
            [pair("TEST-2026-0200", &["private.a.tools"]), pair("TEST-2026-0201", &["vendor.acme.tools"])],
            "{for_a}"
        );
        let for_b = api.json("/security/advisories.json", Some(&b)).await;
        assert_eq!(feed_of(&for_b), [pair("TEST-2026-0201", &["vendor.acme.tools", "private.b.tools"])], "{for_b}");
        // Anonymous reads again come from the public cache, still filtered.
        assert_eq!(api.json("/security/advisories.json", None).await, anon);
        stack.cleanup().await;
    }
}

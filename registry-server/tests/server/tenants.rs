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
        let resp = self
            .client
            .put(self.server.url(&format!("/v1/packs/{name}/-/1.0.0.tgz")))
            .header("content-type", "application/gzip")
            .bearer_auth(token)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
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

        // A bad token on a read is a 401, not a silent public view.
        assert_eq!(api.get("/v1/index.json", Some("owp_nope_nope")).await.0, StatusCode::UNAUTHORIZED);

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

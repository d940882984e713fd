//! HTTP semantics of the read API, on a registry with one imported pack set.

use pack_verify::trust::bundle::TrustBundle;
use registry_server::import::{ImportOptions, import_tree};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{TestServer, fixture_tree, stacks};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_etags_aliases_and_errors() {
    let Some(tree) = fixture_tree("headers_etags_aliases_and_errors") else { return };
    for stack in stacks().await {
        let storage = stack.storage().await;
        import_tree(
            &storage,
            &tree,
            ImportOptions { bundle: TrustBundle::reference().unwrap(), skip_verification: false },
        )
        .await
        .unwrap();
        let server = TestServer::start(storage).await;
        let client = reqwest::Client::new();
        let get = |path: &str| client.get(server.url(path)).send();

        // Both discovery URLs, both pack-index URLs: identical bodies.
        let a = get("/.well-known/openwop-registry").await.unwrap().bytes().await.unwrap();
        let b = get("/.well-known/openwop-registry.json").await.unwrap().bytes().await.unwrap();
        assert_eq!(a, b);
        let a = get("/v1/packs/core.openwop.flow").await.unwrap().bytes().await.unwrap();
        let b = get("/v1/packs/core.openwop.flow/index.json").await.unwrap().bytes().await.unwrap();
        assert_eq!(a, b);

        // Metadata: JSON, short cache with revalidation, strong ETag, CORS, 304 on match.
        let resp = get("/v1/packs/core.openwop.flow").await.unwrap();
        let h = resp.headers().clone();
        assert_eq!(h["content-type"], "application/json; charset=utf-8");
        assert_eq!(h["cache-control"], "public, max-age=300, must-revalidate");
        assert_eq!(h["access-control-allow-origin"], "*");
        let etag = h["etag"].to_str().unwrap().to_string();
        assert!(etag.starts_with("\"sha256-"), "{etag}");
        assert_eq!(h["content-length"].to_str().unwrap(), resp.bytes().await.unwrap().len().to_string());
        let resp =
            client.get(server.url("/v1/packs/core.openwop.flow")).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
        assert!(resp.bytes().await.unwrap().is_empty());
        let resp = client
            .get(server.url("/v1/packs/core.openwop.flow"))
            .header("if-none-match", "\"other\"")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);

        // Tarball: immutable, ETag is the integrity, HEAD has the length and no body.
        let manifest: Value = get("/v1/packs/core.openwop.flow/-/1.1.0.json").await.unwrap().json().await.unwrap();
        let resp = client.head(server.url("/v1/packs/core.openwop.flow/-/1.1.0.tgz")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["cache-control"], "public, max-age=31536000, immutable");
        assert_eq!(
            resp.headers()["etag"].to_str().unwrap(),
            format!("\"{}\"", manifest["integrity"].as_str().unwrap())
        );
        let len: usize = resp.headers()["content-length"].to_str().unwrap().parse().unwrap();
        assert!(len > 1000);
        assert!(resp.bytes().await.unwrap().is_empty());
        let tgz = get("/v1/packs/core.openwop.flow/-/1.1.0.tgz").await.unwrap().bytes().await.unwrap();
        assert_eq!(tgz.len(), len);
        pack_verify::integrity::Integrity::parse(manifest["integrity"].as_str().unwrap()).unwrap().check(&tgz).unwrap();
        let sig = get("/v1/packs/core.openwop.flow/-/1.1.0.sig").await.unwrap();
        assert_eq!(sig.headers()["content-type"], "application/octet-stream");
        assert_eq!(sig.bytes().await.unwrap().len(), 64);
        let key = get("/keys/openwop-team-1.pub").await.unwrap();
        assert_eq!(key.headers()["content-type"], "application/x-pem-file");
        assert!(key.text().await.unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));

        // Errors use the JSON envelope with contract codes.
        for (path, code) in [
            ("/v1/packs/core.openwop.flow/-/9.9.9.tgz", "pack_version_not_found"),
            ("/v1/packs/core.openwop.flow/-/9.9.9.json", "pack_version_not_found"),
            ("/v1/packs/no.such.pack", "not_found"),
            ("/v1/packs/core.openwop.flow/-/1.1.0.zip", "not_found"),
            ("/keys/nobody.pub", "not_found"),
            ("/nothing/here", "not_found"),
            // A segment that is not UTF-8 once percent-decoded names nothing (axum's plain text before).
            ("/v1/packs/%FF", "not_found"),
            ("/v1/packs/%FF/-/1.0.0.json", "not_found"),
            ("/keys/%FF.pub", "not_found"),
            ("/-/catalog/%FF", "not_found"),
            ("/%FF/1.0.0/x.json", "not_found"),
        ] {
            let resp = get(path).await.unwrap();
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(resp.headers()["access-control-allow-origin"], "*");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], code, "{path}: {body}");
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
            assert!(body.as_object().unwrap().keys().all(|k| ["error", "message", "details"].contains(&k.as_str())));
        }
        // A method a URL does not take: 405 in the envelope, with the methods it does take.
        for path in ["/v1/index.json", "/metrics"] {
            let resp = client.post(server.url(path)).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
            assert!(resp.headers()["allow"].to_str().unwrap().contains("GET"), "{path}: {:?}", resp.headers());
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], "method_not_allowed", "{path}: {body}");
        }
        assert_eq!(get("/healthz").await.unwrap().status(), StatusCode::OK);
        assert_eq!(get("/readyz").await.unwrap().status(), StatusCode::OK);
        drop(server);
        stack.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_registry_serves_discovery_and_empty_index() {
    for stack in stacks().await {
        let server = TestServer::start(stack.storage().await).await;
        let client = reqwest::Client::new();
        let discovery: Value =
            client.get(server.url("/.well-known/openwop-registry")).send().await.unwrap().json().await.unwrap();
        assert_eq!(discovery["registryVersion"], "1.0.0");
        assert_eq!(discovery["protocolVersion"], "1.0");
        for key in ["registryIndex", "packMetadata", "versionManifest", "versionTarball"] {
            assert!(discovery["endpoints"][key].is_string(), "{key}");
        }
        let index: Value = client.get(server.url("/v1/index.json")).send().await.unwrap().json().await.unwrap();
        assert_eq!(index["packCount"], 0);
        assert_eq!(index["packs"], Value::Array(vec![]));
        let feed: Value =
            client.get(server.url("/security/advisories.json")).send().await.unwrap().json().await.unwrap();
        assert_eq!(feed["advisories"], Value::Array(vec![]));
        drop(server);
        stack.cleanup().await;
    }
}

/// The hot read routes are answered before the router (`api::front`): every answer, errors and
/// 304s included, must be the router's own, byte for byte and header for header, and counted
/// under the same route template.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reads_answer_exactly_as_the_router_does() {
    let Some(tree) = fixture_tree("hot_reads_answer_exactly_as_the_router_does") else { return };
    for stack in stacks().await {
        let storage = stack.storage().await;
        let options = ImportOptions { bundle: TrustBundle::reference().unwrap(), skip_verification: false };
        import_tree(&storage, &tree, options).await.unwrap();
        let registry = registry_server::Registry::new(storage);
        let mut bases = Vec::new();
        let mut tasks = Vec::new();
        for service in [
            registry_server::api::router(registry.clone()),
            registry_server::api::router(registry.clone()).router_only(),
        ] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            bases.push(format!("http://{}", listener.local_addr().unwrap()));
            tasks.push(tokio::spawn(async move { axum::serve(listener, service).await.unwrap() }));
        }
        let client = reqwest::Client::new();
        let mut etags = Vec::new();
        for base in &bases {
            let resp = client.get(format!("{base}/v1/packs/core.openwop.flow")).send().await.unwrap();
            etags.push(resp.headers()["etag"].clone());
        }
        assert_eq!(etags[0], etags[1]);
        let etag = etags.remove(0);
        let long_name = format!("/v1/packs/{}/-/1.0.0.json", "a".repeat(5000));
        let paths = [
            "/.well-known/openwop-registry",
            "/.well-known/openwop-registry.json",
            "/v1/index.json",
            "/v1/index.json?x=1",
            "/v1/packs/core.openwop.flow",
            "/v1/packs/core.openwop.flow/index.json",
            "/v1/packs/core.openwop.flow/-/1.1.0.json",
            "/v1/packs/core.openwop.flow/-/1.1.0.tgz",
            "/v1/packs/core.openwop.flow/-/1.1.0.sig",
            "/v1/packs/core.openwop.flow/-/1.1.0.sbom.json",
            "/v1/packs/core.openwop.flow/-/1.1.0.statement.json",
            "/v1/packs/core.openwop.flow/-/9.9.9.tgz",
            "/v1/packs/core.openwop.flow/-/1.1.0.zip",
            "/v1/packs/core.openwop.flow/-/",
            "/v1/packs/core.openwop.flow/",
            "/v1/packs/core.openwop.flow/-/1.1.0.json/extra",
            "/v1/packs/no.such.pack",
            "/v1/packs/-",
            "/v1/packs/-/search?q=flow",
            "/v1/packs/core.openwop.fl%6Fw",
            // Hostile shapes: dot segments, a traversal, a name far over any limit.
            "/v1/packs/..",
            "/v1/packs/core.openwop.flow/-/..",
            "/v1/packs/core.openwop.flow/-/..json",
            "/v1/packs/core.openwop.flow/-/../../../etc/passwd",
            "/v1/packs/../index.json",
            &long_name,
            "/security/advisories.json",
        ];
        for path in paths {
            for conditional in [None, Some(&etag)] {
                let mut answers = Vec::new();
                for base in &bases {
                    let mut request = client.get(format!("{base}{path}"));
                    if let Some(etag) = conditional {
                        request = request.header("if-none-match", etag);
                    }
                    let resp = request.send().await.unwrap();
                    let status = resp.status();
                    let mut headers: Vec<(String, Vec<u8>)> = resp
                        .headers()
                        .iter()
                        .filter(|(name, _)| *name != "date")
                        .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
                        .collect();
                    headers.sort();
                    answers.push((status, headers, resp.bytes().await.unwrap()));
                }
                assert_eq!(answers[0], answers[1], "{path} (if-none-match: {conditional:?})");
            }
        }
        // The same counts under the same route templates.
        let metrics: Vec<String> = request_counts(&client, &bases).await;
        assert_eq!(metrics[0], metrics[1]);
        assert!(metrics[0].contains(r#"route="/v1/packs/{name}/-/{file}",status="200"}"#), "{}", metrics[0]);
        for task in tasks {
            task.abort();
        }
        stack.cleanup().await;
    }
}

/// Each server's request counters, without the `/metrics` route's own line.
async fn request_counts(client: &reqwest::Client, bases: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for base in bases {
        let text = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        out.push(
            text.lines()
                .filter(|l| l.starts_with("openwop_http_requests_total") && !l.contains("/metrics"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    out
}

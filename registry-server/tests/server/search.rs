//! `GET /v1/packs/-/search?q=&page=&perPage=`.

use pack_verify::trust::bundle::TrustBundle;
use registry_server::import::{ImportOptions, import_tree};
use reqwest::StatusCode;
use serde_json::Value;

use crate::seed::{EVIL, seed};
use crate::support::{TestServer, fixture_tree, stacks};

fn names(body: &Value) -> Vec<&str> {
    body["results"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_ranks_pages_and_validates() {
    for stack in stacks().await {
        let storage = stack.storage().await;
        seed(&storage).await;
        let server = TestServer::start(storage).await;
        let client = reqwest::Client::new();
        let get = |query: &str| client.get(server.url(&format!("/v1/packs/-/search{query}"))).send();

        // Name > description; the deprecated pack is de-ranked below a plain name match, not hidden.
        let resp = get("?q=FLOW").await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{:?}", stack.kind);
        assert_eq!(resp.headers()["content-type"], "application/json; charset=utf-8");
        assert_eq!(resp.headers()["cache-control"], "public, max-age=60, must-revalidate");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(names(&body), ["vendor.acme.flowchart", "vendor.acme.flow", "vendor.acme.router"]);
        assert_eq!((body["query"].as_str(), body["total"].as_u64()), (Some("FLOW"), Some(3)));
        assert_eq!((body["page"].as_u64(), body["perPage"].as_u64()), (Some(1), Some(20)));
        let flow = &body["results"][1];
        assert_eq!(flow["deprecated"], true);
        assert_eq!(flow["latest"], "0.9.0");
        assert_eq!(flow["kind"], "node");
        assert_eq!(flow["description"], "Flow control for Acme.");
        assert!(body["results"][0]["score"].as_u64() > flow["score"].as_u64());

        // An exact name wins even when deprecated.
        let body: Value = get("?q=vendor.acme.flow").await.unwrap().json().await.unwrap();
        assert_eq!(names(&body)[0], "vendor.acme.flow");
        // Keywords match; `latest` skips the yanked 1.1.0; multi-term queries need every term.
        let body: Value = get("?q=widgets").await.unwrap().json().await.unwrap();
        assert_eq!(names(&body), [EVIL]);
        assert_eq!(
            (body["results"][0]["latest"].as_str(), body["results"][0]["yanked"].as_bool()),
            (Some("1.0.0"), Some(false))
        );
        let body: Value = get("?q=flow%20charts").await.unwrap().json().await.unwrap();
        assert_eq!(names(&body), ["vendor.acme.flowchart"]);
        // typeIds match too.
        let body: Value = get("?q=router.node").await.unwrap().json().await.unwrap();
        assert_eq!(names(&body), ["vendor.acme.router"]);

        // Pages.
        let body: Value = get("?q=flow&page=2&perPage=2").await.unwrap().json().await.unwrap();
        assert_eq!(
            (body["total"].as_u64(), body["page"].as_u64(), body["perPage"].as_u64()),
            (Some(3), Some(2), Some(2))
        );
        assert_eq!(names(&body), ["vendor.acme.router"]);
        let body: Value = get("?q=flow&page=3&perPage=2").await.unwrap().json().await.unwrap();
        assert!(names(&body).is_empty());
        assert_eq!(body["total"], 3);

        // Bad parameters: 400 envelope naming the parameter.
        let long = "x".repeat(257);
        for (query, parameter) in [
            ("", "q"),
            ("?q=%20%20", "q"),
            (&*format!("?q={long}"), "q"),
            ("?q=flow&page=0", "page"),
            ("?q=flow&page=abc", "page"),
            ("?q=flow&perPage=101", "perPage"),
            ("?q=flow&perPage=-1", "perPage"),
        ] {
            let resp = get(query).await.unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{query}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], "invalid_body", "{query}: {body}");
            assert_eq!(body["details"]["parameter"], parameter, "{query}: {body}");
            assert!(body["message"].as_str().unwrap().contains(parameter), "{body}");
        }
        drop(server);
        stack.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_over_the_fixture_registry() {
    let Some(tree) = fixture_tree("search_over_the_fixture_registry") else { return };
    for stack in stacks().await {
        let storage = stack.storage().await;
        let options = ImportOptions { bundle: TrustBundle::reference().unwrap(), skip_verification: false };
        import_tree(&storage, &tree, options).await.unwrap();
        let server = TestServer::start(storage).await;
        let client = reqwest::Client::new();
        let body: Value = client
            .get(server.url("/v1/packs/-/search?q=core.openwop.flow"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["results"][0]["name"], "core.openwop.flow", "{:?}", stack.kind);
        assert_eq!(body["results"][0]["latest"], "1.1.0");
        // A type id only the flow pack declares.
        let body: Value =
            client.get(server.url("/v1/packs/-/search?q=core.flow.if")).send().await.unwrap().json().await.unwrap();
        assert!(names(&body).contains(&"core.openwop.flow"), "{body}");
        // perPage bounds the page, total counts all.
        let body: Value =
            client.get(server.url("/v1/packs/-/search?q=core&perPage=5")).send().await.unwrap().json().await.unwrap();
        assert_eq!(body["results"].as_array().unwrap().len(), 5);
        assert!(body["total"].as_u64().unwrap() > 50);
        drop(server);
        stack.cleanup().await;
    }
}

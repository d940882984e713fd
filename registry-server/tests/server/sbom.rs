//! `GET /v1/sbom.json`: the aggregate CycloneDX document.

use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::seed::{EVIL, seed};
use crate::support::{TestServer, stacks};

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_sbom_links_every_version_sbom_with_its_hash() {
    for stack in stacks().await {
        let storage = stack.storage().await;
        seed(&storage).await;
        let server = TestServer::start(storage).await;
        let client = reqwest::Client::new();
        let resp = client.get(server.url("/v1/sbom.json")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{:?}", stack.kind);
        assert_eq!(resp.headers()["content-type"], "application/json; charset=utf-8");
        let bytes = resp.bytes().await.unwrap();
        // Deterministic: the same state gives the same bytes.
        assert_eq!(client.get(server.url("/v1/sbom.json")).send().await.unwrap().bytes().await.unwrap(), bytes);
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!((doc["bomFormat"].as_str(), doc["specVersion"].as_str()), (Some("CycloneDX"), Some("1.6")));
        assert!(doc.get("serialNumber").is_none() && doc["metadata"].get("timestamp").is_none());

        let components = doc["components"].as_array().unwrap();
        let refs: Vec<&str> = components.iter().map(|c| c["bom-ref"].as_str().unwrap()).collect();
        // vendor.acme.router@2.0.0 has no SBOM, so it has no component.
        assert_eq!(
            refs,
            [
                format!("pkg:openwop/{EVIL}@1.0.0"),
                format!("pkg:openwop/{EVIL}@1.1.0"),
                "pkg:openwop/vendor.acme.flow@0.9.0".into(),
                "pkg:openwop/vendor.acme.flowchart@1.0.0".into(),
            ]
        );
        for c in components {
            assert_eq!(c["purl"], c["bom-ref"]);
            let reference = &c["externalReferences"][0];
            assert_eq!(reference["type"], "bom");
            let url = reference["url"].as_str().unwrap();
            assert_eq!(
                url,
                format!("/v1/packs/{}/-/{}.sbom.json", c["name"].as_str().unwrap(), c["version"].as_str().unwrap())
            );
            let sbom = client.get(server.url(url)).send().await.unwrap().bytes().await.unwrap();
            assert_eq!(reference["hashes"][0]["alg"], "SHA-256");
            assert_eq!(reference["hashes"][0]["content"], hex(&sbom), "{url}");
        }
        assert_eq!(components[1]["properties"][0]["name"], "openwop:yanked");
        assert!(components[0].get("properties").is_none());
        drop(server);
        stack.cleanup().await;
    }
}

//! The schema `$id` mirror `/{name}/{version}/{file}.json` (contract §3.7).

use pack_verify::tarball::{TarLimits, read_pack};
use pack_verify::trust::bundle::TrustBundle;
use registry_server::import::{ImportOptions, import_tree};
use reqwest::StatusCode;
use serde_json::Value;

use crate::seed::{EVIL, SCHEMA_BYTES, SCHEMA_FILE, seed};
use crate::support::{TestServer, fixture_tree, stacks};

async fn assert_not_found(client: &reqwest::Client, server: &TestServer, path: &str) {
    let resp = client.get(server.url(path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "GET {path}");
    assert_eq!(resp.headers()["content-type"], "application/json", "GET {path}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "not_found", "GET {path}: {body}");
    assert!(body["message"].as_str().unwrap().contains("No file at"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_are_mirrored_from_unyanked_tarballs_only() {
    for stack in stacks().await {
        let storage = stack.storage().await;
        seed(&storage).await;
        let server = TestServer::start(storage).await;
        let client = reqwest::Client::new();

        let path = format!("/{EVIL}/1.0.0/{SCHEMA_FILE}");
        let resp = client.get(server.url(&path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{:?}", stack.kind);
        let h = resp.headers().clone();
        assert_eq!(h["content-type"], "application/json; charset=utf-8");
        assert_eq!(h["cache-control"], "public, max-age=300, must-revalidate");
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(resp.bytes().await.unwrap(), SCHEMA_BYTES, "served byte for byte from the tarball");
        let etag = h["etag"].to_str().unwrap();
        let resp = client.get(server.url(&path)).header("if-none-match", etag).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
        let other = client.get(server.url(&format!("/{EVIL}/1.0.0/b.output.json"))).send().await.unwrap();
        assert_eq!(other.bytes().await.unwrap(), &b"{}\n"[..]);

        // Never for yanked versions (1.1.0 has the file), nor anything outside schemas/*.json.
        for path in [
            format!("/{EVIL}/1.1.0/{SCHEMA_FILE}"),
            format!("/{EVIL}/1.0.0/missing.json"),
            format!("/{EVIL}/1.0.0/pack.json"),
            format!("/{EVIL}/1.0.0/notes.txt"),
            format!("/{EVIL}/1.0.0/deep.json"),
            format!("/{EVIL}/1.0.0/nested%2Fdeep.json"),
            format!("/{EVIL}/1.0.0/..%2Fpack.json"),
            format!("/{EVIL}/9.9.9/{SCHEMA_FILE}"),
            format!("/community.nobody.pack/1.0.0/{SCHEMA_FILE}"),
        ] {
            assert_not_found(&client, &server, &path).await;
        }
        // The mirror's catch-all shape does not swallow the fixed routes.
        let resp = client.get(server.url(&format!("/v1/packs/{EVIL}"))).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        drop(server);
        stack.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_schemas_match_the_tarballs() {
    let Some(tree) = fixture_tree("fixture_schemas_match_the_tarballs") else { return };
    for stack in stacks().await {
        let storage = stack.storage().await;
        let options = ImportOptions { bundle: TrustBundle::reference().unwrap(), skip_verification: false };
        import_tree(&storage, &tree, options).await.unwrap();
        let server = TestServer::start(storage).await;
        let client = reqwest::Client::new();

        let tgz = std::fs::read(tree.join("v1/packs/core.openwop.flow/-/1.1.0.tgz")).unwrap();
        let archive = read_pack(&tgz, &TarLimits::default()).unwrap();
        let mut checked = 0;
        for file in archive.files().iter().filter(|f| f.path.starts_with("schemas/")) {
            let name = file.path.strip_prefix("schemas/").unwrap();
            let resp = client.get(server.url(&format!("/core.openwop.flow/1.1.0/{name}"))).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{:?} {name}", stack.kind);
            assert_eq!(resp.bytes().await.unwrap(), file.data, "{name}");
            checked += 1;
        }
        assert!(checked > 50, "core.openwop.flow@1.1.0 has {checked} schemas");
        // The reference tree mirrors yanked core.openwop.examples@1.0.0; the spec forbids it.
        let tgz = std::fs::read(tree.join("v1/packs/core.openwop.examples/-/1.0.0.tgz")).unwrap();
        let archive = read_pack(&tgz, &TarLimits::default()).unwrap();
        let yanked_schema = archive.files().iter().find(|f| f.path.starts_with("schemas/")).unwrap();
        let name = yanked_schema.path.strip_prefix("schemas/").unwrap();
        assert_not_found(&client, &server, &format!("/core.openwop.examples/1.0.0/{name}")).await;
        drop(server);
        stack.cleanup().await;
    }
}

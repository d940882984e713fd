//! The object store going away (an S3 server frozen with SIGSTOP, so requests hang rather than
//! fail fast): metadata reads keep working from the database, tarball reads and publishes fail
//! cleanly with 503 instead of hanging, nothing half-published becomes visible, and everything
//! works again once the store is back.

use std::time::Duration;

use registry_server::Registry;
use registry_server::auth::Scope;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{PrivateS3, TestServer, postgres_s3};
use crate::world::{World, key, pack, token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_object_store_degrades_reads_and_fails_writes_cleanly() {
    // A private S3 server: freezing the shared one would stall every other test.
    let Some(s3) = PrivateS3::start("a_hung_object_store_degrades_reads_and_fails_writes_cleanly").await else {
        return;
    };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let stack = postgres_s3(&s3.database_url, &s3.endpoint).await;
    let world = World::new();
    let storage = stack.storage().await;
    let secret = token(&storage, "acme", &["vendor.acme.*"], &[Scope::Publish]).await;
    let server = TestServer::start_registry(Registry::new(storage.clone()).with_trust(world.trust())).await;
    let put = |version: &str, body: Vec<u8>| {
        client
            .put(server.url(&format!("/v1/packs/vendor.acme.out/-/{version}.tgz")))
            .bearer_auth(&secret)
            .body(body)
            .send()
    };
    let v1 = pack("vendor.acme.out", "1.0.0", &key(2), "acme-1", "one");
    assert_eq!(put("1.0.0", v1.clone()).await.unwrap().status(), StatusCode::CREATED);

    s3.freeze();
    // Metadata comes from the database: still served.
    let index = client.get(server.url("/v1/packs/vendor.acme.out")).send().await.unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    let manifest = client.get(server.url("/v1/packs/vendor.acme.out/-/1.0.0.json")).send().await.unwrap();
    assert_eq!(manifest.status(), StatusCode::OK);
    // Blobs cannot be read: a clean 503 with the retriable code, not a hang.
    let tgz = client.get(server.url("/v1/packs/vendor.acme.out/-/1.0.0.tgz")).send().await.unwrap();
    assert_eq!(tgz.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(tgz.json::<Value>().await.unwrap()["error"], "pack_registry_unreachable");
    // A publish fails cleanly, and nothing of it is visible.
    let v2 = pack("vendor.acme.out", "1.1.0", &key(2), "acme-1", "two");
    let resp = put("1.1.0", v2.clone()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "pack_registry_unreachable");
    assert_eq!(
        client.get(server.url("/v1/packs/vendor.acme.out/-/1.1.0.json")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // The store is back: the same publish succeeds and everything is served.
    s3.thaw();
    assert_eq!(put("1.1.0", v2.clone()).await.unwrap().status(), StatusCode::CREATED);
    for (version, body) in [("1.0.0", &v1), ("1.1.0", &v2)] {
        let served =
            client.get(server.url(&format!("/v1/packs/vendor.acme.out/-/{version}.tgz"))).send().await.unwrap();
        assert_eq!(served.bytes().await.unwrap()[..], body[..]);
    }
    drop(server);
    stack.cleanup().await;
}

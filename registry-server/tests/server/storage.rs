//! The storage layer on each stack: migrations, immutability, concurrent inserts, blobs.

use bytes::Bytes;
use registry_server::storage::db::InsertOutcome;
use registry_server::storage::{Blobs, VersionRow};

use crate::support::stacks;

fn row(version: &str, integrity: &str, blob: &str) -> VersionRow {
    let v = semver::Version::parse(version).unwrap();
    VersionRow {
        name: "vendor.acme.tools".into(),
        version: version.into(),
        major: v.major as i64,
        minor: v.minor as i64,
        patch: v.patch as i64,
        prerelease: v.pre.to_string(),
        manifest: format!(
            r#"{{"name":"vendor.acme.tools","version":"{version}","description":"d","integrity":"{integrity}"}}"#
        ),
        integrity: integrity.into(),
        signing_method: "manual".into(),
        signing_key_id: "acme-1".into(),
        published_at: "2026-11-25T00:00:00Z".into(),
        yanked: 0,
        deprecated: 0,
        tarball_blob: blob.into(),
        tarball_size: 3,
        signature_blob: blob.into(),
        sbom_blob: None,
        statement_blob: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_immutable_and_concurrent_inserts_have_one_winner() {
    for stack in stacks().await {
        let storage = stack.storage().await;
        // Reopening applies no migration twice.
        drop(stack.storage().await);

        let key = storage.blobs.put(Bytes::from_static(b"abc")).await.unwrap();
        assert_eq!(key, Blobs::key_for(b"abc"));
        assert_eq!(storage.blobs.put(Bytes::from_static(b"abc")).await.unwrap(), key, "same bytes, same key");
        assert_eq!(&storage.blobs.get(&key).await.unwrap()[..], b"abc");
        let missing = storage.blobs.get(&Blobs::key_for(b"never stored")).await.unwrap_err();
        assert_eq!(missing.code(), "pack_registry_unreachable");

        let first = row("1.0.0", "sha256-AAAA", &key);
        assert_eq!(storage.db.insert_version(&first, "now").await.unwrap(), InsertOutcome::Inserted);
        assert_eq!(
            storage.db.insert_version(&row("1.0.0", "sha256-BBBB", &key), "now").await.unwrap(),
            InsertOutcome::Exists { integrity: "sha256-AAAA".into() },
            "{:?}: a second insert must not replace the stored version",
            stack.kind
        );
        assert_eq!(storage.db.version("vendor.acme.tools", "1.0.0").await.unwrap().unwrap().integrity, "sha256-AAAA");

        // Eight writers race for one new version: exactly one inserts.
        let mut tasks = Vec::new();
        for i in 0..8 {
            let db = storage.db.clone();
            let r = row("2.0.0", &format!("sha256-{i}"), &key);
            tasks.push(tokio::spawn(async move { db.insert_version(&r, "now").await.unwrap() }));
        }
        let mut inserted = 0;
        let mut winners = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                InsertOutcome::Inserted => inserted += 1,
                InsertOutcome::Exists { integrity } => winners.push(integrity),
            }
        }
        assert_eq!(inserted, 1, "{:?}", stack.kind);
        let stored = storage.db.version("vendor.acme.tools", "2.0.0").await.unwrap().unwrap().integrity;
        assert!(winners.iter().all(|w| *w == stored));
        assert_eq!(storage.db.versions_of("vendor.acme.tools").await.unwrap().len(), 2);
        stack.cleanup().await;
    }
}

#[tokio::test]
async fn bad_configuration_is_reported_clearly() {
    let err = registry_server::storage::db::Db::connect("mysql://localhost/x").await.unwrap_err();
    assert_eq!(err.code(), "invalid_configuration");
    assert!(err.to_string().contains("neither sqlite"), "{err}");
    let err = Blobs::open("s3://").unwrap_err();
    assert!(err.to_string().contains("names no bucket"), "{err}");
    let err = Blobs::open("s3://bucket?colour=blue").unwrap_err();
    assert!(err.to_string().contains("unknown option"), "{err}");
}

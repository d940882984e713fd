//! The storage layer on each stack: migrations, immutability, concurrent inserts, blobs.

use bytes::Bytes;
use registry_server::storage::blobs::{INLINE_LIMIT, INLINE_PREFIX};
use registry_server::storage::db::InsertOutcome;
use registry_server::storage::writes::{AuditEvent, Change};
use registry_server::storage::{Blobs, VersionRow};

use crate::support::{StackKind, stacks};

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

/// On S3 a publish writes two object-store blobs (tarball, signature); the SBOM and the
/// statement go into the database in the version row's transaction, are read back byte for
/// byte, and leave with the version. Object-store keys (a local directory's choice, and rows
/// from before) resolve alike, and a document the database cannot hold as text goes to the
/// object store. Both placements are exercised on both stacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sboms_and_statements_live_in_the_database_beside_their_version() {
    for stack in stacks().await {
        let mut storage = stack.storage().await;
        let remote = matches!(stack.kind, StackKind::PostgresS3);
        assert_eq!(
            storage.blobs.inlines_documents(),
            remote,
            "{:?}: only S3 sends documents to the database",
            stack.kind
        );
        let sbom = Bytes::from_static(br#"{"bomFormat":"CycloneDX","specVersion":"1.6"}"#);
        let statement = Bytes::from_static(b"{\"type\":\"openwop.version-statement\"}\n");

        // One version's four files, through `blobs` placing the documents as told.
        let put_four = |blobs: Blobs, inline: bool, tarball: &'static [u8]| {
            let (sbom, statement) = (sbom.clone(), statement.clone());
            async move {
                let blobs = blobs.with_inline_documents(inline);
                let signature = Bytes::from_static(b"sig");
                blobs.put_version(Bytes::from_static(tarball), signature, Some(sbom), Some(statement)).await.unwrap()
            }
        };

        // Not inlined: all four files are objects under plain content addresses.
        let files = put_four(storage.blobs.clone(), false, b"t0").await;
        assert!(files.inline.is_empty());
        assert_eq!(files.sbom.as_deref(), Some(Blobs::key_for(&sbom).as_str()));
        assert_eq!(storage.blob(&Blobs::key_for(&statement)).await.unwrap(), statement);
        for key in [&files.tarball, &files.signature, &files.sbom.clone().unwrap(), &files.statement.clone().unwrap()] {
            storage.blobs.delete(key).await.unwrap();
        }

        storage.blobs = storage.blobs.clone().with_inline_documents(true);
        let blobs = put_four(storage.blobs.clone(), true, b"tgz").await;
        let (sbom_key, statement_key) = (blobs.sbom.clone().unwrap(), blobs.statement.clone().unwrap());
        assert_eq!(sbom_key, format!("{INLINE_PREFIX}{}", Blobs::key_for(&sbom)));
        assert_eq!(statement_key, format!("{INLINE_PREFIX}{}", Blobs::key_for(&statement)));
        let mut listed: Vec<String> = storage.blobs.list().await.unwrap().into_iter().map(|b| b.key).collect();
        listed.sort();
        let mut expected = vec![blobs.tarball.clone(), blobs.signature.clone()];
        expected.sort();
        assert_eq!(listed, expected, "{:?}: only the tarball and the signature reach the object store", stack.kind);
        let unseen = storage.blob(&sbom_key).await.unwrap_err();
        assert_eq!(unseen.code(), "pack_registry_unreachable", "not stored before its row is");

        // The insert stores them; a losing insert of the same version stores nothing of its own.
        let mut first = row("1.0.0", "sha256-AAAA", &blobs.tarball);
        first.sbom_blob = blobs.sbom.clone();
        first.statement_blob = blobs.statement.clone();
        let inserted = storage.db.insert_version_audited(&first, &blobs.inline, "now", None).await.unwrap();
        assert_eq!(inserted, InsertOutcome::Inserted);
        assert_eq!(storage.blob(&sbom_key).await.unwrap(), sbom);
        assert_eq!(storage.blob(&statement_key).await.unwrap(), statement);
        let loser_sbom = Bytes::from_static(br#"{"loser":true}"#);
        let loser = storage
            .blobs
            .put_version(Bytes::from_static(b"tgz"), Bytes::from_static(b"sig"), Some(loser_sbom), None)
            .await
            .unwrap();
        let mut second = row("1.0.0", "sha256-BBBB", &loser.tarball);
        second.sbom_blob = loser.sbom.clone();
        let outcome = storage.db.insert_version_audited(&second, &loser.inline, "now", None).await.unwrap();
        assert_eq!(outcome, InsertOutcome::Exists { integrity: "sha256-AAAA".into() });
        assert!(storage.blob(loser.sbom.as_deref().unwrap()).await.is_err(), "{:?}", stack.kind);

        // Not text for the database: not UTF-8, a NUL, over the limit. These go to the object store.
        let latin1 = Bytes::from_static(b"{\"name\":\"caf\xe9\"}");
        let nul = Bytes::from_static(b"{\"a\":\"\x00\"}");
        let large = Bytes::from(format!("\"{}\"", "x".repeat(INLINE_LIMIT)));
        for odd in [latin1, nul, large] {
            let placed = storage
                .blobs
                .put_version(Bytes::from_static(b"t"), Bytes::from_static(b"s"), Some(odd.clone()), None)
                .await
                .unwrap();
            assert!(placed.inline.is_empty());
            assert_eq!(placed.sbom.as_deref(), Some(Blobs::key_for(&odd).as_str()));
            assert_eq!(storage.blob(placed.sbom.as_deref().unwrap()).await.unwrap(), odd);
        }

        // A row written before SBOMs moved to the database names an object-store blob.
        let legacy_sbom = storage.blobs.put(Bytes::from_static(br#"{"legacy":1}"#)).await.unwrap();
        let mut legacy = row("0.9.0", "sha256-CCCC", &blobs.tarball);
        legacy.sbom_blob = Some(legacy_sbom.clone());
        assert_eq!(storage.db.insert_version(&legacy, "now").await.unwrap(), InsertOutcome::Inserted);
        assert_eq!(&storage.blob(&legacy_sbom).await.unwrap()[..], br#"{"legacy":1}"#);

        // Unpublishing takes the version's database blobs with it.
        let audit = AuditEvent::new("now", "admin", "unpublish", "vendor.acme.tools@1.0.0", serde_json::json!({}));
        assert_eq!(storage.db.unpublish(&first, &audit).await.unwrap(), Change::Applied);
        assert_eq!(storage.db.inline_blob(&sbom_key).await.unwrap(), None, "{:?}", stack.kind);
        assert_eq!(storage.db.inline_blob(&statement_key).await.unwrap(), None);
        assert!(storage.blob(&legacy_sbom).await.is_ok(), "object-store blobs are gc's to remove");
        stack.cleanup().await;
    }
}

//! Import the public reference registry tree, then walk every file of it and compare with what
//! the server serves at the same path.

use std::path::Path;

use pack_verify::trust::bundle::TrustBundle;
use registry_server::import::{ImportOptions, import_tree};
use serde_json::Value;

use crate::support::{TestServer, fixture_tree, stacks};

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn options() -> ImportOptions {
    ImportOptions { bundle: TrustBundle::reference().unwrap(), skip_verification: false }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_tree_is_served_at_every_path() {
    let Some(tree) = fixture_tree("imported_tree_is_served_at_every_path") else { return };
    let mut files = Vec::new();
    walk(&tree, &mut files);
    files.sort();
    for stack in stacks().await {
        let storage = stack.storage().await;
        let summary = import_tree(&storage, &tree, options()).await.unwrap();
        assert_eq!(summary.imported, 241, "{:?}", stack.kind);
        assert_eq!(summary.keys, 4);
        // A second import of the same tree changes nothing.
        let again = import_tree(&storage, &tree, options()).await.unwrap();
        assert_eq!((again.imported, again.unchanged), (0, 241), "{:?}", stack.kind);

        let server = TestServer::start(storage).await;
        let client = reqwest::Client::new();
        let (mut byte_identical, mut json_equal) = (0, 0);
        let mut differences = Vec::new();
        for file in &files {
            let rel = format!("/{}", file.strip_prefix(&tree).unwrap().to_str().unwrap());
            let expected = std::fs::read(file).unwrap();
            let resp = client.get(server.url(&rel)).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{:?} GET {rel}", stack.kind);
            let got = resp.bytes().await.unwrap();
            if got[..] == expected[..] {
                byte_identical += 1;
                continue;
            }
            // Only JSON documents may differ, and only in formatting unless listed below.
            assert!(rel.ends_with(".json"), "{:?}: {rel} is not byte-identical", stack.kind);
            let (a, b): (Value, Value) =
                (serde_json::from_slice(&got).unwrap(), serde_json::from_slice(&expected).unwrap());
            if a == b {
                json_equal += 1;
            } else {
                differences.push((rel, a, b));
            }
        }
        // The one deliberate difference: the v1 tree hard-codes `yanked: false` in
        // /v1/index.json; we report a pack as yanked when every one of its versions is.
        for (rel, ours, theirs) in &differences {
            assert_eq!(rel, "/v1/index.json", "{:?}: unexpected difference at {rel}", stack.kind);
            let ours_packs = ours["packs"].as_array().unwrap();
            let their_packs = theirs["packs"].as_array().unwrap();
            assert_eq!(ours_packs.len(), their_packs.len());
            for (o, t) in ours_packs.iter().zip(their_packs) {
                let mut o2 = o.clone();
                o2["yanked"] = t["yanked"].clone();
                assert_eq!(&o2, t, "{:?}: /v1/index.json entry {} differs beyond `yanked`", stack.kind, t["name"]);
                if o["yanked"] == true {
                    let index: Value = client
                        .get(server.url(&format!("/v1/packs/{}", o["name"].as_str().unwrap())))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    assert!(
                        index["versions"].as_array().unwrap().iter().all(|v| v["yanked"] == true),
                        "{} reported yanked but has an unyanked version",
                        o["name"]
                    );
                }
            }
        }
        assert_eq!(byte_identical + json_equal + differences.len(), files.len());
        assert!(
            byte_identical >= files.len() - 1,
            "{:?}: only {byte_identical} of {} byte-identical",
            stack.kind,
            files.len()
        );
        drop(server);
        stack.cleanup().await;
    }
}

fn copy_tree(from: &Path, to: &Path) {
    let mut files = Vec::new();
    walk(from, &mut files);
    for file in files {
        let target = to.join(file.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_tree_is_refused_and_nothing_is_written() {
    let Some(tree) = fixture_tree("tampered_tree_is_refused_and_nothing_is_written") else { return };
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&tree, copy.path());
    let tgz = copy.path().join("v1/packs/core.openwop.flow/-/1.1.0.tgz");
    let mut bytes = std::fs::read(&tgz).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&tgz, bytes).unwrap();

    for stack in stacks().await {
        let storage = stack.storage().await;
        let err = import_tree(&storage, copy.path(), options()).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("core.openwop.flow@1.1.0"), "{text}");
        assert!(text.contains("pack_integrity_mismatch"), "{text}");
        assert!(
            storage.db.all_versions().await.unwrap().is_empty(),
            "{:?}: a refused import wrote versions",
            stack.kind
        );
        assert!(storage.db.keys().await.unwrap().is_empty());

        // Skipping signature checks still checks integrity, and stops at the bad version.
        let err = import_tree(
            &storage,
            copy.path(),
            ImportOptions { bundle: TrustBundle::reference().unwrap(), skip_verification: true },
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "pack_integrity_mismatch", "{err}");
        let visible = storage.db.all_versions().await.unwrap();
        assert!(visible.iter().all(|r| !(r.name == "core.openwop.flow" && r.version == "1.1.0")));
        stack.cleanup().await;
    }
}

//! `registry-server export`: the static tree equals the fixture tree it was imported from, verifies
//! with `pack-verify`, and matches what the server serves at every path.

use std::path::{Path, PathBuf};
use std::process::Command;

use pack_verify::registry::{DirSource, RegistryCheck, verify_registry};
use pack_verify::trust::bundle::TrustBundle;
use pack_verify::trust::state::TrustState;
use registry_server::export::{ExportOptions, export_tree};
use registry_server::import::{ImportOptions, import_tree};
use registry_server::{Config, Registry};
use serde_json::Value;

use crate::seed::{EVIL, SCHEMA_BYTES, SCHEMA_FILE, seed};
use crate::support::{TestServer, fixture_tree, stacks};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// The one allowed difference (same rule as fixture_tree.rs): `/v1/index.json` may differ only in
/// `yanked`, and only for packs whose every version is yanked.
fn assert_index_differs_only_in_yanked(ours: &[u8], theirs: &[u8], exported: &Path) {
    let (ours, theirs): (Value, Value) =
        (serde_json::from_slice(ours).unwrap(), serde_json::from_slice(theirs).unwrap());
    let (ours, theirs) = (ours["packs"].as_array().unwrap(), theirs["packs"].as_array().unwrap());
    assert_eq!(ours.len(), theirs.len());
    let mut differing = 0;
    for (o, t) in ours.iter().zip(theirs) {
        let mut o2 = o.clone();
        o2["yanked"] = t["yanked"].clone();
        assert_eq!(&o2, t, "/v1/index.json entry {} differs beyond `yanked`", t["name"]);
        if o["yanked"] != t["yanked"] {
            differing += 1;
            assert_eq!(o["yanked"], true);
            let index_path = exported.join("v1/packs").join(o["name"].as_str().unwrap()).join("index.json");
            let index: Value = serde_json::from_slice(&std::fs::read(index_path).unwrap()).unwrap();
            assert!(index["versions"].as_array().unwrap().iter().all(|v| v["yanked"] == true), "{}", o["name"]);
        }
    }
    assert!(differing > 0, "the fixture's hard-coded `yanked: false` should differ somewhere");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_reproduces_the_fixture_tree_and_verifies() {
    let Some(tree) = fixture_tree("export_reproduces_the_fixture_tree_and_verifies") else { return };
    let fixture_files = files_under(&tree);
    for stack in stacks().await {
        let storage = stack.storage().await;
        let options = ImportOptions { bundle: TrustBundle::reference().unwrap(), skip_verification: false };
        import_tree(&storage, &tree, options).await.unwrap();
        let registry = Registry::new(storage.clone());
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("static");
        let summary = export_tree(&registry, &target, ExportOptions::default()).await.unwrap();
        assert_eq!((summary.packs, summary.versions), (118, 241), "{:?}", stack.kind);
        // Nothing but the target is left beside it (the temporary tree was renamed).
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 1);

        // Every fixture file, byte for byte (except the one documented index difference).
        for file in &fixture_files {
            let rel = file.strip_prefix(&tree).unwrap();
            let exported = std::fs::read(target.join(rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
            let expected = std::fs::read(file).unwrap();
            if rel == Path::new("v1/index.json") {
                assert_index_differs_only_in_yanked(&exported, &expected, &target);
            } else {
                assert!(exported == expected, "{:?}: {} differs", stack.kind, rel.display());
            }
        }

        // The export is a registry pack-verify accepts whole.
        let bundle = TrustBundle::reference().unwrap();
        let mut state = TrustState::new();
        let check = RegistryCheck::enforcing(&bundle, &mut state);
        let report = verify_registry(&DirSource::new(&target), check).unwrap();
        assert_eq!((report.verified, report.failed), (241, 0), "{:?}", stack.kind);

        // Schema mirror: unyanked versions only.
        assert!(target.join("core.openwop.flow/1.1.0/if.config.json").is_file());
        assert!(!target.join("core.openwop.examples/1.0.0").exists(), "yanked versions have no mirror");
        assert!(summary.schemas > 1000, "{}", summary.schemas);

        // Every exported file is what the server serves at that path (the catalog's directory
        // index pages at their pretty URLs).
        let exported_files = files_under(&target);
        assert_eq!(exported_files.len(), summary.files);
        let server = TestServer::start(storage).await;
        let client = reqwest::Client::new();
        for file in &exported_files {
            let rel = file.strip_prefix(&target).unwrap().to_str().unwrap();
            let url = match rel.strip_suffix("/index.html") {
                Some(dir) if dir.starts_with("-/catalog/") => format!("/{dir}"),
                _ => format!("/{rel}"),
            };
            let resp = client.get(server.url(&url)).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{:?} GET {url}", stack.kind);
            assert!(resp.bytes().await.unwrap() == std::fs::read(file).unwrap(), "{:?} GET {url} differs", stack.kind);
        }
        drop(server);
        stack.cleanup().await;
    }
}

fn storage_flags(config: &Config) -> Vec<String> {
    let mut flags = vec!["--data-dir".to_string(), config.data_dir.display().to_string()];
    if let Some(url) = &config.database_url {
        flags.extend(["--database-url".to_string(), url.clone()]);
    }
    if let Some(store) = &config.object_store {
        flags.extend(["--object-store".to_string(), store.clone()]);
    }
    flags
}

fn export_cli(config: &Config, target: &Path, force: bool) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_registry-server"));
    cmd.arg("export").arg(target).args(storage_flags(config));
    if force {
        cmd.arg("--force");
    }
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_command_is_atomic_and_refuses_non_empty_targets() {
    for stack in stacks().await {
        let storage = stack.storage().await;
        seed(&storage).await;
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("site");

        let config = stack.config.clone();
        let t = target.clone();
        let first = tokio::task::spawn_blocking(move || export_cli(&config, &t, false)).await.unwrap();
        assert!(first.status.success(), "{:?}: {}", stack.kind, String::from_utf8_lossy(&first.stderr));
        assert!(String::from_utf8_lossy(&first.stdout).contains("exported 4 packs, 5 versions"));
        assert_eq!(std::fs::read(target.join(format!("{EVIL}/1.0.0/{SCHEMA_FILE}"))).unwrap(), SCHEMA_BYTES);
        assert!(!target.join(format!("{EVIL}/1.1.0")).exists(), "yanked 1.1.0 has no mirror");
        assert!(!target.join(format!("{EVIL}/1.0.0/deep.json")).exists());
        for rel in [
            ".well-known/openwop-registry.json",
            "v1/index.json",
            "v1/sbom.json",
            "security/advisories.json",
            "index.html",
            "v1/packs/vendor.acme.flow/index.json",
            "v1/packs/vendor.acme.flow/-/0.9.0.sbom.json",
        ] {
            assert!(target.join(rel).is_file(), "{rel}");
        }
        let html = std::fs::read_to_string(target.join(format!("-/catalog/{EVIL}/index.html"))).unwrap();
        assert!(!html.contains("<script"));

        // A non-empty target is refused and left untouched.
        std::fs::write(target.join("marker"), b"keep").unwrap();
        let config = stack.config.clone();
        let t = target.clone();
        let refused = tokio::task::spawn_blocking(move || export_cli(&config, &t, false)).await.unwrap();
        assert!(!refused.status.success());
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("--force"),
            "{}",
            String::from_utf8_lossy(&refused.stderr)
        );
        assert!(target.join("marker").is_file());

        // --force replaces it whole; nothing is left beside it.
        let config = stack.config.clone();
        let t = target.clone();
        let forced = tokio::task::spawn_blocking(move || export_cli(&config, &t, true)).await.unwrap();
        assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
        assert!(!target.join("marker").exists());
        assert!(target.join("v1/index.json").is_file());
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 1);
        stack.cleanup().await;
    }
}

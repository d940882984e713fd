//! A small synthetic registry for the read-side tests that must not depend on the fixtures: a
//! pack with hostile strings (HTML, quotes, ampersands), a yanked version, a deprecated pack (in
//! the spec's spelling, `deprecation: {…}`, not the reference registry's) and schema files in the
//! tarballs. Written as a static tree and imported with `import_tree`, so the
//! rows are whatever the importer makes of them (no hand-built `VersionRow`s).

use std::path::Path;

use pack_verify::integrity::Integrity;
use pack_verify::tarball::{PackFile, write_pack};
use pack_verify::trust::bundle::TrustBundle;
use registry_server::import::{ImportOptions, import_tree};
use registry_server::storage::Storage;
use serde_json::{Value, json};

/// The hostile pack's name and strings.
pub const EVIL: &str = "community.evil.pack";
pub const EVIL_DESCRIPTION: &str = "<script>alert(\"pwned\")</script> Widgets & 'gadgets'";
pub const EVIL_AUTHOR: &str = "<b id=\"evil-author\">Mallory</b> & Co";
/// The schema file in every version of the hostile pack, and its bytes in 1.0.0.
pub const SCHEMA_FILE: &str = "a.config.json";
pub const SCHEMA_BYTES: &[u8] = b"{\"$id\":\"https://packs.example/community.evil.pack/1.0.0/a.config.json\"}\n";

struct SeedVersion {
    version: &'static str,
    yanked: bool,
    deprecated: bool,
    schemas: Vec<(&'static str, &'static [u8])>,
    sbom: bool,
}

struct SeedPack {
    name: &'static str,
    description: &'static str,
    author: &'static str,
    keywords: &'static [&'static str],
    versions: Vec<SeedVersion>,
}

fn v(
    version: &'static str,
    yanked: bool,
    deprecated: bool,
    schemas: Vec<(&'static str, &'static [u8])>,
) -> SeedVersion {
    SeedVersion { version, yanked, deprecated, schemas, sbom: true }
}

fn packs() -> Vec<SeedPack> {
    vec![
        SeedPack {
            name: EVIL,
            description: EVIL_DESCRIPTION,
            author: EVIL_AUTHOR,
            keywords: &["widgets"],
            versions: vec![
                v("1.0.0", false, false, vec![(SCHEMA_FILE, SCHEMA_BYTES), ("b.output.json", b"{}\n")]),
                // The highest version is yanked: `latest` stays 1.0.0 and its schemas are hidden.
                v("1.1.0", true, false, vec![(SCHEMA_FILE, b"{\"yanked\":true}\n")]),
            ],
        },
        SeedPack {
            name: "vendor.acme.flow",
            description: "Flow control for Acme.",
            author: "Acme",
            keywords: &["routing"],
            versions: vec![v("0.9.0", false, true, vec![])],
        },
        SeedPack {
            name: "vendor.acme.router",
            description: "Routes by flow rules.",
            author: "Acme",
            keywords: &["network"],
            versions: vec![SeedVersion { sbom: false, ..v("2.0.0", false, false, vec![]) }],
        },
        SeedPack {
            name: "vendor.acme.flowchart",
            description: "Draws charts.",
            author: "Acme",
            keywords: &[],
            versions: vec![v("1.0.0", false, false, vec![])],
        },
    ]
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn pretty(value: &Value) -> Vec<u8> {
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    text.into_bytes()
}

/// Writes the synthetic tree under `root`.
pub fn write_tree(root: &Path) {
    let mut index_packs = Vec::new();
    for pack in packs() {
        let mut versions = Vec::new();
        for sv in &pack.versions {
            let pack_json = json!({ "name": pack.name, "version": sv.version, "description": pack.description });
            let mut files = vec![PackFile { path: "pack.json".into(), data: pretty(&pack_json) }];
            for (file, bytes) in &sv.schemas {
                files.push(PackFile { path: format!("schemas/{file}"), data: bytes.to_vec() });
            }
            // Not mirrored: nested below schemas/, or not JSON.
            files.push(PackFile { path: "schemas/nested/deep.json".into(), data: b"{}".to_vec() });
            files.push(PackFile { path: "schemas/notes.txt".into(), data: b"x".to_vec() });
            let tgz = write_pack(&files).unwrap();
            let manifest = json!({
                "name": pack.name,
                "version": sv.version,
                "description": pack.description,
                "author": pack.author,
                "license": "MIT",
                "homepage": "javascript:alert(1)",
                "keywords": pack.keywords,
                "engines": { "openwop": ">=1.0.0" },
                "nodes": [{ "typeId": format!("{}.node", pack.name) }],
                "integrity": Integrity::of(&tgz).to_string(),
                "signing": { "method": "manual", "keyId": "seed-key" },
                "yanked": sv.yanked,
                "yankedReason": if sv.yanked { "<i>bad</i> release" } else { "" },
            });
            let mut manifest = manifest;
            if sv.deprecated {
                manifest["deprecation"] =
                    json!({"deprecated": true, "reason": "<b>old</b>", "supersededBy": "vendor.acme.router@2.0.0"});
            }
            let base = root.join("v1/packs").join(pack.name).join("-");
            write(&base.join(format!("{}.json", sv.version)), &pretty(&manifest));
            write(&base.join(format!("{}.tgz", sv.version)), &tgz);
            write(&base.join(format!("{}.sig", sv.version)), &[7u8; 64]);
            if sv.sbom {
                let sbom = json!({ "bomFormat": "CycloneDX", "specVersion": "1.6", "metadata": { "component": {
                    "bom-ref": format!("pkg:openwop/{}@{}", pack.name, sv.version) } } });
                write(&base.join(format!("{}.sbom.json", sv.version)), &pretty(&sbom));
            }
            versions.push(json!({ "version": sv.version, "publishedAt": "2026-11-01T00:00:00Z" }));
        }
        write(&root.join("v1/packs").join(pack.name).join("index.json"), &pretty(&json!({ "versions": versions })));
        index_packs.push(json!({ "name": pack.name }));
    }
    write(&root.join("v1/index.json"), &pretty(&json!({ "packs": index_packs })));
}

/// Imports the synthetic tree into `storage` (signatures are fake, so unverified; integrity is
/// still checked by the importer).
pub async fn seed(storage: &Storage) {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let options = ImportOptions { bundle: TrustBundle::reference().unwrap(), skip_verification: true };
    let summary = import_tree(storage, dir.path(), options).await.unwrap();
    assert_eq!(summary.imported, 5);
}

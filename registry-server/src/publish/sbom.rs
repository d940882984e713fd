//! The CycloneDX 1.6 SBOM made for each version at publish, in the reference registry's shape
//! (contract §2.1): the pack as `metadata.component` with the tarball's SHA-256, one `file`
//! component per tar entry, and `host:` dependencies for each peer dependency. Deterministic.

use serde_json::{Value, json};

use crate::registry::index::to_json_document;

fn hex(bytes: &[u8]) -> String {
    pack_verify::integrity::Integrity::of(bytes).hex()
}

/// Builds the SBOM document for one version. `manifest` is the served version manifest,
/// `files` the tarball's entries (name, bytes).
pub fn version_sbom(manifest: &Value, tarball: &[u8], files: &[(&str, &[u8])]) -> String {
    let name = manifest.get("name").and_then(Value::as_str).unwrap_or_default();
    let version = manifest.get("version").and_then(Value::as_str).unwrap_or_default();
    let purl = format!("pkg:openwop/{name}@{version}");
    let text = |k: &str| manifest.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let mut external = Vec::new();
    if let Some(url) = text("homepage") {
        external.push(json!({"type": "website", "url": url}));
    }
    let repository = match manifest.get("repository") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
        Some(Value::Object(o)) => o.get("url").and_then(Value::as_str),
        _ => None,
    };
    if let Some(url) = repository {
        external.push(json!({"type": "vcs", "url": url}));
    }
    if let Some(url) = text("tarballUrl") {
        external.push(json!({"type": "distribution", "url": url}));
    }
    if let Some(url) = manifest.pointer("/signing/publicKeyUrl").and_then(Value::as_str) {
        external.push(json!({"type": "other", "comment": "publisher signing key (Ed25519)", "url": url}));
    }
    let licenses = match text("license") {
        Some(id) => json!([{"license": {"id": id}}]),
        None => json!([]),
    };
    let mut sorted: Vec<&(&str, &[u8])> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let components: Vec<Value> = sorted
        .iter()
        .map(|(file, bytes)| {
            json!({
                "type": "file",
                "name": file,
                "hashes": [{"alg": "SHA-256", "content": hex(bytes)}],
                "properties": [{"name": "openwop:size", "value": bytes.len().to_string()}],
            })
        })
        .collect();
    let depends_on: Vec<String> = manifest
        .get("peerDependencies")
        .and_then(Value::as_object)
        .map(|peers| peers.keys().map(|k| format!("host:{k}")).collect())
        .unwrap_or_default();
    // Same fields and values as the reference documents; key order is JSON-insignificant.
    let doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "component": {
                "bom-ref": purl,
                "type": "library",
                "name": name,
                "version": version,
                "description": text("description").unwrap_or_default(),
                "licenses": licenses,
                "externalReferences": external,
                "hashes": [{"alg": "SHA-256", "content": hex(tarball)}],
                "purl": purl,
            },
            "tools": [{"vendor": "openwop", "name": "registry-server", "version": "1"}],
        },
        "components": components,
        "dependencies": [{"ref": purl, "dependsOn": depends_on}],
    });
    to_json_document(&doc)
}

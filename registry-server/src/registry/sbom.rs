//! `/v1/sbom.json`: the registry-wide CycloneDX 1.6 document (contract §2.1). One component per
//! version that has an SBOM, pointing at `/v1/packs/{name}/-/{version}.sbom.json` with the
//! SHA-256 of those exact bytes, sorted by `bom-ref`. Deterministic: no timestamps, no serial
//! number, so the same registry state always gives the same bytes (and the export matches).

use serde_json::{Value, json};

use super::{Registry, index};
use crate::RegistryError;
use crate::storage::VersionRow;

/// The `bom-ref` and `purl` of a version, as the per-version SBOMs of the reference tree use them.
pub fn purl(name: &str, version: &str) -> String {
    format!("pkg:openwop/{name}@{version}")
}

/// The SHA-256 hex of a blob. Blob keys are content addresses (`[db:]sha256/<2>/<64 hex>`, see
/// `storage::blobs`), so the hash is read from the key; any other key is fetched and hashed.
async fn blob_sha256_hex(registry: &Registry, key: &str) -> Result<String, RegistryError> {
    let address = key.strip_prefix(crate::storage::blobs::INLINE_PREFIX).unwrap_or(key);
    if let Some(hex) = address.strip_prefix("sha256/").and_then(|rest| rest.split_once('/')).map(|(_, hex)| hex)
        && hex.len() == 64
        && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Ok(hex.to_string());
    }
    let bytes = registry.storage().blob(key).await?;
    Ok(pack_verify::integrity::Integrity::of(&bytes).hex())
}

fn component(row: &VersionRow, sbom_sha256: String) -> Value {
    let reference = purl(&row.name, &row.version);
    let mut component = json!({
        "bom-ref": reference,
        "type": "library",
        "name": row.name,
        "version": row.version,
        "purl": reference,
        "externalReferences": [{
            "type": "bom",
            "url": format!("/v1/packs/{}/-/{}.sbom.json", row.name, row.version),
            "hashes": [{ "alg": "SHA-256", "content": sbom_sha256 }],
        }],
    });
    if row.yanked != 0
        && let Some(obj) = component.as_object_mut()
    {
        // Yanked versions stay listed (they are still served), marked so a reader can skip them.
        obj.insert("properties".into(), json!([{ "name": "openwop:yanked", "value": "true" }]));
    }
    component
}

impl Registry {
    /// The `/v1/sbom.json` body.
    pub async fn aggregate_sbom(&self) -> Result<String, RegistryError> {
        let rows = self.visible_versions().await?;
        let mut components = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(key) = &row.sbom_blob {
                let hash = blob_sha256_hex(self, key).await?;
                components.push((purl(&row.name, &row.version), component(row, hash)));
            }
        }
        components.sort_by(|a, b| a.0.cmp(&b.0));
        let discovery: Value = serde_json::from_str(&self.discovery().await?).unwrap_or(Value::Null);
        let registry_name = discovery.get("name").and_then(Value::as_str).unwrap_or("openwop registry");
        let doc = json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "version": 1,
            "metadata": {
                "component": { "bom-ref": "openwop-registry", "type": "application", "name": registry_name },
                "tools": [{ "vendor": "openwop", "name": "registry-server", "version": env!("CARGO_PKG_VERSION") }],
            },
            "components": components.into_iter().map(|(_, c)| c).collect::<Vec<_>>(),
        });
        Ok(index::to_json_document(&doc))
    }
}

//! Derivation of the index documents from version rows, in the reference registry's shapes
//! (contract §2.1, decisions §1 and §5). Documents are written as two-space-indented JSON with a
//! trailing newline, like the reference tree.

use serde::Serialize;
use serde_json::Value;

use crate::RegistryError;
use crate::storage::VersionRow;

/// `generatedAt` when nothing was stored (a fresh registry).
const DEFAULT_GENERATED_AT: &str = "1970-01-01T00:00:00Z";

/// Serialises a document the way the reference tree stores them.
pub fn to_json_document<T: Serialize>(value: &T) -> String {
    // Serialising plain data to a String cannot fail (no maps with non-string keys here).
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_string());
    text.push('\n');
    text
}

/// Semver precedence of a row; rows whose version does not parse sort first.
fn precedence(row: &VersionRow) -> Option<semver::Version> {
    semver::Version::parse(&row.version).ok()
}

/// Sorts rows ascending by semver precedence.
fn sort_rows(rows: &mut [VersionRow]) {
    rows.sort_by(|a, b| precedence(a).cmp(&precedence(b)).then_with(|| a.version.cmp(&b.version)));
}

/// The `latest` version: the highest unyanked one, or the highest when all are yanked
/// (decisions §5; the reference v1 tree ignores yanks here).
fn latest(rows: &[VersionRow]) -> Option<&VersionRow> {
    rows.iter().rev().find(|r| r.yanked == 0).or_else(|| rows.last())
}

/// Counts and ids a pack manifest declares, by kind (contract §2.1 `typeIds`).
struct Contents {
    kind: String,
    type_ids: Vec<String>,
    node_count: usize,
    agent_count: usize,
    artifact_type_count: usize,
    provider_count: usize,
    chain_count: usize,
    prompt_count: usize,
    template_count: usize,
    card_count: usize,
}

fn ids(manifest: &Value, list: &str, field: &str) -> Vec<String> {
    manifest
        .get(list)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|i| i.get(field).and_then(Value::as_str)).map(str::to_string).collect())
        .unwrap_or_default()
}

fn count(manifest: &Value, list: &str) -> usize {
    manifest.get(list).and_then(Value::as_array).map_or(0, Vec::len)
}

impl Contents {
    fn of(manifest: &Value) -> Self {
        let kind = manifest.get("kind").and_then(Value::as_str).unwrap_or("node").to_string();
        let type_ids = match kind.as_str() {
            "node" => {
                let mut v = ids(manifest, "nodes", "typeId");
                v.extend(ids(manifest, "agents", "agentId"));
                v
            }
            "workflow-chain" => ids(manifest, "chains", "chainId"),
            "prompt" => ids(manifest, "prompts", "templateId"),
            "card" => ids(manifest, "cards", "cardTypeId"),
            "artifact-type" => ids(manifest, "artifactTypes", "artifactTypeId"),
            "connection" => manifest
                .pointer("/provider/id")
                .and_then(Value::as_str)
                .map(|id| vec![id.to_string()])
                .unwrap_or_default(),
            "form-content" => ids(manifest, "templates", "templateId"),
            _ => Vec::new(),
        };
        Self {
            kind,
            type_ids,
            node_count: count(manifest, "nodes"),
            agent_count: count(manifest, "agents"),
            artifact_type_count: count(manifest, "artifactTypes"),
            provider_count: usize::from(manifest.get("provider").is_some_and(Value::is_object)),
            chain_count: count(manifest, "chains"),
            prompt_count: count(manifest, "prompts"),
            template_count: count(manifest, "templates"),
            card_count: count(manifest, "cards"),
        }
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PackIndex<'a> {
    name: &'a str,
    kind: String,
    description: String,
    author: String,
    license: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    homepage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repository: Option<String>,
    tags: Vec<Value>,
    type_ids: Vec<String>,
    node_count: usize,
    agent_count: usize,
    #[serde(skip_serializing_if = "is_zero")]
    artifact_type_count: usize,
    #[serde(skip_serializing_if = "is_zero")]
    provider_count: usize,
    #[serde(skip_serializing_if = "is_zero")]
    chain_count: usize,
    #[serde(skip_serializing_if = "is_zero")]
    prompt_count: usize,
    #[serde(skip_serializing_if = "is_zero")]
    template_count: usize,
    #[serde(skip_serializing_if = "is_zero")]
    card_count: usize,
    versions: Vec<IndexVersion<'a>>,
    latest: &'a str,
    deprecated: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IndexVersion<'a> {
    version: &'a str,
    published_at: &'a str,
    manifest_url: String,
    tarball_url: String,
    signature_url: String,
    signing_method: &'a str,
    signing_key_id: &'a str,
    integrity: &'a str,
    deprecated: bool,
    yanked: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RegistryIndex<'a> {
    registry_version: &'static str,
    generated_at: &'a str,
    pack_count: usize,
    packs: Vec<RegistryIndexEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RegistryIndexEntry {
    name: String,
    kind: String,
    latest_version: String,
    description: String,
    license: String,
    tags: Vec<Value>,
    type_ids: Vec<String>,
    node_count: usize,
    agent_count: usize,
    deprecated: bool,
    yanked: bool,
}

fn parse_manifest(row: &VersionRow) -> Result<Value, RegistryError> {
    serde_json::from_str(&row.manifest).map_err(|e| RegistryError::InvalidDocument {
        path: format!("/v1/packs/{}/-/{}.json", row.name, row.version),
        reason: e.to_string(),
    })
}

fn string_field(manifest: &Value, field: &str) -> Option<String> {
    manifest.get(field).and_then(Value::as_str).map(str::to_string)
}

fn tags(manifest: &Value) -> Vec<Value> {
    manifest.get("tags").and_then(Value::as_array).cloned().unwrap_or_default()
}

/// Builds one pack's index from all of its version rows (at least one).
pub fn pack_index(mut rows: Vec<VersionRow>) -> Result<String, RegistryError> {
    sort_rows(&mut rows);
    let Some(latest_row) = latest(&rows) else {
        return Err(RegistryError::InvalidDocument { path: "pack index".into(), reason: "no versions".into() });
    };
    let manifest = parse_manifest(latest_row)?;
    let contents = Contents::of(&manifest);
    let name = latest_row.name.as_str();
    let versions = rows
        .iter()
        .map(|r| {
            let base = format!("/v1/packs/{}/-/{}", r.name, r.version);
            IndexVersion {
                version: &r.version,
                published_at: &r.published_at,
                manifest_url: format!("{base}.json"),
                tarball_url: format!("{base}.tgz"),
                signature_url: format!("{base}.sig"),
                signing_method: &r.signing_method,
                signing_key_id: &r.signing_key_id,
                integrity: &r.integrity,
                deprecated: r.deprecated != 0,
                yanked: r.yanked != 0,
            }
        })
        .collect();
    let doc = PackIndex {
        name,
        kind: contents.kind,
        description: string_field(&manifest, "description").unwrap_or_default(),
        author: string_field(&manifest, "author").unwrap_or_default(),
        license: string_field(&manifest, "license").unwrap_or_default(),
        homepage: string_field(&manifest, "homepage"),
        repository: string_field(&manifest, "repository"),
        tags: tags(&manifest),
        type_ids: contents.type_ids,
        node_count: contents.node_count,
        agent_count: contents.agent_count,
        artifact_type_count: contents.artifact_type_count,
        provider_count: contents.provider_count,
        chain_count: contents.chain_count,
        prompt_count: contents.prompt_count,
        template_count: contents.template_count,
        card_count: contents.card_count,
        versions,
        latest: &latest_row.version,
        deprecated: rows.iter().all(|r| r.deprecated != 0),
    };
    Ok(to_json_document(&doc))
}

/// Builds `/v1/index.json` from every version row of the registry.
pub fn registry_index(mut rows: Vec<VersionRow>, generated_at: Option<&str>) -> Result<String, RegistryError> {
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let mut packs = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let end = start + rows[start..].iter().take_while(|r| r.name == rows[start].name).count();
        let group = &mut rows[start..end];
        sort_rows(group);
        if let Some(latest_row) = latest(group) {
            let manifest = parse_manifest(latest_row)?;
            let contents = Contents::of(&manifest);
            packs.push(RegistryIndexEntry {
                name: latest_row.name.clone(),
                kind: contents.kind,
                latest_version: latest_row.version.clone(),
                description: string_field(&manifest, "description").unwrap_or_default(),
                license: string_field(&manifest, "license").unwrap_or_default(),
                tags: tags(&manifest),
                type_ids: contents.type_ids,
                node_count: contents.node_count,
                agent_count: contents.agent_count,
                deprecated: group.iter().all(|r| r.deprecated != 0),
                yanked: group.iter().all(|r| r.yanked != 0),
            });
        }
        start = end;
    }
    let doc = RegistryIndex {
        registry_version: "1.0.0",
        generated_at: generated_at.unwrap_or(DEFAULT_GENERATED_AT),
        pack_count: packs.len(),
        packs,
    };
    Ok(to_json_document(&doc))
}

/// One `signingKeys[]` entry of a generated discovery document.
pub struct DiscoveryKey {
    /// Key id.
    pub key_id: String,
    /// Namespace globs it may sign for.
    pub permitted_namespaces: Vec<String>,
    /// `active`, `rotated`, `revoked`.
    pub status: String,
}

/// What a generated discovery document states about writes and trust.
pub struct DiscoveryOptions {
    /// The registry's base URL, when known.
    pub url: Option<String>,
    /// The keys clients trust for this registry.
    pub keys: Vec<DiscoveryKey>,
    /// Whether the write API is on (decisions §4).
    pub write_api: bool,
    /// Whether a root-signed keychain is served at `/keys/keychain.json`.
    pub keychain: bool,
    /// In mirror mode: upstream keys narrowed to the mirrored namespaces (decisions §14). Each
    /// replaces the entry of `keys` with the same id, or is appended.
    pub mirrored: Vec<DiscoveryKey>,
}

/// A discovery document for a registry that was never given one: the reference endpoints, the
/// keys in force, and the write API when it is on.
pub fn default_discovery(options: &DiscoveryOptions) -> String {
    let mut keys: Vec<&DiscoveryKey> =
        options.keys.iter().filter(|k| !options.mirrored.iter().any(|m| m.key_id == k.key_id)).collect();
    keys.extend(options.mirrored.iter());
    let signing_keys: Vec<Value> = keys
        .iter()
        .map(|k| {
            serde_json::json!({
                "keyId": k.key_id,
                "algorithm": "ed25519",
                "publicKeyUrl": format!("/keys/{}.pub", k.key_id),
                "permittedNamespaces": k.permitted_namespaces,
                "status": k.status,
            })
        })
        .collect();
    let mut doc = serde_json::json!({
        "registryVersion": "1.0.0",
        "protocolVersion": "1.0",
        "name": "openwop-packs registry",
        "supportedNamespaces": ["core", "vendor", "community", "private"],
        "supportedSigningMethods": ["ed25519"],
        "supportedTrustModes": ["trusted", "verified"],
        "endpoints": {
            "registryIndex": "/v1/index.json",
            "packMetadata": "/v1/packs/{name}/index.json",
            "versionManifest": "/v1/packs/{name}/-/{version}.json",
            "versionTarball": "/v1/packs/{name}/-/{version}.tgz",
            "versionSignature": "/v1/packs/{name}/-/{version}.sig",
            "publicKey": "/keys/{keyId}.pub"
        },
        "writeApi": {
            "supported": options.write_api,
            "publishMethod": "http-put",
            "publishUrl": "/v1/packs/{name}/-/{version}.tgz"
        },
        "lifecycle": {"yankSupported": options.write_api, "deprecateSupported": options.write_api,
                      "keyRotationSupported": options.keychain},
        "signingKeys": signing_keys,
    });
    if let Some(obj) = doc.as_object_mut() {
        if let Some(url) = &options.url {
            obj.insert("url".into(), Value::from(url.clone()));
        }
        if options.keychain {
            obj.insert("keychainUrl".into(), Value::from("/keys/keychain.json"));
        }
    }
    to_json_document(&doc)
}

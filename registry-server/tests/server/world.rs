//! A registry with write access for tests: a root key, a root-signed keychain (publisher keys
//! for `vendor.acme.*` and `vendor.other.*`, a registry key that signs statements), tokens, and
//! signed packs built with the project's own writer.

use std::path::PathBuf;

use pack_verify::canonical::to_canonical_vec;
use pack_verify::keys::PrivateKey;
use pack_verify::tarball::{EMBEDDED_SIGNATURE, PACK_JSON, PackFile, write_pack};
use pack_verify::trust::bundle::{BundleRoot, TrustBundle};
use pack_verify::trust::keychain::{KeychainDocument, KeychainKey};
use registry_server::auth::{NewToken, Scope, create_token};
use registry_server::storage::Storage;
use registry_server::trust::RegistryTrust;
use serde_json::{Value, json};

pub const REGISTRY: &str = "https://registry.test";

pub fn key(seed: u8) -> PrivateKey {
    PrivateKey::from_seed([seed; 32])
}

pub fn stamp(offset_days: i64) -> String {
    pack_verify::trust::format_time(time::OffsetDateTime::now_utc() + time::Duration::days(offset_days))
}

pub fn keychain_key(id: &str, k: &PrivateKey, role: &str, ns: &[&str]) -> KeychainKey {
    KeychainKey {
        key_id: id.into(),
        algorithm: "ed25519".into(),
        public_key: k.public_key().to_base64(),
        roles: vec![role.into()],
        permitted_namespaces: ns.iter().map(|s| s.to_string()).collect(),
        status: "active".into(),
        valid_from: Some(stamp(-1)),
        valid_until: None,
        revoked_at: None,
        operator: None,
    }
}

/// A keychain envelope of `version`, signed by `root`.
pub fn keychain(version: u64, root: &PrivateKey, extra: Vec<KeychainKey>) -> String {
    let mut keys = vec![
        keychain_key("acme-1", &key(2), "publisher", &["vendor.acme.*"]),
        keychain_key("other-1", &key(3), "publisher", &["vendor.other.*"]),
        keychain_key("reg-1", &key(4), "registry", &[]),
    ];
    keys.extend(extra);
    KeychainDocument {
        doc_type: "openwop.keychain".into(),
        registry: REGISTRY.into(),
        version,
        issued_at: stamp(0),
        expires_at: stamp(30),
        keys,
    }
    .sign("root", root)
    .to_json()
}

/// Bundle file + statement key file, and the bundle itself for client-side checks.
pub struct World {
    pub dir: tempfile::TempDir,
    pub bundle: TrustBundle,
}

impl World {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = key(1);
        let envelope: pack_verify::trust::envelope::Envelope =
            serde_json::from_str(&keychain(1, &root, vec![])).unwrap();
        let bundle = TrustBundle {
            openwop_trust_bundle: 1,
            registry: REGISTRY.into(),
            description: None,
            root: Some(BundleRoot { key_id: "root".into(), public_key: root.public_key().to_base64() }),
            keys: vec![],
            keychain: Some(envelope),
        };
        std::fs::write(dir.path().join("trust.json"), serde_json::to_vec(&bundle).unwrap()).unwrap();
        std::fs::write(dir.path().join("reg-1.key"), key(4).to_pkcs8_pem().unwrap()).unwrap();
        Self { dir, bundle }
    }

    pub fn bundle_path(&self) -> PathBuf {
        self.dir.path().join("trust.json")
    }

    pub fn trust(&self) -> RegistryTrust {
        RegistryTrust::load(&self.bundle_path(), Some(("reg-1", &self.dir.path().join("reg-1.key")))).unwrap()
    }
}

/// Creates a token and returns its secret.
pub async fn token(storage: &Storage, principal: &str, namespaces: &[&str], scopes: &[Scope]) -> String {
    let namespaces: Vec<String> = namespaces.iter().map(|s| s.to_string()).collect();
    let now = pack_verify::trust::format_time(time::OffsetDateTime::now_utc());
    let new = NewToken { principal, namespaces: &namespaces, scopes, expires_at: None };
    create_token(&storage.db, &new, &now).await.unwrap().0
}

/// A `manual`-signed pack tarball.
pub fn pack(name: &str, version: &str, signer: &PrivateKey, key_id: &str, readme: &str) -> Vec<u8> {
    pack_with(name, version, signer, key_id, readme, |_| {})
}

/// [`pack`] with a chance to edit `pack.json` before signing.
pub fn pack_with(
    name: &str,
    version: &str,
    signer: &PrivateKey,
    key_id: &str,
    readme: &str,
    edit: impl FnOnce(&mut Value),
) -> Vec<u8> {
    pack_with_files(name, version, signer, key_id, readme, Vec::new(), edit)
}

/// [`pack_with`] with more files beside `README.md`.
pub fn pack_with_files(
    name: &str,
    version: &str,
    signer: &PrivateKey,
    key_id: &str,
    readme: &str,
    extra: Vec<PackFile>,
    edit: impl FnOnce(&mut Value),
) -> Vec<u8> {
    let mut manifest = json!({
        "name": name,
        "version": version,
        "description": format!("test pack {name}"),
        "license": "Apache-2.0",
        "engines": {"openwop": ">=1.0.0 <2.0.0"},
        "signing": {"method": "manual", "publicKeyRef": key_id, "signatureRef": "keys/pack.json.sig"},
    });
    edit(&mut manifest);
    signed_pack_with_files(to_canonical_vec(&manifest), signer, readme, extra)
}

/// A pack whose `pack.json` is exactly `bytes`, signed by `signer` (for documents a `Value`
/// cannot hold, such as a repeated field).
pub fn signed_pack(bytes: Vec<u8>, signer: &PrivateKey, readme: &str) -> Vec<u8> {
    signed_pack_with_files(bytes, signer, readme, Vec::new())
}

/// [`signed_pack`] with more files beside `README.md`.
pub fn signed_pack_with_files(bytes: Vec<u8>, signer: &PrivateKey, readme: &str, extra: Vec<PackFile>) -> Vec<u8> {
    let sig = signer.sign(&bytes);
    let mut files = vec![
        PackFile { path: "README.md".into(), data: readme.as_bytes().to_vec() },
        PackFile { path: EMBEDDED_SIGNATURE.into(), data: sig.to_bytes().to_vec() },
        PackFile { path: PACK_JSON.into(), data: bytes },
    ];
    files.extend(extra);
    write_pack(&files).unwrap()
}

//! The rooted trust chain: pinned root → keychain → publisher key → pack, plus the registry
//! statement, with rollback, fork, freeze and clock-rollback detection.

use pack_verify::canonical::to_canonical_vec;
use pack_verify::trust::bundle::BundleRoot;
use pack_verify::trust::keychain::{KeychainDocument, KeychainKey};
use pack_verify::trust::statement::StatementDocument;
use pack_verify::trust::{ExpiryPolicy, FixedClock, TrustState, TrustWarning};
use pack_verify::{Integrity, PackFile, PrivateKey, TrustBundle, Verifier, VerifyError, VersionInput};
use serde_json::json;
use time::macros::datetime;

const REGISTRY: &str = "https://registry.example";

struct World {
    root: PrivateKey,
    publisher: PrivateKey,
    registry_key: PrivateKey,
    bundle: TrustBundle,
}

fn world() -> World {
    let root = PrivateKey::from_seed([1; 32]);
    let bundle = TrustBundle {
        openwop_trust_bundle: 1,
        registry: REGISTRY.into(),
        description: None,
        root: Some(BundleRoot { key_id: "openwop-registry-root".into(), public_key: root.public_key().to_base64() }),
        keys: vec![],
        keychain: None,
    };
    World { root, publisher: PrivateKey::from_seed([2; 32]), registry_key: PrivateKey::from_seed([3; 32]), bundle }
}

fn key(id: &str, k: &PrivateKey, role: &str, ns: &[&str]) -> KeychainKey {
    KeychainKey {
        key_id: id.into(),
        algorithm: "ed25519".into(),
        public_key: k.public_key().to_base64(),
        roles: vec![role.into()],
        permitted_namespaces: ns.iter().map(|s| s.to_string()).collect(),
        status: "active".into(),
        valid_from: None,
        valid_until: None,
        revoked_at: None,
        operator: None,
    }
}

fn keychain(w: &World, version: u64, expires: &str, tweak: impl FnOnce(&mut Vec<KeychainKey>)) -> Vec<u8> {
    let mut keys = vec![
        key("acme-1", &w.publisher, "publisher", &["vendor.acme.*"]),
        key("registry-1", &w.registry_key, "registry", &[]),
    ];
    tweak(&mut keys);
    let doc = KeychainDocument {
        doc_type: "openwop.keychain".into(),
        registry: REGISTRY.into(),
        version,
        issued_at: "2026-01-01T00:00:00Z".into(),
        expires_at: expires.into(),
        keys,
    };
    doc.sign("openwop-registry-root", &w.root).to_json().into_bytes()
}

const NOW: time::OffsetDateTime = datetime!(2026-06-01 00:00 UTC);

fn resolve(w: &World, kc: &[u8], state: &mut TrustState) -> Result<pack_verify::TrustRoot, VerifyError> {
    w.bundle.resolve(Some(kc), state, &FixedClock(NOW), ExpiryPolicy::Enforce)
}

fn code<T>(r: Result<T, VerifyError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

/// A signed `manual` pack with its manifest and statement.
struct Published {
    manifest: Vec<u8>,
    tarball: Vec<u8>,
    signature: Vec<u8>,
    statement: Vec<u8>,
}

fn publish(w: &World, name: &str, signer: (&str, &PrivateKey), published_at: &str) -> Published {
    let pack_json = to_canonical_vec(&json!({
        "name": name, "version": "1.0.0", "engines": {"openwop": ">=1.0.0 <2.0.0"},
        "runtime": {"language": "javascript", "entry": "index.mjs"},
        "nodes": [{"typeId": "acme.x", "version": "1", "category": "data", "role": "pure"}],
        "signing": {"method": "manual", "publicKeyRef": signer.0, "signatureRef": "keys/pack.json.sig"}
    }));
    let sig = signer.1.sign(&pack_json).to_bytes().to_vec();
    let tarball = pack_verify::tarball::write_pack(&[
        PackFile { path: "pack.json".into(), data: pack_json },
        PackFile { path: "keys/pack.json.sig".into(), data: sig.clone() },
        PackFile { path: "index.mjs".into(), data: b"export default {}".to_vec() },
    ])
    .expect("builds");
    let integrity = Integrity::of(&tarball).to_string();
    let manifest = serde_json::to_vec(&json!({
        "name": name, "version": "1.0.0", "engines": {"openwop": ">=1.0.0 <2.0.0"}, "integrity": integrity,
        "signing": {"method": "manual", "publicKeyRef": signer.0, "signatureRef": "keys/pack.json.sig"}
    }))
    .expect("json");
    let statement = StatementDocument {
        doc_type: "openwop.version-statement".into(),
        registry: REGISTRY.into(),
        name: name.into(),
        version: "1.0.0".into(),
        integrity,
        published_at: published_at.into(),
        signing_key_id: signer.0.into(),
        signing_method: "manual".into(),
        keychain_version: Some(1),
    }
    .sign("registry-1", &w.registry_key)
    .to_json()
    .into_bytes();
    Published { manifest, tarball, signature: sig, statement }
}

fn verify(root: pack_verify::TrustRoot, p: &Published) -> Result<pack_verify::VerifiedVersion, VerifyError> {
    Verifier::new(root).verify(&VersionInput {
        manifest: &p.manifest,
        tarball: &p.tarball,
        signature: &p.signature,
        statement: Some(&p.statement),
        expected: None,
        other_versions: &[],
    })
}

#[test]
fn full_chain_verifies_and_binds_integrity() {
    let w = world();
    let mut state = TrustState::new();
    let root = resolve(&w, &keychain(&w, 1, "2027-01-01T00:00:00Z", |_| {}), &mut state).expect("keychain ok");
    assert!(root.requires_statements());
    let p = publish(&w, "vendor.acme.tools", ("acme-1", &w.publisher), "2026-05-01T00:00:00Z");
    let v = verify(root.clone(), &p).expect("verifies");
    assert_eq!(v.published_at, Some(datetime!(2026-05-01 00:00 UTC)));

    // The gap the manual convention leaves (code swapped, integrity recomputed) is closed: the
    // signed statement still carries the original integrity.
    let mut swapped = publish(&w, "vendor.acme.tools", ("acme-1", &w.publisher), "2026-05-01T00:00:00Z");
    let mut files = pack_verify::tarball::read_pack(&swapped.tarball, &Default::default()).expect("reads").into_files();
    files.iter_mut().filter(|f| f.path == "index.mjs").for_each(|f| f.data = b"evil()".to_vec());
    swapped.tarball = pack_verify::tarball::write_pack(&files).expect("builds");
    let mut m: serde_json::Value = serde_json::from_slice(&swapped.manifest).expect("json");
    m["integrity"] = Integrity::of(&swapped.tarball).to_string().into();
    swapped.manifest = serde_json::to_vec(&m).expect("json");
    assert_eq!(code(verify(root.clone(), &swapped)), "registry_statement_mismatch");

    // No statement at all.
    let r = Verifier::new(root.clone()).verify(&VersionInput {
        manifest: &p.manifest,
        tarball: &p.tarball,
        signature: &p.signature,
        statement: None,
        expected: None,
        other_versions: &[],
    });
    assert_eq!(code(r), "registry_statement_missing");

    // A statement signed by the publisher key instead of a registry key.
    let mut forged = publish(&w, "vendor.acme.tools", ("acme-1", &w.publisher), "2026-05-01T00:00:00Z");
    let payload = pack_verify::trust::envelope::Envelope::parse(&forged.statement, "s")
        .expect("env")
        .payload_bytes()
        .expect("b64");
    forged.statement = pack_verify::trust::envelope::Envelope::sign(
        pack_verify::trust::statement::STATEMENT_PAYLOAD_TYPE,
        &payload,
        &[("acme-1", &w.publisher)],
    )
    .to_json()
    .into_bytes();
    assert_eq!(code(verify(root, &forged)), "registry_statement_invalid");
}

#[test]
fn namespace_and_unknown_keys_are_refused() {
    let w = world();
    let mut state = TrustState::new();
    let root = resolve(&w, &keychain(&w, 1, "2027-01-01T00:00:00Z", |_| {}), &mut state).expect("ok");
    let p = publish(&w, "vendor.other.tools", ("acme-1", &w.publisher), "2026-05-01T00:00:00Z");
    assert_eq!(code(verify(root.clone(), &p)), "pack_namespace_unauthorized");
    let mallory = PrivateKey::from_seed([9; 32]);
    let p = publish(&w, "vendor.acme.tools", ("mallory", &mallory), "2026-05-01T00:00:00Z");
    assert_eq!(code(verify(root.clone(), &p)), "pack_key_unknown");
    // A registry key may not sign packs.
    let p = publish(&w, "vendor.acme.tools", ("registry-1", &w.registry_key), "2026-05-01T00:00:00Z");
    assert_eq!(code(verify(root, &p)), "pack_namespace_unauthorized");
}

#[test]
fn key_validity_is_judged_at_publish_time() {
    let w = world();
    let mut state = TrustState::new();
    let kc = keychain(&w, 1, "2027-01-01T00:00:00Z", |keys| {
        keys[0].status = "rotated".into();
        keys[0].valid_from = Some("2026-01-01T00:00:00Z".into());
        keys[0].valid_until = Some("2026-03-01T00:00:00Z".into());
    });
    let root = resolve(&w, &kc, &mut state).expect("ok");
    // Published inside the window: a rotated key still verifies its old releases.
    let old = publish(&w, "vendor.acme.tools", ("acme-1", &w.publisher), "2026-02-01T00:00:00Z");
    assert_eq!(code(verify(root.clone(), &old)), "ok");
    // Published after the window closed.
    let late = publish(&w, "vendor.acme.tools", ("acme-1", &w.publisher), "2026-04-01T00:00:00Z");
    assert_eq!(code(verify(root, &late)), "pack_key_outside_validity");

    // A compromised key cut off from a point in time.
    let mut state = TrustState::new();
    let kc = keychain(&w, 1, "2027-01-01T00:00:00Z", |keys| {
        keys[0].status = "revoked".into();
        keys[0].revoked_at = Some("2026-03-01T00:00:00Z".into());
    });
    let root = resolve(&w, &kc, &mut state).expect("ok");
    let before = publish(&w, "vendor.acme.tools", ("acme-1", &w.publisher), "2026-02-01T00:00:00Z");
    assert_eq!(code(verify(root.clone(), &before)), "ok");
    let after = publish(&w, "vendor.acme.tools", ("acme-1", &w.publisher), "2026-03-02T00:00:00Z");
    assert_eq!(code(verify(root, &after)), "pack_key_revoked");
}

#[test]
fn rollback_fork_freeze_and_clock_are_detected() {
    let w = world();
    let mut state = TrustState::new();
    let v2 = keychain(&w, 2, "2027-01-01T00:00:00Z", |_| {});
    resolve(&w, &v2, &mut state).expect("v2 accepted");
    assert_eq!(state.registries.get(REGISTRY).map(|r| r.keychain_version), Some(2));

    // Rollback to an older, validly signed keychain.
    let v1 = keychain(&w, 1, "2027-01-01T00:00:00Z", |_| {});
    assert_eq!(code(resolve(&w, &v1, &mut state)), "trust_keychain_rollback");
    // Same version, different content.
    let fork = keychain(&w, 2, "2027-01-01T00:00:00Z", |keys| keys[0].permitted_namespaces.push("core.*".into()));
    assert_eq!(code(resolve(&w, &fork, &mut state)), "trust_keychain_fork");
    // Re-reading the same keychain is fine; a newer one moves the state forward.
    assert_eq!(code(resolve(&w, &v2, &mut state)), "ok");
    assert_eq!(code(resolve(&w, &keychain(&w, 3, "2027-01-01T00:00:00Z", |_| {}), &mut state)), "ok");

    // Freeze: an expired keychain is refused...
    let mut fresh = TrustState::new();
    let expired = keychain(&w, 5, "2026-05-01T00:00:00Z", |_| {});
    assert_eq!(code(resolve(&w, &expired, &mut fresh)), "trust_keychain_expired");
    assert!(fresh.registries.is_empty(), "a refused keychain is not recorded");
    // ...unless explicitly allowed, and then the warning is carried to the caller.
    let root =
        w.bundle.resolve(Some(&expired), &mut fresh, &FixedClock(NOW), ExpiryPolicy::AllowExpired).expect("allowed");
    assert!(matches!(root.warnings(), [TrustWarning::ExpiredKeychainAccepted { version: 5, .. }]));

    // A clock set back before the last verification.
    let back = FixedClock(datetime!(2025-01-01 00:00 UTC));
    assert_eq!(code(w.bundle.resolve(Some(&v2), &mut state, &back, ExpiryPolicy::Enforce)), "trust_clock_rollback");

    // The state survives a round trip through its file form.
    let again = TrustState::from_json(state.to_json().as_bytes()).expect("parses");
    assert_eq!(again, state);
}

#[test]
fn wrong_root_and_wrong_registry_are_refused() {
    let w = world();
    let mut state = TrustState::new();
    let impostor = World { root: PrivateKey::from_seed([8; 32]), ..world() };
    let forged = keychain(&impostor, 1, "2027-01-01T00:00:00Z", |_| {});
    assert_eq!(code(resolve(&w, &forged, &mut state)), "trust_keychain_signature_invalid");

    let doc = KeychainDocument {
        doc_type: "openwop.keychain".into(),
        registry: "https://elsewhere.example".into(),
        version: 1,
        issued_at: "2026-01-01T00:00:00Z".into(),
        expires_at: "2027-01-01T00:00:00Z".into(),
        keys: vec![],
    };
    let other = doc.sign("openwop-registry-root", &w.root).to_json().into_bytes();
    assert_eq!(code(resolve(&w, &other, &mut state)), "trust_keychain_registry_mismatch");
    assert_eq!(code(resolve(&w, b"{not json", &mut state)), "trust_keychain_invalid");
    assert_eq!(
        code(w.bundle.resolve(None, &mut state, &FixedClock(NOW), ExpiryPolicy::Enforce)),
        "trust_keychain_invalid"
    );
}

#[test]
fn trust_bundles_are_validated() {
    assert_eq!(code(TrustBundle::parse(b"{}")), "trust_bundle_invalid");
    assert_eq!(code(TrustBundle::parse(br#"{"openwopTrustBundle":1,"registry":"x"}"#)), "trust_bundle_invalid");
    assert_eq!(
        code(TrustBundle::parse(br#"{"openwopTrustBundle":2,"registry":"x","keys":[]}"#)),
        "trust_bundle_invalid"
    );
    let shipped = TrustBundle::reference().expect("shipped bundle");
    assert_eq!(shipped.keys.len(), 4);
    assert!(!shipped.has_root());
}

#[test]
fn pinned_keys_may_carry_roles() {
    let publisher = PrivateKey::from_seed([21; 32]).public_key().to_base64();
    let status = PrivateKey::from_seed([22; 32]).public_key().to_base64();
    let bundle = |roles: &str| {
        format!(
            r#"{{"openwopTrustBundle":1,"registry":"https://mirror.example","keys":[
              {{"keyId":"pub-1","algorithm":"ed25519","publicKey":"{publisher}","permittedNamespaces":["vendor.x.*"],"status":"active"}},
              {{"keyId":"mirror-1","algorithm":"ed25519","publicKey":"{status}","permittedNamespaces":[],"status":"active","roles":{roles}}}]}}"#
        )
    };
    let parsed = TrustBundle::parse(bundle(r#"["registry"]"#).as_bytes()).expect("bundle with roles");
    let root = parsed.resolve(None, &mut TrustState::new(), &FixedClock(NOW), ExpiryPolicy::Enforce).expect("resolves");
    let roles = |id: &str| root.key(id).expect("pinned key").roles.clone();
    assert_eq!(roles("pub-1"), [pack_verify::trust::KeyRole::Publisher], "no roles: a publisher key");
    assert_eq!(roles("mirror-1"), [pack_verify::trust::KeyRole::Registry]);
    // A registry-only key never signs packs.
    assert_eq!(code(root.authorize_publisher("mirror-1", "vendor.x.y", None)), "pack_namespace_unauthorized");
    // The field round-trips and stays absent when empty.
    let text = serde_json::to_string(&parsed).expect("serialises");
    assert_eq!(text.matches("\"roles\"").count(), 1, "{text}");
    assert_eq!(code(TrustBundle::parse(bundle(r#"["root"]"#).as_bytes())), "trust_bundle_invalid");
}

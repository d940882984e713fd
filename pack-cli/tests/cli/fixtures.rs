//! Against the public reference registry's real data (needs OPENWOP_FIXTURES).

use std::path::PathBuf;

use crate::support::{fixtures, pack, workdir};

fn shipped_bundle() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../keys/openwop-reference-registry.trust.json")
}

#[test]
fn verifies_a_real_published_version() {
    let Some(fx) = fixtures("verifies_a_real_published_version") else { return };
    let base = fx.join("openwop-registry/v1/packs/core.openwop.crypto/-");
    let dir = workdir();
    let (tgz, sig, manifest) = (base.join("1.0.4.tgz"), base.join("1.0.4.sig"), base.join("1.0.4.json"));
    let bundle = shipped_bundle();
    let args = [
        "--json",
        "verify",
        tgz.to_str().unwrap(),
        "--sig",
        sig.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
        "--trust",
        bundle.to_str().unwrap(),
    ];
    let json = pack(dir.path(), &args).ok().json();
    assert_eq!(json["name"], "core.openwop.crypto");
    assert_eq!(json["keyId"], "openwop-team-1");
    assert_eq!(json["manifestSynthesised"], false);
    // The default trust is the same shipped bundle, and the default .sig is the one beside the tgz.
    pack(dir.path(), &["verify", tgz.to_str().unwrap(), "--manifest", manifest.to_str().unwrap()]).ok();
    // With the registry's public key alone (a publisher's check).
    let key = fx.join("openwop-registry/keys/openwop-team-1.pub");
    pack(dir.path(), &["verify", tgz.to_str().unwrap(), "--key", key.to_str().unwrap()]).ok();
    let wrong = fx.join("openwop-registry/keys/myndhyve-internal-1.pub");
    pack(dir.path(), &["--json", "verify", tgz.to_str().unwrap(), "--key", wrong.to_str().unwrap()])
        .fails_with(1, "pack_signature_invalid");
    // Another version's manifest does not match these bytes.
    let other = base.join("1.0.3.json");
    pack(dir.path(), &["--json", "verify", tgz.to_str().unwrap(), "--manifest", other.to_str().unwrap()])
        .fails_with(1, "pack_integrity_mismatch");
}

#[test]
fn shipped_bundle_matches_the_published_discovery_document() {
    let Some(fx) = fixtures("shipped_bundle_matches_the_published_discovery_document") else { return };
    let dir = workdir();
    let copy = dir.path().join("ref.trust.json");
    std::fs::copy(shipped_bundle(), &copy).unwrap();
    let tree = fx.join("openwop-registry");
    let args = ["--json", "keys", "bundle-update", copy.to_str().unwrap(), "--from", tree.to_str().unwrap(), "--write"];
    let json = pack(dir.path(), &args).ok().json();
    assert_eq!(json["upToDate"], true, "{json}");
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(shipped_bundle()).unwrap(), "nothing to write");

    // A bundle missing a key shows it as added.
    let mut bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(&copy).unwrap()).unwrap();
    bundle["keys"].as_array_mut().unwrap().retain(|k| k["keyId"] != "myndhyve-internal-1");
    std::fs::write(&copy, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let json = pack(dir.path(), &args).ok().json();
    assert_eq!(json["changes"][0]["change"], "added");
    assert_eq!(json["changes"][0]["keyId"], "myndhyve-internal-1");
    assert_eq!(json["written"], true);
}

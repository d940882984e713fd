//! Registry operator commands: root-init → keychain-sign → bundle-update → verify.

use std::path::Path;

use pack_verify::PrivateKey;
use pack_verify::trust::statement::StatementDocument;
use serde_json::{Value, json};

use crate::support::{TGZ, manifest_for, pack, publish, workdir};

const REGISTRY: &str = "https://packs.example.com";

fn write_spec(dir: &Path, file: &str, version: Option<u64>) {
    let mut spec = json!({
        "registry": REGISTRY,
        "keys": [
            {"keyId": "acme-1", "publicKeyFile": "acme-1.pub", "roles": ["publisher"],
             "permittedNamespaces": ["vendor.acme.*"]},
            {"keyId": "registry-1", "publicKeyFile": "registry-1.pub", "roles": ["registry"]}
        ]
    });
    if let Some(v) = version {
        spec["version"] = json!(v);
    }
    std::fs::write(dir.join(file), serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
}

fn keychain_sign(d: &Path, spec: &str, out: &str, previous: Option<&str>) -> crate::support::Run {
    let mut args = vec![
        "--json",
        "keys",
        "keychain-sign",
        "--root",
        "ops/root/openwop-registry-root.key",
        "--spec",
        spec,
        "--expires-in-days",
        "90",
        "-o",
        out,
    ];
    if let Some(p) = previous {
        args.extend(["--previous", p]);
    }
    pack(d, &args)
}

fn statement(d: &Path, tgz: &[u8], published_at: &str) -> Vec<u8> {
    let key = PrivateKey::from_pkcs8_pem(&std::fs::read_to_string(d.join("registry-1.key")).unwrap()).unwrap();
    StatementDocument {
        doc_type: "openwop.version-statement".into(),
        registry: REGISTRY.into(),
        name: "vendor.acme.tools".into(),
        version: "0.1.0".into(),
        integrity: pack_verify::Integrity::of(tgz).to_string(),
        published_at: published_at.into(),
        signing_key_id: "acme-1".into(),
        signing_method: "manual".into(),
        keychain_version: Some(1),
    }
    .sign("registry-1", &key)
    .to_json()
    .into_bytes()
}

#[test]
fn root_keychain_bundle_and_verify_chain() {
    let dir = workdir();
    let d = dir.path();
    let init = pack(d, &["--json", "keys", "root-init", "--registry", REGISTRY, "--out-dir", "ops/root"]).ok().json();
    assert_eq!(init["reason"], "root-init");
    assert!(d.join("ops/root/openwop-registry-root.key").is_file());
    let bundle: Value = serde_json::from_slice(&std::fs::read(d.join("ops/root/trust.json")).unwrap()).unwrap();
    assert_eq!(bundle["root"]["publicKey"], init["publicKey"]);
    pack(d, &["--json", "keys", "root-init", "--registry", REGISTRY, "--out-dir", "ops/root"])
        .fails_with(2, "bundle_exists");

    publish(d);
    pack(d, &["keygen", "--name", "registry-1"]).ok();
    write_spec(d, "keychain.json", None);
    let signed = keychain_sign(d, "keychain.json", "keychain.signed.json", None).ok().json();
    assert_eq!(signed["version"], 1);

    std::fs::copy(d.join("ops/root/trust.json"), d.join("bundle.json")).unwrap();
    let before = std::fs::read(d.join("bundle.json")).unwrap();
    let dry = pack(d, &["--json", "keys", "bundle-update", "bundle.json", "--keychain", "keychain.signed.json"]).ok();
    let dry = dry.json();
    assert_eq!(dry["written"], false);
    let changes: Vec<(String, String)> = dry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["change"].as_str().unwrap().into(), c["keyId"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        changes,
        [("keychain".into(), String::new()), ("added".into(), "acme-1".into()), ("added".into(), "registry-1".into())]
    );
    assert_eq!(std::fs::read(d.join("bundle.json")).unwrap(), before, "no --write, no change");
    let human = pack(d, &["keys", "bundle-update", "bundle.json", "--keychain", "keychain.signed.json"]).ok();
    assert!(human.stdout.contains("+ acme-1 ") && human.stdout.contains("--write"), "{}", human.stdout);
    let wrote =
        pack(d, &["--json", "keys", "bundle-update", "bundle.json", "--keychain", "keychain.signed.json", "--write"]);
    assert_eq!(wrote.ok().json()["written"], true);
    let again = pack(d, &["--json", "keys", "bundle-update", "bundle.json", "--keychain", "keychain.signed.json"]);
    assert_eq!(again.ok().json()["upToDate"], true);

    // The registry serves the manifest and its signed statement; the host verifies the chain.
    let tgz = std::fs::read(d.join(TGZ)).unwrap();
    std::fs::write(d.join("m.json"), manifest_for(&tgz, json!({"publishedAt": "2026-11-25T10:00:00Z"}))).unwrap();
    std::fs::write(d.join("s.json"), statement(d, &tgz, "2026-11-25T10:00:00Z")).unwrap();
    let ok =
        pack(d, &["--json", "verify", TGZ, "--trust", "bundle.json", "--manifest", "m.json", "--statement", "s.json"]);
    let ok = ok.ok().json();
    assert_eq!(ok["keyId"], "acme-1");
    assert_eq!(ok["publishedAt"], "2026-11-25T10:00:00Z");
    // A rooted bundle requires the statement.
    pack(d, &["--json", "verify", TGZ, "--trust", "bundle.json", "--manifest", "m.json"])
        .fails_with(1, "registry_statement_missing");
    // The bare root bundle has no keychain to trust the publisher with.
    pack(
        d,
        &["--json", "verify", TGZ, "--trust", "ops/root/trust.json", "--manifest", "m.json", "--statement", "s.json"],
    )
    .fails_with(1, "trust_keychain_invalid");
    // ... unless one is passed explicitly.
    pack(
        d,
        &[
            "verify",
            TGZ,
            "--trust",
            "ops/root/trust.json",
            "--keychain",
            "keychain.signed.json",
            "--manifest",
            "m.json",
            "--statement",
            "s.json",
        ],
    )
    .ok();
}

#[test]
fn keychain_versions_only_grow() {
    let dir = workdir();
    let d = dir.path();
    pack(d, &["keys", "root-init", "--registry", REGISTRY, "--out-dir", "ops/root"]).ok();
    pack(d, &["keygen", "--name", "acme-1"]).ok();
    pack(d, &["keygen", "--name", "registry-1"]).ok();
    write_spec(d, "v5.json", Some(5));
    keychain_sign(d, "v5.json", "k5.json", None).ok();

    write_spec(d, "v3.json", Some(3));
    let err = keychain_sign(d, "v3.json", "k3.json", Some("k5.json")).fails_with(2, "trust_keychain_rollback");
    assert!(err["hint"].as_str().unwrap().contains('6'), "{err}");
    assert!(!d.join("k3.json").exists());
    write_spec(d, "v5b.json", Some(5));
    keychain_sign(d, "v5b.json", "k5b.json", Some("k5.json")).fails_with(2, "trust_keychain_rollback");

    // Without a version the next one is taken.
    write_spec(d, "next.json", None);
    assert_eq!(keychain_sign(d, "next.json", "k6.json", Some("k5.json")).ok().json()["version"], 6);

    // A previous keychain signed by another root is refused.
    pack(d, &["keys", "root-init", "--registry", REGISTRY, "--out-dir", "other"]).ok();
    let other = pack(
        d,
        &[
            "--json",
            "keys",
            "keychain-sign",
            "--root",
            "other/openwop-registry-root.key",
            "--spec",
            "next.json",
            "--expires-in-days",
            "9",
            "-o",
            "x.json",
            "--previous",
            "k5.json",
        ],
    );
    other.fails_with(2, "trust_keychain_signature_invalid");

    // bundle-update refuses to go back to an older keychain once a newer one is bundled.
    std::fs::copy(d.join("ops/root/trust.json"), d.join("bundle.json")).unwrap();
    pack(d, &["keys", "bundle-update", "bundle.json", "--keychain", "k6.json", "--write"]).ok();
    pack(d, &["--json", "keys", "bundle-update", "bundle.json", "--keychain", "k5.json", "--write"])
        .fails_with(1, "trust_keychain_rollback");
    // A keychain from another root is refused too.
    pack(
        d,
        &[
            "--json",
            "keys",
            "keychain-sign",
            "--root",
            "other/openwop-registry-root.key",
            "--spec",
            "v5.json",
            "--expires-in-days",
            "9",
            "-o",
            "o.json",
        ],
    )
    .ok();
    pack(d, &["--json", "keys", "bundle-update", "bundle.json", "--keychain", "o.json"])
        .fails_with(1, "trust_keychain_signature_invalid");
}

#[test]
fn keychain_spec_errors_are_clear() {
    let dir = workdir();
    let d = dir.path();
    pack(d, &["keys", "root-init", "--registry", REGISTRY, "--out-dir", "ops/root"]).ok();
    std::fs::write(d.join("bad.json"), r#"{"registry": "https://packs.example.com", "keys": [{"keyId": "x", "publicKey": "AAAA", "roles": ["publisher"]}]}"#).unwrap();
    keychain_sign(d, "bad.json", "o.json", None).fails_with(2, "keychain_spec_invalid");
    std::fs::write(d.join("nodays.json"), r#"{"registry": "https://packs.example.com", "keys": []}"#).unwrap();
    pack(
        d,
        &[
            "--json",
            "keys",
            "keychain-sign",
            "--root",
            "ops/root/openwop-registry-root.key",
            "--spec",
            "nodays.json",
            "-o",
            "o.json",
        ],
    )
    .fails_with(2, "keychain_spec_invalid");

    // The registry URL comes from the spec here, so the hint names the spec's field, not a flag.
    std::fs::write(d.join("noscheme.json"), r#"{"registry": "packs.example.com", "keys": []}"#).unwrap();
    let err = keychain_sign(d, "noscheme.json", "o.json", None).fails_with(2, "invalid_registry_url");
    assert!(err["path"].as_str().unwrap().ends_with("noscheme.json"), "{err}");
    assert!(err["hint"].as_str().unwrap().contains("`registry` in the spec"), "{err}");
}

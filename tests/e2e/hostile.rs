//! The hostile-pack corpus against every component that reads pack bytes: `pack-verify` (a whole
//! registry tree), publish (registry-server) and install (`pack install`). Each case is refused
//! by each with the same distinct code, and nothing is written: no version becomes visible on
//! the registry and the host directory stays empty.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use pack_verify::canonical::to_canonical_vec;
use pack_verify::corpus::{RawEntry, gzip, hostile_tarballs, tar_bytes};
use pack_verify::integrity::Integrity;
use pack_verify::keys::PrivateKey;
use pack_verify::trust::statement::StatementDocument;
use serde_json::{Value, json};

use openwop_test_support::operator_keychain;

use super::{binary, run};

const REGISTRY_ID: &str = "https://packs.example.com";

fn pack_json(name: &str, version: &str) -> Vec<u8> {
    pack_json_by(name, version, "acme-1")
}

fn pack_json_by(name: &str, version: &str, key_id: &str) -> Vec<u8> {
    to_canonical_vec(&json!({
        "name": name, "version": version, "description": "hostile test", "license": "MIT",
        "engines": {"openwop": ">=1.0.0"},
        "signing": {"method": "manual", "publicKeyRef": key_id, "signatureRef": "keys/pack.json.sig"}
    }))
}

fn signed(key: &PrivateKey, pj: &[u8]) -> Vec<u8> {
    key.sign(pj).to_bytes().to_vec()
}

fn tgz(pj: &[u8], sig: &[u8]) -> Vec<u8> {
    gzip(&tar_bytes(&[
        RawEntry::file(b"README.md", b"hello"),
        RawEntry::file(b"keys/pack.json.sig", sig),
        RawEntry::file(b"pack.json", pj),
    ]))
}

/// One refused case: the name it is published and served under, its bytes, the expected code.
struct Case {
    label: String,
    name: String,
    tgz: Vec<u8>,
    sig: Vec<u8>,
    code: &'static str,
    /// The signer the served manifest names.
    key_id: &'static str,
    /// A legitimate 1.0.0 that exists first (signed, published, served); the hostile version is
    /// then 1.0.1. The replay and swap cases need one.
    predecessor: Option<(Vec<u8>, Vec<u8>)>,
}

impl Case {
    fn new(label: &str, name: &str, tgz: Vec<u8>, sig: Vec<u8>, code: &'static str) -> Self {
        Case { label: label.into(), name: name.into(), tgz, sig, code, key_id: "acme-1", predecessor: None }
    }

    fn version(&self) -> &'static str {
        if self.predecessor.is_some() { "1.0.1" } else { "1.0.0" }
    }
}

/// A legitimately signed `name@1.0.0`: its tarball and signature.
fn legit(acme: &PrivateKey, name: &str) -> (Vec<u8>, Vec<u8>) {
    let pj = pack_json(name, "1.0.0");
    let sig = signed(acme, &pj);
    (tgz(&pj, &sig), sig)
}

fn cases(acme: &PrivateKey, beta: &PrivateKey) -> Vec<Case> {
    let mut out = Vec::new();
    for (i, h) in hostile_tarballs(&pack_json("vendor.acme.h00", "1.0.0"), &[0u8; 64]).into_iter().enumerate() {
        // Rebuild each case around its own name, with a real signature, so only the hostile
        // part can be why it is refused.
        let name = format!("vendor.acme.h{i:02}");
        let pj = pack_json(&name, "1.0.0");
        let sig = signed(acme, &pj);
        let tgz = hostile_tarballs(&pj, &sig).swap_remove(i).tgz;
        out.push(Case::new(h.label, &name, tgz, sig, h.code));
    }
    // Signed by another publisher the registry trusts, while naming acme-1 as the signer.
    let pj = pack_json("vendor.acme.wrongkey", "1.0.0");
    let sig = signed(beta, &pj);
    out.push(Case::new("wrong key", "vendor.acme.wrongkey", tgz(&pj, &sig), sig, "pack_signature_wrong_key"));
    // Signed by a key nobody vouches for, and naming it.
    let pj = pack_json_by("vendor.acme.strangerkey", "1.0.0", "stranger-1");
    let sig = signed(&PrivateKey::from_seed([99; 32]), &pj);
    let mut stranger = Case::new("unknown key", "vendor.acme.strangerkey", tgz(&pj, &sig), sig, "pack_key_unknown");
    stranger.key_id = "stranger-1";
    out.push(stranger);
    let pj = pack_json("vendor.other.tools", "1.0.0");
    let sig = signed(acme, &pj);
    out.push(Case::new(
        "key outside its namespace",
        "vendor.other.tools",
        tgz(&pj, &sig),
        sig,
        "pack_namespace_unauthorized",
    ));
    let pj = pack_json("vendor.acme.otherbytes", "1.0.0");
    let sig = signed(acme, b"some other bytes");
    out.push(Case::new(
        "signature over other bytes",
        "vendor.acme.otherbytes",
        tgz(&pj, &sig),
        sig,
        "pack_signature_invalid",
    ));
    // 1.0.1's tarball carrying 1.0.0's signed pack.json (and so 1.0.0's declared contents).
    let (old_tgz, old_sig) = legit(acme, "vendor.acme.swapped");
    let old_pj = pack_json("vendor.acme.swapped", "1.0.0");
    let mut swapped = Case::new(
        "swapped pack.json",
        "vendor.acme.swapped",
        tgz(&old_pj, &old_sig),
        old_sig.clone(),
        "manifest_version_mismatch",
    );
    swapped.predecessor = Some((old_tgz, old_sig));
    out.push(swapped);
    // 1.0.1's own pack.json with 1.0.0's signature.
    let (old_tgz, old_sig) = legit(acme, "vendor.acme.reused");
    let pj = pack_json("vendor.acme.reused", "1.0.1");
    let mut reused = Case::new(
        "signature reused from another version",
        "vendor.acme.reused",
        tgz(&pj, &old_sig),
        old_sig.clone(),
        "pack_signature_reused",
    );
    reused.predecessor = Some((old_tgz, old_sig));
    out.push(reused);
    let pj = pack_json("vendor.acme.realname", "1.0.0");
    let sig = signed(acme, &pj);
    out.push(Case::new(
        "manifest name differs from the URL",
        "vendor.acme.urlname",
        tgz(&pj, &sig),
        sig,
        "manifest_name_mismatch",
    ));
    out
}

/// Writes one case into a static registry tree, as a hostile registry would serve it: its
/// legitimate predecessor first, if it has one, then the hostile version.
fn put_in_tree(tree: &Path, case: &Case, registry_key: &PrivateKey, index: &mut Vec<Value>) {
    let dir = tree.join("v1/packs").join(&case.name);
    std::fs::create_dir_all(dir.join("-")).unwrap();
    let mut versions = Vec::new();
    let mut put = |version: &str, tgz: &[u8], sig: &[u8]| {
        let integrity = Integrity::of(tgz).to_string();
        // The served manifest claims the URL's name and version; the tarball may say otherwise.
        let manifest = json!({
            "name": case.name, "version": version, "description": "hostile test", "engines": {"openwop": ">=1.0.0"},
            "signing": {"method": "manual", "publicKeyRef": case.key_id, "signatureRef": "keys/pack.json.sig"},
            "integrity": integrity,
        });
        let statement = StatementDocument {
            doc_type: "openwop.version-statement".into(),
            registry: REGISTRY_ID.into(),
            name: case.name.clone(),
            version: version.into(),
            integrity: integrity.clone(),
            published_at: pack_verify::trust::format_time(time_now()),
            signing_key_id: case.key_id.into(),
            signing_method: "manual".into(),
            keychain_version: Some(1),
        }
        .sign("registry-1", registry_key)
        .to_json();
        std::fs::write(dir.join(format!("-/{version}.json")), manifest.to_string()).unwrap();
        std::fs::write(dir.join(format!("-/{version}.tgz")), tgz).unwrap();
        std::fs::write(dir.join(format!("-/{version}.sig")), sig).unwrap();
        std::fs::write(dir.join(format!("-/{version}.statement.json")), statement).unwrap();
        versions.push(json!({
            "version": version, "integrity": integrity, "yanked": false, "deprecated": false,
            "manifestUrl": format!("/v1/packs/{}/-/{version}.json", case.name),
        }));
    };
    if let Some((tgz, sig)) = &case.predecessor {
        put("1.0.0", tgz, sig);
    }
    put(case.version(), &case.tgz, &case.sig);
    let pack_index = json!({"name": case.name, "versions": versions, "latest": case.version()});
    std::fs::write(dir.join("index.json"), pack_index.to_string()).unwrap();
    index.push(json!({"name": case.name, "latestVersion": case.version()}));
}

fn time_now() -> time_shim::OffsetDateTime {
    time_shim::OffsetDateTime::now_utc()
}

mod time_shim {
    pub use ::time::OffsetDateTime;
}

#[test]
fn every_hostile_pack_is_refused_by_verifier_publish_and_install() {
    let pack = binary("pack-cli", "pack");
    let pack_verify = binary("pack-verify", "pack-verify");
    let server_bin = binary("registry-server", "registry-server");
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let in_dir = |bin: &std::path::PathBuf| {
        let mut c = Command::new(bin);
        c.current_dir(d).env("OPENWOP_PACK_CONFIG", d.join("pack.toml")).env("PACK_CACHE_DIR", d.join("cache"));
        c
    };
    operator_keychain(&pack, d, REGISTRY_ID, &[("acme-1", "vendor.acme.*"), ("beta-1", "vendor.beta.*")]);
    let key = |file: &str| PrivateKey::from_pkcs8_pem(&std::fs::read_to_string(d.join(file)).unwrap()).unwrap();
    let acme = key("acme-1.key");
    let registry_key = key("registry-1.key");
    let cases = cases(&acme, &key("beta-1.key"));

    // 1. pack-verify over a hostile static tree: every version fails with its own code.
    let tree = d.join("tree");
    let mut index = Vec::new();
    for case in &cases {
        put_in_tree(&tree, case, &registry_key, &mut index);
    }
    std::fs::create_dir_all(tree.join("keys")).unwrap();
    std::fs::copy(d.join("keychain.signed.json"), tree.join("keys/keychain.json")).unwrap();
    std::fs::write(tree.join("v1/index.json"), json!({"packs": index}).to_string()).unwrap();
    let out = Command::new(&pack_verify)
        .args(["registry"])
        .arg(&tree)
        .arg("--trust")
        .arg(d.join("ops/root/trust.json"))
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: BTreeMap<(String, String), String> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let at = (r["name"].as_str().unwrap().to_string(), r["version"].as_str().unwrap().to_string());
            (at, r["error"].as_str().unwrap_or("ok").to_string())
        })
        .collect();
    for case in &cases {
        let at = |v: &str| codes.get(&(case.name.clone(), v.to_string())).map(String::as_str);
        assert_eq!(at(case.version()), Some(case.code), "pack-verify: {}", case.label);
        if case.predecessor.is_some() {
            assert_eq!(at("1.0.0"), Some("ok"), "pack-verify: {} (the legitimate 1.0.0)", case.label);
        }
    }
    // Each key, signature and identity attack has a code of its own, shared with no other case
    // (variants of one tarball trick, such as two kinds of path traversal, share theirs).
    let corpus = hostile_tarballs(b"{}", &[0u8; 64]).len();
    for (i, case) in cases.iter().enumerate().skip(corpus) {
        for (j, other) in cases.iter().enumerate() {
            assert!(i == j || other.code != case.code, "`{}` and `{}` share {}", case.label, other.label, case.code);
        }
    }

    // 2. Publish: every case refused with its code; no version becomes visible.
    let token = |args: &[&str]| {
        run(Command::new(&server_bin).current_dir(d).args(["token", "create", "--data-dir", "data"]).args(args))
    };
    let admin = token(&["--principal", "ops", "--scope", "admin"]).trim().to_string();
    let publisher = token(&["--principal", "acme", "--namespace", "vendor.*", "--scope", "publish"]).trim().to_string();
    let port = openwop_test_support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = openwop_test_support::serve_operated_registry(d, port);
    openwop_test_support::put_keychain(&base, &admin, &d.join("keychain.signed.json"));
    let client = reqwest::blocking::Client::new();
    for case in &cases {
        if let Some((tgz, _)) = &case.predecessor {
            let resp = client
                .put(format!("{base}/v1/packs/{}/-/1.0.0.tgz", case.name))
                .bearer_auth(&publisher)
                .header("content-type", "application/gzip")
                .body(tgz.clone())
                .send()
                .unwrap();
            assert_eq!(resp.status(), 201, "publish the legitimate {}@1.0.0", case.name);
        }
        let resp = client
            .put(format!("{base}/v1/packs/{}/-/{}.tgz", case.name, case.version()))
            .bearer_auth(&publisher)
            .header("content-type", "application/gzip")
            .body(case.tgz.clone())
            .send()
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().unwrap_or(Value::Null);
        assert!(status.is_client_error(), "publish {}: {status} {body}", case.label);
        assert_eq!(body["error"], case.code, "publish {}: {body}", case.label);
        let listed = client.get(format!("{base}/v1/packs/{}", case.name)).send().unwrap();
        if case.predecessor.is_some() {
            let listed: Value = listed.json().unwrap();
            let versions: Vec<&str> =
                listed["versions"].as_array().unwrap().iter().filter_map(|v| v["version"].as_str()).collect();
            assert_eq!(versions, ["1.0.0"], "publish {}: only the legitimate version is visible", case.label);
        } else {
            assert_eq!(listed.status(), 404);
        }
    }
    // The name-mismatch case only exists at publish: a tarball under another pack's URL.
    let pj = pack_json("vendor.acme.realname", "1.0.0");
    let body = tgz(&pj, &signed(&acme, &pj));
    let resp = client
        .put(format!("{base}/v1/packs/vendor.acme.urlname/-/1.0.0.tgz"))
        .bearer_auth(&publisher)
        .body(body)
        .send()
        .unwrap();
    assert_eq!(resp.json::<Value>().unwrap()["error"], "manifest_name_mismatch");

    // 3. Install from the hostile tree (a static server): refused with the code, host dir empty.
    let (_static, static_base) = openwop_test_support::serve_static(&tree);
    std::fs::write(
        d.join("pack.toml"),
        format!(
            "registry = \"{static_base}\"\n[registries.\"{static_base}\"]\ntrust = \"{}\"\n",
            d.join("ops/root/trust.json").display()
        ),
    )
    .unwrap();
    for case in &cases {
        let host = d.join(format!("host-{}", case.name));
        let out = in_dir(&pack)
            .args(["--json", "install", &format!("{}@{}", case.name, case.version()), "--host-dir"])
            .arg(&host)
            .output()
            .unwrap();
        let last: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or("null"))
            .unwrap_or(Value::Null);
        assert_eq!(out.status.code(), Some(1), "install {}: {last}", case.label);
        assert_eq!(last["error"], case.code, "install {}: {last}", case.label);
        assert!(!host.join("packs").exists(), "install {} wrote into the host dir", case.label);
    }
}

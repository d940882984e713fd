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

use super::{Server, binary, run};

const REGISTRY_ID: &str = "https://packs.example.com";

fn pack_json(name: &str, version: &str) -> Vec<u8> {
    to_canonical_vec(&json!({
        "name": name, "version": version, "description": "hostile test", "license": "MIT",
        "engines": {"openwop": ">=1.0.0"},
        "signing": {"method": "manual", "publicKeyRef": "acme-1", "signatureRef": "keys/pack.json.sig"}
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
}

fn cases(acme: &PrivateKey) -> Vec<Case> {
    let mut out = Vec::new();
    for (i, h) in hostile_tarballs(&pack_json("vendor.acme.h00", "1.0.0"), &[0u8; 64]).into_iter().enumerate() {
        // Rebuild each case around its own name, with a real signature, so only the hostile
        // part can be why it is refused.
        let name = format!("vendor.acme.h{i:02}");
        let pj = pack_json(&name, "1.0.0");
        let sig = signed(acme, &pj);
        let tgz = hostile_tarballs(&pj, &sig).swap_remove(i).tgz;
        out.push(Case { label: h.label.to_string(), name, tgz, sig, code: h.code });
    }
    let stranger = PrivateKey::from_seed([99; 32]);
    let pj = pack_json("vendor.acme.wrongkey", "1.0.0");
    let sig = signed(&stranger, &pj);
    out.push(Case {
        label: "wrong key".into(),
        name: "vendor.acme.wrongkey".into(),
        tgz: tgz(&pj, &sig),
        sig,
        code: "pack_signature_invalid",
    });
    let pj = pack_json("vendor.other.tools", "1.0.0");
    let sig = signed(acme, &pj);
    out.push(Case {
        label: "key outside its namespace".into(),
        name: "vendor.other.tools".into(),
        tgz: tgz(&pj, &sig),
        sig,
        code: "pack_namespace_unauthorized",
    });
    let pj = pack_json("vendor.acme.otherbytes", "1.0.0");
    let sig = signed(acme, b"some other bytes");
    out.push(Case {
        label: "signature over other bytes".into(),
        name: "vendor.acme.otherbytes".into(),
        tgz: tgz(&pj, &sig),
        sig,
        code: "pack_signature_invalid",
    });
    let original = pack_json("vendor.acme.swapped", "1.0.0");
    let sig = signed(acme, &original);
    let mut swapped: Value = serde_json::from_slice(&original).unwrap();
    swapped["description"] = json!("swapped after signing");
    let swapped = to_canonical_vec(&swapped);
    out.push(Case {
        label: "swapped pack.json".into(),
        name: "vendor.acme.swapped".into(),
        tgz: tgz(&swapped, &sig),
        sig,
        code: "pack_signature_invalid",
    });
    let sig = signed(acme, &pack_json("vendor.acme.reused", "1.0.0"));
    let pj = pack_json("vendor.acme.reused", "1.0.1");
    out.push(Case {
        label: "signature reused from another version".into(),
        name: "vendor.acme.reused".into(),
        tgz: tgz(&pj, &sig),
        sig,
        code: "pack_signature_invalid",
    });
    let pj = pack_json("vendor.acme.realname", "1.0.0");
    let sig = signed(acme, &pj);
    out.push(Case {
        label: "manifest name differs from the URL".into(),
        name: "vendor.acme.urlname".into(),
        tgz: tgz(&pj, &sig),
        sig,
        code: "manifest_name_mismatch",
    });
    out
}

fn version_of(case: &Case) -> &'static str {
    if case.name == "vendor.acme.reused" { "1.0.1" } else { "1.0.0" }
}

/// Writes one version into a static registry tree, as a hostile registry would serve it.
fn put_in_tree(tree: &Path, case: &Case, registry_key: &PrivateKey, index: &mut Vec<Value>) {
    let version = version_of(case);
    let dir = tree.join("v1/packs").join(&case.name);
    std::fs::create_dir_all(dir.join("-")).unwrap();
    let integrity = Integrity::of(&case.tgz).to_string();
    // The served manifest claims the URL's name and version; the tarball may say otherwise.
    let manifest = json!({
        "name": case.name, "version": version, "description": "hostile test", "engines": {"openwop": ">=1.0.0"},
        "signing": {"method": "manual", "publicKeyRef": "acme-1", "signatureRef": "keys/pack.json.sig"},
        "integrity": integrity,
    });
    let statement = StatementDocument {
        doc_type: "openwop.version-statement".into(),
        registry: REGISTRY_ID.into(),
        name: case.name.clone(),
        version: version.into(),
        integrity: integrity.clone(),
        published_at: pack_verify::trust::format_time(time_now()),
        signing_key_id: "acme-1".into(),
        signing_method: "manual".into(),
        keychain_version: Some(1),
    }
    .sign("registry-1", registry_key)
    .to_json();
    std::fs::write(dir.join(format!("-/{version}.json")), manifest.to_string()).unwrap();
    std::fs::write(dir.join(format!("-/{version}.tgz")), &case.tgz).unwrap();
    std::fs::write(dir.join(format!("-/{version}.sig")), &case.sig).unwrap();
    std::fs::write(dir.join(format!("-/{version}.statement.json")), statement).unwrap();
    let pack_index = json!({"name": case.name, "versions": [{
        "version": version, "integrity": integrity, "yanked": false, "deprecated": false,
        "manifestUrl": format!("/v1/packs/{}/-/{version}.json", case.name),
    }], "latest": version});
    std::fs::write(dir.join("index.json"), pack_index.to_string()).unwrap();
    index.push(json!({"name": case.name, "latestVersion": version}));
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
    run(in_dir(&pack).args(["keys", "root-init", "--registry", REGISTRY_ID, "--out-dir", "ops/root"]));
    run(in_dir(&pack).args(["keygen", "--name", "registry-1"]));
    run(in_dir(&pack).args(["keygen", "--name", "acme-1"]));
    let spec = json!({"registry": REGISTRY_ID, "keys": [
        {"keyId": "acme-1", "publicKeyFile": "acme-1.pub", "roles": ["publisher"], "permittedNamespaces": ["vendor.acme.*"]},
        {"keyId": "registry-1", "publicKeyFile": "registry-1.pub", "roles": ["registry"]}]});
    std::fs::write(d.join("keychain.json"), spec.to_string()).unwrap();
    run(in_dir(&pack).args([
        "keys",
        "keychain-sign",
        "--root",
        "ops/root/openwop-registry-root.key",
        "--spec",
        "keychain.json",
        "--expires-in-days",
        "30",
        "-o",
        "keychain.signed.json",
    ]));
    let key = |file: &str| PrivateKey::from_pkcs8_pem(&std::fs::read_to_string(d.join(file)).unwrap()).unwrap();
    let acme = key("acme-1.key");
    let registry_key = key("registry-1.key");
    let cases = cases(&acme);

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
    let codes: BTreeMap<String, String> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap().to_string(), r["error"].as_str().unwrap_or("ok").to_string()))
        .collect();
    for case in &cases {
        assert_eq!(codes.get(&case.name).map(String::as_str), Some(case.code), "pack-verify: {}", case.label);
    }

    // 2. Publish: every case refused with its code; no version becomes visible.
    let token = |args: &[&str]| {
        run(Command::new(&server_bin).current_dir(d).args(["token", "create", "--data-dir", "data"]).args(args))
    };
    let admin = token(&["--principal", "ops", "--scope", "admin"]).trim().to_string();
    let publisher = token(&["--principal", "acme", "--namespace", "vendor.*", "--scope", "publish"]).trim().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Server(
        Command::new(&server_bin)
            .current_dir(d)
            .args(["serve", "--data-dir", "data", "--listen", &format!("127.0.0.1:{port}")])
            .args([
                "--trust",
                "ops/root/trust.json",
                "--statement-key",
                "registry-1.key",
                "--statement-key-id",
                "registry-1",
            ])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::blocking::Client::new();
    assert!((0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        client.get(format!("{base}/readyz")).send().is_ok_and(|r| r.status() == 200)
    }));
    let resp = client
        .put(format!("{base}/keys/keychain.json"))
        .bearer_auth(&admin)
        .body(std::fs::read(d.join("keychain.signed.json")).unwrap())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201);
    for case in &cases {
        let resp = client
            .put(format!("{base}/v1/packs/{}/-/{}.tgz", case.name, version_of(case)))
            .bearer_auth(&publisher)
            .header("content-type", "application/gzip")
            .body(case.tgz.clone())
            .send()
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().unwrap_or(Value::Null);
        assert!(status.is_client_error(), "publish {}: {status} {body}", case.label);
        assert_eq!(body["error"], case.code, "publish {}: {body}", case.label);
        assert_eq!(client.get(format!("{base}/v1/packs/{}", case.name)).send().unwrap().status(), 404);
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
    let (_static, static_base) = {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(&tree)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        assert!((0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            client.get(format!("{url}/v1/index.json")).send().is_ok_and(|r| r.status() == 200)
        }));
        (Server(child), url)
    };
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
            .args(["--json", "install", &format!("{}@{}", case.name, version_of(case)), "--host-dir"])
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

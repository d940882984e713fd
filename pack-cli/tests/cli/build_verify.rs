//! `pack init`, `pack build`, `pack sign`, `pack verify` for a publisher.

use pack_verify::canonical::to_canonical_vec;
use pack_verify::tarball::{TarLimits, read_pack};
use pack_verify::{PublicKey, Signature};
use serde_json::{Value, json};

use crate::support::{NAME, SIG, TGZ, manifest_for, pack, publish, workdir};

#[test]
fn readme_flow_round_trips() {
    let dir = workdir();
    let d = dir.path();
    pack(d, &["keygen", "--name", "acme-1"]).ok();
    pack(d, &["init", "my-pack", "--name", "vendor.acme.tools"]).ok();
    let built = pack(d, &["--json", "build", "my-pack", "--key", "acme-1.key", "--key-id", "acme-1"]).ok().json();
    assert_eq!(built["reason"], "build");
    assert_eq!(built["fileCount"], 7);
    let tgz = std::fs::read(d.join(TGZ)).unwrap();
    assert_eq!(built["size"], tgz.len());
    assert_eq!(built["integrity"], pack_verify::Integrity::of(&tgz).to_string());

    let run = pack(d, &["verify", "vendor.acme.tools-0.1.0.tgz", "--key", "acme-1.pub"]).ok();
    assert!(run.stdout.starts_with("ok vendor.acme.tools@0.1.0: signed by acme-1 (manual)"), "{}", run.stdout);
    let json = pack(d, &["--json", "verify", TGZ, "--key", "acme-1.pub"]).ok().json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["name"], NAME);
    assert_eq!(json["keyId"], "acme-1");
    assert_eq!(json["method"], "manual");
}

#[test]
fn build_follows_the_manual_convention() {
    let dir = workdir();
    let p = publish(dir.path());
    let tgz = std::fs::read(&p.tarball).unwrap();
    let sig = std::fs::read(&p.signature).unwrap();
    assert_eq!(sig.len(), 64, "raw 64-byte detached signature, like the fixtures' .sig files");
    assert_eq!(&tgz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255], "deterministic gzip header");

    let archive = read_pack(&tgz, &TarLimits::default()).unwrap();
    let names: Vec<&str> = archive.files().iter().map(|f| f.path.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(names.contains(&"keys/pack.json.sig") && names.contains(&"index.mjs"), "{names:?}");

    let pack_json: Value = serde_json::from_slice(archive.pack_json()).unwrap();
    assert_eq!(archive.pack_json(), to_canonical_vec(&pack_json).as_slice(), "pack.json stored canonically");
    assert_eq!(
        pack_json["signing"],
        json!({"method": "manual", "publicKeyRef": "acme-1", "signatureRef": "keys/pack.json.sig"})
    );
    assert_eq!(archive.get("keys/pack.json.sig"), Some(sig.as_slice()), "embedded == detached");
    let public = PublicKey::parse(&std::fs::read_to_string(dir.path().join("acme-1.pub")).unwrap()).unwrap();
    assert!(public.verify(archive.pack_json(), &Signature::from_bytes(&sig).unwrap()));
}

#[test]
fn building_twice_gives_identical_bytes() {
    let dir = workdir();
    let d = dir.path();
    let p = publish(d);
    pack(d, &["build", "my-pack", "--key", "acme-1.key", "--key-id", "acme-1", "--out-dir", "again"]).ok();
    assert_eq!(std::fs::read(&p.tarball).unwrap(), std::fs::read(d.join("again").join(TGZ)).unwrap());
    assert_eq!(std::fs::read(&p.signature).unwrap(), std::fs::read(d.join("again").join(SIG)).unwrap());
    // Building in place skips its own outputs, so the result stays the same too.
    pack(d, &["build", "my-pack", "--key", "acme-1.key", "--key-id", "acme-1", "--out-dir", "my-pack"]).ok();
    pack(d, &["build", "my-pack", "--key", "acme-1.key", "--key-id", "acme-1", "--out-dir", "my-pack"]).ok();
    assert_eq!(std::fs::read(&p.tarball).unwrap(), std::fs::read(d.join("my-pack").join(TGZ)).unwrap());
}

#[test]
fn tampering_is_caught() {
    let dir = workdir();
    let d = dir.path();
    let p = publish(d);
    let pristine = std::fs::read(&p.tarball).unwrap();
    std::fs::write(d.join("manifest.json"), manifest_for(&pristine, json!({}))).unwrap();
    pack(d, &["verify", TGZ, "--key", "acme-1.pub", "--manifest", "manifest.json"]).ok();

    let mut tampered = pristine.clone();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 0x01;
    std::fs::write(d.join("t.tgz"), &tampered).unwrap();
    std::fs::copy(&p.signature, d.join("t.sig")).unwrap();
    // Against the manifest the registry serves, the integrity check fires first.
    let run = pack(d, &["--json", "verify", "t.tgz", "--key", "acme-1.pub", "--manifest", "manifest.json"]);
    run.fails_with(1, "pack_integrity_mismatch");
    // Without a manifest the integrity is computed from the file itself, so the safe reader
    // (gzip CRC, tar checksums) is what refuses it.
    let run = pack(d, &["--json", "verify", "t.tgz", "--key", "acme-1.pub"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let code = run.json()["error"].as_str().unwrap().to_string();
    assert!(code.starts_with("tarball_"), "{code}");
}

#[test]
fn a_wrong_key_fails_with_the_signature_code() {
    let dir = workdir();
    let d = dir.path();
    publish(d);
    pack(d, &["keygen", "--name", "other"]).ok();
    let err = pack(d, &["--json", "verify", TGZ, "--key", "other.pub"]).fails_with(1, "pack_signature_invalid");
    assert!(err["path"].as_str().unwrap().ends_with(TGZ));
    // A detached signature that is not the embedded one is refused before the equation.
    std::fs::write(d.join("bad.sig"), [7u8; 64]).unwrap();
    pack(d, &["--json", "verify", TGZ, "--key", "acme-1.pub", "--sig", "bad.sig"])
        .fails_with(1, "pack_signature_mismatch");
    std::fs::write(d.join("short.sig"), [7u8; 10]).unwrap();
    pack(d, &["--json", "verify", TGZ, "--key", "acme-1.pub", "--sig", "short.sig"])
        .fails_with(1, "pack_signature_malformed");
    // A missing .sig is an I/O error (exit 2) with a hint.
    std::fs::remove_file(d.join(SIG)).unwrap();
    pack(d, &["--json", "verify", TGZ, "--key", "acme-1.pub"]).fails_with(2, "io_error");
}

#[test]
fn sign_rewrites_the_detached_signature_and_refuses_other_keys() {
    let dir = workdir();
    let d = dir.path();
    let p = publish(d);
    let original = std::fs::read(&p.signature).unwrap();
    std::fs::remove_file(&p.signature).unwrap();
    let json = pack(d, &["--json", "sign", TGZ, "--key", "acme-1.key", "--key-id", "acme-1"]).ok().json();
    assert_eq!(json["reason"], "sign");
    assert_eq!(std::fs::read(&p.signature).unwrap(), original, "same path as build, same bytes");

    pack(d, &["keygen", "--name", "other"]).ok();
    pack(d, &["--json", "sign", TGZ, "--key", "other.key", "--key-id", "acme-1"])
        .fails_with(1, "pack_signature_mismatch");
    pack(d, &["--json", "sign", TGZ, "--key", "acme-1.key", "--key-id", "other"]).fails_with(1, "pack_signer_mismatch");
    assert_eq!(std::fs::read(&p.signature).unwrap(), original, "refusals leave the .sig alone");
}

#[test]
fn build_refuses_symlinks_with_a_clear_error() {
    let dir = workdir();
    let d = dir.path();
    pack(d, &["keygen", "--name", "acme-1"]).ok();
    pack(d, &["init", "my-pack", "--name", NAME]).ok();
    std::os::unix::fs::symlink("/etc/passwd", d.join("my-pack/passwd")).unwrap();
    let run = pack(d, &["--json", "build", "my-pack", "--key", "acme-1.key", "--key-id", "acme-1"]);
    let err = run.fails_with(2, "source_symlink");
    assert!(err["message"].as_str().unwrap().contains("`passwd` is a symbolic link"), "{err}");
    assert!(err["path"].as_str().unwrap().ends_with("my-pack/passwd"), "{err}");
    assert!(!d.join(TGZ).exists(), "nothing written");
    let human = pack(d, &["build", "my-pack", "--key", "acme-1.key", "--key-id", "acme-1"]);
    assert!(human.stderr.contains("error[source_symlink]"), "{}", human.stderr);
    assert!(human.stderr.contains("--> my-pack/passwd"), "{}", human.stderr);
}

#[test]
fn build_skips_vcs_dependencies_artifacts_and_keys() {
    let dir = workdir();
    let d = dir.path();
    pack(d, &["keygen", "--name", "acme-1", "--out-dir", "my-pack-keys"]).ok();
    pack(d, &["init", "my-pack", "--name", NAME]).ok();
    let src = d.join("my-pack");
    for (path, data) in [
        (".git/HEAD", "ref"),
        ("node_modules/x/index.js", "x"),
        ("target/debug/x", "x"),
        ("old-1.0.0.tgz", "x"),
        ("old-1.0.0.sig", "x"),
        ("keys/pack.json.sig", "stale"),
        ("secret.key", "-----BEGIN PRIVATE KEY-----"),
        (".DS_Store", "x"),
        ("prompts/hello.md", "Say hello."),
    ] {
        let file = src.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, data).unwrap();
    }
    let key = "my-pack-keys/acme-1.key";
    let json = pack(d, &["--json", "build", "my-pack", "--key", key, "--key-id", "acme-1"]).ok().json();
    let files: Vec<&str> = json["files"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(
        files,
        [
            "README.md",
            "index.mjs",
            "keys/pack.json.sig",
            "pack.json",
            "prompts/hello.md",
            "schemas/hello.config.json",
            "schemas/hello.input.json",
            "schemas/hello.output.json"
        ]
    );
    let archive = read_pack(&std::fs::read(d.join(TGZ)).unwrap(), &TarLimits::default()).unwrap();
    assert_eq!(archive.get("keys/pack.json.sig").map(<[u8]>::len), Some(64), "stale signature replaced");
}

#[test]
fn build_checks_pack_json() {
    let dir = workdir();
    let d = dir.path();
    pack(d, &["keygen", "--name", "acme-1"]).ok();
    pack(d, &["init", "my-pack", "--name", NAME]).ok();
    std::fs::remove_file(d.join("my-pack/index.mjs")).unwrap();
    let args = ["--json", "build", "my-pack", "--key", "acme-1.key", "--key-id", "acme-1"];
    pack(d, &args).fails_with(2, "pack_file_missing");
    std::fs::write(d.join("my-pack/index.mjs"), "export default {}").unwrap();
    let pj = d.join("my-pack/pack.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&pj).unwrap()).unwrap();
    manifest["name"] = json!("Acme.Tools");
    std::fs::write(&pj, serde_json::to_vec(&manifest).unwrap()).unwrap();
    pack(d, &args).fails_with(2, "invalid_pack_name");
    pack(d, &["--json", "build", "nowhere", "--key", "acme-1.key", "--key-id", "acme-1"]).fails_with(2, "io_error");
    pack(d, &["--json", "build", "my-pack", "--key", "acme-1.pub", "--key-id", "acme-1"])
        .fails_with(2, "key_malformed");
}

#[test]
fn init_validates_name_and_target() {
    let dir = workdir();
    let d = dir.path();
    let json = pack(d, &["--json", "init", "p", "--name", NAME, "--version", "1.2.3-beta.1"]).ok().json();
    assert_eq!(json["reason"], "init");
    let manifest: Value = serde_json::from_slice(&std::fs::read(d.join("p/pack.json")).unwrap()).unwrap();
    assert_eq!(manifest["name"], NAME);
    assert_eq!(manifest["version"], "1.2.3-beta.1");
    assert_eq!(manifest["engines"]["openwop"], ">=1.0.0 <2.0.0");
    assert_eq!(manifest["runtime"]["entry"], "./index.mjs");
    assert_eq!(manifest["nodes"][0]["typeId"], "vendor.acme.tools.hello");
    for f in ["README.md", "index.mjs", "schemas/hello.input.json"] {
        assert!(d.join("p").join(f).is_file(), "{f}");
    }
    pack(d, &["--json", "init", "p", "--name", NAME]).fails_with(2, "target_not_empty");
    for bad in ["acme.tools", "vendor.Acme.tools", "vendor.acme"] {
        pack(d, &["--json", "init", "q", "--name", bad]).fails_with(2, "invalid_pack_name");
    }
    pack(d, &["--json", "init", "q", "--name", "local.acme.tools"]).fails_with(2, "invalid_pack_scope");
    pack(d, &["--json", "init", "q", "--name", NAME, "--version", "1.0"]).fails_with(2, "invalid_version");
    pack(d, &["--json", "init", "q", "--name", NAME, "--kind", "prompt"]).fails_with(2, "pack_kind_unsupported");
    assert!(!d.join("q").exists());
}

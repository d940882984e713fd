//! `pack keygen`.

use std::os::unix::fs::PermissionsExt as _;

use pack_verify::{PrivateKey, PublicKey};

use crate::support::{pack, workdir};

#[test]
fn writes_a_0600_pkcs8_key_and_its_public_half() {
    let dir = workdir();
    let run = pack(dir.path(), &["--json", "keygen", "--name", "acme-1"]).ok();
    let json = run.json();
    assert_eq!(json["reason"], "keygen");
    assert_eq!(json["keyId"], "acme-1");

    let key_path = dir.path().join("acme-1.key");
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "private key mode");
    let pem = std::fs::read_to_string(&key_path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let private = PrivateKey::from_pkcs8_pem(&pem).unwrap();
    let pub_pem = std::fs::read_to_string(dir.path().join("acme-1.pub")).unwrap();
    assert!(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"));
    let public = PublicKey::parse(&pub_pem).unwrap();
    assert_eq!(public, private.public_key());
    assert_eq!(json["publicKey"], public.to_base64());
}

#[test]
fn refuses_to_overwrite_unless_forced() {
    let dir = workdir();
    pack(dir.path(), &["keygen", "--name", "k"]).ok();
    let before = std::fs::read(dir.path().join("k.key")).unwrap();
    let run = pack(dir.path(), &["--json", "keygen", "--name", "k"]);
    let err = run.fails_with(2, "key_file_exists");
    assert!(err["path"].as_str().unwrap().ends_with("k.key"), "{err}");
    assert_eq!(std::fs::read(dir.path().join("k.key")).unwrap(), before, "untouched");

    // Human output names the problem, the path and a hint.
    let run = pack(dir.path(), &["keygen", "--name", "k"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("error[key_file_exists]:"), "{}", run.stderr);
    assert!(run.stderr.contains("  hint: "), "{}", run.stderr);
    assert!(run.stderr.contains("--name"), "the hint names keygen's flag: {}", run.stderr);

    pack(dir.path(), &["keygen", "--name", "k", "--force"]).ok();
    assert_ne!(std::fs::read(dir.path().join("k.key")).unwrap(), before, "replaced");
    let mode = std::fs::metadata(dir.path().join("k.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn default_name_and_out_dir() {
    let dir = workdir();
    pack(dir.path(), &["keygen", "--out-dir", "keys"]).ok();
    assert!(dir.path().join("keys/pack-signing.key").is_file());
    assert!(dir.path().join("keys/pack-signing.pub").is_file());
    pack(dir.path(), &["--json", "keygen", "--name", "../evil"]).fails_with(2, "invalid_key_id");
}

//! A signature that does not verify is explained as precisely as the evidence allows: made by
//! another trusted key, replayed from another version, or simply invalid.

use pack_verify::trust::{KeyRole, KeyStatus, TrustRoot, TrustedKey};
use pack_verify::{Integrity, KeptFiles, PackFile, PrivateKey, Verifier, VerifyError, VersionInput};
use serde_json::json;

fn trusted(id: &str, key: &PrivateKey, ns: &str) -> TrustedKey {
    TrustedKey {
        key_id: id.into(),
        key: key.public_key(),
        permitted_namespaces: vec![ns.into()],
        status: KeyStatus::Active,
        roles: vec![KeyRole::Publisher],
        valid_from: None,
        valid_until: None,
        revoked_at: None,
    }
}

/// `pack.json` in a publisher's own (pretty, non-canonical) layout.
fn pack_json(version: &str, method: &str) -> Vec<u8> {
    serde_json::to_vec_pretty(&json!({
        "name": "vendor.acme.tools", "version": version, "engines": {"openwop": ">=1.0.0"},
        "signing": {"method": method, "publicKeyRef": "acme-1", "signatureRef": "keys/pack.json.sig"}
    }))
    .expect("json")
}

struct Version {
    manifest: Vec<u8>,
    tarball: Vec<u8>,
    signature: Vec<u8>,
}

fn version(pj: &[u8], sig: &[u8], method: &str) -> Version {
    let tarball = pack_verify::tarball::write_pack(&[
        PackFile { path: "keys/pack.json.sig".into(), data: sig.to_vec() },
        PackFile { path: "pack.json".into(), data: pj.to_vec() },
    ])
    .expect("builds");
    let mut manifest: serde_json::Value = serde_json::from_slice(pj).expect("json");
    manifest["integrity"] = Integrity::of(&tarball).to_string().into();
    manifest["signing"]["method"] = method.into();
    Version { manifest: serde_json::to_vec(&manifest).expect("json"), tarball, signature: sig.to_vec() }
}

fn check(root: &TrustRoot, v: &Version, others: &[String]) -> Result<pack_verify::VerifiedVersion, VerifyError> {
    Verifier::new(root.clone()).verify(&VersionInput {
        manifest: &v.manifest,
        tarball: &v.tarball,
        signature: &v.signature,
        statement: None,
        expected: None,
        other_versions: others,
    })
}

fn setup() -> (PrivateKey, PrivateKey, TrustRoot) {
    let acme = PrivateKey::from_seed([7; 32]);
    let beta = PrivateKey::from_seed([8; 32]);
    let root = TrustRoot::pinned(
        "https://registry.example",
        vec![trusted("acme-1", &acme, "vendor.acme.*"), trusted("beta-1", &beta, "vendor.beta.*")],
    );
    (acme, beta, root)
}

#[test]
fn a_signature_by_another_trusted_key_names_that_key() {
    let (_, beta, root) = setup();
    let pj = pack_json("1.0.0", "manual");
    let v = version(&pj, &beta.sign(&pj).to_bytes(), "manual");
    match check(&root, &v, &[]) {
        Err(VerifyError::SignatureWrongKey { declared, actual }) => {
            assert_eq!((declared.as_str(), actual.as_str()), ("acme-1", "beta-1"));
        }
        other => panic!("expected pack_signature_wrong_key, got {other:?}"),
    }
}

#[test]
fn a_whole_tarball_signature_by_another_trusted_key_is_named_too() {
    let (_, beta, root) = setup();
    let pj = pack_json("1.0.0", "ed25519");
    // Under `ed25519` the signature covers the tarball, so sign the finished bytes.
    let mut v = version(&pj, &[0; 64], "ed25519");
    v.signature = beta.sign(&v.tarball).to_bytes().to_vec();
    let err = check(&root, &v, &[]).expect_err("refused");
    assert_eq!(err.code(), "pack_signature_wrong_key", "{err}");
}

#[test]
fn a_signature_replayed_from_another_version_is_named_in_any_layout() {
    let (acme, _, root) = setup();
    let old_sig = acme.sign(&pack_json("1.0.0", "manual")).to_bytes();
    let v = version(&pack_json("1.1.0", "manual"), &old_sig, "manual");
    let others = vec!["1.0.0".to_string(), "1.1.0".to_string()];
    match check(&root, &v, &others) {
        Err(VerifyError::SignatureReused { version, from_version, .. }) => {
            assert_eq!((version.as_str(), from_version.as_str()), ("1.1.0", "1.0.0"));
        }
        other => panic!("expected pack_signature_reused, got {other:?}"),
    }
    // Without knowing the other versions the verifier can only say the signature is bad.
    assert_eq!(check(&root, &v, &[]).expect_err("refused").code(), "pack_signature_invalid");
    // And a version list that does not contain the source does not invent a replay.
    let unrelated = vec!["0.9.0".to_string()];
    assert_eq!(check(&root, &v, &unrelated).expect_err("refused").code(), "pack_signature_invalid");
}

#[test]
fn a_signature_over_other_bytes_stays_invalid_and_a_good_one_passes() {
    let (acme, _, root) = setup();
    let pj = pack_json("1.0.0", "manual");
    let forged = version(&pj, &acme.sign(b"other bytes").to_bytes(), "manual");
    let others = vec!["0.1.0".to_string()];
    assert_eq!(check(&root, &forged, &others).expect_err("refused").code(), "pack_signature_invalid");
    let good = version(&pj, &acme.sign(&pj).to_bytes(), "manual");
    assert!(check(&root, &good, &others).is_ok());
}

/// The batch paths give every version the verdict and the explanation single verification gives
/// it, whether they keep the files ([`Verifier::verify_all`]) or only `pack.json`
/// ([`Verifier::check_all_loaded`], which frees each version's bytes on its worker and so must
/// carry what an explanation needs past the batch equation).
#[test]
fn batch_paths_explain_failures_as_single_verification_does() {
    let (acme, beta, root) = setup();
    let pj = pack_json("1.1.0", "manual");
    let mut tarball_signed_by_beta = version(&pack_json("1.1.0", "ed25519"), &[0; 64], "ed25519");
    tarball_signed_by_beta.signature = beta.sign(&tarball_signed_by_beta.tarball).to_bytes().to_vec();
    let mut tarball_good = version(&pack_json("1.1.0", "ed25519"), &[0; 64], "ed25519");
    tarball_good.signature = acme.sign(&tarball_good.tarball).to_bytes().to_vec();
    let versions = vec![
        version(&pj, &acme.sign(&pj).to_bytes(), "manual"),
        version(&pj, &beta.sign(&pj).to_bytes(), "manual"),
        version(&pj, &acme.sign(&pack_json("1.0.0", "manual")).to_bytes(), "manual"),
        version(&pj, &acme.sign(b"other bytes").to_bytes(), "manual"),
        tarball_signed_by_beta,
        tarball_good,
    ];
    let others = vec!["1.0.0".to_string(), "1.1.0".to_string()];
    let expected = ["ok", "pack_signature_wrong_key", "pack_signature_reused", "pack_signature_invalid"];
    let expected: Vec<&str> = expected.into_iter().chain(["pack_signature_wrong_key", "ok"]).collect();
    let code = |r: Result<(), VerifyError>| r.err().map_or("ok", |e| e.code());

    let single: Vec<&str> = versions.iter().map(|v| code(check(&root, v, &others).map(|_| ()))).collect();
    assert_eq!(single, expected);

    let inputs: Vec<VersionInput<'_>> = versions
        .iter()
        .map(|v| VersionInput {
            manifest: &v.manifest,
            tarball: &v.tarball,
            signature: &v.signature,
            statement: None,
            expected: None,
            other_versions: &others,
        })
        .collect();
    let verifier = Verifier::new(root.clone());
    let batch: Vec<&str> = verifier.verify_all(&inputs).into_iter().map(|r| code(r.map(|_| ()))).collect();
    assert_eq!(batch, expected);

    // Loaded on the workers from owned copies, as the registry walk loads files.
    let loaded = verifier.check_all_loaded(
        &versions,
        |v| Ok((v.manifest.clone(), v.tarball.clone(), v.signature.clone(), others.clone())),
        |_, (manifest, tarball, signature, others)| VersionInput {
            manifest,
            tarball,
            signature,
            statement: None,
            expected: None,
            other_versions: others,
        },
    );
    let kept: Vec<Option<Vec<u8>>> =
        loaded.iter().map(|r| r.as_ref().ok().map(|v| v.archive.pack_json().to_vec())).collect();
    let verdicts: Vec<&str> = loaded.into_iter().map(|r| code(r.map(|_| ()))).collect();
    assert_eq!(verdicts, expected);
    // What a verdict keeps is exactly the signed `pack.json`.
    assert_eq!(kept[0].as_deref(), Some(pj.as_slice()));
    assert_eq!(kept[5].as_deref(), Some(pack_json("1.1.0", "ed25519").as_slice()));
}

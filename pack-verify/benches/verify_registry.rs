//! Verifying the whole reference registry, four ways:
//!
//! - `verify_all`: [`Verifier::verify_all`] over every version (preparation on all cores, then
//!   one batched signature equation per worker over the versions it prepared);
//! - `check_all`: [`Verifier::check_all_loaded`], the same with verdicts instead of files (what
//!   `pack-verify registry` runs);
//! - `verify_loop`: the straightforward peer, one [`Verifier::verify`] per version on one thread;
//! - `ed25519_verify_strict`: only the signature checks, `verify_strict` per (message, signature,
//!   key) triple of the same versions: the crypto floor of the one-at-a-time path.
//!
//! `ed25519_verify_batch` (one `ed25519_dalek::verify_batch` over the same triples) is reported
//! alongside as the machine's batch-verification limit, `batch_equation` times our own batch
//! equation ([`pack_verify::signature::verify_batch`]) over them, and the `verify_stages` group
//! times the main non-crypto stages of one verification (manifest parse, SHA-256, safe tar read)
//! on their own.
//!
//! Needs the fixture tree: `OPENWOP_FIXTURES=/work/shared/fixtures cargo bench -p pack-verify
//! --bench verify_registry`. Without `OPENWOP_FIXTURES` it prints `SKIPPED` and measures nothing.
//! Everything is read into memory before measuring; no benchmark touches the disk.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, SamplingMode, Throughput};
use pack_verify::manifest::VersionManifest;
use pack_verify::registry::{DirSource, RegistryCheck, RegistrySource, verify_registry};
use pack_verify::signature::{self, SignatureCheck};
use pack_verify::tarball::read_pack;
use pack_verify::trust::{ExpiryPolicy, SystemClock};
use pack_verify::{
    Integrity, PublicKey, Signature, SigningMethod, TarLimits, TrustBundle, TrustState, Verifier, VersionInput,
};
use serde_json::Value;

/// The raw bytes of one published version.
struct Version {
    name: String,
    version: String,
    manifest: Vec<u8>,
    tarball: Vec<u8>,
    signature: Vec<u8>,
}

impl Version {
    fn input(&self) -> VersionInput<'_> {
        VersionInput {
            manifest: &self.manifest,
            tarball: &self.tarball,
            signature: &self.signature,
            statement: None,
            expected: Some((&self.name, &self.version)),
            other_versions: &[],
        }
    }
}

/// One signature check, with the key already decoded: exactly what `verify_strict` consumes.
struct Triple {
    message: Vec<u8>,
    signature: ed25519_dalek::Signature,
    key: ed25519_dalek::VerifyingKey,
}

fn fetch(source: &DirSource, path: &str) -> Vec<u8> {
    source
        .fetch(path)
        .unwrap_or_else(|e| panic!("reading {path}: {e}"))
        .unwrap_or_else(|| panic!("{path} is missing from the fixture registry"))
}

fn json(source: &DirSource, path: &str) -> Value {
    serde_json::from_slice(&fetch(source, path)).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// Every version listed by `/v1/index.json` and the per-pack indexes, read into memory.
fn load_registry(source: &DirSource) -> Vec<Version> {
    let index = json(source, "/v1/index.json");
    let packs = index.get("packs").and_then(Value::as_array).expect("/v1/index.json has a `packs` array");
    let mut versions = Vec::new();
    for pack in packs {
        let name = pack.get("name").and_then(Value::as_str).expect("every pack has a name");
        let pack_index = json(source, &format!("/v1/packs/{name}/index.json"));
        for row in pack_index.get("versions").and_then(Value::as_array).into_iter().flatten() {
            let version = row.get("version").and_then(Value::as_str).expect("every version row has a version");
            let base = format!("/v1/packs/{name}/-/{version}");
            versions.push(Version {
                name: name.to_string(),
                version: version.to_string(),
                manifest: fetch(source, &format!("{base}.json")),
                tarball: fetch(source, &format!("{base}.tgz")),
                signature: fetch(source, &format!("{base}.sig")),
            });
        }
    }
    versions
}

fn verifier() -> Verifier {
    let bundle = TrustBundle::reference().expect("the reference trust bundle parses");
    let mut state = TrustState::new();
    let root =
        bundle.resolve(None, &mut state, &SystemClock, ExpiryPolicy::Enforce).expect("the reference bundle resolves");
    Verifier::new(root)
}

fn main() {
    let Some(fixtures) = std::env::var_os("OPENWOP_FIXTURES") else {
        eprintln!();
        eprintln!("==============================================================================");
        eprintln!("SKIPPED: OPENWOP_FIXTURES not set");
        eprintln!("  verify_registry measures nothing without the fixture registry. Run:");
        eprintln!("  OPENWOP_FIXTURES=/work/shared/fixtures cargo bench -p pack-verify --bench verify_registry");
        eprintln!("==============================================================================");
        eprintln!();
        return;
    };
    let registry_dir: PathBuf = Path::new(&fixtures).join("openwop-registry");
    let source = DirSource::new(&registry_dir);

    // The library's own end-to-end path, once, as a sanity report (not measured).
    let bundle = TrustBundle::reference().expect("the reference trust bundle parses");
    let mut state = TrustState::new();
    let report = verify_registry(&source, RegistryCheck::enforcing(&bundle, &mut state))
        .expect("verify_registry runs over the fixture registry");
    eprintln!("verify_registry({}): {} verified, {} failed", registry_dir.display(), report.verified, report.failed);
    for failure in report.results.iter().filter(|r| !r.ok) {
        eprintln!(
            "  failed: {} {}: {}",
            failure.name,
            failure.version,
            failure.message.as_deref().unwrap_or("(no message)")
        );
    }

    let versions = load_registry(&source);
    let inputs: Vec<VersionInput<'_>> = versions.iter().map(Version::input).collect();
    let verifier = verifier();

    // Both paths must agree before either is timed, and the triples come from what verified.
    let batched = verifier.verify_all(&inputs);
    let mut triples = Vec::new();
    for ((input, batch), version) in inputs.iter().zip(&batched).zip(&versions) {
        let single = verifier.verify(input);
        assert_eq!(
            batch.as_ref().map(|v| v.integrity).map_err(|e| e.code()),
            single.as_ref().map(|v| v.integrity).map_err(|e| e.code()),
            "verify_all and verify disagree on {} {}",
            version.name,
            version.version
        );
        if let Ok(v) = batch {
            let message = match v.method {
                SigningMethod::Manual => v.archive.pack_json().to_vec(),
                SigningMethod::Tarball => version.tarball.clone(),
            };
            let key = verifier.root().key(&v.signing_key_id).expect("a verified version's key is in the root").key;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&key.to_bytes()).expect("a trusted key decodes");
            let signature = ed25519_dalek::Signature::from_slice(&version.signature).expect("64-byte signature");
            triples.push(Triple { message, signature, key });
        }
    }
    let ok = triples.len();
    let total_bytes: usize = versions.iter().map(|v| v.manifest.len() + v.tarball.len() + v.signature.len()).sum();
    eprintln!(
        "loaded {} versions ({:.1} MiB in memory): {} verify, {} fail (all four benchmarks cover all {} versions; \
         the crypto floors cover the {} that verify)",
        versions.len(),
        total_bytes as f64 / (1024.0 * 1024.0),
        ok,
        versions.len() - ok,
        versions.len(),
        ok
    );
    assert!(triples.iter().all(|t| t.key.verify_strict(&t.message, &t.signature).is_ok()), "every triple verifies");

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("verify_registry");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);

    group.throughput(Throughput::Elements(versions.len() as u64));
    group.bench_function("verify_all", |b| {
        b.iter(|| {
            let results = verifier.verify_all(black_box(&inputs));
            assert_eq!(results.iter().filter(|r| r.is_ok()).count(), ok);
            results
        })
    });
    // What the registry walk runs: the same checks, verdicts without files.
    group.bench_function("check_all", |b| {
        b.iter(|| {
            let results = verifier.check_all_loaded(black_box(&versions), |_| Ok(()), |v, _| v.input());
            assert_eq!(results.iter().filter(|r| r.is_ok()).count(), ok);
            results
        })
    });
    group.bench_function("verify_loop", |b| {
        b.iter(|| {
            let results: Vec<_> = black_box(&inputs).iter().map(|input| verifier.verify(input)).collect();
            assert_eq!(results.iter().filter(|r| r.is_ok()).count(), ok);
            results
        })
    });

    group.throughput(Throughput::Elements(ok as u64));
    group.bench_function("ed25519_verify_strict", |b| {
        b.iter(|| {
            let good =
                black_box(&triples).iter().filter(|t| t.key.verify_strict(&t.message, &t.signature).is_ok()).count();
            assert_eq!(good, ok);
        })
    });
    let messages: Vec<&[u8]> = triples.iter().map(|t| t.message.as_slice()).collect();
    let signatures: Vec<ed25519_dalek::Signature> = triples.iter().map(|t| t.signature).collect();
    let keys: Vec<ed25519_dalek::VerifyingKey> = triples.iter().map(|t| t.key).collect();
    group.bench_function("ed25519_verify_batch", |b| {
        b.iter(|| {
            ed25519_dalek::verify_batch(black_box(&messages), black_box(&signatures), black_box(&keys))
                .expect("the batch verifies")
        })
    });
    // Our own batch equation (`pack_verify::signature::verify_batch`) over the same triples on
    // one thread, hashing included: what `verify_all` pays after preparation, plus the
    // challenges it computes during preparation on every core.
    let checks_owned: Vec<(PublicKey, Signature)> = triples
        .iter()
        .map(|t| {
            let key = PublicKey::from_der_or_raw(t.key.as_bytes()).expect("a trusted key parses");
            (key, Signature::from_bytes(&t.signature.to_bytes()).expect("64 bytes"))
        })
        .collect();
    let checks: Vec<SignatureCheck<'_>> = checks_owned
        .iter()
        .zip(&triples)
        .map(|((key, signature), t)| SignatureCheck { message: &t.message, signature: *signature, key: *key })
        .collect();
    group.bench_function("batch_equation", |b| {
        b.iter(|| {
            let verdicts = signature::verify_batch(black_box(&checks));
            assert!(verdicts.iter().all(|ok| *ok), "the batch verifies");
        })
    });
    group.finish();

    // Where the non-crypto time of a single `verify` goes: the main stages, each over every
    // version on one thread (not a full decomposition: `pack.json` parsing, identity checks, key
    // lookup and the embedded-signature comparison are left out). `json_value_parse` is the bare
    // `serde_json::Value` parse of the served manifests, the floor under `version_manifest_parse`.
    let mut stages = criterion.benchmark_group("verify_stages");
    stages.sampling_mode(SamplingMode::Flat);
    stages.sample_size(20);
    stages.throughput(Throughput::Elements(versions.len() as u64));
    stages.bench_function("json_value_parse", |b| {
        b.iter(|| {
            for v in black_box(&versions) {
                black_box(serde_json::from_slice::<Value>(&v.manifest).expect("manifest is JSON"));
            }
        })
    });
    stages.bench_function("version_manifest_parse", |b| {
        b.iter(|| {
            for v in black_box(&versions) {
                black_box(VersionManifest::parse(&v.manifest).expect("manifest parses"));
            }
        })
    });
    stages.bench_function("integrity_sha256", |b| {
        b.iter(|| {
            for v in black_box(&versions) {
                black_box(Integrity::of(&v.tarball));
            }
        })
    });
    let limits = TarLimits::default();
    stages.bench_function("read_pack", |b| {
        b.iter(|| {
            for v in black_box(&versions) {
                black_box(read_pack(&v.tarball, &limits).expect("tarball reads"));
            }
        })
    });
    stages.finish();
    criterion.final_summary();
}

//! The lockfile: deterministic bytes, schema validity, parsing.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use pack_cli::lockfile::{LockMeta, LockedSignature, Lockfile};
use pack_cli::resolve::Resolution;
use serde_json::Value;

use crate::support::*;

const A: &str = "vendor.acme.a";
const B: &str = "vendor.acme.b";
const C: &str = "vendor.acme.c";
const NOW: &str = "2026-11-25T10:00:00Z";

fn index(reversed: bool) -> MemIndex {
    type Entry<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let mut entries: Vec<Entry> = vec![
        (A, "1.0.0", vec![(C, "^1"), (B, "^2")]),
        (A, "1.1.0", vec![(C, "^1"), (B, "^2")]),
        (B, "2.0.0", vec![(C, "~1.2")]),
        (B, "2.1.0", vec![(C, "~1.2")]),
        (C, "1.2.0", vec![]),
        (C, "1.2.7", vec![]),
        (C, "1.3.0", vec![]),
    ];
    if reversed {
        entries.reverse();
    }
    let mut index = MemIndex::new();
    for (name, version, deps) in entries {
        let candidate = index.add(name, version, &deps);
        if name == C {
            candidate.peer_dependencies.insert("host.aiEnvelope".into(), "supported".into());
        }
    }
    index
}

fn resolution(reversed: bool) -> Resolution {
    let roots: &[(&str, &str)] = if reversed { &[(B, "^2"), (A, "^1")] } else { &[(A, "^1"), (B, "^2")] };
    solve(&index(reversed), &request(roots))
}

fn meta() -> LockMeta {
    LockMeta {
        generated_at: NOW.into(),
        registry: Some(REGISTRY.into()),
        fallback_registries: vec!["https://mirror.example.test".into()],
        overrides: BTreeMap::from([(C.to_string(), v("1.2.7"))]),
        signatures: BTreeMap::from([(
            B.to_string(),
            LockedSignature {
                algorithm: "ed25519".into(),
                public_key: "MCowBQYDK2VwAyEAabc=".into(),
                value: "c2lnbmF0dXJl".into(),
            },
        )]),
    }
}

#[test]
fn bytes_are_identical_across_runs_and_insertion_orders() {
    let first = Lockfile::from_resolution(&resolution(false), meta()).to_bytes();
    let second = Lockfile::from_resolution(&resolution(false), meta()).to_bytes();
    let reordered = Lockfile::from_resolution(&resolution(true), meta()).to_bytes();
    assert_eq!(first, second);
    assert_eq!(first, reordered);

    let mut shuffled = Lockfile::from_resolution(&resolution(false), meta());
    shuffled.packs.reverse();
    assert_eq!(shuffled.to_bytes(), first);

    let text = String::from_utf8(first.clone()).unwrap();
    eprintln!("{text}");
    assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
    assert!(text.starts_with("{\n  \"fallbackRegistries\": [\n    \"https://mirror.example.test\"\n  ],\n"), "{text}");
    // Packs sorted by name, exact dependency versions, signature only where supplied.
    let doc: Value = serde_json::from_slice(&first).unwrap();
    let names: Vec<&str> = doc["packs"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec![A, B, C]);
    assert_eq!(doc["packs"][0]["dependencies"], serde_json::json!({B: "2.1.0", C: "1.2.7"}));
    assert_eq!(doc["packs"][0]["resolved"], format!("{REGISTRY}/v1/packs/{A}/-/1.1.0.tgz"));
    assert!(doc["packs"][0].get("signature").is_none());
    assert_eq!(doc["packs"][1]["signature"]["algorithm"], "ed25519");
    assert_eq!(doc["packs"][2]["peerDependencies"]["host.aiEnvelope"], "supported");

    // Round trip.
    let parsed = Lockfile::parse(&first).unwrap();
    assert_eq!(parsed.to_bytes(), first);
    assert_eq!(parsed.pins().get(C), Some(&v("1.2.7")));
}

#[test]
fn generated_at_is_kept_when_nothing_changed() {
    let previous = Lockfile::from_resolution(&resolution(false), meta());
    let mut next = Lockfile::from_resolution(
        &resolution(false),
        LockMeta { generated_at: "2026-12-01T00:00:00Z".into(), ..meta() },
    );
    next.keep_generated_at(&previous);
    assert_eq!(next.to_bytes(), previous.to_bytes());

    let mut changed = Lockfile::from_resolution(
        &resolution(false),
        LockMeta { generated_at: "2026-12-01T00:00:00Z".into(), registry: None, ..meta() },
    );
    changed.keep_generated_at(&previous);
    assert_eq!(changed.generated_at, "2026-12-01T00:00:00Z");
}

/// The document's shape as the schema states it, checked in Rust so it always runs.
fn check_shape(doc: &Value) {
    let top = doc.as_object().unwrap();
    for key in top.keys() {
        assert!(
            ["lockfileVersion", "generatedAt", "registry", "packs", "overrides", "fallbackRegistries"]
                .contains(&key.as_str()),
            "unexpected top-level key {key}"
        );
    }
    for key in ["lockfileVersion", "generatedAt", "packs"] {
        assert!(top.contains_key(key), "missing {key}");
    }
    for pack in doc["packs"].as_array().unwrap() {
        let pack = pack.as_object().unwrap();
        for key in pack.keys() {
            assert!(
                ["name", "version", "resolved", "integrity", "signature", "dependencies", "peerDependencies"]
                    .contains(&key.as_str()),
                "unexpected pack key {key}"
            );
        }
        let integrity = pack["integrity"].as_str().unwrap();
        assert!(integrity.starts_with("sha256-") && integrity.len() == 51 && integrity.ends_with('='), "{integrity}");
    }
}

#[test]
fn lockfile_validates_against_the_schema() {
    let bytes = Lockfile::from_resolution(&resolution(false), meta()).to_bytes();
    let empty = Lockfile::from_resolution(
        &Resolution { packages: BTreeMap::new(), warnings: vec![] },
        LockMeta { generated_at: NOW.into(), ..LockMeta::default() },
    )
    .to_bytes();
    for doc in [&bytes, &empty] {
        check_shape(&serde_json::from_slice(doc).unwrap());
    }

    let Ok(fixtures) = std::env::var("OPENWOP_FIXTURES") else {
        eprintln!(
            "SKIPPED schema validation with python jsonschema: OPENWOP_FIXTURES is not set (point it at ../shared/fixtures)"
        );
        return;
    };
    let schema = format!("{fixtures}/openwop-schemas/pack-lockfile.schema.json");
    let probe = Command::new("python3").args(["-c", "import jsonschema"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED schema validation: python3 with the jsonschema module is not available");
        return;
    }
    let script = "import json,sys,jsonschema\n\
        schema=json.load(open(sys.argv[1]))\n\
        doc=json.load(sys.stdin)\n\
        jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(doc)\n";
    for doc in [&bytes, &empty] {
        let mut child = Command::new("python3")
            .args(["-c", script, &schema])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(doc).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "schema validation failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
}

fn parse_error(text: &str) -> (String, String) {
    let err = Lockfile::parse(text.as_bytes()).unwrap_err();
    assert_eq!(err.code(), "pack_lockfile_invalid");
    (err.path, err.message)
}

#[test]
fn parse_is_lenient_on_unknown_fields_and_strict_on_known_ones() {
    let good = r#"{"lockfileVersion":1,"generatedAt":"2026-05-12T18:00:00Z","futureField":{"x":1},
        "packs":[{"name":"vendor.acme.a","version":"1.0.0","integrity":"sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                  "dependencies":{"vendor.acme.c":"1.2.0"}}]}"#;
    let lock = Lockfile::parse(good.as_bytes()).unwrap();
    assert_eq!(lock.packs[0].dependencies["vendor.acme.c"], v("1.2.0"));

    let pack = |fields: &str| {
        format!(r#"{{"lockfileVersion":1,"generatedAt":"2026-05-12T18:00:00Z","packs":[{{{fields}}}]}}"#)
    };
    let ok_integrity = r#""integrity":"sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=""#;
    let cases = [
        ("not json".to_string(), "$"),
        ("[]".to_string(), "$"),
        (r#"{"generatedAt":"2026-05-12T18:00:00Z","packs":[]}"#.to_string(), "lockfileVersion"),
        (r#"{"lockfileVersion":2,"generatedAt":"2026-05-12T18:00:00Z","packs":[]}"#.to_string(), "lockfileVersion"),
        (r#"{"lockfileVersion":1,"generatedAt":"yesterday","packs":[]}"#.to_string(), "generatedAt"),
        (r#"{"lockfileVersion":1,"generatedAt":"2026-05-12T18:00:00Z"}"#.to_string(), "packs"),
        (r#"{"lockfileVersion":1,"generatedAt":"2026-05-12T18:00:00Z","packs":[],"overrides":{"vendor.acme.c":"^1"}}"#.to_string(), "overrides.vendor.acme.c"),
        (pack(r#""name":"vendor.acme.a","version":"1.0.0","integrity":"sha256-short=""#), "packs[0].integrity"),
        (pack(&format!(r#""name":"vendor.acme.a",{ok_integrity}"#)), "packs[0].version"),
        (pack(&format!(r#""name":"vendor.acme.a","version":"^1.0.0",{ok_integrity}"#)), "packs[0].version"),
        (pack(&format!(r#""name":"Not A Name","version":"1.0.0",{ok_integrity}"#)), "packs[0].name"),
        (pack(&format!(r#""name":"vendor.acme.a","version":"1.0.0",{ok_integrity},"dependencies":{{"vendor.acme.c":"~1"}}"#)), "packs[0].dependencies.vendor.acme.c"),
        (pack(&format!(r#""name":"vendor.acme.a","version":"1.0.0",{ok_integrity},"signature":{{"algorithm":"rsa","publicKey":"k","value":"s"}}"#)), "packs[0].signature.algorithm"),
        (pack(&format!(r#""name":"vendor.acme.a","version":"1.0.0",{ok_integrity},"resolved":"not a url""#)), "packs[0].resolved"),
    ];
    for (text, path) in cases {
        let (at, message) = parse_error(&text);
        assert_eq!(at, path, "{text}: {message}");
    }
    let twice = format!(
        r#"{{"lockfileVersion":1,"generatedAt":"2026-05-12T18:00:00Z","packs":[{{"name":"vendor.acme.a","version":"1.0.0",{ok_integrity}}},{{"name":"vendor.acme.a","version":"1.1.0",{ok_integrity}}}]}}"#
    );
    assert_eq!(parse_error(&twice).0, "packs[1].name");
}

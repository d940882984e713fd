//! Manifest parsing and the canonical-JSON writer on arbitrary bytes.
//!
//! `VersionManifest::parse` and `PackJson::parse` must never panic, and what they read must not
//! depend on formatting: the canonical form of an accepted document reads the same. For every
//! input that is JSON, the canonical form must re-parse to the same document and be a fixed
//! point: canonicalising the re-parsed document gives the same bytes again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pack_verify::canonical::{to_canonical_pretty, to_canonical_string};
use pack_verify::manifest::{PackJson, VersionManifest};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let manifest = VersionManifest::parse(data);
    if let Ok(m) = &manifest {
        // What the verifier relies on after a successful parse.
        let _ = m.integrity.to_string();
    }
    let pack = PackJson::parse(data);

    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    let canonical = to_canonical_string(&value);
    // A document accepted once reads the same in canonical form (the reverse need not hold: the
    // raw bytes may repeat a field, which parse refuses and a `Value` silently collapses).
    if let Ok(m) = &manifest {
        assert_eq!(VersionManifest::parse(canonical.as_bytes()).as_ref(), Ok(m), "formatting changed the manifest");
    }
    if let Ok(p) = &pack {
        assert_eq!(PackJson::parse(canonical.as_bytes()).as_ref(), Ok(p), "formatting changed pack.json");
        // Where the bytes are a `Value` too (serde skips some numbers and escapes a `Value`
        // refuses), the whole-document reading agrees.
        let (again, document) = PackJson::parse_document(data).expect("parse_document accepts what parse accepted");
        assert_eq!(&again, p, "parse and parse_document disagree");
        assert!(document.is_object(), "PackJson accepted a non-object");
    }
    assert_eq!(canonical, to_canonical_string(&value), "canonical output is not deterministic");
    let reparsed: Value = serde_json::from_str(&canonical)
        .unwrap_or_else(|e| panic!("canonical output is not JSON ({e}): {canonical:?}"));
    assert!(same_document(&value, &reparsed), "canonical output changes the document: {canonical:?}");
    assert_eq!(to_canonical_string(&reparsed), canonical, "canonicalising twice is not idempotent");
    assert!(!canonical.contains(['\n', '\r']), "canonical output contains a raw line break");

    // The pretty form shares key order and escaping; it must re-parse to the same document too.
    let pretty = to_canonical_pretty(&value);
    let reparsed: Value = serde_json::from_str(&pretty)
        .unwrap_or_else(|e| panic!("canonical pretty output is not JSON ({e}): {pretty:?}"));
    assert!(same_document(&value, &reparsed), "canonical pretty output changes the document: {pretty:?}");
});

/// Structural equality where numbers compare as IEEE doubles, which is what canonical JSON
/// (RFC 8785 / `JSON.stringify`) means by a number: `1.0` is written `1` and an integer beyond
/// 2^53 is written as its nearest double, so `serde_json::Value`'s own `==` (which tells `1`
/// from `1.0`) is the wrong test. Everything else must be exactly equal.
fn same_document(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_document(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_document(v, w)))
        }
        _ => a == b,
    }
}

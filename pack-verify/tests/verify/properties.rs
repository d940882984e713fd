//! Property tests: the tar reader never panics and only ever returns safe names; canonical JSON
//! is a fixed point and round-trips.

use pack_verify::canonical::{to_canonical_pretty, to_canonical_string};
use pack_verify::tarball::{PackFile, read_pack, write_pack};
use pack_verify::{PackArchive, TarLimits};
use proptest::prelude::*;
use serde_json::Value;

fn small_limits() -> TarLimits {
    TarLimits {
        max_compressed: 1 << 20,
        max_uncompressed: 4 << 20,
        max_file: 1 << 20,
        max_entries: 64,
        max_manifest: 64 << 10,
    }
}

fn assert_safe(archive: &PackArchive) {
    let mut seen = std::collections::HashSet::new();
    for f in archive.files() {
        assert!(!f.path.starts_with('/') && !f.path.split('/').any(|c| c == ".." || c.is_empty()), "{}", f.path);
        assert!(seen.insert(f.path.to_lowercase()), "duplicate {}", f.path);
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn reader_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        if let Ok(archive) = read_pack(&bytes, &small_limits()) {
            assert_safe(&archive);
        }
    }

    #[test]
    fn reader_survives_mutated_real_tarballs(
        names in prop::collection::btree_set("[a-z]{1,8}(/[a-z]{1,8})?\\.json", 1..6),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut files: Vec<PackFile> = names.iter().map(|n| PackFile { path: n.clone(), data: n.as_bytes().to_vec() }).collect();
        files.push(PackFile { path: "pack.json".into(), data: b"{}".to_vec() });
        let good = write_pack(&files).expect("valid names build");
        let read = read_pack(&good, &small_limits()).expect("own output reads");
        prop_assert_eq!(read.files().len(), files.len());
        let mut bad = good.clone();
        for (idx, byte) in flips {
            let i = idx.index(bad.len());
            bad[i] ^= byte | 1;
        }
        if let Ok(archive) = read_pack(&bad, &small_limits()) {
            assert_safe(&archive);
        }
    }

    #[test]
    fn writer_output_reads_back_identically(
        entries in prop::collection::btree_map("[a-zA-Z0-9_-]{1,20}(/[a-z0-9]{1,10})?", prop::collection::vec(any::<u8>(), 0..300), 0..8)
    ) {
        let mut files: Vec<PackFile> = entries.iter().map(|(p, d)| PackFile { path: p.clone(), data: d.clone() }).collect();
        let lowered: std::collections::HashSet<_> = files.iter().map(|f| f.path.to_lowercase()).collect();
        prop_assume!(lowered.len() == files.len() && !files.iter().any(|f| f.path == "pack.json"));
        files.push(PackFile { path: "pack.json".into(), data: b"{}".to_vec() });
        let tgz = write_pack(&files).expect("builds");
        prop_assert_eq!(write_pack(&files).expect("builds"), tgz.clone());
        let read = read_pack(&tgz, &small_limits()).expect("reads");
        let mut want = files.clone();
        want.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        prop_assert_eq!(read.files(), want.as_slice());
    }

    #[test]
    fn canonical_json_round_trips_and_is_a_fixed_point(v in json_value()) {
        let once = to_canonical_string(&v);
        let parsed: Value = serde_json::from_str(&once).expect("canonical output parses");
        prop_assert_eq!(to_canonical_string(&parsed), once.clone());
        let pretty: Value = serde_json::from_str(&to_canonical_pretty(&v)).expect("pretty parses");
        prop_assert_eq!(to_canonical_string(&pretty), once.clone());
        prop_assert!(!once.contains('\n'));
    }
}

//! Shared by the tar targets: the small limits the fuzzer runs under and the invariants every
//! accepted archive must satisfy.

use std::collections::HashSet;

use pack_verify::tarball::{PACK_JSON, TarLimits};
use pack_verify::{PackArchive, VerifyError};

/// Limits small enough that every limit path is reachable from a fuzz input of a few KB.
pub fn small_limits() -> TarLimits {
    TarLimits {
        max_compressed: 256 * 1024,
        max_uncompressed: 1024 * 1024,
        max_file: 64 * 1024,
        max_entries: 64,
        max_manifest: 16 * 1024,
    }
}

/// Reads `tgz` under [`small_limits`] and, when it is accepted, checks what the reader promises.
/// The reader that keeps only `pack.json` must reach the same verdict: the same error code, or
/// the same `pack.json` bytes and nothing else.
pub fn read_and_check(tgz: &[u8]) {
    let limits = small_limits();
    let whole = pack_verify::tarball::read_pack(tgz, &limits);
    match &whole {
        Ok(archive) => check_archive(archive, &limits),
        Err(e) => check_error(e),
    }
    let kept = pack_verify::tarball::read_pack_keeping(tgz, &limits, &|path| path == PACK_JSON);
    match (&whole, &kept) {
        (Ok(archive), Ok(part)) => {
            assert_eq!(part.pack_json(), archive.pack_json(), "the partial reader's pack.json differs");
            assert_eq!(part.files().len(), 1, "the partial reader kept more than pack.json");
        }
        (Err(a), Err(b)) => assert_eq!(a.code(), b.code(), "the partial reader refuses differently"),
        _ => panic!("the partial reader disagrees: {:?} vs {:?}", whole.is_ok(), kept.is_ok()),
    }
}

/// Every error must carry a stable code and a message; formatting it must not panic.
fn check_error(e: &VerifyError) {
    assert!(!e.code().is_empty(), "error without a code: {e:?}");
    let _ = e.to_string();
}

fn check_archive(archive: &PackArchive, limits: &TarLimits) {
    let files = archive.files();
    assert!(!files.is_empty(), "accepted archive without files");
    assert!(files.len() <= limits.max_entries, "more files than max_entries");
    let mut seen = HashSet::new();
    let mut lowercase = HashSet::new();
    let mut total = 0u64;
    for file in files {
        let p = file.path.as_str();
        assert!(!p.is_empty(), "empty path accepted");
        assert!(!p.starts_with('/'), "absolute path accepted: {p:?}");
        assert!(!p.starts_with("./"), "path not normalised: {p:?}");
        assert!(!p.ends_with('/'), "path not normalised: {p:?}");
        for component in p.split('/') {
            assert!(component != "..", "traversal accepted: {p:?}");
            assert!(!component.is_empty() && component != ".", "empty or `.` component accepted: {p:?}");
            assert!(!component.contains('\\') && !component.contains('\0'), "bad character accepted: {p:?}");
            assert!(!(component.len() == 2 && component.ends_with(':')), "drive letter accepted: {p:?}");
        }
        assert!(seen.insert(p), "duplicate path accepted: {p:?}");
        assert!(lowercase.insert(p.to_lowercase()), "case collision accepted: {p:?}");
        assert!(file.data.len() as u64 <= limits.max_file, "file over max_file accepted: {p:?}");
        total += file.data.len() as u64;
        assert_eq!(archive.get(p), Some(file.data.as_slice()), "get() disagrees with files()");
    }
    assert!(total <= limits.max_uncompressed, "more data than max_uncompressed accepted");
    let manifest = archive.get(PACK_JSON).expect("accepted archive has pack.json");
    assert_eq!(manifest, archive.pack_json(), "pack_json() is not the pack.json entry");
    assert!(manifest.len() as u64 <= limits.max_manifest, "pack.json over max_manifest accepted");
}

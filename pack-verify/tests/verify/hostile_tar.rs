//! A hostile-tarball corpus generated here (nothing binary is checked in): each kind of entry a
//! pack never needs is refused with its own code.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use pack_verify::TarLimits;
use pack_verify::corpus::{RawEntry, gzip, hostile_tarballs, tar_bytes};
use pack_verify::tarball::read_pack;
use tar::EntryType;

const PACK_JSON: &[u8] = br#"{"name":"core.test.x","version":"1.0.0"}"#;

fn entry(name: &[u8], data: &[u8]) -> RawEntry {
    RawEntry::file(name, data)
}

fn raw(name: &[u8], kind: EntryType, data: &[u8], link: &[u8]) -> RawEntry {
    RawEntry::special(name, kind, data, link)
}

fn code_of(tgz: &[u8]) -> &'static str {
    code_with(tgz, &TarLimits::default())
}

fn code_with(tgz: &[u8], limits: &TarLimits) -> &'static str {
    match read_pack(tgz, limits) {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

fn with_pack_json(mut entries: Vec<RawEntry>) -> Vec<u8> {
    entries.insert(0, entry(b"pack.json", PACK_JSON));
    gzip(&tar_bytes(&entries))
}

#[test]
fn a_plain_pack_reads() {
    assert_eq!(code_of(&with_pack_json(vec![entry(b"schemas/a.json", b"{}")])), "ok");
}

#[test]
fn legacy_layout_with_dot_prefix_and_directories_reads() {
    let tgz = gzip(&tar_bytes(&[
        raw(b"./", EntryType::Directory, b"", b""),
        raw(b"./schemas/", EntryType::Directory, b"", b""),
        entry(b"./pack.json", PACK_JSON),
        entry(b"./schemas/a.json", b"{}"),
    ]));
    let archive = read_pack(&tgz, &TarLimits::default()).expect("legacy layout reads");
    let names: Vec<&str> = archive.files().iter().map(|f| f.path.as_str()).collect();
    assert_eq!(names, ["pack.json", "schemas/a.json"]);
}

#[test]
fn each_hostile_entry_kind_has_its_code() {
    let cases: Vec<(&str, Vec<RawEntry>)> = vec![
        ("tarball_path_traversal", vec![entry(b"../evil.sh", b"x")]),
        ("tarball_path_traversal", vec![entry(b"schemas/../../evil", b"x")]),
        ("tarball_absolute_path", vec![entry(b"/etc/cron.d/evil", b"x")]),
        ("tarball_symlink", vec![raw(b"link", EntryType::Symlink, b"", b"/etc/passwd")]),
        ("tarball_hardlink", vec![raw(b"hard", EntryType::Link, b"", b"pack.json")]),
        ("tarball_device", vec![raw(b"dev", EntryType::Char, b"", b"")]),
        ("tarball_device", vec![raw(b"blk", EntryType::Block, b"", b"")]),
        ("tarball_fifo", vec![raw(b"fifo", EntryType::Fifo, b"", b"")]),
        (
            "tarball_extended_header",
            vec![raw(b"././@PaxHeader", EntryType::XHeader, b"30 path=aaaaaaaaaaaaaaaaaaaaa\n", b"")],
        ),
        ("tarball_extended_header", vec![raw(b"././@LongLink", EntryType::GNULongName, b"x/../../evil\0", b"")]),
        ("tarball_extended_header", vec![raw(b"g", EntryType::XGlobalHeader, b"", b"")]),
        ("tarball_unsupported_entry", vec![raw(b"sparse", EntryType::GNUSparse, b"", b"")]),
        ("tarball_duplicate_entry", vec![entry(b"a.txt", b"1"), entry(b"a.txt", b"2")]),
        ("tarball_duplicate_entry", vec![entry(b"./pack.json", b"{}")]),
        ("tarball_case_collision", vec![entry(b"README.md", b"1"), entry(b"readme.md", b"2")]),
        ("tarball_name_not_utf8", vec![entry(b"bad\xff\xfe.txt", b"x")]),
        ("tarball_bad_name", vec![entry(b"a//b", b"x")]),
        ("tarball_bad_name", vec![entry(b"a\\..\\b", b"x")]),
    ];
    for (want, entries) in cases {
        let name = String::from_utf8_lossy(&entries[0].name).to_string();
        assert_eq!(code_of(&with_pack_json(entries)), want, "entry {name:?}");
    }
}

#[test]
fn gzip_bomb_is_bounded() {
    // 64 MiB of zeros compresses to ~64 KB: the contract's own probe.
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        gz.write_all(&zeros).expect("write");
    }
    let bomb = gz.finish().expect("finish");
    assert!(bomb.len() < 200_000);
    assert_eq!(code_of(&bomb), "tarball_too_large");
    // And a bomb hidden inside a file entry trips the per-file limit before anything is read.
    let limits = TarLimits { max_file: 1024, ..TarLimits::default() };
    assert_eq!(code_with(&with_pack_json(vec![entry(b"big.bin", &[7u8; 4096])]), &limits), "tarball_file_too_large");
}

#[test]
fn size_and_count_limits_have_codes() {
    let limits = TarLimits { max_manifest: 10, ..TarLimits::default() };
    assert_eq!(code_with(&with_pack_json(vec![]), &limits), "tarball_manifest_too_large");
    let limits = TarLimits { max_entries: 2, ..TarLimits::default() };
    assert_eq!(
        code_with(&with_pack_json(vec![entry(b"a", b""), entry(b"b", b"")]), &limits),
        "tarball_too_many_entries"
    );
    let limits = TarLimits { max_compressed: 16, ..TarLimits::default() };
    assert_eq!(code_with(&with_pack_json(vec![]), &limits), "payload_too_large");
}

#[test]
fn broken_streams_have_codes() {
    let good = with_pack_json(vec![entry(b"schemas/a.json", b"{}")]);
    assert_eq!(code_of(b"not a gzip stream"), "tarball_gunzip_failed");
    // The contract's probe: a gzip header followed by garbage.
    assert_eq!(code_of(&[0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 0x01, 0x02]), "tarball_gunzip_failed");
    assert_eq!(code_of(&good[..good.len() - 12]), "tarball_gunzip_failed", "truncated gzip");
    let mut crc = good.clone();
    let n = crc.len();
    crc[n - 6] ^= 0xff; // CRC32 in the gzip trailer
    assert_eq!(code_of(&crc), "tarball_gunzip_failed");
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"smuggled");
    assert_eq!(code_of(&trailing), "tarball_trailing_data", "bytes after the gzip member");
    let mut tar = tar_bytes(&[entry(b"pack.json", PACK_JSON)]);
    tar.extend_from_slice(b"hidden payload after end-of-archive");
    tar.resize(tar.len().div_ceil(512) * 512, 0);
    assert_eq!(code_of(&gzip(&tar)), "tarball_trailing_data", "data after the tar end marker");
    let mut bad_header = tar_bytes(&[entry(b"pack.json", PACK_JSON)]);
    bad_header[148] ^= 0x05; // checksum field
    assert_eq!(code_of(&gzip(&bad_header)), "tarball_tar_parse_failed");
    assert_eq!(code_of(&gzip(&tar_bytes(&[entry(b"x.txt", b"1")]))), "tarball_manifest_missing");
    assert_eq!(code_of(&gzip(&[])), "tarball_manifest_missing", "empty archive");
}

#[test]
fn zero_padding_after_the_end_marker_is_fine() {
    let mut tar = tar_bytes(&[entry(b"pack.json", PACK_JSON)]);
    tar.resize(10240, 0); // the record padding many tar writers add
    assert_eq!(code_of(&gzip(&tar)), "ok");
}

#[test]
fn the_shared_corpus_is_refused_with_each_code() {
    let cases = hostile_tarballs(PACK_JSON, &[7u8; 64]);
    assert!(cases.len() >= 18);
    for case in cases {
        assert_eq!(code_of(&case.tgz), case.code, "{}", case.label);
    }
}

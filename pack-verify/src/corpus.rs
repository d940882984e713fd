//! A hostile-tarball corpus, generated (nothing binary is checked in), for the tests of every
//! component that reads pack bytes: the verifier, publish and install must each refuse every
//! case with the case's code. Behind the `corpus` feature; hosts never need it.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use tar::{EntryType, Header};

/// One raw tar entry. The name bytes go straight into the ustar name field, bypassing the tar
/// crate's own path checks, which is how an attacker would write them.
#[derive(Debug, Clone)]
pub struct RawEntry {
    /// Name field bytes.
    pub name: Vec<u8>,
    /// Entry type.
    pub kind: EntryType,
    /// Contents.
    pub data: Vec<u8>,
    /// Link name field bytes.
    pub link: Vec<u8>,
}

impl RawEntry {
    /// A regular file.
    pub fn file(name: &[u8], data: &[u8]) -> Self {
        Self { name: name.to_vec(), kind: EntryType::Regular, data: data.to_vec(), link: Vec::new() }
    }

    /// An entry of another type.
    pub fn special(name: &[u8], kind: EntryType, data: &[u8], link: &[u8]) -> Self {
        Self { name: name.to_vec(), kind, data: data.to_vec(), link: link.to_vec() }
    }
}

/// An uncompressed tar of `entries`, with the end-of-archive marker.
pub fn tar_bytes(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = Header::new_ustar();
        {
            let old = h.as_old_mut();
            let n = e.name.len().min(old.name.len());
            old.name[..n].copy_from_slice(&e.name[..n]);
            let l = e.link.len().min(old.linkname.len());
            old.linkname[..l].copy_from_slice(&e.link[..l]);
        }
        h.set_mode(0o644);
        h.set_size(e.data.len() as u64);
        h.set_entry_type(e.kind);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&e.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Gzip of `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(bytes);
    gz.finish().unwrap_or_default()
}

/// One hostile tarball and the code every reader must refuse it with.
#[derive(Debug, Clone)]
pub struct HostileCase {
    /// What the case is.
    pub label: &'static str,
    /// The contract code it must be refused with.
    pub code: &'static str,
    /// The `.tgz` bytes.
    pub tgz: Vec<u8>,
}

/// The corpus, built around a real `pack.json` and its embedded signature so that only the
/// hostile part can be the reason for a refusal.
pub fn hostile_tarballs(pack_json: &[u8], embedded_signature: &[u8]) -> Vec<HostileCase> {
    let base =
        || vec![RawEntry::file(b"pack.json", pack_json), RawEntry::file(b"keys/pack.json.sig", embedded_signature)];
    let with = |extra: Vec<RawEntry>| {
        let mut entries = base();
        entries.extend(extra);
        gzip(&tar_bytes(&entries))
    };
    let mut cases = vec![
        ("path traversal", "tarball_path_traversal", with(vec![RawEntry::file(b"../evil.sh", b"x")])),
        ("nested traversal", "tarball_path_traversal", with(vec![RawEntry::file(b"schemas/../../evil", b"x")])),
        ("absolute path", "tarball_absolute_path", with(vec![RawEntry::file(b"/etc/cron.d/evil", b"x")])),
        ("symlink", "tarball_symlink", with(vec![RawEntry::special(b"link", EntryType::Symlink, b"", b"/etc/passwd")])),
        ("hardlink", "tarball_hardlink", with(vec![RawEntry::special(b"hard", EntryType::Link, b"", b"pack.json")])),
        ("char device", "tarball_device", with(vec![RawEntry::special(b"dev", EntryType::Char, b"", b"")])),
        ("fifo", "tarball_fifo", with(vec![RawEntry::special(b"fifo", EntryType::Fifo, b"", b"")])),
        (
            "PAX header",
            "tarball_extended_header",
            with(vec![RawEntry::special(
                b"././@PaxHeader",
                EntryType::XHeader,
                b"30 path=aaaaaaaaaaaaaaaaaaaaa\n",
                b"",
            )]),
        ),
        (
            "GNU long name",
            "tarball_extended_header",
            with(vec![RawEntry::special(b"././@LongLink", EntryType::GNULongName, b"x/../../evil\0", b"")]),
        ),
        (
            "duplicate name",
            "tarball_duplicate_entry",
            with(vec![RawEntry::file(b"a.txt", b"1"), RawEntry::file(b"a.txt", b"2")]),
        ),
        ("dot-slash duplicate", "tarball_duplicate_entry", with(vec![RawEntry::file(b"./pack.json", b"{}")])),
        (
            "case collision",
            "tarball_case_collision",
            with(vec![RawEntry::file(b"README.md", b"1"), RawEntry::file(b"readme.md", b"2")]),
        ),
        ("non-UTF-8 name", "tarball_name_not_utf8", with(vec![RawEntry::file(b"bad\xff\xfe.txt", b"x")])),
    ];
    // 64 MiB of zeros in ~64 KB: the contract's gzip-bomb probe.
    let mut bomb = GzEncoder::new(Vec::new(), Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        let _ = bomb.write_all(&zeros);
    }
    cases.push(("gzip bomb", "tarball_too_large", bomb.finish().unwrap_or_default()));
    let good = with(vec![RawEntry::file(b"README.md", b"readme")]);
    cases.push(("truncated gzip", "tarball_gunzip_failed", good[..good.len() - 12].to_vec()));
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"smuggled");
    cases.push(("bytes after the gzip member", "tarball_trailing_data", trailing));
    let mut tar = tar_bytes(&base());
    tar.extend_from_slice(b"hidden payload after end-of-archive");
    tar.resize(tar.len().div_ceil(512) * 512, 0);
    cases.push(("data after the tar end marker", "tarball_trailing_data", gzip(&tar)));
    let mut big = b"{\"pad\":\"".to_vec();
    big.resize(300 * 1024, b'a');
    big.extend_from_slice(b"\"}");
    cases.push((
        "oversized pack.json",
        "tarball_manifest_too_large",
        gzip(&tar_bytes(&[RawEntry::file(b"pack.json", &big)])),
    ));
    cases.into_iter().map(|(label, code, tgz)| HostileCase { label, code, tgz }).collect()
}

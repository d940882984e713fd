//! The project's one tar reader (streaming, bounded, refusing hostile entries) and the
//! deterministic writer that produces the reference layout.
//!
//! Reading accepts both layouts found in the real registry: the deterministic one (regular files
//! only, sorted, no `./`) and the legacy `tar -czf … -C dir .` one (`./` prefixes, directory
//! entries). Everything else a pack never needs is refused with its own code: links, devices,
//! FIFOs, PAX and GNU long-name headers, absolute or `..` paths, duplicates, case collisions,
//! non-UTF-8 names, and anything past the end of the archive.

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::rc::Rc;

use tar::EntryType;

use crate::error::VerifyError;

/// Name of the manifest at the archive root.
pub const PACK_JSON: &str = "pack.json";
/// Where the `manual` convention embeds the signature over `pack.json`.
pub const EMBEDDED_SIGNATURE: &str = "keys/pack.json.sig";

/// Bounds applied while reading a tarball. Defaults follow the contract's recommendations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarLimits {
    /// Largest compressed tarball accepted (contract: 10 MB).
    pub max_compressed: u64,
    /// Largest total decompressed size, trailing padding included (contract: 50 MB).
    pub max_uncompressed: u64,
    /// Largest single file.
    pub max_file: u64,
    /// Most entries, directories included.
    pub max_entries: usize,
    /// Largest `pack.json` (contract: 256 KB).
    pub max_manifest: u64,
}

impl Default for TarLimits {
    fn default() -> Self {
        TarLimits {
            max_compressed: 10 * 1024 * 1024,
            max_uncompressed: 50 * 1024 * 1024,
            max_file: 10 * 1024 * 1024,
            max_entries: 4096,
            max_manifest: 256 * 1024,
        }
    }
}

/// One regular file of a pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackFile {
    /// Normalised relative path (`/`-separated, no `./`).
    pub path: String,
    /// File contents.
    pub data: Vec<u8>,
}

/// The regular files of a pack tarball, in archive order, after every safety check passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackArchive {
    files: Vec<PackFile>,
    manifest: usize,
}

impl PackArchive {
    /// The exact bytes of `pack.json` as stored (what the `manual` signature covers).
    pub fn pack_json(&self) -> &[u8] {
        &self.files[self.manifest].data
    }

    /// A file by normalised path.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.iter().find(|f| f.path == path).map(|f| f.data.as_slice())
    }

    /// All regular files in archive order.
    pub fn files(&self) -> &[PackFile] {
        &self.files
    }

    /// Consumes the archive, returning its files.
    pub fn into_files(self) -> Vec<PackFile> {
        self.files
    }

    /// Consumes the archive, returning the bytes of `pack.json` alone.
    pub fn into_pack_json(mut self) -> Vec<u8> {
        self.files.swap_remove(self.manifest).data
    }
}

/// Reads a pack from the bytes of a `.tgz`.
pub fn read_pack(tgz: &[u8], limits: &TarLimits) -> Result<PackArchive, VerifyError> {
    read_pack_keeping(tgz, limits, &|_| true)
}

/// [`read_pack`] that keeps the data of only the files `keep` names: every entry is still read
/// and checked by the same rules (names, types, sizes, duplicates, limits, trailing data), so
/// it accepts and refuses exactly what [`read_pack`] does (the `tar_reader` fuzz target checks
/// this), but the others' data is decoded and skipped rather than copied out. For a verdict
/// that needs `pack.json` and little else; `pack.json` must be among the kept files.
pub fn read_pack_keeping(
    tgz: &[u8],
    limits: &TarLimits,
    keep: &dyn Fn(&str) -> bool,
) -> Result<PackArchive, VerifyError> {
    if tgz.len() as u64 > limits.max_compressed {
        return Err(VerifyError::CompressedTooLarge { size: tgz.len() as u64, limit: limits.max_compressed });
    }
    pack_of(read_entries(tgz, true, limits, keep)?)
}

#[derive(Default)]
struct StreamState {
    compressed: u64,
    decompressed: u64,
    compressed_exceeded: bool,
    decompressed_exceeded: bool,
    gzip_error: Option<String>,
}

/// Counts the compressed bytes the decoder consumes and refuses past the limit. It is a
/// `BufRead` over a `BufRead`, so a pack already in memory is decoded straight from its slice
/// (no copy into a zeroed read buffer); a stream gets a `BufReader` under it.
struct CompressedSide<R> {
    inner: R,
    limit: u64,
    state: Rc<RefCell<StreamState>>,
}

impl<R: BufRead> BufRead for CompressedSide<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let consumed = self.state.borrow().compressed;
        if consumed > self.limit {
            self.state.borrow_mut().compressed_exceeded = true;
            return Err(io::Error::other("compressed size limit exceeded"));
        }
        // At most one byte past the limit can be consumed: enough to know it was exceeded.
        let room = usize::try_from(self.limit - consumed).map_or(usize::MAX, |r| r.saturating_add(1));
        let buffered = self.inner.fill_buf()?;
        Ok(&buffered[..buffered.len().min(room)])
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        let mut st = self.state.borrow_mut();
        st.compressed += n as u64;
        if st.compressed > self.limit {
            st.compressed_exceeded = true;
        }
    }
}

impl<R: BufRead> Read for CompressedSide<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, out)
    }
}

/// `Read::read` for a reader whose `BufRead` side does the work: copies what is buffered (after
/// filling, if nothing is) and consumes it. Both sides of the decoder read this way.
fn read_buffered(reader: &mut impl BufRead, out: &mut [u8]) -> io::Result<usize> {
    let available = reader.fill_buf()?;
    let n = out.len().min(available.len());
    out[..n].copy_from_slice(&available[..n]);
    reader.consume(n);
    Ok(n)
}

/// Sits between the gzip decoder and the tar parser: counts decompressed bytes against the
/// limit and remembers whether a failure came from gzip, so errors get the right code.
///
/// It also buffers: `tar` reads 512-byte headers, and an inflater asked for 512 bytes at a time
/// stays on its slow path (the fast one needs room for a whole match); with this buffer it
/// decodes [`DECODE_CHUNK`] bytes per call. Bytes decoded ahead are counted when decoded, so the
/// limit bounds what the decoder produced, never less.
struct DecompressedSide<R> {
    inner: R,
    limit: u64,
    state: Rc<RefCell<StreamState>>,
    /// Whether `inner` is a gzip decoder (so its failures are gzip failures).
    gzip: bool,
    /// Decoded bytes not yet handed to `tar`: `buf[pos..filled]`.
    buf: DecodeBuffer,
    pos: usize,
    filled: usize,
}

/// How many decompressed bytes [`DecompressedSide`] asks the decoder for at once.
const DECODE_CHUNK: usize = 32 * 1024;

thread_local! {
    /// The decode buffer of the last archive read on this thread, for the next one.
    static SPARE_DECODE_BUFFER: RefCell<Option<Box<[u8]>>> = const { RefCell::new(None) };
}

/// [`DecompressedSide`]'s buffer, reused across the archives one thread reads: zeroing a fresh
/// 32 KiB for each of a registry's archives was about 3 % of a walk's instructions (callgrind).
/// Only `buf[pos..filled]` of a reader is ever handed out, and both start at 0, so bytes left
/// from an earlier archive are never seen.
#[derive(Default)]
struct DecodeBuffer(Box<[u8]>);

impl DecodeBuffer {
    fn take() -> Self {
        let spare = SPARE_DECODE_BUFFER.try_with(|spare| spare.borrow_mut().take()).ok().flatten();
        DecodeBuffer(spare.unwrap_or_else(|| vec![0; DECODE_CHUNK].into()))
    }
}

impl Drop for DecodeBuffer {
    fn drop(&mut self) {
        if self.0.len() == DECODE_CHUNK {
            let buf = std::mem::take(&mut self.0);
            // A thread being torn down has no spare slot any more; the buffer is then just freed.
            let _ = SPARE_DECODE_BUFFER.try_with(|spare| *spare.borrow_mut() = Some(buf));
        }
    }
}

impl<R: Read> DecompressedSide<R> {
    fn new(inner: R, limit: u64, state: Rc<RefCell<StreamState>>, gzip: bool) -> Self {
        DecompressedSide { inner, limit, state, gzip, buf: DecodeBuffer::take(), pos: 0, filled: 0 }
    }

    /// One read from the decoder, counted against the limit.
    fn decode(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(out) {
            Ok(n) => n,
            Err(e) => {
                let mut st = self.state.borrow_mut();
                if self.gzip && !st.compressed_exceeded {
                    st.gzip_error = Some(e.to_string());
                }
                return Err(e);
            }
        };
        let mut st = self.state.borrow_mut();
        st.decompressed += n as u64;
        if st.decompressed > self.limit {
            st.decompressed_exceeded = true;
            return Err(io::Error::other("decompressed size limit exceeded"));
        }
        Ok(n)
    }
}

/// The decoding layer under the tar parser: gzip, or the plain bytes of an uncompressed tar.
enum Layer<R: BufRead> {
    /// Boxed: the decoder's state is a few hundred bytes, and the enum is made once per archive.
    Gzip(Box<flate2::bufread::GzDecoder<R>>),
    Plain(R),
}

impl<R: BufRead> Read for Layer<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Layer::Gzip(g) => g.read(buf),
            Layer::Plain(p) => p.read(buf),
        }
    }
}

impl<R: BufRead> Layer<R> {
    fn into_inner(self) -> R {
        match self {
            Layer::Gzip(g) => (*g).into_inner(),
            Layer::Plain(p) => p,
        }
    }
}

impl<R: Read> BufRead for DecompressedSide<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.filled {
            let mut buf = std::mem::take(&mut self.buf);
            let decoded = self.decode(&mut buf.0);
            self.buf = buf;
            // Only a successful decode replaces the buffered bytes: after an error nothing stale
            // is handed out again.
            self.filled = decoded?;
            self.pos = 0;
        }
        Ok(&self.buf.0[self.pos..self.filled])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.filled);
    }
}

impl<R: Read> Read for DecompressedSide<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // A read as large as the buffer gains nothing from it.
        if self.pos == self.filled && out.len() >= self.buf.0.len() {
            return self.decode(out);
        }
        read_buffered(self, out)
    }
}

/// Forward "seeks" only, by consuming decoded bytes (so the limits still count every byte). It
/// exists for `tar`'s skip to the next header, which on a plain reader zeroes a 32 KiB buffer for
/// every entry, padding or none: about a sixth of reading a pack.
impl<R: Read> Seek for DecompressedSide<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let SeekFrom::Current(forward) = pos else {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "a tar stream only skips forward"));
        };
        let mut left = u64::try_from(forward)
            .map_err(|_| io::Error::new(io::ErrorKind::Unsupported, "a tar stream only skips forward"))?;
        while left > 0 {
            let available = self.fill_buf()?.len();
            if available == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "unexpected EOF during skip"));
            }
            let n = usize::try_from(left).map_or(available, |l| l.min(available));
            self.consume(n);
            left -= n as u64;
        }
        // The position `tar` has reached: decoded, less what is still buffered.
        Ok(self.state.borrow().decompressed - (self.filled - self.pos) as u64)
    }
}

impl StreamState {
    /// Turns an I/O failure seen by the tar layer into the code for its real cause.
    fn classify(&self, limits: &TarLimits, tar_error: &io::Error) -> VerifyError {
        if self.compressed_exceeded {
            VerifyError::CompressedTooLarge { size: self.compressed, limit: limits.max_compressed }
        } else if self.decompressed_exceeded {
            VerifyError::TooLarge { limit: limits.max_uncompressed }
        } else if let Some(detail) = &self.gzip_error {
            VerifyError::GunzipFailed { detail: detail.clone() }
        } else {
            VerifyError::TarParseFailed { detail: tar_error.to_string() }
        }
    }
}

/// Reads a pack from any byte stream holding a `.tgz`, without seeking.
pub fn read_pack_from<R: Read>(reader: R, limits: &TarLimits) -> Result<PackArchive, VerifyError> {
    pack_of(read_entries(BufReader::new(reader), true, limits, &|_| true)?)
}

fn pack_of(files: Vec<PackFile>) -> Result<PackArchive, VerifyError> {
    let manifest = files.iter().position(|f| f.path == PACK_JSON).ok_or(VerifyError::ManifestMissing)?;
    Ok(PackArchive { files, manifest })
}

/// Reads any archive of plain files (an air-gap bundle, say) with the same rules as a pack: the
/// limits in `limits` (`max_compressed` bounds the bytes read, compressed or not), no links,
/// devices, FIFOs, PAX or GNU long-name headers, absolute or `..` paths, duplicates, case
/// collisions, non-UTF-8 names or trailing data. Gzip is detected by its magic bytes; anything
/// else is read as an uncompressed tar. Unlike [`read_pack`], no `pack.json` is required.
pub fn read_archive(bytes: &[u8], limits: &TarLimits) -> Result<Vec<PackFile>, VerifyError> {
    if bytes.len() as u64 > limits.max_compressed {
        return Err(VerifyError::CompressedTooLarge { size: bytes.len() as u64, limit: limits.max_compressed });
    }
    read_entries(bytes, bytes.starts_with(&[0x1f, 0x8b]), limits, &|_| true)
}

/// The one entry loop behind [`read_pack_from`], [`read_pack_keeping`] and [`read_archive`]. The
/// data of files `keep` does not name is skipped (still decoded and counted), not returned.
fn read_entries<R: BufRead>(
    reader: R,
    gzip: bool,
    limits: &TarLimits,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Vec<PackFile>, VerifyError> {
    let state = Rc::new(RefCell::new(StreamState::default()));
    let compressed = CompressedSide { inner: reader, limit: limits.max_compressed, state: state.clone() };
    let layer = if gzip {
        Layer::Gzip(Box::new(flate2::bufread::GzDecoder::new(compressed)))
    } else {
        Layer::Plain(compressed)
    };
    let decompressed = DecompressedSide::new(layer, limits.max_uncompressed, state.clone(), gzip);
    let mut archive = tar::Archive::new(decompressed);

    let fail = |e: &io::Error| state.borrow().classify(limits, e);
    let mut files: Vec<PackFile> = Vec::new();
    let mut seen: HashMap<String, ()> = HashMap::new();
    let mut lowercase: HashMap<String, String> = HashMap::new();
    let mut count = 0usize;

    // `raw(true)` hands us PAX and GNU long-name headers as entries instead of folding them into
    // the next name, so we can refuse them.
    let entries = archive.entries_with_seek().map_err(|e| fail(&e))?.raw(true);
    for entry in entries {
        let mut entry = entry.map_err(|e| fail(&e))?;
        count += 1;
        if count > limits.max_entries {
            return Err(VerifyError::TooManyEntries { limit: limits.max_entries });
        }
        let header = entry.header();
        let entry_type = header.entry_type();
        match entry_type {
            EntryType::XHeader | EntryType::XGlobalHeader => return Err(VerifyError::ExtendedHeader { kind: "pax" }),
            EntryType::GNULongName | EntryType::GNULongLink => {
                return Err(VerifyError::ExtendedHeader { kind: "gnu-long-name" });
            }
            _ => {}
        }
        let raw_name = header.path_bytes().into_owned();
        let name = std::str::from_utf8(&raw_name).map_err(|_| VerifyError::NameNotUtf8)?.to_string();
        let path = normalise_name(&name)?;
        match entry_type {
            EntryType::Regular | EntryType::Continuous if path != "." => {}
            EntryType::Directory => {
                // Legacy layout: directory entries carry nothing; only their names are checked.
                continue;
            }
            EntryType::Symlink => return Err(VerifyError::Symlink { path }),
            EntryType::Link => return Err(VerifyError::Hardlink { path }),
            EntryType::Char | EntryType::Block => return Err(VerifyError::Device { path }),
            EntryType::Fifo => return Err(VerifyError::Fifo { path }),
            other => {
                return Err(VerifyError::UnsupportedEntry { path, entry_type: other.as_byte() as char });
            }
        }
        let size = header.size().map_err(|e| fail(&e))?;
        if path == PACK_JSON && size > limits.max_manifest {
            return Err(VerifyError::ManifestTooLarge { size, limit: limits.max_manifest });
        }
        if size > limits.max_file {
            return Err(VerifyError::FileTooLarge { path, size, limit: limits.max_file });
        }
        match seen.entry(path.clone()) {
            MapEntry::Occupied(_) => return Err(VerifyError::DuplicateEntry { path }),
            MapEntry::Vacant(v) => {
                v.insert(());
            }
        }
        match lowercase.entry(path.to_lowercase()) {
            MapEntry::Occupied(o) => {
                return Err(VerifyError::CaseCollision { first: o.get().clone(), second: path });
            }
            MapEntry::Vacant(v) => {
                v.insert(path.clone());
            }
        }
        if !keep(&path) {
            // `tar` skips the unread data on the next entry, through the forward seek above.
            continue;
        }
        let mut data = Vec::with_capacity(size.min(1 << 20) as usize);
        entry.read_to_end(&mut data).map_err(|e| fail(&e))?;
        files.push(PackFile { path, data });
    }

    // Past the end-of-archive marker only zero padding may follow, and nothing may follow the
    // gzip member: anything else is smuggled data a different reader might interpret.
    let mut rest = archive.into_inner();
    loop {
        let buffered = rest.fill_buf().map_err(|e| fail(&e))?;
        if buffered.is_empty() {
            break;
        }
        if buffered.iter().any(|b| *b != 0) {
            return Err(VerifyError::TrailingData);
        }
        let n = buffered.len();
        rest.consume(n);
    }
    let mut after_gzip = rest.inner.into_inner();
    let leftover = after_gzip.fill_buf().map_err(|e| fail(&e))?;
    if !leftover.is_empty() {
        return Err(VerifyError::TrailingData);
    }
    Ok(files)
}

/// Validates an entry name and returns its normalised form (leading `./` removed).
pub fn normalise_name(name: &str) -> Result<String, VerifyError> {
    if name.starts_with('/') {
        return Err(VerifyError::AbsolutePath { path: name.to_string() });
    }
    let trimmed = name.strip_prefix("./").unwrap_or(name);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if trimmed.is_empty() || trimmed == "." {
        // Only the legacy layout's root directory entry (`./`) may be this short.
        return if name == "./" || name == "." {
            Ok(String::from("."))
        } else {
            Err(VerifyError::BadName { path: name.to_string() })
        };
    }
    for component in trimmed.split('/') {
        match component {
            ".." => return Err(VerifyError::PathTraversal { path: name.to_string() }),
            "" | "." => return Err(VerifyError::BadName { path: name.to_string() }),
            c if c.contains('\\') || c.contains('\0') || (c.len() == 2 && c.ends_with(':')) => {
                return Err(VerifyError::BadName { path: name.to_string() });
            }
            _ => {}
        }
    }
    Ok(trimmed.to_string())
}

/// Writes files as a deterministic pack tarball in the reference layout: regular files only,
/// sorted by byte order, mode 0644, uid/gid 0, mtime 0, no directory entries, names in the
/// 100-byte ustar field, gzip level 9 with mtime 0 and OS "unknown".
pub fn write_pack(files: &[PackFile]) -> Result<Vec<u8>, VerifyError> {
    let mut sorted: Vec<&PackFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    for pair in sorted.windows(2) {
        if pair[0].path == pair[1].path {
            return Err(VerifyError::DuplicateEntry { path: pair[0].path.clone() });
        }
    }
    let mut builder = tar::Builder::new(Vec::new());
    for file in sorted {
        let path = normalise_name(&file.path)?;
        if path != file.path || path == "." {
            return Err(VerifyError::BadName { path: file.path.clone() });
        }
        if path.len() > 100 {
            return Err(VerifyError::ExtendedHeader { kind: "gnu-long-name" });
        }
        let mut header = tar::Header::new_ustar();
        // Set the name bytes directly: `set_path` would split long names into the prefix field.
        let name_field = &mut header.as_old_mut().name;
        name_field.fill(0);
        name_field[..path.len()].copy_from_slice(path.as_bytes());
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(file.data.len() as u64);
        header.set_entry_type(EntryType::Regular);
        header.set_cksum();
        builder
            .append(&header, file.data.as_slice())
            .map_err(|e| VerifyError::Io { what: path.clone(), detail: e.to_string() })?;
    }
    let tar = builder.into_inner().map_err(|e| VerifyError::Io { what: "tarball".into(), detail: e.to_string() })?;
    Ok(gzip(&tar))
}

/// The gzip header every deterministic archive starts with: deflate, no flags, mtime 0, XFL 2
/// (maximum compression), OS 255 ("unknown", so the bytes do not depend on the building OS).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255];

/// Compresses `data` as one gzip member, deterministically: deflate level 9 by miniz_oxide, whose
/// output depends only on the input and the level (not on the CPU, unlike SIMD-accelerated
/// deflaters), behind a fixed header (mtime 0, XFL 2, OS 255). The one gzip writer of the workspace
/// (pack tarballs, air-gap bundles); reading goes through flate2.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let deflated = miniz_oxide::deflate::compress_to_vec(data, 9);
    let mut crc = flate2::Crc::new();
    crc.update(data);
    let mut out = Vec::with_capacity(GZIP_HEADER.len() + deflated.len() + 8);
    out.extend_from_slice(&GZIP_HEADER);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952 §2.3.1).
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;

    fn file(path: &str, data: &[u8]) -> PackFile {
        PackFile { path: path.to_string(), data: data.to_vec() }
    }

    #[test]
    fn writes_reference_layout_and_reads_it_back() {
        let files = vec![file("schemas/b.json", b"{}"), file("pack.json", b"{\"name\":\"x\"}")];
        let tgz = write_pack(&files).expect("writes");
        // gzip header: magic, deflate, no flags, mtime 0, XFL 2 (best), OS 255
        assert_eq!(&tgz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
        let archive = read_pack(&tgz, &TarLimits::default()).expect("reads");
        let names: Vec<_> = archive.files().iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["pack.json", "schemas/b.json"]);
        assert_eq!(archive.pack_json(), b"{\"name\":\"x\"}");
        assert_eq!(write_pack(&files).ok(), Some(tgz), "deterministic");
    }

    /// The bytes `write_pack` produced for these files before the gzip writer moved off flate2
    /// (flate2 1.1 on miniz_oxide, 2026-11-26), and so the bytes every `pack build` of them must
    /// keep producing on any machine: a new compressor or level would change every rebuilt
    /// pack's integrity.
    #[test]
    fn the_deterministic_writer_keeps_its_bytes() {
        let text: String = (0..400).map(|i| format!("line {i}: {}\n", "node".repeat(i % 7))).collect();
        let noise: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let files = vec![
            file("pack.json", br#"{"name":"vendor.acme.golden","version":"1.0.0"}"#),
            file("nodes/a.md", text.as_bytes()),
            file("bin/noise", &noise),
        ];
        let tgz = write_pack(&files).expect("writes");
        assert_eq!(tgz.len(), 2540);
        assert_eq!(
            crate::integrity::Integrity::of(&tgz).hex(),
            "872dad9aeb6909b27c5e8ca324d1b9462b19367cce13948ef7ae52909a8a3bc5"
        );
        // And flate2's reader agrees with the trailer (CRC-32 and length).
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&tgz[..]).read_to_end(&mut plain).expect("valid gzip");
        assert_eq!(
            u32::try_from(plain.len()).ok(),
            Some(u32::from_le_bytes([tgz[2536], tgz[2537], tgz[2538], tgz[2539]]))
        );
    }

    #[test]
    fn names_are_normalised_or_refused() {
        assert_eq!(normalise_name("./a/b").ok(), Some("a/b".to_string()));
        assert_eq!(normalise_name("a/").ok(), Some("a".to_string()));
        assert_eq!(normalise_name("/etc/passwd").err().map(|e| e.code()), Some("tarball_absolute_path"));
        assert_eq!(normalise_name("a/../../b").err().map(|e| e.code()), Some("tarball_path_traversal"));
        assert_eq!(normalise_name("a//b").err().map(|e| e.code()), Some("tarball_bad_name"));
        assert_eq!(normalise_name("a\\b").err().map(|e| e.code()), Some("tarball_bad_name"));
        assert_eq!(normalise_name("C:").err().map(|e| e.code()), Some("tarball_bad_name"));
    }

    fn plain_tar(entries: &[(&str, EntryType, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, kind, data) in entries {
            let mut header = tar::Header::new_ustar();
            let field = &mut header.as_old_mut().name;
            field[..name.len()].copy_from_slice(name.as_bytes());
            header.set_mode(0o644);
            header.set_size(data.len() as u64);
            header.set_entry_type(*kind);
            header.set_cksum();
            builder.append(&header, *data).expect("appends");
        }
        builder.into_inner().expect("finishes")
    }

    #[test]
    fn archives_read_plain_and_gzip_with_the_pack_rules() {
        let plain = plain_tar(&[("a/b.json", EntryType::Regular, b"{}"), ("c", EntryType::Regular, b"x")]);
        let files = read_archive(&plain, &TarLimits::default()).expect("reads a plain tar");
        assert_eq!(files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["a/b.json", "c"]);
        let gz = write_pack(&[file("x/y", b"1")]).expect("writes");
        assert_eq!(read_archive(&gz, &TarLimits::default()).expect("reads gzip")[0].path, "x/y");
        let code = |entries: &[(&str, EntryType, &[u8])]| {
            read_archive(&plain_tar(entries), &TarLimits::default()).err().map(|e| e.code())
        };
        assert_eq!(code(&[("l", EntryType::Symlink, b"")]), Some("tarball_symlink"));
        assert_eq!(code(&[("../x", EntryType::Regular, b"")]), Some("tarball_path_traversal"));
        assert_eq!(code(&[("/x", EntryType::Regular, b"")]), Some("tarball_absolute_path"));
        assert_eq!(code(&[("d", EntryType::Char, b"")]), Some("tarball_device"));
        assert_eq!(
            code(&[("x", EntryType::Regular, b""), ("x", EntryType::Regular, b"")]),
            Some("tarball_duplicate_entry")
        );
        let small = TarLimits { max_entries: 1, ..TarLimits::default() };
        let two = plain_tar(&[("a", EntryType::Regular, b""), ("b", EntryType::Regular, b"")]);
        assert_eq!(read_archive(&two, &small).err().map(|e| e.code()), Some("tarball_too_many_entries"));
        let mut trailing = plain.clone();
        trailing.extend_from_slice(b"smuggled");
        assert!(read_archive(&trailing, &TarLimits::default()).is_err());
        let tiny = TarLimits { max_compressed: 10, ..TarLimits::default() };
        assert!(read_archive(&plain, &tiny).is_err());
    }

    #[test]
    fn a_stream_is_held_to_the_compressed_limit() {
        let tgz = write_pack(&[file("pack.json", b"{}"), file("a.txt", &[5u8; 4000])]).expect("writes");
        let at = |limit: u64| TarLimits { max_compressed: limit, ..TarLimits::default() };
        let exact = read_pack_from(&tgz[..], &at(tgz.len() as u64)).expect("a stream exactly at the limit reads");
        assert_eq!(exact.get("a.txt"), Some(&[5u8; 4000][..]));
        for limit in [tgz.len() as u64 - 1, 20, 0] {
            assert_eq!(
                read_pack_from(&tgz[..], &at(limit)).err().map(|e| e.code()),
                Some("payload_too_large"),
                "limit {limit}"
            );
        }
        // Bytes after the gzip member are trailing data whether or not they would pass the limit;
        // the reader looks at the first of them only, so an endless tail is not read to its end.
        let mut longer = tgz.clone();
        longer.extend_from_slice(&[0u8; 16]);
        for limit in [tgz.len() as u64, TarLimits::default().max_compressed] {
            assert_eq!(
                read_pack_from(&longer[..], &at(limit)).err().map(|e| e.code()),
                Some("tarball_trailing_data"),
                "limit {limit}"
            );
        }
        let endless = tgz.as_slice().chain(io::repeat(0));
        assert_eq!(
            read_pack_from(endless, &at(tgz.len() as u64)).err().map(|e| e.code()),
            Some("tarball_trailing_data")
        );
    }

    #[test]
    fn writer_refuses_long_names_and_duplicates() {
        let long = "a".repeat(101);
        assert!(write_pack(&[file(&long, b"")]).is_err());
        assert!(write_pack(&[file("x", b""), file("x", b"")]).is_err());
    }

    #[test]
    fn skipped_entry_data_is_read_through_the_limits() {
        // A directory entry that carries data (legal in tar, unusual): the reader skips it by
        // the forward-only seek, and the entries after it still line up.
        let body = vec![7u8; 3000];
        let tar = plain_tar(&[("d", EntryType::Directory, &body), ("d/f", EntryType::Regular, b"after")]);
        let files = read_archive(&tar, &TarLimits::default()).expect("reads past the skipped data");
        assert_eq!(
            files.iter().map(|f| (f.path.as_str(), f.data.as_slice())).collect::<Vec<_>>(),
            [("d/f", &b"after"[..])]
        );
        // The skipped bytes count against the decompressed limit like read ones.
        let gz = {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
            io::Write::write_all(&mut enc, &tar).expect("compresses");
            enc.finish().expect("finishes")
        };
        let small = TarLimits { max_uncompressed: 2048, ..TarLimits::default() };
        assert_eq!(read_archive(&gz, &small).err().map(|e| e.code()), Some("tarball_too_large"));
        // A skip past the end of the stream is a tar error, not a hang or a panic.
        let cut = &tar[..512 + 1024];
        assert!(read_archive(cut, &TarLimits::default()).is_err());
    }

    #[test]
    fn the_decompressed_limit_is_exact_across_the_decode_buffer() {
        // Entries on both sides of the buffer's edge, and one larger than it: the reader returns
        // them intact, and the limit counts every decoded byte once, read ahead or not.
        let big: Vec<u8> = (0..DECODE_CHUNK * 3 + 17).map(|i| (i % 251) as u8).collect();
        let edge = vec![3u8; DECODE_CHUNK - 700];
        let tar = plain_tar(&[
            ("pack.json", EntryType::Regular, b"{}"),
            ("a.bin", EntryType::Regular, &edge),
            ("b.bin", EntryType::Regular, &big),
            ("c.txt", EntryType::Regular, b"after"),
        ]);
        let gz = {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
            io::Write::write_all(&mut enc, &tar).expect("compresses");
            enc.finish().expect("finishes")
        };
        let exact = TarLimits { max_uncompressed: tar.len() as u64, ..TarLimits::default() };
        let archive = read_pack(&gz, &exact).expect("a stream exactly at the limit reads");
        assert_eq!(archive.get("a.bin"), Some(edge.as_slice()));
        assert_eq!(archive.get("b.bin"), Some(big.as_slice()));
        assert_eq!(archive.get("c.txt"), Some(&b"after"[..]));
        let under = TarLimits { max_uncompressed: tar.len() as u64 - 1, ..TarLimits::default() };
        assert_eq!(read_pack(&gz, &under).err().map(|e| e.code()), Some("tarball_too_large"));
    }

    #[test]
    fn keeping_only_some_files_checks_every_entry_alike() {
        let gz = |entries: &[(&str, EntryType, &[u8])]| {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
            io::Write::write_all(&mut enc, &plain_tar(entries)).expect("compresses");
            enc.finish().expect("finishes")
        };
        let only_manifest = |path: &str| path == PACK_JSON;
        let big = vec![9u8; DECODE_CHUNK * 2 + 5];
        let entries: [(&str, EntryType, &[u8]); 3] = [
            ("a.bin", EntryType::Regular, &big),
            ("pack.json", EntryType::Regular, b"{\"name\":\"x\"}"),
            ("z.txt", EntryType::Regular, b"after"),
        ];
        let good = gz(&entries);
        let kept = read_pack_keeping(&good, &TarLimits::default(), &only_manifest).expect("reads");
        assert_eq!(kept.files().iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["pack.json"]);
        assert_eq!(kept.pack_json(), b"{\"name\":\"x\"}");
        // Whatever the whole reader refuses, the partial one refuses with the same code, even
        // when the offending entry is one whose data it skips.
        let tar_len = plain_tar(&entries).len() as u64;
        let tight = TarLimits { max_uncompressed: tar_len - 1, ..TarLimits::default() };
        let few = TarLimits { max_file: 1024, ..TarLimits::default() };
        let mut trailing = good.clone();
        trailing.extend_from_slice(b"smuggled");
        let cases: Vec<(Vec<u8>, TarLimits)> = vec![
            (good.clone(), tight),
            (good.clone(), few),
            (trailing, TarLimits::default()),
            (gz(&[("pack.json", EntryType::Regular, b"{}"), ("x", EntryType::Symlink, b"")]), TarLimits::default()),
            (gz(&[("pack.json", EntryType::Regular, b"{}"), ("../x", EntryType::Regular, b"1")]), TarLimits::default()),
            (
                gz(&[
                    ("pack.json", EntryType::Regular, b"{}"),
                    ("a", EntryType::Regular, b"1"),
                    ("A", EntryType::Regular, b"2"),
                ]),
                TarLimits::default(),
            ),
            (
                gz(&[
                    ("pack.json", EntryType::Regular, b"{}"),
                    ("a", EntryType::Regular, b"1"),
                    ("a", EntryType::Regular, b"2"),
                ]),
                TarLimits::default(),
            ),
            (gz(&[("readme", EntryType::Regular, b"no manifest")]), TarLimits::default()),
        ];
        for (i, (tgz, limits)) in cases.iter().enumerate() {
            let whole = read_pack(tgz, limits).err().map(|e| e.code());
            let part = read_pack_keeping(tgz, limits, &only_manifest).err().map(|e| e.code());
            assert!(whole.is_some(), "case {i} is refused");
            assert_eq!(part, whole, "case {i}");
        }
    }

    #[test]
    fn a_decode_error_does_not_hand_out_buffered_bytes_again() {
        /// Four bytes, then a failure, then the end.
        struct Flaky(u8);
        impl Read for Flaky {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                self.0 += 1;
                match self.0 {
                    1 => {
                        out[..4].copy_from_slice(&[1, 2, 3, 4]);
                        Ok(4)
                    }
                    2 => Err(io::Error::other("broken stream")),
                    _ => Ok(0),
                }
            }
        }
        let state = Rc::new(RefCell::new(StreamState::default()));
        let mut side = DecompressedSide::new(Flaky(0), 100, state, false);
        let mut out = [0u8; 4];
        assert_eq!(side.read(&mut out).ok(), Some(4));
        assert!(side.read(&mut out).is_err());
        assert_eq!(side.read(&mut out).ok(), Some(0), "the four bytes already read must not come back");
    }

    #[test]
    fn the_stream_seeks_only_forward() {
        let state = Rc::new(RefCell::new(StreamState::default()));
        let mut side = DecompressedSide::new(&[1u8, 2, 3, 4][..], 100, state, false);
        assert_eq!(side.stream_position().ok(), Some(0));
        assert_eq!(side.seek(SeekFrom::Current(3)).ok(), Some(3));
        assert_eq!(side.seek(SeekFrom::Current(-1)).err().map(|e| e.kind()), Some(io::ErrorKind::Unsupported));
        assert_eq!(side.seek(SeekFrom::Start(0)).err().map(|e| e.kind()), Some(io::ErrorKind::Unsupported));
        assert_eq!(side.seek(SeekFrom::Current(2)).err().map(|e| e.kind()), Some(io::ErrorKind::UnexpectedEof));
    }
}

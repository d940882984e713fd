//! Walking a whole registry tree (a static directory or, from the binary, an HTTP base URL) and
//! verifying every version in it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::VerifyError;
use crate::integrity::Integrity;
use crate::lenient::{BoolOrObject, Loose, ReadError, loose, read_object};
use crate::parallel::joined;
use crate::trust::{Clock, ExpiryPolicy, SystemClock, TrustBundle, TrustRoot, TrustState, TrustWarning};
use crate::verify::{VerifiedVersion, Verifier, VersionInput};

/// Fetches in flight at once from a registry over HTTP (npm allows 15 connections per host by
/// default): fetching a version is mostly waiting for the network (on loopback with two cores,
/// verifying the 848 documents of the fixture registry took 84 ms with one worker per core and
/// 60 ms with 16).
pub const HTTP_CONCURRENCY: usize = 16;

/// Fetches in flight at once from a registry that answers over HTTP/2 and is not next door
/// ([`Link`]), where one connection carries them all as streams (curl's default stream limit;
/// servers commonly allow 100 to 256 streams per connection). 20 ms away, a cold install of 117
/// packs took 0.95 s at 16 and 0.28 s at 128 (`docs/performance-log.md`).
pub const HTTP2_CONCURRENCY: usize = 100;

/// A registry whose quickest answer so far came within this is next door (loopback, the same
/// rack): its requests wait little, so more of them in flight buy little, and the threads and
/// streams cost CPU that the client and (on loopback) the server share. On loopback over TLS
/// a client here sees its quickest answers in 0.3–0.8 ms, and keeping 100 streams instead of
/// 16 cost a walk of the fixture registry 15–50 ms; 20 ms away it saved 1.1 s
/// (`docs/performance-log.md`). At a round trip near this line the two are about even.
pub const NEARBY: Duration = Duration::from_millis(2);

/// What a client has seen of its connection to one registry, and the request parallelism that
/// follows from it: the one rule behind `pack-verify registry` and `pack`'s downloads. Shared by
/// the client's threads; every response is recorded.
#[derive(Debug)]
pub struct Link {
    http2: AtomicBool,
    /// The quickest response so far, from sending the request to its headers, in µs: the
    /// closest a client gets to the round trip (the first one also waited for the handshakes).
    quickest_us: AtomicU64,
}

impl Default for Link {
    fn default() -> Self {
        Link { http2: AtomicBool::new(false), quickest_us: AtomicU64::new(u64::MAX) }
    }
}

impl Link {
    /// Records one response: whether it came over HTTP/2, and how long its headers took.
    pub fn record(&self, http2: bool, waited: Duration) {
        if http2 {
            self.http2.store(true, Ordering::Relaxed);
        }
        let us = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        self.quickest_us.fetch_min(us, Ordering::Relaxed);
    }

    /// Whether the registry has answered over HTTP/2 (requests in flight share one connection).
    pub fn http2(&self) -> bool {
        self.http2.load(Ordering::Relaxed)
    }

    /// Whether every answer so far took [`NEARBY`] or longer (true before any answer).
    pub fn far(&self) -> bool {
        self.quickest_us.load(Ordering::Relaxed) >= u64::try_from(NEARBY.as_micros()).unwrap_or(u64::MAX)
    }

    /// Whether to ask for the requests of one item (a version's tarball, signature, manifest)
    /// at once rather than one after another: over HTTP/2 they are streams of one connection,
    /// and from afar that turns several round trips into one. Not next door (see [`NEARBY`]),
    /// and never over HTTP/1.1, where each would be one more connection.
    pub fn together(&self) -> bool {
        self.http2() && self.far()
    }

    /// Requests to keep in flight: [`HTTP2_CONCURRENCY`] when [`together`](Self::together)
    /// holds, else [`HTTP_CONCURRENCY`].
    pub fn requests_in_flight(&self) -> usize {
        if self.together() { HTTP2_CONCURRENCY } else { HTTP_CONCURRENCY }
    }
}

/// Path of the keychain envelope on a registry that publishes one.
pub const KEYCHAIN_PATH: &str = "/keys/keychain.json";

/// Where registry documents come from. Paths are registry-relative (`/v1/index.json`).
pub trait RegistrySource: Sync {
    /// Fetches a document; `Ok(None)` when the registry says it does not exist.
    fn fetch(&self, path: &str) -> Result<Option<Vec<u8>>, VerifyError>;
    /// A human name for messages.
    fn describe(&self) -> String;
    /// How many fetches to keep in flight when [`RegistryCheck::jobs`] is 0. The default, 0, is
    /// one per core, right where reading is local work; a remote source mostly waits on the
    /// network and wants more (with one worker per core, a registry of 850 documents 50 ms
    /// away takes 20 s on two cores). Asked before each step of the walk (after `/v1/index.json`,
    /// then after the pack indexes), so a source can answer from what the responses so far
    /// showed ([`Link`]).
    fn concurrency(&self) -> usize {
        0
    }
    /// Whether one version's files are best asked for at once (see [`Link::together`]): one
    /// round trip instead of three. Asked when the files are fetched.
    fn together(&self) -> bool {
        false
    }
}

/// A static registry tree on disk.
#[derive(Debug, Clone)]
pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    /// A source reading below `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirSource { root: root.into() }
    }
}

impl RegistrySource for DirSource {
    fn fetch(&self, path: &str) -> Result<Option<Vec<u8>>, VerifyError> {
        let rel = path.trim_start_matches('/');
        if rel.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(VerifyError::Io { what: path.to_string(), detail: "not a plain registry path".into() });
        }
        let full = self.root.join(rel);
        match read_whole(&full) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(read_error(full.display().to_string(), e)),
        }
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

/// How much room [`read_whole`] starts with: more than any manifest, index or signature, and most
/// pack tarballs, of the fixture registry.
const READ_GUESS: usize = 64 * 1024;

/// The largest file either source reads (a registry document, signature or tarball). Tarballs
/// stop at 10 MB and the index of a 100,000-pack registry is about 20 MB; a hostile or broken
/// tree holding something larger is refused instead of being read into memory.
pub const MAX_DOCUMENT: u64 = 64 * 1024 * 1024;

/// Reads a whole file, at most [`MAX_DOCUMENT`] bytes of it. One `open`, then reads until end of
/// file: `std::fs::read` and `File::read_to_end` size their buffer first with a `statx` and an
/// `lseek`, two of every five system calls of a registry walk of small files.
fn read_whole(path: &Path) -> std::io::Result<Vec<u8>> {
    read_document(std::fs::File::open(path)?)
}

/// Reads `reader` to its end, into a 64 KiB buffer to start with, refusing more than
/// [`MAX_DOCUMENT`] bytes. Reading through `take` also keeps `File`'s sizing calls away.
pub fn read_document(reader: impl std::io::Read) -> std::io::Result<Vec<u8>> {
    read_at_most(reader, MAX_DOCUMENT)
}

/// The error for a failed [`read_document`] of `what` (a path or URL): over the limit is
/// `payload_too_large`, anything else `io_error`.
pub fn read_error(what: String, e: std::io::Error) -> VerifyError {
    if e.kind() == std::io::ErrorKind::FileTooLarge {
        VerifyError::DocumentTooLarge { what, limit: MAX_DOCUMENT }
    } else {
        VerifyError::Io { what, detail: e.to_string() }
    }
}

fn read_at_most(reader: impl std::io::Read, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::with_capacity(READ_GUESS);
    reader.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than {limit} bytes, the most a registry file may hold"),
        ));
    }
    Ok(bytes)
}

/// The outcome for one version.
#[derive(Debug, Clone, Serialize)]
pub struct VersionResult {
    /// Pack name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Whether every check passed.
    pub ok: bool,
    /// The error code, when not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error message, when not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Signing key, when ok.
    #[serde(rename = "keyId", skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Whether the registry marks the version yanked.
    pub yanked: bool,
}

/// The outcome for a whole registry.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryReport {
    /// Versions that verified.
    pub verified: usize,
    /// Versions that failed.
    pub failed: usize,
    /// One row per version.
    pub results: Vec<VersionResult>,
    /// Trust warnings to show (never silently dropped).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Options for [`verify_registry`].
pub struct RegistryCheck<'a> {
    /// The registry's trust bundle.
    pub bundle: &'a TrustBundle,
    /// Stored trust state (updated on success).
    pub state: &'a mut TrustState,
    /// Clock for expiry.
    pub clock: &'a dyn Clock,
    /// Expiry policy.
    pub policy: ExpiryPolicy,
    /// Verification threads (0: the source's [`RegistrySource::concurrency`], which for a
    /// local tree is one per available core).
    pub jobs: usize,
}

impl<'a> RegistryCheck<'a> {
    /// The usual check: the system clock, expired metadata refused, every core used.
    pub fn enforcing(bundle: &'a TrustBundle, state: &'a mut TrustState) -> Self {
        RegistryCheck { bundle, state, clock: &SystemClock, policy: ExpiryPolicy::Enforce, jobs: 0 }
    }
}

/// A pack name safe to put in a path (the registry tree is hostile input too).
fn path_safe(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
        && !name.contains("..")
}

fn fetch_required(source: &dyn RegistrySource, path: &str) -> Result<Vec<u8>, VerifyError> {
    source
        .fetch(path)?
        .ok_or_else(|| VerifyError::Io { what: format!("{}{path}", source.describe()), detail: "not found".into() })
}

fn json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, VerifyError> {
    read_object(bytes).map_err(|e| VerifyError::ManifestInvalid {
        detail: match e {
            ReadError::Syntax(detail) => format!("{what} is not JSON: {detail}"),
            ReadError::NotAnObject => format!("{what} is not an object"),
            ReadError::Field(detail) => format!("{what}: {detail}"),
        },
    })
}

/// `/v1/index.json`, as far as the walk reads it: the pack names. An entry that is not an object
/// is skipped, as one without a name is; the rest of the registry is still verified.
#[derive(Deserialize)]
struct RegistryIndex {
    #[serde(default)]
    packs: Vec<BoolOrObject<IndexedPack>>,
}

#[derive(Deserialize)]
struct IndexedPack {
    name: Option<Loose<String>>,
}

/// `/v1/packs/{name}/index.json`, as far as the walk reads it (entries that are not objects are
/// skipped).
#[derive(Deserialize)]
struct PackIndex {
    #[serde(default)]
    versions: Vec<BoolOrObject<IndexRow>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexRow {
    version: Option<Loose<String>>,
    integrity: Option<Loose<String>>,
    signing_key_id: Option<Loose<String>>,
}

/// Resolves the trust root for `source`: pinned keys, or the registry's keychain verified
/// against the bundle's root.
pub fn resolve_trust(source: &dyn RegistrySource, check: &mut RegistryCheck<'_>) -> Result<TrustRoot, VerifyError> {
    let fetched = if check.bundle.has_root() { source.fetch(KEYCHAIN_PATH)? } else { None };
    check.bundle.resolve(fetched.as_deref(), check.state, check.clock, check.policy)
}

/// The raw documents of one version, as fetched.
struct VersionFiles {
    manifest: Vec<u8>,
    tarball: Vec<u8>,
    signature: Vec<u8>,
    statement: Option<Vec<u8>>,
}

/// One version the pack indexes list, before its files are fetched.
struct Listed {
    name: String,
    version: String,
    index_integrity: Option<String>,
    index_key: Option<String>,
    /// Every version the pack index lists (shared by its versions), to explain replays.
    siblings: std::sync::Arc<[String]>,
}

impl Listed {
    /// The version's files (fetched on the verifier's worker threads: a tree of many small files,
    /// or an HTTP registry, is read concurrently).
    fn fetch(&self, source: &dyn RegistrySource, statements: bool) -> Result<VersionFiles, VerifyError> {
        let base = format!("/v1/packs/{}/-/{}", self.name, self.version);
        let required = |ext: &str| fetch_required(source, &format!("{base}.{ext}"));
        let statement = || if statements { source.fetch(&format!("{base}.statement.json")) } else { Ok(None) };
        if !source.together() {
            // One after the other: on disk there is nothing to overlap, and over HTTP/1.1 each
            // request in flight is a connection, of which the workers already hold one each.
            let (manifest, tarball, signature) = (required("json")?, required("tgz")?, required("sig")?);
            return Ok(VersionFiles { manifest, tarball, signature, statement: statement()? });
        }
        let panicked =
            || VerifyError::Io { what: format!("{}{base}", source.describe()), detail: "a fetch panicked".into() };
        std::thread::scope(|s| {
            let tarball = s.spawn(|| required("tgz"));
            let signature = s.spawn(|| required("sig"));
            let statement = statements.then(|| s.spawn(statement));
            let manifest = required("json");
            Ok(VersionFiles {
                manifest: manifest?,
                tarball: joined(tarball, panicked)?,
                signature: joined(signature, panicked)?,
                statement: statement.map_or(Ok(None), |t| joined(t, panicked))?,
            })
        })
    }
}

/// What one pack index lists: the versions to verify, and a failure for the index itself or
/// for each row that cannot be verified (an unsafe version string).
struct Listing {
    failures: Vec<VersionResult>,
    listed: Vec<Listed>,
}

fn list_pack(source: &dyn RegistrySource, name: &str) -> Listing {
    let mut listing = Listing { failures: Vec::new(), listed: Vec::new() };
    if !path_safe(name) {
        let e = VerifyError::ManifestInvalid { detail: "pack name is not path-safe".into() };
        listing.failures.push(failure(name, "?", &e));
        return listing;
    }
    let pack_index: PackIndex =
        match fetch_required(source, &format!("/v1/packs/{name}/index.json")).and_then(|b| json(&b, name)) {
            Ok(v) => v,
            Err(e) => {
                listing.failures.push(failure(name, "*", &e));
                return listing;
            }
        };
    let rows: Vec<IndexRow> = pack_index.versions.into_iter().filter_map(BoolOrObject::into_object).collect();
    let siblings: std::sync::Arc<[String]> = rows.iter().filter_map(|r| r.version.as_ref()?.get().cloned()).collect();
    for row in rows {
        let Some(version) = loose(row.version) else { continue };
        if !path_safe(&version) {
            let e = VerifyError::ManifestInvalid { detail: "version is not path-safe".into() };
            listing.failures.push(failure(name, &version, &e));
            continue;
        }
        listing.listed.push(Listed {
            name: name.to_string(),
            version,
            index_integrity: loose(row.integrity),
            index_key: loose(row.signing_key_id),
            siblings: siblings.clone(),
        });
    }
    listing
}

/// Verifies every version of every pack listed in the registry's `/v1/index.json`.
pub fn verify_registry(
    source: &dyn RegistrySource,
    mut check: RegistryCheck<'_>,
) -> Result<RegistryReport, VerifyError> {
    let root = resolve_trust(source, &mut check)?;
    let warnings: Vec<String> = root.warnings().iter().map(TrustWarning::to_string).collect();
    let index: RegistryIndex = json(&fetch_required(source, "/v1/index.json")?, "/v1/index.json")?;
    // Asked before each step, so that each uses what the answers so far showed an HTTP source
    // (HTTP/2; how far away the registry is, which the first answer, slowed by the handshakes,
    // cannot tell).
    let jobs = || if check.jobs == 0 { source.concurrency() } else { check.jobs };
    let names: Vec<String> =
        index.packs.into_iter().filter_map(BoolOrObject::into_object).filter_map(|p| loose(p.name)).collect();

    // Every pack index is read and parsed on the workers; the listing keeps the index's order.
    let listings = crate::parallel::map(
        jobs(),
        &names,
        |name| list_pack(source, name),
        || Listing {
            failures: vec![failure(
                "?",
                "*",
                &VerifyError::Io { what: "pack index thread".into(), detail: "panicked".into() },
            )],
            listed: Vec::new(),
        },
    );
    let mut listed: Vec<Listed> = Vec::new();
    let mut results: Vec<VersionResult> = Vec::new();
    for listing in listings {
        results.extend(listing.failures);
        listed.extend(listing.listed);
    }

    let verifier = Verifier::new(root).jobs(jobs());
    let statements = verifier.root().requires_statements();
    let verdicts = verifier.check_all_loaded(
        &listed,
        |l| l.fetch(source, statements),
        |l, files| VersionInput {
            manifest: &files.manifest,
            tarball: &files.tarball,
            signature: &files.signature,
            statement: files.statement.as_deref(),
            expected: Some((&l.name, &l.version)),
            other_versions: &l.siblings,
        },
    );
    for (l, verdict) in listed.iter().zip(verdicts) {
        results.push(match verdict.and_then(|v| index_agrees(l, v)) {
            Ok(v) => VersionResult {
                name: v.name,
                version: v.version,
                ok: true,
                error: None,
                message: None,
                key_id: Some(v.signing_key_id),
                yanked: v.yanked,
            },
            Err(e) => failure(&l.name, &l.version, &e),
        });
    }
    let verified = results.iter().filter(|r| r.ok).count();
    Ok(RegistryReport { verified, failed: results.len() - verified, results, warnings })
}

/// The per-pack index must agree with what was verified: it is what resolvers choose from.
fn index_agrees<A>(f: &Listed, v: VerifiedVersion<A>) -> Result<VerifiedVersion<A>, VerifyError> {
    if let Some(listed) = &f.index_integrity {
        let listed_ok = Integrity::parse(listed).map(|i| i == v.integrity).unwrap_or(false);
        if !listed_ok {
            return Err(VerifyError::IntegrityMismatch { expected: listed.clone(), actual: v.integrity.to_string() });
        }
    }
    if let Some(key) = &f.index_key
        && *key != v.signing_key_id
    {
        return Err(VerifyError::SignerMismatch { expected: key.clone(), found: v.signing_key_id.clone() });
    }
    Ok(v)
}

fn failure(name: &str, version: &str, e: &VerifyError) -> VersionResult {
    VersionResult {
        name: name.to_string(),
        version: version.to_string(),
        ok: false,
        error: Some(e.code().to_string()),
        message: Some(e.to_string()),
        key_id: None,
        yanked: false,
    }
}

/// Reads a file into memory with a readable error.
pub fn read_file(path: &Path) -> Result<Vec<u8>, VerifyError> {
    read_whole(path).map_err(|e| read_error(path.display().to_string(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_asks_for_more_at_once_only_over_http2_and_from_afar() {
        let ms = Duration::from_millis;
        let link = Link::default();
        assert!(!link.together() && link.far());
        assert_eq!(link.requests_in_flight(), HTTP_CONCURRENCY);
        // 20 ms away over HTTP/1.1: each request in flight would be one more connection.
        link.record(false, ms(20));
        assert!(link.far() && !link.together());
        assert_eq!(link.requests_in_flight(), HTTP_CONCURRENCY);
        // The same distance over HTTP/2.
        link.record(true, ms(25));
        assert!(link.together());
        assert_eq!(link.requests_in_flight(), HTTP2_CONCURRENCY);
        // One quick answer shows the first ones were slow for another reason (the handshakes):
        // next door, the extra streams would only cost CPU.
        link.record(true, Duration::from_micros(300));
        assert!(link.http2() && !link.far() && !link.together());
        assert_eq!(link.requests_in_flight(), HTTP_CONCURRENCY);
        link.record(true, ms(30));
        assert!(!link.far(), "the quickest answer is kept");
        let at_the_line = Link::default();
        at_the_line.record(true, NEARBY);
        assert!(at_the_line.together());
    }

    /// A registry of `packs` empty packs whose pack-index requests each wait (up to `wait`) until
    /// `packs` of them are in flight, and which records the most it saw at once.
    struct Gated {
        packs: usize,
        concurrency: usize,
        wait: std::time::Duration,
        in_flight: std::sync::Mutex<(usize, usize)>,
        changed: std::sync::Condvar,
    }

    impl RegistrySource for Gated {
        fn fetch(&self, path: &str) -> Result<Option<Vec<u8>>, VerifyError> {
            if path == "/v1/index.json" {
                let names: Vec<String> = (0..self.packs).map(|i| format!(r#"{{"name":"vendor.acme.p{i}"}}"#)).collect();
                return Ok(Some(format!(r#"{{"packs":[{}]}}"#, names.join(",")).into_bytes()));
            }
            let mut state = self.in_flight.lock().expect("lock");
            state.0 += 1;
            state.1 = state.1.max(state.0);
            self.changed.notify_all();
            let deadline = std::time::Instant::now() + self.wait;
            while state.1 < self.packs {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                state = self.changed.wait_timeout(state, left).expect("lock").0;
            }
            state.0 -= 1;
            Ok(Some(br#"{"versions":[]}"#.to_vec()))
        }

        fn describe(&self) -> String {
            "gated".into()
        }

        fn concurrency(&self) -> usize {
            self.concurrency
        }
    }

    #[test]
    fn a_source_sets_how_many_fetches_are_in_flight_unless_jobs_does() {
        let bundle = TrustBundle::reference().expect("shipped bundle");
        let most_at_once = |concurrency: usize, jobs: usize, wait_ms: u64| {
            let wait = std::time::Duration::from_millis(wait_ms);
            let source =
                Gated { packs: 4, concurrency, wait, in_flight: Default::default(), changed: Default::default() };
            let mut state = TrustState::new();
            let report =
                verify_registry(&source, RegistryCheck { jobs, ..RegistryCheck::enforcing(&bundle, &mut state) })
                    .expect("an empty registry verifies");
            assert_eq!((report.verified, report.failed), (0, 0));
            source.in_flight.lock().expect("lock").1
        };
        // The source asks for four at once: all four pack indexes are requested together.
        assert_eq!(most_at_once(4, 0, 5000), 4);
        // An explicit job count wins over the source (each request waits its 50 ms for nothing).
        assert_eq!(most_at_once(4, 1, 50), 1);
    }

    #[test]
    fn a_file_is_read_whole_up_to_the_limit_and_refused_above_it() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(READ_GUESS + 10).collect();
        assert_eq!(read_at_most(&bytes[..], bytes.len() as u64).expect("at the limit"), bytes);
        let err = read_at_most(&bytes[..], bytes.len() as u64 - 1).expect_err("one byte over");
        assert_eq!(err.kind(), std::io::ErrorKind::FileTooLarge);
        assert!(err.to_string().contains(&format!("larger than {} bytes", bytes.len() - 1)), "{err}");
        assert_eq!(read_at_most(&b""[..], 0).expect("empty"), b"");
    }

    #[test]
    fn a_directory_source_reads_files_whole_and_tells_missing_from_broken() {
        let dir = std::env::temp_dir().join(format!("pack-verify-dirsource-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("v1")).expect("temp dir");
        let big: Vec<u8> = (0..=255u8).cycle().take(3 * READ_GUESS + 7).collect();
        std::fs::write(dir.join("v1/big.tgz"), &big).expect("write");
        let source = DirSource::new(&dir);
        assert_eq!(source.fetch("/v1/big.tgz").expect("read"), Some(big));
        assert_eq!(source.fetch("/v1/missing.json").expect("missing is not an error"), None);
        assert!(source.fetch("/v1/../v1/big.tgz").is_err());
        // A directory where a file should be is an error naming the path, not "missing".
        let err = source.fetch("/v1").expect_err("a directory");
        assert!(err.to_string().contains("v1"), "{err}");
        assert_eq!(err.code(), "io_error");
        // A file over the limit (sparse: no disk used) is refused by name, with its own code.
        let huge = std::fs::File::create(dir.join("v1/huge.json")).expect("create");
        huge.set_len(MAX_DOCUMENT + 1).expect("extend");
        let err = source.fetch("/v1/huge.json").expect_err("over the limit");
        assert_eq!(err.code(), "payload_too_large");
        assert!(err.to_string().contains("huge.json"), "{err}");
        assert!(matches!(err, VerifyError::DocumentTooLarge { limit: MAX_DOCUMENT, .. }), "{err:?}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}

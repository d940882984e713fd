//! `pack-verify`: verify a whole registry tree or one pack version from the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use pack_verify::registry::{
    DirSource, Link, RegistryCheck, RegistryReport, RegistrySource, read_document, read_error, read_file,
    verify_registry,
};
use pack_verify::trust::{ExpiryPolicy, SystemClock, TrustState};
use pack_verify::{TrustBundle, Verifier, VerifyError, VersionInput};
use serde_json::json;

/// Verification allocates and frees many short-lived buffers on several threads (one tarball's
/// files, one manifest's JSON); glibc's per-thread arenas grow and trim around them (thousands of
/// `mprotect`s per run), mimalloc does not. The library leaves the allocator to its host.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A verification lives for tens of milliseconds with a heap of a few MB. Transparent huge pages
/// do not pay for that: the first touch of each 2 MiB region zeroes all of it, and on a machine
/// that hands them out (THP `always`, or `madvise`, which mimalloc asks for) that zeroing was the
/// largest single cost of verifying the fixture registry. Off for this process only, before
/// the verifier allocates; where the kernel refuses, nothing changes but speed.
fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_thp_disable(true);
}

#[derive(Parser)]
#[command(name = "pack-verify", version, about = "Verify OpenWOP packs against a pinned trust root")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct TrustArgs {
    /// Trust bundle (JSON). Default: the shipped bundle of the public reference registry.
    #[arg(long, value_name = "BUNDLE")]
    trust: Option<PathBuf>,
    /// Trust state file kept between runs (rollback and freeze detection). Updated on success.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Accept an expired keychain (offline use only; a warning is always printed).
    #[arg(long)]
    allow_expired_metadata: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Verify every version of a registry tree (a directory or an http(s) base URL).
    Registry {
        /// Directory holding `v1/index.json`, or the registry's base URL.
        source: String,
        /// Verification threads (default: one per core for a directory, 16 for an http(s)
        /// registry, whose fetches mostly wait on the network, 100 when it answers over HTTP/2
        /// from further than 2 ms away; 1 verifies one version at a time).
        #[arg(long, default_value_t = 0)]
        jobs: usize,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Verify one version from its files.
    Pack {
        /// The `.tgz`.
        tarball: PathBuf,
        /// The detached signature (`.sig`).
        #[arg(long)]
        sig: PathBuf,
        /// The served version manifest (`.json`).
        #[arg(long)]
        manifest: PathBuf,
        /// The registry's version statement, where the registry signs them.
        #[arg(long)]
        statement: Option<PathBuf>,
        /// Keychain envelope of the registry (for rooted bundles without a bundled keychain).
        #[arg(long)]
        keychain: Option<PathBuf>,
        #[command(flatten)]
        trust: TrustArgs,
    },
}

/// Reads a registry over HTTP(S).
struct HttpSource {
    base: String,
    client: reqwest::blocking::Client,
    /// What the responses showed (HTTP/2, offered by TLS ALPN; how quickly they came), which
    /// sets how many requests the walk keeps in flight.
    link: Link,
}

impl RegistrySource for HttpSource {
    fn fetch(&self, path: &str) -> Result<Option<Vec<u8>>, VerifyError> {
        let url = format!("{}{}", self.base, path);
        let io = |detail: String| VerifyError::Io { what: url.clone(), detail };
        let sent = Instant::now();
        let resp = self.client.get(&url).send().map_err(|e| io(e.to_string()))?;
        self.link.record(resp.version() == reqwest::Version::HTTP_2, sent.elapsed());
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(io(format!("HTTP {}", resp.status())));
        }
        read_document(resp).map(Some).map_err(|e| read_error(url.clone(), e))
    }

    fn describe(&self) -> String {
        self.base.clone()
    }

    fn together(&self) -> bool {
        self.link.together()
    }

    fn concurrency(&self) -> usize {
        self.link.requests_in_flight()
    }
}

struct Loaded {
    bundle: TrustBundle,
    state: TrustState,
}

fn load_trust(args: &TrustArgs) -> Result<Loaded, VerifyError> {
    let bundle = match &args.trust {
        Some(path) => TrustBundle::parse(&read_file(path)?)?,
        None => TrustBundle::reference()?,
    };
    let state = match &args.state {
        Some(path) if path.exists() => TrustState::from_json(&read_file(path)?)?,
        _ => TrustState::new(),
    };
    Ok(Loaded { bundle, state })
}

fn save_state(args: &TrustArgs, state: &TrustState) -> Result<(), VerifyError> {
    if let Some(path) = &args.state {
        let tmp = path.with_extension("tmp");
        let io = |e: std::io::Error| VerifyError::Io { what: path.display().to_string(), detail: e.to_string() };
        std::fs::write(&tmp, state.to_json()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
    }
    Ok(())
}

fn policy(args: &TrustArgs) -> ExpiryPolicy {
    if args.allow_expired_metadata { ExpiryPolicy::AllowExpired } else { ExpiryPolicy::Enforce }
}

fn run_registry(source: &str, jobs: usize, args: &TrustArgs) -> Result<RegistryReport, VerifyError> {
    let mut loaded = load_trust(args)?;
    let src: Box<dyn RegistrySource> = if source.starts_with("http://") || source.starts_with("https://") {
        let client = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| VerifyError::Io { what: source.to_string(), detail: e.to_string() })?;
        Box::new(HttpSource { base: source.trim_end_matches('/').to_string(), client, link: Link::default() })
    } else {
        if !Path::new(source).join("v1/index.json").is_file() {
            return Err(VerifyError::Io {
                what: source.to_string(),
                detail: "no v1/index.json here; pass the registry tree's root directory or an http(s) URL".into(),
            });
        }
        Box::new(DirSource::new(source))
    };
    let report = verify_registry(
        src.as_ref(),
        RegistryCheck {
            bundle: &loaded.bundle,
            state: &mut loaded.state,
            clock: &SystemClock,
            policy: policy(args),
            jobs,
        },
    )?;
    save_state(args, &loaded.state)?;
    Ok(report)
}

fn print_error(e: &VerifyError, json_out: bool) {
    if json_out {
        println!("{}", json!({"error": e.code(), "message": e.to_string(), "details": {"hint": e.hint()}}));
    } else {
        eprintln!("error: {e}\n  code: {}\nhelp: {}", e.code(), e.hint());
    }
}

fn main() -> ExitCode {
    without_huge_pages();
    let cli = Cli::parse();
    match cli.command {
        Command::Registry { source, jobs, trust } => match run_registry(&source, jobs, &trust) {
            Ok(report) => {
                if trust.json {
                    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
                } else {
                    for w in &report.warnings {
                        eprintln!("warning: {w}");
                    }
                    for r in report.results.iter().filter(|r| !r.ok) {
                        eprintln!(
                            "FAILED {}@{}: {} ({})",
                            r.name,
                            r.version,
                            r.message.as_deref().unwrap_or(""),
                            r.error.as_deref().unwrap_or("")
                        );
                    }
                    println!("verified {} version(s), {} failed, from {source}", report.verified, report.failed);
                }
                if report.failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) }
            }
            Err(e) => {
                print_error(&e, trust.json);
                ExitCode::from(2)
            }
        },
        Command::Pack { tarball, sig, manifest, statement, keychain, trust } => {
            let result = (|| {
                let mut loaded = load_trust(&trust)?;
                let keychain = keychain.as_deref().map(read_file).transpose()?;
                let root =
                    loaded.bundle.resolve(keychain.as_deref(), &mut loaded.state, &SystemClock, policy(&trust))?;
                for w in root.warnings() {
                    eprintln!("warning: {w}");
                }
                let (tgz, sig, manifest) = (read_file(&tarball)?, read_file(&sig)?, read_file(&manifest)?);
                let statement = statement.as_deref().map(read_file).transpose()?;
                let verified = Verifier::new(root).verify(&VersionInput {
                    manifest: &manifest,
                    tarball: &tgz,
                    signature: &sig,
                    statement: statement.as_deref(),
                    expected: None,
                    other_versions: &[],
                })?;
                save_state(&trust, &loaded.state)?;
                Ok::<_, VerifyError>(verified)
            })();
            match result {
                Ok(v) => {
                    if trust.json {
                        println!(
                            "{}",
                            json!({"ok": true, "name": v.name, "version": v.version, "integrity": v.integrity.to_string(),
                                   "keyId": v.signing_key_id, "method": v.method.as_str(), "yanked": v.yanked})
                        );
                    } else {
                        let yanked = if v.yanked { " (YANKED)" } else { "" };
                        println!(
                            "ok {}@{}{yanked}: signed by {} ({}), {}",
                            v.name,
                            v.version,
                            v.signing_key_id,
                            v.method.as_str(),
                            v.integrity
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    print_error(&e, trust.json);
                    ExitCode::from(1)
                }
            }
        }
    }
}

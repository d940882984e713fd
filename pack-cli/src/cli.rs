//! The command line: clap definitions only. Each subcommand's flags are turned into options and
//! run by `commands::<name>::exec`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Build, sign, publish, resolve, install and verify OpenWOP packs; manage registry trust.
#[derive(Debug, Parser)]
#[command(
    name = "pack",
    version,
    about = "Build, sign, publish, resolve, install and verify OpenWOP packs; manage registry trust.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// Print machine-readable JSON Lines (the last line is the result or the error).
    #[arg(long, global = true)]
    pub json: bool,
    /// Registry base URL (default: OPENWOP_REGISTRY_URL, then `registry` in the config file,
    /// then https://packs.openwop.dev).
    #[arg(long, global = true, value_name = "URL")]
    pub registry: Option<String>,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The exit codes, shown under `--help`.
pub const EXIT_CODES: &str = "Exit codes:
  0  success
  1  a verification failed, or the registry refused the request (the error carries its code)
  2  usage, configuration, I/O or network error (the registry could not be reached)

Configuration: $OPENWOP_PACK_CONFIG, else $XDG_CONFIG_HOME/openwop/pack.toml, else
~/.config/openwop/pack.toml. Tokens: OPENWOP_TOKEN, else the config file (`pack login`).";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate an Ed25519 signing key: NAME.key (PKCS#8 PEM, mode 0600) and NAME.pub (SPKI PEM).
    Keygen(KeygenArgs),
    /// Write a new pack skeleton (pack.json, README.md, index.mjs, schemas/).
    Init(InitArgs),
    /// Build a deterministic, signed `<name>-<version>.tgz` and its detached `.sig`.
    Build(BuildArgs),
    /// (Re)write the detached `.sig` of a built tarball.
    Sign(SignArgs),
    /// Verify a tarball against a public key or a trust bundle.
    Verify(VerifyArgs),
    /// Resolve the manifest's dependencies into pack-lock.json.
    Lock(LockArgs),
    /// Resolve (or use the lockfile), download, verify and install packs into a host directory.
    Install(InstallArgs),
    /// Verify everything a lockfile locks and write it as an air-gap bundle (a static mirror).
    Bundle(BundleArgs),
    /// Registry operator commands: root key, keychain, trust bundles.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Upload a pack to the registry (building it first when given a directory).
    #[command(after_help = EXIT_CODES)]
    Publish(PublishArgs),
    /// Mark a version yanked: never chosen for a range again, still downloadable.
    #[command(after_help = EXIT_CODES)]
    Yank(YankArgs),
    /// Remove a yank (needs the `yank-revert` scope).
    #[command(after_help = EXIT_CODES)]
    Unyank(VersionArgs),
    /// Mark a version deprecated, with a reason and a successor.
    #[command(after_help = EXIT_CODES)]
    Deprecate(DeprecateArgs),
    /// Remove a deprecation.
    #[command(after_help = EXIT_CODES)]
    Undeprecate(VersionArgs),
    /// Security advisories (registry operators).
    #[command(subcommand)]
    Advisory(AdvisoryCommand),
    /// Search the registry by name, keywords, type ids and description.
    #[command(after_help = EXIT_CODES)]
    Search(SearchArgs),
    /// Show a pack: its versions (yanked/deprecated marked) and the version a range picks.
    #[command(after_help = EXIT_CODES)]
    Info(InfoArgs),
    /// Store a registry token in the config file (mode 0600).
    #[command(after_help = EXIT_CODES)]
    Login(LoginArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

/// `pack keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Key id; also the file stem of the two files written.
    #[arg(long, default_value = "pack-signing")]
    pub name: String,
    /// Directory to write the key files into.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out_dir: PathBuf,
    /// Replace existing key files.
    #[arg(long)]
    pub force: bool,
}

/// `pack init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to create the pack in (must be missing or empty).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Pack name, e.g. `vendor.acme.tools`.
    #[arg(long)]
    pub name: String,
    /// Initial version.
    #[arg(long, default_value = "0.1.0")]
    pub version: String,
    /// Pack kind (only `node` so far).
    #[arg(long, default_value = "node")]
    pub kind: String,
}

/// `pack build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The pack's source directory (holds pack.json).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Private key (PKCS#8 PEM) to sign with.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Key id the registry knows the key by (goes into pack.json `signing.publicKeyRef`).
    #[arg(long)]
    pub key_id: String,
    /// Where to write `<name>-<version>.tgz` and `.sig`.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out_dir: PathBuf,
    /// Signing convention (decisions §6: new packs are signed `manual`).
    #[arg(long, default_value = "manual", value_parser = ["manual"])]
    pub sign_method: String,
}

/// `pack sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The `.tgz` to sign.
    pub tarball: PathBuf,
    /// Private key (PKCS#8 PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Key id named in the pack's `signing.publicKeyRef`.
    #[arg(long)]
    pub key_id: String,
    /// Where to write the signature (default: the `.sig` next to the tarball).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `pack verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The `.tgz` to verify.
    pub tarball: PathBuf,
    /// Detached signature (default: the `.sig` next to the tarball).
    #[arg(long, value_name = "FILE")]
    pub sig: Option<PathBuf>,
    /// Served version manifest (`<version>.json`). Default: made from the tarball's pack.json
    /// with the integrity of the tarball as given.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Trust exactly this public key, for the pack's own name (a publisher checking a build).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["trust", "keychain"])]
    pub key: Option<PathBuf>,
    /// Trust bundle (default: the shipped bundle of the public reference registry).
    #[arg(long, value_name = "BUNDLE")]
    pub trust: Option<PathBuf>,
    /// The registry's signed version statement (required by rooted bundles).
    #[arg(long, value_name = "FILE")]
    pub statement: Option<PathBuf>,
    /// Keychain envelope to use instead of the one bundled with the trust bundle.
    #[arg(long, value_name = "FILE")]
    pub keychain: Option<PathBuf>,
    /// Accept an expired keychain (offline use only; a warning is always printed).
    #[arg(long)]
    pub allow_expired_metadata: bool,
}

/// The global `--registry` flag, seen from a subcommand. It shares the id `registry` with
/// [`Cli::registry`], so clap fills it from `pack --registry URL publish` and
/// `pack publish --registry URL` alike (commands receive only their own arguments).
#[derive(Debug, Clone, Default, Args)]
pub struct RegistryFlag {
    /// Registry base URL (default: OPENWOP_REGISTRY_URL, then the config file, then
    /// https://packs.openwop.dev).
    #[arg(long = "registry", id = "registry", value_name = "URL", global = true)]
    pub registry: Option<String>,
    /// Mirrors the global `--json` for commands that draw progress bars (hidden; same id).
    #[arg(long = "json", id = "json", global = true, hide = true)]
    pub json: bool,
}

/// `pack publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// A pack source directory (built and signed first) or a built `.tgz`.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Private key to sign with when building a directory.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Key id of `--key` (as the registry's keychain names it).
    #[arg(long, value_name = "ID")]
    pub key_id: Option<String>,
    /// Where a directory's build writes `<name>-<version>.tgz` and `.sig`.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out_dir: PathBuf,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryFlag,
}

/// `pack yank`.
#[derive(Debug, Args)]
pub struct YankArgs {
    /// `NAME@VERSION`.
    pub spec: String,
    /// Why (shown to everyone resolving the version).
    #[arg(long)]
    pub reason: Option<String>,
    /// A security advisory about it.
    #[arg(long, value_name = "URL")]
    pub advisory_url: Option<String>,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryFlag,
}

/// `pack unyank`, `pack undeprecate`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// `NAME@VERSION`.
    pub spec: String,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryFlag,
}

/// `pack deprecate`.
#[derive(Debug, Args)]
pub struct DeprecateArgs {
    /// `NAME@VERSION`.
    pub spec: String,
    /// Why.
    #[arg(long)]
    pub reason: Option<String>,
    /// What to use instead, e.g. `vendor.acme.tools@2.0.0`.
    #[arg(long, value_name = "SPEC")]
    pub superseded_by: Option<String>,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryFlag,
}

/// `pack advisory …`.
#[derive(Debug, Subcommand)]
pub enum AdvisoryCommand {
    /// Publish an advisory (JSON: id, summary, affected[{packName, versions, fixedIn}]); every
    /// version it matches is yanked. Needs an admin token.
    #[command(after_help = EXIT_CODES)]
    Add(AdvisoryAddArgs),
}

/// `pack advisory add`.
#[derive(Debug, Args)]
pub struct AdvisoryAddArgs {
    /// The advisory document.
    pub file: PathBuf,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryFlag,
}

/// `pack search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words that must all match.
    #[arg(required = true, num_args = 1..)]
    pub query: Vec<String>,
    /// Result page, from 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub page: u32,
    /// Results per page (1–100).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub per_page: u32,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryFlag,
}

/// `pack info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// `NAME` or `NAME@RANGE` (node-semver, e.g. `vendor.acme.tools@^1.2`).
    pub spec: String,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryFlag,
}

/// `pack login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Read the token from standard input (for scripts) instead of prompting.
    #[arg(long)]
    pub token_stdin: bool,
    /// The registry the token is for.
    #[command(flatten)]
    pub registry: RegistryFlag,
}

/// `pack completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `pack keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a registry root key and the trust bundle (`trust.json`) that pins it.
    RootInit(RootInitArgs),
    /// Sign a keychain document with the root key into a signed envelope.
    KeychainSign(KeychainSignArgs),
    /// Show how a trust bundle would change, and change it with `--write`.
    BundleUpdate(BundleUpdateArgs),
}

/// `pack keys root-init`.
#[derive(Debug, Args)]
pub struct RootInitArgs {
    /// Base URL of the registry the root speaks for.
    #[arg(long)]
    pub registry: String,
    /// Directory for the root key pair and `trust.json`.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Root key id.
    #[arg(long, default_value = "openwop-registry-root")]
    pub key_id: String,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

/// `pack keys keychain-sign`.
#[derive(Debug, Args)]
pub struct KeychainSignArgs {
    /// Root private key (PKCS#8 PEM).
    #[arg(long, value_name = "FILE")]
    pub root: PathBuf,
    /// Root key id (as pinned in the trust bundle).
    #[arg(long, default_value = "openwop-registry-root")]
    pub root_key_id: String,
    /// Keychain spec: `{"registry", "version"?, "keys": [...]}` (see docs/trust-model.md).
    #[arg(long, value_name = "FILE")]
    pub spec: PathBuf,
    /// Expiry, in days from now (overrides the spec's `expiresAt`).
    #[arg(long, value_name = "DAYS")]
    pub expires_in_days: Option<u32>,
    /// The currently published signed keychain; the new `version` must be higher.
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    /// Where to write the signed keychain envelope.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: PathBuf,
}

/// `pack keys bundle-update`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["keychain", "from"])))]
pub struct BundleUpdateArgs {
    /// The trust bundle file to update.
    pub bundle: PathBuf,
    /// A signed keychain to bundle (rooted bundles): verified against the pinned root.
    #[arg(long, value_name = "FILE")]
    pub keychain: Option<PathBuf>,
    /// A registry tree holding `.well-known/openwop-registry.json` and `keys/` (pinned-key
    /// bundles such as the reference registry's).
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Write the updated bundle (without it, only the difference is shown).
    #[arg(long)]
    pub write: bool,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::CommandFactory as _;

    #[test]
    fn definitions_are_consistent() {
        super::Cli::command().debug_assert();
    }

    /// Every `` `pack …` `` command that a message, hint or comment in the three crates names
    /// resolves against these definitions: its subcommands exist and every flag it shows is one
    /// that command (or `pack` itself) takes. A hint that sends someone to a flag that is not
    /// there is a bug the person meets at the worst moment.
    #[test]
    fn commands_named_in_messages_exist() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut spans = Vec::new();
        for dir in ["pack-cli/src", "pack-verify/src", "registry-server/src"] {
            collect(&root.join(dir), &mut spans);
        }
        assert!(spans.len() > 50, "found only {} `pack …` commands in the sources; did the scan break?", spans.len());
        let cli = super::Cli::command();
        let wrong: Vec<String> = spans
            .iter()
            .filter_map(|(file, span)| resolve(&cli, span).err().map(|why| format!("{file}: `{span}`: {why}")))
            .collect();
        assert!(wrong.is_empty(), "messages name commands or flags that do not exist:\n{}", wrong.join("\n"));
    }

    #[test]
    fn the_command_check_refuses_what_does_not_exist() {
        let cli = super::Cli::command();
        assert_eq!(resolve(&cli, "pack build --key … --key-id …"), Ok(()));
        assert_eq!(resolve(&cli, "pack --registry URL publish"), Ok(()));
        assert_eq!(resolve(&cli, "pack bundle --lockfile pack-lock.json -o bundle.tar [--offline]"), Ok(()));
        assert!(resolve(&cli, "pack sign --method manual").is_err());
        assert!(resolve(&cli, "pack keys root-init --name x").is_err());
        assert!(resolve(&cli, "pack keys rotate").is_err());
        assert!(resolve(&cli, "pack frobnicate").is_err());
        assert!(resolve(&cli, "pack install --allow-expired-metadata").is_err());
    }

    /// `(file, text)` of every backquoted span starting with `pack ` on one line.
    fn collect(dir: &Path, out: &mut Vec<(String, String)>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                collect(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                for line in text.lines() {
                    for (start, _) in line.match_indices("`pack ") {
                        let rest = &line[start + 1..];
                        if let Some(end) = rest.find('`') {
                            out.push((path.display().to_string(), rest[..end].to_string()));
                        }
                    }
                }
            }
        }
    }

    /// Walks `span`'s words down the command tree.
    fn resolve(root: &clap::Command, span: &str) -> Result<(), String> {
        let mut chain = vec![root];
        let mut value_next = false;
        for word in span.split_whitespace().skip(1).map(|w| w.trim_matches(|c| c == '[' || c == ']')) {
            let here = *chain.last().expect("the chain starts at the root");
            let flag = match (word.strip_prefix("--"), word.strip_prefix('-')) {
                (Some(long), _) => Some(long.split('=').next().unwrap_or(long)),
                (None, Some(short)) if short.len() == 1 => Some(short),
                _ => None,
            };
            if let Some(flag) = flag {
                if flag == "help" {
                    continue;
                }
                let arg = chain.iter().rev().find_map(|c| {
                    c.get_arguments().find(|a| {
                        a.get_long() == Some(flag)
                            || (flag.len() == 1 && a.get_short().map(String::from).as_deref() == Some(flag))
                    })
                });
                let Some(arg) = arg else { return Err(format!("`{}` takes no {word}", here.get_name())) };
                value_next = arg.get_action().takes_values() && !word.contains('=');
            } else if value_next {
                value_next = false;
            } else if let Some(sub) = here.find_subcommand(word) {
                chain.push(sub);
            } else if here.has_subcommands() && word.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                return Err(format!("`{}` has no subcommand `{word}`", here.get_name()));
            }
        }
        // `pack …` stands for any command.
        let any = span.split_whitespace().skip(1).all(|w| w == "…");
        if chain.len() == 1 && !any { Err("names no subcommand".into()) } else { Ok(()) }
    }
}

/// Flags shared by `pack lock` and `pack install`.
#[derive(Debug, Clone, Default, Args)]
pub struct ResolveFlags {
    /// Fail instead of changing the lockfile.
    #[arg(long)]
    pub locked: bool,
    /// Use the lockfile exactly as it is and never touch the network.
    #[arg(long)]
    pub frozen: bool,
    /// Never touch the network (packs come from the cache; the lockfile must cover everything).
    #[arg(long)]
    pub offline: bool,
    /// Accept versions matched by this advisory id (repeatable).
    #[arg(long = "allow-advisory", value_name = "ID")]
    pub allow_advisories: Vec<String>,
    /// Force an exact version ahead of ranges: NAME=VERSION (repeatable; recorded in the lockfile).
    #[arg(long = "override", value_name = "NAME=VERSION")]
    pub overrides: Vec<String>,
}

/// `pack lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// The manifest whose `dependencies` to resolve.
    #[arg(long, default_value = "openwop-packs.json")]
    pub manifest: PathBuf,
    /// The lockfile (default: pack-lock.json beside the manifest).
    #[arg(long)]
    pub lockfile: Option<PathBuf>,
    /// Parallel requests for pack indexes and manifests while resolving (default: 16, or 100 to
    /// registries that answer over HTTP/2; at most 256).
    #[arg(long)]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub resolve: ResolveFlags,
    #[command(flatten)]
    pub registry: RegistryFlag,
}

/// `pack bundle`.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The lockfile whose packs to bundle.
    #[arg(long, default_value = "pack-lock.json")]
    pub lockfile: PathBuf,
    /// The bundle to write (`.tar`; `.tar.gz` or `.tgz` for gzip).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: PathBuf,
    /// Take every version from the download cache; never touch the network.
    #[arg(long, visible_alias = "from-cache")]
    pub offline: bool,
    /// The download cache (default: $PACK_CACHE_DIR or $XDG_CACHE_HOME/openwop/packs).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Parallel downloads (default: 16, or 100 to registries that answer over HTTP/2; at most
    /// 256).
    #[arg(long)]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub registry: RegistryFlag,
}

/// `pack install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Packs to add, as NAME or NAME@RANGE (added to the manifest after a successful install).
    pub packs: Vec<String>,
    /// The host directory to install into (`packs/` and `pack-lock.json` live there).
    #[arg(long, value_name = "DIR")]
    pub host_dir: PathBuf,
    /// The manifest (default: <host-dir>/openwop-packs.json).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// The lockfile (default: <host-dir>/pack-lock.json).
    #[arg(long)]
    pub lockfile: Option<PathBuf>,
    /// The download cache (default: $PACK_CACHE_DIR or $XDG_CACHE_HOME/openwop/packs).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Parallel downloads (and requests for pack indexes and manifests while resolving; default:
    /// 16, or 100 to registries that answer over HTTP/2; at most 256).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Check peerDependencies against this host's /.well-known/openwop capabilities.
    #[arg(long, value_name = "URL")]
    pub host_url: Option<String>,
    /// Check peerDependencies against capabilities in this JSON file.
    #[arg(long, value_name = "FILE", conflicts_with = "host_url")]
    pub host_capabilities: Option<PathBuf>,
    /// Refuse a mirror whose signed status shows an upstream not synced within this long
    /// (e.g. 90s, 15m, 2h, 7d).
    #[arg(long, value_name = "DURATION")]
    pub max_staleness: Option<String>,
    #[command(flatten)]
    pub resolve: ResolveFlags,
    #[command(flatten)]
    pub registry: RegistryFlag,
}

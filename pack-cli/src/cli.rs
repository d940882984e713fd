//! The command line: clap definitions only. Each subcommand's flags are turned into options and
//! run by `commands::<name>::exec`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Build, sign and verify OpenWOP packs; manage registry trust roots.
#[derive(Debug, Parser)]
#[command(name = "pack", version, about = "Build, sign and verify OpenWOP packs; manage registry trust roots.")]
pub struct Cli {
    /// Print machine-readable JSON Lines (the last line is the result or the error).
    #[arg(long, global = true)]
    pub json: bool,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

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
    /// Registry operator commands: root key, keychain, trust bundles.
    #[command(subcommand)]
    Keys(KeysCommand),
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
    use clap::CommandFactory as _;

    #[test]
    fn definitions_are_consistent() {
        super::Cli::command().debug_assert();
    }
}

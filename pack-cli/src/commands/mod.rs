//! One module per subcommand: each turns its flags into options, calls `ops`, and describes the
//! result as an [`Outcome`].

pub mod build;
pub mod init;
pub mod keygen;
pub mod keys;
pub mod sign;
pub mod verify;

use crate::cli::{Command, KeysCommand};
use crate::error::CliResult;
use crate::output::{Outcome, Shell};

/// Runs one command.
pub fn exec(command: Command, shell: &Shell) -> CliResult<Outcome> {
    match command {
        Command::Keygen(args) => keygen::exec(&args, shell),
        Command::Init(args) => init::exec(&args, shell),
        Command::Build(args) => build::exec(&args, shell),
        Command::Sign(args) => sign::exec(&args, shell),
        Command::Verify(args) => verify::exec(&args, shell),
        Command::Keys(KeysCommand::RootInit(args)) => keys::root_init(&args, shell),
        Command::Keys(KeysCommand::KeychainSign(args)) => keys::keychain_sign(&args, shell),
        Command::Keys(KeysCommand::BundleUpdate(args)) => keys::bundle_update(&args, shell),
    }
}

//! One module per subcommand: each turns its flags into options, calls `ops`, and describes the
//! result as an [`Outcome`].

pub mod advisory;
pub mod build;
pub mod bundle;
pub mod completions;
pub mod deprecate;
pub mod info;
pub mod init;
pub mod install;
pub mod keygen;
pub mod keys;
pub mod login;
pub mod publish;
pub mod search;
pub mod sign;
pub mod verify;
pub mod yank;

use crate::cli::{AdvisoryCommand, Command, KeysCommand};
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
        Command::Lock(args) => install::exec_lock(&args, shell),
        Command::Install(args) => install::exec_install(&args, shell),
        Command::Bundle(args) => bundle::exec(&args, shell),
        Command::Publish(args) => publish::exec(&args, shell),
        Command::Yank(args) => yank::yank(&args, shell),
        Command::Unyank(args) => yank::unyank(&args, shell),
        Command::Deprecate(args) => deprecate::deprecate(&args, shell),
        Command::Undeprecate(args) => deprecate::undeprecate(&args, shell),
        Command::Advisory(AdvisoryCommand::Add(args)) => advisory::add(&args, shell),
        Command::Search(args) => search::exec(&args, shell),
        Command::Info(args) => info::exec(&args, shell),
        Command::Login(args) => login::exec(&args, shell),
        Command::Completions(args) => completions::exec(&args, shell),
    }
}

//! `pack`: build, sign, publish, resolve, install and verify OpenWOP packs; manage registry trust.
//!
//! Flags are parsed in `cli`, each subcommand lives in `commands`, and everything printed goes
//! through `output::Shell` (all in the `pack_cli` library). Exit codes: 0 success, 1 a
//! verification failed or a registry refused the request, 2 a usage, configuration, I/O or
//! network error.

use std::process::ExitCode;

use pack_cli::{cli, commands, output};

use clap::Parser as _;

/// Install downloads, unpacks, verifies and writes on several threads; mimalloc avoids glibc's
/// per-thread arena growth and trimming around those short-lived buffers (docs/performance-log.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let shell = output::Shell::new(cli.json);
    match commands::exec(cli.command, &shell) {
        Ok(outcome) => {
            shell.outcome(&outcome);
            ExitCode::SUCCESS
        }
        Err(err) => {
            shell.error(&err);
            ExitCode::from(err.exit.code())
        }
    }
}

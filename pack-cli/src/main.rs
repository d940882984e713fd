//! `pack`: build, sign and verify OpenWOP packs, and manage registry trust roots.
//!
//! Flags are parsed in [`cli`], each subcommand lives in [`commands`], the work in [`ops`], and
//! everything printed goes through [`output::Shell`]. Exit codes: 0 success, 1 a verification
//! failed, 2 a usage or I/O error.

use std::process::ExitCode;

use pack_cli::{cli, commands, output};

use clap::Parser as _;

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

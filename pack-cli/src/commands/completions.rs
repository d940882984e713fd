//! `pack completions`.

use clap::CommandFactory as _;
use serde_json::json;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::CliResult;
use crate::output::{Outcome, Shell};

/// Prints the completion script for a shell.
pub fn exec(args: &CompletionsArgs, _shell: &Shell) -> CliResult<Outcome> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "pack", &mut script);
    let script = String::from_utf8_lossy(&script).into_owned();
    let human = vec![script.trim_end().to_string()];
    Ok(Outcome::new("completions", json!({"shell": args.shell.to_string(), "script": script}), human))
}

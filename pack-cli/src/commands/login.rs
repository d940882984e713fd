//! `pack login`: store a registry token in the config file.

use std::io::{BufRead as _, IsTerminal as _, Read as _};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::cli::LoginArgs;
use crate::config::Config;
use crate::error::{CliError, CliResult};
use crate::output::{Outcome, Shell};

/// Turns terminal echo off (or back on) with `stty`, so a pasted token is not left on screen.
/// Best effort: where `stty` is missing the token is read with echo.
fn echo(on: bool) -> bool {
    Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(Stdio::inherit())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn read_token(from_stdin: bool, url: &str) -> CliResult<String> {
    let stdin = std::io::stdin();
    let mut text = String::new();
    let io = |e: std::io::Error| CliError::usage("io_error", format!("cannot read the token: {e}"), "retry");
    if !from_stdin && stdin.is_terminal() {
        eprint!("token for {url}: ");
        let hidden = echo(false);
        let read = stdin.lock().read_line(&mut text);
        if hidden {
            echo(true);
            eprintln!();
        }
        read.map_err(io)?;
    } else {
        // Bounded: a token is short, and a mistaken pipe must not fill memory.
        stdin.lock().take(16 * 1024).read_to_string(&mut text).map_err(io)?;
    }
    let token = text.trim().to_string();
    if token.is_empty() || token.len() > 4096 || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CliError::usage(
            "token_invalid",
            "the token is empty or contains spaces or control characters",
            "paste exactly the token `registry-server token create` printed, e.g. `echo \"$TOKEN\" | pack login --token-stdin`",
        ));
    }
    Ok(token)
}

/// Stores a token for the chosen registry.
pub fn exec(args: &LoginArgs, shell: &Shell) -> CliResult<Outcome> {
    let mut config = Config::load()?;
    let url = config.registry_url(args.registry.registry.as_deref())?;
    let token = read_token(args.token_stdin, &url)?;
    config.store_token(&url, &token)?;
    shell.status("Saved", &format!("token for {url} in {}", config.path().display()));
    if std::env::var_os(crate::config::ENV_TOKEN).is_some() {
        shell.warn("OPENWOP_TOKEN is set and takes precedence over the stored token");
    }
    let path = config.path().display().to_string();
    Ok(Outcome::new(
        "login",
        json!({"registry": url, "config": path}),
        vec![format!("logged in to {url} (token stored in {path}, mode 0600)")],
    ))
}

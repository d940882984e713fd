//! `pack advisory add`.

use serde_json::{Value, json};

use crate::cli::AdvisoryAddArgs;
use crate::config::Config;
use crate::error::{CliError, CliResult};
use crate::ops::fsutil;
use crate::output::{Outcome, Shell};

/// Publishes an advisory; the registry yanks every version it matches.
pub fn add(args: &AdvisoryAddArgs, shell: &Shell) -> CliResult<Outcome> {
    let bytes = fsutil::read(&args.file)?;
    let advisory: Value = serde_json::from_slice(&bytes).map_err(|e| {
        CliError::usage("advisory_invalid", format!("the advisory is not JSON: {e}"), "pass a JSON advisory document")
            .at(&args.file)
    })?;
    if !advisory.is_object() {
        return Err(CliError::usage(
            "advisory_invalid",
            "the advisory is not a JSON object",
            "see `pack advisory add --help`",
        )
        .at(&args.file));
    }
    let id = advisory["id"].as_str().unwrap_or("(no id)").to_string();
    let client = Config::load()?.client(args.registry.registry.as_deref())?;
    shell.status("Publishing", &format!("advisory {id} to {}", client.base_url()));
    let answer = client.post_advisory(&advisory).map_err(|e| CliError::from_registry(&e).at(&args.file))?;
    let yanked: Vec<String> =
        answer["yanked"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect();
    let mut human = vec![format!("published advisory {id} on {}", client.base_url())];
    if yanked.is_empty() {
        human.push("  no published version matched; nothing was yanked".into());
    }
    human.extend(yanked.iter().map(|v| format!("  yanked {v}")));
    Ok(Outcome::new("advisory", json!({"registry": client.base_url(), "id": id, "yanked": yanked}), human))
}

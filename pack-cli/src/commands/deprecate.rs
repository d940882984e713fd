//! `pack deprecate` and `pack undeprecate`.

use crate::cli::{DeprecateArgs, VersionArgs};
use crate::commands::yank::{lifecycle_outcome, parse_spec};
use crate::config::Config;
use crate::error::{CliError, CliResult};
use crate::output::{Outcome, Shell};

/// Deprecates a version.
pub fn deprecate(args: &DeprecateArgs, shell: &Shell) -> CliResult<Outcome> {
    let (name, version) = parse_spec(&args.spec)?;
    let client = Config::load()?.client(args.registry.registry.as_deref())?;
    shell.status("Deprecating", &format!("{name}@{version} on {}", client.base_url()));
    let manifest = client
        .deprecate(&name, &version, args.reason.as_deref(), args.superseded_by.as_deref())
        .map_err(|e| CliError::from_registry(&e))?;
    Ok(lifecycle_outcome("deprecated", client.base_url(), &name, &version, &manifest))
}

/// Removes a deprecation.
pub fn undeprecate(args: &VersionArgs, shell: &Shell) -> CliResult<Outcome> {
    let (name, version) = parse_spec(&args.spec)?;
    let client = Config::load()?.client(args.registry.registry.as_deref())?;
    shell.status("Undeprecating", &format!("{name}@{version} on {}", client.base_url()));
    let manifest = client.undeprecate(&name, &version).map_err(|e| CliError::from_registry(&e))?;
    Ok(lifecycle_outcome("undeprecated", client.base_url(), &name, &version, &manifest))
}

//! `pack yank` and `pack unyank`.

use pack_verify::manifest::Lifecycle;
use serde_json::{Value, json};

use crate::cli::{VersionArgs, YankArgs};
use crate::config::Config;
use crate::error::{CliError, CliResult};
use crate::ops::names::{check_pack_name, check_version};
use crate::output::{Outcome, Shell};

/// Splits `NAME@VERSION` and checks both halves.
pub fn parse_spec(spec: &str) -> CliResult<(String, String)> {
    let Some((name, version)) = spec.split_once('@') else {
        return Err(CliError::usage(
            "invalid_spec",
            format!("`{spec}` names no version"),
            "write NAME@VERSION, e.g. vendor.acme.tools@1.2.0",
        ));
    };
    check_pack_name(name)?;
    check_version(version)?;
    Ok((name.to_string(), version.to_string()))
}

/// The facts every lifecycle command reports: the version and its markers after the change.
pub fn lifecycle_outcome(reason: &'static str, registry: &str, name: &str, version: &str, manifest: &Value) -> Outcome {
    let Lifecycle { yanked, yanked_reason, deprecation } = Lifecycle::from_value(manifest);
    let mut human = vec![format!("{reason} {name}@{version} on {registry}")];
    if yanked {
        human.push(format!("  yanked:     yes{}", suffix(yanked_reason.as_deref())));
    }
    if let Some(d) = &deprecation {
        human.push(format!("  deprecated: yes{}", suffix(d.reason.as_deref())));
        if let Some(s) = &d.superseded_by {
            human.push(format!("  use:        {s}"));
        }
    }
    Outcome::new(
        reason,
        json!({
            "registry": registry,
            "name": name,
            "version": version,
            "yanked": yanked,
            "yankedReason": yanked_reason,
            "deprecated": deprecation.is_some(),
            "deprecationReason": deprecation.as_ref().and_then(|d| d.reason.as_deref()),
            "supersededBy": deprecation.as_ref().and_then(|d| d.superseded_by.as_deref()),
        }),
        human,
    )
}

fn suffix(reason: Option<&str>) -> String {
    reason.map(|r| format!(" ({r})")).unwrap_or_default()
}

/// Yanks a version.
pub fn yank(args: &YankArgs, shell: &Shell) -> CliResult<Outcome> {
    let (name, version) = parse_spec(&args.spec)?;
    let client = Config::load()?.client(args.registry.registry.as_deref())?;
    shell.status("Yanking", &format!("{name}@{version} on {}", client.base_url()));
    let manifest = client
        .yank(&name, &version, args.reason.as_deref(), args.advisory_url.as_deref())
        .map_err(|e| CliError::from_registry(&e))?;
    Ok(lifecycle_outcome("yanked", client.base_url(), &name, &version, &manifest))
}

/// Removes a yank.
pub fn unyank(args: &VersionArgs, shell: &Shell) -> CliResult<Outcome> {
    let (name, version) = parse_spec(&args.spec)?;
    let client = Config::load()?.client(args.registry.registry.as_deref())?;
    shell.status("Unyanking", &format!("{name}@{version} on {}", client.base_url()));
    let manifest = client.unyank(&name, &version).map_err(|e| CliError::from_registry(&e))?;
    Ok(lifecycle_outcome("unyanked", client.base_url(), &name, &version, &manifest))
}

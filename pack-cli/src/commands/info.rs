//! `pack info NAME[@RANGE]`.

use pack_verify::manifest::Lifecycle;
use pack_verify::range::Range;
use semver::Version;
use serde_json::{Map, Value, json};

use crate::cli::InfoArgs;
use crate::config::Config;
use crate::error::{CliError, CliResult};
use crate::ops::names::check_pack_name;
use crate::output::{Outcome, Shell};
use crate::registry::RegistryError;

/// The version `range` picks from a pack index: the highest unyanked match (decisions §5, §11).
/// Without a range: the index's `latest` (yank-aware on our registry), else the highest unyanked.
pub fn pick(index: &Value, range: Option<&Range>) -> Option<String> {
    let versions = index["versions"].as_array()?;
    let candidates: Vec<Version> = versions
        .iter()
        .filter(|v| !Lifecycle::from_value(v).yanked)
        .filter_map(|v| v["version"].as_str().and_then(|s| Version::parse(s).ok()))
        .collect();
    // Without a range, a prerelease is shown only when nothing else is left.
    let highest = || {
        let stable = candidates.iter().filter(|v| v.pre.is_empty()).max();
        stable.or_else(|| candidates.iter().max()).map(Version::to_string)
    };
    match range {
        Some(range) => candidates.iter().filter(|v| range.matches(v)).max().map(Version::to_string),
        None => {
            let latest = index["latest"].as_str().filter(|l| {
                versions.iter().any(|v| v["version"].as_str() == Some(*l) && !Lifecycle::from_value(v).yanked)
            });
            latest.map(str::to_string).or_else(highest)
        }
    }
}

fn deps(manifest: &Value, key: &str) -> Map<String, Value> {
    manifest[key].as_object().cloned().unwrap_or_default()
}

fn dep_line(deps: &Map<String, Value>) -> String {
    if deps.is_empty() {
        return "none".into();
    }
    deps.iter().map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or("?"))).collect::<Vec<_>>().join(", ")
}

/// Shows a pack.
pub fn exec(args: &InfoArgs, shell: &Shell) -> CliResult<Outcome> {
    let (name, range_text) = match args.spec.split_once('@') {
        Some((n, r)) => (n, Some(r)),
        None => (args.spec.as_str(), None),
    };
    check_pack_name(name)?;
    let range = range_text
        .map(|r| {
            Range::parse(r).map_err(|e| {
                CliError::usage("invalid_range", e.to_string(), "use node-semver syntax, e.g. ^1.2, ~1.2.3, >=1 <2")
            })
        })
        .transpose()?;
    let client = Config::load()?.client(args.registry.registry.as_deref())?;
    shell.status("Fetching", &format!("{name} from {}", client.base_url()));
    let index = client.pack_index(name).map_err(|e| CliError::from_registry(&e))?.ok_or_else(|| {
        let missing = RegistryError {
            status: Some(404),
            code: "not_found".into(),
            message: format!("the registry has no pack `{name}`"),
            details: None,
            url: client.url(&format!("/v1/packs/{name}/index.json")),
        };
        CliError::from_registry(&missing).hint("check the name, or find it with `pack search WORDS`")
    })?;
    let chosen = pick(&index, range.as_ref()).ok_or_else(|| {
        CliError::verification(
            "pack_version_not_found",
            format!("no unyanked version of {name} matches `{}`", range_text.unwrap_or("*")),
            "widen the range; `pack info NAME` lists every version",
        )
    })?;
    let manifest_bytes =
        client.version_manifest(name, &chosen).map_err(|e| CliError::from_registry(&e))?.ok_or_else(|| {
            CliError::verification("pack_version_not_found", format!("{name}@{chosen} has no manifest"), "retry later")
        })?;
    let manifest: Value = serde_json::from_slice(&manifest_bytes).map_err(|e| {
        CliError::verification(
            "registry_response_invalid",
            format!("the version manifest is not JSON: {e}"),
            "report it to the registry operator",
        )
    })?;
    let signing = &manifest["signing"];
    let signer = signing["publicKeyRef"].as_str().or(signing["keyId"].as_str()).unwrap_or("openwop-registry-root");
    let method = signing["method"].as_str().unwrap_or("ed25519");
    let dependencies = deps(&manifest, "dependencies");
    let peers = deps(&manifest, "peerDependencies");
    let versions: Vec<Value> = index["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            let lifecycle = Lifecycle::from_value(v);
            json!({
                "version": v["version"],
                "yanked": lifecycle.yanked,
                "deprecated": lifecycle.deprecated(),
                "publishedAt": v.get("publishedAt"),
            })
        })
        .collect();
    let version_list = versions
        .iter()
        .map(|v| {
            let mut s = v["version"].as_str().unwrap_or("?").to_string();
            if v["yanked"] == true {
                s.push_str(" [yanked]");
            }
            if v["deprecated"] == true {
                s.push_str(" [deprecated]");
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ");
    let latest = index["latest"].as_str();
    let mut human = vec![format!(
        "{name}@{chosen}{}",
        match range_text {
            Some(r) => format!("  (best match for `{r}`; latest {})", latest.unwrap_or("-")),
            None => String::new(),
        }
    )];
    if let Some(d) = manifest["description"].as_str().or(index["description"].as_str()) {
        human.push(format!("  description:  {d}"));
    }
    human.push(format!("  latest:       {}", latest.unwrap_or("-")));
    human.push(format!("  integrity:    {}", manifest["integrity"].as_str().unwrap_or("-")));
    human.push(format!("  signer:       {signer} ({method})"));
    human.push(format!("  dependencies: {}", dep_line(&dependencies)));
    if !peers.is_empty() {
        human.push(format!("  peers:        {}", dep_line(&peers)));
    }
    let deprecation = Lifecycle::from_value(&manifest).deprecation;
    if let Some(d) = &deprecation {
        human.push(format!("  deprecated:   {}", d.reason.as_deref().unwrap_or("no reason given")));
        if let Some(successor) = &d.superseded_by {
            human.push(format!("  use instead:  {successor}"));
        }
    }
    human.push(format!("  versions:     {version_list}"));
    Ok(Outcome::new(
        "info",
        json!({
            "registry": client.base_url(),
            "name": name,
            "range": range_text,
            "version": chosen,
            "latest": latest,
            "description": manifest.get("description").or(index.get("description")),
            "integrity": manifest.get("integrity"),
            "signer": signer,
            "signingMethod": method,
            "dependencies": dependencies,
            "peerDependencies": peers,
            "deprecated": deprecation.is_some(),
            "deprecationReason": deprecation.as_ref().and_then(|d| d.reason.as_deref()),
            "supersededBy": deprecation.as_ref().and_then(|d| d.superseded_by.as_deref()),
            "versions": versions,
        }),
        human,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_highest_unyanked_match() {
        let index = json!({"latest": "1.2.0", "versions": [
            {"version": "1.0.0"}, {"version": "1.1.0"}, {"version": "1.2.0", "yanked": true},
            {"version": "2.0.0-rc.1"}
        ]});
        let range = |r: &str| Range::parse(r).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pick(&index, Some(&range("^1"))).as_deref(), Some("1.1.0"));
        assert_eq!(pick(&index, Some(&range("^3"))), None);
        // A yanked `latest` (the v1 tree has two) is never the answer.
        assert_eq!(pick(&index, None).as_deref(), Some("1.1.0"));
    }
}

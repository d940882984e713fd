//! Validation of the names the contract constrains: pack names, versions, key ids.

use crate::error::{CliError, CliResult};

fn from_name_error(e: &pack_verify::names::NameError) -> CliError {
    CliError::usage(e.code(), e.to_string(), e.hint())
}

/// Checks a pack name against the contract's rule (§3.4), shared with the registry.
pub fn check_pack_name(name: &str) -> CliResult<()> {
    pack_verify::names::check_pack_name(name).map_err(|e| from_name_error(&e))
}

/// Checks a version against the contract's SemVer pattern (§3.5), shared with the registry.
pub fn check_version(version: &str) -> CliResult<()> {
    pack_verify::names::check_version(version).map(drop).map_err(|e| from_name_error(&e))
}

/// Checks a key id: it names files and travels in `signing.publicKeyRef`.
pub fn check_key_id(id: &str) -> CliResult<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(CliError::usage(
            "invalid_key_id",
            format!("`{id}` is not a valid key id"),
            "use 1-128 characters: letters, digits, `.`, `_` and `-`, starting with a letter or digit (e.g. acme-1)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_names_follow_the_contract() {
        for ok in
            ["vendor.acme.tools", "core.openwop.agents.api-designer", "community.openwop-team.demo", "vendor.a.bC"]
        {
            assert!(check_pack_name(ok).is_ok(), "{ok}");
        }
        for bad in
            ["acme.tools", "vendor.acme", "vendor.Acme.tools", "local.x.y", "vendor.acme..x", "vendor.acme.1x", ""]
        {
            assert!(check_pack_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_follow_semver_pattern() {
        for ok in ["0.1.0", "1.2.3-beta.1", "1.2.3+build.5", "1.2.3-rc-1+x"] {
            assert!(check_version(ok).is_ok(), "{ok}");
        }
        for bad in ["1.2", "1.2.3.4", "v1.2.3", "1.2.3-", "1.2.x"] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }
}

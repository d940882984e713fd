//! Validation of the names the contract constrains: pack names, versions, key ids.

use crate::error::{CliError, CliResult};

fn is_lower_start(segment: &str) -> bool {
    segment.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

/// Checks a pack name against the contract's rule (§3.4):
/// `^(core|vendor|community|private)\.[a-z][a-z0-9_-]*(\.[a-z][a-zA-Z0-9_-]*)+$`, 1–256 chars.
pub fn check_pack_name(name: &str) -> CliResult<()> {
    let bad = |why: &str| {
        CliError::usage(
            "invalid_pack_name",
            format!("`{name}` is not a valid pack name: {why}"),
            "use dot-separated lowercase segments under a scope, e.g. `vendor.acme.tools` \
             (scopes: core, vendor, community, private)",
        )
    };
    if name.is_empty() || name.len() > 256 {
        return Err(bad("it must be 1 to 256 characters long"));
    }
    let segments: Vec<&str> = name.split('.').collect();
    if segments.len() < 3 {
        return Err(bad("it needs a scope and at least two more segments"));
    }
    if !matches!(segments[0], "core" | "vendor" | "community" | "private") {
        return Err(bad("the first segment must be core, vendor, community or private"));
    }
    let org = segments[1];
    if !is_lower_start(org)
        || !org.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(bad("the second segment must start with a-z and hold only a-z, 0-9, `_` and `-`"));
    }
    for segment in &segments[2..] {
        if !is_lower_start(segment) || !segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(bad("each later segment must start with a-z and hold only letters, digits, `_` and `-`"));
        }
    }
    Ok(())
}

fn ident_ok(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Checks a version against the contract's SemVer pattern (§3.5).
pub fn check_version(version: &str) -> CliResult<()> {
    let bad = || {
        CliError::usage(
            "invalid_version",
            format!("`{version}` is not a SemVer 2.0.0 version"),
            "use MAJOR.MINOR.PATCH, optionally with -prerelease and +build, e.g. 0.1.0",
        )
    };
    let (rest, build) = match version.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (version, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    if numbers.len() != 3 || numbers.iter().any(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad());
    }
    if pre.is_some_and(|p| !ident_ok(p)) || build.is_some_and(|b| !ident_ok(b)) {
        return Err(bad());
    }
    Ok(())
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

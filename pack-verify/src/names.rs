//! The naming rules of the contract (§3.4, §3.5): pack names, scopes and versions. Shared by the
//! CLI (init, build) and the registry (publish URLs) so both refuse exactly the same names.

/// Why a name or version was refused; [`NameError::code`] is the contract's code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The first segment is not one of the scopes a registry accepts.
    #[error("`{name}` is not under an accepted scope: {why}")]
    Scope {
        /// The refused name (truncated).
        name: String,
        /// Which rule.
        why: &'static str,
    },
    /// The name breaks the pack-name pattern.
    #[error("`{name}` is not a valid pack name: {why}")]
    Name {
        /// The refused name (truncated).
        name: String,
        /// Which rule.
        why: &'static str,
    },
    /// Not a SemVer 2.0.0 version.
    #[error("`{version}` is not a SemVer 2.0.0 version")]
    Version {
        /// The refused version (truncated).
        version: String,
    },
}

impl NameError {
    /// `invalid_pack_scope`, `invalid_pack_name` or `invalid_version`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Scope { .. } => "invalid_pack_scope",
            Self::Name { .. } => "invalid_pack_name",
            Self::Version { .. } => "invalid_version",
        }
    }

    /// How to fix it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Scope { .. } => {
                "publish under core., vendor.<org>., community.<author>. or (self-hosted registries only) \
                 private.<host>.; local.* is never published"
            }
            Self::Name { .. } => {
                "use dot-separated lowercase segments under a scope, e.g. `vendor.acme.tools` \
                 (scopes: core, vendor, community, private)"
            }
            Self::Version { .. } => "use MAJOR.MINOR.PATCH, optionally with -prerelease and +build, e.g. 0.1.0",
        }
    }
}

/// The scopes a pack name may start with.
pub const SCOPES: [&str; 4] = ["core", "vendor", "community", "private"];

fn shorten(s: &str) -> String {
    s.chars().take(260).collect()
}

fn is_lower_start(segment: &str) -> bool {
    segment.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

/// Checks a pack name against
/// `^(core|vendor|community|private)\.[a-z][a-z0-9_-]*(\.[a-z][a-zA-Z0-9_-]*)+$`, 1–256 chars.
/// A well-formed name under another scope (`local.x.y`, `bogus.x.y`) is a scope error, anything
/// else malformed a name error, matching the contract's conformance probes.
pub fn check_pack_name(name: &str) -> Result<(), NameError> {
    let bad = |why| Err(NameError::Name { name: shorten(name), why });
    if name.is_empty() || name.len() > 256 {
        return bad("it must be 1 to 256 characters long");
    }
    let segments: Vec<&str> = name.split('.').collect();
    if segments.len() < 3 {
        return bad("it needs a scope and at least two more segments");
    }
    let scope = segments[0];
    if !SCOPES.contains(&scope) {
        if !scope.is_empty() && scope.bytes().all(|b| b.is_ascii_lowercase()) {
            let why = if scope == "local" {
                "local.* names are for a host's own packs and are never published"
            } else {
                "the first segment must be core, vendor, community or private"
            };
            return Err(NameError::Scope { name: shorten(name), why });
        }
        return bad("the first segment must be core, vendor, community or private, in lowercase");
    }
    let org = segments[1];
    if !is_lower_start(org)
        || !org.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return bad("the second segment must start with a-z and hold only a-z, 0-9, `_` and `-`");
    }
    for segment in &segments[2..] {
        if !is_lower_start(segment) || !segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return bad("each later segment must start with a-z and hold only letters, digits, `_` and `-`");
        }
    }
    Ok(())
}

fn ident_ok(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Checks a version against the contract's SemVer pattern (§3.5) and SemVer 2.0.0 itself.
pub fn check_version(version: &str) -> Result<semver::Version, NameError> {
    let bad = || NameError::Version { version: shorten(version) };
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
    semver::Version::parse(version).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_scopes() {
        for ok in ["core.openwop.flow", "vendor.acme.tools", "community.openwop-team.demo", "private.h.x.y_Z"] {
            assert_eq!(check_pack_name(ok), Ok(()), "{ok}");
        }
        for (bad, code) in [
            ("bogus.unsupported-scope.pack", "invalid_pack_scope"),
            ("local.host.pack", "invalid_pack_scope"),
            ("singleseg", "invalid_pack_name"),
            ("Core.openwop.flow", "invalid_pack_name"),
            ("vendor.acme", "invalid_pack_name"),
            ("vendor.Acme.tools", "invalid_pack_name"),
            ("vendor.acme..tools", "invalid_pack_name"),
            ("vendor.acme.tools/../x", "invalid_pack_name"),
        ] {
            assert_eq!(check_pack_name(bad).map_err(|e| e.code()), Err(code), "{bad}");
        }
        assert_eq!(check_version("1.2.3-rc.1+b5").map(|v| v.to_string()), Ok("1.2.3-rc.1+b5".to_string()));
        for bad in ["not-a-semver", "1.2", "01.2.3", "1.2.3-", "1.2.3-a_b"] {
            assert_eq!(check_version(bad).map_err(|e| e.code()), Err("invalid_version"), "{bad}");
        }
    }
}

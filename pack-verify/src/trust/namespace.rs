//! Namespace globs (decisions §10): `x.y.*` admits names that start with `x.y.` (dot boundary);
//! any other pattern admits exactly that name.

/// Whether `pattern` admits the pack `name`.
pub fn admits(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        // The prefix must end at a dot, so `vendor.openwop.*` does not admit
        // `vendor.openwop-app.x`, nor the bare `vendor.openwop`.
        Some(prefix) if prefix.ends_with('.') && prefix.len() > 1 => {
            name.len() > prefix.len() && name.starts_with(prefix)
        }
        Some(_) => false,
        None => pattern == name,
    }
}

/// Whether any of `patterns` admits `name`.
pub fn any_admits(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| admits(p, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_boundary_and_exact_names() {
        assert!(admits("vendor.openwop.*", "vendor.openwop.x"));
        assert!(admits("vendor.openwop.*", "vendor.openwop.x.y"));
        assert!(!admits("vendor.openwop.*", "vendor.openwop-app.x"));
        assert!(!admits("vendor.openwop.*", "vendor.openwop"));
        assert!(!admits("vendor.openwop.*", "vendor.openwop."));
        assert!(admits("community.openwop-team.demo", "community.openwop-team.demo"));
        assert!(!admits("community.openwop-team.demo", "community.openwop-team.demo2"));
        // A bare `*` or a glob without a dot boundary admits nothing.
        assert!(!admits("*", "core.a.b"));
        assert!(!admits("core*", "core.a.b"));
        assert!(!admits(".*", "x"));
    }
}

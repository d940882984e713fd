//! The `[mirror]` section of the `--config` file, and include/exclude patterns.
//!
//! ```toml
//! [mirror]
//! url = "https://mirror.example.com"      # this mirror's public URL (stated in its status)
//! timeout_secs = 10                       # per upstream request
//! pull_through_timeout_secs = 5           # a read that misses waits at most this long
//! retries = 3                             # per request, exponential backoff
//! breaker_threshold = 5                   # consecutive failures that open the circuit
//! breaker_cooldown_secs = 30              # how long it stays open
//!
//! [[mirror.upstreams]]
//! name = "public"
//! url = "https://packs.openwop.dev"
//! trust = "keys/openwop-reference-registry.trust.json"   # this upstream's pinned trust bundle
//! include = ["core.openwop.*", "vendor.acme.tools@^1.0.0"]
//! exclude = ["core.openwop.legacy"]
//! sync_interval_secs = 3600               # periodic sync under `serve` (absent: none)
//! pull_through = true                     # fetch on a local miss (default true)
//! ```
//!
//! A pattern is `GLOB[@RANGE]`: `GLOB` is a namespace glob (`x.y.*`, dot boundary) or an exact
//! name, or `*` for every name; `RANGE` a node-semver range. An empty `include` mirrors every
//! pack the upstream's trust permits; `exclude` wins over `include`.

use std::path::PathBuf;
use std::time::Duration;

use pack_verify::range::Range;
use pack_verify::trust::bundle::TrustBundle;
use pack_verify::trust::namespace::admits;

use crate::RegistryError;

/// `[mirror]` as written in the config file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorSection {
    /// This mirror's public base URL.
    pub url: Option<String>,
    /// Per-request timeout towards upstreams (default 10 s).
    pub timeout_secs: Option<u64>,
    /// Budget of a pull-through on a local miss (default 5 s).
    pub pull_through_timeout_secs: Option<u64>,
    /// Retries per upstream request (default 3).
    pub retries: Option<u32>,
    /// Consecutive failures that open an upstream's circuit (default 5).
    pub breaker_threshold: Option<u32>,
    /// Seconds an open circuit stays open (default 30).
    pub breaker_cooldown_secs: Option<u64>,
    /// Re-sign mirrored versions (decisions §14): this mirror issues its own registry statement
    /// for each, with its own statement key, so clients can pin the mirror's root instead of
    /// every upstream's. Off by default: upstream statements are served unchanged.
    #[serde(default)]
    pub resign: bool,
    /// The upstreams, in lookup order.
    #[serde(default)]
    pub upstreams: Vec<UpstreamSection>,
}

/// One `[[mirror.upstreams]]` entry.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    /// Short name (CLI `--upstream`, status, audit).
    pub name: String,
    /// Base URL of the upstream registry or static tree.
    pub url: String,
    /// Path of the upstream's pinned trust bundle.
    pub trust: PathBuf,
    /// Patterns of packs to mirror (empty: all).
    #[serde(default)]
    pub include: Vec<String>,
    /// Patterns of packs never to mirror.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Periodic sync interval under `serve`.
    pub sync_interval_secs: Option<u64>,
    /// Fetch on a local miss (default true).
    pub pull_through: Option<bool>,
}

/// A parsed `GLOB[@RANGE]` pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The name glob as written (`*` for all names).
    pub glob: String,
    /// The version range, if any.
    pub range: Option<Range>,
}

impl Pattern {
    /// Parses `GLOB[@RANGE]`.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let bad = |why: String| RegistryError::Config { what: format!("mirror pattern `{text}`: {why}") };
        let (glob, range) = match text.split_once('@') {
            Some((g, r)) => (g.trim(), Some(Range::parse(r.trim()).map_err(|e| bad(e.to_string()))?)),
            None => (text.trim(), None),
        };
        let valid_glob = glob == "*"
            || (!glob.is_empty()
                && glob
                    .strip_suffix(".*")
                    .unwrap_or(glob)
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'))
                && !glob.strip_suffix(".*").unwrap_or(glob).is_empty());
        if !valid_glob {
            return Err(bad("expected a pack name, a `prefix.*` glob or `*`, optionally with `@RANGE`".into()));
        }
        Ok(Self { glob: glob.to_string(), range })
    }

    /// Whether the name part admits `name`.
    pub fn admits_name(&self, name: &str) -> bool {
        self.glob == "*" || admits(&self.glob, name)
    }

    /// Whether the pattern admits `name@version` (a version that is not semver never matches a
    /// range).
    pub fn admits(&self, name: &str, version: &str) -> bool {
        self.admits_name(name)
            && match &self.range {
                None => true,
                Some(range) => semver::Version::parse(version).is_ok_and(|v| range.matches(&v)),
            }
    }
}

/// Include and exclude patterns of one upstream.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Empty: everything.
    pub include: Vec<Pattern>,
    /// Wins over `include`.
    pub exclude: Vec<Pattern>,
}

impl Filter {
    /// Parses both lists.
    pub fn parse(include: &[String], exclude: &[String]) -> Result<Self, RegistryError> {
        Ok(Self {
            include: include.iter().map(|p| Pattern::parse(p)).collect::<Result<_, _>>()?,
            exclude: exclude.iter().map(|p| Pattern::parse(p)).collect::<Result<_, _>>()?,
        })
    }

    /// Whether some version of `name` may be mirrored (a range-less exclude removes the name).
    pub fn admits_name(&self, name: &str) -> bool {
        let included = self.include.is_empty() || self.include.iter().any(|p| p.admits_name(name));
        included && !self.exclude.iter().any(|p| p.range.is_none() && p.admits_name(name))
    }

    /// Whether `name@version` is mirrored.
    pub fn admits(&self, name: &str, version: &str) -> bool {
        let included = self.include.is_empty() || self.include.iter().any(|p| p.admits(name, version));
        included && !self.exclude.iter().any(|p| p.admits(name, version))
    }

    /// A key's permitted namespaces narrowed to what this filter includes (decisions §14): each
    /// pair of (permitted glob, include glob) contributes the narrower of the two when one
    /// contains the other, nothing otherwise. Exclusions are not subtracted (globs cannot express
    /// a difference); excluded packs are never served anyway. Empty `include`: unchanged.
    pub fn narrow(&self, permitted: &[String]) -> Vec<String> {
        if self.include.is_empty() || self.include.iter().any(|p| p.glob == "*") {
            return permitted.to_vec();
        }
        let mut out: Vec<String> = Vec::new();
        for p in permitted {
            for i in &self.include {
                if let Some(n) = intersect(p, &i.glob)
                    && !out.contains(&n)
                {
                    out.push(n);
                }
            }
        }
        out.sort();
        out
    }
}

/// The intersection of two namespace patterns, when it is one of them.
fn intersect(a: &str, b: &str) -> Option<String> {
    let prefix = |g: &str| g.strip_suffix('*').filter(|p| p.ends_with('.')).map(str::to_string);
    match (prefix(a), prefix(b)) {
        (None, None) => (a == b).then(|| a.to_string()),
        (Some(_), None) => admits(a, b).then(|| b.to_string()),
        (None, Some(_)) => admits(b, a).then(|| a.to_string()),
        (Some(pa), Some(pb)) => {
            if pa.starts_with(&pb) {
                Some(a.to_string())
            } else if pb.starts_with(&pa) {
                Some(b.to_string())
            } else {
                None
            }
        }
    }
}

/// One upstream, ready to use.
#[derive(Debug, Clone)]
pub struct UpstreamSpec {
    /// Short name.
    pub name: String,
    /// Base URL (no trailing slash).
    pub url: String,
    /// Its pinned trust bundle.
    pub bundle: TrustBundle,
    /// What is mirrored from it.
    pub filter: Filter,
    /// Periodic sync interval.
    pub sync_interval: Option<Duration>,
    /// Fetch on a local miss.
    pub pull_through: bool,
}

/// Timeouts, retries and the circuit breaker.
#[derive(Debug, Clone, Copy)]
pub struct Resilience {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Budget of a pull-through.
    pub pull_through_timeout: Duration,
    /// Retries per request.
    pub retries: u32,
    /// First backoff (doubles per retry, capped at 5 s).
    pub backoff: Duration,
    /// Consecutive failures that open a circuit.
    pub breaker_threshold: u32,
    /// How long an open circuit stays open.
    pub breaker_cooldown: Duration,
}

impl Default for Resilience {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            pull_through_timeout: Duration::from_secs(5),
            retries: 3,
            backoff: Duration::from_millis(200),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

/// The whole mirror configuration.
#[derive(Debug, Clone, Default)]
pub struct MirrorSettings {
    /// This mirror's public URL.
    pub url: Option<String>,
    /// Upstreams in lookup order.
    pub upstreams: Vec<UpstreamSpec>,
    /// Timeouts, retries, breaker.
    pub resilience: Resilience,
    /// Whether this mirror re-signs what it mirrors (see [`MirrorSection::resign`]).
    pub resign: bool,
}

impl MirrorSection {
    /// Loads bundles and parses patterns.
    pub fn load(&self) -> Result<MirrorSettings, RegistryError> {
        let defaults = Resilience::default();
        let resilience = Resilience {
            timeout: self.timeout_secs.map_or(defaults.timeout, Duration::from_secs),
            pull_through_timeout: self
                .pull_through_timeout_secs
                .map_or(defaults.pull_through_timeout, Duration::from_secs),
            retries: self.retries.unwrap_or(defaults.retries),
            backoff: defaults.backoff,
            breaker_threshold: self.breaker_threshold.unwrap_or(defaults.breaker_threshold).max(1),
            breaker_cooldown: self.breaker_cooldown_secs.map_or(defaults.breaker_cooldown, Duration::from_secs),
        };
        let mut upstreams: Vec<UpstreamSpec> = Vec::new();
        for u in &self.upstreams {
            if u.name.is_empty() || upstreams.iter().any(|o| o.name == u.name) {
                return Err(RegistryError::Config {
                    what: format!("mirror upstream name `{}` is empty or used twice", u.name),
                });
            }
            if !(u.url.starts_with("http://") || u.url.starts_with("https://")) {
                return Err(RegistryError::Config {
                    what: format!("mirror upstream `{}`: url `{}` is not http(s)://", u.name, u.url),
                });
            }
            let bytes = std::fs::read(&u.trust)
                .map_err(|source| RegistryError::Io { path: u.trust.display().to_string(), source })?;
            let bundle = TrustBundle::parse(&bytes)
                .map_err(|source| RegistryError::Verify { context: u.trust.display().to_string(), source })?;
            upstreams.push(UpstreamSpec {
                name: u.name.clone(),
                url: u.url.trim_end_matches('/').to_string(),
                bundle,
                filter: Filter::parse(&u.include, &u.exclude)?,
                sync_interval: u.sync_interval_secs.filter(|s| *s > 0).map(Duration::from_secs),
                pull_through: u.pull_through.unwrap_or(true),
            });
        }
        Ok(MirrorSettings { url: self.url.clone(), upstreams, resilience, resign: self.resign })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(include: &[&str], exclude: &[&str]) -> Filter {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Filter::parse(&s(include), &s(exclude)).unwrap_or_default()
    }

    #[test]
    fn patterns_match_names_and_ranges() {
        let f = filter(&["core.openwop.*", "vendor.acme.tools@^1.0.0"], &["core.openwop.old", "core.openwop.x@<1"]);
        assert!(f.admits("core.openwop.a", "0.1.0"));
        assert!(!f.admits("core.openwop.old", "1.0.0"));
        assert!(!f.admits_name("core.openwop.old"));
        assert!(f.admits_name("core.openwop.x"));
        assert!(!f.admits("core.openwop.x", "0.9.0"));
        assert!(f.admits("core.openwop.x", "1.0.0"));
        assert!(f.admits("vendor.acme.tools", "1.2.0"));
        assert!(!f.admits("vendor.acme.tools", "2.0.0"));
        assert!(!f.admits_name("vendor.acme.other"));
        assert!(Pattern::parse("bad name").is_err());
        assert!(Pattern::parse("x@not a range !").is_err());
    }

    #[test]
    fn narrowing_intersects_globs() {
        let f = filter(&["vendor.acme.tools", "core.openwop.*"], &[]);
        let narrowed = f.narrow(&["vendor.acme.*".into(), "core.*".into(), "vendor.other.*".into()]);
        assert_eq!(narrowed, vec!["core.openwop.*".to_string(), "vendor.acme.tools".to_string()]);
        assert!(f.narrow(&["vendor.other.*".into()]).is_empty());
        assert_eq!(filter(&[], &[]).narrow(&["a.*".into()]), vec!["a.*".to_string()]);
    }
}

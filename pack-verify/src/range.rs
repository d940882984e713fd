//! node-semver version ranges (decisions §11): `^`, `~`, x-ranges, hyphen ranges, partial
//! versions, space-joined AND and `||`. Prereleases match only when a comparator of the same set
//! names a prerelease on the same `major.minor.patch`. One implementation for the resolver,
//! advisory matching on the server and `engines` checks.

use std::fmt;

use semver::{Prerelease, Version};

/// A range that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{range}` is not a valid version range: {why}")]
pub struct RangeError {
    /// The range as given (truncated).
    pub range: String,
    /// What is wrong.
    pub why: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    version: Version,
}

impl Comparator {
    fn test(&self, v: &Version) -> bool {
        match self.op {
            Op::Lt => v < &self.version,
            Op::Le => v <= &self.version,
            Op::Gt => v > &self.version,
            Op::Ge => v >= &self.version,
            Op::Eq => v == &self.version,
        }
    }
}

/// A parsed range: alternatives (`||`) of comparator sets (all must hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    text: String,
    sets: Vec<Vec<Comparator>>,
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A partial version: `None` for an omitted or wildcard (`x`, `X`, `*`) part.
#[derive(Debug, Clone)]
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: Prerelease,
}

fn v(major: u64, minor: u64, patch: u64) -> Version {
    Version::new(major, minor, patch)
}

/// `major.minor.patch-0`: the lowest version of that triple, so `<` it excludes its prereleases.
fn v0(major: u64, minor: u64, patch: u64) -> Version {
    let mut out = Version::new(major, minor, patch);
    out.pre = Prerelease::new("0").unwrap_or(Prerelease::EMPTY);
    out
}

fn cmp(op: Op, version: Version) -> Comparator {
    Comparator { op, version }
}

fn bump(n: u64) -> Result<u64, String> {
    n.checked_add(1).ok_or_else(|| "version number too large".to_string())
}

fn parse_partial(text: &str) -> Result<Partial, String> {
    let text = text.trim_start_matches(['v', 'V', '=']);
    let text = text.split_once('+').map_or(text, |(core, _build)| core);
    let (core, pre) = match text.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (text, None),
    };
    let mut parts = core.split('.');
    let mut next = |what: &str| -> Result<Option<u64>, String> {
        match parts.next() {
            None => Ok(None),
            Some("x" | "X" | "*") => Ok(None),
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().map(Some).map_err(|_| format!("{what} `{p}` is too large"))
            }
            Some(p) => Err(format!("`{p}` is not a number or wildcard")),
        }
    };
    let major = next("major")?;
    let minor = next("minor")?;
    let patch = next("patch")?;
    if parts.next().is_some() {
        return Err(format!("`{core}` has more than three parts"));
    }
    if major.is_none() && (minor.is_some() || patch.is_some()) || minor.is_none() && patch.is_some() {
        return Err(format!("`{core}` has a number after a wildcard"));
    }
    let pre = match pre {
        Some(p) if patch.is_some() => Prerelease::new(p).map_err(|e| format!("prerelease `{p}`: {e}"))?,
        Some(p) => return Err(format!("prerelease `{p}` on a partial version")),
        None => Prerelease::EMPTY,
    };
    Ok(Partial { major, minor, patch, pre })
}

impl Partial {
    fn full(&self) -> Option<Version> {
        Some(Version { pre: self.pre.clone(), ..v(self.major?, self.minor?, self.patch?) })
    }

    /// Lower bound `>=` of the x-range.
    fn floor(&self) -> Version {
        self.full().unwrap_or_else(|| v(self.major.unwrap_or(0), self.minor.unwrap_or(0), 0))
    }

    /// Exclusive upper bound of the x-range, `None` for `*`.
    fn ceiling(&self) -> Result<Option<Version>, String> {
        Ok(match (self.major, self.minor, self.patch) {
            (None, _, _) => None,
            (Some(m), None, _) => Some(v0(bump(m)?, 0, 0)),
            (Some(m), Some(n), None) => Some(v0(m, bump(n)?, 0)),
            (Some(_), Some(_), Some(_)) => None,
        })
    }
}

fn desugar(op: &str, p: &Partial, out: &mut Vec<Comparator>) -> Result<(), String> {
    let exact = p.full();
    match op {
        "" | "=" => match exact {
            Some(full) => out.push(cmp(Op::Eq, full)),
            None => {
                if p.major.is_some() {
                    out.push(cmp(Op::Ge, p.floor()));
                }
                if let Some(c) = p.ceiling()? {
                    out.push(cmp(Op::Lt, c));
                }
            }
        },
        "~" => {
            out.push(cmp(Op::Ge, p.floor()));
            let upper = match (p.major, p.minor) {
                (None, _) => None,
                (Some(m), None) => Some(v0(bump(m)?, 0, 0)),
                (Some(m), Some(n)) => Some(v0(m, bump(n)?, 0)),
            };
            if let Some(u) = upper {
                out.push(cmp(Op::Lt, u));
            }
        }
        "^" => {
            out.push(cmp(Op::Ge, p.floor()));
            let upper = match (p.major, p.minor, p.patch) {
                (None, _, _) => None,
                (Some(0), Some(0), Some(pt)) => Some(v0(0, 0, bump(pt)?)),
                (Some(0), Some(n), _) => Some(v0(0, bump(n)?, 0)),
                (Some(m), _, _) => Some(v0(bump(m)?, 0, 0)),
            };
            if let Some(u) = upper {
                out.push(cmp(Op::Lt, u));
            }
        }
        ">" => match (exact, p.major, p.minor) {
            (Some(full), _, _) => out.push(cmp(Op::Gt, full)),
            (None, None, _) => out.push(cmp(Op::Lt, v0(0, 0, 0))), // `>*` matches nothing
            (None, Some(m), None) => out.push(cmp(Op::Ge, v(bump(m)?, 0, 0))),
            (None, Some(m), Some(n)) => out.push(cmp(Op::Ge, v(m, bump(n)?, 0))),
        },
        ">=" => {
            if p.major.is_some() {
                out.push(cmp(Op::Ge, p.floor()));
            }
        }
        "<" => match exact {
            Some(full) => out.push(cmp(Op::Lt, full)),
            None if p.major.is_none() => out.push(cmp(Op::Lt, v0(0, 0, 0))),
            None => out.push(cmp(Op::Lt, v0(p.major.unwrap_or(0), p.minor.unwrap_or(0), 0))),
        },
        "<=" => match (exact, p.ceiling()?) {
            (Some(full), _) => out.push(cmp(Op::Le, full)),
            (None, Some(c)) => out.push(cmp(Op::Lt, c)),
            (None, None) => {}
        },
        _ => return Err(format!("unknown operator `{op}`")),
    }
    Ok(())
}

fn split_op(token: &str) -> (&str, &str) {
    for op in [">=", "<=", ">", "<", "=", "~>", "~", "^"] {
        if let Some(rest) = token.strip_prefix(op) {
            return (if op == "~>" { "~" } else { op }, rest);
        }
    }
    ("", token)
}

fn parse_set(text: &str) -> Result<Vec<Comparator>, String> {
    let mut out = Vec::new();
    // Join operators separated from their version by spaces (`>= 1.2.3`).
    let mut tokens: Vec<String> = Vec::new();
    let mut pending: Option<String> = None;
    for word in text.split_whitespace() {
        match pending.take() {
            Some(op) => tokens.push(format!("{op}{word}")),
            None if matches!(word, ">=" | "<=" | ">" | "<" | "=" | "~" | "^" | "~>") => pending = Some(word.into()),
            None => tokens.push(word.to_string()),
        }
    }
    if let Some(op) = pending {
        return Err(format!("operator `{op}` without a version"));
    }
    if tokens.len() == 3 && tokens[1] == "-" {
        let low = parse_partial(&tokens[0])?;
        let high = parse_partial(&tokens[2])?;
        desugar(">=", &low, &mut out)?;
        desugar("<=", &high, &mut out)?;
        return Ok(out);
    }
    if tokens.iter().any(|t| t == "-") {
        return Err("a hyphen range is `LOW - HIGH` and stands alone in its set".into());
    }
    for token in tokens {
        let (op, rest) = split_op(&token);
        desugar(op, &parse_partial(rest)?, &mut out)?;
    }
    Ok(out)
}

impl Range {
    /// Parses a node-semver range.
    pub fn parse(text: &str) -> Result<Self, RangeError> {
        let err = |why: String| RangeError { range: text.chars().take(200).collect(), why };
        if text.len() > 1024 {
            return Err(err("longer than 1024 characters".into()));
        }
        let sets = text.split("||").map(|set| parse_set(set.trim())).collect::<Result<Vec<_>, _>>().map_err(err)?;
        Ok(Self { text: text.trim().to_string(), sets })
    }

    /// Whether `version` satisfies the range.
    pub fn matches(&self, version: &Version) -> bool {
        self.sets.iter().any(|set| {
            set.iter().all(|c| c.test(version))
                && (version.pre.is_empty()
                    || set.iter().any(|c| {
                        !c.version.pre.is_empty()
                            && c.version.pre.as_str() != "0"
                            && (c.version.major, c.version.minor, c.version.patch)
                                == (version.major, version.minor, version.patch)
                    }))
        })
    }

    /// Whether the range names any prerelease (so prereleases are candidates at all).
    pub fn mentions_prerelease(&self) -> bool {
        self.sets.iter().flatten().any(|c| !c.version.pre.is_empty() && c.version.pre.as_str() != "0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(range: &str, version: &str) -> bool {
        Range::parse(range)
            .unwrap_or_else(|e| panic!("{e}"))
            .matches(&Version::parse(version).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn node_semver_cases() {
        let yes = [
            ("^1.2.3", "1.9.0"),
            ("^0.2.3", "0.2.9"),
            ("^0.0.3", "0.0.3"),
            ("~1.2.3", "1.2.9"),
            ("~1.2", "1.2.0"),
            ("1.x", "1.5.5"),
            ("1.2.*", "1.2.7"),
            ("*", "3.0.0"),
            ("", "0.0.1"),
            (">=1.0.0 <2.0.0", "1.99.0"),
            (">=1.1 <2.0.0", "1.1.0"),
            ("1.2 - 2.3.4", "2.3.4"),
            ("1.2.3 - 2", "2.9.9"),
            ("<1.0.1", "1.0.0"),
            ("^1.0.0 || ^3.0.0", "3.1.0"),
            (">= 1.2.3", "1.2.3"),
            ("^1.2.3-beta.2", "1.2.3-beta.4"),
            (">1", "2.0.0"),
            ("<=1.2", "1.2.99"),
            ("=1.2.3", "1.2.3"),
            ("v1.2.3", "1.2.3"),
        ];
        for (r, v) in yes {
            assert!(ok(r, v), "{v} should satisfy {r}");
        }
        let no = [
            ("^1.2.3", "2.0.0"),
            ("^1.2.3", "2.0.0-0"),
            ("^0.2.3", "0.3.0"),
            ("^0.0.3", "0.0.4"),
            ("~1.2.3", "1.3.0"),
            ("1.x", "2.0.0"),
            (">=1.0.0 <2.0.0", "2.0.0-rc.1"),
            (">=1.0.0", "1.5.0-beta"),
            ("^1.2.3-beta.2", "1.2.4-beta.1"),
            ("1.2 - 2.3.4", "2.3.5"),
            (">1", "1.9.9"),
            ("<1.2", "1.2.0"),
            ("<1.0.1", "1.0.1"),
        ];
        for (r, v) in no {
            assert!(!ok(r, v), "{v} should not satisfy {r}");
        }
        for bad in ["1.2.3.4", ">=", "abc", "1.x.3", "1 - 2 - 3", "^1.2-pre"] {
            assert!(Range::parse(bad).is_err(), "{bad} should not parse");
        }
    }
}

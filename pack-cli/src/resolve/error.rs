//! [`ResolveError`]: every way resolution can fail, each with the contract's code (§7.6) and the
//! `details` object the error envelope carries.

use pack_verify::range::RangeError;
use serde_json::{Value, json};

/// One requirement that took part in a conflict: who asked, and for which range.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConflictingRange {
    /// `root` for the user's request, `name@version` for a pack's manifest, `overrides` for the
    /// lockfile's override map.
    pub requested_by: String,
    /// The node-semver range as declared.
    pub range: String,
}

/// Why resolution failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// No version of `pack_name` satisfies every requirement on it, or an override satisfies
    /// none of its parents' ranges.
    #[error("no version of {pack_name} satisfies every requirement on it\n{explanation}")]
    DependencyConflict {
        /// The pack the requirements disagree on.
        pack_name: String,
        /// The requirements that disagree.
        conflicting_ranges: Vec<ConflictingRange>,
        /// A readable derivation ("Because … and …, …"), one step per line.
        explanation: String,
    },
    /// The chosen packs depend on each other in a loop; dependencies must form a DAG.
    #[error("dependency cycle: {}", cycle.join(" -> "))]
    DependencyCycle {
        /// The loop, first pack repeated at the end (`[a, b, a]`).
        cycle: Vec<String>,
    },
    /// A requirement names no existing version (none published, or only yanked ones).
    #[error(
        "no usable version of {pack_name} matches `{range}` (required by {requested_by}): {why}{}",
        tail(explanation)
    )]
    VersionNotFound {
        /// The pack asked for.
        pack_name: String,
        /// The range asked for.
        range: String,
        /// Who asked (`root`, `name@version` or `overrides`).
        requested_by: String,
        /// Which case: nothing published in the range, or only yanked versions.
        why: String,
        /// The derivation, when the requirement is transitive (may be empty).
        explanation: String,
    },
    /// Every version a requirement allows is matched by a security advisory the user has not
    /// accepted.
    #[error(
        "every version of {pack_name} matching `{range}` (required by {requested_by}) is affected by {}{}",
        advisories.join(", "), tail(explanation)
    )]
    AdvisoryBlocked {
        /// The pack asked for.
        pack_name: String,
        /// The range asked for.
        range: String,
        /// Who asked.
        requested_by: String,
        /// The advisory ids that block the matching versions (sorted).
        advisories: Vec<String>,
        /// The derivation (may be empty).
        explanation: String,
    },
    /// The user's request holds a range that does not parse.
    #[error("invalid range for {pack_name} (required by {requested_by}): {source}")]
    InvalidRange {
        /// The pack the range is for.
        pack_name: String,
        /// Who declared it.
        requested_by: String,
        /// What is wrong with it.
        #[source]
        source: RangeError,
    },
    /// Every version a requirement allows has a manifest that cannot be used (an unparsable range).
    #[error(
        "no version of {pack_name} matching `{range}` has a usable manifest (required by {requested_by}){}",
        tail(explanation)
    )]
    ManifestInvalid {
        /// The pack asked for.
        pack_name: String,
        /// The range asked for.
        range: String,
        /// Who asked.
        requested_by: String,
        /// The derivation, naming each broken manifest.
        explanation: String,
    },
    /// A registry (or fallback) could not be reached; retriable. Passed through from the
    /// [`PackageIndex`](super::PackageIndex).
    #[error("registry {registry} is unreachable: {reason}")]
    RegistryUnreachable {
        /// The registry base URL.
        registry: String,
        /// The transport failure.
        reason: String,
    },
    /// Any other failure of a [`PackageIndex`](super::PackageIndex), passed through with its own code
    /// (for example a malformed `index.json`).
    #[error("{message}")]
    Index {
        /// The index's stable error code.
        code: &'static str,
        /// What went wrong.
        message: String,
    },
}

fn tail(explanation: &str) -> String {
    if explanation.is_empty() { String::new() } else { format!("\n{explanation}") }
}

impl ResolveError {
    /// The contract's machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::DependencyConflict { .. } => "pack_dependency_conflict",
            Self::DependencyCycle { .. } => "pack_dependency_cycle",
            Self::VersionNotFound { .. } => "pack_version_not_found",
            Self::AdvisoryBlocked { .. } => "pack_advisory_blocked",
            Self::InvalidRange { .. } => "invalid_range",
            Self::ManifestInvalid { .. } => "pack_manifest_invalid",
            Self::RegistryUnreachable { .. } => "pack_registry_unreachable",
            Self::Index { code, .. } => code,
        }
    }

    /// The `details` object of the error envelope (contract §7.6 shapes where it defines one).
    pub fn details(&self) -> Value {
        match self {
            Self::DependencyConflict { pack_name, conflicting_ranges, .. } => json!({
                "packName": pack_name,
                "conflictingRanges": conflicting_ranges
                    .iter()
                    .map(|c| json!({"requestedBy": c.requested_by, "range": c.range}))
                    .collect::<Vec<_>>(),
            }),
            Self::DependencyCycle { cycle } => json!({ "cycle": cycle }),
            Self::VersionNotFound { pack_name, range, requested_by, .. }
            | Self::ManifestInvalid { pack_name, range, requested_by, .. } => {
                json!({"packName": pack_name, "range": range, "requestedBy": requested_by})
            }
            Self::AdvisoryBlocked { pack_name, range, requested_by, advisories, .. } => json!({
                "packName": pack_name, "range": range, "requestedBy": requested_by, "advisories": advisories,
            }),
            Self::InvalidRange { pack_name, requested_by, source } => {
                json!({"packName": pack_name, "requestedBy": requested_by, "range": source.range})
            }
            Self::RegistryUnreachable { registry, .. } => json!({ "registry": registry }),
            Self::Index { .. } => json!({}),
        }
    }

    /// How to fix it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::DependencyConflict { .. } => {
                "relax one of the conflicting ranges, or pin a version every parent accepts with `--override NAME=VERSION`"
            }
            Self::DependencyCycle { .. } => "packs must not depend on themselves, directly or through others",
            Self::VersionNotFound { .. } => "check the name and range; `pack info <name>` lists published versions",
            Self::AdvisoryBlocked { .. } => {
                "upgrade to a fixed version, or accept the advisory explicitly if you have assessed it"
            }
            Self::InvalidRange { .. } => "use node-semver syntax, e.g. ^1.2.0, ~1.2, >=1.0.0 <2.0.0 or 1.x",
            Self::ManifestInvalid { .. } => "ask the publisher to fix the manifest, or require another version",
            Self::RegistryUnreachable { .. } => "check the network and the registry URL, then retry",
            Self::Index { code: "unauthenticated" | "key_expired" | "key_revoked", .. } => {
                "the token sent to this registry is not valid: reads need none, so remove it (`token` under \
                 [registries.\"URL\"] in pack.toml, or OPENWOP_TOKEN) or replace it with `pack login --registry URL`"
            }
            Self::Index { .. } => "the registry served data the client cannot use; report it to its operator",
        }
    }
}

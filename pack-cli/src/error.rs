//! The one error type every command returns: what failed, where, a stable code, a hint, and
//! whether it is a verification failure (exit 1) or a usage / I/O error (exit 2).

use std::fmt;
use std::path::{Path, PathBuf};

use pack_verify::VerifyError;

/// How a failure maps to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A verification failed (exit 1).
    Verification,
    /// Bad usage, bad input files or an I/O error (exit 2).
    Usage,
    /// A registry answered and refused the request with a code (a 4xx; exit 1).
    Refused,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Verification | Exit::Refused => 1,
            Exit::Usage => 2,
        }
    }
}

/// A failure of a `pack` command.
#[derive(Debug, Clone)]
pub struct CliError {
    /// Stable machine-readable code (the contract's code where one applies).
    pub code: &'static str,
    /// What went wrong.
    pub message: String,
    /// The file or directory it is about, if any.
    pub path: Option<PathBuf>,
    /// How to fix it.
    pub hint: String,
    /// Exit code class.
    pub exit: Exit,
    /// Structured details (the contract's `details`, e.g. a dependency conflict's ranges).
    pub details: Option<Box<serde_json::Value>>,
}

impl CliError {
    /// A usage or input error with its own code.
    pub fn usage(code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError { code, message: message.into(), path: None, hint: hint.into(), exit: Exit::Usage, details: None }
    }

    /// A verification failure with its own code.
    pub fn verification(code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
            path: None,
            hint: hint.into(),
            exit: Exit::Verification,
            details: None,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &Path, action: &str, err: &std::io::Error) -> Self {
        CliError {
            code: "io_error",
            message: format!("cannot {action} {}: {err}", path.display()),
            path: Some(path.to_path_buf()),
            hint: "check the path and its permissions".into(),
            exit: Exit::Usage,
            details: None,
        }
    }

    /// A verification error from `pack-verify`; I/O and trust-bundle errors count as usage errors.
    pub fn from_verify(err: &VerifyError) -> Self {
        let exit = match err {
            VerifyError::Io { .. } | VerifyError::TrustBundleInvalid { .. } => Exit::Usage,
            _ => Exit::Verification,
        };
        CliError {
            code: err.code(),
            message: err.to_string(),
            path: None,
            hint: err.hint().to_string(),
            exit,
            details: None,
        }
    }

    /// A `pack-verify` error about input the user supplied (a key file, a spec): exit 2.
    pub fn input(err: &VerifyError) -> Self {
        CliError { exit: Exit::Usage, ..Self::from_verify(err) }
    }

    /// A registry request that failed: a refusal (4xx) exits 1 with the server's code; no answer
    /// or a 5xx exits 2 as `pack_registry_unreachable` (or the 5xx envelope's code).
    pub fn from_registry(err: &crate::registry::RegistryError) -> Self {
        let exit = if err.is_refusal() { Exit::Refused } else { Exit::Usage };
        let details = err.details.clone().map(Box::new);
        CliError { code: intern(&err.code), message: err.to_string(), path: None, hint: err.hint(), exit, details }
    }

    /// Attaches the path the error is about.
    pub fn at(mut self, path: &Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }

    /// Replaces the hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error[{}]: {}", self.code, self.message)
    }
}

impl std::error::Error for CliError {}

/// Codes a registry is expected to send, as `'static` strings for [`CliError::code`].
const REGISTRY_CODES: &[&str] = &[
    "pack_registry_unreachable",
    "registry_refused",
    "registry_response_invalid",
    "registry_response_too_large",
    "unauthenticated",
    "key_expired",
    "key_revoked",
    "forbidden",
    "not_found",
    "version_conflict",
    "conflict",
    "payload_too_large",
    "rate_limited",
    "invalid_body",
    "invalid_pack_scope",
    "invalid_pack_name",
    "invalid_version",
    "invalid_manifest",
    "manifest_mismatch",
    "manifest_name_mismatch",
    "manifest_version_mismatch",
    "pack_integrity_failure",
    "pack_signature_invalid",
    "pack_signature_mismatch",
    "pack_namespace_unauthorized",
    "pack_unsigned",
    "pack_version_not_found",
    "unpublish_window_expired",
    "trust_keychain_rollback",
];

/// The server's code as a `'static` str. Codes outside the known list (a registry may add its
/// own) are leaked: at most one per failed command, which then ends the process.
fn intern(code: &str) -> &'static str {
    REGISTRY_CODES.iter().copied().find(|c| *c == code).unwrap_or_else(|| Box::leak(code.to_string().into_boxed_str()))
}

/// Result alias for commands and ops.
pub type CliResult<T> = Result<T, CliError>;

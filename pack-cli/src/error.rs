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
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Verification => 1,
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
}

impl CliError {
    /// A usage or input error with its own code.
    pub fn usage(code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError { code, message: message.into(), path: None, hint: hint.into(), exit: Exit::Usage }
    }

    /// A verification failure with its own code.
    pub fn verification(code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError { code, message: message.into(), path: None, hint: hint.into(), exit: Exit::Verification }
    }

    /// An I/O error on `path`.
    pub fn io(path: &Path, action: &str, err: &std::io::Error) -> Self {
        CliError {
            code: "io_error",
            message: format!("cannot {action} {}: {err}", path.display()),
            path: Some(path.to_path_buf()),
            hint: "check the path and its permissions".into(),
            exit: Exit::Usage,
        }
    }

    /// A verification error from `pack-verify`; I/O and trust-bundle errors count as usage errors.
    pub fn from_verify(err: &VerifyError) -> Self {
        let exit = match err {
            VerifyError::Io { .. } | VerifyError::TrustBundleInvalid { .. } => Exit::Usage,
            _ => Exit::Verification,
        };
        CliError { code: err.code(), message: err.to_string(), path: None, hint: err.hint().to_string(), exit }
    }

    /// A `pack-verify` error about input the user supplied (a key file, a spec): exit 2.
    pub fn input(err: &VerifyError) -> Self {
        CliError { exit: Exit::Usage, ..Self::from_verify(err) }
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

/// Result alias for commands and ops.
pub type CliResult<T> = Result<T, CliError>;

//! The registry's typed errors. The HTTP layer maps each to a status and a contract code.

use pack_verify::error::VerifyError;

/// Anything the registry can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The metadata database failed or refused a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The object store failed.
    #[error("object store error: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// A blob that metadata names is missing from the object store.
    #[error("blob {key} is missing from the object store")]
    BlobMissing {
        /// The object-store key.
        key: String,
    },
    /// A configuration value is unusable.
    #[error("invalid configuration: {what}")]
    Config {
        /// What is wrong and how to fix it.
        what: String,
    },
    /// A stored or imported document is not what it must be.
    #[error("invalid document {path}: {reason}")]
    InvalidDocument {
        /// Where the document came from.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Pack bytes failed a check of the shared verifier.
    #[error("{context}: {source}")]
    Verify {
        /// Which pack or file.
        context: String,
        /// The verifier's error (carries the contract code).
        source: VerifyError,
    },
    /// A request refused with a contract code (validation, conflicts, lifecycle rules).
    #[error("{message}")]
    Refused {
        /// HTTP status to answer with.
        status: u16,
        /// Contract code.
        code: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl RegistryError {
    /// A refusal with `status` and `code`.
    pub fn refused(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self::Refused { status, code, message: message.into() }
    }

    /// The machine-readable code (the contract's catalogue where one applies).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Database(_) | Self::Migration(_) | Self::ObjectStore(_) | Self::BlobMissing { .. } => {
                "pack_registry_unreachable"
            }
            Self::Config { .. } => "invalid_configuration",
            Self::InvalidDocument { .. } => "invalid_document",
            Self::Verify { source, .. } => source.code(),
            Self::Refused { code, .. } => code,
            Self::Io { .. } => "io_error",
        }
    }
}

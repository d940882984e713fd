//! Typed verification errors, each with a stable machine-readable code.
//!
//! Codes follow the OpenWOP contract where it names one (`tarball_*`, `pack_integrity_mismatch`,
//! `pack_signature_invalid`, `pack_namespace_unauthorized`, `manifest_*_mismatch`). Where the
//! contract lumps distinct failures under one code, we give each its own so an operator can tell
//! them apart; `docs/trust-model.md` lists them all.

use std::fmt;

/// Why a pack, key, keychain or registry document failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    // ---- tarball --------------------------------------------------------------------------
    /// The bytes are not a gzip stream, or the stream is corrupt or truncated.
    #[error("the tarball is not a valid gzip stream: {detail}")]
    GunzipFailed {
        /// What the decompressor reported.
        detail: String,
    },
    /// The gzip stream decompressed but the tar inside is unreadable.
    #[error("the tar archive inside the gzip stream is unreadable: {detail}")]
    TarParseFailed {
        /// What the tar parser reported.
        detail: String,
    },
    /// The compressed tarball is larger than allowed.
    #[error("the tarball is {size} bytes compressed; the limit is {limit}")]
    CompressedTooLarge {
        /// Observed size.
        size: u64,
        /// Configured limit.
        limit: u64,
    },
    /// The decompressed archive is larger than allowed (a gzip bomb, or simply too big).
    #[error("the tarball decompresses to more than {limit} bytes")]
    TooLarge {
        /// Configured limit on total decompressed bytes.
        limit: u64,
    },
    /// One file in the archive is larger than allowed.
    #[error("entry `{path}` is {size} bytes; the per-file limit is {limit}")]
    FileTooLarge {
        /// Entry name.
        path: String,
        /// Declared size.
        size: u64,
        /// Configured limit.
        limit: u64,
    },
    /// The archive holds more entries than allowed.
    #[error("the tarball has more than {limit} entries")]
    TooManyEntries {
        /// Configured limit.
        limit: usize,
    },
    /// No `pack.json` at the archive root.
    #[error("the tarball has no pack.json at its root")]
    ManifestMissing,
    /// `pack.json` is larger than allowed.
    #[error("pack.json is {size} bytes; the limit is {limit}")]
    ManifestTooLarge {
        /// Declared size.
        size: u64,
        /// Configured limit.
        limit: u64,
    },
    /// `pack.json` is not a JSON object.
    #[error("pack.json is not valid JSON: {detail}")]
    ManifestNotJson {
        /// Parser message.
        detail: String,
    },
    /// An entry name contains a `..` component.
    #[error("entry `{path}` escapes the pack root with `..`")]
    PathTraversal {
        /// Entry name as found.
        path: String,
    },
    /// An entry name is absolute.
    #[error("entry `{path}` is an absolute path")]
    AbsolutePath {
        /// Entry name as found.
        path: String,
    },
    /// A symbolic link entry.
    #[error("entry `{path}` is a symbolic link; packs hold regular files only")]
    Symlink {
        /// Entry name.
        path: String,
    },
    /// A hard link entry.
    #[error("entry `{path}` is a hard link; packs hold regular files only")]
    Hardlink {
        /// Entry name.
        path: String,
    },
    /// A character or block device entry.
    #[error("entry `{path}` is a device node; packs hold regular files only")]
    Device {
        /// Entry name.
        path: String,
    },
    /// A FIFO entry.
    #[error("entry `{path}` is a FIFO; packs hold regular files only")]
    Fifo {
        /// Entry name.
        path: String,
    },
    /// A PAX extended header or a GNU long-name/long-link header.
    #[error("entry uses a {kind} header; pack tarballs must keep names in the 100-byte ustar field")]
    ExtendedHeader {
        /// `pax` or `gnu-long-name`.
        kind: &'static str,
    },
    /// Some other tar entry type (sparse, contiguous, vendor-specific, ...).
    #[error("entry `{path}` has unsupported tar type {entry_type:?}")]
    UnsupportedEntry {
        /// Entry name.
        path: String,
        /// The typeflag byte.
        entry_type: char,
    },
    /// Two entries with the same normalised name (`./x` and `x` count as the same).
    #[error("entry `{path}` appears twice")]
    DuplicateEntry {
        /// Normalised entry name.
        path: String,
    },
    /// Two entries whose names differ only by letter case.
    #[error("entries `{first}` and `{second}` differ only in letter case")]
    CaseCollision {
        /// The first name seen.
        first: String,
        /// The colliding name.
        second: String,
    },
    /// An entry name that is not valid UTF-8.
    #[error("an entry name is not valid UTF-8")]
    NameNotUtf8,
    /// An entry name that is empty or contains a NUL or a backslash.
    #[error("entry name {path:?} is not a plain relative path")]
    BadName {
        /// The offending name (lossy).
        path: String,
    },
    /// Non-zero bytes after the end of the tar archive or after the gzip stream.
    #[error("the tarball has data after the end of the archive")]
    TrailingData,

    // ---- manifests ------------------------------------------------------------------------
    /// A version manifest or pack.json lacks a field or has one of the wrong shape.
    #[error("invalid manifest: {detail}")]
    ManifestInvalid {
        /// Which field and why.
        detail: String,
    },
    /// The pack name inside the tarball differs from the served manifest or the URL.
    #[error("pack.json names `{found}`, but the version is published as `{expected}`")]
    NameMismatch {
        /// Expected name.
        expected: String,
        /// Name found in pack.json.
        found: String,
    },
    /// The pack version inside the tarball differs from the served manifest or the URL.
    #[error("pack.json says version `{found}`, but the version is published as `{expected}`")]
    VersionMismatch {
        /// Expected version.
        expected: String,
        /// Version found in pack.json.
        found: String,
    },

    // ---- integrity ------------------------------------------------------------------------
    /// An integrity string that is not `sha256-<base64 of 32 bytes>`.
    #[error("integrity value {value:?} is not sha256-<base64>")]
    IntegrityMalformed {
        /// The value as found.
        value: String,
    },
    /// The tarball's SHA-256 differs from the integrity it was published with.
    #[error("the tarball hashes to {actual}, but its metadata says {expected}")]
    IntegrityMismatch {
        /// Integrity from metadata.
        expected: String,
        /// Integrity of the bytes.
        actual: String,
    },

    // ---- keys and signatures --------------------------------------------------------------
    /// A public or private key that cannot be parsed.
    #[error("key is malformed: {detail}")]
    KeyMalformed {
        /// What was wrong.
        detail: String,
    },
    /// The signing key id is not in the trust root.
    #[error("signing key `{key_id}` is not in the trust root for this registry")]
    KeyUnknown {
        /// The key id named by the manifest.
        key_id: String,
    },
    /// The signing key is not permitted to sign packs in this namespace.
    #[error("key `{key_id}` may not sign `{name}` (it is permitted for {permitted:?})")]
    NamespaceUnauthorized {
        /// Key id.
        key_id: String,
        /// Pack name.
        name: String,
        /// The key's permitted namespaces.
        permitted: Vec<String>,
    },
    /// The key was revoked before the version was published.
    #[error("key `{key_id}` was revoked at {revoked_at}, before this version was published")]
    KeyRevoked {
        /// Key id.
        key_id: String,
        /// Revocation time (RFC 3339).
        revoked_at: String,
    },
    /// The version was published outside the key's validity window.
    #[error("key `{key_id}` was not valid at the version's publish time {published_at}")]
    KeyOutsideValidity {
        /// Key id.
        key_id: String,
        /// Publish time (RFC 3339).
        published_at: String,
    },
    /// pack.json names a different signer than the served manifest.
    #[error("pack.json is signed by `{found}`, but the registry lists signer `{expected}`")]
    SignerMismatch {
        /// Key id from the served manifest.
        expected: String,
        /// Key id from pack.json.
        found: String,
    },
    /// The version carries no signing block.
    #[error("the version is unsigned")]
    Unsigned,
    /// A `signing.method` this verifier does not implement.
    #[error("signing method `{method}` is not supported (expected `manual` or `ed25519`)")]
    SigningMethodUnsupported {
        /// The method as found.
        method: String,
    },
    /// A signature that is not exactly 64 bytes.
    #[error("signature is {len} bytes; an Ed25519 signature is exactly 64")]
    SignatureMalformed {
        /// Observed length.
        len: usize,
    },
    /// Under `manual`, the detached signature differs from the copy embedded in the tarball.
    #[error("the detached signature differs from keys/pack.json.sig inside the tarball")]
    SignatureMismatch,
    /// The signature verifies, but under another trusted key than the one the pack declares:
    /// a publisher signing outside its identity, or a signature lifted from another publisher.
    #[error("the signature of pack.json was made by key `{actual}`, but the pack declares signer `{declared}`")]
    SignatureWrongKey {
        /// Key id the pack declares.
        declared: String,
        /// Trusted key the signature verifies under.
        actual: String,
    },
    /// The signature is the one made for another version of the same pack (a replay).
    #[error("the signature belongs to {name}@{from_version}, not to {name}@{version}")]
    SignatureReused {
        /// Pack name.
        name: String,
        /// Version being verified.
        version: String,
        /// Version the signature was made for.
        from_version: String,
    },
    /// The Ed25519 signature does not verify.
    #[error("the signature of `{subject}` does not verify against key `{key_id}`")]
    SignatureInvalid {
        /// What was signed (`pack.json` or `tarball`, or a document name).
        subject: String,
        /// Key id.
        key_id: String,
    },

    // ---- trust chain ----------------------------------------------------------------------
    /// A trust bundle that cannot be parsed or is inconsistent.
    #[error("trust bundle is invalid: {detail}")]
    TrustBundleInvalid {
        /// What was wrong.
        detail: String,
    },
    /// A keychain document that cannot be parsed or is inconsistent.
    #[error("keychain is invalid: {detail}")]
    KeychainInvalid {
        /// What was wrong.
        detail: String,
    },
    /// The keychain is not signed by the pinned root key.
    #[error("keychain is not signed by the pinned root key `{root_key_id}`")]
    KeychainSignatureInvalid {
        /// The pinned root's key id.
        root_key_id: String,
    },
    /// The keychain is older than one already seen (rollback attack).
    #[error("keychain version {found} is older than version {seen} already trusted")]
    KeychainRollback {
        /// Version offered.
        found: u64,
        /// Highest version seen before.
        seen: u64,
    },
    /// The keychain has the same version as one already seen but different content.
    #[error("keychain version {version} differs from the version {version} already trusted")]
    KeychainFork {
        /// The version number.
        version: u64,
    },
    /// The keychain has expired (freeze attack, or an operator who forgot to re-sign).
    #[error("keychain version {version} expired at {expires_at}")]
    KeychainExpired {
        /// Version.
        version: u64,
        /// Expiry (RFC 3339).
        expires_at: String,
    },
    /// The keychain belongs to another registry.
    #[error("keychain is for registry `{found}`, not `{expected}`")]
    KeychainRegistryMismatch {
        /// The registry the bundle pins.
        expected: String,
        /// The registry the keychain names.
        found: String,
    },
    /// The clock is earlier than a time already recorded in the trust state.
    #[error("the clock reads {now}, earlier than {last_seen} recorded in the trust state")]
    ClockRollback {
        /// Current clock (RFC 3339).
        now: String,
        /// Last recorded time (RFC 3339).
        last_seen: String,
    },
    /// The registry requires a signed version statement and none was supplied.
    #[error("the registry signs version statements, but none was supplied for this version")]
    StatementMissing,
    /// The version statement is not signed by a registry key of the keychain.
    #[error("the version statement is not validly signed: {detail}")]
    StatementInvalid {
        /// What was wrong.
        detail: String,
    },
    /// The version statement disagrees with the pack (name, version, integrity or signer).
    #[error("the version statement says {field} is `{statement}`, but the pack has `{actual}`")]
    StatementMismatch {
        /// Which field.
        field: &'static str,
        /// Value in the statement.
        statement: String,
        /// Value in the pack.
        actual: String,
    },
    /// The version is yanked and the caller asked to refuse yanked versions.
    #[error("{name}@{version} is yanked{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Yanked {
        /// Pack name.
        name: String,
        /// Version.
        version: String,
        /// Yank reason, if the registry gave one.
        reason: Option<String>,
    },

    // ---- I/O ------------------------------------------------------------------------------
    /// A registry file or response is larger than any registry document may be
    /// ([`crate::registry::MAX_DOCUMENT`]); it was not read into memory.
    #[error("{what} is larger than {limit} bytes, the most a registry file may hold")]
    DocumentTooLarge {
        /// The path or URL.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// A file or URL could not be read.
    #[error("cannot read {what}: {detail}")]
    Io {
        /// The path or URL.
        what: String,
        /// The underlying error.
        detail: String,
    },
}

impl VerifyError {
    /// The stable machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        use VerifyError::*;
        match self {
            GunzipFailed { .. } => "tarball_gunzip_failed",
            TarParseFailed { .. } => "tarball_tar_parse_failed",
            CompressedTooLarge { .. } => "payload_too_large",
            TooLarge { .. } => "tarball_too_large",
            FileTooLarge { .. } => "tarball_file_too_large",
            TooManyEntries { .. } => "tarball_too_many_entries",
            ManifestMissing => "tarball_manifest_missing",
            ManifestTooLarge { .. } => "tarball_manifest_too_large",
            ManifestNotJson { .. } => "tarball_manifest_not_json",
            PathTraversal { .. } => "tarball_path_traversal",
            AbsolutePath { .. } => "tarball_absolute_path",
            Symlink { .. } => "tarball_symlink",
            Hardlink { .. } => "tarball_hardlink",
            Device { .. } => "tarball_device",
            Fifo { .. } => "tarball_fifo",
            ExtendedHeader { .. } => "tarball_extended_header",
            UnsupportedEntry { .. } => "tarball_unsupported_entry",
            DuplicateEntry { .. } => "tarball_duplicate_entry",
            CaseCollision { .. } => "tarball_case_collision",
            NameNotUtf8 => "tarball_name_not_utf8",
            BadName { .. } => "tarball_bad_name",
            TrailingData => "tarball_trailing_data",
            ManifestInvalid { .. } => "invalid_manifest",
            NameMismatch { .. } => "manifest_name_mismatch",
            VersionMismatch { .. } => "manifest_version_mismatch",
            IntegrityMalformed { .. } => "pack_integrity_malformed",
            IntegrityMismatch { .. } => "pack_integrity_mismatch",
            KeyMalformed { .. } => "key_malformed",
            KeyUnknown { .. } => "pack_key_unknown",
            NamespaceUnauthorized { .. } => "pack_namespace_unauthorized",
            KeyRevoked { .. } => "pack_key_revoked",
            KeyOutsideValidity { .. } => "pack_key_outside_validity",
            SignerMismatch { .. } => "pack_signer_mismatch",
            Unsigned => "pack_unsigned",
            SigningMethodUnsupported { .. } => "pack_signing_method_unsupported",
            SignatureMalformed { .. } => "pack_signature_malformed",
            SignatureMismatch => "pack_signature_mismatch",
            SignatureInvalid { .. } => "pack_signature_invalid",
            SignatureWrongKey { .. } => "pack_signature_wrong_key",
            SignatureReused { .. } => "pack_signature_reused",
            TrustBundleInvalid { .. } => "trust_bundle_invalid",
            KeychainInvalid { .. } => "trust_keychain_invalid",
            KeychainSignatureInvalid { .. } => "trust_keychain_signature_invalid",
            KeychainRollback { .. } => "trust_keychain_rollback",
            KeychainFork { .. } => "trust_keychain_fork",
            KeychainExpired { .. } => "trust_keychain_expired",
            KeychainRegistryMismatch { .. } => "trust_keychain_registry_mismatch",
            ClockRollback { .. } => "trust_clock_rollback",
            StatementMissing => "registry_statement_missing",
            StatementInvalid { .. } => "registry_statement_invalid",
            StatementMismatch { .. } => "registry_statement_mismatch",
            Yanked { .. } => "pack_yanked",
            DocumentTooLarge { .. } => "payload_too_large",
            Io { .. } => "io_error",
        }
    }

    /// A short hint for people: what to do about it.
    pub fn hint(&self) -> &'static str {
        use VerifyError::*;
        match self {
            GunzipFailed { .. } | TarParseFailed { .. } | TrailingData => {
                "rebuild the tarball with `pack build`; the file is corrupt or not a pack"
            }
            CompressedTooLarge { .. }
            | TooLarge { .. }
            | FileTooLarge { .. }
            | TooManyEntries { .. }
            | ManifestTooLarge { .. } => {
                "keep packs small: ship only pack.json, schemas, prompts and the runtime entry"
            }
            ManifestMissing | ManifestNotJson { .. } | ManifestInvalid { .. } => {
                "put a valid pack.json at the tarball root (`pack init` writes a skeleton)"
            }
            PathTraversal { .. }
            | AbsolutePath { .. }
            | Symlink { .. }
            | Hardlink { .. }
            | Device { .. }
            | Fifo { .. }
            | ExtendedHeader { .. }
            | UnsupportedEntry { .. }
            | DuplicateEntry { .. }
            | CaseCollision { .. }
            | NameNotUtf8
            | BadName { .. } => "this tarball was not made by a pack builder and may be hostile; do not extract it",
            NameMismatch { .. } | VersionMismatch { .. } => {
                "the tarball's pack.json must name the same pack and version it is published as"
            }
            IntegrityMalformed { .. } => "integrity is `sha256-` followed by base64 of the digest",
            IntegrityMismatch { .. } => {
                "the bytes were altered in transit or storage; fetch again and report it if it persists"
            }
            KeyMalformed { .. } => "keys are Ed25519, as PEM SPKI, base64 SPKI DER or raw base64",
            KeyUnknown { .. } => "the signer is not in your trust bundle; update the bundle only after review",
            NamespaceUnauthorized { .. } => {
                "sign with the key granted this namespace, or ask the registry operator for a grant"
            }
            KeyRevoked { .. } | KeyOutsideValidity { .. } => {
                "the key was not valid when this version was published; the registry should yank it"
            }
            SignerMismatch { .. } | SignatureMismatch | SignatureInvalid { .. } => {
                "the pack was altered after signing or signed by another key; do not install it"
            }
            SignatureWrongKey { .. } => {
                "the signature is not by the key the pack declares in signing.publicKeyRef; do not install it (its publisher rebuilds it with `pack build --key <that key> --key-id <its id>`)"
            }
            SignatureReused { .. } => {
                "each version needs its own signature over its own pack.json; do not install it (its publisher rebuilds this version with `pack build`)"
            }
            Unsigned => "build the pack with `pack build --key … --key-id …`, which signs it",
            SigningMethodUnsupported { .. } => "rebuild the pack with `pack build`, which signs it the `manual` way",
            SignatureMalformed { .. } => "the .sig file must hold the raw 64-byte signature",
            TrustBundleInvalid { .. } => "check the trust bundle file against docs/trust-model.md",
            KeychainInvalid { .. } | KeychainSignatureInvalid { .. } | KeychainRegistryMismatch { .. } => {
                "the registry's keychain is not signed by your pinned root; do not trust this registry"
            }
            KeychainRollback { .. } | KeychainFork { .. } => {
                "someone is serving old or forked trust metadata; use another mirror and report it"
            }
            KeychainExpired { .. } => {
                "the registry must re-sign its keychain; to check against it anyway, `pack verify` and `pack-verify` take --allow-expired-metadata"
            }
            ClockRollback { .. } => "fix the system clock",
            StatementMissing | StatementInvalid { .. } | StatementMismatch { .. } => {
                "the registry metadata for this version is not signed as advertised; do not install it"
            }
            Yanked { .. } => "choose another version, or pin this one explicitly if you must",
            DocumentTooLarge { .. } => {
                "point at a registry tree or URL; a registry that serves a file this large is broken or hostile"
            }
            Io { .. } => "check the path or URL",
        }
    }
}

/// A code-bearing error rendered as `code: message`.
pub struct Coded<'a>(pub &'a VerifyError);

impl fmt::Display for Coded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.code(), self.0)
    }
}

/// Result alias for this crate.
pub type Result<T, E = VerifyError> = std::result::Result<T, E>;

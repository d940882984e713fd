//! Subresource-integrity values (`sha256-<base64>`) over the exact `.tgz` bytes.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::error::VerifyError;

/// A SHA-256 content address in SRI form. Always emitted as `sha256-` + padded base64.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Integrity([u8; 32]);

impl Integrity {
    /// Hashes `bytes` (the compressed tarball as stored and served).
    pub fn of(bytes: &[u8]) -> Self {
        Integrity(Sha256::digest(bytes).into())
    }

    /// The raw 32-byte digest.
    pub fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest as lowercase hex (the form SBOMs use).
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses an integrity value. Accepts the canonical `sha256-<base64>` and, because the
    /// contract's corpus uses them, a bare 64-digit hex digest and `sha256:<hex>`.
    pub fn parse(value: &str) -> Result<Self, VerifyError> {
        let bad = || VerifyError::IntegrityMalformed { value: value.chars().take(120).collect() };
        let bytes = if let Some(b64) = value.strip_prefix("sha256-") {
            STANDARD.decode(b64).map_err(|_| bad())?
        } else {
            let hex = value.strip_prefix("sha256:").unwrap_or(value);
            decode_hex(hex).ok_or_else(bad)?
        };
        let arr: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
        Ok(Integrity(arr))
    }

    /// Checks `bytes` against this value.
    pub fn check(&self, bytes: &[u8]) -> Result<(), VerifyError> {
        let actual = Integrity::of(bytes);
        if actual == *self {
            Ok(())
        } else {
            Err(VerifyError::IntegrityMismatch { expected: self.to_string(), actual: actual.to_string() })
        }
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

impl fmt::Display for Integrity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256-{}", STANDARD.encode(self.0))
    }
}

impl fmt::Debug for Integrity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Integrity {
    type Err = VerifyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Integrity::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_accepts_hex_forms() {
        let i = Integrity::of(b"hello");
        let s = i.to_string();
        assert!(s.starts_with("sha256-") && s.ends_with('='));
        assert_eq!(Integrity::parse(&s).ok(), Some(i));
        assert_eq!(Integrity::parse(&i.hex()).ok(), Some(i));
        assert_eq!(Integrity::parse(&format!("sha256:{}", i.hex())).ok(), Some(i));
    }

    #[test]
    fn rejects_wrong_lengths_and_algorithms() {
        for bad in ["", "sha256-", "sha256-AAAA", "sha512-abc", "zz", &"g".repeat(64)] {
            let err = Integrity::parse(bad).err().map(|e| e.code());
            assert_eq!(err, Some("pack_integrity_malformed"), "{bad}");
        }
    }

    #[test]
    fn check_reports_both_values() {
        let i = Integrity::of(b"a");
        match i.check(b"b") {
            Err(VerifyError::IntegrityMismatch { expected, actual }) => {
                assert_eq!(expected, i.to_string());
                assert_eq!(actual, Integrity::of(b"b").to_string());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

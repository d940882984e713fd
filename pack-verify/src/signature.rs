//! Detached Ed25519 signatures, the two pack signing conventions, and batch verification.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::VerifyError;
use crate::keys::PublicKey;

/// A detached Ed25519 signature: exactly 64 raw bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; 64]);

impl Signature {
    /// Parses raw signature bytes, as served at `…/{version}.sig`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VerifyError> {
        let arr: [u8; 64] = bytes.try_into().map_err(|_| VerifyError::SignatureMalformed { len: bytes.len() })?;
        Ok(Signature(arr))
    }

    /// Parses base64 of the 64 bytes (lockfiles and envelopes).
    pub fn from_base64(text: &str) -> Result<Self, VerifyError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| VerifyError::SignatureMalformed { len: 0 })?;
        Self::from_bytes(&bytes)
    }

    /// The raw 64 bytes.
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0
    }

    /// Base64 of the raw bytes.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub(crate) fn to_dalek(self) -> ed25519_dalek::Signature {
        ed25519_dalek::Signature::from_bytes(&self.0)
    }

    pub(crate) fn from_dalek(sig: ed25519_dalek::Signature) -> Self {
        Signature(sig.to_bytes())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_base64())
    }
}

/// What a pack's detached signature covers, chosen by `signing.method` (decisions §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningMethod {
    /// `manual`: the exact bytes of `pack.json` inside the tarball; a copy of the signature
    /// travels in the tarball as `keys/pack.json.sig`.
    Manual,
    /// `ed25519`: the whole `.tgz` bytes (the two legacy reference packs).
    Tarball,
}

impl SigningMethod {
    /// Parses a `signing.method` value.
    pub fn parse(method: &str) -> Result<Self, VerifyError> {
        match method {
            "manual" => Ok(SigningMethod::Manual),
            "ed25519" => Ok(SigningMethod::Tarball),
            other => Err(VerifyError::SigningMethodUnsupported { method: other.chars().take(64).collect() }),
        }
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            SigningMethod::Manual => "manual",
            SigningMethod::Tarball => "ed25519",
        }
    }
}

/// One signature to check as part of a batch.
#[derive(Debug, Clone, Copy)]
pub struct SignatureCheck<'a> {
    /// The signed bytes.
    pub message: &'a [u8],
    /// The signature.
    pub signature: Signature,
    /// The key that should have made it.
    pub key: PublicKey,
}

/// Checks many signatures at once. Returns one verdict per input, in order.
///
/// The whole set goes through one Ed25519 batch equation; if it fails, the set is halved until
/// the bad signatures are isolated, so a single forgery costs a few extra batches instead of
/// one verification per signature. A singleton is always checked with strict verification, so a
/// signature reported bad here is bad under [`PublicKey::verify`] too.
pub fn verify_batch(checks: &[SignatureCheck<'_>]) -> Vec<bool> {
    let mut verdicts = vec![false; checks.len()];
    bisect(checks, 0, &mut verdicts);
    verdicts
}

fn bisect(checks: &[SignatureCheck<'_>], offset: usize, verdicts: &mut [bool]) {
    match checks.len() {
        0 => {}
        1 => verdicts[offset] = checks[0].key.verify(checks[0].message, &checks[0].signature),
        _ => {
            let messages: Vec<&[u8]> = checks.iter().map(|c| c.message).collect();
            let signatures: Vec<ed25519_dalek::Signature> = checks.iter().map(|c| c.signature.to_dalek()).collect();
            let keys: Vec<ed25519_dalek::VerifyingKey> = checks.iter().map(|c| *c.key.dalek()).collect();
            if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
                verdicts[offset..offset + checks.len()].fill(true);
            } else {
                let mid = checks.len() / 2;
                bisect(&checks[..mid], offset, verdicts);
                bisect(&checks[mid..], offset + mid, verdicts);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKey;

    #[test]
    fn signature_length_is_enforced() {
        assert_eq!(Signature::from_bytes(&[0; 63]).err().map(|e| e.code()), Some("pack_signature_malformed"));
        assert_eq!(Signature::from_bytes(&[0; 65]).err().map(|e| e.code()), Some("pack_signature_malformed"));
        assert!(Signature::from_bytes(&[0; 64]).is_ok());
    }

    #[test]
    fn batch_isolates_the_bad_ones() {
        let keys: Vec<PrivateKey> = (0..9u8).map(|i| PrivateKey::from_seed([i + 1; 32])).collect();
        let messages: Vec<Vec<u8>> = (0..9u8).map(|i| vec![i; 10]).collect();
        let mut checks: Vec<SignatureCheck> = keys
            .iter()
            .zip(&messages)
            .map(|(k, m)| SignatureCheck { message: m, signature: k.sign(m), key: k.public_key() })
            .collect();
        assert!(verify_batch(&checks).iter().all(|ok| *ok));
        checks[2].signature = keys[3].sign(&messages[2]);
        checks[7].key = keys[0].public_key();
        let verdicts = verify_batch(&checks);
        let bad: Vec<usize> = verdicts.iter().enumerate().filter(|(_, ok)| !**ok).map(|(i, _)| i).collect();
        assert_eq!(bad, [2, 7]);
    }

    #[test]
    fn methods_parse() {
        assert_eq!(SigningMethod::parse("manual").ok(), Some(SigningMethod::Manual));
        assert_eq!(SigningMethod::parse("ed25519").ok(), Some(SigningMethod::Tarball));
        assert_eq!(SigningMethod::parse("sigstore").err().map(|e| e.code()), Some("pack_signing_method_unsupported"));
    }
}

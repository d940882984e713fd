//! Ed25519 public keys in the three encodings the ecosystem uses, and private keys as PKCS#8.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use crate::error::VerifyError;
use crate::signature::Signature;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 key bytes follow.
const SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// An Ed25519 public key that passed parsing and the weak-key check.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses a key given as PEM SPKI (`-----BEGIN PUBLIC KEY-----`), base64 of the 44-byte
    /// SPKI DER (`MCowBQYDK2VwAyEA…`), or base64 (standard or URL-safe) of the raw 32 bytes.
    pub fn parse(text: &str) -> Result<Self, VerifyError> {
        let text = text.trim();
        if text.starts_with("-----BEGIN") {
            let key = VerifyingKey::from_public_key_pem(text)
                .map_err(|e| malformed(format!("not an Ed25519 PEM public key ({e})")))?;
            return Self::checked(key);
        }
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| malformed("not PEM and not base64".to_string()))?;
        Self::from_der_or_raw(&bytes)
    }

    /// Parses raw key bytes: 32 raw bytes or 44 bytes of SPKI DER.
    pub fn from_der_or_raw(bytes: &[u8]) -> Result<Self, VerifyError> {
        let raw: &[u8] = match bytes.len() {
            32 => bytes,
            44 if bytes[..12] == SPKI_PREFIX => &bytes[12..],
            n => return Err(malformed(format!("{n} bytes is neither a raw key (32) nor Ed25519 SPKI DER (44)"))),
        };
        let mut arr = [0u8; 32];
        arr.copy_from_slice(raw);
        let key = VerifyingKey::from_bytes(&arr).map_err(|_| malformed("not a point on the curve".into()))?;
        Self::checked(key)
    }

    fn checked(key: VerifyingKey) -> Result<Self, VerifyError> {
        // A small-order key verifies signatures it never made; never accept one as a signer.
        if key.is_weak() {
            return Err(malformed("weak (small-order) key".into()));
        }
        Ok(PublicKey(key))
    }

    /// The raw 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Base64 of the raw 32 bytes (our trust-bundle form).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.to_bytes())
    }

    /// Base64 of the 44-byte SPKI DER (the lockfile and keychain examples' form).
    pub fn to_spki_base64(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0.to_bytes());
        STANDARD.encode(der)
    }

    /// PEM SPKI with a trailing newline, as `/keys/{keyId}.pub` serves it.
    pub fn to_pem(&self) -> String {
        self.0.to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF).unwrap_or_else(|_| {
            format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", self.to_spki_base64())
        })
    }

    /// Verifies one signature strictly (RFC 8032 with the non-malleability checks).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        self.0.verify_strict(message, &signature.to_dalek()).is_ok()
    }

    pub(crate) fn dalek(&self) -> &VerifyingKey {
        &self.0
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

fn malformed(detail: String) -> VerifyError {
    VerifyError::KeyMalformed { detail }
}

/// An Ed25519 private key. Kept out of `Debug` output.
pub struct PrivateKey(SigningKey);

impl PrivateKey {
    /// Makes a key from a 32-byte seed (the caller supplies the randomness).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        PrivateKey(SigningKey::from_bytes(&seed))
    }

    /// Parses a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`, as openssl writes it).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, VerifyError> {
        SigningKey::from_pkcs8_pem(pem.trim())
            .map(PrivateKey)
            .map_err(|e| malformed(format!("not an Ed25519 PKCS#8 PEM private key ({e})")))
    }

    /// PKCS#8 PEM with a trailing newline.
    pub fn to_pkcs8_pem(&self) -> Result<String, VerifyError> {
        self.0
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map(|z| z.to_string())
            .map_err(|e| malformed(format!("cannot encode private key ({e})")))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `message` (pure Ed25519, no prehash).
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature::from_dalek(self.0.sign(message))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(public: {})", self.public_key().to_base64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEAM_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAORLpnWQX+LXPEMbzfru6TnEolAq5bkg+mIcuoggEe/w=\n-----END PUBLIC KEY-----\n";

    #[test]
    fn three_encodings_agree() {
        let pem = PublicKey::parse(TEAM_PEM).expect("pem");
        let spki = PublicKey::parse("MCowBQYDK2VwAyEAORLpnWQX+LXPEMbzfru6TnEolAq5bkg+mIcuoggEe/w=").expect("spki");
        let raw = PublicKey::parse("ORLpnWQX+LXPEMbzfru6TnEolAq5bkg+mIcuoggEe/w=").expect("raw");
        assert_eq!(pem, spki);
        assert_eq!(pem, raw);
        assert_eq!(pem.to_pem(), TEAM_PEM);
        assert_eq!(raw.to_base64(), "ORLpnWQX+LXPEMbzfru6TnEolAq5bkg+mIcuoggEe/w=");
    }

    #[test]
    fn refuses_garbage_and_weak_keys() {
        for bad in ["", "hello world", "AAAA", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"] {
            assert_eq!(PublicKey::parse(bad).err().map(|e| e.code()), Some("key_malformed"), "{bad}");
        }
        // The identity point is small-order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(PublicKey::from_der_or_raw(&identity).is_err());
    }

    #[test]
    fn private_key_round_trips_and_signs() {
        let key = PrivateKey::from_seed([7u8; 32]);
        let pem = key.to_pkcs8_pem().expect("encodes");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let again = PrivateKey::from_pkcs8_pem(&pem).expect("decodes");
        assert_eq!(again.public_key(), key.public_key());
        let sig = key.sign(b"msg");
        assert!(key.public_key().verify(b"msg", &sig));
        assert!(!key.public_key().verify(b"msh", &sig));
    }
}

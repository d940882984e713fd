//! Signed envelopes for trust documents (keychains, version statements).
//!
//! The signature covers the DSSE pre-authentication encoding of the payload type and the exact
//! payload bytes, so nothing is re-serialised before checking, and a signature made for one
//! document type can never be replayed as another (or as a pack signature, which signs bare
//! `pack.json` bytes).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::error::VerifyError;
use crate::keys::{PrivateKey, PublicKey};
use crate::signature::Signature;

/// Most signatures an envelope may carry (bounds work on hostile input).
pub const MAX_SIGNATURES: usize = 16;

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Which key made it.
    #[serde(rename = "keyId")]
    pub key_id: String,
    /// Base64 of the 64 signature bytes.
    pub sig: String,
}

/// A signed document: `{"payloadType", "payload" (base64), "signatures": [{keyId, sig}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Media type of the payload; part of what is signed.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Base64 of the payload bytes.
    pub payload: String,
    /// Signatures over the pre-authentication encoding.
    pub signatures: Vec<EnvelopeSignature>,
}

/// The bytes a signature covers: `DSSEv1 <len(type)> <type> <len(body)> <body>`.
pub fn pre_auth_encoding(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Signs `payload` with each key.
    pub fn sign(payload_type: &str, payload: &[u8], signers: &[(&str, &PrivateKey)]) -> Self {
        let pae = pre_auth_encoding(payload_type, payload);
        Envelope {
            payload_type: payload_type.to_string(),
            payload: STANDARD.encode(payload),
            signatures: signers
                .iter()
                .map(|(id, key)| EnvelopeSignature { key_id: id.to_string(), sig: key.sign(&pae).to_base64() })
                .collect(),
        }
    }

    /// Parses an envelope, bounded in size by the caller.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Self, String> {
        let env: Envelope =
            serde_json::from_slice(bytes).map_err(|e| format!("{what} is not a signed envelope: {e}"))?;
        if env.signatures.len() > MAX_SIGNATURES {
            return Err(format!("{what} carries {} signatures; at most {MAX_SIGNATURES}", env.signatures.len()));
        }
        Ok(env)
    }

    /// Serialises the envelope (pretty, stable field order).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Decodes the payload bytes.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, String> {
        STANDARD.decode(&self.payload).map_err(|_| "payload is not base64".to_string())
    }

    /// Returns the payload if some signature by `key_id` verifies under `key` and the payload
    /// type is `expected_type`.
    pub fn verify_by(&self, expected_type: &str, key_id: &str, key: &PublicKey) -> Result<Vec<u8>, VerifyError> {
        let payload = self.payload_bytes().map_err(|detail| VerifyError::StatementInvalid { detail })?;
        if self.payload_type != expected_type {
            return Err(VerifyError::StatementInvalid {
                detail: format!("payload type is `{}`, expected `{expected_type}`", self.payload_type),
            });
        }
        let pae = pre_auth_encoding(&self.payload_type, &payload);
        let ok = self
            .signatures
            .iter()
            .filter(|s| s.key_id == key_id)
            .filter_map(|s| Signature::from_base64(&s.sig).ok())
            .any(|sig| key.verify(&pae, &sig));
        if ok {
            Ok(payload)
        } else {
            Err(VerifyError::SignatureInvalid { subject: expected_type.to_string(), key_id: key_id.to_string() })
        }
    }
}

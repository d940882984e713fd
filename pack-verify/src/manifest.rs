//! The parts of `pack.json` and of the served version manifest that verification reads.
//!
//! Parsing is lenient where the wire is (unknown fields ignored; `yanked` as a boolean or the
//! spec's object; `keyId` or its alias `publicKeyRef`) and strict where trust depends on it.

use serde_json::{Map, Value};

use crate::error::VerifyError;
use crate::integrity::Integrity;
use crate::signature::SigningMethod;

/// Largest version manifest we parse; real ones are a few KB.
pub const MAX_VERSION_MANIFEST: usize = 1024 * 1024;

/// A pack's `signing` block as served or as embedded in `pack.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningBlock {
    /// `signing.method`, as a convention.
    pub method: SigningMethod,
    /// `signing.keyId`, or the legacy alias `signing.publicKeyRef` that current packs use.
    pub key_id: String,
    /// `signing.publicKeyUrl`, if given.
    pub public_key_url: Option<String>,
}

impl SigningBlock {
    fn from_value(signing: &Value, whose: &str) -> Result<Option<Self>, VerifyError> {
        let obj = match signing {
            Value::Null => return Ok(None),
            Value::Object(o) => o,
            _ => return Err(invalid(format!("{whose} `signing` is not an object"))),
        };
        let method = match obj.get("method") {
            None => return Err(invalid(format!("{whose} `signing.method` is missing"))),
            Some(Value::String(m)) if m == "none" => return Ok(None),
            Some(Value::String(m)) => SigningMethod::parse(m)?,
            Some(_) => return Err(invalid(format!("{whose} `signing.method` is not a string"))),
        };
        let key_id = str_field(obj, "keyId")
            .or_else(|| str_field(obj, "publicKeyRef"))
            .ok_or_else(|| invalid(format!("{whose} `signing` names no keyId or publicKeyRef")))?;
        Ok(Some(SigningBlock {
            method,
            key_id: key_id.to_string(),
            public_key_url: str_field(obj, "publicKeyUrl").map(str::to_string),
        }))
    }
}

/// The fields of `pack.json` (inside the tarball) that verification compares.
#[derive(Debug, Clone, PartialEq)]
pub struct PackJson {
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: String,
    /// The embedded signing block, if any.
    pub signing: Option<SigningBlock>,
    /// The whole document, for callers that need more.
    pub value: Value,
}

impl PackJson {
    /// Parses the raw bytes of `pack.json`.
    pub fn parse(bytes: &[u8]) -> Result<Self, VerifyError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| VerifyError::ManifestNotJson { detail: e.to_string() })?;
        let obj = value.as_object().ok_or_else(|| VerifyError::ManifestNotJson { detail: "not an object".into() })?;
        let name = str_field(obj, "name").ok_or_else(|| invalid("pack.json has no string `name`".into()))?;
        let version = str_field(obj, "version").ok_or_else(|| invalid("pack.json has no string `version`".into()))?;
        let signing = SigningBlock::from_value(obj.get("signing").unwrap_or(&Value::Null), "pack.json")?;
        let (name, version) = (name.to_string(), version.to_string());
        // The borrows end above, so the document moves in instead of being deep-copied.
        Ok(PackJson { name, version, signing, value })
    }
}

/// The served version manifest (`/v1/packs/{name}/-/{version}.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct VersionManifest {
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: String,
    /// `integrity` of the `.tgz`.
    pub integrity: Integrity,
    /// The signing block; `None` for an unsigned version.
    pub signing: Option<SigningBlock>,
    /// `publishedAt`, if the registry gave one.
    pub published_at: Option<String>,
    /// Whether the version is yanked (boolean form or the spec's object form).
    pub yanked: bool,
    /// `yankedReason` (or `yanked.reason`).
    pub yanked_reason: Option<String>,
    /// Whether the version is deprecated (`deprecated`, `deprecation.deprecated` or
    /// `versionDeprecated`).
    pub deprecated: bool,
    /// The whole document.
    pub value: Value,
}

impl VersionManifest {
    /// Parses the raw bytes of a served version manifest.
    pub fn parse(bytes: &[u8]) -> Result<Self, VerifyError> {
        if bytes.len() > MAX_VERSION_MANIFEST {
            return Err(invalid(format!(
                "version manifest is {} bytes, over the {MAX_VERSION_MANIFEST} limit",
                bytes.len()
            )));
        }
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| invalid(format!("version manifest is not JSON: {e}")))?;
        Self::from_value(value)
    }

    /// Reads a version manifest from an already parsed document.
    pub fn from_value(value: Value) -> Result<Self, VerifyError> {
        let obj = value.as_object().ok_or_else(|| invalid("version manifest is not an object".into()))?;
        let name = str_field(obj, "name").ok_or_else(|| invalid("version manifest has no `name`".into()))?;
        let version = str_field(obj, "version").ok_or_else(|| invalid("version manifest has no `version`".into()))?;
        let integrity =
            str_field(obj, "integrity").ok_or_else(|| invalid("version manifest has no `integrity`".into()))?;
        let integrity = Integrity::parse(integrity)?;
        let signing = SigningBlock::from_value(obj.get("signing").unwrap_or(&Value::Null), "version manifest")?;
        let (yanked, yanked_reason) = match obj.get("yanked") {
            Some(Value::Bool(b)) => (*b, str_field(obj, "yankedReason").map(str::to_string)),
            Some(Value::Object(y)) => (true, str_field(y, "reason").map(str::to_string)),
            _ => (false, None),
        };
        let deprecated = obj.get("deprecated").and_then(Value::as_bool).unwrap_or(false)
            || obj.get("versionDeprecated").and_then(Value::as_bool).unwrap_or(false)
            || obj.get("deprecation").and_then(|d| d.get("deprecated")).and_then(Value::as_bool).unwrap_or(false);
        let (name, version) = (name.to_string(), version.to_string());
        let published_at = str_field(obj, "publishedAt").map(str::to_string);
        // The borrows end above, so the document moves in instead of being deep-copied.
        Ok(VersionManifest {
            name,
            version,
            integrity,
            signing,
            published_at,
            yanked,
            yanked_reason,
            deprecated,
            value,
        })
    }
}

fn str_field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

fn invalid(detail: String) -> VerifyError {
    VerifyError::ManifestInvalid { detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_yank_shapes_and_key_aliases() {
        let m = VersionManifest::parse(br#"{"name":"core.a.b","version":"1.0.0","integrity":"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","yanked":{"reason":"bad"},"signing":{"method":"manual","publicKeyRef":"k1"}}"#).expect("parses");
        assert!(m.yanked);
        assert_eq!(m.yanked_reason.as_deref(), Some("bad"));
        assert_eq!(m.signing.map(|s| s.key_id), Some("k1".to_string()));
    }

    #[test]
    fn refuses_missing_integrity_and_bad_signing() {
        let err = VersionManifest::parse(br#"{"name":"a","version":"1"}"#).err().map(|e| e.code());
        assert_eq!(err, Some("invalid_manifest"));
        let err =
            PackJson::parse(br#"{"name":"a","version":"1","signing":{"method":"manual"}}"#).err().map(|e| e.code());
        assert_eq!(err, Some("invalid_manifest"));
        assert_eq!(PackJson::parse(b"[1]").err().map(|e| e.code()), Some("tarball_manifest_not_json"));
    }
}

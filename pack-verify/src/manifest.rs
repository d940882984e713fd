//! The parts of `pack.json` and of the served version manifest that verification reads.
//!
//! Parsing is lenient where the wire is (unknown fields ignored; `yanked` as a boolean or the
//! spec's object; `keyId` or its alias `publicKeyRef`) and strict where trust depends on it.

use serde::Deserialize;
use serde_json::Value;

use crate::error::VerifyError;
use crate::integrity::Integrity;
use crate::lenient::{BoolOrObject, Loose, Object, ReadError, loose, read_object};
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

/// `signing` as written: `method` must be a string, the key fields count only as strings.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSigning {
    method: Option<String>,
    key_id: Option<Loose<String>>,
    public_key_ref: Option<Loose<String>>,
    public_key_url: Option<Loose<String>>,
}

impl SigningBlock {
    /// `None` for an absent or `null` block and for `method: "none"`.
    fn from_raw(raw: Option<Object<RawSigning>>, whose: &str) -> Result<Option<Self>, VerifyError> {
        let Some(Object(raw)) = raw else { return Ok(None) };
        let method = match raw.method.as_deref() {
            None => return Err(invalid(format!("{whose} `signing.method` is missing"))),
            Some("none") => return Ok(None),
            Some(m) => SigningMethod::parse(m)?,
        };
        let key_id = loose(raw.key_id)
            .or_else(|| loose(raw.public_key_ref))
            .ok_or_else(|| invalid(format!("{whose} `signing` names no keyId or publicKeyRef")))?;
        Ok(Some(SigningBlock { method, key_id, public_key_url: loose(raw.public_key_url) }))
    }
}

/// The fields of `pack.json` that verification reads; serde skips the rest.
#[derive(Deserialize)]
struct RawPackJson {
    name: Option<Loose<String>>,
    version: Option<Loose<String>>,
    signing: Option<Object<RawSigning>>,
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
}

impl PackJson {
    /// Parses the raw bytes of `pack.json`, reading only the fields verification compares.
    pub fn parse(bytes: &[u8]) -> Result<Self, VerifyError> {
        // Not JSON, or not an object: `tarball_manifest_not_json`; a field of the wrong shape:
        // `invalid_manifest`.
        let raw = read_object::<RawPackJson>(bytes).map_err(|e| match e {
            ReadError::Syntax(detail) => VerifyError::ManifestNotJson { detail },
            ReadError::NotAnObject => VerifyError::ManifestNotJson { detail: "not an object".into() },
            ReadError::Field(detail) => invalid(format!("pack.json: {detail}")),
        })?;
        Self::from_raw(raw)
    }

    /// Parses `pack.json` for a caller that also needs the whole document (a publisher adding
    /// fields, a registry checking the rest of the manifest). The fields come from the raw bytes
    /// by [`PackJson::parse`] itself, so a registry refuses exactly what a host would (a
    /// `serde_json::Value` alone would quietly keep the last of two `name`s).
    pub fn parse_document(bytes: &[u8]) -> Result<(Self, Value), VerifyError> {
        let pack = Self::parse(bytes)?;
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| VerifyError::ManifestNotJson { detail: e.to_string() })?;
        Ok((pack, value))
    }

    fn from_raw(raw: RawPackJson) -> Result<Self, VerifyError> {
        let name = loose(raw.name).ok_or_else(|| invalid("pack.json has no string `name`".into()))?;
        let version = loose(raw.version).ok_or_else(|| invalid("pack.json has no string `version`".into()))?;
        let signing = SigningBlock::from_raw(raw.signing, "pack.json")?;
        Ok(PackJson { name, version, signing })
    }
}

/// The version manifest fields verification reads; serde skips the rest.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawVersionManifest {
    name: Option<Loose<String>>,
    version: Option<Loose<String>>,
    integrity: Option<Loose<String>>,
    signing: Option<Object<RawSigning>>,
    published_at: Option<Loose<String>>,
    // The lifecycle fields, as in `RawLifecycle`: not flattened, because serde's `flatten` would
    // buffer every field the verifier skips (whole node lists) to hand them on.
    yanked: Option<BoolOrObject<RawYank>>,
    yanked_reason: Option<Loose<String>>,
    deprecated: Option<Loose<bool>>,
    version_deprecated: Option<Loose<bool>>,
    deprecation: Option<BoolOrObject<RawDeprecation>>,
    deprecation_reason: Option<Loose<String>>,
    superseded_by: Option<Loose<String>>,
}

/// The spec's object form of `yanked` (the reference registry writes a boolean).
#[derive(Deserialize)]
struct RawYank {
    reason: Option<Loose<String>>,
}

/// The spec's object form of deprecation, `deprecation: {deprecated, reason, supersededBy}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDeprecation {
    deprecated: Option<Loose<bool>>,
    reason: Option<Loose<String>>,
    superseded_by: Option<Loose<String>>,
}

/// Every spelling of a version's lifecycle state (contract §6.1), from a version manifest or a
/// pack index entry.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLifecycle {
    yanked: Option<BoolOrObject<RawYank>>,
    yanked_reason: Option<Loose<String>>,
    deprecated: Option<Loose<bool>>,
    version_deprecated: Option<Loose<bool>>,
    deprecation: Option<BoolOrObject<RawDeprecation>>,
    deprecation_reason: Option<Loose<String>>,
    superseded_by: Option<Loose<String>>,
}

/// A version's lifecycle state as the registry states it, outside the signature: whether it is
/// yanked or deprecated, and why.
///
/// Read the same way wherever it is read (the verifier, the resolver, a registry importing or
/// mirroring another), so that a host and the tool that resolved for it never disagree about a
/// version. The wire has three spellings (contract §6.1): the reference registry's flat
/// booleans (`yanked` + `yankedReason`, `deprecated` + `deprecationReason` + `supersededBy`),
/// the spec's objects (`yanked: {reason}`, `deprecation: {deprecated, reason, supersededBy}`)
/// and v2's `versionDeprecated`. A field of any other type counts as absent (`"yanked": "soon"`
/// is not a yank).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// Whether the version is yanked (`yanked: true` or the spec's object).
    pub yanked: bool,
    /// `yankedReason` (or `yanked.reason`).
    pub yanked_reason: Option<String>,
    /// The deprecation, if the version is deprecated (`deprecated`, `versionDeprecated` or
    /// `deprecation.deprecated`).
    pub deprecation: Option<Deprecation>,
}

/// Why a version is deprecated and what replaces it, each when the registry says.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deprecation {
    /// `deprecation.reason`, else `deprecationReason`.
    pub reason: Option<String>,
    /// `deprecation.supersededBy`, else `supersededBy`.
    pub superseded_by: Option<String>,
}

impl Lifecycle {
    /// Reads the lifecycle fields of a version manifest or pack index entry already parsed as
    /// JSON. Anything that is not an object states no lifecycle (the default).
    pub fn from_value(value: &Value) -> Self {
        // From a `Value` no field can be repeated and every field is read loosely, so this
        // cannot fail on an object.
        match Object::<RawLifecycle>::deserialize(value) {
            Ok(Object(raw)) => raw.into_lifecycle(),
            Err(_) => Lifecycle::default(),
        }
    }

    /// Whether the version is deprecated.
    pub fn deprecated(&self) -> bool {
        self.deprecation.is_some()
    }
}

impl RawLifecycle {
    fn into_lifecycle(self) -> Lifecycle {
        let (yanked, yanked_reason) = match self.yanked {
            Some(BoolOrObject::Bool(true)) => (true, loose(self.yanked_reason)),
            Some(BoolOrObject::Object(y)) => (true, loose(y.reason).or_else(|| loose(self.yanked_reason))),
            // An unyanked version keeps no reason (a registry may leave a stale one behind).
            Some(BoolOrObject::Bool(false) | BoolOrObject::Other) | None => (false, None),
        };
        let (object, object_says) = match self.deprecation {
            Some(BoolOrObject::Object(d)) => {
                let says = d.deprecated.as_ref().and_then(Loose::get) == Some(&true);
                (Some(d), says)
            }
            Some(BoolOrObject::Bool(_) | BoolOrObject::Other) | None => (None, false),
        };
        let deprecated =
            loose(self.deprecated).unwrap_or(false) || loose(self.version_deprecated).unwrap_or(false) || object_says;
        let deprecation = deprecated.then(|| {
            let (reason, superseded_by) = match object {
                Some(d) => (loose(d.reason), loose(d.superseded_by)),
                None => (None, None),
            };
            Deprecation {
                reason: reason.or_else(|| loose(self.deprecation_reason)),
                superseded_by: superseded_by.or_else(|| loose(self.superseded_by)),
            }
        });
        Lifecycle { yanked, yanked_reason, deprecation }
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
    /// Whether the version is yanked or deprecated, and why.
    pub lifecycle: Lifecycle,
}

impl VersionManifest {
    /// Parses the raw bytes of a served version manifest, reading only the fields verification
    /// uses.
    pub fn parse(bytes: &[u8]) -> Result<Self, VerifyError> {
        if bytes.len() > MAX_VERSION_MANIFEST {
            return Err(invalid(format!(
                "version manifest is {} bytes, over the {MAX_VERSION_MANIFEST} limit",
                bytes.len()
            )));
        }
        let raw = read_object::<RawVersionManifest>(bytes).map_err(|e| match e {
            ReadError::Syntax(detail) => invalid(format!("version manifest is not JSON: {detail}")),
            ReadError::NotAnObject => invalid("version manifest is not an object".into()),
            ReadError::Field(detail) => invalid(format!("version manifest: {detail}")),
        })?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawVersionManifest) -> Result<Self, VerifyError> {
        let name = loose(raw.name).ok_or_else(|| invalid("version manifest has no `name`".into()))?;
        let version = loose(raw.version).ok_or_else(|| invalid("version manifest has no `version`".into()))?;
        let integrity = loose(raw.integrity).ok_or_else(|| invalid("version manifest has no `integrity`".into()))?;
        let integrity = Integrity::parse(&integrity)?;
        let signing = SigningBlock::from_raw(raw.signing, "version manifest")?;
        let lifecycle = RawLifecycle {
            yanked: raw.yanked,
            yanked_reason: raw.yanked_reason,
            deprecated: raw.deprecated,
            version_deprecated: raw.version_deprecated,
            deprecation: raw.deprecation,
            deprecation_reason: raw.deprecation_reason,
            superseded_by: raw.superseded_by,
        }
        .into_lifecycle();
        Ok(VersionManifest { name, version, integrity, signing, published_at: loose(raw.published_at), lifecycle })
    }
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
        assert!(m.lifecycle.yanked);
        assert_eq!(m.lifecycle.yanked_reason.as_deref(), Some("bad"));
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

    const HEAD: &str =
        r#""name":"core.a.b","version":"1.0.0","integrity":"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=""#;

    #[test]
    fn fields_of_another_type_read_as_absent() {
        let m = VersionManifest::parse(
            format!(r#"{{{HEAD},"yanked":"soon","yankedReason":7,"deprecated":"yes","deprecation":[true],"publishedAt":5,"nodes":[{{"id":1}}]}}"#)
                .as_bytes(),
        )
        .expect("parses");
        assert_eq!(m.lifecycle, Lifecycle::default());
        assert_eq!(m.published_at, None);
        let m = VersionManifest::parse(
            format!(r#"{{{HEAD},"yanked":true,"yankedReason":"cve","deprecation":{{"deprecated":true}}}}"#).as_bytes(),
        )
        .expect("parses");
        assert!(m.lifecycle.yanked && m.lifecycle.deprecated());
        assert_eq!(m.lifecycle.yanked_reason.as_deref(), Some("cve"));
    }

    #[test]
    fn every_spelling_of_a_lifecycle_reads_the_same() {
        let deprecated = |reason: Option<&str>, successor: Option<&str>| Lifecycle {
            deprecation: Some(Deprecation {
                reason: reason.map(str::to_string),
                superseded_by: successor.map(str::to_string),
            }),
            ..Lifecycle::default()
        };
        let cases = [
            // The reference registry's flat booleans.
            (
                r#""deprecated":true,"deprecationReason":"old","supersededBy":"1.1.0""#,
                deprecated(Some("old"), Some("1.1.0")),
            ),
            // v2.
            (r#""versionDeprecated":true,"deprecationReason":"old""#, deprecated(Some("old"), None)),
            // The spec's object; its fields win over the flat ones.
            (
                r#""deprecation":{"deprecated":true,"reason":"spec","supersededBy":"2.0.0"},"deprecationReason":"flat""#,
                deprecated(Some("spec"), Some("2.0.0")),
            ),
            (r#""deprecation":{"deprecated":true},"supersededBy":"1.2.0""#, deprecated(None, Some("1.2.0"))),
            // Not deprecations: an object that says false, a bare boolean, a flat false.
            (r#""deprecation":{"deprecated":false,"reason":"x"},"deprecationReason":"y""#, Lifecycle::default()),
            (r#""deprecation":true"#, Lifecycle::default()),
            (r#""deprecated":false,"versionDeprecated":false,"deprecationReason":"y""#, Lifecycle::default()),
            // Yanks: a boolean with its reason, the spec's object (its reason first).
            (
                r#""yanked":true,"yankedReason":"cve""#,
                Lifecycle { yanked: true, yanked_reason: Some("cve".into()), ..Lifecycle::default() },
            ),
            (
                r#""yanked":{"reason":"spec"},"yankedReason":"flat""#,
                Lifecycle { yanked: true, yanked_reason: Some("spec".into()), ..Lifecycle::default() },
            ),
            (
                r#""yanked":{},"yankedReason":"flat""#,
                Lifecycle { yanked: true, yanked_reason: Some("flat".into()), ..Lifecycle::default() },
            ),
            (r#""yanked":false,"yankedReason":"flat""#, Lifecycle::default()),
        ];
        for (fields, expected) in cases {
            let text = format!("{{{HEAD},{fields}}}");
            let manifest = VersionManifest::parse(text.as_bytes()).expect("parses");
            assert_eq!(manifest.lifecycle, expected, "{fields}");
            // A pack index entry already parsed as JSON reads the same.
            let value: Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(Lifecycle::from_value(&value), expected, "{fields}");
        }
        assert_eq!(Lifecycle::from_value(&Value::from("yanked")), Lifecycle::default());
    }

    #[test]
    fn a_repeated_field_is_refused_not_resolved() {
        // serde_json's Value keeps the last copy, JavaScript too, a streaming reader the first.
        let twice = format!(r#"{{{HEAD},"name":"core.a.c"}}"#);
        let err = VersionManifest::parse(twice.as_bytes()).err();
        assert!(
            matches!(&err, Some(VerifyError::ManifestInvalid { detail }) if detail.contains("duplicate field `name`")),
            "{err:?}"
        );
        let err = VersionManifest::parse(
            format!(r#"{{{HEAD},"deprecation":{{"deprecated":false,"deprecated":true}}}}"#).as_bytes(),
        )
        .err();
        assert_eq!(err.map(|e| e.code()), Some("invalid_manifest"));
        let err = PackJson::parse(br#"{"name":"a","version":"1","version":"2"}"#).err().map(|e| e.code());
        assert_eq!(err, Some("invalid_manifest"));
        // What publish reads: the registry must refuse what a host would.
        let err = PackJson::parse_document(br#"{"name":"a","version":"1","version":"2"}"#).err().map(|e| e.code());
        assert_eq!(err, Some("invalid_manifest"));
    }

    #[test]
    fn the_document_reading_agrees_with_the_lean_one() {
        let bytes = br#"{"name":"a","version":"1","signing":{"method":"manual","keyId":"k","publicKeyUrl":"u"},"extra":{"x":[1,2]}}"#;
        let (pack, document) = PackJson::parse_document(bytes).expect("parses");
        assert_eq!(PackJson::parse(bytes), Ok(pack.clone()));
        assert_eq!(document["extra"]["x"][1], 2);
        assert_eq!(pack.signing.and_then(|s| s.public_key_url).as_deref(), Some("u"));
        assert_eq!(PackJson::parse_document(b"[1]").err().map(|e| e.code()), Some("tarball_manifest_not_json"));
        assert_eq!(
            PackJson::parse_document(br#"{"name":"a","version":"1","signing":5}"#).err().map(|e| e.code()),
            Some("invalid_manifest")
        );
        assert_eq!(
            PackJson::parse(br#"{"name":"a","version":"1","signing":5}"#).err().map(|e| e.code()),
            Some("invalid_manifest")
        );
        assert_eq!(PackJson::parse(b" {\"name\":").err().map(|e| e.code()), Some("tarball_manifest_not_json"));
        let err = VersionManifest::parse(b"[]").err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|m| m.contains("not an object")), "{err:?}");
    }
}

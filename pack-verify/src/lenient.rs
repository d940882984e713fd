//! Typed reading of the wire's JSON documents, exactly as leniently as the wire needs.
//!
//! Verification reads a handful of fields from documents that carry many more (a version
//! manifest lists every node and prompt of its pack). Deriving typed structs lets serde skip the
//! rest without allocating, where a `serde_json::Value` tree built and dropped every map, string
//! and array: a fifth of a cold verify of the reference registry. Three wrappers keep the rules
//! the `Value` reading had ([`Object`], [`Loose`], [`BoolOrObject`]). One rule is stricter on
//! purpose: a repeated field the verifier reads is an error (serde's `duplicate field`), because a
//! reader that takes the first copy and one that takes the last would disagree about what was
//! verified.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A struct read only from a JSON object. A derived `Deserialize` alone would also take a JSON
/// array and fill the fields by position.
#[derive(Debug)]
pub(crate) struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OnlyMaps<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for OnlyMaps<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_map(OnlyMaps(PhantomData)).map(Object)
    }
}

/// A field that is a boolean or an object read as `T` (`yanked`), where any other value is
/// skipped as if the field were absent. Unlike [`Loose`], a malformed object is an error, not
/// "some other value": `{"deprecated":false,"deprecated":true}` must not read as absent.
#[derive(Debug)]
pub(crate) enum BoolOrObject<T> {
    /// A boolean.
    Bool(bool),
    /// An object.
    Object(T),
    /// Anything else, skipped.
    Other,
}

impl<T> BoolOrObject<T> {
    /// The object, if the value was one (an array entry that must be an object, where any other
    /// entry is skipped).
    pub(crate) fn into_object(self) -> Option<T> {
        match self {
            BoolOrObject::Object(t) => Some(t),
            BoolOrObject::Bool(_) | BoolOrObject::Other => None,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for BoolOrObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Shapes<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Shapes<T> {
            type Value = BoolOrObject<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(BoolOrObject::Object)
            }
            fn visit_bool<E: Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(BoolOrObject::Bool(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(BoolOrObject::Other)
            }
            fn visit_str<E: Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(BoolOrObject::Other)
            }
            fn visit_i64<E: Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(BoolOrObject::Other)
            }
            fn visit_u64<E: Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(BoolOrObject::Other)
            }
            fn visit_f64<E: Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(BoolOrObject::Other)
            }
            fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
                Ok(BoolOrObject::Other)
            }
        }
        deserializer.deserialize_any(Shapes(PhantomData))
    }
}

/// A scalar field whose value counts only when it has the expected type; any other value is skipped as
/// if the field were absent (the wire's `deprecated: "yes"` is not a deprecation, and not an
/// error either).
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum Loose<T> {
    /// The expected type.
    Is(T),
    /// Anything else, skipped.
    Other(IgnoredAny),
}

impl<T> Loose<T> {
    /// The value, if it had the expected type.
    pub(crate) fn get(&self) -> Option<&T> {
        match self {
            Loose::Is(v) => Some(v),
            Loose::Other(_) => None,
        }
    }
}

/// The value of an optional, loosely typed field.
pub(crate) fn loose<T>(field: Option<Loose<T>>) -> Option<T> {
    match field {
        Some(Loose::Is(v)) => Some(v),
        Some(Loose::Other(_)) | None => None,
    }
}

/// Why a document did not read as the struct asked for.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// Not JSON at all (serde's message).
    Syntax(String),
    /// JSON, but not an object at the top.
    NotAnObject,
    /// An object with a field of the wrong shape, or a field the struct reads given twice.
    Field(String),
}

/// Reads `bytes` as a JSON object holding `T`, telling the three ways that fails apart (each
/// document type gives them its own error code and wording).
pub(crate) fn read_object<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, ReadError> {
    serde_json::from_slice::<Object<T>>(bytes).map(|Object(t)| t).map_err(|e| {
        if !e.is_data() {
            ReadError::Syntax(e.to_string())
        } else if !starts_as_object(bytes) {
            ReadError::NotAnObject
        } else {
            ReadError::Field(e.to_string())
        }
    })
}

/// Whether `bytes` hold a JSON object at the top, judged by its first significant byte: serde
/// reports "not an object" and "a field of the wrong type" the same way.
fn starts_as_object(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) == Some(&b'{')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Probe {
        name: Option<Loose<String>>,
        flag: Option<Loose<bool>>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Inner {
        deprecated: Option<Loose<bool>>,
    }

    fn shape(json: &str) -> Result<String, String> {
        match serde_json::from_str::<BoolOrObject<Inner>>(json) {
            Ok(BoolOrObject::Bool(b)) => Ok(format!("bool {b}")),
            Ok(BoolOrObject::Object(i)) => Ok(format!("object {:?}", loose(i.deprecated))),
            Ok(BoolOrObject::Other) => Ok("other".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn bool_or_object_skips_other_shapes_but_not_a_malformed_object() {
        assert_eq!(shape("true").as_deref(), Ok("bool true"));
        assert_eq!(shape(r#"{"deprecated":true,"x":[1]}"#).as_deref(), Ok("object Some(true)"));
        for other in ["null", "1", "-1", "1.5", r#""yes""#, r#"[{"deprecated":true}]"#] {
            assert_eq!(shape(other).as_deref(), Ok("other"), "{other}");
        }
        assert!(shape(r#"{"deprecated":false,"deprecated":true}"#).is_err_and(|e| e.contains("duplicate field")));
    }

    fn probe(json: &str) -> Result<(Option<String>, Option<bool>), String> {
        serde_json::from_str::<Object<Probe>>(json)
            .map(|Object(p)| (loose(p.name), loose(p.flag)))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn wrong_types_read_as_absent_and_unknown_fields_are_skipped() {
        assert_eq!(probe(r#"{"name":"a","flag":true,"other":[1,{"x":null}]}"#), Ok((Some("a".into()), Some(true))));
        assert_eq!(probe(r#"{"name":5,"flag":"yes"}"#), Ok((None, None)));
        assert_eq!(probe(r#"{"name":{"nested":"a"},"flag":[true]}"#), Ok((None, None)));
        assert_eq!(probe(r#"{"name":null}"#), Ok((None, None)));
    }

    #[test]
    fn only_objects_and_no_repeated_fields() {
        assert!(probe(r#"["a", true]"#).is_err_and(|e| e.contains("expected a JSON object")));
        assert!(probe(r#"{"name":"a","name":"b"}"#).is_err_and(|e| e.contains("duplicate field `name`")));
        assert!(matches!(read_object::<Probe>(b" [1]"), Err(ReadError::NotAnObject)));
        assert!(matches!(read_object::<Probe>(b"{\"name\":"), Err(ReadError::Syntax(_))));
        assert!(
            matches!(read_object::<Probe>(br#"{"flag":1,"flag":2}"#), Err(ReadError::Field(m)) if m.contains("duplicate"))
        );
        assert!(starts_as_object(b" \r\n\t{}"));
        assert!(!starts_as_object(b" [1]"));
        assert!(!starts_as_object(b""));
    }
}

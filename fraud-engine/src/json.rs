//! A request body read without copying: the members of a JSON object borrowed
//! from the text where they can be, for front ends that score a body straight
//! from bytes (the C ABI). Building a `serde_json::Map` allocates a `String`
//! per key and per text value; this allocates one small vector.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::data::Value;
use crate::model::Fields;

/// One member's value.
#[derive(Debug, Clone, PartialEq)]
enum Member<'a> {
    Number(f64),
    Text(Cow<'a, str>),
    Null,
    Unsupported(&'static str),
}

/// The members of one JSON object, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Body<'a> {
    members: Vec<(Cow<'a, str>, Member<'a>)>,
}

impl<'a> Body<'a> {
    /// Parses a JSON object. Anything else (an array, a number, bad JSON) is
    /// an error.
    pub fn parse(json: &'a [u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }
}

impl Fields for Body<'_> {
    fn field(&self, name: &str) -> Option<Value<'_>> {
        // The last of duplicate keys wins, as in serde_json's map.
        self.members
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, member)| match member {
                Member::Number(x) => Value::Number(*x),
                Member::Text(t) => Value::Text(t),
                Member::Null => Value::Missing,
                Member::Unsupported(kind) => Value::Unsupported(kind),
            })
    }
}

impl<'de> Deserialize<'de> for Member<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MemberVisitor;
        impl<'de> Visitor<'de> for MemberVisitor {
            type Value = Member<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, b: bool) -> Result<Member<'de>, E> {
                Ok(Member::Number(f64::from(u8::from(b))))
            }
            fn visit_i64<E>(self, x: i64) -> Result<Member<'de>, E> {
                Ok(Member::Number(x as f64))
            }
            fn visit_u64<E>(self, x: u64) -> Result<Member<'de>, E> {
                Ok(Member::Number(x as f64))
            }
            fn visit_f64<E>(self, x: f64) -> Result<Member<'de>, E> {
                Ok(Member::Number(x))
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Member<'de>, E> {
                Ok(Member::Text(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Member<'de>, E> {
                Ok(Member::Text(Cow::Owned(s.to_owned())))
            }
            fn visit_unit<E>(self) -> Result<Member<'de>, E> {
                Ok(Member::Null)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Member<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Member::Unsupported("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Member<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Member::Unsupported("an object"))
            }
        }
        deserializer.deserialize_any(MemberVisitor)
    }
}

impl<'de> Deserialize<'de> for Body<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BodyVisitor;
        impl<'de> Visitor<'de> for BodyVisitor {
            type Value = Body<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8).min(64));
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    members.push((key, map.next_value::<Member<'de>>()?));
                }
                Ok(Body { members })
            }
        }
        deserializer.deserialize_map(BodyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_a_serde_json_map() {
        let text = br#"{"a": 1.5, "b": "x\"y", "c": null, "d": true, "e": [1, {"f": 2}], "g": {"h": 1}, "a": 2}"#;
        let body = Body::parse(text).expect("object");
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(text).expect("object");
        for name in ["a", "b", "c", "d", "e", "g", "missing"] {
            assert_eq!(body.field(name), map.field(name), "{name}");
        }
        for bad in [&b"[1, 2]"[..], b"3", b"{\"a\": }", b"", b"{\"a\": 1"] {
            assert!(
                Body::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}

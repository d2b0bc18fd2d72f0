//! JSON request bodies, read the one way every front end reads them (the
//! HTTP server, the C ABI, the JSON-lines example).
//!
//! A small parser of its own, for three things a general-purpose parser does
//! not give: a value that is not a finite number (`NaN`, `Infinity`, `1e400`)
//! is kept, so that scoring names the field it was given for instead of
//! refusing the whole body; a key given twice in one object is an error
//! naming the key (a general parser keeps one of the two silently); and
//! members borrow their text from the body, so reading a transaction costs
//! one small vector, not a map of owned strings. Numbers read exactly as
//! Rust's `str::parse::<f64>` (and `serde_json` with `float_roundtrip`) read
//! them, so every front end scores the same double.

use std::borrow::Cow;
use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::data::Value;
use crate::model::Fields;

/// Deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 128;

/// Objects with more members than this check for repeated keys with a hash
/// set instead of a scan, so a hostile object of a million keys costs a
/// million steps, not a trillion.
const SCAN_LIMIT: usize = 16;

/// One JSON value, borrowing its text from the body where it can.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number that is a finite double, and its text as written (so an id
    /// such as `12345678901234567890` can be echoed exactly).
    Number(f64, &'a str),
    /// A number token that is not a finite double: `NaN`, `Infinity`,
    /// `-Infinity` (which JSON does not have, but JavaScript writes), or a
    /// number too large for a double such as `1e400`. Kept as written.
    NotFinite(&'a str),
    /// A string.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object.
    Object(Object<'a>),
}

impl Json<'_> {
    /// The value's JSON type, for messages ("an array", "a string", ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(..) | Json::NotFinite(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// The value as a scoring input.
    pub fn as_value(&self) -> Value<'_> {
        match self {
            Json::Null => Value::Missing,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(x, _) => Value::Number(*x),
            Json::NotFinite(token) => Value::Unsupported(not_finite_name(token)),
            Json::String(s) => Value::Text(s),
            Json::Array(_) => Value::Unsupported("an array"),
            Json::Object(_) => Value::Unsupported("an object"),
        }
    }
}

/// How a number that is not finite is named in messages.
fn not_finite_name(token: &str) -> &'static str {
    match token.trim_start_matches('-') {
        "NaN" => "NaN (not a number)",
        "Infinity" => "Infinity (not a finite number)",
        _ => "a number too large for a double",
    }
}

/// One JSON object: its members in order (no key twice), and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Object<'a> {
    members: Vec<(Cow<'a, str>, Json<'a>)>,
    text: &'a str,
}

/// A request body that must be one JSON object: what the C ABI and the HTTP
/// server score.
pub type Body<'a> = Object<'a>;

impl<'a> Object<'a> {
    /// Parses a body that must be one JSON object (see [`parse`]).
    pub fn parse(json: &'a [u8]) -> Result<Self, JsonError> {
        match parse(json)? {
            Json::Object(object) => Ok(object),
            other => Err(JsonError {
                offset: 0,
                reason: format!("expected a JSON object, got {}", other.type_name()),
            }),
        }
    }

    /// The value of member `key`.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.members
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value)
    }

    /// Removes and returns member `key`.
    pub fn take(&mut self, key: &str) -> Option<Json<'a>> {
        let at = self.members.iter().position(|(k, _)| k == key)?;
        Some(self.members.remove(at).1)
    }

    /// The members, in order.
    pub fn members(&self) -> &[(Cow<'a, str>, Json<'a>)] {
        &self.members
    }

    /// The object's text exactly as it was in the body.
    pub fn text(&self) -> &'a str {
        self.text
    }
}

/// Written back as JSON: an integer as written (exactly, as `serde_json`
/// keeps integers), another number as its double, a number that is not
/// finite as its text in a string (JSON has no such number).
impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(x, text) => {
                if let Ok(i) = text.parse::<i64>() {
                    serializer.serialize_i64(i)
                } else if let Ok(u) = text.parse::<u64>() {
                    serializer.serialize_u64(u)
                } else {
                    serializer.serialize_f64(*x)
                }
            }
            Json::NotFinite(text) => serializer.serialize_str(text),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => serializer.collect_seq(items),
            Json::Object(object) => object.serialize(serializer),
        }
    }
}

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.members.len()))?;
        for (key, value) in &self.members {
            map.serialize_entry(key.as_ref(), value)?;
        }
        map.end()
    }
}

impl Fields for Object<'_> {
    fn field(&self, name: &str) -> Option<Value<'_>> {
        self.get(name).map(Json::as_value)
    }
}

/// Why a body is not the JSON it should be, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset in the body where the problem was found.
    pub offset: usize,
    /// What was wrong.
    pub reason: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for JsonError {}

/// Parses one JSON value (surrounding whitespace allowed, nothing after it).
/// The text must be UTF-8; nesting is limited to [`MAX_DEPTH`]; a key given
/// twice in one object is an error naming the key.
pub fn parse(json: &[u8]) -> Result<Json<'_>, JsonError> {
    let text = std::str::from_utf8(json).map_err(|e| JsonError {
        offset: e.valid_up_to(),
        reason: "the body is not UTF-8".into(),
    })?;
    let mut parser = Parser { text, at: 0 };
    parser.skip_space();
    let value = parser.value(0)?;
    parser.skip_space();
    if parser.at < text.len() {
        return Err(parser.error("unexpected text after the JSON value"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, reason: impl Into<String>) -> JsonError {
        JsonError {
            offset: self.at,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), JsonError> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else if self.at >= self.text.len() {
            Err(self.error(format!("the body ends early: expected {what}")))
        } else {
            Err(self.error(format!("expected {what}")))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json<'a>, JsonError> {
        match self.peek() {
            None => Err(self.error("the body ends early: expected a value")),
            Some(b'{') => self.object(depth + 1).map(Json::Object),
            Some(b'[') => self.array(depth + 1).map(Json::Array),
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'N') => self.not_finite("NaN"),
            Some(b'I') => self.not_finite("Infinity"),
            Some(b'-') if self.text[self.at..].starts_with("-Infinity") => {
                self.not_finite("-Infinity")
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a value")),
        }
    }

    fn literal(&mut self, word: &str, value: Json<'a>) -> Result<Json<'a>, JsonError> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn not_finite(&mut self, word: &'static str) -> Result<Json<'a>, JsonError> {
        let start = self.at;
        self.literal(word, Json::Null)?;
        Ok(Json::NotFinite(&self.text[start..self.at]))
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<Json<'a>, JsonError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.error("expected a digit after the decimal point"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        let token = &self.text[start..self.at];
        match token.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Json::Number(x, token)),
            // The grammar above is a subset of what `parse` reads, so only
            // an overflow lands here.
            _ => Ok(Json::NotFinite(token)),
        }
    }

    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.at += 1;
        let start = self.at;
        // Borrowed until the first escape.
        loop {
            match self.peek() {
                None => return Err(self.error("the body ends inside a string")),
                Some(b'"') => {
                    let s = &self.text[start..self.at];
                    self.at += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(c) if c < 0x20 => {
                    return Err(self.error("a control character inside a string"))
                }
                Some(_) => self.at += 1,
            }
        }
        let mut owned = String::from(&self.text[start..self.at]);
        loop {
            match self.peek() {
                None => return Err(self.error("the body ends inside a string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Cow::Owned(owned));
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.at += 1;
                            owned.push(self.unicode_escape()?);
                            continue;
                        }
                        _ => return Err(self.error("an unknown escape in a string")),
                    };
                    self.at += 1;
                    owned.push(escaped);
                }
                Some(c) if c < 0x20 => {
                    return Err(self.error("a control character inside a string"))
                }
                Some(_) => {
                    // Copy the run of plain characters up to the next quote
                    // or backslash (both ASCII, so the cut is a char boundary).
                    let rest = &self.text[self.at..];
                    let run = rest
                        .bytes()
                        .position(|b| b == b'"' || b == b'\\' || b < 0x20)
                        .unwrap_or(rest.len());
                    owned.push_str(&rest[..run]);
                    self.at += run;
                }
            }
        }
    }

    /// The four hex digits after `\u` (and a low surrogate's escape after a
    /// high one).
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let unit = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&unit) {
            if !self.text[self.at..].starts_with("\\u") {
                return Err(self.error("a lone surrogate in a \\u escape"));
            }
            self.at += 2;
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(self.error("a lone surrogate in a \\u escape"));
            }
            0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
        } else {
            unit
        };
        char::from_u32(code).ok_or_else(|| self.error("a lone surrogate in a \\u escape"))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("expected four hex digits after \\u"))?;
        self.at += 4;
        u32::from_str_radix(digits, 16)
            .map_err(|_| self.error("expected four hex digits after \\u"))
    }

    fn check_depth(&self, depth: usize) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")))
        } else {
            Ok(())
        }
    }

    fn array(&mut self, depth: usize) -> Result<Vec<Json<'a>>, JsonError> {
        self.check_depth(depth)?;
        self.at += 1;
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(items);
        }
        loop {
            self.skip_space();
            items.push(self.value(depth)?);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(items);
                }
                _ => self.expect(b']', "`,` or `]`")?,
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Object<'a>, JsonError> {
        self.check_depth(depth)?;
        let start = self.at;
        self.at += 1;
        let mut members: Vec<(Cow<'a, str>, Json<'a>)> = Vec::new();
        let mut keys: Option<std::collections::HashSet<Cow<'a, str>>> = None;
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Object {
                members,
                text: &self.text[start..self.at],
            });
        }
        loop {
            self.skip_space();
            if self.peek() != Some(b'"') {
                self.expect(b'"', "a key in quotes")?;
            }
            let key_at = self.at;
            let key = self.string()?;
            let repeated = match &mut keys {
                Some(set) => !set.insert(key.clone()),
                None => {
                    let repeated = members.iter().any(|(k, _)| *k == key);
                    if members.len() >= SCAN_LIMIT {
                        keys = Some(members.iter().map(|(k, _)| k.clone()).collect());
                    }
                    repeated
                }
            };
            if repeated {
                return Err(JsonError {
                    offset: key_at,
                    reason: format!("the key `{key}` appears twice in one object"),
                });
            }
            self.skip_space();
            self.expect(b':', "`:` after a key")?;
            self.skip_space();
            let value = self.value(depth)?;
            if let Some(set) = &mut keys {
                set.insert(key.clone());
            }
            members.push((key, value));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Object {
                        members,
                        text: &self.text[start..self.at],
                    });
                }
                _ => self.expect(b'}', "`,` or `}`")?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_serde_json() {
        let text = br#" {"a": 1.5, "b": "x\"y\u00e9\ud83d\ude00", "c": null, "d": true,
            "e": [1, {"f": 2}], "g": {"h": 1}, "i": -0.0, "j": 12345678901234567890,
            "k": 0.1, "l": 1e-7, "m": "plain"} "#;
        let object = Object::parse(text).expect("object");
        let reference: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(text).expect("object");
        for name in [
            "a", "b", "c", "d", "e", "g", "i", "j", "k", "l", "m", "missing",
        ] {
            assert_eq!(object.field(name), reference.field(name), "{name}");
        }
        assert_eq!(object.text().as_bytes(), text.trim_ascii());
        let Some(Json::Array(items)) = object.get("e") else {
            panic!("array")
        };
        assert_eq!(items.len(), 2);
        // Written back, it is the same JSON (integers exact).
        let again: serde_json::Value = serde_json::to_value(&object).expect("serializes");
        assert_eq!(again, serde_json::Value::Object(reference));
    }

    #[test]
    fn numbers_match_rust_and_serde_bit_for_bit() {
        for token in [
            "0",
            "250.0",
            "0.1",
            "1e308",
            "2.2250738585072014e-308",
            "9007199254740993",
            "123.456e-2",
            "5e-324",
        ] {
            let json = format!("{{\"x\": {token}}}");
            let ours = match Object::parse(json.as_bytes()).expect("parses").get("x") {
                Some(Json::Number(x, _)) => *x,
                other => panic!("{other:?}"),
            };
            let theirs: serde_json::Value = serde_json::from_str(&json).expect("serde");
            assert_eq!(
                ours.to_bits(),
                theirs["x"].as_f64().expect("f64").to_bits(),
                "{token}"
            );
        }
    }

    #[test]
    fn not_finite_numbers_are_kept_for_the_field() {
        let object =
            Object::parse(br#"{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1e400, "e": -1e400}"#)
                .expect("parses");
        assert_eq!(
            object.field("a"),
            Some(Value::Unsupported("NaN (not a number)"))
        );
        assert_eq!(
            object.field("c"),
            Some(Value::Unsupported("Infinity (not a finite number)"))
        );
        assert_eq!(
            object.field("d"),
            Some(Value::Unsupported("a number too large for a double"))
        );
    }

    #[test]
    fn errors_name_the_byte_and_the_problem() {
        let cases: [(&[u8], usize, &str); 12] = [
            (b"[1, 2]", 0, "expected a JSON object, got an array"),
            (b"3", 0, "got a number"),
            (b"{\"a\": }", 6, "expected a value"),
            (b"", 0, "ends early"),
            (b"{\"a\": 1", 7, "ends early"),
            (b"{\"a\": 1, \"a\": 2}", 9, "the key `a` appears twice"),
            (b"{\"a\": 01}", 7, "`,` or `}`"),
            (b"{\"a\": 1.}", 8, "after the decimal point"),
            (b"{\"a\": \"\\x\"}", 8, "unknown escape"),
            (b"{\"a\": \"\\ud800\"}", 13, "lone surrogate"),
            (b"{\"a\": 1} x", 9, "after the JSON value"),
            (b"{\"a\": nul}", 6, "expected a value"),
        ];
        for (text, offset, needle) in cases {
            let err = Object::parse(text).expect_err(&String::from_utf8_lossy(text));
            assert_eq!(err.offset, offset, "{err}");
            assert!(err.reason.contains(needle), "{err}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(parse(deep.as_bytes())
            .expect_err("deep")
            .reason
            .contains("deeper than 128"));
        let shallow = format!("{{\"a\": {}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(Object::parse(shallow.as_bytes()).is_ok());
        assert!(parse(b"\"\xff\"")
            .expect_err("utf-8")
            .reason
            .contains("UTF-8"));
    }

    #[test]
    fn repeated_keys_are_found_in_large_objects() {
        let mut text = String::from("{");
        for i in 0..1_000 {
            text.push_str(&format!("\"k{i}\": {i},"));
        }
        text.push_str("\"k500\": 1}");
        let err = Object::parse(text.as_bytes()).expect_err("repeated");
        assert!(err.reason.contains("`k500`"), "{err}");
    }
}

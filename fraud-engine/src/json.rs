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
use crate::schema::Feature;

/// Deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 128;

/// 10^0 to 10^22: every one an exact double.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Members an object has room for before its vector grows: a transaction's
/// fields, usually, so that reading one allocates once (and little enough,
/// 864 bytes, for the allocator's per-thread cache).
const MEMBERS: usize = 12;

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
    #[inline]
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

/// A table of JSON objects, one column per name in `names` and one row per
/// object, each value as the object has it (a name an object lacks is
/// absent): how stored transactions become rows to train on again.
pub fn table_of_objects(
    source: &str,
    names: &[&str],
    objects: &[Object<'_>],
) -> crate::Result<crate::data::Table> {
    use crate::data::{Cell, TableColumn};
    let cell = |value: Option<&Json<'_>>| match value {
        None => Cell::Absent,
        Some(Json::Null) => Cell::Missing,
        Some(Json::Bool(b)) => Cell::Bool(*b),
        Some(Json::Number(x, _)) => Cell::Number(*x),
        Some(Json::String(s)) => Cell::Text(s.to_string()),
        Some(other) => match other.as_value() {
            Value::Unsupported(what) => Cell::Unsupported(what),
            _ => Cell::Unsupported(other.type_name()),
        },
    };
    crate::data::Table::from_columns(
        source,
        names.iter().map(|&name| {
            let cells = objects.iter().map(|o| cell(o.get(name))).collect();
            (name.to_owned(), TableColumn::Cells(cells))
        }),
    )
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
        // An object is read straight into its type; anything else is read
        // as a value, to be named in the error.
        let text = utf8(json)?;
        let mut parser = Parser { text, at: 0 };
        parser.skip_space();
        if parser.peek() == Some(b'{') {
            let object = parser.object(1)?;
            parser.end()?;
            return Ok(object);
        }
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
            .find(|(k, _)| same_key(k.as_bytes(), key.as_bytes()))
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

    #[inline]
    fn field_at(&self, index: usize, name: &str) -> Option<Value<'_>> {
        match self.members.get(index) {
            Some((key, value)) if same_key(key.as_bytes(), name.as_bytes()) => {
                Some(value.as_value())
            }
            _ => self.field(name),
        }
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
    let mut parser = Parser {
        text: utf8(json)?,
        at: 0,
    };
    parser.skip_space();
    let value = parser.value(0)?;
    parser.end()?;
    Ok(value)
}

/// Why a request body could not be scored.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is not one JSON object.
    #[error("the request body is not a JSON object: {0}")]
    NotAnObject(JsonError),
    /// The object's fields are not a transaction the model can score (the
    /// error names every bad field).
    #[error(transparent)]
    Fields(#[from] crate::Error),
}

/// Reads a body of the shape clients send: one object whose members are
/// exactly `features`, in their order, each value a number that
/// [`fast_number`] reads, a string with no escape, a boolean or
/// `null` (space allowed wherever JSON allows it). Each member's value
/// goes to `take` with the feature's index: a string as its bytes, which
/// [`Member::value`] turns into the value [`Object::parse`] would give,
/// so that scoring the two gives the same answer. `None` as soon as
/// `take` says `None`, and for any other body (another order, another
/// member, an escape, a long number, not JSON at all), which is then read
/// by [`Object::parse`].
///
/// `keys` are the model's [`BodyKeys`]; without them (a name that JSON
/// must escape) every body is left to the object parser.
pub(crate) fn in_feature_order<'a>(
    json: &'a [u8],
    features: &[Feature],
    keys: Option<&BodyKeys>,
    mut take: impl FnMut(usize, Member<'a>) -> Option<()>,
) -> Option<()> {
    let keys = keys?;
    // The body is not checked as UTF-8 first: every byte read here is
    // ASCII, a feature's name or a string checked on its own, so a body
    // read to its end is UTF-8.
    let mut body = Cursor { bytes: json, at: 0 };
    body.skip_space();
    body.byte(b'{')?;
    for (i, (feature, key)) in features.iter().zip(&keys.compact).enumerate() {
        if !body.compact_key(key) {
            body.skip_space();
            if i > 0 {
                body.byte(b',')?;
                body.skip_space();
            }
            body.quoted(&feature.name)?;
            body.skip_space();
            body.byte(b':')?;
            body.skip_space();
        }
        let member = match body.bytes.get(body.at)? {
            b'"' => Member::Text(body.plain_string()?),
            b'n' => Member::Value(body.word(b"null", Value::Missing)?),
            b't' => Member::Value(body.word(b"true", Value::Bool(true))?),
            b'f' => Member::Value(body.word(b"false", Value::Bool(false))?),
            _ => Member::Value(Value::Number(fast_number(body.bytes, &mut body.at)?)),
        };
        take(i, member)?;
    }
    body.skip_space();
    body.byte(b'}')?;
    body.skip_space();
    (body.at == json.len()).then_some(())
}

/// One member's value as [`in_feature_order`] reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Member<'a> {
    /// A number, a boolean or `null`.
    Value(Value<'a>),
    /// A string with no escape in it, its bytes not yet checked as UTF-8:
    /// a caller that finds them among a category's levels needs no check.
    Text(&'a [u8]),
}

impl<'a> Member<'a> {
    /// The value as [`Object::parse`] reads it; `None` for text that is
    /// not UTF-8 (which the object parser then reports).
    #[inline]
    pub(crate) fn value(self) -> Option<Value<'a>> {
        match self {
            Member::Value(value) => Some(value),
            Member::Text(bytes) => std::str::from_utf8(bytes).ok().map(Value::Text),
        }
    }
}

/// Each feature's key as most clients write it in a body in feature order,
/// with no space in it: `"name":` for the first feature, `,"name":` for
/// the others. [`in_feature_order`] compares a body's bytes with a whole
/// key at once.
#[derive(Debug, Clone)]
pub(crate) struct BodyKeys {
    compact: Vec<CompactKey>,
}

impl BodyKeys {
    /// The keys of `features`; `None` when a name has a character JSON
    /// must escape (a quote, a backslash, a control character), so that a
    /// key is the name exactly when its bytes are the name's.
    pub(crate) fn new(features: &[Feature]) -> Option<BodyKeys> {
        features
            .iter()
            .enumerate()
            .map(|(i, feature)| {
                plain_name(&feature.name).then(|| {
                    let comma = if i > 0 { "," } else { "" };
                    CompactKey::new(format!("{comma}\"{}\":", feature.name).into_bytes())
                })
            })
            .collect::<Option<Vec<_>>>()
            .map(|compact| BodyKeys { compact })
    }
}

/// One of [`BodyKeys`].
#[derive(Debug, Clone)]
struct CompactKey {
    bytes: Box<[u8]>,
    /// For a key of 8 to 24 bytes, [`key_words`]: the whole key in three
    /// words, compared with one test.
    words: Option<[u64; 3]>,
}

impl CompactKey {
    fn new(bytes: Vec<u8>) -> CompactKey {
        let words = (bytes.len() <= 24).then(|| key_words(&bytes)).flatten();
        CompactKey {
            bytes: bytes.into_boxed_slice(),
            words,
        }
    }
}

/// The first eight bytes of `bytes`, the eight that end at byte 16 (or at
/// the end, when shorter), and the last eight: for 8 to 24 bytes, every
/// byte is in one of them. `None` under eight bytes.
#[inline(always)]
fn key_words(bytes: &[u8]) -> Option<[u64; 3]> {
    let first = bytes.first_chunk::<8>()?;
    let middle = bytes[..bytes.len().min(16)].last_chunk::<8>()?;
    let last = bytes.last_chunk::<8>()?;
    Some([first, middle, last].map(|word| u64::from_le_bytes(*word)))
}

/// Where [`in_feature_order`] is in a body.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn skip_space(&mut self) {
        skip_space(self.bytes, &mut self.at);
    }

    /// Moves past `byte` if it is next.
    #[inline]
    fn byte(&mut self, byte: u8) -> Option<()> {
        (self.bytes.get(self.at) == Some(&byte)).then(|| self.at += 1)
    }

    /// Moves past `"name"` if it is next. For a name [`plain_name`] allows,
    /// that is exactly a string the object parser reads as `name`.
    #[inline]
    fn quoted(&mut self, name: &str) -> Option<()> {
        let rest = self.bytes.get(self.at..)?;
        let end = name.len() + 1;
        let found = rest.first() == Some(&b'"')
            && rest
                .get(1..end)
                .is_some_and(|key| same_key(key, name.as_bytes()))
            && rest.get(end) == Some(&b'"');
        found.then(|| self.at += end + 1)
    }

    /// Moves past `key` (one of [`BodyKeys`]) if it is next, without the
    /// space checks a spaced body needs. Moves nothing otherwise.
    #[inline]
    fn compact_key(&mut self, key: &CompactKey) -> bool {
        let len = key.bytes.len();
        let Some(next) = self.bytes.get(self.at..self.at + len) else {
            return false;
        };
        let found = match key.words {
            // `next` is as long as the key, so it has its three words too.
            Some(want) => key_words(next).is_some_and(|have| {
                (want[0] ^ have[0]) | (want[1] ^ have[1]) | (want[2] ^ have[2]) == 0
            }),
            None => same_key(next, &key.bytes),
        };
        if found {
            self.at += len;
        }
        found
    }

    /// Moves past `word` if it is next, returning `value`.
    fn word<T>(&mut self, word: &[u8], value: T) -> Option<T> {
        let found = self.bytes.get(self.at..)?.starts_with(word);
        found.then(|| {
            self.at += word.len();
            value
        })
    }

    /// A string with no escape in it: moves past it and returns its bytes.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        let mut at = self.at;
        let start = plain_string(self.bytes, &mut at)?;
        let text = self.bytes.get(start..at - 1)?;
        self.at = at;
        Some(text)
    }
}

/// Moves `at` past the JSON space at `bytes[*at..]`.
fn skip_space(bytes: &[u8], at: &mut usize) {
    while matches!(bytes.get(*at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        *at += 1;
    }
}

/// A string at `bytes[*at..]` with no escape in it: moves `at` past it and
/// returns where its text starts (it ends before the closing quote at
/// `*at - 1`); `None`, moving nothing, for any other.
#[inline]
fn plain_string(bytes: &[u8], at: &mut usize) -> Option<usize> {
    if bytes.get(*at) != Some(&b'"') {
        return None;
    }
    let start = *at + 1;
    let rest = bytes.get(start..)?;
    let run = plain_run(rest);
    (rest.get(run) == Some(&b'"')).then(|| {
        *at = start + run + 1;
        start
    })
}

/// Whether `name` is written in a JSON string as it is, with no escape:
/// no quote, backslash or control character in it.
pub(crate) fn plain_name(name: &str) -> bool {
    plain_run(name.as_bytes()) == name.len()
}

/// The body as text, or where it stops being UTF-8.
fn utf8(json: &[u8]) -> Result<&str, JsonError> {
    std::str::from_utf8(json).map_err(|e| JsonError {
        offset: e.valid_up_to(),
        reason: "the body is not UTF-8".into(),
    })
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

/// How many bytes `bytes` starts with that need no attention in a string:
/// none is a quote, a backslash or a control character. Eight bytes at a
/// time (a transaction's keys are 6 to 19 bytes long).
fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut at = 0;
    while let Some(chunk) = bytes[at..].first_chunk::<8>() {
        let word = u64::from_le_bytes(*chunk);
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        // A byte's high bit is set where it is zero (`quote`, `backslash`)
        // or below 0x20 (`word`). Borrows can flag bytes above the first
        // such byte, never below it, so the lowest flag is exact.
        let found = ((quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(ONES * 0x20) & !word))
            & HIGHS;
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(bytes.len() - at)
}

/// Reads the run of digits at `bytes[*at..]` into `value` (`value * 10 +
/// digit`, wrapping: callers check the count before trusting it), moving
/// `at` past it; returns how many there were.
#[inline]
fn accumulate(bytes: &[u8], at: &mut usize, value: &mut u64) -> usize {
    let start = *at;
    while let Some(&digit @ b'0'..=b'9') = bytes.get(*at) {
        *value = value.wrapping_mul(10).wrapping_add(u64::from(digit - b'0'));
        *at += 1;
    }
    *at - start
}

/// The number token at `bytes[*start..]` if Clinger's fast path reads it:
/// a mantissa up to 2^53 and a power of ten up to 22 are both exact
/// doubles, so one multiplication or division rounds once, correctly, to
/// the double `str::parse` gives (it takes this same path first). Moves
/// `start` past the token and returns its value; `None`, moving nothing,
/// for any other token.
///
/// Always inlined into its two callers: called, it kept the position in
/// memory across the call, and reading a body took about a tenth longer.
#[inline(always)]
fn fast_number(bytes: &[u8], start: &mut usize) -> Option<f64> {
    let mut at = *start;
    let negative = bytes.get(at) == Some(&b'-');
    at += usize::from(negative);
    let mut mantissa = 0u64;
    let mut digits = match bytes.get(at) {
        Some(b'0') => {
            at += 1;
            0
        }
        Some(b'1'..=b'9') => accumulate(bytes, &mut at, &mut mantissa),
        _ => return None,
    };
    let mut power = 0i64;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        let fraction = accumulate(bytes, &mut at, &mut mantissa);
        if fraction == 0 {
            return None;
        }
        digits += fraction;
        power -= fraction as i64;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        let negative_exponent = bytes.get(at) == Some(&b'-');
        at += usize::from(matches!(bytes.get(at), Some(b'+' | b'-')));
        let mut exponent = 0u64;
        let exponent_digits = accumulate(bytes, &mut at, &mut exponent);
        if exponent_digits == 0 || exponent_digits > 2 {
            return None;
        }
        power += if negative_exponent {
            -(exponent as i64)
        } else {
            exponent as i64
        };
    }
    // `digits` counts the digits read into `mantissa`, which wraps past
    // 19 of them.
    if digits > 19 || mantissa > 1 << 53 || !(-22..=22).contains(&power) {
        return None;
    }
    let magnitude = if power >= 0 {
        mantissa as f64 * POWERS_OF_TEN[power as usize]
    } else {
        mantissa as f64 / POWERS_OF_TEN[(-power) as usize]
    };
    *start = at;
    Some(if negative { -magnitude } else { magnitude })
}

/// Pushes a member whose value is a number, from its parts (see
/// [`Parser::object`]).
#[inline(never)]
fn push_number<'a>(
    members: &mut Vec<(Cow<'a, str>, Json<'a>)>,
    key: Cow<'a, str>,
    x: f64,
    token: &'a str,
) {
    members.push((key, Json::Number(x, token)));
}

/// `a == b` for keys: by length, then eight bytes at a time (the last
/// eight overlapping the others) rather than through a call to `memcmp`.
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |bytes: &[u8], at: usize| {
        bytes[at..]
            .first_chunk::<8>()
            .map(|w| u64::from_le_bytes(*w))
    };
    if a.len() < 8 {
        return a == b;
    }
    let mut at = 0;
    while at + 8 < a.len() {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    word(a, a.len() - 8) == word(b, b.len() - 8)
}

impl<'a> Parser<'a> {
    fn error(&self, reason: impl Into<String>) -> JsonError {
        self.error_at(self.at, reason)
    }

    fn error_at(&self, offset: usize, reason: impl Into<String>) -> JsonError {
        JsonError {
            offset,
            reason: reason.into(),
        }
    }

    /// Checks that nothing but space follows the value read.
    fn end(&mut self) -> Result<(), JsonError> {
        self.skip_space();
        if self.at < self.text.len() {
            return Err(self.error("unexpected text after the JSON value"));
        }
        Ok(())
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_space(&mut self) {
        skip_space(self.text.as_bytes(), &mut self.at);
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

    fn number(&mut self) -> Result<Json<'a>, JsonError> {
        let start = self.at;
        if let Some(x) = self.fast_number() {
            return Ok(Json::Number(x, &self.text[start..self.at]));
        }
        let bytes = self.text.as_bytes();
        let mut at = start;
        at += usize::from(bytes.get(at) == Some(&b'-'));
        let mut ignored = 0u64;
        match bytes.get(at) {
            Some(b'0') => at += 1,
            Some(b'1'..=b'9') => {
                accumulate(bytes, &mut at, &mut ignored);
            }
            _ => return Err(self.error_at(at, "expected a digit")),
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            if accumulate(bytes, &mut at, &mut ignored) == 0 {
                return Err(self.error_at(at, "expected a digit after the decimal point"));
            }
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            at += usize::from(matches!(bytes.get(at), Some(b'+' | b'-')));
            if accumulate(bytes, &mut at, &mut ignored) == 0 {
                return Err(self.error_at(at, "expected a digit in the exponent"));
            }
        }
        self.at = at;
        let token = &self.text[start..at];
        match token.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Json::Number(x, token)),
            // The grammar above is a subset of what `parse` reads, so only
            // an overflow lands here.
            _ => Ok(Json::NotFinite(token)),
        }
    }

    /// [`fast_number`] at `self.at` (any other token is then read by
    /// [`Parser::number`], which names what is wrong with it).
    #[inline]
    fn fast_number(&mut self) -> Option<f64> {
        fast_number(self.text.as_bytes(), &mut self.at)
    }

    /// [`plain_string`] at `self.at` (any other string is then read by
    /// [`Parser::string`], which names what is wrong with it).
    #[inline]
    fn plain_string(&mut self) -> Option<usize> {
        plain_string(self.text.as_bytes(), &mut self.at)
    }

    #[inline]
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.at += 1;
        let start = self.at;
        // Borrowed until the first escape: one scan for the bytes that end
        // the plain run (quote, backslash, control), all ASCII, so the cut
        // is a char boundary.
        let bytes = &self.text.as_bytes()[start..];
        let run = plain_run(bytes);
        self.at = start + run;
        match bytes.get(run) {
            None => Err(self.error("the body ends inside a string")),
            Some(b'"') => {
                self.at += 1;
                Ok(Cow::Borrowed(&self.text[start..start + run]))
            }
            Some(b'\\') => self.escaped_string(start),
            Some(_) => Err(self.error("a control character inside a string")),
        }
    }

    /// The rest of a string from its first escape on (`start` is where the
    /// string's text began, `self.at` at the backslash): owned.
    #[cold]
    fn escaped_string(&mut self, start: usize) -> Result<Cow<'a, str>, JsonError> {
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

    /// Reads a member's value that is not a fast-path number and pushes
    /// the member (see [`Parser::object`]).
    #[inline(never)]
    fn other_member(
        &mut self,
        members: &mut Vec<(Cow<'a, str>, Json<'a>)>,
        key: Cow<'a, str>,
        depth: usize,
    ) -> Result<(), JsonError> {
        let value = match self.plain_string() {
            Some(text) => Json::String(Cow::Borrowed(&self.text[text..self.at - 1])),
            None => self.value(depth)?,
        };
        members.push((key, value));
        Ok(())
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
        let mut members: Vec<(Cow<'a, str>, Json<'a>)> = Vec::with_capacity(MEMBERS);
        let mut keys: Option<std::collections::HashSet<Cow<'a, str>>> = None;
        // Bit n: a key of n bytes (63 and more share bit 63) was read.
        let mut lengths = 0u64;
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
            let key = match self.plain_string() {
                Some(start) => Cow::Borrowed(&self.text[start..self.at - 1]),
                None => self.string()?,
            };
            // Only a key of a length seen before can repeat one.
            let length_bit = 1u64 << key.len().min(63);
            let seen_length = lengths & length_bit != 0 || key.len() >= 63;
            lengths |= length_bit;
            let repeated = match &mut keys {
                Some(set) => !set.insert(key.clone()),
                None => {
                    let repeated = seen_length
                        && members
                            .iter()
                            .any(|(k, _)| same_key(k.as_bytes(), key.as_bytes()));
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
            if let Some(set) = &mut keys {
                set.insert(key.clone());
            }
            // Most of a transaction's values are numbers: those are pushed
            // from their parts, other values in a function of their own.
            // (A member built in code shared by several kinds of value was
            // moved through the stack, and the move's wide loads of what
            // had just been stored in narrow pieces stalled store
            // forwarding: it cost more than the rest of reading it.)
            let value_at = self.at;
            if let Some(x) = self.fast_number() {
                push_number(&mut members, key, x, &self.text[value_at..self.at]);
            } else {
                self.other_member(&mut members, key, depth)?;
            }
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

    proptest::proptest! {
        /// Any string (quotes, backslashes, control characters, non-ASCII,
        /// at any position) reads back as serde_json wrote it; a raw control
        /// character is an error at its byte.
        #[test]
        fn strings_read_back_exactly(text in "\\PC*[\"\\\\\u{1}-\u{1f}é😀]?\\PC*", at in 0usize..40) {
            let body = serde_json::json!({ "k": text }).to_string();
            let object = Object::parse(body.as_bytes()).expect("parses");
            proptest::prop_assert_eq!(object.get("k"), Some(&Json::String(Cow::Borrowed(&*text))));
            let mut raw = String::from("{\"k\": \"");
            let plain: String = text.chars().filter(|&c| c != '"' && c != '\\' && c >= ' ').collect();
            let cut = plain.char_indices().map(|(i, _)| i).nth(at).unwrap_or(plain.len());
            raw.push_str(&plain[..cut]);
            let offset = raw.len();
            raw.push('\u{7}');
            raw.push_str(&plain[cut..]);
            raw.push_str("\"}");
            let err = Object::parse(raw.as_bytes()).expect_err("a raw control character");
            proptest::prop_assert_eq!(err.offset, offset);
        }

        /// Every number token reads as the double `str::parse` gives, the
        /// fast path (short mantissas, small powers of ten) and the slow one
        /// alike.
        #[test]
        fn numbers_read_as_str_parse_reads_them(
            negative in proptest::bool::ANY,
            integer in "(0|[1-9][0-9]{0,20})",
            fraction in proptest::option::of("[0-9]{1,20}|[0-9]{0,4}0{1,6}"),
            exponent in proptest::option::of(("[eE]", "[+-]?", "[0-9]{1,4}")),
        ) {
            let mut token = String::new();
            if negative {
                token.push('-');
            }
            token.push_str(&integer);
            if let Some(fraction) = &fraction {
                token.push('.');
                token.push_str(fraction);
            }
            if let Some((e, sign, digits)) = &exponent {
                token.push_str(e);
                token.push_str(sign);
                token.push_str(digits);
            }
            let json = format!("{{\"x\": {token}}}");
            let object = Object::parse(json.as_bytes()).expect("parses");
            let expected: f64 = token.parse().expect("a number");
            match object.get("x") {
                Some(Json::Number(x, text)) => {
                    proptest::prop_assert_eq!(x.to_bits(), expected.to_bits(), "{}", token);
                    proptest::prop_assert_eq!(*text, token.as_str());
                }
                Some(Json::NotFinite(text)) => {
                    proptest::prop_assert!(!expected.is_finite(), "{}", token);
                    proptest::prop_assert_eq!(*text, token.as_str());
                }
                other => proptest::prop_assert!(false, "{:?}", other),
            }
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
    fn bodies_in_feature_order_are_read_directly() {
        let schema = crate::transaction_schema();
        let features = &schema.features;
        let keys = BodyKeys::new(features);
        let keys = keys.as_ref();
        fn values<'a>(
            body: &'a [u8],
            features: &[Feature],
            keys: Option<&BodyKeys>,
        ) -> Option<Vec<(usize, Value<'a>)>> {
            let mut values = Vec::new();
            in_feature_order(body, features, keys, |i, member| {
                values.push((i, member.value()?));
                Some(())
            })
            .map(|()| values)
        }
        let body = br#" { "amount" : -2.50 , "transaction_hour":14,"merchant_category":"Gas","foreign_transaction":true,"location_mismatch":null,"device_trust_score":75.0,"velocity_last_24h":3e1,"cardholder_age":35}"#;
        let expected = vec![
            (0, Value::Number(-2.5)),
            (1, Value::Number(14.0)),
            (2, Value::Text("Gas")),
            (3, Value::Bool(true)),
            (4, Value::Missing),
            (5, Value::Number(75.0)),
            (6, Value::Number(30.0)),
            (7, Value::Number(35.0)),
        ];
        assert_eq!(values(body, features, keys), Some(expected.clone()));
        // As most clients write it: no space, the first key as compact as
        // the others.
        let compact = std::str::from_utf8(body)
            .unwrap()
            .replace(" { \"amount\" : -2.50 , ", "{\"amount\":-2.50,");
        assert!(compact.starts_with("{\"amount\":-2.50,\"transaction_hour\""));
        assert_eq!(values(compact.as_bytes(), features, keys), Some(expected));
        // The reader stops at the first value its caller refuses.
        let mut taken = 0;
        let refused = in_feature_order(body, features, keys, |i, _| {
            taken += 1;
            (i < 2).then_some(())
        });
        assert_eq!((refused, taken), (None, 3));
        // Everything else is left to the object parser.
        let text = std::str::from_utf8(body).unwrap();
        for other in [
            text.replace("\"amount\"", "\"amo\\u0075nt\""),
            text.replace("\"Gas\"", "\"G\\u0061s\""),
            text.replace("-2.50", "-2.5000000000000000000001"),
            text.replace("35}", "35,\"id\":1}"),
            text.replace(",\"cardholder_age\":35", ""),
            text.replace("-2.50", "[1]"),
            text.replace("35}", "35}}"),
            // The compact spelling, one byte off.
            text.replace("\"merchant_category\":", "\"merchant_category\";"),
            text.replace(",\"merchant_category\"", ";\"merchant_category\""),
            text.replace("\"merchant_category\":", "\"merchant_categor\":"),
            text.replace("\"merchant_category\":", "\"merchant_categoryy\":"),
            text.replace(",\"merchant_category\":", ",xmerchant_category\":"),
            text.replace(
                "\"amount\" : -2.50 , \"transaction_hour\":14",
                "\"transaction_hour\":14,\"amount\":-2.5",
            ),
        ] {
            assert!(
                values(other.as_bytes(), features, keys).is_none(),
                "{other}"
            );
        }
        // Nor is any body when a name would need an escape.
        assert!(values(body, features, None).is_none());
        assert!(plain_name("amount"));
        assert!(!plain_name("a\"b") && !plain_name("a\\b") && !plain_name("a\nb"));
        let mut quoted = features.clone();
        quoted[3].name = "foreign \"transaction\"".into();
        assert!(BodyKeys::new(&quoted).is_none());
    }

    /// A compact key is taken only when every one of its bytes matches,
    /// whatever its length: one word, two or three, or longer keys.
    #[test]
    fn compact_keys_match_every_byte() {
        let mut features = crate::transaction_schema().features;
        features.truncate(2);
        for len in 1..=30 {
            features[1].name = "n".repeat(len);
            let keys = BodyKeys::new(&features);
            let body = format!("{{\"amount\":1,\"{}\":2}}", features[1].name);
            let read = |body: &[u8]| {
                let mut taken = 0;
                in_feature_order(body, &features, keys.as_ref(), |_, _| {
                    taken += 1;
                    Some(())
                })
                .map(|()| taken)
            };
            assert_eq!(read(body.as_bytes()), Some(2), "{body}");
            let key_start = body.find(",\"n").expect("second key");
            for at in key_start..key_start + len + 4 {
                let mut off = body.clone().into_bytes();
                off[at] = b'x';
                assert_eq!(read(&off), None, "{}", String::from_utf8_lossy(&off));
            }
        }
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

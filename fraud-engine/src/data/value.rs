//! One input value, and the rules every front end shares for reading it:
//! what counts as missing, as a yes/no flag, as a label, as a number in range.

use crate::schema::FeatureKind;

/// One input value before it is checked against its feature's kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// A number (also accepted for flags, as 0 or 1, and for categories).
    Number(f64),
    /// A boolean (JSON `true`, Python `True`): a flag's value, and nothing
    /// else's: `true` is not a number.
    Bool(bool),
    /// Text (parsed as a number or flag where the feature needs one).
    Text(&'a str),
    /// An empty value (empty cell, JSON `null`, `None`, `NaN`): imputed by
    /// the model's pipeline.
    Missing,
    /// The field was not given at all (a key absent from a JSON object or a
    /// dict). Scoring refuses it rather than impute it, so that a misspelt
    /// field name is reported instead of silently scored as missing.
    Absent,
    /// A value of a type no feature accepts (a JSON array or object, say),
    /// named by its type; always rejected.
    Unsupported(&'static str),
}

impl Value<'_> {
    /// Whether the value stands for "no value": empty, absent, `NaN`, or a
    /// missing text such as `NA` (see [`is_missing_text`]).
    pub fn is_missing(&self) -> bool {
        match self {
            Value::Missing | Value::Absent => true,
            Value::Number(x) => x.is_nan(),
            Value::Text(t) => is_missing_text(t),
            Value::Bool(_) | Value::Unsupported(_) => false,
        }
    }

    /// The value as a person would write it in a report ("" when missing).
    pub fn display(&self) -> String {
        match self {
            Value::Number(x) => x.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Text(t) => (*t).to_owned(),
            Value::Missing | Value::Absent => String::new(),
            Value::Unsupported(type_name) => format!("({type_name})"),
        }
    }
}

/// Texts read as a missing value (compared without case).
const MISSING_TEXTS: [&str; 6] = ["", "na", "n/a", "nan", "null", "none"];

/// Whether `text` stands for a missing value.
pub fn is_missing_text(text: &str) -> bool {
    let t = text.trim();
    MISSING_TEXTS.iter().any(|m| t.eq_ignore_ascii_case(m))
}

/// Reads a yes/no value: 0/1, true/false or yes/no in any case.
pub fn parse_bool(text: &str) -> Option<bool> {
    let t = text.trim();
    const TRUE: [&str; 4] = ["1", "true", "yes", "1.0"];
    const FALSE: [&str; 4] = ["0", "false", "no", "0.0"];
    if TRUE.iter().any(|s| t.eq_ignore_ascii_case(s)) {
        Some(true)
    } else if FALSE.iter().any(|s| t.eq_ignore_ascii_case(s)) {
        Some(false)
    } else {
        None
    }
}

/// Reads a number written as text: finite decimal or exponent notation, with
/// spaces around it ignored.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Reads a label: 0/1, true/false (any case) or yes/no.
pub fn parse_label(value: Value<'_>) -> std::result::Result<u8, String> {
    match value {
        Value::Number(x) if x == 0.0 || x == 1.0 => Ok(x as u8),
        Value::Number(x) => Err(format!("label {x} is not 0 or 1")),
        Value::Bool(b) => Ok(u8::from(b)),
        Value::Text(t) if is_missing_text(t) => Err("the label is missing".into()),
        Value::Text(t) => parse_bool(t)
            .map(u8::from)
            .ok_or_else(|| format!("label '{t}' is not 0/1, true/false or yes/no")),
        Value::Missing | Value::Absent => Err("the label is missing".into()),
        Value::Unsupported(type_name) => Err(format!("expected a 0/1 label, got {type_name}")),
    }
}

/// Writes a bound the way people write numbers (`23`, not `23.0`).
fn bound(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

/// Words a valid range for people: "between 0 and 23", "at least 0".
pub(crate) fn describe_range(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(lo), Some(hi)) => format!("between {} and {}", bound(lo), bound(hi)),
        (Some(lo), None) => format!("at least {}", bound(lo)),
        (None, Some(hi)) => format!("at most {}", bound(hi)),
        (None, None) => "any number".into(),
    }
}

/// Checks a numeric value against a feature, returning the value to store or why not.
#[inline]
pub(crate) fn check_number(kind: &FeatureKind, x: f64) -> std::result::Result<f64, String> {
    if !x.is_finite() {
        return Err(format!("{x} is not a finite number"));
    }
    match *kind {
        FeatureKind::Flag if x == 0.0 || x == 1.0 => Ok(x),
        FeatureKind::Flag => Err(format!("{x} is not a flag (expected 0 or 1)")),
        FeatureKind::Numeric { min, max } => {
            if min.is_some_and(|lo| x < lo) || max.is_some_and(|hi| x > hi) {
                Err(format!(
                    "{x} is outside the valid range: must be {}",
                    describe_range(min, max)
                ))
            } else {
                Ok(x)
            }
        }
        FeatureKind::Categorical { .. } => Ok(x),
    }
}

/// Reads `value` as the number a numeric or flag feature stores (`NaN` = missing).
#[inline]
pub(crate) fn numeric_value(
    kind: &FeatureKind,
    value: Value<'_>,
) -> std::result::Result<f64, String> {
    match value {
        Value::Missing => Ok(f64::NAN),
        Value::Absent => Err("missing field".into()),
        Value::Unsupported(type_name) => Err(format!("expected a number, got {type_name}")),
        Value::Bool(b) if matches!(kind, FeatureKind::Flag) => Ok(f64::from(u8::from(b))),
        Value::Bool(b) => Err(format!("expected a number, got {b}")),
        Value::Number(x) if x.is_nan() => Ok(f64::NAN),
        Value::Number(x) => check_number(kind, x),
        Value::Text(t) if is_missing_text(t) => Ok(f64::NAN),
        Value::Text(t) => {
            if matches!(kind, FeatureKind::Flag) {
                return parse_bool(t)
                    .map(|b| f64::from(u8::from(b)))
                    .ok_or_else(|| {
                        format!("'{t}' is not a flag (expected 0/1, true/false or yes/no)")
                    });
            }
            let x: f64 = t
                .trim()
                .parse()
                .map_err(|_| format!("'{t}' is not a number"))?;
            check_number(kind, x)
        }
    }
}

/// Writes a number the way a category level is spelled (`3`, not `3.0`).
pub(crate) fn number_as_level(x: f64, buf: &mut String) {
    use std::fmt::Write;
    buf.clear();
    if x.fract() == 0.0 && x.abs() < 1e15 {
        let _ = write!(buf, "{}", x as i64);
    } else {
        let _ = write!(buf, "{x}");
    }
}

/// The category text a value stands for: `Ok(None)` when missing, the
/// trimmed text, or a number spelt as a level (written into `scratch`).
pub(crate) fn category_text<'v>(
    value: &Value<'v>,
    scratch: &'v mut String,
) -> std::result::Result<Option<&'v str>, String> {
    match *value {
        Value::Absent => Err("missing field".into()),
        Value::Unsupported(type_name) => Err(format!("expected text, got {type_name}")),
        Value::Bool(b) => Err(format!("expected text, got {b}")),
        Value::Missing => Ok(None),
        Value::Text(t) if is_missing_text(t) => Ok(None),
        Value::Text(t) => Ok(Some(t.trim())),
        Value::Number(x) if x.is_nan() => Ok(None),
        Value::Number(x) if x.is_infinite() => Err(format!("{x} is not a valid category")),
        Value::Number(x) => {
            number_as_level(x, scratch);
            Ok(Some(scratch.as_str()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_accept_common_spellings() {
        for (text, y) in [
            ("0", 0),
            ("1", 1),
            ("TRUE", 1),
            ("false", 0),
            ("Yes", 1),
            ("no", 0),
        ] {
            assert_eq!(parse_label(Value::Text(text)), Ok(y));
        }
        assert!(parse_label(Value::Text("2")).is_err());
        assert!(parse_label(Value::Missing).is_err());
    }

    #[test]
    fn ranges_are_worded_for_people() {
        let kind = FeatureKind::Numeric {
            min: Some(0.0),
            max: Some(23.0),
        };
        let reason = check_number(&kind, 25.0).expect_err("out of range");
        assert_eq!(
            reason,
            "25 is outside the valid range: must be between 0 and 23"
        );
        assert_eq!(describe_range(Some(0.5), None), "at least 0.5");
        assert_eq!(describe_range(None, Some(1e9)), "at most 1000000000");
    }
}

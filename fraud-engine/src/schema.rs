//! Feature names and kinds: what a model reads from each transaction, which
//! values it accepts, and the schema file that declares them.
//!
//! A schema is either declared in a schema file (JSON, see
//! [`Schema::from_json`]; the default transaction schema is such a file,
//! shipped with the crate) or inferred from the training data. A declared
//! range or category list is a hard limit: a value outside it is rejected.
//! What a model learns from its training data is softer: a column that never
//! had a missing value is required, and a number outside the range seen in
//! training is handled by the schema's [`RangePolicy`] (scored with a
//! warning, by default).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How one input feature is read and checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FeatureKind {
    /// A real number, optionally limited to `min..=max` (inclusive).
    Numeric {
        /// Smallest valid value, if any.
        min: Option<f64>,
        /// Largest valid value, if any.
        max: Option<f64>,
    },
    /// A yes/no flag given as 0/1, true/false or yes/no.
    Flag,
    /// A label. With `categories`, only those are valid; without, the
    /// vocabulary is open and values never seen in training score through
    /// the model's unknown bucket with a warning.
    Categorical {
        /// The allowed categories, when declared.
        categories: Option<Vec<String>>,
    },
}

impl FeatureKind {
    /// `"numeric"`, `"flag"` or `"categorical"`.
    pub fn name(&self) -> &'static str {
        match self {
            FeatureKind::Numeric { .. } => "numeric",
            FeatureKind::Flag => "flag",
            FeatureKind::Categorical { .. } => "categorical",
        }
    }
}

/// One named input feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// Column or field name.
    pub name: String,
    /// How the value is read.
    pub kind: FeatureKind,
    /// Whether a missing value (`null`, `""`, an absent field, NaN) is an
    /// error. `None` until training decides: a column with no missing value
    /// in the training data is required. Every trained model's schema has
    /// `Some`.
    pub required: Option<bool>,
}

impl Feature {
    fn with_kind(name: &str, kind: FeatureKind) -> Self {
        Feature {
            name: name.into(),
            kind,
            required: None,
        }
    }

    /// A numeric feature without a valid range.
    pub fn numeric(name: &str) -> Self {
        Self::with_kind(
            name,
            FeatureKind::Numeric {
                min: None,
                max: None,
            },
        )
    }

    /// A numeric feature valid in `min..=max`.
    pub fn ranged(name: &str, min: f64, max: f64) -> Self {
        Self::with_kind(
            name,
            FeatureKind::Numeric {
                min: Some(min),
                max: Some(max),
            },
        )
    }

    /// A boolean flag.
    pub fn flag(name: &str) -> Self {
        Self::with_kind(name, FeatureKind::Flag)
    }

    /// A categorical feature with an open vocabulary.
    pub fn categorical(name: &str) -> Self {
        Self::with_kind(name, FeatureKind::Categorical { categories: None })
    }

    /// The same feature, required (or optional) whatever the training data.
    pub fn required(mut self, required: bool) -> Self {
        self.required = Some(required);
        self
    }

    /// Whether a missing value is an error.
    pub fn is_required(&self) -> bool {
        self.required == Some(true)
    }
}

/// What scoring does with a number outside the range seen in training (a
/// declared `min`/`max` is a hard limit whatever this says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RangePolicy {
    /// Score it and name the field in the prediction's warnings (the
    /// default: a transaction ten times larger than any seen must still be
    /// scored, and flagged, never refused).
    #[default]
    Warn,
    /// Refuse it, naming the field.
    Reject,
    /// Score it without a word. A forest scores a value beyond the training
    /// range as the nearest value seen, so this is safe, only silent.
    Accept,
}

impl std::str::FromStr for RangePolicy {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "warn" => Ok(RangePolicy::Warn),
            "reject" => Ok(RangePolicy::Reject),
            "accept" => Ok(RangePolicy::Accept),
            other => Err(Error::InvalidParams {
                name: "out_of_range",
                reason: format!("`{other}` is not warn, reject or accept"),
            }),
        }
    }
}

/// The features a model reads, in order, the label column it was trained
/// on, and what to do with numbers outside the training range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Input features in model order.
    pub features: Vec<Feature>,
    /// Name of the 0/1 fraud label column.
    pub label: String,
    /// What scoring does with a number outside the range seen in training.
    pub out_of_range: RangePolicy,
}

/// The label column name used by default.
pub const DEFAULT_LABEL: &str = "is_fraud";

impl Schema {
    /// A schema, checked: at least one feature, no duplicate or empty names, the
    /// label not among the features, ranges finite and ordered, category
    /// lists not empty and without repeats.
    pub fn new(features: Vec<Feature>, label: impl Into<String>) -> Result<Self> {
        let schema = Schema {
            features,
            label: label.into(),
            out_of_range: RangePolicy::default(),
        };
        schema.validate()?;
        Ok(schema)
    }

    /// Checks the invariants [`Schema::new`] promises.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| Error::schema("schema", reason);
        if self.features.is_empty() {
            return Err(bad("no features".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for feature in &self.features {
            let name = &feature.name;
            if name.is_empty() {
                return Err(bad("a feature has an empty name".into()));
            }
            if !seen.insert(name.as_str()) {
                return Err(bad(format!("feature `{name}` appears twice")));
            }
            if *name == self.label {
                return Err(bad(format!("the label `{}` is also a feature", self.label)));
            }
            match &feature.kind {
                FeatureKind::Numeric { min, max } => {
                    let finite = min.is_none_or(f64::is_finite) && max.is_none_or(f64::is_finite);
                    if !finite {
                        return Err(bad(format!(
                            "feature `{name}` has a bound that is not a finite number"
                        )));
                    }
                    if let (Some(lo), Some(hi)) = (min, max) {
                        if lo > hi {
                            return Err(bad(format!(
                                "feature `{name}` has min {lo} above max {hi}"
                            )));
                        }
                    }
                }
                FeatureKind::Categorical {
                    categories: Some(list),
                } => {
                    if list.is_empty() {
                        return Err(bad(format!("feature `{name}` allows no category")));
                    }
                    let mut distinct = std::collections::HashSet::new();
                    if let Some(twice) = list.iter().find(|c| !distinct.insert(c.trim())) {
                        return Err(bad(format!(
                            "feature `{name}` lists the category `{twice}` twice"
                        )));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Position of the feature called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.features.iter().position(|f| f.name == name)
    }

    /// Feature names in model order.
    pub fn feature_names(&self) -> impl Iterator<Item = &str> + Clone {
        self.features.iter().map(|f| f.name.as_str())
    }

    /// Reads a schema file: JSON with `features` (each a `name`, a `kind` of
    /// `numeric`, `flag` or `categorical`, and optionally `min`, `max`,
    /// `categories` and `required`), and optionally `label` (default
    /// `is_fraud`) and `out_of_range` (`warn`, `reject` or `accept`; default
    /// `warn`). `observed_*` members, which [`Schema::to_json`] writes for
    /// people to read, are ignored. `source` names the file in errors, which
    /// give the line and column of a syntax error and the name of a bad
    /// feature.
    pub fn from_json(text: &str, source: &str) -> Result<Self> {
        let file: SchemaFile = serde_json::from_str(text).map_err(|e| {
            Error::schema(
                source,
                format!("line {}, column {}: {e}", e.line(), e.column()),
            )
        })?;
        let features = file
            .features
            .into_iter()
            .map(|spec| spec.into_feature())
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(|reason| Error::schema(source, reason))?;
        let schema = Schema {
            features,
            label: file.label.unwrap_or_else(|| DEFAULT_LABEL.into()),
            out_of_range: file.out_of_range.unwrap_or_default(),
        };
        schema.validate().map_err(|e| match e {
            Error::Schema { reason, hint, .. } => Error::Schema {
                source_name: source.into(),
                reason,
                hint,
            },
            other => other,
        })?;
        Ok(schema)
    }

    /// Reads the schema file at `path` (see [`Schema::from_json`]).
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// The schema as a schema file, for people to read and edit. With
    /// `observed` (one entry per feature: the range, and the categories,
    /// seen in training), each feature also shows what training saw, as
    /// `observed_min`, `observed_max` and `observed_categories`, which
    /// reading ignores: copy them to `min`, `max` or `categories` to make
    /// them limits.
    pub fn to_json(&self, observed: Option<&[Observed]>) -> Result<String> {
        let file = SchemaFile {
            label: Some(self.label.clone()),
            out_of_range: Some(self.out_of_range),
            features: self
                .features
                .iter()
                .enumerate()
                .map(|(i, f)| FeatureSpec::of(f, observed.and_then(|o| o.get(i))))
                .collect(),
        };
        serde_json::to_string_pretty(&file).map_err(|e| Error::Serialization {
            what: "schema",
            reason: e.to_string(),
        })
    }
}

/// What training saw of one feature, for [`Schema::to_json`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observed {
    /// Smallest and largest value seen (numeric features).
    pub range: Option<(f64, f64)>,
    /// The categories seen (categorical features).
    pub categories: Vec<String>,
}

/// The schema file's layout.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    out_of_range: Option<RangePolicy>,
    features: Vec<FeatureSpec>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureSpec {
    name: String,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    categories: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    observed_min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    observed_max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    observed_categories: Option<Vec<String>>,
}

impl FeatureSpec {
    fn into_feature(self) -> std::result::Result<Feature, String> {
        let name = self.name;
        let only = |what: &str, given: bool| {
            if given {
                Err(format!(
                    "feature `{name}`: `{what}` applies to another kind of feature"
                ))
            } else {
                Ok(())
            }
        };
        let kind = match self.kind.as_str() {
            "numeric" => {
                only("categories", self.categories.is_some())?;
                FeatureKind::Numeric {
                    min: self.min,
                    max: self.max,
                }
            }
            "flag" => {
                only("min", self.min.is_some())?;
                only("max", self.max.is_some())?;
                only("categories", self.categories.is_some())?;
                FeatureKind::Flag
            }
            "categorical" => {
                only("min", self.min.is_some())?;
                only("max", self.max.is_some())?;
                FeatureKind::Categorical {
                    categories: self
                        .categories
                        .map(|list| list.into_iter().map(|c| c.trim().to_owned()).collect()),
                }
            }
            other => {
                return Err(format!(
                    "feature `{name}`: kind `{other}` is not numeric, flag or categorical"
                ))
            }
        };
        Ok(Feature {
            name,
            kind,
            required: self.required,
        })
    }

    fn of(feature: &Feature, observed: Option<&Observed>) -> Self {
        let (min, max, categories) = match &feature.kind {
            FeatureKind::Numeric { min, max } => (*min, *max, None),
            FeatureKind::Flag => (None, None, None),
            FeatureKind::Categorical { categories } => (None, None, categories.clone()),
        };
        let range = observed.and_then(|o| o.range);
        FeatureSpec {
            name: feature.name.clone(),
            kind: feature.kind.name().into(),
            min,
            max,
            categories,
            required: feature.required,
            observed_min: range.map(|r| r.0),
            observed_max: range.map(|r| r.1),
            observed_categories: observed
                .map(|o| o.categories.clone())
                .filter(|c| !c.is_empty()),
        }
    }
}

/// The documented default transaction schema: the eight fields of
/// `POST /api/predict`, all required, with their valid ranges, and the
/// `is_fraud` label. It is the schema file shipped at
/// `fraud-engine/schemas/transactions.json`.
pub fn transaction_schema() -> Schema {
    // The file is part of the crate and a test reads it, so this cannot fail.
    Schema::from_json(TRANSACTION_SCHEMA, "schemas/transactions.json")
        .unwrap_or_else(|e| unreachable!("the shipped schema file is valid: {e}"))
}

/// The text of the shipped transaction schema file.
pub const TRANSACTION_SCHEMA: &str = include_str!("../schemas/transactions.json");

/// Whether a column name looks like an identifier (`id`, or ending in `_id`):
/// such columns are left out of the features by default, since a model that
/// learns an id memorises rows instead of patterns.
pub fn is_id_column(name: &str) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    lower == "id" || lower.ends_with("_id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schema_is_the_shipped_file() {
        let schema = transaction_schema();
        assert!(schema.validate().is_ok());
        assert_eq!(schema.features.len(), 8);
        assert_eq!(schema.index_of("device_trust_score"), Some(5));
        assert!(schema.features.iter().all(Feature::is_required));
        assert_eq!(
            schema.features[1].kind,
            FeatureKind::Numeric {
                min: Some(0.0),
                max: Some(23.0)
            }
        );
        let written = schema.to_json(None).expect("writes");
        assert_eq!(Schema::from_json(&written, "again").expect("reads"), schema);
    }

    #[test]
    fn rejects_duplicates_and_label_clash() {
        let dup = Schema::new(vec![Feature::numeric("a"), Feature::flag("a")], "y");
        assert!(dup.unwrap_err().to_string().contains("`a` appears twice"));
        let clash = Schema::new(vec![Feature::numeric("y")], "y");
        assert!(clash.is_err());
        let range = Schema::new(vec![Feature::ranged("a", 2.0, 1.0)], "y");
        assert!(range.unwrap_err().to_string().contains("min 2 above max 1"));
    }

    #[test]
    fn schema_files_name_what_is_wrong() {
        let cases = [
            (
                r#"{"features": [{"name": "a", "kind": "number"}]}"#,
                "kind `number`",
            ),
            (
                r#"{"features": [{"name": "a", "kind": "flag", "min": 0}]}"#,
                "`min` applies",
            ),
            (
                r#"{"features": [{"name": "a", "kind": "numeric", "colour": 1}]}"#,
                "unknown field `colour`",
            ),
            (
                r#"{"features": [{"name": "a", "kind": "categorical", "categories": ["x", " x"]}]}"#,
                "`x` twice",
            ),
            ("{\"features\": [\n  {\"name\": \"a\",}]}", "line 2"),
            (
                r#"{"out_of_range": "clip", "features": []}"#,
                "unknown variant `clip`",
            ),
        ];
        for (text, needle) in cases {
            let err = Schema::from_json(text, "s.json")
                .expect_err(text)
                .to_string();
            assert!(err.starts_with("s.json: ") && err.contains(needle), "{err}");
        }
        let schema = Schema::from_json(
            r#"{"label": "fraud", "out_of_range": "reject", "features": [
                {"name": "hour", "kind": "numeric", "min": 0, "max": 23, "observed_min": 1},
                {"name": "shop", "kind": "categorical", "categories": ["a", "b"], "required": false}]}"#,
            "s.json",
        )
        .expect("valid");
        assert_eq!(schema.label, "fraud");
        assert_eq!(schema.out_of_range, RangePolicy::Reject);
        assert_eq!(schema.features[0].required, None);
        assert_eq!(schema.features[1].required, Some(false));
    }

    #[test]
    fn id_columns() {
        assert!(is_id_column("id"));
        assert!(is_id_column("Transaction_ID"));
        assert!(!is_id_column("idle_minutes"));
        assert!(!is_id_column("paid"));
    }
}

//! Feature names and kinds: what a model reads from each transaction.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How one input feature is read and checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FeatureKind {
    /// A real number, optionally limited to `min..=max`.
    Numeric {
        /// Smallest valid value, if any.
        min: Option<f64>,
        /// Largest valid value, if any.
        max: Option<f64>,
    },
    /// A yes/no flag given as 0/1, true/false or yes/no.
    Flag,
    /// A label from an open vocabulary (values never seen in training score
    /// through the model's unknown bucket).
    Categorical,
}

impl FeatureKind {
    /// `"numeric"`, `"flag"` or `"categorical"`.
    pub fn name(&self) -> &'static str {
        match self {
            FeatureKind::Numeric { .. } => "numeric",
            FeatureKind::Flag => "flag",
            FeatureKind::Categorical => "categorical",
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
}

impl Feature {
    /// A numeric feature without a valid range.
    pub fn numeric(name: &str) -> Self {
        Feature {
            name: name.into(),
            kind: FeatureKind::Numeric {
                min: None,
                max: None,
            },
        }
    }

    /// A numeric feature valid in `min..=max`.
    pub fn ranged(name: &str, min: f64, max: f64) -> Self {
        Feature {
            name: name.into(),
            kind: FeatureKind::Numeric {
                min: Some(min),
                max: Some(max),
            },
        }
    }

    /// A boolean flag.
    pub fn flag(name: &str) -> Self {
        Feature {
            name: name.into(),
            kind: FeatureKind::Flag,
        }
    }

    /// A categorical feature.
    pub fn categorical(name: &str) -> Self {
        Feature {
            name: name.into(),
            kind: FeatureKind::Categorical,
        }
    }
}

/// The features a model reads, in order, and the label column it was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Input features in model order.
    pub features: Vec<Feature>,
    /// Name of the 0/1 fraud label column.
    pub label: String,
}

/// The label column name used by default.
pub const DEFAULT_LABEL: &str = "is_fraud";

impl Schema {
    /// A schema, checked: at least one feature, no duplicate or empty names, the
    /// label not among the features, ranges finite and ordered.
    pub fn new(features: Vec<Feature>, label: impl Into<String>) -> Result<Self> {
        let schema = Schema {
            features,
            label: label.into(),
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
            if feature.name.is_empty() {
                return Err(bad("a feature has an empty name".into()));
            }
            if !seen.insert(feature.name.as_str()) {
                return Err(bad(format!("feature `{}` appears twice", feature.name)));
            }
            if feature.name == self.label {
                return Err(bad(format!("the label `{}` is also a feature", self.label)));
            }
            if let FeatureKind::Numeric { min, max } = feature.kind {
                let finite = min.is_none_or(f64::is_finite) && max.is_none_or(f64::is_finite);
                let ordered = matches!((min, max), (Some(lo), Some(hi)) if lo > hi);
                if !finite || ordered {
                    return Err(bad(format!(
                        "feature `{}` has an invalid range",
                        feature.name
                    )));
                }
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
}

/// The documented default transaction schema: the eight fields of
/// `POST /api/predict` and the `is_fraud` label.
pub fn transaction_schema() -> Schema {
    Schema {
        features: vec![
            Feature::ranged("amount", 0.0, 1.0e9),
            Feature::ranged("transaction_hour", 0.0, 23.0),
            Feature::categorical("merchant_category"),
            Feature::flag("foreign_transaction"),
            Feature::flag("location_mismatch"),
            Feature::ranged("device_trust_score", 0.0, 100.0),
            Feature::ranged("velocity_last_24h", 0.0, 1.0e6),
            Feature::ranged("cardholder_age", 0.0, 150.0),
        ],
        label: DEFAULT_LABEL.into(),
    }
}

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
    fn default_schema_is_valid() {
        let schema = transaction_schema();
        assert!(schema.validate().is_ok());
        assert_eq!(schema.features.len(), 8);
        assert_eq!(schema.index_of("device_trust_score"), Some(5));
    }

    #[test]
    fn rejects_duplicates_and_label_clash() {
        let dup = Schema::new(vec![Feature::numeric("a"), Feature::flag("a")], "y");
        assert!(dup.unwrap_err().to_string().contains("`a` appears twice"));
        let clash = Schema::new(vec![Feature::numeric("y")], "y");
        assert!(clash.is_err());
        let range = Schema::new(vec![Feature::ranged("a", 2.0, 1.0)], "y");
        assert!(range.is_err());
    }

    #[test]
    fn id_columns() {
        assert!(is_id_column("id"));
        assert!(is_id_column("Transaction_ID"));
        assert!(!is_id_column("idle_minutes"));
        assert!(!is_id_column("paid"));
    }
}

//! One row: encoding a transaction through the pipeline, scoring it and
//! explaining it.

use crate::data::Value;
use crate::error::{Error, FieldProblem, Result};
use crate::explain::{Explanation, Reason};
use crate::json;
use crate::model::{Model, RiskLevel};
use crate::preprocess::Warning;

/// A source of named field values: a JSON object, a map, a record copied out
/// of a Python dict.
pub trait Fields {
    /// The value of `name`, or `None` when the field is absent.
    fn field(&self, name: &str) -> Option<Value<'_>>;

    /// The value of `name`, the model's feature number `index`: sources
    /// that keep their fields in order may look there first (a request
    /// usually lists them in the model's order). The same answer as
    /// [`Fields::field`].
    fn field_at(&self, index: usize, name: &str) -> Option<Value<'_>> {
        let _ = index;
        self.field(name)
    }
}

impl Fields for serde_json::Map<String, serde_json::Value> {
    fn field(&self, name: &str) -> Option<Value<'_>> {
        use serde_json::Value as J;
        Some(match self.get(name)? {
            J::Null => Value::Missing,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => n
                .as_f64()
                .map_or(Value::Unsupported("a number out of range"), Value::Number),
            J::String(s) => Value::Text(s),
            J::Array(_) => Value::Unsupported("an array"),
            J::Object(_) => Value::Unsupported("an object"),
        })
    }
}

impl<S: std::hash::BuildHasher> Fields for std::collections::HashMap<String, f64, S> {
    fn field(&self, name: &str) -> Option<Value<'_>> {
        self.get(name).map(|&x| Value::Number(x))
    }
}

impl<S: std::hash::BuildHasher> Fields for std::collections::HashMap<String, String, S> {
    fn field(&self, name: &str) -> Option<Value<'_>> {
        self.get(name).map(|s| Value::Text(s))
    }
}

impl<'a> Fields for [(&str, Value<'a>)] {
    fn field(&self, name: &str) -> Option<Value<'_>> {
        self.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
    }

    fn field_at(&self, index: usize, name: &str) -> Option<Value<'_>> {
        match self.get(index) {
            Some(&(n, v)) if n == name => Some(v),
            _ => self.field(name),
        }
    }
}

/// One row already in the model's feature order: numbers, categories given
/// by their code ([`Model::category_codes`]), `NaN` for a missing value.
/// What C's typed calls and numpy matrices pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Encoded<'a>(pub &'a [f64]);

mod sealed {
    pub trait Sealed {}
    impl<F: super::Fields + ?Sized> Sealed for F {}
    impl Sealed for super::Encoded<'_> {}
}

/// One transaction to score: named fields (anything [`Fields`]) or an
/// [`Encoded`] row.
pub trait Row: sealed::Sealed {
    /// Checks every value and writes the forest's input into `out` (one per
    /// feature), returning the warnings; every bad field is listed in one
    /// error.
    #[doc(hidden)]
    fn encode_into(&self, model: &Model, out: &mut [f64]) -> Result<Vec<Warning>>;
}

impl<F: Fields + ?Sized> Row for F {
    fn encode_into(&self, model: &Model, out: &mut [f64]) -> Result<Vec<Warning>> {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        for (i, (feature, slot)) in model.schema.features.iter().zip(out).enumerate() {
            let value = self.field_at(i, &feature.name).unwrap_or(Value::Absent);
            match model.pipeline.encode(&model.schema, i, value) {
                Ok((x, note)) => {
                    *slot = x;
                    if let Some(note) = note {
                        warnings.push(note.warning(&feature.name));
                    }
                }
                Err(Error::InvalidInput { field, reason }) => {
                    problems.push(FieldProblem { field, reason })
                }
                Err(other) => return Err(other),
            }
        }
        if problems.is_empty() {
            Ok(warnings)
        } else {
            Err(Error::InvalidFields { problems })
        }
    }
}

impl Row for Encoded<'_> {
    fn encode_into(&self, model: &Model, out: &mut [f64]) -> Result<Vec<Warning>> {
        model.check_width(self.0.len())?;
        let mut warnings = Vec::new();
        for (i, (&x, slot)) in self.0.iter().zip(out).enumerate() {
            let (x, note) = model.pipeline.encode_number(&model.schema, i, x)?;
            *slot = x;
            if let Some(note) = note {
                warnings.push(note.warning(&model.schema.features[i].name));
            }
        }
        Ok(warnings)
    }
}

/// The result of scoring one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Mean over trees of the leaf's fraud fraction.
    pub fraud_probability: f64,
    /// `fraud_probability >= threshold`.
    pub is_fraud: bool,
    /// The probability's risk band.
    pub risk_level: RiskLevel,
    /// Things worth knowing, e.g. a category the model never saw. Empty (and
    /// not allocated) in the common case.
    pub warnings: Vec<Warning>,
}

/// A prediction with its explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Explained {
    /// The prediction, exactly as [`Model::predict`] gives it.
    pub prediction: Prediction,
    /// Per-feature contributions (TreeSHAP).
    pub explanation: Explanation,
    /// The strongest contributions toward fraud, as readable reasons.
    pub reasons: Vec<Reason>,
}

/// Reasons given per explanation at most.
pub const MAX_REASONS: usize = 3;

/// Features scored from a stack buffer up to this count; wider rows use the heap.
const STACK_FEATURES: usize = 32;

/// A buffer of one value per feature: on the stack for common widths, so
/// scoring one row allocates nothing.
pub(crate) struct RowBuffer {
    stack: [f64; STACK_FEATURES],
    heap: Vec<f64>,
    n: usize,
}

impl RowBuffer {
    pub(crate) fn new(n: usize) -> Self {
        RowBuffer {
            stack: [0.0; STACK_FEATURES],
            heap: if n > STACK_FEATURES {
                vec![0.0; n]
            } else {
                Vec::new()
            },
            n,
        }
    }

    pub(crate) fn as_mut(&mut self) -> &mut [f64] {
        if self.n <= STACK_FEATURES {
            &mut self.stack[..self.n]
        } else {
            &mut self.heap
        }
    }
}

impl Model {
    /// Checks that a row has one value per feature.
    pub(crate) fn check_width(&self, len: usize) -> Result<()> {
        let n = self.schema.features.len();
        if len == n {
            Ok(())
        } else {
            Err(Error::input(
                "row",
                format!("{len} values for {n} features"),
            ))
        }
    }

    /// Turns a probability into a prediction with this model's decision layer.
    pub(crate) fn decide(&self, fraud_probability: f64, warnings: Vec<Warning>) -> Prediction {
        Prediction {
            fraud_probability,
            is_fraud: self.decision.flags(fraud_probability),
            risk_level: self.decision.risk_bands.level(fraud_probability),
            warnings,
        }
    }

    /// Scores one transaction, given by field name (a JSON object, a map) or
    /// as an [`Encoded`] row. Every missing or invalid field is reported in
    /// one [`Error::InvalidFields`]; an encoded row of the wrong width or
    /// with a bad value is an [`Error::InvalidInput`] naming it.
    pub fn predict<R: Row + ?Sized>(&self, row: &R) -> Result<Prediction> {
        let mut buffer = RowBuffer::new(self.n_features());
        let encoded = buffer.as_mut();
        let warnings = row.encode_into(self, encoded)?;
        Ok(self.decide(self.forest.predict(encoded), warnings))
    }

    /// Scores one transaction given as a JSON request body (the body of
    /// `POST /api/predict`): the same answer as [`json::Body::parse`]
    /// followed by [`Model::predict`], which is what it does with a body
    /// that is not of the common shape or that earns a warning or an
    /// error. A body whose members are the model's features in their order
    /// (as clients usually send them) is encoded as it is read instead,
    /// without building the object.
    pub fn predict_body(&self, json: &[u8]) -> std::result::Result<Prediction, json::BodyError> {
        let mut buffer = RowBuffer::new(self.n_features());
        let encoded = buffer.as_mut();
        let read = json::in_feature_order(
            json,
            &self.schema.features,
            self.body_keys.as_ref(),
            |i, member| {
                // A category's level is found by its bytes, with no UTF-8
                // check of its own.
                if let json::Member::Text(bytes) = member {
                    if let Some(x) = self.pipeline.plain_level_code(&self.schema, i, bytes) {
                        *encoded.get_mut(i)? = x;
                        return Some(());
                    }
                }
                // Each value is encoded as `encode_into` encodes it. A warning or
                // a problem sends the body to the object parser, whose
                // `encode_into` reports every one of them.
                match self.pipeline.encode(&self.schema, i, member.value()?) {
                    Ok((x, None)) => {
                        *encoded.get_mut(i)? = x;
                        Some(())
                    }
                    Ok((_, Some(_))) | Err(_) => None,
                }
            },
        );
        let warnings = match read {
            Some(()) => Vec::new(),
            None => json::Body::parse(json)
                .map_err(json::BodyError::NotAnObject)?
                .encode_into(self, encoded)?,
        };
        Ok(self.decide(self.forest.predict(encoded), warnings))
    }

    /// Scores and explains one transaction (see [`Model::predict`]): exact
    /// TreeSHAP contributions that add up to the probability, and the
    /// strongest reasons toward fraud.
    pub fn explain<R: Row + ?Sized>(&self, row: &R) -> Result<Explained> {
        let mut encoded = vec![0.0; self.n_features()];
        let warnings = row.encode_into(self, &mut encoded)?;
        Ok(self.explain_encoded(&encoded, warnings))
    }

    /// TreeSHAP contributions for a checked, encoded row, added into `phi`
    /// (one per feature). Returns the probability the forest gives the row.
    pub(crate) fn shap_into(&self, row: &[f64], phi: &mut [f64]) -> f64 {
        let shap = self
            .shap
            .get_or_init(|| crate::explain::QuadratureForest::new(&self.trees, self.n_features()));
        shap.add_shap(row, phi, 1.0 / self.trees.len() as f64);
        self.forest.predict(row)
    }

    fn explain_encoded(&self, row: &[f64], warnings: Vec<Warning>) -> Explained {
        let mut contributions = vec![0.0; row.len()];
        let probability = self.shap_into(row, &mut contributions);
        let mut order: Vec<usize> = (0..row.len()).filter(|&i| contributions[i] > 0.0).collect();
        order.sort_by(|&a, &b| contributions[b].total_cmp(&contributions[a]));
        let reasons = order
            .into_iter()
            .take(MAX_REASONS)
            .map(|i| {
                let value = self.pipeline.decode(i, row[i]);
                let shown = match &value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let feature = self.schema.features[i].name.clone();
                Reason {
                    text: format!("{feature} = {shown} raised the risk"),
                    feature,
                    value,
                    contribution: contributions[i],
                }
            })
            .collect();
        Explained {
            prediction: self.decide(probability, warnings),
            explanation: Explanation {
                base_value: self.base_value,
                contributions,
                fraud_probability: probability,
            },
            reasons,
        }
    }
}

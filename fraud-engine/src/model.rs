//! The user-facing model: schema, pipeline, forest, decision layer and metadata.

use serde::{Deserialize, Serialize};

use crate::data::{Column, Dataset, Value};
use crate::error::{Error, FieldProblem, Result};
use crate::explain::{self, Explanation, Reason};
use crate::forest::{Forest, Tree};
use crate::metrics::{self, Curve, Evaluation};
use crate::preprocess::{Pipeline, Warning};
use crate::schema::Schema;
use crate::train::TrainParams;

/// Coarse risk for people: LOW, MEDIUM or HIGH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RiskLevel {
    /// Below the medium band.
    Low,
    /// In the medium band.
    Medium,
    /// In the high band.
    High,
}

impl RiskLevel {
    /// `"LOW"`, `"MEDIUM"` or `"HIGH"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "LOW",
            RiskLevel::Medium => "MEDIUM",
            RiskLevel::High => "HIGH",
        }
    }
}

impl std::fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Probability bands: LOW below `medium`, MEDIUM from `medium`, HIGH from `high`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RiskBands {
    /// Lowest probability rated MEDIUM.
    pub medium: f64,
    /// Lowest probability rated HIGH.
    pub high: f64,
}

impl RiskBands {
    /// The default bands for a decision threshold: HIGH from the threshold (so
    /// HIGH means "flagged"), MEDIUM from half of it.
    pub fn around(threshold: f64) -> Self {
        RiskBands {
            medium: threshold / 2.0,
            high: threshold,
        }
    }

    /// Checks `0 <= medium <= high <= 1`.
    pub fn validate(&self) -> Result<()> {
        if (0.0..=1.0).contains(&self.medium)
            && (0.0..=1.0).contains(&self.high)
            && self.medium <= self.high
        {
            Ok(())
        } else {
            Err(Error::InvalidParams {
                name: "risk_bands",
                reason: format!(
                    "need 0 <= medium ({}) <= high ({}) <= 1",
                    self.medium, self.high
                ),
            })
        }
    }

    /// The level of a probability.
    pub fn level(&self, probability: f64) -> RiskLevel {
        if probability >= self.high {
            RiskLevel::High
        } else if probability >= self.medium {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        }
    }
}

impl std::str::FromStr for RiskBands {
    type Err = Error;

    /// Parses `MEDIUM,HIGH`, e.g. `0.2,0.6`.
    fn from_str(text: &str) -> Result<Self> {
        let bad = || Error::InvalidParams {
            name: "risk_bands",
            reason: format!("`{text}` is not MEDIUM,HIGH (e.g. 0.2,0.6)"),
        };
        let (m, h) = text.split_once(',').ok_or_else(bad)?;
        let bands = RiskBands {
            medium: m.trim().parse().map_err(|_| bad())?,
            high: h.trim().parse().map_err(|_| bad())?,
        };
        bands.validate()?;
        Ok(bands)
    }
}

/// The decision layer: what turns a probability into a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// `is_fraud` is `probability >= threshold`.
    pub threshold: f64,
    /// Risk level bands.
    pub risk_bands: RiskBands,
    /// How the threshold was chosen, for people reading the metadata.
    pub strategy: String,
}

impl Decision {
    fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(Error::InvalidParams {
                name: "threshold",
                reason: format!("{} is not in [0, 1]", self.threshold),
            });
        }
        self.risk_bands.validate()
    }
}

/// Summary statistics of one feature's training values, for drift checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureStats {
    /// Fraction of training rows where the value was missing.
    pub missing_fraction: f64,
    /// Mean of the present values (numeric and flag features; 0 for categories).
    pub mean: f64,
    /// Standard deviation of the present values.
    pub std: f64,
    /// Smallest present value.
    pub min: f64,
    /// Largest present value.
    pub max: f64,
    /// For categorical features, each training level's share of the rows.
    pub category_shares: Vec<(String, f64)>,
}

/// What is known about how a model was made and how well it ranks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Short content-derived identifier.
    pub model_id: String,
    /// Version of the engine that trained the model.
    pub engine_version: String,
    /// When training finished (RFC 3339, UTC).
    pub created: String,
    /// Training rows.
    pub training_rows: u64,
    /// Frauds among the training rows.
    pub training_frauds: u64,
    /// The parameters the model was trained with.
    pub params: TrainParams,
    /// Out-of-bag evaluation at the chosen threshold (absent without OOB rows).
    pub oob: Option<Evaluation>,
    /// Out-of-bag ROC curve (false-positive rate, true-positive rate).
    pub roc_curve: Option<Curve>,
    /// Out-of-bag precision-recall curve (recall, precision).
    pub pr_curve: Option<Curve>,
    /// Global importance per feature, in schema order: the mean absolute SHAP
    /// value (in probability units) over a sample of training rows, each row
    /// explained by the trees it was out of bag for.
    pub feature_importances: Vec<f64>,
    /// Mean decrease in impurity per feature, summing to 1, in schema order
    /// (scikit-learn's `feature_importances_`).
    pub impurity_importances: Vec<f64>,
    /// Training distribution of each feature, in schema order.
    pub feature_stats: Vec<FeatureStats>,
    /// Nodes in all trees.
    pub n_nodes: u64,
    /// Deepest tree's depth.
    pub max_depth: u32,
}

/// The two kinds of global importance training computes.
pub(crate) struct Importances {
    pub shap: Vec<f64>,
    pub impurity: Vec<f64>,
}

/// Points kept per stored curve.
const CURVE_POINTS: usize = 200;

impl Metadata {
    pub(crate) fn describe(
        data: &Dataset,
        params: &TrainParams,
        trees: &[Tree],
        importances: Importances,
        oob: Option<(&[f64], &[u8])>,
        threshold: f64,
    ) -> Self {
        let labels = data.labels().unwrap_or(&[]);
        let (roc, pr) = match oob {
            Some((scores, labels)) => {
                let (roc, pr) = metrics::curves(scores, labels, CURVE_POINTS);
                (Some(roc), Some(pr))
            }
            None => (None, None),
        };
        Metadata {
            model_id: String::new(),
            engine_version: crate::VERSION.into(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            training_rows: data.n_rows() as u64,
            training_frauds: labels.iter().filter(|&&y| y == 1).count() as u64,
            params: params.clone(),
            oob: oob.map(|(scores, labels)| Evaluation::new(scores, labels, threshold)),
            roc_curve: roc,
            pr_curve: pr,
            feature_importances: importances.shap,
            impurity_importances: importances.impurity,
            feature_stats: data.columns().iter().map(feature_stats).collect(),
            n_nodes: trees.iter().map(|t| t.len() as u64).sum(),
            max_depth: 0,
        }
    }
}

fn feature_stats(column: &Column) -> FeatureStats {
    match column {
        Column::Numeric(values) => {
            let present: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
            let n = present.len().max(1) as f64;
            let mean = present.iter().sum::<f64>() / n;
            let var = present.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
            FeatureStats {
                missing_fraction: 1.0 - present.len() as f64 / values.len().max(1) as f64,
                mean,
                std: var.sqrt(),
                min: present
                    .iter()
                    .copied()
                    .fold(f64::INFINITY, f64::min)
                    .min(f64::MAX),
                max: present
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max)
                    .max(f64::MIN),
                category_shares: Vec::new(),
            }
        }
        Column::Categorical { codes, levels } => {
            let mut counts = vec![0u64; levels.len()];
            let mut missing = 0u64;
            for &c in codes {
                match counts.get_mut(c as usize) {
                    Some(count) => *count += 1,
                    None => missing += 1,
                }
            }
            let n = codes.len().max(1) as f64;
            FeatureStats {
                missing_fraction: missing as f64 / n,
                mean: 0.0,
                std: 0.0,
                min: 0.0,
                max: 0.0,
                category_shares: levels
                    .iter()
                    .zip(&counts)
                    .map(|(l, &c)| (l.clone(), c as f64 / n))
                    .collect(),
            }
        }
    }
}

/// A source of named field values: a JSON object, a map, a CSV record with
/// its header.
pub trait Fields {
    /// The value of `name`, or `None` when the field is absent.
    fn field(&self, name: &str) -> Option<Value<'_>>;
}

impl Fields for serde_json::Map<String, serde_json::Value> {
    fn field(&self, name: &str) -> Option<Value<'_>> {
        use serde_json::Value as J;
        Some(match self.get(name)? {
            J::Null => Value::Missing,
            J::Bool(b) => Value::Number(f64::from(u8::from(*b))),
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

/// Features scored from a stack buffer up to this count; wider rows use the heap.
const STACK_FEATURES: usize = 32;

/// A trained model: everything needed to score, in one value that is cheap to
/// share between threads (`Model` is `Send + Sync`; scoring takes `&self`).
#[derive(Debug, Clone)]
pub struct Model {
    pub(crate) schema: Schema,
    pub(crate) pipeline: Pipeline,
    pub(crate) trees: Vec<Tree>,
    pub(crate) decision: Decision,
    pub(crate) metadata: Metadata,
    pub(crate) forest: Forest,
    /// Mean over trees of each tree's expected output: the explanations' base value.
    pub(crate) base_value: f64,
    /// Leaf paths for explanations, prepared on the first explanation so
    /// models that only score never pay for them.
    pub(crate) paths: std::sync::OnceLock<Vec<explain::TreePaths>>,
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

impl PartialEq for Model {
    fn eq(&self, other: &Self) -> bool {
        self.schema == other.schema
            && self.pipeline == other.pipeline
            && self.trees == other.trees
            && self.decision == other.decision
            && self.metadata == other.metadata
    }
}

impl Model {
    /// Checks every part against the others and lays the forest out for scoring.
    pub(crate) fn assemble(
        schema: Schema,
        pipeline: Pipeline,
        trees: Vec<Tree>,
        decision: Decision,
        mut metadata: Metadata,
    ) -> Result<Self> {
        schema.validate()?;
        let structural = |reason: String| Error::corrupt(0, reason);
        pipeline.check_against(&schema).map_err(structural)?;
        decision.validate()?;
        if trees.is_empty() {
            return Err(structural("the forest has no trees".into()));
        }
        let n_features = schema.features.len();
        let mut max_depth = 0;
        for (t, tree) in trees.iter().enumerate() {
            max_depth = max_depth.max(
                tree.validate(n_features)
                    .map_err(|reason| structural(format!("tree {t}: {reason}")))?,
            );
        }
        if metadata.feature_importances.len() != n_features
            || metadata.feature_stats.len() != n_features
        {
            return Err(structural(
                "metadata does not match the feature count".into(),
            ));
        }
        metadata.max_depth = max_depth as u32;
        if metadata.model_id.is_empty() {
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(metadata.created.as_bytes());
            for tree in &trees {
                for (t, v) in tree.threshold.iter().zip(&tree.value) {
                    hasher.update(&t.to_le_bytes());
                    hasher.update(&v.to_le_bytes());
                }
            }
            metadata.model_id = format!("{:08x}", hasher.finalize());
        }
        let forest = Forest::from_trees(&trees, n_features);
        let base_value =
            trees.iter().map(explain::expected_value).sum::<f64>() / trees.len() as f64;
        Ok(Model {
            schema,
            pipeline,
            trees,
            decision,
            metadata,
            forest,
            base_value,
            paths: std::sync::OnceLock::new(),
        })
    }

    /// The features the model reads, in order.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Feature names in model order.
    pub fn feature_names(&self) -> Vec<&str> {
        self.schema.feature_names().collect()
    }

    /// The fitted preprocessing pipeline.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The trees as stored.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }

    /// The flat scoring layout.
    pub fn forest(&self) -> &Forest {
        &self.forest
    }

    /// The decision layer.
    pub fn decision(&self) -> &Decision {
        &self.decision
    }

    /// The decision threshold.
    pub fn threshold(&self) -> f64 {
        self.decision.threshold
    }

    /// How the model was made and how well it ranked out of bag.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The same model with another decision layer (threshold and risk bands).
    pub fn with_decision(&self, decision: Decision) -> Result<Model> {
        decision.validate()?;
        Ok(Model {
            decision,
            ..self.clone()
        })
    }

    /// Category code of `text` for a categorical feature, for callers that pass
    /// encoded rows ([`Model::predict_encoded`]). `None` for other features.
    pub fn category_code(&self, feature: &str, text: &str) -> Option<u32> {
        let index = self.schema.index_of(feature)?;
        self.pipeline
            .category_code(index, text)
            .map(|(code, _)| code)
    }

    /// Checks that a row has one value per feature.
    fn check_width(&self, len: usize) -> Result<()> {
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
    pub fn decide(&self, fraud_probability: f64, warnings: Vec<Warning>) -> Prediction {
        Prediction {
            fraud_probability,
            is_fraud: fraud_probability >= self.decision.threshold,
            risk_level: self.decision.risk_bands.level(fraud_probability),
            warnings,
        }
    }

    /// Scores one transaction given by field name. Every missing or invalid
    /// field is reported in one [`Error::InvalidFields`].
    pub fn predict<F: Fields + ?Sized>(&self, fields: &F) -> Result<Prediction> {
        self.score_with(|i, name| fields.field(name).ok_or(i))
    }

    /// Scores one transaction given as values in schema order.
    pub fn predict_values(&self, values: &[Value<'_>]) -> Result<Prediction> {
        self.check_width(values.len())?;
        self.score_with(|i, _| Ok(values[i]))
    }

    fn score_with<'v>(
        &self,
        value: impl FnMut(usize, &str) -> std::result::Result<Value<'v>, usize>,
    ) -> Result<Prediction> {
        let mut stack = [0.0f64; STACK_FEATURES];
        let mut heap = Vec::new();
        let row = self.row_buffer(&mut stack, &mut heap);
        let warnings = self.encode_with(value, row)?;
        Ok(self.decide(self.forest.predict(row), warnings))
    }

    fn row_buffer<'b>(
        &self,
        stack: &'b mut [f64; STACK_FEATURES],
        heap: &'b mut Vec<f64>,
    ) -> &'b mut [f64] {
        let n = self.schema.features.len();
        if n <= STACK_FEATURES {
            &mut stack[..n]
        } else {
            heap.resize(n, 0.0);
            heap
        }
    }

    /// Encodes named or positional values into `row`, collecting every bad field.
    fn encode_with<'v>(
        &self,
        mut value: impl FnMut(usize, &str) -> std::result::Result<Value<'v>, usize>,
        row: &mut [f64],
    ) -> Result<Vec<Warning>> {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        for (i, feature) in self.schema.features.iter().enumerate() {
            let encoded = match value(i, &feature.name) {
                Ok(v) => self.pipeline.encode(&self.schema, i, v),
                Err(_) => Err(Error::input(&feature.name, "missing field")),
            };
            match encoded {
                Ok((x, unknown)) => {
                    row[i] = x;
                    if unknown {
                        warnings.push(Warning {
                            field: feature.name.clone(),
                            message:
                                "category not seen in training; scored through the unknown bucket"
                                    .into(),
                        });
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

    /// The explanations' base value: the model's mean output over its training data.
    pub fn base_value(&self) -> f64 {
        self.base_value
    }

    /// Scores and explains one transaction given by field name.
    pub fn explain<F: Fields + ?Sized>(&self, fields: &F) -> Result<Explained> {
        let mut row = vec![0.0; self.schema.features.len()];
        let warnings = self.encode_with(|i, name| fields.field(name).ok_or(i), &mut row)?;
        Ok(self.explain_row(&row, warnings))
    }

    /// Scores and explains one transaction given as values in schema order.
    pub fn explain_values(&self, values: &[Value<'_>]) -> Result<Explained> {
        self.check_width(values.len())?;
        let mut row = vec![0.0; values.len()];
        let warnings = self.encode_with(|i, _| Ok(values[i]), &mut row)?;
        Ok(self.explain_row(&row, warnings))
    }

    /// Scores and explains one encoded row (see [`Model::predict_encoded`]).
    pub fn explain_encoded(&self, row: &[f64]) -> Result<Explained> {
        let n = self.schema.features.len();
        self.check_width(row.len())?;
        let mut encoded = vec![0.0; n];
        for (i, (&x, slot)) in row.iter().zip(encoded.iter_mut()).enumerate() {
            *slot = self.pipeline.encode_number(&self.schema, i, x)?;
        }
        Ok(self.explain_row(&encoded, Vec::new()))
    }

    /// SHAP values of one encoded row (as [`Model::predict_encoded`] takes
    /// it) written into `out` (one per feature), without reasons or
    /// allocation beyond the first call's path preparation. Returns the
    /// probability; `base_value() + sum(out)` equals it.
    pub fn shap_values_encoded(&self, row: &[f64], out: &mut [f64]) -> Result<f64> {
        let n = self.schema.features.len();
        self.check_width(row.len())?;
        if out.len() != n {
            return Err(Error::input(
                "out",
                format!("{} outputs for {n} features", out.len()),
            ));
        }
        let mut stack = [0.0f64; STACK_FEATURES];
        let mut heap = Vec::new();
        let buf = self.row_buffer(&mut stack, &mut heap);
        for (i, (&x, slot)) in row.iter().zip(buf.iter_mut()).enumerate() {
            *slot = self.pipeline.encode_number(&self.schema, i, x)?;
        }
        out.fill(0.0);
        Ok(self.shap_into(buf, out))
    }

    /// TreeSHAP contributions for an encoded row, added into `phi` (length =
    /// feature count). Returns the probability the forest gives the row.
    fn shap_into(&self, row: &[f64], phi: &mut [f64]) -> f64 {
        let paths = self
            .paths
            .get_or_init(|| self.trees.iter().map(explain::TreePaths::new).collect());
        let scale = 1.0 / self.trees.len() as f64;
        for tree in paths {
            tree.add_shap(row, phi, scale);
        }
        self.forest.predict(row)
    }

    fn explain_row(&self, row: &[f64], warnings: Vec<Warning>) -> Explained {
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

    /// Scores one row of numbers in model feature order: categories given by
    /// their code ([`Model::category_code`]), `NaN` for a missing value.
    /// Allocates nothing.
    pub fn predict_encoded(&self, row: &[f64]) -> Result<Prediction> {
        Ok(self.decide(self.predict_proba_encoded(row)?, Vec::new()))
    }

    /// The probability alone for an encoded row (see [`Model::predict_encoded`]).
    pub fn predict_proba_encoded(&self, row: &[f64]) -> Result<f64> {
        let n = self.schema.features.len();
        self.check_width(row.len())?;
        let mut stack = [0.0f64; STACK_FEATURES];
        let mut heap = Vec::new();
        let buf: &mut [f64] = if n <= STACK_FEATURES {
            &mut stack[..n]
        } else {
            heap.resize(n, 0.0);
            &mut heap
        };
        for (i, (&x, slot)) in row.iter().zip(buf.iter_mut()).enumerate() {
            *slot = self.pipeline.encode_number(&self.schema, i, x)?;
        }
        Ok(self.forest.predict(buf))
    }

    /// Probabilities for a row-major matrix of encoded rows (as in
    /// [`Model::predict_encoded`]), written to `out` (one per row), on the
    /// rayon pool in scope. An invalid value fails the whole call, naming its
    /// row and feature.
    pub fn predict_proba_encoded_batch(&self, rows: &[f64], out: &mut [f64]) -> Result<()> {
        let n = self.schema.features.len();
        if rows.len() % n != 0 || rows.len() / n != out.len() {
            return Err(Error::input(
                "rows",
                format!(
                    "{} values do not make {} rows of {n} features",
                    rows.len(),
                    out.len()
                ),
            ));
        }
        let encoded = self.encode_rows(rows)?;
        self.forest.predict_batch(&encoded, out);
        Ok(())
    }

    /// Checks a row-major matrix of encoded rows (as [`Model::predict_encoded`]
    /// takes them) and fills its missing (`NaN`) values, in parallel blocks on
    /// the rayon pool in scope. The first bad value in row order fails the
    /// call, named by feature and 0-based row index, whatever the thread count.
    pub fn encode_rows(&self, rows: &[f64]) -> Result<Vec<f64>> {
        use rayon::prelude::*;
        const BLOCK: usize = 4096;
        let n = self.schema.features.len();
        if rows.len() % n != 0 {
            return Err(Error::input(
                "rows",
                format!("{} values do not make rows of {n} features", rows.len()),
            ));
        }
        let mut encoded = rows.to_vec();
        let check_block = |block: usize, values: &mut [f64]| -> Result<()> {
            for (r, row) in values.chunks_exact_mut(n).enumerate() {
                for (i, x) in row.iter_mut().enumerate() {
                    *x = self
                        .pipeline
                        .encode_number(&self.schema, i, *x)
                        .map_err(|e| match e {
                            Error::InvalidInput { field, reason } => Error::input(
                                field,
                                format!("row index {}: {reason}", block * BLOCK + r),
                            ),
                            other => other,
                        })?;
                }
            }
            Ok(())
        };
        // One block needs no thread pool (and starting one for it would
        // leave its threads behind in a caller that scores a single batch).
        if encoded.len() <= BLOCK * n {
            check_block(0, &mut encoded)?;
        } else {
            let checked: Vec<Result<()>> = encoded
                .par_chunks_mut(BLOCK * n)
                .enumerate()
                .map(|(b, v)| check_block(b, v))
                .collect();
            checked.into_iter().collect::<Result<()>>()?;
        }
        Ok(encoded)
    }

    /// Probabilities for every row of a dataset read with this model's schema
    /// (see [`Model::read_csv`]), on the rayon pool in scope.
    pub fn predict_dataset(&self, data: &Dataset) -> Result<Vec<f64>> {
        let names_match = data.schema().features.len() == self.schema.features.len()
            && data
                .schema()
                .features
                .iter()
                .zip(&self.schema.features)
                .all(|(a, b)| a.name == b.name && a.kind == b.kind);
        if !names_match {
            return Err(Error::Schema {
                source_name: "dataset".into(),
                reason: format!(
                    "columns do not match the model's features ({})",
                    self.feature_names().join(", ")
                ),
            });
        }
        let columns = self.pipeline.transform_columns(data);
        let n = self.schema.features.len();
        let mut rows = vec![0.0; data.n_rows() * n];
        for (i, column) in columns.iter().enumerate() {
            for (r, &x) in column.iter().enumerate() {
                rows[r * n + i] = x;
            }
        }
        let mut out = vec![0.0; data.n_rows()];
        self.forest.predict_batch(&rows, &mut out);
        Ok(out)
    }

    /// Reads a CSV with this model's schema (other columns ignored; a missing
    /// feature column is an error; a label column is read when present).
    pub fn read_csv(
        &self,
        path: &std::path::Path,
        label: &str,
        require_label: bool,
    ) -> Result<crate::data::LoadedCsv> {
        let options = crate::data::CsvOptions {
            label: label.into(),
            require_label,
            schema: Some(self.schema.clone()),
            ..Default::default()
        };
        crate::data::read_csv(path, &options)
    }

    /// Re-chooses the decision layer on labelled data: the threshold by
    /// `strategy`, and the risk bands (`None`: derived from the new
    /// threshold, see [`RiskBands::around`]). The forest is untouched. Returns
    /// the new model and its evaluation at the new threshold. `source` names
    /// the data in the recorded strategy.
    pub fn tune(
        &self,
        data: &Dataset,
        strategy: metrics::ThresholdStrategy,
        risk_bands: Option<RiskBands>,
        source: &str,
    ) -> Result<(Model, Evaluation)> {
        let labels = data.labels().ok_or_else(|| Error::Schema {
            source_name: source.into(),
            reason: format!("tuning needs the label column `{}`", data.schema().label),
        })?;
        let scores = self.predict_dataset(data)?;
        let amounts = crate::train::amount_column(data);
        let threshold = metrics::select_threshold(&scores, labels, amounts, strategy)?;
        let decision = Decision {
            threshold,
            risk_bands: risk_bands.unwrap_or_else(|| RiskBands::around(threshold)),
            strategy: format!("{strategy} on {} ({} rows)", source, data.n_rows()),
        };
        let tuned = self.with_decision(decision)?;
        Ok((tuned, Evaluation::new(&scores, labels, threshold)))
    }

    /// Evaluates the model on a labelled dataset at its own threshold.
    pub fn evaluate(&self, data: &Dataset) -> Result<Evaluation> {
        let labels = data.labels().ok_or_else(|| Error::Schema {
            source_name: "dataset".into(),
            reason: format!(
                "evaluation needs the label column `{}`",
                data.schema().label
            ),
        })?;
        let scores = self.predict_dataset(data)?;
        Ok(Evaluation::new(&scores, labels, self.decision.threshold))
    }
}

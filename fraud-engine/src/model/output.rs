//! What every front end returns, as serde types: the HTTP server, the C
//! ABI's JSON calls, the Python dicts and the command line all emit these,
//! so they cannot drift apart.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::explain::Reason;
use crate::forest::NO_CHILD;
use crate::metrics::{self, Curve, Evaluation};
use crate::model::{Explained, FeatureStats, Model, Prediction, RiskBands, RiskLevel};
use crate::preprocess::{Encoder, Warning};
use crate::schema::{FeatureKind, Observed, RangePolicy};
use crate::train::TrainParams;

/// One scored transaction, as every front end returns it: the body of
/// `POST /api/predict`, the dict of Python's `predict`, the JSON of the C
/// ABI's explanation call. `warnings` is always present (empty in the common
/// case); the explanation fields only when an explanation was asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionOutput<'a> {
    /// 1 when `fraud_probability >= threshold`, else 0.
    pub is_fraud: u8,
    /// The model's fraud probability.
    pub fraud_probability: f64,
    /// LOW, MEDIUM or HIGH.
    pub risk_level: RiskLevel,
    /// The version of the model that scored it.
    pub model_version: &'a str,
    /// The decision threshold.
    pub threshold: f64,
    /// Things worth knowing about this input (a category never seen, say).
    pub warnings: &'a [Warning],
    /// The strongest contributions toward fraud (explanations only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<&'a [Reason]>,
    /// Every feature's contribution, keyed by feature name in the model's
    /// order (explanations only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contributions: Option<Contributions<'a>>,
    /// The model's mean output: `base_value + sum(contributions) ==
    /// fraud_probability` (explanations only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_value: Option<f64>,
}

/// Per-feature contributions, written as a JSON object keyed by feature name
/// in the model's order (an object, so clients look features up by name
/// rather than depend on the order).
#[derive(Debug, Clone, PartialEq)]
pub struct Contributions<'a> {
    model: &'a Model,
    values: &'a [f64],
}

impl Contributions<'_> {
    /// `(feature name, contribution)` pairs, in the model's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> + '_ {
        self.model
            .schema
            .feature_names()
            .zip(self.values.iter().copied())
    }
}

impl Serialize for Contributions<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.values.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

/// The columns a scored table gains, in order (the command line's `predict`
/// and the web UI's batch download). The decision is `predicted_is_fraud`,
/// not `is_fraud`: a labelled file already has an `is_fraud` column, which
/// is kept as it was, beside the model's verdict.
pub const SCORED_COLUMNS: [&str; 3] = ["fraud_probability", "predicted_is_fraud", "risk_level"];

/// A ROC curve for plotting: false-positive rate against true-positive rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RocCurve {
    /// False-positive rates.
    pub fpr: Vec<f64>,
    /// True-positive rates.
    pub tpr: Vec<f64>,
    /// The threshold at each point (`null` for the first, "flag nothing").
    pub thresholds: Vec<f64>,
}

/// A precision-recall curve for plotting: recall against precision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrCurve {
    /// Recalls.
    pub recall: Vec<f64>,
    /// Precisions.
    pub precision: Vec<f64>,
    /// The threshold at each point.
    pub thresholds: Vec<f64>,
}

impl From<&Curve> for RocCurve {
    fn from(c: &Curve) -> Self {
        RocCurve {
            fpr: c.x.clone(),
            tpr: c.y.clone(),
            thresholds: c.thresholds.clone(),
        }
    }
}

impl From<&Curve> for PrCurve {
    fn from(c: &Curve) -> Self {
        PrCurve {
            recall: c.x.clone(),
            precision: c.y.clone(),
            thresholds: c.thresholds.clone(),
        }
    }
}

/// An evaluation with its curves: what `evaluate` reports in every front end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluationReport {
    /// The metrics at the threshold.
    #[serde(flatten)]
    pub evaluation: Evaluation,
    /// The ROC curve (at most 200 points).
    pub roc_curve: RocCurve,
    /// The precision-recall curve (at most 200 points).
    pub pr_curve: PrCurve,
}

impl EvaluationReport {
    /// Evaluates `scores` against `labels` at `threshold`, with curves.
    pub fn new(scores: &[f64], labels: &[u8], threshold: f64) -> Self {
        let (roc, pr) = metrics::curves(scores, labels, super::metadata::CURVE_POINTS);
        EvaluationReport {
            evaluation: Evaluation::new(scores, labels, threshold),
            roc_curve: (&roc).into(),
            pr_curve: (&pr).into(),
        }
    }
}

/// One feature as the model describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureSummary {
    /// Position in the model's feature order.
    pub index: usize,
    /// Field name.
    pub name: String,
    /// `numeric`, `flag` or `categorical`.
    pub kind: &'static str,
    /// Smallest valid value (numeric features with a range).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest valid value (numeric features with a range).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The categories seen in training (categorical features); others score
    /// through the unknown bucket with a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// The code of each category in an encoded row, parallel to `categories`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category_codes: Option<Vec<u32>>,
    /// The code of the unknown bucket in an encoded row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_code: Option<u32>,
    /// The only categories accepted, when the schema declares them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_categories: Option<Vec<String>>,
    /// Whether a missing value is refused.
    pub required: bool,
    /// Global importance: mean absolute SHAP value (probability units) over
    /// sampled training rows, each explained by its out-of-bag trees.
    pub importance: f64,
    /// Mean decrease in impurity (sums to 1 over the features).
    pub impurity_importance: f64,
    /// The feature's training distribution.
    pub training_stats: FeatureStats,
}

/// The model's input schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaSummary {
    /// Features in model order.
    pub features: Vec<FeatureSummary>,
    /// The label column it was trained on.
    pub label: String,
    /// What scoring does with a number outside the range seen in training.
    pub out_of_range: RangePolicy,
}

/// Everything a model says about itself: `GET /api/model`, `inspect --json`,
/// Python's `Model.metadata`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    /// The version every prediction names: a hash of the whole model.
    pub model_version: String,
    /// The version this model was derived from (by re-choosing its decision
    /// layer, or retraining), if any.
    pub parent_version: Option<String>,
    /// When training finished (RFC 3339).
    pub created: String,
    /// Engine version that trained it.
    pub engine_version: String,
    /// Model file format version.
    pub format_version: u32,
    /// Trees in the forest.
    pub n_trees: usize,
    /// Nodes in all trees.
    pub n_nodes: u64,
    /// The deepest tree's depth.
    pub max_depth: u32,
    /// Training rows.
    pub training_rows: u64,
    /// Frauds among the training rows.
    pub training_frauds: u64,
    /// The input schema.
    pub schema: SchemaSummary,
    /// `is_fraud` is `fraud_probability >= threshold`.
    pub threshold: f64,
    /// How the threshold was chosen.
    pub threshold_strategy: String,
    /// Lowest probability rated MEDIUM and HIGH.
    pub risk_bands: RiskBands,
    /// The explanations' base value.
    pub base_value: f64,
    /// Training parameters.
    pub params: TrainParams,
    /// Out-of-bag evaluation at the threshold (absent without OOB rows).
    pub oob_metrics: Option<Evaluation>,
    /// Out-of-bag ROC curve.
    pub roc_curve: Option<RocCurve>,
    /// Out-of-bag precision-recall curve.
    pub pr_curve: Option<PrCurve>,
    /// The parts a forest trained apart was merged from, in tree order;
    /// empty for a forest trained in one piece (see [`crate::merge`]).
    pub parts: Vec<crate::merge::PartRecord>,
}

/// One tree's node arrays in scikit-learn's `tree_` layout, root first: a
/// row goes to `children_left` when `x[feature] <= threshold`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TreeArrays {
    /// Left child, or -1 at a leaf (scikit-learn's `TREE_LEAF`).
    pub children_left: Vec<i64>,
    /// Right child, or -1 at a leaf.
    pub children_right: Vec<i64>,
    /// Feature index in the model's order, or -2 at a leaf
    /// (scikit-learn's `TREE_UNDEFINED`).
    pub feature: Vec<i64>,
    /// Split threshold (categories compare by code), or -2 at a leaf.
    pub threshold: Vec<f64>,
    /// Fraud fraction of the training rows at the node; the forest's
    /// probability is the mean over trees of the leaf reached.
    pub value: Vec<f64>,
    /// Weighted count of training rows at the node.
    pub cover: Vec<f64>,
}

/// Marks a leaf's child links in [`TreeArrays`].
pub const TREE_LEAF: i64 = -1;
/// Marks a leaf's feature and threshold in [`TreeArrays`].
pub const TREE_UNDEFINED: i64 = -2;

impl Model {
    /// The one output shape of a prediction.
    pub fn output<'a>(&'a self, prediction: &'a Prediction) -> PredictionOutput<'a> {
        PredictionOutput {
            is_fraud: u8::from(prediction.is_fraud),
            fraud_probability: prediction.fraud_probability,
            risk_level: prediction.risk_level,
            model_version: self.version(),
            threshold: self.decision.threshold,
            warnings: &prediction.warnings,
            reasons: None,
            contributions: None,
            base_value: None,
        }
    }

    /// The one output shape of an explained prediction: the prediction's,
    /// plus reasons, contributions and the base value.
    pub fn explained_output<'a>(&'a self, explained: &'a Explained) -> PredictionOutput<'a> {
        PredictionOutput {
            reasons: Some(&explained.reasons),
            contributions: Some(self.contributions(&explained.explanation.contributions)),
            base_value: Some(explained.explanation.base_value),
            ..self.output(&explained.prediction)
        }
    }

    /// Contributions in the model's feature order, keyed by name when written.
    pub fn contributions<'a>(&'a self, values: &'a [f64]) -> Contributions<'a> {
        Contributions {
            model: self,
            values,
        }
    }

    /// Everything the model says about itself.
    pub fn summary(&self) -> ModelSummary {
        let meta = &self.metadata;
        let features = self
            .schema
            .features
            .iter()
            .zip(self.pipeline.encoders())
            .enumerate()
            .map(|(index, (feature, encoder))| {
                let (min, max, allowed_categories) = match &feature.kind {
                    FeatureKind::Numeric { min, max } => (*min, *max, None),
                    FeatureKind::Flag => (None, None, None),
                    FeatureKind::Categorical { categories } => (None, None, categories.clone()),
                };
                let (categories, category_codes, unknown_code) = match encoder {
                    Encoder::Categorical {
                        levels,
                        codes,
                        unknown,
                    } => (Some(levels.clone()), Some(codes.clone()), Some(*unknown)),
                    _ => (None, None, None),
                };
                FeatureSummary {
                    index,
                    name: feature.name.clone(),
                    kind: feature.kind.name(),
                    min,
                    max,
                    categories,
                    category_codes,
                    unknown_code,
                    allowed_categories,
                    required: feature.is_required(),
                    importance: meta.feature_importances.get(index).copied().unwrap_or(0.0),
                    impurity_importance: meta
                        .impurity_importances
                        .get(index)
                        .copied()
                        .unwrap_or(0.0),
                    training_stats: meta.feature_stats[index].clone(),
                }
            })
            .collect();
        ModelSummary {
            model_version: meta.model_id.clone(),
            parent_version: meta.parent_version.clone(),
            created: meta.created.clone(),
            engine_version: meta.engine_version.clone(),
            format_version: crate::format::FORMAT_VERSION,
            n_trees: self.trees.len(),
            n_nodes: meta.n_nodes,
            max_depth: meta.max_depth,
            training_rows: meta.training_rows,
            training_frauds: meta.training_frauds,
            schema: SchemaSummary {
                features,
                label: self.schema.label.clone(),
                out_of_range: self.schema.out_of_range,
            },
            threshold: self.decision.threshold,
            threshold_strategy: self.decision.strategy.clone(),
            risk_bands: self.decision.risk_bands,
            base_value: self.base_value,
            params: meta.params.clone(),
            oob_metrics: meta.oob.clone(),
            roc_curve: meta.roc_curve.as_ref().map(RocCurve::from),
            pr_curve: meta.pr_curve.as_ref().map(PrCurve::from),
            parts: meta.parts.clone(),
        }
    }

    /// The model's schema as a schema file (see [`crate::Schema::to_json`]),
    /// with what training saw of each feature (its range, its categories)
    /// for people to turn into limits.
    pub fn schema_json(&self) -> crate::Result<String> {
        let observed: Vec<Observed> = self
            .pipeline
            .encoders()
            .iter()
            .map(|encoder| match encoder {
                Encoder::Numeric { range, .. } => Observed {
                    range: *range,
                    categories: Vec::new(),
                },
                Encoder::Flag { .. } => Observed::default(),
                Encoder::Categorical { levels, .. } => Observed {
                    range: None,
                    categories: levels.clone(),
                },
            })
            .collect();
        self.schema.to_json(Some(&observed))
    }

    /// Every tree's node arrays, for other tools (shap, treelite, notebooks).
    pub fn tree_arrays(&self) -> Vec<TreeArrays> {
        let link = |c: u32| {
            if c == NO_CHILD {
                TREE_LEAF
            } else {
                i64::from(c)
            }
        };
        self.trees
            .iter()
            .map(|tree| {
                let leaf = |i: usize| tree.is_leaf(i);
                TreeArrays {
                    children_left: tree.left.iter().map(|&c| link(c)).collect(),
                    children_right: tree.right.iter().map(|&c| link(c)).collect(),
                    feature: (0..tree.len())
                        .map(|i| {
                            if leaf(i) {
                                TREE_UNDEFINED
                            } else {
                                i64::from(tree.feature[i])
                            }
                        })
                        .collect(),
                    threshold: (0..tree.len())
                        .map(|i| {
                            if leaf(i) {
                                TREE_UNDEFINED as f64
                            } else {
                                tree.threshold[i]
                            }
                        })
                        .collect(),
                    value: tree.value.clone(),
                    cover: tree.cover.clone(),
                }
            })
            .collect()
    }
}

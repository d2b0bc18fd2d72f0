//! What a model records about how it was made: parameters, training data
//! summary, out-of-bag metrics and curves, importances.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Column, Dataset};
use crate::forest::Tree;
use crate::metrics::{self, Curve, Evaluation};
use crate::train::{AutoChoice, TrainParams};

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
    /// The model's version: the first 16 hex digits of the SHA-256 of the
    /// whole model file's payload (with this field empty), so two models
    /// that differ in anything, the decision layer included, differ here.
    pub model_id: String,
    /// The version of the model this one was derived from (a re-chosen
    /// decision layer, a retraining), if any.
    pub parent_version: Option<String>,
    /// Version of the engine that trained the model.
    pub engine_version: String,
    /// When training finished (RFC 3339, UTC).
    pub created: String,
    /// Training rows.
    pub training_rows: u64,
    /// Frauds among the training rows.
    pub training_frauds: u64,
    /// The parameters the model was trained with, as given (`auto` where
    /// training chose).
    pub params: TrainParams,
    /// What training chose for the parameters left `auto`, from which
    /// candidates, and why; `None` when every one was given.
    pub auto: Option<AutoChoice>,
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
    /// The training distributions drift is measured against.
    pub reference: crate::drift::Reference,
    /// Training rows and the probabilities the model gave them when it was
    /// made: loading the model scores them again and refuses a model that
    /// does not give the same doubles, bit for bit.
    pub golden: GoldenSet,
    /// The parts a forest trained apart was merged from, in tree order
    /// (see [`crate::merge`]); a part lists itself; empty for a forest
    /// trained in one piece.
    pub parts: Vec<crate::merge::PartRecord>,
}

/// Encoded rows with the probabilities they must score (see
/// [`Metadata::golden`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GoldenSet {
    /// Row-major encoded rows, one value per feature.
    pub rows: Vec<f64>,
    /// The probability of each row.
    pub probabilities: Vec<f64>,
}

/// The two kinds of global importance training computes.
pub(crate) struct Importances {
    pub shap: Vec<f64>,
    pub impurity: Vec<f64>,
}

/// Out-of-bag scores of the training rows that have them.
pub(crate) struct OutOfBag<'a> {
    pub scores: &'a [f64],
    pub labels: &'a [u8],
    /// The rows' sample weights, when training had them.
    pub weights: Option<&'a [f64]>,
}

/// Points kept per stored curve.
pub(crate) const CURVE_POINTS: usize = 200;

impl Metadata {
    pub(crate) fn describe(
        data: &Dataset,
        params: &TrainParams,
        auto: Option<AutoChoice>,
        trees: &[Tree],
        importances: Importances,
        oob: Option<OutOfBag<'_>>,
        threshold: f64,
    ) -> Self {
        let labels = data.labels().unwrap_or(&[]);
        // Each of these reads all the training or out-of-bag rows (most of
        // them sort or select on them), and none needs another's result.
        let ((curves, evaluation), (reference, feature_stats)) = rayon::join(
            || {
                rayon::join(
                    || {
                        oob.as_ref().map(|o| {
                            metrics::weighted_curves(o.scores, o.labels, o.weights, CURVE_POINTS)
                        })
                    },
                    || {
                        oob.as_ref()
                            .map(|o| Evaluation::weighted(o.scores, o.labels, o.weights, threshold))
                    },
                )
            },
            || {
                rayon::join(
                    || crate::drift::Reference::of(data, oob.as_ref().map_or(&[], |o| o.scores)),
                    || data.columns().par_iter().map(feature_stats).collect(),
                )
            },
        );
        let (roc, pr) = curves.unzip();
        Metadata {
            model_id: String::new(),
            parent_version: None,
            engine_version: crate::VERSION.into(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            training_rows: data.n_rows() as u64,
            training_frauds: labels.iter().filter(|&&y| y == 1).count() as u64,
            params: params.clone(),
            reference,
            auto,
            oob: evaluation,
            roc_curve: roc,
            pr_curve: pr,
            feature_importances: importances.shap,
            impurity_importances: importances.impurity,
            feature_stats,
            n_nodes: trees.iter().map(|t| t.len() as u64).sum(),
            max_depth: 0,
            golden: GoldenSet::default(),
            parts: Vec::new(),
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

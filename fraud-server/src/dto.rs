//! The JSON the API reads and writes.

use fraud_engine::{Feature, FeatureKind, Model, Prediction, Reason};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// A warning attached to a prediction (an unseen category, say).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WarningDto {
    /// The field concerned.
    pub field: String,
    /// What happened.
    pub message: String,
}

/// `POST /api/predict` response, and one element of a batch response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionDto<'a> {
    /// 1 when `fraud_probability >= threshold`, else 0.
    pub is_fraud: u8,
    /// The model's fraud probability.
    pub fraud_probability: f64,
    /// LOW, MEDIUM or HIGH.
    pub risk_level: &'static str,
    /// The model's id (`metadata.model_id`).
    pub model_version: &'a str,
    /// The decision threshold.
    pub threshold: f64,
    /// The request's `transaction_id`, echoed when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<&'a serde_json::Value>,
    /// Things worth knowing about this input (empty in the common case).
    pub warnings: Vec<WarningDto>,
    /// The strongest contributions toward fraud (only when explanations were
    /// asked for), as the engine gives them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<Reason>>,
    /// Every input feature's contribution (only when explanations were asked
    /// for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contributions: Option<Contributions<'a>>,
    /// The model's mean output: `base_value + sum(contributions) ==
    /// fraud_probability` (only when explanations were asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_value: Option<f64>,
}

/// Per-feature contributions, written as a JSON object keyed by feature name
/// in schema order (an object, so clients look features up by name rather
/// than depend on the schema's order).
#[derive(Debug, Clone, PartialEq)]
pub struct Contributions<'a> {
    /// The model's features, in schema order.
    pub features: &'a [Feature],
    /// One contribution per feature, in the same order.
    pub values: Vec<f64>,
}

impl Serialize for Contributions<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.values.len()))?;
        for (feature, value) in self.features.iter().zip(&self.values) {
            map.serialize_entry(&feature.name, value)?;
        }
        map.end()
    }
}

impl<'a> PredictionDto<'a> {
    /// The response for one prediction.
    pub fn new(
        p: Prediction,
        model_version: &'a str,
        threshold: f64,
        transaction_id: Option<&'a serde_json::Value>,
    ) -> Self {
        PredictionDto {
            is_fraud: u8::from(p.is_fraud),
            fraud_probability: p.fraud_probability,
            risk_level: p.risk_level.as_str(),
            model_version,
            threshold,
            transaction_id,
            warnings: p
                .warnings
                .into_iter()
                .map(|w| WarningDto {
                    field: w.field,
                    message: w.message,
                })
                .collect(),
            reasons: None,
            contributions: None,
            base_value: None,
        }
    }

    /// The response for one explained prediction: the prediction as
    /// [`PredictionDto::new`] gives it, plus reasons, contributions and the
    /// base value.
    pub fn explained(
        e: fraud_engine::Explained,
        features: &'a [Feature],
        model_version: &'a str,
        threshold: f64,
        transaction_id: Option<&'a serde_json::Value>,
    ) -> Self {
        let mut dto = PredictionDto::new(e.prediction, model_version, threshold, transaction_id);
        dto.reasons = Some(e.reasons);
        dto.contributions = Some(Contributions {
            features,
            values: e.explanation.contributions,
        });
        dto.base_value = Some(e.explanation.base_value);
        dto
    }
}

/// `POST /api/predict/batch` response.
#[derive(Debug, Serialize)]
pub struct BatchResponse<'a> {
    /// One prediction per transaction, in request order.
    pub predictions: Vec<PredictionDto<'a>>,
}

/// `GET /health` response.
#[derive(Debug, Serialize)]
pub struct Health {
    /// Always `healthy` while the process answers.
    pub status: &'static str,
    /// Whether a model is loaded.
    pub model_loaded: bool,
    /// Now, RFC 3339 UTC.
    pub timestamp: String,
}

/// `GET /ready` response.
#[derive(Debug, Serialize)]
pub struct Ready {
    /// `ready` or `loading`.
    pub status: &'static str,
    /// The serving model's id, once loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
}

/// One feature of the model's schema, for forms and clients.
#[derive(Debug, Serialize)]
pub struct FeatureInfo {
    /// Field name.
    pub name: String,
    /// `numeric`, `flag` or `categorical`.
    pub kind: &'static str,
    /// Smallest valid value (numeric features with a range).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest valid value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The categories seen in training (categorical features); others score
    /// through the unknown bucket with a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// Global importance: mean absolute SHAP value (probability units) over
    /// sampled training rows, each explained by its out-of-bag trees.
    pub importance: f64,
    /// Mean decrease in impurity (sums to 1 over the features).
    pub impurity_importance: f64,
}

/// The model's input schema.
#[derive(Debug, Serialize)]
pub struct SchemaInfo {
    /// Features in model order.
    pub features: Vec<FeatureInfo>,
    /// The label column it was trained on.
    pub label: String,
}

/// `GET /api/model` response.
#[derive(Debug, Serialize)]
pub struct ModelInfo {
    /// `metadata.model_id`, also each prediction's `model_version`.
    pub model_version: String,
    /// When training finished (RFC 3339).
    pub created: String,
    /// Engine version that trained it.
    pub engine_version: String,
    /// Model file format version.
    pub format_version: u32,
    /// Trees in the forest.
    pub n_trees: usize,
    /// Training rows and frauds among them.
    pub training_rows: u64,
    /// Frauds among the training rows.
    pub training_frauds: u64,
    /// The input schema.
    pub schema: SchemaInfo,
    /// `is_fraud` is `fraud_probability >= threshold`.
    pub threshold: f64,
    /// How the threshold was chosen.
    pub threshold_strategy: String,
    /// Lowest probability rated MEDIUM and HIGH.
    pub risk_bands: fraud_engine::RiskBands,
    /// Out-of-bag evaluation at the threshold (null without OOB rows).
    pub oob_metrics: Option<fraud_engine::Evaluation>,
    /// ROC curve points (false-positive rate, true-positive rate, threshold).
    pub roc_curve: Option<fraud_engine::metrics::Curve>,
    /// Precision-recall curve points (recall, precision, threshold).
    pub pr_curve: Option<fraud_engine::metrics::Curve>,
    /// Training parameters.
    pub params: fraud_engine::TrainParams,
}

impl ModelInfo {
    /// Describes `model`.
    pub fn of(model: &Model) -> Self {
        let meta = model.metadata();
        let features = model
            .schema()
            .features
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let importance = meta.feature_importances.get(i).copied().unwrap_or(0.0);
                let impurity_importance = meta.impurity_importances.get(i).copied().unwrap_or(0.0);
                let (kind, min, max, categories) = match &f.kind {
                    FeatureKind::Numeric { min, max } => ("numeric", *min, *max, None),
                    FeatureKind::Flag => ("flag", None, None, None),
                    FeatureKind::Categorical => {
                        let levels = match model.pipeline().encoders().get(i) {
                            Some(fraud_engine::preprocess::Encoder::Categorical {
                                levels, ..
                            }) => levels.clone(),
                            _ => Vec::new(),
                        };
                        ("categorical", None, None, Some(levels))
                    }
                };
                FeatureInfo {
                    name: f.name.clone(),
                    kind,
                    min,
                    max,
                    categories,
                    importance,
                    impurity_importance,
                }
            })
            .collect();
        let decision = model.decision();
        ModelInfo {
            model_version: meta.model_id.clone(),
            created: meta.created.clone(),
            engine_version: meta.engine_version.clone(),
            format_version: fraud_engine::FORMAT_VERSION,
            n_trees: model.trees().len(),
            training_rows: meta.training_rows,
            training_frauds: meta.training_frauds,
            schema: SchemaInfo {
                features,
                label: model.schema().label.clone(),
            },
            threshold: decision.threshold,
            threshold_strategy: decision.strategy.clone(),
            risk_bands: decision.risk_bands,
            oob_metrics: meta.oob.clone(),
            roc_curve: meta.roc_curve.clone(),
            pr_curve: meta.pr_curve.clone(),
            params: meta.params.clone(),
        }
    }
}

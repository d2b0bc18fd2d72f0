//! The JSON the API writes that is the server's own: health and readiness,
//! and a prediction with the request's `transaction_id` echoed. Predictions
//! and the model description are the engine's output types.

use fraud_engine::PredictionOutput;
use serde::Serialize;

/// `POST /api/predict` response, and one element of a batch response: the
/// engine's prediction, with the request's `transaction_id` when it had one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionDto<'a> {
    /// The engine's one output shape.
    #[serde(flatten)]
    pub output: PredictionOutput<'a>,
    /// The request's `transaction_id`, echoed when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<&'a fraud_engine::json::Json<'a>>,
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
    /// `ready`, `loading`, `history_unavailable` (503, `fail-closed`) or
    /// `degraded` (200, `fail-open`).
    pub status: &'static str,
    /// The serving model's id, once loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// Why the history cannot be written, while it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<String>,
}

//! # fraud-engine
//!
//! Trains random-forest fraud models on tabular transaction data and scores
//! transactions in about a microsecond. Pure library: no async, no FFI, no
//! HTTP, no global state. The server, the C ABI and the Python wheel are thin
//! adapters over it: each builds a [`Table`] or a row of [`Fields`] from its
//! own input, and every data decision (kinds, checks, encoding, scoring,
//! output shapes) is made here, so every front end gives the same answer.
//!
//! Train on a table and score one transaction:
//!
//! ```
//! use fraud_engine::{synth, Trainer, TrainParams};
//!
//! // Labelled data: here generated; `read_csv` or `Dataset::from_table` for yours.
//! let data = synth::generate(5_000, 7);
//! let params = TrainParams { n_trees: 20, ..TrainParams::default() };
//! let model = Trainer::new(params)?.threads(1)?.train(&data)?;
//!
//! // One transaction given by field name (here a JSON object).
//! let tx: serde_json::Map<String, serde_json::Value> = serde_json::from_str(r#"{
//!     "amount": 250.0, "transaction_hour": 14, "merchant_category": "Electronics",
//!     "foreign_transaction": 0, "location_mismatch": 0, "device_trust_score": 75,
//!     "velocity_last_24h": 3, "cardholder_age": 35}"#)?;
//! let prediction = model.predict(&tx)?;
//! assert!((0.0..=1.0).contains(&prediction.fraud_probability));
//!
//! // The JSON every front end answers with.
//! let body = serde_json::to_value(model.output(&prediction))?;
//! assert_eq!(body["model_version"], model.version());
//!
//! // Save and load: the file is checked, never trusted.
//! let bytes = model.to_bytes()?;
//! assert_eq!(fraud_engine::Model::from_bytes(&bytes)?, model);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Explain a prediction, and score many rows from a table:
//!
//! ```
//! use fraud_engine::{synth, train, Rows, Table, TableColumn, TrainParams};
//!
//! let model = train(&synth::generate(3_000, 1), &TrainParams { n_trees: 10, ..TrainParams::default() })?;
//! let tx = [
//!     ("amount", fraud_engine::Value::Number(2500.0)),
//!     ("transaction_hour", fraud_engine::Value::Number(3.0)),
//!     ("merchant_category", fraud_engine::Value::Text("Electronics")),
//!     ("foreign_transaction", fraud_engine::Value::Number(1.0)),
//!     ("location_mismatch", fraud_engine::Value::Number(1.0)),
//!     ("device_trust_score", fraud_engine::Value::Number(12.0)),
//!     ("velocity_last_24h", fraud_engine::Value::Number(9.0)),
//!     ("cardholder_age", fraud_engine::Value::Number(22.0)),
//! ];
//! let explained = model.explain(&tx[..])?;
//! let total: f64 = explained.explanation.contributions.iter().sum();
//! assert!((model.base_value() + total - explained.prediction.fraud_probability).abs() < 1e-9);
//!
//! // A table as any front end builds one: named columns, any extra ignored.
//! let table = synth::table(100, 2);
//! let predictions = model.predict_many(Rows::Table(&table))?;
//! assert_eq!(predictions.len(), 100);
//! # let _ = TableColumn::Numbers(vec![]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod data;
pub mod error;
pub mod explain;
pub mod export;
mod forest;
pub mod format;
pub mod json;
pub mod metrics;
pub mod model;
mod preprocess;
mod rng;
pub mod schema;
pub mod synth;
pub mod train;

pub use data::{
    read_csv, Cell, Column, ColumnRules, Dataset, Loaded, Notice, RejectionLog, Table, TableColumn,
    Value,
};
pub use error::{Error, FieldProblem, Hint, Rejection, Result};
pub use explain::{Explanation, Reason};
pub use format::FORMAT_VERSION;
pub use metrics::{Evaluation, ThresholdStrategy};
pub use model::{
    Decision, Encoded, EvaluationReport, Explained, Explanations, Fields, Metadata, Model,
    ModelSummary, Prediction, PredictionOutput, RiskBands, RiskLevel, Row, Rows,
};
pub use preprocess::Warning;
pub use schema::{transaction_schema, Feature, FeatureKind, Schema};
pub use train::{train, ClassWeight, TrainParams, Trainer};

/// The engine's version (the crate version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Hooks for the benchmark harness, which compares tree walks that the
/// public API does not choose between. Not a stable API.
#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench {
    pub use crate::forest::Walk;
    use crate::{Model, Result, Rows};

    /// Checks encoded rows and fills their missing values, as scoring does.
    pub fn encode_rows(model: &Model, rows: &[f64]) -> Result<Vec<f64>> {
        Ok(model.encode_many(Rows::Encoded(rows))?.values)
    }

    /// One checked, filled row through the chosen walk.
    pub fn predict_with(model: &Model, walk: Walk, row: &[f64]) -> Result<f64> {
        model.check_width(row.len())?;
        Ok(model.forest.predict_with(walk, row))
    }

    /// Checked, filled rows through the chosen batch walk.
    pub fn predict_batch_with(
        model: &Model,
        walk: Walk,
        rows: &[f64],
        out: &mut [f64],
    ) -> Result<()> {
        model.forest.predict_batch_with(walk, rows, out)
    }

    /// Nodes in the flat layout.
    pub fn n_nodes(model: &Model) -> usize {
        model.forest.n_nodes()
    }
}

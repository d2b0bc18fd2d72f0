//! # fraud-engine
//!
//! Trains random-forest fraud models on tabular transaction data and scores
//! transactions in about a microsecond. Pure library: no async, no FFI, no
//! HTTP, no global state. The server, the C ABI and the Python wheel are thin
//! adapters over it, so every front end gives the same answer.
//!
//! ```
//! use fraud_engine::{synth, train, TrainParams, Value};
//!
//! // Train on generated transactions (any labelled tabular data works).
//! let data = synth::generate(5_000, 7);
//! let params = TrainParams { n_trees: 20, ..TrainParams::default() };
//! let model = train(&data, &params, Some(1), None)?;
//!
//! // Score a transaction given by field name (here a JSON object).
//! let tx: serde_json::Map<String, serde_json::Value> = serde_json::from_str(r#"{
//!     "amount": 250.0, "transaction_hour": 14, "merchant_category": "Electronics",
//!     "foreign_transaction": 0, "location_mismatch": 0, "device_trust_score": 75,
//!     "velocity_last_24h": 3, "cardholder_age": 35}"#)?;
//! let prediction = model.predict(&tx)?;
//! assert!((0.0..=1.0).contains(&prediction.fraud_probability));
//!
//! // Save and load: the file is checked, never trusted.
//! let bytes = model.to_bytes();
//! assert_eq!(fraud_engine::Model::from_bytes(&bytes)?, model);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod data;
pub mod error;
pub mod explain;
pub mod export;
pub mod forest;
pub mod format;
pub mod json;
pub mod metrics;
pub mod model;
pub mod preprocess;
mod rng;
pub mod schema;
pub mod synth;
pub mod train;

pub use data::{read_csv, Column, CsvOptions, Dataset, LoadedCsv, Value};
pub use error::{Error, FieldProblem, Rejection, Result};
pub use explain::{Explanation, Reason};
pub use format::FORMAT_VERSION;
pub use metrics::{Evaluation, ThresholdStrategy};
pub use model::{Decision, Explained, Fields, Metadata, Model, Prediction, RiskBands, RiskLevel};
pub use preprocess::Warning;
pub use schema::{transaction_schema, Feature, FeatureKind, Schema};
pub use train::{train, ClassWeight, TrainParams};

/// The engine's version (the crate version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

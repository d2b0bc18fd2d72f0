//! # fraud-engine
//!
//! Trains random-forest fraud models on tabular transaction data and scores
//! transactions in about a microsecond. Pure library: no async, no FFI, no
//! HTTP, no global state. The server, the C ABI and the Python wheel are thin
//! adapters over it: each builds a [`Table`] or a row of [`Fields`] from its
//! own input, and every data decision (kinds, checks, encoding, scoring,
//! output shapes) is made here, so every front end gives the same answer.
//!
//! ## Train
//!
//! From any table (here built by hand; [`read_csv`] reads a file): columns
//! named `id` or `*_id` are left out, kinds are inferred, every rejected
//! value is reported with its row and column.
//!
//! ```
//! use fraud_engine::{synth, ColumnRules, Dataset, Table, TableColumn, Trainer, TrainParams};
//!
//! let mut table = synth::table(5_000, 7); // transaction_id, 8 features, is_fraud
//! table.push("note", TableColumn::Numbers(vec![0.5; 5_000]))?;
//! let loaded = Dataset::from_table(&table, &ColumnRules { drop: vec!["note".into()], ..ColumnRules::default() })?;
//! assert_eq!(loaded.notices[0].column, "transaction_id"); // left out, and why
//! let params = TrainParams { n_trees: 20, ..TrainParams::default() };
//! let model = Trainer::new(params)?.threads(1)?.train(&loaded.dataset)?;
//! assert_eq!(model.n_features(), 8);
//! // Tree size and class weighting were left `auto`: chosen by out-of-bag
//! // PR-AUC among a few candidates, and recorded with the reason.
//! let auto = model.metadata().auto.as_ref().expect("chosen");
//! println!("{}: {}", auto.chosen, auto.reason);
//! # Ok::<(), fraud_engine::Error>(())
//! ```
//!
//! ## Score and explain one transaction
//!
//! By field name ([`Fields`]: a JSON object, a map) or as an [`Encoded`] row;
//! [`Model::output`] is the JSON every front end answers with.
//!
//! ```
//! use fraud_engine::{synth, train, Encoded, TrainParams};
//!
//! let model = train(&synth::generate(5_000, 7), &TrainParams { n_trees: 20, ..TrainParams::default() })?;
//! let tx: serde_json::Map<String, serde_json::Value> = serde_json::from_str(r#"{
//!     "amount": 250.0, "transaction_hour": 14, "merchant_category": "Electronics",
//!     "foreign_transaction": 0, "location_mismatch": 0, "device_trust_score": 75,
//!     "velocity_last_24h": 3, "cardholder_age": 35}"#)?;
//! let prediction = model.predict(&tx)?;
//! let body = serde_json::to_value(model.output(&prediction))?;
//! assert_eq!(body["model_version"], model.version());
//!
//! let code = model.category_code("merchant_category", "Electronics")?.code;
//! let row = [250.0, 14.0, f64::from(code), 0.0, 0.0, 75.0, 3.0, 35.0];
//! assert_eq!(model.predict(&Encoded(&row))?, prediction);
//!
//! let explained = model.explain(&tx)?;
//! let total: f64 = explained.explanation.contributions.iter().sum();
//! assert!((model.base_value() + total - prediction.fraud_probability).abs() < 1e-9);
//!
//! // Save and load: the file is checked, never trusted.
//! let bytes = model.to_bytes()?;
//! assert_eq!(fraud_engine::Model::from_bytes(&bytes)?, model);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Score and explain many rows
//!
//! A [`Rows`] input: a table (the model picks its columns by name), encoded
//! rows, or a dataset; on the rayon pool in scope.
//!
//! ```
//! use fraud_engine::{synth, train, Rows, TrainParams};
//!
//! let model = train(&synth::generate(5_000, 7), &TrainParams { n_trees: 20, ..TrainParams::default() })?;
//! let table = synth::table(1_000, 2);
//! let predictions = model.predict_many(Rows::Table(&table))?;
//! let mut probabilities = vec![0.0; 1_000];
//! model.predict_proba_many(Rows::Table(&table), &mut probabilities)?;
//! assert_eq!(predictions[0].fraud_probability, probabilities[0]);
//! let explained = model.explain_many(Rows::Table(&table))?;
//! assert_eq!(explained.contributions.len(), 1_000 * model.n_features());
//! # Ok::<(), fraud_engine::Error>(())
//! ```

pub mod data;
pub mod drift;
pub mod error;
pub mod explain;
pub mod export;
mod forest;
pub mod format;
pub mod json;
pub mod lifecycle;
pub mod merge;
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
pub use schema::{transaction_schema, Feature, FeatureKind, RangePolicy, Schema};
pub use train::{train, AutoChoice, ClassWeight, Setting, TrainParams, Trainer, TreeSettings};

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

    /// The exact TreeSHAP formulations the benchmark compares (see
    /// `fraud_engine::explain`); all give the same values up to rounding.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Shap {
        /// Each leaf's closed form, O(k + |hot|^2) per leaf (the previous
        /// explanation path).
        PerLeaf,
        /// Per-leaf tables keyed by the hot set, 2^k numbers per leaf
        /// (FastTreeSHAP v2's precomputation).
        LeafTables,
        /// Two passes over each tree's edges with Gauss-Legendre quadrature
        /// (Linear TreeSHAP's and XGBoost's formulation): what the model uses.
        Quadrature,
    }

    /// A model's trees prepared for one formulation.
    pub struct PreparedShap {
        prepared: Prepared,
        scale: f64,
    }

    enum Prepared {
        PerLeaf(Vec<crate::explain::TreePaths>),
        LeafTables(crate::explain::leaf_tables::LeafTables),
        Quadrature(crate::explain::QuadratureForest),
    }

    impl PreparedShap {
        /// Prepares `model`'s trees; `None` when the formulation cannot
        /// take them (leaf tables of paths longer than 12 features).
        pub fn new(model: &Model, shap: Shap) -> Option<Self> {
            let trees = &model.trees;
            let prepared = match shap {
                Shap::PerLeaf => {
                    Prepared::PerLeaf(trees.iter().map(crate::explain::TreePaths::new).collect())
                }
                Shap::LeafTables => {
                    Prepared::LeafTables(crate::explain::leaf_tables::LeafTables::new(trees)?)
                }
                Shap::Quadrature => Prepared::Quadrature(crate::explain::QuadratureForest::new(
                    trees,
                    model.n_features(),
                )),
            };
            Some(PreparedShap {
                prepared,
                scale: 1.0 / trees.len() as f64,
            })
        }

        /// Bytes of precomputed tables (leaf tables only; 0 otherwise).
        pub fn table_bytes(&self) -> usize {
            match &self.prepared {
                Prepared::LeafTables(tables) => tables.table_bytes(),
                _ => 0,
            }
        }

        /// Writes the SHAP values of a checked, filled row (see
        /// [`encode_rows`]) into `phi`, one per feature.
        pub fn shap_values(&self, row: &[f64], phi: &mut [f64]) {
            phi.fill(0.0);
            match &self.prepared {
                Prepared::PerLeaf(paths) => {
                    for tree in paths {
                        tree.add_shap(row, phi, self.scale);
                    }
                }
                Prepared::LeafTables(tables) => tables.add_shap(row, phi, self.scale),
                Prepared::Quadrature(forest) => forest.add_shap(row, phi, self.scale),
            }
        }
    }
}

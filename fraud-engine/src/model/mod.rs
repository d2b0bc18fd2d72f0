//! The user-facing [`Model`]: schema, pipeline, forest, decision layer and
//! metadata in one value, and the few ways to score with it.
//!
//! - one row: [`Model::predict`] and [`Model::explain`], for a transaction
//!   given by field name ([`Fields`]) or as an [`Encoded`] row;
//! - many rows: [`Model::predict_many`], [`Model::predict_proba_many`] and
//!   [`Model::explain_many`], for a [`Rows`] input (a table, encoded rows or
//!   a dataset);
//! - what every front end returns: [`PredictionOutput`] and [`ModelSummary`].

mod batch;
mod decision;
mod metadata;
mod output;
mod score;

pub use batch::{Explanations, RowOutcome, Rows};

pub use decision::{Decision, RiskBands, RiskLevel};
pub use metadata::{FeatureStats, GoldenSet, Metadata};
pub(crate) use metadata::{Importances, OutOfBag, CURVE_POINTS};
pub use output::{
    Contributions, EvaluationReport, FeatureSummary, ModelSummary, PrCurve, PredictionOutput,
    RocCurve, SchemaSummary, TreeArrays, SCORED_COLUMNS,
};
pub use score::{Encoded, Explained, Fields, Prediction, Row, MAX_REASONS};

use crate::error::{Error, Result};
use crate::explain;
use crate::forest::{Forest, Tree};
use crate::preprocess::{Encoder, Pipeline};
use crate::schema::Schema;

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
    /// The trees prepared for explanations, on the first explanation so
    /// models that only score never pay for them.
    pub(crate) shap: std::sync::OnceLock<explain::QuadratureForest>,
    /// The keys request bodies are matched against byte for byte; `None`
    /// when a feature name is written in JSON with an escape.
    pub(crate) body_keys: Option<crate::json::BodyKeys>,
}

impl PartialEq for Model {
    fn eq(&self, other: &Self) -> bool {
        self.schema == other.schema
            && self.pipeline == other.pipeline
            && self.trees == other.trees
            && self.decision == other.decision
            && self.metadata == other.metadata
    }
}

/// A categorical feature's categories and the codes an [`Encoded`] row
/// gives them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CategoryCodes<'m> {
    /// The categories seen in training.
    pub categories: &'m [String],
    /// `codes[i]` is the code of `categories[i]`.
    pub codes: &'m [u32],
    /// The code of the unknown bucket: categories never seen in training,
    /// and missing values.
    pub unknown: u32,
}

/// The code one category scores as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryCode {
    /// The code to put in the feature's slot of an [`Encoded`] row.
    pub code: u32,
    /// Whether the category was seen in training (otherwise `code` is the
    /// unknown bucket's).
    pub known: bool,
}

/// Scores the golden set one row at a time and as a batch: a freshly trained
/// model (no probabilities yet) records what it gives; a loaded one must give
/// exactly what it recorded.
fn check_golden_set(forest: &Forest, golden: &mut GoldenSet, n_features: usize) -> Result<()> {
    let n_rows = golden.rows.len() / n_features.max(1);
    let mut batch = vec![0.0; n_rows];
    forest.predict_batch(&golden.rows, &mut batch)?;
    let single = golden
        .rows
        .chunks_exact(n_features)
        .map(|row| forest.predict(row));
    if golden.probabilities.is_empty() {
        golden.probabilities = single.collect();
    } else {
        for (row, ((got, batched), &expected)) in
            single.zip(&batch).zip(&golden.probabilities).enumerate()
        {
            if got.to_bits() != expected.to_bits() {
                return Err(Error::GoldenSetMismatch { row, expected, got });
            }
            if batched.to_bits() != expected.to_bits() {
                return Err(Error::GoldenSetMismatch {
                    row,
                    expected,
                    got: *batched,
                });
            }
        }
    }
    Ok(())
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
        let n_features = schema.features.len();
        if metadata.feature_importances.len() != n_features
            || metadata.feature_stats.len() != n_features
        {
            return Err(structural(
                "metadata does not match the feature count".into(),
            ));
        }
        metadata.reference.check(n_features).map_err(structural)?;
        let golden = &mut metadata.golden;
        if golden.rows.len() != golden.probabilities.len() * n_features
            && !(golden.probabilities.is_empty() && golden.rows.len() % n_features == 0)
        {
            return Err(structural(
                "the golden set's rows do not match its probabilities".into(),
            ));
        }
        let forest = Forest::from_trees(&trees, n_features).map_err(structural)?;
        metadata.max_depth = forest.max_depth();
        check_golden_set(&forest, &mut metadata.golden, n_features)?;
        // The version is derived from everything else, never trusted from
        // a file: a model whose payload changed is another version.
        metadata.model_id.clear();
        metadata.model_id =
            crate::format::content_id(&schema, &pipeline, &trees, &decision, &metadata)?;
        let base_value =
            trees.iter().map(explain::expected_value).sum::<f64>() / trees.len() as f64;
        let body_keys = crate::json::BodyKeys::new(&schema.features);
        Ok(Model {
            schema,
            pipeline,
            trees,
            decision,
            metadata,
            forest,
            base_value,
            shap: std::sync::OnceLock::new(),
            body_keys,
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

    /// Number of features (the length of an [`Encoded`] row).
    pub fn n_features(&self) -> usize {
        self.schema.features.len()
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// The version every prediction names (`metadata.model_id`).
    pub fn version(&self) -> &str {
        &self.metadata.model_id
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

    /// The explanations' base value: the model's mean output over its training data.
    pub fn base_value(&self) -> f64 {
        self.base_value
    }

    /// The same model with another decision layer (threshold and risk
    /// bands): a new version, whose parent is this one.
    pub fn with_decision(&self, decision: Decision) -> Result<Model> {
        let mut metadata = self.metadata.clone();
        metadata.parent_version = Some(self.metadata.model_id.clone());
        Model::assemble(
            self.schema.clone(),
            self.pipeline.clone(),
            self.trees.clone(),
            decision,
            metadata,
        )
    }

    /// The same model recorded as derived from the version `parent`.
    pub(crate) fn with_parent(self, parent: &str) -> Result<Model> {
        let mut metadata = self.metadata;
        metadata.parent_version = Some(parent.to_owned());
        Model::assemble(
            self.schema,
            self.pipeline,
            self.trees,
            self.decision,
            metadata,
        )
    }

    /// The position and codes of the categorical feature `feature`; an
    /// error names the feature when the model has no such feature or it is
    /// not categorical.
    fn categorical(&self, feature: &str) -> Result<(usize, CategoryCodes<'_>)> {
        let index = self
            .schema
            .index_of(feature)
            .ok_or_else(|| Error::InvalidParams {
                name: "feature",
                reason: format!(
                    "the model has no feature `{feature}` (it reads {})",
                    self.feature_names().join(", ")
                ),
            })?;
        match &self.pipeline.encoders()[index] {
            Encoder::Categorical {
                levels,
                codes,
                unknown,
            } => Ok((
                index,
                CategoryCodes {
                    categories: levels,
                    codes,
                    unknown: *unknown,
                },
            )),
            _ => Err(Error::InvalidParams {
                name: "feature",
                reason: format!("`{feature}` is not categorical: give its value as a number"),
            }),
        }
    }

    /// The categories of the categorical feature `feature` and their codes,
    /// for callers that pass [`Encoded`] rows.
    pub fn category_codes(&self, feature: &str) -> Result<CategoryCodes<'_>> {
        Ok(self.categorical(feature)?.1)
    }

    /// The code `text` scores as for the categorical feature `feature`, and
    /// whether it was seen in training (otherwise the code is the unknown
    /// bucket's, as for a JSON request). Errors as [`Model::category_codes`].
    pub fn category_code(&self, feature: &str, text: &str) -> Result<CategoryCode> {
        let (index, codes) = self.categorical(feature)?;
        let (code, unknown) = self
            .pipeline
            .category_code(index, text)
            .unwrap_or((codes.unknown, true));
        Ok(CategoryCode {
            code,
            known: !unknown,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{synth, train, TrainParams};

    #[test]
    fn a_model_that_scores_its_golden_set_differently_is_refused() {
        let params = TrainParams {
            n_trees: 5,
            ..TrainParams::default()
        };
        let model = train(&synth::generate(3_000, 2), &params).expect("trains");
        let golden = &model.metadata.golden;
        assert_eq!(golden.probabilities.len(), 32);
        assert_eq!(golden.rows.len(), 32 * model.n_features());
        let bytes = model.to_bytes().expect("serializes");
        assert_eq!(Model::from_bytes(&bytes).expect("loads"), model);

        let mut metadata = model.metadata.clone();
        let p = &mut metadata.golden.probabilities[3];
        *p = f64::from_bits(p.to_bits() + 1);
        let tampered = Model::assemble(
            model.schema.clone(),
            model.pipeline.clone(),
            model.trees.clone(),
            model.decision.clone(),
            metadata,
        );
        match tampered {
            Err(Error::GoldenSetMismatch { row: 3, .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}

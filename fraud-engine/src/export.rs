//! Tree export as JSON, so other tools (shap, treelite, notebooks) can read
//! our forests. The arrays follow scikit-learn's `tree_` layout; the format
//! is documented in `docs/EXPLANATIONS.md`.

use serde::Serialize;

use crate::model::{FeatureSummary, Model, TreeArrays};

/// Version of the export layout (2: the arrays are named as in
/// scikit-learn's `tree_` and as Python's `Model.trees()`, feature and
/// threshold -2 at leaves).
pub const EXPORT_VERSION: u32 = 2;

/// The forest as other tools read it: feature names and kinds (with each
/// category's code), the split rule, and per tree the node arrays of
/// [`TreeArrays`]. The model's probability is the mean over trees of the
/// `value` of the leaves a row reaches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TreeExport {
    /// Always `fraud-engine-trees`.
    pub format: &'static str,
    /// [`EXPORT_VERSION`].
    pub version: u32,
    /// The exported model's version.
    pub model_version: String,
    /// How a row walks a tree, in words.
    pub split_rule: &'static str,
    /// How the trees' values make the probability, in words.
    pub output: &'static str,
    /// The explanations' base value.
    pub base_value: f64,
    /// The features, in the order `feature` indexes them.
    pub features: Vec<FeatureSummary>,
    /// The trees.
    pub trees: Vec<TreeArrays>,
}

impl Model {
    /// The forest as documented JSON-ready arrays (see [`TreeExport`]).
    pub fn export_trees(&self) -> TreeExport {
        TreeExport {
            format: "fraud-engine-trees",
            version: EXPORT_VERSION,
            model_version: self.version().to_owned(),
            split_rule:
                "a row goes to children_left when x[feature] <= threshold, else to children_right",
            output: "fraud probability = mean over trees of value[leaf reached]",
            base_value: self.base_value(),
            features: self.summary().schema.features,
            trees: self.tree_arrays(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{synth, train, Rows, TrainParams};

    /// Walking the exported arrays reproduces the model's probabilities.
    #[test]
    fn exported_trees_score_like_the_model() {
        let data = synth::generate(3_000, 4);
        let params = TrainParams {
            n_trees: 5,
            ..TrainParams::default()
        };
        let model = train(&data, &params).expect("trains");
        let export = serde_json::to_value(model.export_trees()).expect("serializes");
        let trees = export["trees"].as_array().expect("trees");
        assert_eq!(trees.len(), 5);
        let probe = synth::generate(50, 9);
        let mut scores = vec![0.0; 50];
        model
            .predict_proba_many(Rows::Dataset(&probe), &mut scores)
            .expect("scores");
        let columns = model.pipeline.transform_columns(&probe);
        for (r, &expected) in scores.iter().enumerate() {
            let row: Vec<f64> = columns.iter().map(|c| c[r]).collect();
            let mut sum = 0.0;
            for tree in trees {
                let arr = |k: &str| tree[k].as_array().expect("array").clone();
                let (left, right, features, thresholds, values) = (
                    arr("children_left"),
                    arr("children_right"),
                    arr("feature"),
                    arr("threshold"),
                    arr("value"),
                );
                let mut i = 0usize;
                while left[i].as_i64() != Some(-1) {
                    let f = features[i].as_u64().expect("feature") as usize;
                    let goes_left = row[f] <= thresholds[i].as_f64().expect("threshold");
                    i = if goes_left { &left[i] } else { &right[i] }
                        .as_u64()
                        .expect("child") as usize;
                }
                assert_eq!(features[i].as_i64(), Some(-2));
                sum += values[i].as_f64().expect("value");
            }
            assert_eq!(sum / trees.len() as f64, expected);
        }
        assert_eq!(export["features"][2]["kind"], "categorical");
        assert_eq!(
            export["features"][2]["categories"]
                .as_array()
                .expect("categories")
                .len(),
            8
        );
    }
}

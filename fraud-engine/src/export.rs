//! Tree export as JSON, so other tools (shap, treelite, notebooks) can read
//! our forests. The layout follows scikit-learn's `tree_` arrays; the format
//! is documented in `docs/TREE_EXPORT.md`.

use serde_json::{json, Value as Json};

use crate::forest::NO_CHILD;
use crate::model::Model;
use crate::preprocess::Encoder;
use crate::schema::FeatureKind;

/// Version of the export layout.
pub const EXPORT_VERSION: u32 = 1;

/// Marks a leaf in `features` and `thresholds`, as scikit-learn's `TREE_UNDEFINED`.
pub const LEAF_UNDEFINED: i64 = -2;

impl Model {
    /// Each feature as JSON: index, name, kind, the valid range of a numeric
    /// feature, and the categories (with their codes) and unknown-bucket code
    /// of a categorical one, in schema order.
    pub fn feature_descriptions(&self) -> Vec<Json> {
        self.schema
            .features
            .iter()
            .zip(self.pipeline.encoders())
            .enumerate()
            .map(|(index, (feature, encoder))| {
                let mut out = json!({ "index": index, "name": feature.name });
                match (&feature.kind, encoder) {
                    (FeatureKind::Numeric { min, max }, _) => {
                        out["kind"] = "numeric".into();
                        out["min"] = json!(min);
                        out["max"] = json!(max);
                    }
                    (FeatureKind::Flag, _) => out["kind"] = "flag".into(),
                    (
                        FeatureKind::Categorical,
                        Encoder::Categorical {
                            levels,
                            codes,
                            unknown,
                        },
                    ) => {
                        out["kind"] = "categorical".into();
                        out["categories"] = levels
                            .iter()
                            .zip(codes)
                            .map(|(name, code)| json!({ "name": name, "code": code }))
                            .collect();
                        out["unknown_code"] = json!(unknown);
                    }
                    (FeatureKind::Categorical, _) => out["kind"] = "categorical".into(),
                }
                out
            })
            .collect()
    }

    /// The forest as JSON: feature names and kinds (with each category's
    /// code), the split rule, and per tree `children_left`, `children_right`
    /// (-1 at leaves), `features`, `thresholds` (-2 at leaves), `values` (fraud
    /// probability at every node) and `node_sample_weight` (training cover).
    /// The model's probability is the mean over trees of the `values` of the
    /// leaves a row reaches.
    pub fn export_trees(&self) -> Json {
        let features = self.feature_descriptions();
        let child = |c: u32| if c == NO_CHILD { -1 } else { i64::from(c) };
        let trees: Vec<Json> = self
            .trees
            .iter()
            .map(|tree| {
                let leaf = |i: usize| tree.is_leaf(i);
                json!({
                    "children_left": tree.left.iter().map(|&c| child(c)).collect::<Vec<_>>(),
                    "children_right": tree.right.iter().map(|&c| child(c)).collect::<Vec<_>>(),
                    "features": (0..tree.len()).map(|i| if leaf(i) { LEAF_UNDEFINED } else { i64::from(tree.feature[i]) }).collect::<Vec<_>>(),
                    "thresholds": (0..tree.len()).map(|i| if leaf(i) { LEAF_UNDEFINED as f64 } else { tree.threshold[i] }).collect::<Vec<_>>(),
                    "values": tree.value,
                    "node_sample_weight": tree.cover,
                })
            })
            .collect();
        json!({
            "format": "fraud-engine-trees",
            "version": EXPORT_VERSION,
            "model_id": self.metadata.model_id,
            "split_rule": "a row goes to children_left when x[feature] <= threshold, else to children_right",
            "output": "fraud probability = mean over trees of values[leaf reached]",
            "base_value": self.base_value,
            "features": features,
            "trees": trees,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{synth, train, TrainParams};

    /// Walking the exported arrays reproduces the model's probabilities.
    #[test]
    fn exported_trees_score_like_the_model() {
        let data = synth::generate(3_000, 4);
        let params = TrainParams {
            n_trees: 5,
            ..TrainParams::default()
        };
        let model = train(&data, &params, Some(1), None).expect("trains");
        let export = model.export_trees();
        let trees = export["trees"].as_array().expect("trees");
        assert_eq!(trees.len(), 5);
        let probe = synth::generate(50, 9);
        let scores = model.predict_dataset(&probe).expect("scores");
        let columns = model.pipeline().transform_columns(&probe);
        for (r, &expected) in scores.iter().enumerate() {
            let row: Vec<f64> = columns.iter().map(|c| c[r]).collect();
            let mut sum = 0.0;
            for tree in trees {
                let arr = |k: &str| tree[k].as_array().expect("array").clone();
                let (left, right, features, thresholds, values) = (
                    arr("children_left"),
                    arr("children_right"),
                    arr("features"),
                    arr("thresholds"),
                    arr("values"),
                );
                let mut i = 0usize;
                while left[i].as_i64() != Some(-1) {
                    let f = features[i].as_u64().expect("feature") as usize;
                    let goes_left = row[f] <= thresholds[i].as_f64().expect("threshold");
                    i = if goes_left { &left[i] } else { &right[i] }
                        .as_u64()
                        .expect("child") as usize;
                }
                sum += values[i].as_f64().expect("value");
            }
            assert_eq!(sum / trees.len() as f64, expected);
        }
        assert_eq!(export["features"][2]["kind"], "categorical");
        assert!(
            export["features"][2]["categories"]
                .as_array()
                .expect("categories")
                .len()
                == 8
        );
    }
}

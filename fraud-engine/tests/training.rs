//! Training behaviour: it learns, it is deterministic, it respects its limits.

mod common;

use fraud_engine::{metrics, synth, train, ClassWeight, Model, Rows, TrainParams, Trainer};

fn trained(rows: usize, params: &TrainParams, threads: usize) -> Model {
    Trainer::new(params.clone())
        .and_then(|t| t.threads(threads))
        .and_then(|t| t.train(&synth::generate(rows, 3)))
        .expect("trains")
}

#[test]
fn same_seed_same_model_on_any_number_of_threads() {
    let params = TrainParams {
        n_trees: 24,
        ..TrainParams::default()
    };
    let one = trained(20_000, &params, 1);
    let two = trained(20_000, &params, 2);
    let three = trained(20_000, &params, 3);
    for other in [&two, &three] {
        assert_eq!(one.tree_arrays(), other.tree_arrays());
        assert_eq!(one.decision(), other.decision());
        assert_eq!(one.metadata().oob, other.metadata().oob);
        assert_eq!(
            one.metadata().feature_importances,
            other.metadata().feature_importances
        );
    }
    let reseeded = trained(20_000, &TrainParams { seed: 9, ..params }, 2);
    assert_ne!(one.tree_arrays(), reseeded.tree_arrays());
}

#[test]
fn learns_signal_that_generalises() {
    let model = trained(
        30_000,
        &TrainParams {
            n_trees: 50,
            ..TrainParams::default()
        },
        2,
    );
    let holdout = synth::generate(30_000, 99);
    let evaluation = model.evaluate(&holdout).expect("evaluates");
    let auc = evaluation.roc_auc.expect("both classes");
    assert!(auc > 0.75, "held-out ROC-AUC {auc}");
    let oob = model.metadata().oob.as_ref().expect("out-of-bag metrics");
    let oob_auc = oob.roc_auc.expect("both classes");
    assert!(
        (oob_auc - auc).abs() < 0.05,
        "OOB {oob_auc} vs held-out {auc}"
    );
    let meta = model.metadata();
    let impurity: f64 = meta.impurity_importances.iter().sum();
    assert!((impurity - 1.0).abs() < 1e-9);
    // The generator lets device trust and a location mismatch move the risk
    // for every transaction, the cardholder's age only past 75; out-of-bag
    // SHAP must rank them so.
    let shap = &meta.feature_importances;
    let trust = model
        .schema()
        .index_of("device_trust_score")
        .expect("feature");
    let age = model.schema().index_of("cardholder_age").expect("feature");
    assert!(shap.iter().all(|&v| v >= 0.0));
    let mismatch = model
        .schema()
        .index_of("location_mismatch")
        .expect("feature");
    assert!(
        shap[trust] > shap[age] && shap[mismatch] > shap[age],
        "{shap:?}"
    );
}

#[test]
fn limits_are_respected() {
    let params = TrainParams {
        n_trees: 5,
        max_depth: 3.into(),
        min_samples_leaf: 50.into(),
        ..TrainParams::default()
    };
    let model = trained(10_000, &params, 1);
    assert!(model.metadata().max_depth <= 3);
    for tree in model.tree_arrays() {
        for i in 0..tree.value.len() {
            if tree.children_left[i] == -1 && tree.cover[i] > 0.0 {
                assert!(tree.cover[i] >= 50.0, "leaf cover {}", tree.cover[i]);
            }
        }
    }
}

#[test]
fn balanced_class_weight_raises_fraud_probabilities() {
    let base = TrainParams {
        n_trees: 20,
        ..TrainParams::default()
    };
    let plain = trained(20_000, &base, 2);
    let balanced = trained(
        20_000,
        &TrainParams {
            class_weight: ClassWeight::Balanced.into(),
            ..base
        },
        2,
    );
    let data = synth::generate(5_000, 5);
    let mean = |m: &Model| {
        let mut scores = vec![0.0; 5_000];
        m.predict_proba_many(Rows::Dataset(&data), &mut scores)
            .expect("scores");
        scores.iter().sum::<f64>() / 5_000.0
    };
    assert!(mean(&balanced) > 4.0 * mean(&plain));
    // Root value with balanced weights is one half by construction.
    assert!((balanced.tree_arrays()[0].value[0] - 0.5).abs() < 1e-9);
}

#[test]
fn threshold_strategies_apply_to_out_of_bag_scores() {
    let params = TrainParams {
        n_trees: 20,
        threshold_strategy: metrics::ThresholdStrategy::TargetRecall(0.8),
        ..TrainParams::default()
    };
    let model = trained(20_000, &params, 2);
    let oob = model.metadata().oob.as_ref().expect("oob");
    assert!(oob.recall >= 0.8, "recall {}", oob.recall);
    assert_eq!(model.decision().risk_bands.high, model.threshold());
}

#[test]
fn bad_parameters_and_data_are_typed_errors() {
    let data = synth::generate(1_000, 1);
    for params in [
        TrainParams {
            n_trees: 0,
            ..TrainParams::default()
        },
        TrainParams {
            max_depth: 0.into(),
            ..TrainParams::default()
        },
        TrainParams {
            min_samples_leaf: 0.into(),
            ..TrainParams::default()
        },
        TrainParams {
            max_bins: 1,
            ..TrainParams::default()
        },
    ] {
        let err = train(&data, &params).expect_err("rejected");
        assert!(
            matches!(err, fraud_engine::Error::InvalidParams { .. }),
            "{err}"
        );
    }
    assert!(Trainer::new(TrainParams::default())
        .and_then(|t| t.threads(0))
        .is_err());
    let unlabeled =
        fraud_engine::Dataset::new(data.schema().clone(), data.columns().to_vec(), None)
            .expect("dataset");
    assert!(train(&unlabeled, &TrainParams::default()).is_err());
    let all_legit = fraud_engine::Dataset::new(
        data.schema().clone(),
        data.columns().to_vec(),
        Some(vec![0; 1_000]),
    )
    .expect("dataset");
    let err = train(&all_legit, &TrainParams::default()).expect_err("one class");
    assert!(err.to_string().contains("both classes"), "{err}");
}

/// A model trained on generated rows whose labels carry `noise` (see
/// `synth::transactions_with_noise`).
fn trained_with_noise(rows: usize, noise: f64, params: &TrainParams) -> Model {
    let data = synth::generate_with_noise(rows, 3, noise).expect("a valid noise level");
    Trainer::new(params.clone())
        .and_then(|t| t.threads(2))
        .and_then(|t| t.train(&data))
        .expect("trains")
}

#[test]
fn auto_is_the_default_and_the_model_records_its_choice() {
    let params = TrainParams {
        n_trees: 20,
        ..TrainParams::default()
    };
    assert!(params.max_depth.is_auto());
    assert!(params.min_samples_leaf.is_auto());
    assert!(params.class_weight.is_auto());
    let model = trained(8_000, &params, 2);
    let auto = model
        .metadata()
        .auto
        .clone()
        .expect("the choice is recorded");
    assert!(auto.candidates.len() >= 2, "{auto:?}");
    assert_eq!(auto.trees_per_candidate, 20);
    let chosen = auto
        .candidates
        .iter()
        .find(|c| c.settings() == auto.chosen)
        .expect("the choice is one of the candidates");
    let best = chosen.oob_pr_auc.expect("out-of-bag PR-AUC");
    assert!(auto.candidates.iter().all(|c| c.oob_pr_auc <= Some(best)));
    assert!(auto.reason.contains("out-of-bag PR-AUC"), "{}", auto.reason);
    assert!(model.metadata().max_depth as usize <= auto.chosen.max_depth);
    // The parameters are kept as given; the choice beside them.
    assert_eq!(model.metadata().params, params);

    let loaded = Model::from_bytes(&model.to_bytes().expect("saves")).expect("loads");
    assert_eq!(loaded.metadata().auto.as_ref(), Some(&auto));
    let summary = serde_json::to_value(loaded.summary()).expect("JSON");
    assert_eq!(summary["params"]["max_depth"], "auto");
    assert_eq!(summary["params"]["min_samples_leaf"], "auto");
    assert_eq!(
        summary["auto"]["chosen"]["max_depth"],
        auto.chosen.max_depth
    );
    assert_eq!(
        summary["auto"]["candidates"].as_array().map(Vec::len),
        Some(auto.candidates.len())
    );
}

#[test]
fn auto_chooses_the_same_on_any_number_of_threads() {
    let params = TrainParams {
        n_trees: 16,
        ..TrainParams::default()
    };
    let one = trained(8_000, &params, 1);
    for threads in [2, 3] {
        let other = trained(8_000, &params, threads);
        assert_eq!(one.metadata().auto, other.metadata().auto);
        assert_eq!(one.tree_arrays(), other.tree_arrays());
        assert_eq!(one.metadata().oob, other.metadata().oob);
    }
}

#[test]
fn auto_grows_the_forest_the_chosen_values_give() {
    let params = TrainParams {
        n_trees: 16,
        ..TrainParams::default()
    };
    let auto = trained(8_000, &params, 2);
    let chosen = auto.metadata().auto.as_ref().expect("auto").chosen;
    let explicit = trained(8_000, &params.clone().with_settings(chosen), 2);
    assert_eq!(explicit.metadata().auto, None);
    assert_eq!(auto.tree_arrays(), explicit.tree_arrays());
    assert_eq!(auto.metadata().oob, explicit.metadata().oob);
    assert_eq!(auto.decision(), explicit.decision());
    assert_eq!(
        auto.metadata().feature_importances,
        explicit.metadata().feature_importances
    );
}

#[test]
fn given_values_override_auto() {
    let depth = TrainParams {
        n_trees: 12,
        max_depth: 5.into(),
        ..TrainParams::default()
    };
    let model = trained(6_000, &depth, 2);
    let auto = model
        .metadata()
        .auto
        .as_ref()
        .expect("leaf and weights are auto");
    assert!(auto.candidates.iter().all(|c| c.max_depth == 5), "{auto:?}");
    assert_eq!(auto.chosen.max_depth, 5);
    assert!(model.metadata().max_depth <= 5);

    let weight = TrainParams {
        n_trees: 12,
        class_weight: ClassWeight::None.into(),
        ..TrainParams::default()
    };
    let auto = trained(6_000, &weight, 2)
        .metadata()
        .auto
        .clone()
        .expect("auto");
    assert!(auto
        .candidates
        .iter()
        .all(|c| c.class_weight == ClassWeight::None));

    let all = TrainParams {
        n_trees: 12,
        max_depth: 6.into(),
        min_samples_leaf: 10.into(),
        class_weight: ClassWeight::None.into(),
        ..TrainParams::default()
    };
    let model = trained(6_000, &all, 2);
    assert_eq!(model.metadata().auto, None);
    assert!(model.metadata().max_depth <= 6);
}

#[test]
fn auto_grows_finer_trees_on_clean_labels_than_on_noisy_ones() {
    let params = TrainParams {
        n_trees: 40,
        ..TrainParams::default()
    };
    let chosen = |noise| {
        trained_with_noise(12_000, noise, &params)
            .metadata()
            .auto
            .as_ref()
            .expect("auto")
            .chosen
    };
    let (clean, noisy) = (chosen(0.0), chosen(2.0));
    assert!(
        clean.min_samples_leaf < noisy.min_samples_leaf && clean.max_depth > noisy.max_depth,
        "clean {clean:?}, noisy {noisy:?}"
    );
}

#[test]
fn balanced_splits_keep_plain_leaf_values() {
    let params = TrainParams {
        n_trees: 4,
        max_depth: 6.into(),
        min_samples_leaf: 20.into(),
        class_weight: ClassWeight::BalancedSplits.into(),
        ..TrainParams::default()
    };
    let model = trained(10_000, &params, 1);
    // The root's value is its bootstrap sample's fraud fraction, as without
    // weights, not the one half balanced leaf weights give.
    let root = model.tree_arrays()[0].value[0];
    assert!(root > 0.0 && root < 0.05, "root value {root}");
}

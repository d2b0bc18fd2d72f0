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
        max_depth: 3,
        min_samples_leaf: 50,
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
            class_weight: ClassWeight::Balanced,
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
            max_depth: 0,
            ..TrainParams::default()
        },
        TrainParams {
            min_samples_leaf: 0,
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

/// Small integer-valued data (few distinct values, so the bins and their
/// thresholds do not depend on how often each value occurs).
fn small_table(rows: usize, repeat_frauds: usize) -> fraud_engine::Table {
    use fraud_engine::{Table, TableColumn};
    let mut a = Vec::new();
    let mut b = Vec::new();
    let mut y = Vec::new();
    for r in 0..rows {
        let (x1, x2) = ((r * 7 % 13) as f64, (r * 5 % 11) as f64);
        let fraud = (x1 > 8.0 && x2 < 6.0) || r % 17 == 0;
        for _ in 0..if fraud { repeat_frauds } else { 1 } {
            a.push(x1);
            b.push(x2);
            y.push(f64::from(u8::from(fraud)));
        }
    }
    Table::from_columns(
        "small",
        [
            ("a".to_string(), TableColumn::Numbers(a)),
            ("b".to_string(), TableColumn::Numbers(b)),
            ("is_fraud".to_string(), TableColumn::Numbers(y)),
        ],
    )
    .expect("table")
}

fn dataset(table: &fraud_engine::Table) -> fraud_engine::Dataset {
    fraud_engine::Dataset::from_table(table, &fraud_engine::ColumnRules::default())
        .expect("reads")
        .dataset
}

#[test]
fn unit_sample_weights_train_the_unweighted_model() {
    let params = TrainParams {
        n_trees: 12,
        ..TrainParams::default()
    };
    let data = synth::generate(6_000, 5);
    let plain = train(&data, &params).expect("trains");
    let ones = data
        .clone()
        .with_weights(vec![1.0; 6_000])
        .expect("weights");
    let weighted = train(&ones, &params).expect("trains");
    assert_eq!(plain.tree_arrays(), weighted.tree_arrays());
    assert_eq!(plain.metadata().oob, weighted.metadata().oob);
    assert_eq!(plain.decision(), weighted.decision());
}

#[test]
fn a_weight_of_three_counts_as_three_copies_of_the_row() {
    // Without bootstrap, every row is in every tree: weighing the frauds 3
    // must grow the trees that three copies of each fraud grow.
    let params = TrainParams {
        n_trees: 3,
        bootstrap: false,
        min_samples_leaf: 1,
        max_features: Some(2),
        ..TrainParams::default()
    };
    let repeated = train(&dataset(&small_table(400, 3)), &params).expect("trains");
    let single = dataset(&small_table(400, 1));
    let weights = single
        .labels()
        .expect("labels")
        .iter()
        .map(|&y| if y == 1 { 3.0 } else { 1.0 })
        .collect();
    let weighted = train(
        &single.clone().with_weights(weights).expect("weights"),
        &params,
    )
    .expect("trains");
    let by_class = train(
        &single,
        &TrainParams {
            class_weight: ClassWeight::Weights {
                legitimate: 1.0,
                fraud: 3.0,
            },
            ..params
        },
    )
    .expect("trains");
    let probabilities = |m: &Model| {
        let mut out = vec![0.0; single.n_rows()];
        m.predict_proba_many(Rows::Dataset(&single), &mut out)
            .expect("scores");
        out
    };
    assert_eq!(probabilities(&weighted), probabilities(&repeated));
    assert_eq!(probabilities(&by_class), probabilities(&repeated));
    // Not vacuous: the weights changed the model.
    let plain = train(&single, &params).expect("trains");
    assert_ne!(probabilities(&plain), probabilities(&weighted));
}

#[test]
fn out_of_bag_metrics_weigh_rows() {
    let params = TrainParams {
        n_trees: 10,
        ..TrainParams::default()
    };
    let data = synth::generate(5_000, 8);
    let plain = train(&data, &params).expect("trains");
    // Legitimate rows weigh almost nothing: the weighted out-of-bag metrics
    // see nearly only frauds, so precision at the threshold is near 1.
    let weights = data
        .labels()
        .expect("labels")
        .iter()
        .map(|&y| if y == 1 { 1.0 } else { 1e-6 })
        .collect();
    let weighted = train(&data.with_weights(weights).expect("weights"), &params).expect("trains");
    let (plain_oob, weighted_oob) = (
        plain.metadata().oob.clone().expect("oob"),
        weighted.metadata().oob.clone().expect("oob"),
    );
    assert!(weighted_oob.precision > 0.99, "{weighted_oob:?}");
    assert!(weighted_oob.precision > plain_oob.precision);
    assert_eq!(weighted_oob.rows, plain_oob.rows);
}

#[test]
fn bad_weights_are_named() {
    let data = synth::generate(500, 2);
    for (weights, says) in [
        (vec![1.0; 499], "499 weights for 500 rows"),
        (
            [vec![1.0; 10], vec![-1.0], vec![1.0; 489]].concat(),
            "row 11 is -1",
        ),
        (vec![f64::NAN; 500], "row 1 is NaN"),
        (vec![0.0; 500], "every weight is zero"),
    ] {
        let err = data.clone().with_weights(weights).expect_err(says);
        assert!(err.to_string().contains(says), "{err}");
        assert!(err.to_string().contains("sample_weight"), "{err}");
    }
    for bad in ["1:-2", "0:0", "x", "1:inf"] {
        let err = bad.parse::<ClassWeight>().expect_err(bad);
        assert!(err.to_string().contains("class_weight"), "{err}");
    }
    assert_eq!(
        "1:20".parse::<ClassWeight>().expect("parses"),
        ClassWeight::Weights {
            legitimate: 1.0,
            fraud: 20.0
        }
    );
}

//! TreeSHAP explanations: local accuracy, agreement with a brute-force
//! Shapley computation, and readable reasons.

mod common;

use fraud_engine::model::TreeArrays;
use fraud_engine::{synth, Encoded, Model, Value};

/// A dataset row as named fields, in the model's order.
fn named<'a>(model: &'a Model, values: &[Value<'a>]) -> Vec<(&'a str, Value<'a>)> {
    model
        .feature_names()
        .into_iter()
        .zip(values.iter().copied())
        .collect()
}

#[test]
fn contributions_add_up_to_the_prediction() {
    let model = common::small_model(10_000, 40, 1);
    let data = synth::generate(300, 11);
    let mut values = Vec::new();
    for row in 0..data.n_rows() {
        data.row_values(row, &mut values);
        let fields = named(&model, &values);
        let explained = model.explain(&fields[..]).expect("explains");
        let e = &explained.explanation;
        let total = e.base_value + e.contributions.iter().sum::<f64>();
        assert!(
            (total - e.fraud_probability).abs() < 1e-9,
            "row {row}: {total} vs {}",
            e.fraud_probability
        );
        assert_eq!(
            e.fraud_probability,
            model
                .predict(&fields[..])
                .expect("scores")
                .fraud_probability
        );
        assert_eq!(
            explained.prediction,
            model.predict(&fields[..]).expect("scores")
        );
        for reason in &explained.reasons {
            assert!(reason.contribution > 0.0);
            assert!(reason.text.ends_with("raised the risk"), "{}", reason.text);
        }
        let positive = e.contributions.iter().filter(|&&c| c > 0.0).count();
        assert_eq!(
            explained.reasons.len(),
            positive.min(fraud_engine::model::MAX_REASONS)
        );
    }
}

/// Exact Shapley values by enumerating feature subsets, with the same
/// path-dependent conditional expectation TreeSHAP uses.
fn brute_force(tree: &TreeArrays, row: &[f64], n_features: usize) -> Vec<f64> {
    fn expect(tree: &TreeArrays, node: usize, row: &[f64], known: u32) -> f64 {
        if tree.children_left[node] == -1 {
            return tree.value[node];
        }
        let f = tree.feature[node] as usize;
        let (l, r) = (
            tree.children_left[node] as usize,
            tree.children_right[node] as usize,
        );
        if known & (1 << f) != 0 {
            let next = if row[f] <= tree.threshold[node] { l } else { r };
            expect(tree, next, row, known)
        } else {
            let c = tree.cover[node];
            (tree.cover[l] * expect(tree, l, row, known)
                + tree.cover[r] * expect(tree, r, row, known))
                / c
        }
    }
    let fact = |k: usize| (1..=k).map(|v| v as f64).product::<f64>();
    let mut phi = vec![0.0; n_features];
    for (i, phi_i) in phi.iter_mut().enumerate() {
        for set in 0u32..(1 << n_features) {
            if set & (1 << i) != 0 {
                continue;
            }
            let s = set.count_ones() as usize;
            let weight = fact(s) * fact(n_features - s - 1) / fact(n_features);
            *phi_i += weight * (expect(tree, 0, row, set | (1 << i)) - expect(tree, 0, row, set));
        }
    }
    phi
}

#[test]
fn matches_brute_force_shapley_values() {
    let model = common::small_model(8_000, 6, 3);
    let data = synth::generate(40, 12);
    let n = model.schema().features.len();
    let mut values: Vec<Value<'_>> = Vec::new();
    for row in 0..data.n_rows() {
        data.row_values(row, &mut values);
        let explained = model
            .explain(&named(&model, &values)[..])
            .expect("explains");
        // Encode the row through the public codes, for the reference walk
        // (generated rows have no missing values).
        let encoded: Vec<f64> = model
            .feature_names()
            .into_iter()
            .zip(&values)
            .map(|(name, value)| match value {
                Value::Number(x) => *x,
                Value::Text(t) => {
                    f64::from(model.category_code(name, t).expect("categorical").code)
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            model
                .explain(&Encoded(&encoded))
                .expect("explains")
                .explanation,
            explained.explanation
        );
        let trees = model.tree_arrays();
        let mut expected = vec![0.0; n];
        for tree in &trees {
            for (e, v) in expected.iter_mut().zip(brute_force(tree, &encoded, n)) {
                *e += v / trees.len() as f64;
            }
        }
        for (got, want) in explained.explanation.contributions.iter().zip(&expected) {
            assert!((got - want).abs() < 1e-12, "row {row}: {got} vs {want}");
        }
    }
}

#[test]
fn reasons_name_the_risky_value() {
    let model = common::small_model(20_000, 40, 4);
    let tx: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        r#"{"amount":2500.0,"transaction_hour":3,"merchant_category":"Electronics","foreign_transaction":1,
            "location_mismatch":1,"device_trust_score":12,"velocity_last_24h":9,"cardholder_age":35}"#,
    )
    .expect("json");
    let explained = model.explain(&tx).expect("explains");
    assert!(explained.prediction.fraud_probability > model.base_value());
    assert!(!explained.reasons.is_empty());
    let names: Vec<&str> = explained
        .reasons
        .iter()
        .map(|r| r.feature.as_str())
        .collect();
    // Each reason quotes the value the transaction had.
    for r in &explained.reasons {
        match (&r.value, &tx[&r.feature]) {
            (serde_json::Value::String(got), serde_json::Value::String(sent)) => {
                assert_eq!(got, sent)
            }
            (got, sent) => assert_eq!(got.as_f64(), sent.as_f64(), "{}", r.feature),
        }
    }
    assert!(
        names.iter().any(|n| [
            "device_trust_score",
            "location_mismatch",
            "foreign_transaction",
            "transaction_hour",
            "velocity_last_24h"
        ]
        .contains(n)),
        "{names:?}"
    );
    let trust = explained
        .reasons
        .iter()
        .find(|r| r.feature == "device_trust_score");
    if let Some(r) = trust {
        assert_eq!(r.value, serde_json::json!(12));
        assert_eq!(r.text, "device_trust_score = 12 raised the risk");
    }
    let category = explained
        .reasons
        .iter()
        .find(|r| r.feature == "merchant_category");
    if let Some(r) = category {
        assert_eq!(r.value, serde_json::json!("Electronics"));
    }
}

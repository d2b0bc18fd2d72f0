//! Retraining on labelled transactions given as JSON objects, as a
//! prediction history stores them.

mod common;

use fraud_engine::json::{table_of_objects, Object};
use fraud_engine::{synth, Error};

/// Generated transactions as the JSON objects a history stores, with their
/// labels as `is_fraud`.
fn stored(rows: usize, seed: u64) -> Vec<String> {
    synth::transactions(rows, seed)
        .map(|t| {
            format!(
                r#"{{"amount": {}, "transaction_hour": {}, "merchant_category": "{}", "foreign_transaction": {}, "location_mismatch": {}, "device_trust_score": {}, "velocity_last_24h": {}, "cardholder_age": {}, "is_fraud": {}}}"#,
                t.amount,
                t.transaction_hour,
                t.merchant_category,
                t.foreign_transaction,
                t.location_mismatch,
                t.device_trust_score,
                t.velocity_last_24h,
                t.cardholder_age,
                u8::from(t.is_fraud)
            )
        })
        .collect()
}

#[test]
fn retraining_keeps_the_schema_records_the_parent_and_holds_out_the_newest_rows() {
    let base = common::small_model(3_000, 10, 1);
    let texts = stored(2_000, 2);
    let objects: Vec<Object> = texts
        .iter()
        .map(|t| Object::parse(t.as_bytes()).expect("parses"))
        .collect();
    let mut names: Vec<&str> = base.feature_names();
    names.push("is_fraud");
    let table = table_of_objects("history", &names, &objects).expect("table");

    let retrained = base.retrain(&table, 0.25, Some(1)).expect("retrains");
    let model = &retrained.model;
    assert_eq!(
        model.metadata().parent_version.as_deref(),
        Some(base.version())
    );
    assert_eq!(model.feature_names(), base.feature_names());
    assert_eq!(model.metadata().params, base.metadata().params);
    assert_eq!(retrained.training_rows, 1_500);
    assert_eq!(model.metadata().training_rows, 1_500);
    assert_eq!(retrained.base_holdout.rows, 500);
    assert_eq!(retrained.new_holdout.rows, 500);
    assert_eq!(retrained.base_holdout.frauds, retrained.new_holdout.frauds);
    assert_ne!(model.version(), base.version());

    // The same rows give the same model: retraining is reproducible. The
    // version hashes the creation time too (to the second), so two runs
    // either side of a second's end differ in it and in nothing else.
    let again = base.retrain(&table, 0.25, Some(1)).expect("retrains");
    let (trees, trees_again) = (model.export_trees(), again.model.export_trees());
    assert_eq!(trees_again.trees, trees.trees);
    assert_eq!(trees_again.features, trees.features);
    assert_eq!(again.model.decision(), model.decision());
    let without_time = |m: &fraud_engine::Model| {
        let mut metadata = m.metadata().clone();
        metadata.created.clear();
        metadata.model_id.clear();
        metadata
    };
    assert_eq!(without_time(&again.model), without_time(model));
    if again.model.metadata().created == model.metadata().created {
        assert_eq!(again.model.version(), model.version());
    }
}

#[test]
fn retraining_refuses_rows_without_labels_or_with_bad_values() {
    let base = common::small_model(3_000, 10, 1);
    let objects = [
        Object::parse(br#"{"amount": 10, "transaction_hour": 3}"#).expect("parses"),
        Object::parse(br#"{"amount": "lots", "transaction_hour": 3, "is_fraud": 1}"#)
            .expect("parses"),
    ];
    let mut names: Vec<&str> = base.feature_names();
    names.push("is_fraud");
    let table = table_of_objects("history", &names, &objects).expect("table");
    match base.retrain(&table, 0.2, Some(1)) {
        Err(Error::InvalidData { .. }) => {}
        other => panic!("{other:?}"),
    }
    let err = base
        .retrain(&table, 1.5, Some(1))
        .expect_err("bad fraction");
    assert!(err.to_string().contains("between 0 and 1"), "{err}");
}

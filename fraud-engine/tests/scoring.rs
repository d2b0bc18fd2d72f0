//! Scoring through every entry point gives one answer, and bad input is named.

mod common;

use fraud_engine::{synth, Encoded, Error, Model, RiskLevel, Rows, Value};

fn documented_request() -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(
        r#"{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,
            "location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#,
    )
    .expect("valid JSON")
}

#[test]
fn every_entry_point_agrees() {
    let model = common::small_model(10_000, 30, 1);
    let data = synth::generate(2_000, 8);
    let mut batch = vec![0.0; data.n_rows()];
    model
        .predict_proba_many(Rows::Dataset(&data), &mut batch)
        .expect("batch");
    let mut values = Vec::new();
    let n = model.schema().features.len();
    let names = model.feature_names();
    let mut encoded_rows = Vec::new();
    for (row, &expected) in batch.iter().enumerate() {
        data.row_values(row, &mut values);
        let fields: Vec<(&str, Value<'_>)> =
            names.iter().copied().zip(values.iter().copied()).collect();
        let by_fields = model.predict(&fields[..]).expect("row").fraud_probability;
        assert_eq!(by_fields, expected, "row {row}");
        let encoded: Vec<f64> = values
            .iter()
            .enumerate()
            .map(|(i, v)| match *v {
                Value::Number(x) => x,
                Value::Text(t) => f64::from(
                    model
                        .category_code(&model.schema().features[i].name, t)
                        .expect("categorical")
                        .code,
                ),
                _ => f64::NAN,
            })
            .collect();
        assert_eq!(
            model
                .predict(&Encoded(&encoded))
                .expect("encoded")
                .fraud_probability,
            expected
        );
        encoded_rows.extend(encoded);
    }
    let mut out = vec![0.0; data.n_rows()];
    model
        .predict_proba_many(Rows::Encoded(&encoded_rows), &mut out)
        .expect("encoded batch");
    assert_eq!(out, batch);
    assert_eq!(encoded_rows.len(), n * data.n_rows());
    // The same rows as a table (its extra id and label columns ignored).
    let table = synth::table(2_000, 8);
    let predictions = model.predict_many(Rows::Table(&table)).expect("table");
    let from_table: Vec<f64> = predictions.iter().map(|p| p.fraud_probability).collect();
    assert_eq!(from_table, batch);
    // An output of the wrong length is an error, not a partial result.
    let mut short = vec![0.0; data.n_rows() - 1];
    assert!(model
        .predict_proba_many(Rows::Encoded(&encoded_rows), &mut short)
        .is_err());
}

#[test]
fn documented_request_scores_and_decides() {
    let model = common::small_model(10_000, 20, 2);
    let p = model.predict(&documented_request()).expect("scores");
    assert!((0.0..=1.0).contains(&p.fraud_probability));
    assert_eq!(p.is_fraud, p.fraud_probability >= model.threshold());
    assert_eq!(p.is_fraud, model.decision().flags(p.fraud_probability));
    // The threshold itself flags: the rule is "at or above".
    let threshold = model.threshold();
    assert!(model.decision().flags(threshold));
    assert!(!model
        .decision()
        .flags(threshold - f64::EPSILON.max(threshold * 1e-12)));
    let bands = model.decision().risk_bands;
    let expected = if p.fraud_probability >= bands.high {
        RiskLevel::High
    } else if p.fraud_probability >= bands.medium {
        RiskLevel::Medium
    } else {
        RiskLevel::Low
    };
    assert_eq!(p.risk_level, expected);
    assert!(p.warnings.is_empty());
}

#[test]
fn unknown_category_scores_with_a_warning() {
    let model = common::small_model(10_000, 20, 2);
    let mut tx = documented_request();
    tx.insert("merchant_category".into(), "Spaceships".into());
    let p = model.predict(&tx).expect("scores");
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].field, "merchant_category");
}

#[test]
fn every_bad_field_is_named() {
    let model = common::small_model(5_000, 10, 2);
    let mut tx = documented_request();
    tx.remove("amount");
    tx.insert("transaction_hour".into(), 25.into());
    tx.insert("device_trust_score".into(), "high".into());
    tx.insert("foreign_transaction".into(), 3.into());
    tx.insert("merchant_category".into(), serde_json::json!([1, 2]));
    let Err(Error::InvalidFields { problems }) = model.predict(&tx) else {
        panic!("expected InvalidFields")
    };
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "amount",
            "transaction_hour",
            "merchant_category",
            "foreign_transaction",
            "device_trust_score"
        ]
    );
    assert_eq!(problems[0].reason, "missing field");
    assert!(
        problems[1].reason.contains("must be between 0 and 23"),
        "{}",
        problems[1].reason
    );

    assert!(model.predict(&Encoded(&[1.0; 3])).is_err());
    let mut row = vec![10.0, 3.0, 99.0, 0.0, 0.0, 50.0, 1.0, 40.0];
    assert!(
        model.predict(&Encoded(&row)).is_err(),
        "category code 99 does not exist"
    );
    // NaN is a missing value, and this model's features are required (the
    // default schema says so, and training never saw one missing).
    row[2] = f64::NAN;
    let err = model.predict(&Encoded(&row)).expect_err("required");
    assert!(
        err.to_string()
            .contains("`merchant_category`: missing value: this field is required"),
        "{err}"
    );
}

/// A model trained on data whose features may be missing.
fn model_with_optional_features() -> Model {
    let data = synth::generate(5_000, 4);
    let mut schema = data.schema().clone();
    for feature in &mut schema.features {
        feature.required = Some(false);
    }
    let data = fraud_engine::Dataset::new(
        schema,
        data.columns().to_vec(),
        data.labels().map(<[u8]>::to_vec),
    )
    .expect("dataset");
    fraud_engine::train(
        &data,
        &fraud_engine::TrainParams {
            n_trees: 10,
            ..Default::default()
        },
    )
    .expect("trains")
}

#[test]
fn missing_values_of_optional_features_are_imputed() {
    let model = model_with_optional_features();
    let fields: Vec<(&str, Value<'_>)> = model
        .feature_names()
        .into_iter()
        .map(|name| (name, Value::Missing))
        .collect();
    let p = model
        .predict(&fields[..])
        .expect("all missing is still scorable");
    assert!((0.0..=1.0).contains(&p.fraud_probability));
    // An optional field may also be left out.
    assert_eq!(model.predict(&fields[..0]).expect("scorable"), p);
}

#[test]
fn training_decides_what_is_required() {
    // amount is missing in some training rows, the rest never: only amount
    // stays optional.
    let mut table = synth::table(3_000, 6);
    let mut amounts = match table.column("amount") {
        Some(fraud_engine::TableColumn::Numbers(v)) => v.clone(),
        other => panic!("{other:?}"),
    };
    for x in amounts.iter_mut().step_by(10) {
        *x = f64::NAN;
    }
    let mut with_gaps = fraud_engine::Table::new("gaps");
    for (name, column) in table.names().iter().zip(table.columns()) {
        let column = if name == "amount" {
            fraud_engine::TableColumn::Numbers(amounts.clone())
        } else {
            column.clone()
        };
        with_gaps.push(name.clone(), column).expect("column");
    }
    table = with_gaps;
    let loaded = fraud_engine::Dataset::from_table(&table, &fraud_engine::ColumnRules::default())
        .expect("reads");
    let model = fraud_engine::train(
        &loaded.dataset,
        &fraud_engine::TrainParams {
            n_trees: 5,
            ..Default::default()
        },
    )
    .expect("trains");
    let required: Vec<Option<bool>> = model.schema().features.iter().map(|f| f.required).collect();
    let mut expected = vec![Some(true); 8];
    expected[0] = Some(false);
    assert_eq!(required, expected);
    let mut tx = documented_request();
    tx.insert("amount".into(), serde_json::Value::Null);
    assert!(model.predict(&tx).is_ok(), "amount may be missing");
    tx.insert("cardholder_age".into(), "".into());
    let Err(Error::InvalidFields { problems }) = model.predict(&tx) else {
        panic!("cardholder_age is required")
    };
    assert_eq!(problems[0].field, "cardholder_age");
    // A number outside the training range scores, with a warning naming it.
    let mut tx = documented_request();
    tx.insert("transaction_hour".into(), 25.into());
    let p = model.predict(&tx).expect("scored");
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].field, "transaction_hour");
    assert_eq!(p.warnings[0].code, "outside_training_range");
    // `true` is not a number; a numeric string is read as the number.
    let mut tx = documented_request();
    tx.insert("amount".into(), true.into());
    assert!(model.predict(&tx).is_err());
    tx.insert("amount".into(), "250.0".into());
    assert_eq!(
        model.predict(&tx).expect("numeric string"),
        model.predict(&documented_request()).expect("number")
    );
}

#[test]
fn a_table_of_many_blocks_scores_as_its_rows_do() {
    use fraud_engine::{Table, TableColumn};
    let model = common::small_model(5_000, 10, 3);
    // Several blocks of rows, the last one short.
    let table = synth::table(10_001, 9);
    let mut probabilities = vec![0.0; table.n_rows()];
    model
        .predict_proba_many(Rows::Table(&table), &mut probabilities)
        .expect("table");
    let predictions = model.predict_many(Rows::Table(&table)).expect("table");
    let expected: Vec<f64> = predictions.iter().map(|p| p.fraud_probability).collect();
    assert_eq!(probabilities, expected);

    // Bad values in two blocks: both named, in row order, as predict_many names them.
    let columns = table
        .names()
        .iter()
        .cloned()
        .zip(table.columns().iter().cloned());
    let broken = Table::from_columns(
        "broken",
        columns.map(|(name, column)| match (name.as_str(), column) {
            ("transaction_hour", TableColumn::Numbers(mut hours)) => {
                hours[9_000] = 99.0;
                hours[4] = -1.0;
                (name, TableColumn::Numbers(hours))
            }
            (_, column) => (name, column),
        }),
    )
    .expect("a table");
    let mut out = vec![0.0; broken.n_rows()];
    let from_proba = model
        .predict_proba_many(Rows::Table(&broken), &mut out)
        .expect_err("bad hours");
    let from_many = model
        .predict_many(Rows::Table(&broken))
        .expect_err("bad hours");
    assert_eq!(from_proba.to_string(), from_many.to_string());
    let Error::InvalidData { rejections, .. } = from_proba else {
        panic!("expected InvalidData, got {from_proba}")
    };
    let rows: Vec<u64> = rejections.iter().map(|r| r.row).collect();
    assert_eq!(rows, [5, 9_001]);
    // Room for another number of rows is an error too.
    let mut short = vec![0.0; table.n_rows() - 1];
    assert!(model
        .predict_proba_many(Rows::Table(&table), &mut short)
        .is_err());
}

//! Shared fixtures for the benchmarks: the models and rows every benchmark
//! (and the comparison harness) measures, built the same way each time.

use fraud_engine::{synth, train, Dataset, Model, TrainParams};

/// The documented request body of `POST /api/predict`.
pub const DOCUMENTED_REQUEST: &str = r#"{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#;

/// Seed of the training data.
pub const TRAIN_SEED: u64 = 1;
/// Seed of the rows scored.
pub const SCORE_SEED: u64 = 2;

/// A model with default parameters (100 trees) trained on `rows` generated rows.
pub fn model(rows: usize) -> Model {
    train(&synth::generate(rows, TRAIN_SEED), &TrainParams::default())
        .unwrap_or_else(|e| panic!("training failed: {e}"))
}

/// `rows` generated rows encoded in the model's feature order, row-major.
pub fn encoded_rows(model: &Model, rows: usize) -> Vec<f64> {
    let data: Dataset = synth::generate(rows, SCORE_SEED);
    let mut out = Vec::with_capacity(rows * model.schema().features.len());
    let mut values = Vec::new();
    for row in 0..rows {
        data.row_values(row, &mut values);
        for (i, v) in values.iter().enumerate() {
            out.push(match *v {
                fraud_engine::Value::Number(x) => x,
                fraud_engine::Value::Text(t) => f64::from(
                    model
                        .category_code(&model.schema().features[i].name, t)
                        .map_or(0, |c| c.code),
                ),
                _ => f64::NAN,
            });
        }
    }
    out
}

/// The documented request as a JSON object.
pub fn documented_request() -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(DOCUMENTED_REQUEST).unwrap_or_default()
}

//! What the fuzz targets share: one small model, trained once per process.

use std::sync::OnceLock;

use fraud_engine::{synth, Model, TrainParams, Trainer};

/// A small model of the default schema (deterministic: fixed seed, one thread).
pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let params = TrainParams {
            n_trees: 8,
            max_depth: 6,
            seed: 5,
            ..TrainParams::default()
        };
        Trainer::new(params)
            .and_then(|t| t.threads(1))
            .and_then(|t| t.train(&synth::generate(2_000, 5)))
            .expect("the fuzz model trains")
    })
}

/// The model's file bytes.
pub fn model_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| model().to_bytes().expect("the fuzz model serialises"))
}

/// Scores and explains one parsed body, and serialises both answers: an
/// error is fine, a panic is the bug the fuzzer looks for.
pub fn score_object(object: &fraud_engine::json::Object<'_>) {
    let model = model();
    if let Ok(p) = model.predict(object) {
        assert!((0.0..=1.0).contains(&p.fraud_probability), "{p:?}");
        serde_json::to_vec(&model.output(&p)).expect("a prediction serialises");
        let explained = model.explain(object).expect("what predicts, explains");
        assert_eq!(explained.prediction.fraud_probability, p.fraud_probability);
        serde_json::to_vec(&model.explained_output(&explained)).expect("an explanation serialises");
    } else {
        assert!(
            model.explain(object).is_err(),
            "explain accepted what predict refused"
        );
    }
}

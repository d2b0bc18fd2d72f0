//! Invariants checked with proptest.

mod common;

use fraud_engine::metrics::{average_precision, brier_score, log_loss, roc_auc, Confusion};
use fraud_engine::Model;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn auc_equals_pairwise_count(
        pairs in prop::collection::vec((0u8..20, any::<bool>()), 2..200),
    ) {
        let scores: Vec<f64> = pairs.iter().map(|p| f64::from(p.0) / 20.0).collect();
        let labels: Vec<u8> = pairs.iter().map(|p| u8::from(p.1)).collect();
        let (mut wins, mut total) = (0.0, 0.0);
        for (i, &yi) in labels.iter().enumerate() {
            for (j, &yj) in labels.iter().enumerate() {
                if yi == 1 && yj == 0 {
                    total += 1.0;
                    if scores[i] > scores[j] { wins += 1.0 } else if scores[i] == scores[j] { wins += 0.5 }
                }
            }
        }
        match roc_auc(&scores, &labels) {
            Some(auc) => prop_assert!((auc - wins / total).abs() < 1e-12),
            None => prop_assert_eq!(total, 0.0),
        }
    }

    #[test]
    fn metrics_stay_in_bounds(
        pairs in prop::collection::vec((0.0f64..=1.0, any::<bool>()), 1..200),
        threshold in 0.0f64..=1.0,
    ) {
        let scores: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let labels: Vec<u8> = pairs.iter().map(|p| u8::from(p.1)).collect();
        let c = Confusion::at(&scores, &labels, threshold);
        for m in [c.precision(), c.recall(), c.f1(), c.false_positive_rate(), brier_score(&scores, &labels)] {
            prop_assert!((0.0..=1.0).contains(&m), "{}", m);
        }
        prop_assert!(log_loss(&scores, &labels) >= 0.0);
        for m in [roc_auc(&scores, &labels), average_precision(&scores, &labels)].into_iter().flatten() {
            prop_assert!((0.0..=1.0).contains(&m), "{}", m);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn save_then_load_round_trips(
        rows in 500usize..3_000,
        trees in 1usize..6,
        seed in any::<u64>(),
        depth in 1usize..10,
    ) {
        let data = fraud_engine::synth::generate(rows, seed);
        let params = fraud_engine::TrainParams { n_trees: trees, seed, max_depth: depth.into(), min_samples_leaf: 5.into(), ..Default::default() };
        match fraud_engine::Trainer::new(params.clone())
        .and_then(|t| t.threads(1))
        .and_then(|t| t.train(&data)) {
            Ok(model) => {
                let bytes = model.to_bytes().expect("serializes");
                let loaded = Model::from_bytes(&bytes).expect("own bytes load");
                prop_assert_eq!(&loaded, &model);
                prop_assert_eq!(loaded.to_bytes().expect("serializes"), bytes);
            }
            // Small samples can hold no fraud at all.
            Err(e) => prop_assert!(e.to_string().contains("both classes"), "{}", e),
        }
    }
}

fn valid_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        common::small_model(2_000, 3, 5)
            .to_bytes()
            .expect("serializes")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_are_an_error_or_a_model(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Model::from_bytes(&bytes);
    }

    #[test]
    fn mutated_model_files_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        truncate in any::<prop::sample::Index>(),
        reseal in any::<bool>(),
    ) {
        let mut bytes = valid_bytes().to_vec();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if reseal && bytes.len() > fraud_engine::format::HEADER_LEN {
            let crc = crc32fast::hash(&bytes[fraud_engine::format::HEADER_LEN..]);
            bytes[24..28].copy_from_slice(&crc.to_le_bytes());
            bytes[0..8].copy_from_slice(&fraud_engine::format::MAGIC);
            bytes[8..12].copy_from_slice(&fraud_engine::FORMAT_VERSION.to_le_bytes());
        }
        let keep = truncate.index(bytes.len() + 1);
        let _ = Model::from_bytes(&bytes);
        let _ = Model::from_bytes(&bytes[..keep]);
    }
}

fn small() -> &'static Model {
    static MODEL: std::sync::OnceLock<Model> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| common::small_model(2_000, 3, 5))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No public scoring call panics on a bad argument: rows of any width
    /// and any values, outputs of any length, are a result or a typed error.
    #[test]
    fn public_scoring_never_panics_on_bad_arguments(
        row in prop::collection::vec(prop_oneof![any::<f64>(), -1e3f64..1e3, Just(f64::NAN)], 0..20),
        out_len in 0usize..12,
    ) {
        use fraud_engine::{Encoded, Rows};
        let model = small();
        let single = model.predict(&Encoded(&row));
        prop_assert_eq!(single.is_ok(), model.explain(&Encoded(&row)).is_ok());
        if row.len() != model.n_features() {
            prop_assert!(single.is_err());
        }
        let mut out = vec![0.0; out_len];
        let many = model.predict_proba_many(Rows::Encoded(&row), &mut out);
        if row.len() % model.n_features() != 0 || row.len() / model.n_features() != out_len {
            prop_assert!(many.is_err());
        }
        let _ = model.explain_many(Rows::Encoded(&row));
    }

    /// Tables of arbitrary cells are scored or rejected with every bad value
    /// named by row and column.
    #[test]
    fn tables_of_any_cells_are_scored_or_rejected(
        cells in prop::collection::vec(
            prop_oneof![
                any::<f64>().prop_map(fraud_engine::Cell::Number),
                "[a-z0-9 .-]{0,6}".prop_map(fraud_engine::Cell::Text),
                Just(fraud_engine::Cell::Missing),
                Just(fraud_engine::Cell::Absent),
            ],
            8..=32,
        ),
    ) {
        use fraud_engine::{Error, Rows, Table, TableColumn};
        let model = small();
        let rows = cells.len() / 8;
        let mut table = Table::new("cells");
        for (i, name) in model.feature_names().into_iter().enumerate() {
            let column: Vec<_> = (0..rows).map(|r| cells[r * 8 + i].clone()).collect();
            table.push(name, TableColumn::Cells(column)).expect("equal lengths");
        }
        match model.predict_many(Rows::Table(&table)) {
            Ok(predictions) => prop_assert_eq!(predictions.len(), rows),
            Err(Error::InvalidData { rejections, total, .. }) => {
                prop_assert!(total >= rejections.len() && !rejections.is_empty());
                for r in &rejections {
                    prop_assert!(r.row >= 1 && r.row as usize <= rows);
                    prop_assert!(model.schema().index_of(&r.column).is_some());
                }
            }
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }
}

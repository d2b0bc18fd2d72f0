//! Invariants checked with proptest.

mod common;

use fraud_engine::forest::{Forest, Tree, NO_CHILD};
use fraud_engine::metrics::{average_precision, brier_score, log_loss, roc_auc, Confusion};
use fraud_engine::Model;
use proptest::prelude::*;

/// A random valid tree over `n_features` features, grown from a list of
/// random split decisions.
fn arb_tree(n_features: usize) -> impl Strategy<Value = Tree> {
    prop::collection::vec(
        (any::<bool>(), 0..n_features, -5.0f64..5.0, 0.0f64..=1.0),
        1..60,
    )
    .prop_map(move |plan| {
        let mut tree = Tree {
            left: vec![],
            right: vec![],
            feature: vec![],
            threshold: vec![],
            value: vec![],
            cover: vec![],
        };
        let push = |t: &mut Tree, value: f64| {
            t.left.push(NO_CHILD);
            t.right.push(NO_CHILD);
            t.feature.push(0);
            t.threshold.push(0.0);
            t.value.push(value);
            t.cover.push(1.0);
            t.left.len() - 1
        };
        push(&mut tree, plan[0].3);
        let mut frontier = vec![(0usize, 0usize)];
        for &(split, feature, threshold, value) in &plan {
            let Some((node, depth)) = frontier.pop() else {
                break;
            };
            if split && depth < 12 {
                let l = push(&mut tree, value);
                let r = push(&mut tree, 1.0 - value);
                tree.left[node] = l as u32;
                tree.right[node] = r as u32;
                tree.feature[node] = feature as u32;
                tree.threshold[node] = threshold;
                frontier.push((r, depth + 1));
                frontier.push((l, depth + 1));
            }
        }
        tree
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn flat_forest_equals_reference_walk(
        trees in prop::collection::vec(arb_tree(4), 1..8),
        rows in prop::collection::vec(prop::collection::vec(-6.0f64..6.0, 4), 1..50),
    ) {
        for tree in &trees {
            prop_assert!(tree.validate(4).is_ok());
        }
        let forest = Forest::from_trees(&trees, 4);
        let mut batch = vec![0.0; rows.len()];
        let flat: Vec<f64> = rows.iter().flatten().copied().collect();
        forest.predict_batch(&flat, &mut batch);
        for (row, &b) in rows.iter().zip(&batch) {
            let mut sum = 0.0;
            for tree in &trees {
                sum += tree.value[tree.leaf(row)];
            }
            let expected = sum / trees.len() as f64;
            prop_assert_eq!(forest.predict(row), expected);
            prop_assert_eq!(forest.predict_with(fraud_engine::forest::Walk::Branchy, row), expected);
            prop_assert_eq!(b, expected);
        }
    }

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
        let params = fraud_engine::TrainParams { n_trees: trees, seed, max_depth: depth, min_samples_leaf: 5, ..Default::default() };
        match fraud_engine::train(&data, &params, Some(1), None) {
            Ok(model) => {
                let bytes = model.to_bytes();
                let loaded = Model::from_bytes(&bytes).expect("own bytes load");
                prop_assert_eq!(&loaded, &model);
                prop_assert_eq!(loaded.to_bytes(), bytes);
            }
            // Small samples can hold no fraud at all.
            Err(e) => prop_assert!(e.to_string().contains("both classes"), "{}", e),
        }
    }
}

fn valid_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| common::small_model(2_000, 3, 5).to_bytes())
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
            bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        }
        let keep = truncate.index(bytes.len() + 1);
        let _ = Model::from_bytes(&bytes);
        let _ = Model::from_bytes(&bytes[..keep]);
    }
}

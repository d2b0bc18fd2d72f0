//! Explanations: exact path-dependent TreeSHAP values and reason codes.
//!
//! For one row, every feature gets a contribution such that
//! `base_value + sum(contributions) == fraud_probability` (local accuracy).
//! The values are those of `shap.TreeExplainer(model,
//! feature_perturbation="tree_path_dependent")` (Lundberg et al., 2018): the
//! expectation of the model with the features outside a coalition `S` unknown
//! follows every branch in proportion to the training cover.
//!
//! A leaf whose root path tests the distinct features `U` contributes
//! through two numbers per path feature `i`: `z_i`, the product of the cover
//! ratios along the path's splits on `i`, and `o_i`, 1 when the row
//! satisfies all of them ("hot") and 0 otherwise ("cold").
//!
//! Three formulations are here, measured side by side by the scoring
//! benchmark (`explain/*`):
//!
//! - `quadrature`: two passes over each tree's edges, O(Q) per edge; what
//!   the model uses (the fastest, see docs/PERFORMANCE.md);
//! - `per_leaf`: each leaf's closed form, O(k + |H|^2) per leaf; what
//!   training's out-of-bag importances use;
//! - `leaf_tables`: per-leaf tables keyed by the hot set (benchmark only).

use serde::{Deserialize, Serialize};

use crate::forest::Tree;

#[cfg(any(test, feature = "bench"))]
pub(crate) mod leaf_tables;
pub(crate) mod per_leaf;
pub(crate) mod quadrature;

pub(crate) use per_leaf::TreePaths;
pub(crate) use quadrature::QuadratureForest;

/// The tree's expected output over its training cover: the base value of
/// its explanations.
pub(crate) fn expected_value(tree: &Tree) -> f64 {
    let root_cover = tree.cover[0];
    if root_cover <= 0.0 {
        return tree.value[0];
    }
    (0..tree.len())
        .filter(|&i| tree.is_leaf(i))
        .map(|i| tree.cover[i] / root_cover * tree.value[i])
        .sum()
}

/// Why the model scored a transaction as it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The model's average output over its training data.
    pub base_value: f64,
    /// Each input feature's contribution, in schema order; they sum to
    /// `fraud_probability - base_value`.
    pub contributions: Vec<f64>,
    /// The probability explained.
    pub fraud_probability: f64,
}

/// One readable reason: a feature whose value raised the risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// The feature's name.
    pub feature: String,
    /// The input value (a number, or the category's name).
    pub value: serde_json::Value,
    /// Its contribution to the fraud probability.
    pub contribution: f64,
    /// The sentence shown to an analyst.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::leaf_tables::LeafTables;
    use super::{QuadratureForest, TreePaths};
    use crate::forest::{Tree, NO_CHILD};
    use proptest::prelude::*;

    /// Exact Shapley values of one tree by enumerating coalitions, with the
    /// path-dependent expectation (cover-weighted over unknown features).
    fn brute_force(tree: &Tree, row: &[f64]) -> Vec<f64> {
        fn expect(tree: &Tree, node: usize, row: &[f64], known: u32) -> f64 {
            if tree.is_leaf(node) {
                return tree.value[node];
            }
            let f = tree.feature[node] as usize;
            let (l, r) = (tree.left[node] as usize, tree.right[node] as usize);
            if known & (1 << f) != 0 {
                let next = if row[f] > tree.threshold[node] { r } else { l };
                expect(tree, next, row, known)
            } else if tree.cover[node] > 0.0 {
                (tree.cover[l] * expect(tree, l, row, known)
                    + tree.cover[r] * expect(tree, r, row, known))
                    / tree.cover[node]
            } else {
                0.0
            }
        }
        let n = row.len();
        let fact = |k: usize| (1..=k).map(|v| v as f64).product::<f64>();
        (0..n)
            .map(|i| {
                (0u32..1 << n)
                    .filter(|set| set & (1 << i) == 0)
                    .map(|set| {
                        let s = set.count_ones() as usize;
                        fact(s) * fact(n - s - 1) / fact(n)
                            * (expect(tree, 0, row, set | (1 << i)) - expect(tree, 0, row, set))
                    })
                    .sum()
            })
            .collect()
    }

    /// A random tree over `n_features` features with consistent covers
    /// (children sum to their parent), grown breadth first from a plan;
    /// features repeat along paths, as the trainer's trees do.
    fn arb_tree(n_features: usize, max_depth: usize) -> impl Strategy<Value = Tree> {
        prop::collection::vec(
            (
                any::<bool>(),
                0..n_features,
                -3.0f64..3.0,
                0.0f64..=1.0,
                0.05f64..0.95,
            ),
            1..80,
        )
        .prop_map(move |plan| {
            let mut tree = Tree {
                left: vec![NO_CHILD],
                right: vec![NO_CHILD],
                feature: vec![0],
                threshold: vec![0.0],
                value: vec![plan[0].3],
                cover: vec![100.0],
            };
            let mut frontier = std::collections::VecDeque::from([(0usize, 0usize)]);
            for &(split, feature, threshold, value, share) in &plan {
                let Some((node, depth)) = frontier.pop_front() else {
                    break;
                };
                if !split || depth >= max_depth {
                    continue;
                }
                // Thresholds on a coarse grid, so rows hit them exactly.
                let threshold = (threshold * 2.0).round() / 2.0;
                let cover = tree.cover[node];
                for (v, c) in [(value, cover * share), (1.0 - value, cover * (1.0 - share))] {
                    tree.left.push(NO_CHILD);
                    tree.right.push(NO_CHILD);
                    tree.feature.push(0);
                    tree.threshold.push(0.0);
                    tree.value.push(v);
                    tree.cover.push(c);
                }
                let l = tree.left.len() - 2;
                tree.left[node] = l as u32;
                tree.right[node] = l as u32 + 1;
                tree.feature[node] = feature as u32;
                tree.threshold[node] = threshold;
                frontier.push_back((l, depth + 1));
                frontier.push_back((l + 1, depth + 1));
            }
            tree
        })
    }

    fn all_formulations(trees: &[Tree], row: &[f64]) -> [Vec<f64>; 3] {
        let n = row.len();
        let scale = 1.0 / trees.len() as f64;
        let mut per_leaf = vec![0.0; n];
        for tree in trees {
            TreePaths::new(tree).add_shap(row, &mut per_leaf, scale);
        }
        let mut tables = vec![0.0; n];
        LeafTables::new(trees)
            .expect("short paths")
            .add_shap(row, &mut tables, scale);
        let mut quadrature = vec![0.0; n];
        QuadratureForest::new(trees, n).add_shap(row, &mut quadrature, scale);
        [per_leaf, tables, quadrature]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Every formulation gives the brute-force Shapley values, rows on
        /// and between thresholds alike.
        #[test]
        fn formulations_match_brute_force(
            trees in prop::collection::vec(arb_tree(4, 7), 1..4),
            row in prop::collection::vec((-7i32..7).prop_map(|h| f64::from(h) / 2.0), 4),
            jitter in prop::collection::vec(-0.3f64..0.3, 4),
        ) {
            for row in [row.clone(), row.iter().zip(&jitter).map(|(x, j)| x + j).collect()] {
                let mut expected = vec![0.0; 4];
                for tree in &trees {
                    for (e, v) in expected.iter_mut().zip(brute_force(tree, &row)) {
                        *e += v / trees.len() as f64;
                    }
                }
                for (name, got) in ["per leaf", "leaf tables", "quadrature"]
                    .iter()
                    .zip(all_formulations(&trees, &row))
                {
                    for (g, e) in got.iter().zip(&expected) {
                        prop_assert!((g - e).abs() < 1e-12, "{name}: {got:?} vs {expected:?}");
                    }
                }
            }
        }

        /// Paths of more distinct features than 8 take more quadrature
        /// points (here up to 12 of 14 features), and covers of 0 (a
        /// hostile or hand-written model) give finite values that agree.
        #[test]
        fn long_paths_and_empty_covers_agree(
            tree in arb_tree(14, 12),
            zeroed in prop::collection::vec(any::<prop::sample::Index>(), 0..3),
            row in prop::collection::vec(-3.0f64..3.0, 14),
        ) {
            let mut tree = tree;
            for index in &zeroed {
                let node = index.index(tree.len());
                if node > 0 {
                    tree.cover[node] = 0.0;
                }
            }
            let [per_leaf, tables, quadrature] = all_formulations(&[tree], &row);
            for ((a, b), c) in per_leaf.iter().zip(&tables).zip(&quadrature) {
                prop_assert!(c.is_finite());
                prop_assert!((a - c).abs() < 1e-12, "{per_leaf:?} vs {quadrature:?}");
                prop_assert!((a - b).abs() < 1e-12, "{per_leaf:?} vs {tables:?}");
            }
        }
    }

    /// One path of 40 distinct features: 32 quadrature points, against the
    /// per-leaf closed form; rows of more than 64 features take the
    /// explanation's bounds-checked loops.
    #[test]
    fn very_long_paths_take_more_points() {
        let depth: usize = 40;
        let n_features = 70;
        let mut tree = Tree::default();
        // A chain: node 2d splits on feature d, its right child 2d + 2 goes
        // on, its left child 2d + 1 is a leaf.
        for d in 0..depth {
            let node = tree.left.len();
            tree.left.extend([node as u32 + 1, NO_CHILD]);
            tree.right.extend([node as u32 + 2, NO_CHILD]);
            tree.feature.extend([d as u32, 0]);
            tree.threshold.extend([0.0, 0.0]);
            tree.value.extend([0.5, (d % 7) as f64 / 7.0]);
            let cover = 1000.0 * 0.9f64.powi(d as i32);
            tree.cover.extend([cover, cover * 0.1]);
        }
        tree.left.push(NO_CHILD);
        tree.right.push(NO_CHILD);
        tree.feature.push(0);
        tree.threshold.push(0.0);
        tree.value.push(1.0);
        tree.cover.push(1000.0 * 0.9f64.powi(depth as i32));
        assert!(tree.validate(n_features).is_ok());
        let row: Vec<f64> = (0..n_features)
            .map(|d| if d % 3 == 0 { -1.0 } else { 1.0 })
            .collect();
        let mut per_leaf = vec![0.0; n_features];
        TreePaths::new(&tree).add_shap(&row, &mut per_leaf, 1.0);
        let mut quadrature = vec![0.0; n_features];
        QuadratureForest::new(std::slice::from_ref(&tree), n_features).add_shap(
            &row,
            &mut quadrature,
            1.0,
        );
        for (a, b) in per_leaf.iter().zip(&quadrature) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }
}

//! Path-dependent TreeSHAP from per-leaf tables keyed by which path features
//! the row satisfies (the precomputation of FastTreeSHAP v2, Yang 2022): a
//! candidate the benchmark compares with the quadrature pass the model uses,
//! kept only for that comparison.
//!
//! With `H` the hot features of a leaf's path (see the module above), `C`
//! the cold ones and `k = |U|`, define for every subset `P` of the path's
//! features `B(P) = v * sum_m w(m, k) e_{|P|-m}(z_P)`. Then every cold
//! feature's share is `-prod_C z * B(H)` and a hot `j`'s is
//! `(1 - z_j) prod_C z * B(H \ {j})`: per leaf, `2^k` numbers prepared once,
//! and O(k) lookups per row.

use super::per_leaf::{PathFeature, TreePaths, SHAPLEY_WEIGHTS};
use crate::forest::Tree;

/// Longest path (in distinct features) whose table is prepared: 2^12
/// numbers per leaf at most.
const MAX_TABLE_PATH: usize = 12;

/// One leaf: its path features and where its table starts.
#[derive(Debug, Clone)]
struct Leaf {
    features: std::ops::Range<usize>,
    table: usize,
}

/// Every leaf of a forest with its table.
#[derive(Debug, Clone)]
pub(crate) struct LeafTables {
    leaves: Vec<Leaf>,
    features: Vec<PathFeature>,
    tables: Vec<f64>,
}

impl LeafTables {
    /// Prepares the tables, or `None` when a path tests more than
    /// [`MAX_TABLE_PATH`] distinct features.
    pub(crate) fn new(trees: &[Tree]) -> Option<Self> {
        let mut tables = LeafTables {
            leaves: Vec::new(),
            features: Vec::new(),
            tables: Vec::new(),
        };
        let mut poly = [0.0f64; MAX_TABLE_PATH + 1];
        for tree in trees {
            let paths = TreePaths::new(tree);
            for (value, path) in paths.leaves() {
                let k = path.len();
                if k > MAX_TABLE_PATH {
                    return None;
                }
                let start = tables.features.len();
                tables.features.extend_from_slice(path);
                let table = tables.tables.len();
                let weights = &SHAPLEY_WEIGHTS[k];
                for subset in 0usize..1 << k {
                    // e_r of the subset's zero fractions.
                    let mut size = 0;
                    poly[0] = 1.0;
                    for (i, p) in path.iter().enumerate() {
                        if subset & (1 << i) != 0 {
                            size += 1;
                            poly[size] = 0.0;
                            for d in (1..=size).rev() {
                                poly[d] += p.zero * poly[d - 1];
                            }
                        }
                    }
                    let b = if k == 0 {
                        0.0
                    } else {
                        (0..=size).map(|m| weights[m] * poly[size - m]).sum::<f64>()
                    };
                    tables.tables.push(value * b);
                }
                tables.leaves.push(Leaf {
                    features: start..start + k,
                    table,
                });
            }
        }
        Some(tables)
    }

    /// Bytes the tables take.
    #[cfg_attr(not(feature = "bench"), allow(dead_code))]
    pub(crate) fn table_bytes(&self) -> usize {
        self.tables.len() * std::mem::size_of::<f64>()
    }

    /// Adds `scale` times the forest's SHAP values for `row` to `phi`.
    pub(crate) fn add_shap(&self, row: &[f64], phi: &mut [f64], scale: f64) {
        for leaf in &self.leaves {
            let path = &self.features[leaf.features.clone()];
            if path.is_empty() {
                continue;
            }
            let table = &self.tables[leaf.table..leaf.table + (1 << path.len())];
            let mut hot = 0usize;
            let mut cold_product = 1.0;
            for (i, p) in path.iter().enumerate() {
                let x = row[p.feature as usize];
                let is_hot = (p.lo < x) & (x <= p.hi);
                hot |= usize::from(is_hot) << i;
                cold_product *= if is_hot { 1.0 } else { p.zero };
            }
            let cold_share = -cold_product * table[hot];
            for (i, p) in path.iter().enumerate() {
                let share = if hot & (1 << i) != 0 {
                    (1.0 - p.zero) * cold_product * table[hot ^ (1 << i)]
                } else {
                    cold_share
                };
                phi[p.feature as usize] += scale * share;
            }
        }
    }
}

//! Path-dependent TreeSHAP leaf by leaf: the formulation explanations used
//! before the quadrature pass, kept for training's out-of-bag importances
//! (a few hundred rows per tree, where preparing a tree's paths is most of
//! the cost) and as the candidate the benchmark compares against.
//!
//! A leaf with value `v` whose root path tests the distinct features `U`
//! (|U| = k) adds `v * prod_{i in U} (i in S ? o_i : z_i)` to the coalition
//! value. Its Shapley share for `j in U` is therefore
//!
//! ```text
//! v * (o_j - z_j) * sum_{S ⊆ U\{j}} |S|! (k-|S|-1)! / k! * prod_{i in S} o_i * prod_{i in U\S\{j}} z_i
//! ```
//!
//! Only coalitions of "hot" features (`o_i = 1`, set `H`) survive, so with `C`
//! the cold ones the sum is `prod_{C\{j}} z * sum_m w(m, k) e_{h'-m}`, where
//! `e_r` are the elementary symmetric polynomials of the hot `z`s (without
//! `j`). Each leaf costs O(k + |H|^2).

use crate::forest::Tree;

/// One distinct feature on a leaf's root path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PathFeature {
    pub(crate) feature: u32,
    /// The row satisfies every split on this feature along the path when
    /// `lo < x <= hi`.
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    /// Product of the cover ratios of the path's splits on this feature.
    pub(crate) zero: f64,
}

/// Every leaf of one tree with its path, prepared for explanations.
#[derive(Debug, Clone)]
pub(crate) struct TreePaths {
    /// Per leaf: value and the range of its features in `features`.
    leaves: Vec<(f64, u32, u32)>,
    features: Vec<PathFeature>,
}

/// Shapley weights `w(m, k) = m! (k-m-1)! / k!` for `k` up to this bound.
const MAX_PATH: usize = 66;

/// `SHAPLEY_WEIGHTS[k][m] == m! (k-m-1)! / k!`, computed at compile time as
/// `1 / (k * C(k-1, m))` so that no factorial overflows.
pub(crate) static SHAPLEY_WEIGHTS: [[f64; MAX_PATH]; MAX_PATH + 1] = {
    let mut table = [[0.0; MAX_PATH]; MAX_PATH + 1];
    let mut k = 1;
    while k <= MAX_PATH {
        let mut binomial = 1.0;
        let mut m = 0;
        while m < k {
            table[k][m] = 1.0 / (k as f64 * binomial);
            binomial = binomial * (k - 1 - m) as f64 / (m + 1) as f64;
            m += 1;
        }
        k += 1;
    }
    table
};

impl TreePaths {
    /// Walks the tree once, recording each leaf's path features.
    pub(crate) fn new(tree: &Tree) -> Self {
        let mut paths = TreePaths {
            leaves: Vec::new(),
            features: Vec::new(),
        };
        let mut current: Vec<PathFeature> = Vec::new();
        paths.visit(tree, 0, &mut current);
        paths
    }

    /// Each leaf's value and path features.
    #[cfg(any(test, feature = "bench"))]
    pub(crate) fn leaves(&self) -> impl Iterator<Item = (f64, &[PathFeature])> + '_ {
        self.leaves.iter().map(|&(value, start, len)| {
            (
                value,
                &self.features[start as usize..(start + len) as usize],
            )
        })
    }

    fn visit(&mut self, tree: &Tree, node: usize, current: &mut Vec<PathFeature>) {
        if tree.is_leaf(node) {
            let start = self.features.len() as u32;
            self.features.extend_from_slice(current);
            self.leaves
                .push((tree.value[node], start, current.len() as u32));
            return;
        }
        let feature = tree.feature[node];
        let threshold = tree.threshold[node];
        let cover = tree.cover[node];
        for (child, goes_left) in [
            (tree.left[node] as usize, true),
            (tree.right[node] as usize, false),
        ] {
            let ratio = if cover > 0.0 {
                tree.cover[child] / cover
            } else {
                0.0
            };
            let saved = current.clone();
            match current.iter_mut().find(|p| p.feature == feature) {
                Some(p) => {
                    p.zero *= ratio;
                    if goes_left {
                        p.hi = p.hi.min(threshold);
                    } else {
                        p.lo = p.lo.max(threshold);
                    }
                }
                None => current.push(PathFeature {
                    feature,
                    lo: if goes_left {
                        f64::NEG_INFINITY
                    } else {
                        threshold
                    },
                    hi: if goes_left { threshold } else { f64::INFINITY },
                    zero: ratio,
                }),
            }
            self.visit(tree, child, current);
            *current = saved;
        }
    }

    /// Adds `scale` times this tree's SHAP values for `row` to `phi`.
    pub(crate) fn add_shap(&self, row: &[f64], phi: &mut [f64], scale: f64) {
        let mut hot = [0usize; MAX_PATH];
        let mut cold = [0usize; MAX_PATH];
        let mut poly = [0.0f64; MAX_PATH + 1];
        let mut coefficients = [0.0f64; MAX_PATH + 1];
        for &(value, start, len) in &self.leaves {
            let path = &self.features[start as usize..(start + len) as usize];
            let k = path.len();
            if k == 0 || k > MAX_PATH {
                continue;
            }
            let (mut n_hot, mut n_cold) = (0, 0);
            // Branch-free: whether a feature is hot is as good as random, and
            // a mispredicted branch per feature would cost more than the rest.
            for (i, p) in path.iter().enumerate() {
                let x = row[p.feature as usize];
                let is_hot = usize::from((p.lo < x) & (x <= p.hi));
                hot[n_hot] = i;
                cold[n_cold] = i;
                n_hot += is_hot;
                n_cold += 1 - is_hot;
            }
            // e_r of the hot zero fractions: coefficients of prod (1 + z t).
            poly[..=n_hot].fill(0.0);
            poly[0] = 1.0;
            for (r, &i) in hot[..n_hot].iter().enumerate() {
                let z = path[i].zero;
                for d in (1..=r + 1).rev() {
                    poly[d] += z * poly[d - 1];
                }
            }
            let all_cold: f64 = cold[..n_cold].iter().map(|&i| path[i].zero).product();
            let v = value * scale;
            let weights = &SHAPLEY_WEIGHTS[k];
            // Hot j needs sum_m w_m e'_{h-1-m}, with e' the polynomial without
            // (1 + z_j t). Expanding e'_r = sum_i (-z_j)^i e_{r-i} makes that a
            // polynomial in z_j whose coefficients c_i are shared by all hot j:
            // O(h^2) once per leaf, then O(h) per hot feature by Horner's rule.
            if n_hot > 0 {
                let h = n_hot - 1;
                for i in 0..=h {
                    let mut c = 0.0;
                    for m in 0..=h - i {
                        c += weights[m] * poly[h - m - i];
                    }
                    coefficients[i] = c;
                }
                let factor = v * all_cold;
                for &j in &hot[..n_hot] {
                    let z = path[j].zero;
                    let mut sum = 0.0;
                    for i in (0..=h).rev() {
                        sum = sum * -z + coefficients[i];
                    }
                    phi[path[j].feature as usize] += factor * (1.0 - z) * sum;
                }
            }
            // Cold j: (0 - z_j) times the cold product without z_j is minus the
            // whole cold product, so every cold feature gets the same share.
            if n_cold > 0 {
                let mut sum = 0.0;
                for m in 0..=n_hot {
                    sum += weights[m] * poly[n_hot - m];
                }
                let share = -v * all_cold * sum;
                for &j in &cold[..n_cold] {
                    phi[path[j].feature as usize] += share;
                }
            }
        }
    }
}

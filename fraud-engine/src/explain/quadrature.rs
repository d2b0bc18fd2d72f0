//! Exact path-dependent TreeSHAP in two passes over each tree's edges, by
//! Gauss-Legendre quadrature: what the model's explanations use.
//!
//! The Shapley weight of a coalition of size `m` among the `k` features of a
//! leaf's path is a Beta integral, `m! (k-m-1)! / k! = ∫_0^1 t^m (1-t)^(k-m-1) dt`,
//! so the share a leaf of value `v` gives the path feature `j` (see the
//! module above for `o` and `z`) is
//!
//! ```text
//! v (o_j - z_j) ∫_0^1 prod_{i in U, i != j} f_i(t) dt,   f_i(t) = z_i (1 - t) + o_i t,
//! ```
//!
//! a polynomial of degree `k - 1` in `t`, which Gauss-Legendre quadrature
//! with `Q >= k / 2` points integrates exactly. Writing the product as
//! `P(t) g_j(t)` with `P = prod_{i in U} f_i` and `g_j = (o_j - z_j) / f_j`,
//! and telescoping `g_j` over the splits on `j` along the path (`g` starts at
//! 0: a feature not yet split on has `z = o = 1`), every edge `e` of the tree
//! (a split on `j` into child `c`) contributes
//!
//! ```text
//! phi_j += sum_q w_q (g_after(e)(t_q) - g_before(e)(t_q)) * S_c(t_q),
//! S_c = sum over the leaves l below c of v_l P_l,
//! ```
//!
//! where `P` is carried down the tree as a product of per-edge ratios and
//! `S` summed back up: two linear passes per tree, O(Q) work per edge, no
//! per-leaf path to unwind. This is Quadrature-TreeSHAP (Wettenstein,
//! Mitchell and Yu, 2026), which XGBoost now uses for its SHAP values, and
//! close to Linear TreeSHAP (Yu et al., 2022); it is exact up to rounding.
//!
//! Which ratio and which `g` difference an edge applies depends only on
//! whether its feature was "hot" (every split on it satisfied so far) before
//! the edge and whether the row satisfies this split: three cases, each
//! prepared once per model as `Q` numbers per edge, so that a row's passes
//! only multiply and add. A split whose children are both leaves (a twig,
//! about a third of a forest's splits) is folded further: its `S` and its
//! children's shares are its `P` times numbers prepared per case, so it is
//! visited once, between the passes, and its leaves never.

use crate::forest::Tree;

/// Gauss-Legendre points and weights on [0, 1] for `n` points, by Newton's
/// method on the Legendre polynomial (to the last bit for the sizes used).
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut points = vec![0.0; n];
    let mut weights = vec![0.0; n];
    for i in 0..n.div_ceil(2) {
        let mut z = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut derivative = 1.0;
        for _ in 0..100 {
            let (mut p1, mut p2) = (1.0, 0.0);
            for j in 1..=n {
                let p3 = p2;
                p2 = p1;
                p1 = ((2 * j - 1) as f64 * z * p2 - (j - 1) as f64 * p3) / j as f64;
            }
            derivative = n as f64 * (z * p1 - p2) / (z * z - 1.0);
            let previous = z;
            z = previous - p1 / derivative;
            if (z - previous).abs() <= 1e-16 {
                break;
            }
        }
        // On [-1, 1] the weight is 2 / ((1 - z^2) P'(z)^2); on [0, 1] half that.
        let weight = 1.0 / ((1.0 - z * z) * derivative * derivative);
        points[i] = (1.0 - z) / 2.0;
        points[n - 1 - i] = (1.0 + z) / 2.0;
        weights[i] = weight;
        weights[n - 1 - i] = weight;
    }
    (points, weights)
}

/// One internal node of a tree: where it and its children are, and its
/// split. Nodes live in slots, the children of a node in consecutive slots,
/// every child after its parent.
#[derive(Debug, Clone, Copy)]
struct Split {
    /// The node's slot.
    at: u32,
    /// The left child's slot; the right child's is the next one.
    left: u32,
    /// The split feature.
    feature: u32,
    /// The slot of the child below the closest split on the same feature
    /// above this one, whose "cold" flag says whether the feature is
    /// already cold here; slot 0 (the root, never cold) when there is none.
    previous: u32,
    /// The split threshold: a row goes left when `x <= threshold`.
    threshold: f64,
}

/// What a split does to `P` and to its feature's `g`, in each case, for the
/// left and the right child, at each point. A leaf child's ratio includes
/// its value, so that the way down leaves `S = v P` in a leaf's slot.
///
/// The cases: the row goes left (0) or right (1), so that the child it goes
/// to keeps the feature hot and the other turns it cold; or the feature was
/// already cold (2), and both children scale `P` by their cover ratio (a
/// cold feature's factor is `z (1 - t)`) and leave `g` as it was (`g` of a
/// cold feature is `-1 / (1 - t)` whatever its cover).
type ByCase<const Q: usize> = [[[f64; Q]; 2]; 3];

/// Every tree's splits, prepared for `Q` quadrature points. Each pass reads
/// only what it needs: the way down the splits and ratios, the way up the
/// splits and `g` differences; twigs (see the module docs) between the two.
#[derive(Debug, Clone)]
struct Edges<const Q: usize> {
    /// All trees' other internal nodes, tree after tree, parents before
    /// children.
    splits: Vec<Split>,
    /// Per split: `f_after / f_before`.
    ratios: Vec<ByCase<Q>>,
    /// Per split: `w_q (g_after - g_before)`.
    deltas: Vec<ByCase<Q>>,
    /// Where each tree starts in `splits`, and where the last one ends.
    starts: Vec<usize>,
    /// All trees' twigs, tree after tree (their `left` is not read).
    twigs: Vec<Split>,
    /// Per twig, case and point: its `S` over its `P` (the sum of its
    /// children's ratios) and its share over its `P` (the sum of each
    /// child's `g` difference times its ratio).
    twig_cases: Vec<ByCase<Q>>,
    /// Where each tree starts in `twigs`, and where the last one ends.
    twig_starts: Vec<usize>,
    /// The most nodes in one tree: the scratch one explanation needs.
    max_slots: usize,
    /// The features a row has.
    n_features: usize,
}

/// A forest prepared for quadrature TreeSHAP, with as many points as its
/// longest path needs.
#[derive(Debug, Clone)]
pub(crate) struct QuadratureForest(Points);

#[derive(Debug, Clone)]
enum Points {
    /// Paths of up to 8 distinct features.
    Q4(Edges<4>),
    /// Up to 16.
    Q8(Edges<8>),
    /// Up to 32.
    Q16(Edges<16>),
    /// Up to 64 (the deepest tree the loader accepts).
    Q32(Edges<32>),
}

/// How many distinct features the longest root-to-leaf path of `tree` tests.
fn longest_path_features(tree: &Tree) -> usize {
    fn visit(tree: &Tree, node: usize, path: &mut Vec<u32>, longest: &mut usize) {
        if tree.is_leaf(node) {
            *longest = (*longest).max(path.len());
            return;
        }
        let feature = tree.feature[node];
        let added = !path.contains(&feature);
        if added {
            path.push(feature);
        }
        visit(tree, tree.left[node] as usize, path, longest);
        visit(tree, tree.right[node] as usize, path, longest);
        if added {
            path.pop();
        }
    }
    let mut longest = 0;
    visit(tree, 0, &mut Vec::new(), &mut longest);
    longest
}

impl QuadratureForest {
    /// Prepares `trees` (already validated against `n_features`) for
    /// explanations.
    pub(crate) fn new(trees: &[Tree], n_features: usize) -> Self {
        let longest = trees.iter().map(longest_path_features).max().unwrap_or(0);
        // Q points integrate polynomials of degree 2Q - 1 exactly; a path of
        // k features needs degree k - 1.
        QuadratureForest(match longest {
            0..=8 => Points::Q4(Edges::new(trees, n_features)),
            9..=16 => Points::Q8(Edges::new(trees, n_features)),
            17..=32 => Points::Q16(Edges::new(trees, n_features)),
            _ => Points::Q32(Edges::new(trees, n_features)),
        })
    }

    /// Adds `scale` times the forest's SHAP values for `row` (one value per
    /// feature, every feature index of the trees in range) to `phi`.
    pub(crate) fn add_shap(&self, row: &[f64], phi: &mut [f64], scale: f64) {
        match &self.0 {
            Points::Q4(edges) => edges.add_shap(row, phi, scale),
            Points::Q8(edges) => edges.add_shap(row, phi, scale),
            Points::Q16(edges) => edges.add_shap(row, phi, scale),
            Points::Q32(edges) => edges.add_shap(row, phi, scale),
        }
    }
}

/// A split feature's state on the path from the root to a node.
#[derive(Debug, Clone, Copy)]
struct OnPath {
    feature: u32,
    /// Product of the cover ratios of the path's splits on the feature.
    zero: f64,
    /// The slot of the child below the closest of those splits.
    slot: u32,
}

impl<const Q: usize> Edges<Q> {
    fn new(trees: &[Tree], n_features: usize) -> Self {
        let (points, weights) = gauss_legendre(Q);
        let mut t = [0.0; Q];
        let mut w = [0.0; Q];
        t.copy_from_slice(&points);
        w.copy_from_slice(&weights);
        let mut edges = Edges {
            splits: Vec::new(),
            ratios: Vec::new(),
            deltas: Vec::new(),
            starts: Vec::with_capacity(trees.len() + 1),
            twigs: Vec::new(),
            twig_cases: Vec::new(),
            twig_starts: Vec::with_capacity(trees.len() + 1),
            max_slots: trees.iter().map(Tree::len).max().unwrap_or(0),
            n_features,
        };
        for tree in trees {
            edges.starts.push(edges.splits.len());
            edges.twig_starts.push(edges.twigs.len());
            edges.add_tree(tree, &t, &w);
        }
        edges.starts.push(edges.splits.len());
        edges.twig_starts.push(edges.twigs.len());
        edges
    }

    /// Lays one tree out breadth first (children in consecutive slots) and
    /// prepares its splits.
    fn add_tree(&mut self, tree: &Tree, t: &[f64; Q], w: &[f64; Q]) {
        // Per slot: the tree's node, and each split feature's state on the
        // path to it.
        let mut slots: Vec<(usize, Vec<OnPath>)> = vec![(0, Vec::new())];
        let mut at = 0;
        while at < slots.len() {
            let (node, path) = slots[at].clone();
            if tree.is_leaf(node) {
                at += 1;
                continue;
            }
            let left = slots.len();
            let feature = tree.feature[node];
            let cover = tree.cover[node];
            let earlier = path.iter().position(|p| p.feature == feature);
            let (zero_before, previous) =
                earlier.map_or((1.0, 0), |i| (path[i].zero, path[i].slot));
            let children = [tree.left[node] as usize, tree.right[node] as usize];
            let split = Split {
                at: at as u32,
                left: left as u32,
                feature,
                previous,
                threshold: tree.threshold[node],
            };
            let mut ratio: ByCase<Q> = [[[0.0; Q]; 2]; 3];
            let mut delta: ByCase<Q> = [[[0.0; Q]; 2]; 3];
            let hot = |z: f64, t: f64| z + (1.0 - z) * t;
            for (side, child) in children.into_iter().enumerate() {
                let value = if tree.is_leaf(child) {
                    tree.value[child]
                } else {
                    1.0
                };
                let zero = zero_before
                    * if cover > 0.0 {
                        tree.cover[child] / cover
                    } else {
                        0.0
                    };
                for q in 0..Q {
                    let hot_before = hot(zero_before, t[q]);
                    let g_hot_before = (1.0 - zero_before) / hot_before;
                    let g_hot = (1.0 - zero) / hot(zero, t[q]);
                    let g_cold = -1.0 / (1.0 - t[q]);
                    // The row goes to this side (case `side`: the feature
                    // stays hot here) or to the other (it turns cold here).
                    let other = 1 - side;
                    ratio[side][side][q] = value * hot(zero, t[q]) / hot_before;
                    ratio[other][side][q] = value * zero * (1.0 - t[q]) / hot_before;
                    // Below a cover of 0 the product is already 0.
                    ratio[2][side][q] = if zero_before > 0.0 {
                        value * zero / zero_before
                    } else {
                        0.0
                    };
                    delta[side][side][q] = w[q] * (g_hot - g_hot_before);
                    delta[other][side][q] = w[q] * (g_cold - g_hot_before);
                }
                let state = OnPath {
                    feature,
                    zero,
                    slot: (left + side) as u32,
                };
                let mut below = path.clone();
                match earlier {
                    Some(i) => below[i] = state,
                    None => below.push(state),
                }
                slots.push((child, below));
            }
            if children.iter().all(|&c| tree.is_leaf(c)) {
                let mut folded: ByCase<Q> = [[[0.0; Q]; 2]; 3];
                for (case, folded) in folded.iter_mut().enumerate() {
                    let (ratio, delta) = (&ratio[case], &delta[case]);
                    for q in 0..Q {
                        folded[0][q] = ratio[0][q] + ratio[1][q];
                        folded[1][q] = delta[0][q] * ratio[0][q] + delta[1][q] * ratio[1][q];
                    }
                }
                self.twigs.push(split);
                self.twig_cases.push(folded);
            } else {
                self.splits.push(split);
                self.ratios.push(ratio);
                self.deltas.push(delta);
            }
            at += 1;
        }
    }

    fn add_shap(&self, row: &[f64], phi: &mut [f64], scale: f64) {
        let mut totals = vec![[0.0f64; Q]; phi.len()];
        // Trees of up to 512 nodes (depth 8 and below) and rows of up to 64
        // features are explained from power-of-two arrays indexed through a
        // mask, with no bounds check per step (the indices are in range by
        // construction); others take the same loops over checked vectors.
        let fixed = (self.max_slots <= FIXED_SLOTS && self.n_features <= FIXED_FEATURES)
            .then(|| {
                let values = boxed_array::<_, FIXED_SLOTS>(vec![[0.0f64; Q]; FIXED_SLOTS])?;
                let cold = boxed_array::<_, FIXED_SLOTS>(vec![false; FIXED_SLOTS])?;
                Some((values, cold))
            })
            .flatten();
        let mut cases = vec![0u8; self.max_slots];
        match fixed {
            Some((mut values, mut cold)) => {
                let mut padded = [0.0; FIXED_FEATURES];
                padded[..row.len()].copy_from_slice(row);
                let mut fixed_totals = [[0.0; Q]; FIXED_FEATURES];
                self.walk(
                    Masked(&mut padded),
                    Masked(&mut values),
                    Masked(&mut cold),
                    &mut cases,
                    Masked(&mut fixed_totals),
                );
                totals.copy_from_slice(&fixed_totals[..phi.len()]);
            }
            None => {
                let mut values = vec![[0.0f64; Q]; self.max_slots];
                let mut cold = vec![false; self.max_slots];
                let mut row = row.to_vec();
                self.walk(
                    &mut row[..],
                    &mut values[..],
                    &mut cold[..],
                    &mut cases,
                    &mut totals[..],
                );
            }
        }
        for (phi, total) in phi.iter_mut().zip(&totals) {
            *phi += scale * total.iter().sum::<f64>();
        }
    }

    /// Both passes over every tree, adding each feature's share (at each
    /// point) to `totals`.
    fn walk(
        &self,
        row: impl Slots<f64>,
        mut values: impl Slots<[f64; Q]>,
        mut cold: impl Slots<bool>,
        cases: &mut [u8],
        mut totals: impl Slots<[f64; Q]>,
    ) {
        for (bounds, twig_bounds) in self.starts.windows(2).zip(self.twig_starts.windows(2)) {
            let ratios = &self.ratios[bounds[0]..bounds[1]];
            let deltas = &self.deltas[bounds[0]..bounds[1]];
            let splits = &self.splits[bounds[0]..bounds[1]];
            let twigs = &self.twigs[twig_bounds[0]..twig_bounds[1]];
            let twig_cases = &self.twig_cases[twig_bounds[0]..twig_bounds[1]];
            let cases = &mut cases[..splits.len()];
            *values.at(0) = [1.0; Q];
            *cold.at(0) = false;
            // Down: P of every internal node and S of every leaf below a
            // split that is no twig (P, then S, of a node in one slot: a
            // node's P is read only by its children, which are done before
            // it), and whether each split's feature is cold below it.
            // Branch-free: whether a split is satisfied is as good as random.
            for ((split, ratio), case) in splits.iter().zip(ratios).zip(cases.iter_mut()) {
                let was_cold = *cold.get(split.previous as usize);
                let right = *row.get(split.feature as usize) > split.threshold;
                let left = split.left as usize;
                *cold.at(left) = was_cold | right;
                *cold.at(left + 1) = was_cold | !right;
                let which = if was_cold { 2 } else { usize::from(right) };
                *case = which as u8;
                let ratio = &ratio[which];
                let p = *values.get(split.at as usize);
                let mut l = [0.0; Q];
                let mut r = [0.0; Q];
                for q in 0..Q {
                    l[q] = p[q] * ratio[0][q];
                    r[q] = p[q] * ratio[1][q];
                }
                *values.at(left) = l;
                *values.at(left + 1) = r;
            }
            // Twigs, whose `P` the way down left in their slots: their `S`
            // in its place, and their children's shares.
            for (twig, folded) in twigs.iter().zip(twig_cases) {
                let was_cold = *cold.get(twig.previous as usize);
                let right = *row.get(twig.feature as usize) > twig.threshold;
                let folded = &folded[if was_cold { 2 } else { usize::from(right) }];
                let p = *values.get(twig.at as usize);
                let total = totals.at(twig.feature as usize);
                let mut s = [0.0; Q];
                let mut sum = *total;
                for q in 0..Q {
                    s[q] = p[q] * folded[0][q];
                    sum[q] += p[q] * folded[1][q];
                }
                *total = sum;
                *values.at(twig.at as usize) = s;
            }
            // Up: S of every other node, and each edge's share.
            for ((split, delta), &case) in splits.iter().zip(deltas).zip(cases.iter()).rev() {
                let left = split.left as usize;
                let (l, r) = (*values.get(left), *values.get(left + 1));
                let delta = &delta[usize::from(case)];
                let total = totals.at(split.feature as usize);
                let mut s = [0.0; Q];
                let mut sum = *total;
                for q in 0..Q {
                    s[q] = l[q] + r[q];
                    sum[q] += delta[0][q] * l[q] + delta[1][q] * r[q];
                }
                *total = sum;
                *values.at(split.at as usize) = s;
            }
        }
    }
}

/// Slots of the fixed-size scratch: enough for any tree of depth 8.
const FIXED_SLOTS: usize = 512;
/// Features of the fixed-size scratch.
const FIXED_FEATURES: usize = 64;

/// A vector of exactly `N` items as an array.
fn boxed_array<T, const N: usize>(items: Vec<T>) -> Option<Box<[T; N]>> {
    items.into_boxed_slice().try_into().ok()
}

/// Scratch the passes index by slot or feature.
trait Slots<T> {
    /// The item at `i`.
    fn get(&self, i: usize) -> &T;
    /// The item at `i`, to change.
    fn at(&mut self, i: usize) -> &mut T;
}

/// A slice, bounds-checked.
impl<T> Slots<T> for &mut [T] {
    #[inline(always)]
    fn get(&self, i: usize) -> &T {
        &self[i]
    }

    #[inline(always)]
    fn at(&mut self, i: usize) -> &mut T {
        &mut self[i]
    }
}

/// A power-of-two array indexed through a mask, so no check is needed
/// (every index is below `N` by construction; the mask only tells the
/// compiler so).
struct Masked<'a, T, const N: usize>(&'a mut [T; N]);

impl<T, const N: usize> Slots<T> for Masked<'_, T, N> {
    #[inline(always)]
    fn get(&self, i: usize) -> &T {
        &self.0[i & (N - 1)]
    }

    #[inline(always)]
    fn at(&mut self, i: usize) -> &mut T {
        &mut self.0[i & (N - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadrature_integrates_the_shapley_weights_exactly() {
        for n in [4usize, 8, 16, 32] {
            let (t, w) = gauss_legendre(n);
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15, "{n}");
            // m! (k-m-1)! / k! for every path length the size covers.
            for k in 1..=2 * n {
                for m in 0..k {
                    let exact = (1..=m).map(|v| v as f64).product::<f64>()
                        * (1..k - m).map(|v| v as f64).product::<f64>()
                        / (1..=k).map(|v| v as f64).product::<f64>();
                    let integral: f64 = t
                        .iter()
                        .zip(&w)
                        .map(|(&t, &w)| w * t.powi(m as i32) * (1.0 - t).powi((k - m - 1) as i32))
                        .sum();
                    assert!(
                        (integral - exact).abs() <= 1e-14 * exact.max(1e-300) + 1e-300,
                        "n={n} k={k} m={m}: {integral} vs {exact}"
                    );
                }
            }
        }
    }
}

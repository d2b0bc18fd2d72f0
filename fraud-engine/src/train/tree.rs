//! Growing one CART tree on binned data: depth-first, Gini impurity, the
//! candidate features re-drawn at every split.
//!
//! Work per node is proportional to the node's samples: each in-bag sample
//! carries a copy of its row's bins, and a split partitions the samples in
//! place, so a node's samples are one contiguous run that histogram building
//! scans sequentially. Histograms count bootstrap samples per class in
//! integers (class weights are applied when scoring a split), which keeps them
//! small, exact and order-independent.

use crate::forest::{Tree, NO_CHILD};
use crate::rng::Rng;

use super::binning::{bin_of, BinnedMatrix};

/// What one tree is grown with.
pub(crate) struct GrowParams {
    pub max_depth: usize,
    pub min_samples_leaf: u32,
    pub max_features: usize,
    /// Weight of each class (index 0 legitimate, 1 fraud).
    pub class_weight: [f64; 2],
}

/// A grown tree, plus what it learned that the model reports.
pub(crate) struct GrownTree {
    pub tree: Tree,
    /// Split bin at each internal node (for walking binned rows).
    pub split_bin: Vec<u8>,
    /// Weighted impurity decrease credited to each feature.
    pub importance: Vec<f64>,
}

/// Bootstrap samples per class: `[legitimate, fraud]`.
type Counts = [u32; 2];

fn add(a: Counts, b: Counts) -> Counts {
    [a[0] + b[0], a[1] + b[1]]
}

fn sub(a: Counts, b: Counts) -> Counts {
    [a[0] - b[0], a[1] - b[1]]
}

struct Split {
    feature: usize,
    bin: u8,
    left: Counts,
    gain: f64,
}

/// Grows one tree. `counts[row]` is the row's bootstrap multiplicity (0 =
/// out of bag).
pub(crate) fn grow(
    binned: &BinnedMatrix,
    labels: &[u8],
    counts: &[u32],
    params: &GrowParams,
    rng: &mut Rng,
) -> GrownTree {
    let p = binned.n_features;
    let w = binned.stride;
    let in_bag = counts.iter().filter(|&&c| c > 0).count();
    // meta = bootstrap count << 1 | label.
    let mut meta: Vec<u32> = Vec::with_capacity(in_bag);
    let mut bins: Vec<u64> = Vec::with_capacity(in_bag * w);
    let mut root: Counts = [0, 0];
    for (row, &count) in counts.iter().enumerate() {
        if count > 0 {
            let y = labels[row];
            meta.push(count << 1 | u32::from(y));
            bins.extend_from_slice(binned.row(row));
            root[usize::from(y)] += count;
        }
    }
    let mut grower = Grower {
        binned,
        params,
        tree: Tree {
            left: vec![],
            right: vec![],
            feature: vec![],
            threshold: vec![],
            value: vec![],
            cover: vec![],
        },
        split_bin: Vec::new(),
        importance: vec![0.0; p],
        features: (0..p).collect(),
        histogram: vec![[0u32; 2]; 256],
        scratch_meta: Vec::new(),
        scratch_bins: Vec::new(),
    };
    grower.push_node(root);
    let mut stack = vec![(0usize, 0usize, meta.len(), 0usize, root)];
    while let Some((node, start, end, depth, totals)) = stack.pop() {
        let Some(split) = grower.best_split(
            &meta[start..end],
            &bins[start * w..end * w],
            depth,
            totals,
            rng,
        ) else {
            continue;
        };
        let mid =
            start + grower.partition(&mut meta[start..end], &mut bins[start * w..end * w], &split);
        let right_totals = sub(totals, split.left);
        let left = grower.push_node(split.left);
        let right = grower.push_node(right_totals);
        let tree = &mut grower.tree;
        tree.left[node] = left as u32;
        tree.right[node] = right as u32;
        tree.feature[node] = split.feature as u32;
        tree.threshold[node] = binned.thresholds[split.feature][usize::from(split.bin)];
        grower.split_bin[node] = split.bin;
        grower.importance[split.feature] += split.gain;
        // Right pushed first so the left subtree is grown (and numbered) first.
        stack.push((right, mid, end, depth + 1, right_totals));
        stack.push((left, start, mid, depth + 1, split.left));
    }
    GrownTree {
        tree: grower.tree,
        split_bin: grower.split_bin,
        importance: grower.importance,
    }
}

struct Grower<'a> {
    binned: &'a BinnedMatrix,
    params: &'a GrowParams,
    tree: Tree,
    split_bin: Vec<u8>,
    importance: Vec<f64>,
    features: Vec<usize>,
    histogram: Vec<Counts>,
    scratch_meta: Vec<u32>,
    scratch_bins: Vec<u64>,
}

impl Grower<'_> {
    fn weights(&self, c: Counts) -> (f64, f64) {
        let [w0, w1] = self.params.class_weight;
        let fraud = f64::from(c[1]) * w1;
        (f64::from(c[0]) * w0 + fraud, fraud)
    }

    /// sum over classes of (class weight)^2 / weight: larger means purer; the
    /// weighted Gini impurity is `weight - purity`.
    fn purity(&self, c: Counts) -> f64 {
        let (weight, fraud) = self.weights(c);
        if weight <= 0.0 {
            return 0.0;
        }
        let legit = weight - fraud;
        (fraud * fraud + legit * legit) / weight
    }

    fn push_node(&mut self, c: Counts) -> usize {
        let (weight, fraud) = self.weights(c);
        let t = &mut self.tree;
        t.left.push(NO_CHILD);
        t.right.push(NO_CHILD);
        t.feature.push(0);
        t.threshold.push(0.0);
        t.value.push(if weight > 0.0 {
            (fraud / weight).clamp(0.0, 1.0)
        } else {
            0.0
        });
        t.cover.push(weight);
        self.split_bin.push(0);
        t.left.len() - 1
    }

    fn best_split(
        &mut self,
        meta: &[u32],
        bins: &[u64],
        depth: usize,
        totals: Counts,
        rng: &mut Rng,
    ) -> Option<Split> {
        let min_leaf = self.params.min_samples_leaf;
        let samples = totals[0] + totals[1];
        if depth >= self.params.max_depth
            || totals[0] == 0
            || totals[1] == 0
            || samples < 2 * min_leaf
        {
            return None;
        }
        let p = self.binned.n_features;
        let parent_purity = self.purity(totals);
        // Gains below this are rounding noise, not structure.
        let min_gain = 1e-12 * self.weights(totals).0.max(1.0);
        let mut best: Option<Split> = None;
        for k in 0..self.params.max_features.min(p) {
            // Partial Fisher-Yates: a fresh draw of features without replacement.
            let pick = k + rng.below(p - k);
            self.features.swap(k, pick);
            let feature = self.features[k];
            let n_bins = self.binned.n_bins[feature];
            self.build_histogram(meta, bins, feature, n_bins);
            let mut left: Counts = [0, 0];
            for bin in 0..n_bins - 1 {
                let h = self.histogram[bin];
                left = add(left, h);
                if left[0] + left[1] < min_leaf {
                    continue;
                }
                let right = sub(totals, left);
                if right[0] + right[1] < min_leaf {
                    break;
                }
                if h == [0, 0] {
                    continue;
                }
                let gain = self.purity(left) + self.purity(right) - parent_purity;
                if gain > min_gain && best.as_ref().is_none_or(|b| gain > b.gain) {
                    best = Some(Split {
                        feature,
                        bin: bin as u8,
                        left,
                        gain,
                    });
                }
            }
        }
        best
    }

    /// Fills `self.histogram[..n_bins]` with the class counts of `feature`.
    ///
    /// Four interleaved partial histograms: with few bins (flags, hours),
    /// consecutive samples hit the same counter, and one histogram would
    /// serialise every increment behind the previous store.
    fn build_histogram(&mut self, meta: &[u32], bins: &[u64], feature: usize, n_bins: usize) {
        let (word, shift) = (feature / 8, 8 * (feature % 8));
        let stride = self.binned.stride;
        let mut parts = [[[0u32; 2]; 256]; 4];
        let mut metas = meta.chunks_exact(4);
        let mut rows = bins.chunks_exact(4 * stride);
        for (m, r) in (&mut metas).zip(&mut rows) {
            for k in 0..4 {
                let bin = (r[k * stride + word] >> shift) as u8;
                parts[k][usize::from(bin)][(m[k] & 1) as usize] += m[k] >> 1;
            }
        }
        for (&m, r) in metas
            .remainder()
            .iter()
            .zip(rows.remainder().chunks_exact(stride))
        {
            let bin = (r[word] >> shift) as u8;
            parts[0][usize::from(bin)][(m & 1) as usize] += m >> 1;
        }
        for (b, slot) in self.histogram[..n_bins].iter_mut().enumerate() {
            let mut total = [0u32; 2];
            for part in &parts {
                total = add(total, part[b]);
            }
            *slot = total;
        }
    }

    /// Stable partition of a node's samples by the split; returns the left count.
    fn partition(&mut self, meta: &mut [u32], bins: &mut [u64], split: &Split) -> usize {
        let w = self.binned.stride;
        self.scratch_meta.clear();
        self.scratch_bins.clear();
        let mut kept = 0;
        for i in 0..meta.len() {
            if bin_of(&bins[i * w..(i + 1) * w], split.feature) <= split.bin {
                meta[kept] = meta[i];
                for j in 0..w {
                    bins[kept * w + j] = bins[i * w + j];
                }
                kept += 1;
            } else {
                self.scratch_meta.push(meta[i]);
                self.scratch_bins
                    .extend_from_slice(&bins[i * w..(i + 1) * w]);
            }
        }
        meta[kept..].copy_from_slice(&self.scratch_meta);
        bins[kept * w..].copy_from_slice(&self.scratch_bins);
        kept
    }
}

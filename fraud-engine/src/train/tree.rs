//! Growing one CART tree on binned data: depth-first, Gini impurity, the
//! candidate features re-drawn at every split.
//!
//! Work per node is proportional to the node's samples, and mostly to the
//! smaller child's: each in-bag sample carries a copy of its row's packed bins,
//! a split partitions the node's samples in place (so every node's samples are
//! one contiguous run, scanned sequentially), and a node's histograms are
//! built only for the smaller child, the larger child's being the parent's
//! minus the smaller's. Histograms count bootstrap samples per class in
//! integers (class weights are applied when a split is scored), which keeps
//! them small, exact, and the subtraction lossless.

use crate::forest::{Tree, NO_CHILD};
use crate::rng::Rng;

use super::binning::{bin_of, BinnedMatrix};

/// What one tree is grown with.
pub(crate) struct GrowParams {
    pub max_depth: usize,
    pub min_samples_leaf: u32,
    pub max_features: usize,
    /// Weight of each class in the split criterion (index 0 legitimate, 1 fraud).
    pub class_weight: [f64; 2],
    /// Weight of each class in a node's value and cover.
    pub leaf_weight: [f64; 2],
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

/// A node waiting to be split: its samples are `start..end`, its histograms
/// (all features, concatenated) are in `histograms`.
struct Pending {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    totals: Counts,
    histograms: Vec<Counts>,
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
    let mut offsets = Vec::with_capacity(p + 1);
    offsets.push(0);
    for &n in &binned.n_bins {
        offsets.push(offsets[offsets.len() - 1] + n);
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
        offsets,
        spare: Vec::new(),
        scratch_meta: Vec::new(),
        scratch_bins: Vec::new(),
    };
    let root_node = grower.push_node(root);
    let mut stack = Vec::new();
    if grower.can_split(root, 0) {
        let histograms = grower.histograms(&meta, &bins);
        stack.push(Pending {
            node: root_node,
            start: 0,
            end: meta.len(),
            depth: 0,
            totals: root,
            histograms,
        });
    }
    while let Some(pending) = stack.pop() {
        let Pending {
            node,
            start,
            end,
            depth,
            totals,
            histograms,
        } = pending;
        let Some(split) = grower.best_split(&histograms, totals, rng) else {
            grower.spare.push(histograms);
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

        let split_left = grower.can_split(split.left, depth + 1);
        let split_right = grower.can_split(right_totals, depth + 1);
        if !split_left && !split_right {
            grower.spare.push(histograms);
            continue;
        }
        // Histograms for the child with fewer samples; the other's by subtraction.
        let left_is_smaller = split.left[0] + split.left[1] <= right_totals[0] + right_totals[1];
        let small = if left_is_smaller {
            start..mid
        } else {
            mid..end
        };
        let small_hist =
            grower.histograms(&meta[small.clone()], &bins[small.start * w..small.end * w]);
        let mut large_hist = histograms;
        for (l, s) in large_hist.iter_mut().zip(&small_hist) {
            *l = sub(*l, *s);
        }
        let (left_hist, right_hist) = if left_is_smaller {
            (small_hist, large_hist)
        } else {
            (large_hist, small_hist)
        };
        // Right pushed first so the left subtree is grown (and numbered) first.
        if split_right {
            stack.push(Pending {
                node: right,
                start: mid,
                end,
                depth: depth + 1,
                totals: right_totals,
                histograms: right_hist,
            });
        } else {
            grower.spare.push(right_hist);
        }
        if split_left {
            stack.push(Pending {
                node: left,
                start,
                end: mid,
                depth: depth + 1,
                totals: split.left,
                histograms: left_hist,
            });
        } else {
            grower.spare.push(left_hist);
        }
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
    /// Feature `f`'s histogram is `offsets[f]..offsets[f + 1]` of a histogram set.
    offsets: Vec<usize>,
    /// Histogram sets no longer needed, reused to avoid allocation.
    spare: Vec<Vec<Counts>>,
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
        let [w0, w1] = self.params.leaf_weight;
        let fraud = f64::from(c[1]) * w1;
        let weight = f64::from(c[0]) * w0 + fraud;
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

    /// Whether a node with these counts at this depth may be split at all.
    fn can_split(&self, totals: Counts, depth: usize) -> bool {
        depth < self.params.max_depth
            && totals[0] > 0
            && totals[1] > 0
            && totals[0] + totals[1] >= 2 * self.params.min_samples_leaf
    }

    /// Class counts per bin of every feature over the given samples.
    fn histograms(&mut self, meta: &[u32], bins: &[u64]) -> Vec<Counts> {
        let total = self.offsets[self.offsets.len() - 1];
        let mut hist = self.spare.pop().unwrap_or_default();
        hist.clear();
        hist.resize(total, [0, 0]);
        let stride = self.binned.stride;
        let p = self.binned.n_features;
        for (&m, row) in meta.iter().zip(bins.chunks_exact(stride)) {
            let (class, count) = ((m & 1) as usize, m >> 1);
            for f in 0..p {
                hist[self.offsets[f] + usize::from(bin_of(row, f))][class] += count;
            }
        }
        hist
    }

    fn best_split(
        &mut self,
        histograms: &[Counts],
        totals: Counts,
        rng: &mut Rng,
    ) -> Option<Split> {
        let min_leaf = self.params.min_samples_leaf;
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
            let histogram = &histograms[self.offsets[feature]..self.offsets[feature + 1]];
            let mut left: Counts = [0, 0];
            for (bin, &h) in histogram.iter().enumerate().take(histogram.len() - 1) {
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

    /// Stable partition of a node's samples by the split; returns the left count.
    ///
    /// Branch-free: every sample is written to both the left run (in place)
    /// and the right scratch run, and only the matching cursor advances, so
    /// the unpredictable split direction costs no mispredicted branches.
    fn partition(&mut self, meta: &mut [u32], bins: &mut [u64], split: &Split) -> usize {
        let w = self.binned.stride;
        let n = meta.len();
        // Sized once for the largest node (the root) and never cleared: every
        // slot read below was written first.
        if self.scratch_meta.len() < n {
            self.scratch_meta.resize(n, 0);
            self.scratch_bins.resize(n * w, 0);
        }
        let (word, shift) = (split.feature / 8, 8 * (split.feature % 8));
        let (mut kept, mut moved) = (0, 0);
        for i in 0..n {
            let m = meta[i];
            let goes_left = usize::from((bins[i * w + word] >> shift) as u8 <= split.bin);
            meta[kept] = m;
            self.scratch_meta[moved] = m;
            for j in 0..w {
                let b = bins[i * w + j];
                bins[kept * w + j] = b;
                self.scratch_bins[moved * w + j] = b;
            }
            kept += goes_left;
            moved += 1 - goes_left;
        }
        meta[kept..].copy_from_slice(&self.scratch_meta[..moved]);
        bins[kept * w..].copy_from_slice(&self.scratch_bins[..moved * w]);
        kept
    }
}

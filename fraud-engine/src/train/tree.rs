//! Growing one CART tree on binned data: depth-first, Gini impurity, the
//! candidate features re-drawn at every split.
//!
//! Work per node is proportional to the node's samples, and mostly to the
//! smaller child's: each in-bag sample carries a copy of its row's packed bins,
//! a split partitions the node's samples in place (so every node's samples are
//! one contiguous run, scanned sequentially), and a node's histograms are
//! built only for the smaller child, the larger child's being the parent's
//! minus the smaller's. Without sample weights, histograms count bootstrap
//! samples per class in integers (class weights are applied when a split is
//! scored), which keeps them small, exact, and the subtraction lossless. With
//! sample weights ([`Weighted`]) they also sum each class's weight; the
//! subtraction then rounds, but identically on every run and thread count.

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

/// What a histogram bin (or a node) adds up about its samples: how many
/// there are (for `min_samples_leaf`) and each class's weight before class
/// weights (for the split criterion and leaf values).
pub(crate) trait Tally: Copy + PartialEq + Send + Sync {
    /// Nothing.
    const ZERO: Self;
    /// Whether samples carry their own weights (read from the weights slice).
    const WEIGHTED: bool;
    /// `count` bootstrap copies of one sample of `class` whose weight is `weight`.
    fn sample(class: usize, count: u32, weight: f64) -> Self;
    fn add(self, other: Self) -> Self;
    fn sub(self, other: Self) -> Self;
    /// Bootstrap samples.
    fn samples(self) -> u32;
    /// Weight per class: `[legitimate, fraud]`.
    fn class_sums(self) -> [f64; 2];
}

/// Unweighted rows: bootstrap samples per class, `[legitimate, fraud]`.
impl Tally for [u32; 2] {
    const ZERO: Self = [0, 0];
    const WEIGHTED: bool = false;
    #[inline(always)]
    fn sample(class: usize, count: u32, _weight: f64) -> Self {
        // Not `c[class] = count` on an array: that store, then the load of
        // the whole array, stalled store forwarding on every row gathered
        // (a twentieth of training).
        if class == 1 {
            [0, count]
        } else {
            [count, 0]
        }
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        [self[0] + b[0], self[1] + b[1]]
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        [self[0] - b[0], self[1] - b[1]]
    }
    fn samples(self) -> u32 {
        self[0] + self[1]
    }
    fn class_sums(self) -> [f64; 2] {
        [f64::from(self[0]), f64::from(self[1])]
    }
}

/// Rows with sample weights: the samples, and each class's summed weight
/// (bootstrap copies times the row's weight).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Weighted {
    samples: u32,
    sums: [f64; 2],
}

impl Tally for Weighted {
    const ZERO: Self = Weighted {
        samples: 0,
        sums: [0.0, 0.0],
    };
    const WEIGHTED: bool = true;
    #[inline(always)]
    fn sample(class: usize, count: u32, weight: f64) -> Self {
        // As for `[u32; 2]`: no store at a variable index.
        let sum = f64::from(count) * weight;
        Weighted {
            samples: count,
            sums: if class == 1 { [0.0, sum] } else { [sum, 0.0] },
        }
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        Weighted {
            samples: self.samples + b.samples,
            sums: [self.sums[0] + b.sums[0], self.sums[1] + b.sums[1]],
        }
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        // Rounding can leave a hair below zero where a class is gone.
        Weighted {
            samples: self.samples - b.samples,
            sums: [
                (self.sums[0] - b.sums[0]).max(0.0),
                (self.sums[1] - b.sums[1]).max(0.0),
            ],
        }
    }
    fn samples(self) -> u32 {
        self.samples
    }
    fn class_sums(self) -> [f64; 2] {
        self.sums
    }
}

struct Split<T> {
    feature: usize,
    bin: u8,
    left: T,
    gain: f64,
}

/// A node waiting to be split: its samples are `start..end`, its histograms
/// (all features, concatenated) are in `histograms`.
struct Pending<T> {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    totals: T,
    histograms: Vec<T>,
}

/// Grows one tree. `counts[row]` is the row's bootstrap multiplicity (0 =
/// out of bag); `weights[row]` its sample weight, read only when `T` is
/// [`Weighted`] (and may be empty otherwise).
pub(crate) fn grow<T: Tally>(
    binned: &BinnedMatrix,
    labels: &[u8],
    weights: &[f64],
    counts: &[u32],
    params: &GrowParams,
    rng: &mut Rng,
) -> GrownTree {
    let p = binned.n_features;
    let w = binned.stride;
    let in_bag = counts.iter().filter(|&&c| c > 0).count();
    // Gathered branch-free, since about a third of rows are out of bag at
    // random: every row is written at the next free slot, which only an
    // in-bag row then takes (hence one slot of room past the last).
    // meta = bootstrap count << 1 | label.
    let mut meta = vec![0u32; in_bag + 1];
    let mut bins = vec![0u64; (in_bag + 1) * w];
    let mut sample_weights: Vec<f64> = vec![0.0; if T::WEIGHTED { in_bag + 1 } else { 0 }];
    let mut root = T::ZERO;
    let mut next = 0;
    for (row, &count) in counts.iter().enumerate() {
        let y = labels[row];
        meta[next] = count << 1 | u32::from(y);
        if w == 1 {
            bins[next] = binned.words[row];
        } else {
            for (to, &word) in bins[next * w..(next + 1) * w]
                .iter_mut()
                .zip(binned.row(row))
            {
                *to = word;
            }
        }
        let weight = if T::WEIGHTED { weights[row] } else { 1.0 };
        if T::WEIGHTED {
            sample_weights[next] = weight;
        }
        // A row out of bag adds nothing: no samples, and zero weight.
        root = root.add(T::sample(usize::from(y), count, weight));
        next += usize::from(count > 0);
    }
    meta.truncate(in_bag);
    bins.truncate(in_bag * w);
    sample_weights.truncate(if T::WEIGHTED { in_bag } else { 0 });
    let mut offsets = Vec::with_capacity(p + 1);
    offsets.push(0);
    for &n in &binned.n_bins {
        offsets.push(offsets[offsets.len() - 1] + n);
    }
    let mut grower = Grower {
        binned,
        params,
        tree: Tree::default(),
        split_bin: Vec::new(),
        importance: vec![0.0; p],
        features: (0..p).collect(),
        offsets,
        spare: Vec::new(),
        scratch_meta: Vec::new(),
        scratch_bins: Vec::new(),
        scratch_weights: Vec::new(),
    };
    let root_node = grower.push_node(root);
    let mut stack = Vec::new();
    if grower.can_split(root, 0) {
        let histograms = grower.histograms(&meta, &bins, &sample_weights);
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
        let right_totals = totals.sub(split.left);
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
            // Two leaves: their samples need not be sorted apart (at the
            // deepest level, an eighth of the partitioning at depth 8).
            grower.spare.push(histograms);
            continue;
        }
        let node_weights = if T::WEIGHTED {
            &mut sample_weights[start..end]
        } else {
            &mut []
        };
        let mid = start
            + grower.partition(
                &mut meta[start..end],
                &mut bins[start * w..end * w],
                node_weights,
                &split,
            );
        // Histograms for the child with fewer samples; the other's by subtraction.
        let left_is_smaller = split.left.samples() <= right_totals.samples();
        let small = if left_is_smaller {
            start..mid
        } else {
            mid..end
        };
        let small_weights = if T::WEIGHTED {
            &sample_weights[small.clone()]
        } else {
            &[]
        };
        let small_hist = grower.histograms(
            &meta[small.clone()],
            &bins[small.start * w..small.end * w],
            small_weights,
        );
        let mut large_hist = histograms;
        for (l, s) in large_hist.iter_mut().zip(&small_hist) {
            *l = l.sub(*s);
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

struct Grower<'a, T> {
    binned: &'a BinnedMatrix,
    params: &'a GrowParams,
    tree: Tree,
    split_bin: Vec<u8>,
    importance: Vec<f64>,
    features: Vec<usize>,
    /// Feature `f`'s histogram is `offsets[f]..offsets[f + 1]` of a histogram set.
    offsets: Vec<usize>,
    /// Histogram sets no longer needed, reused to avoid allocation.
    spare: Vec<Vec<T>>,
    scratch_meta: Vec<u32>,
    scratch_bins: Vec<u64>,
    scratch_weights: Vec<f64>,
}

impl<T: Tally> Grower<'_, T> {
    fn weights(&self, c: T) -> (f64, f64) {
        let [w0, w1] = self.params.class_weight;
        let [legit, fraud] = c.class_sums();
        let fraud = fraud * w1;
        (legit * w0 + fraud, fraud)
    }

    /// sum over classes of (class weight)^2 / weight: larger means purer; the
    /// weighted Gini impurity is `weight - purity`.
    fn purity(&self, c: T) -> f64 {
        let (weight, fraud) = self.weights(c);
        if weight <= 0.0 {
            return 0.0;
        }
        let legit = weight - fraud;
        (fraud * fraud + legit * legit) / weight
    }

    fn push_node(&mut self, c: T) -> usize {
        let [w0, w1] = self.params.leaf_weight;
        let [legit, fraud] = c.class_sums();
        let fraud = fraud * w1;
        let weight = legit * w0 + fraud;
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
    fn can_split(&self, totals: T, depth: usize) -> bool {
        let [legit, fraud] = totals.class_sums();
        depth < self.params.max_depth
            && legit > 0.0
            && fraud > 0.0
            && totals.samples() >= 2 * self.params.min_samples_leaf
    }

    /// Class tallies per bin of every feature over the given samples
    /// (`weights` parallel to them when `T` is weighted).
    fn histograms(&mut self, meta: &[u32], bins: &[u64], weights: &[f64]) -> Vec<T> {
        let total = self.offsets[self.offsets.len() - 1];
        let mut hist = self.spare.pop().unwrap_or_default();
        hist.clear();
        hist.resize(total, T::ZERO);
        let stride = self.binned.stride;
        let p = self.binned.n_features;
        if stride == 1 {
            // Up to eight features: a count for each known here, so the
            // loop over them unrolls with every histogram's offset in a
            // register, where the general loop below loaded it each time.
            let mut offsets = [0; 8];
            offsets[..p].copy_from_slice(&self.offsets[..p]);
            let count = match p {
                0 => return hist,
                1 => count_one_word::<T, 1>,
                2 => count_one_word::<T, 2>,
                3 => count_one_word::<T, 3>,
                4 => count_one_word::<T, 4>,
                5 => count_one_word::<T, 5>,
                6 => count_one_word::<T, 6>,
                7 => count_one_word::<T, 7>,
                _ => count_one_word::<T, 8>,
            };
            count(&mut hist, &offsets, meta, bins, weights);
            return hist;
        }
        let rows = meta.iter().zip(bins.chunks_exact(stride));
        if T::WEIGHTED {
            for ((&m, row), &weight) in rows.zip(weights) {
                let sample = T::sample((m & 1) as usize, m >> 1, weight);
                for f in 0..p {
                    let h = &mut hist[self.offsets[f] + usize::from(bin_of(row, f))];
                    *h = h.add(sample);
                }
            }
        } else {
            for (&m, row) in rows {
                let sample = T::sample((m & 1) as usize, m >> 1, 1.0);
                for f in 0..p {
                    let h = &mut hist[self.offsets[f] + usize::from(bin_of(row, f))];
                    *h = h.add(sample);
                }
            }
        }
        hist
    }

    fn best_split(&mut self, histograms: &[T], totals: T, rng: &mut Rng) -> Option<Split<T>> {
        let min_leaf = self.params.min_samples_leaf;
        let p = self.binned.n_features;
        let parent_purity = self.purity(totals);
        // Gains below this are rounding noise, not structure.
        let min_gain = 1e-12 * self.weights(totals).0.max(1.0);
        let mut best: Option<Split<T>> = None;
        for k in 0..self.params.max_features.min(p) {
            // Partial Fisher-Yates: a fresh draw of features without replacement.
            let pick = k + rng.below(p - k);
            self.features.swap(k, pick);
            let feature = self.features[k];
            let histogram = &histograms[self.offsets[feature]..self.offsets[feature + 1]];
            let mut left = T::ZERO;
            for (bin, &h) in histogram.iter().enumerate().take(histogram.len() - 1) {
                left = left.add(h);
                if left.samples() < min_leaf {
                    continue;
                }
                let right = totals.sub(left);
                if right.samples() < min_leaf {
                    break;
                }
                if h.samples() == 0 {
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
    /// `weights` (empty when unweighted) move with their samples.
    fn partition(
        &mut self,
        meta: &mut [u32],
        bins: &mut [u64],
        weights: &mut [f64],
        split: &Split<T>,
    ) -> usize {
        let w = self.binned.stride;
        let n = meta.len();
        // Sized once for the largest node (the root) and never cleared: every
        // slot read below was written first.
        if self.scratch_meta.len() < n {
            self.scratch_meta.resize(n, 0);
            self.scratch_bins.resize(n * w, 0);
        }
        if T::WEIGHTED {
            // The same stable partition, for the weights.
            if self.scratch_weights.len() < n {
                self.scratch_weights.resize(n, 0.0);
            }
            let (word, shift) = (split.feature / 8, 8 * (split.feature % 8));
            let (mut kept, mut moved) = (0, 0);
            for i in 0..n {
                let x = weights[i];
                if (bins[i * w + word] >> shift) as u8 <= split.bin {
                    weights[kept] = x;
                    kept += 1;
                } else {
                    self.scratch_weights[moved] = x;
                    moved += 1;
                }
            }
            weights[kept..].copy_from_slice(&self.scratch_weights[..moved]);
        }
        let scratch = (&mut self.scratch_meta[..], &mut self.scratch_bins[..]);
        // Rows of up to 32 features (4 words) get a width known here, so
        // the copies are a few moves: the loop with a width known only at
        // run time, its inner loop over words, was the tree builder's
        // hottest.
        let (feature, bin) = (split.feature, split.bin);
        match w {
            1 => partition_rows::<1>(w, meta, bins, scratch, feature, bin),
            2 => partition_rows::<2>(w, meta, bins, scratch, feature, bin),
            3 => partition_rows::<3>(w, meta, bins, scratch, feature, bin),
            4 => partition_rows::<4>(w, meta, bins, scratch, feature, bin),
            _ => partition_rows::<0>(w, meta, bins, scratch, feature, bin),
        }
    }
}

/// Adds samples whose bins are one word each (`P` features, at most 8) to
/// `hist`, where feature `f`'s histogram starts at `offsets[f]`.
fn count_one_word<T: Tally, const P: usize>(
    hist: &mut [T],
    offsets: &[usize; 8],
    meta: &[u32],
    words: &[u64],
    weights: &[f64],
) {
    for (i, (&m, &word)) in meta.iter().zip(words).enumerate() {
        let weight = if T::WEIGHTED { weights[i] } else { 1.0 };
        let sample = T::sample((m & 1) as usize, m >> 1, weight);
        for (f, &offset) in offsets.iter().enumerate().take(P) {
            let h = &mut hist[offset + usize::from((word >> (8 * f)) as u8)];
            *h = h.add(sample);
        }
    }
}

/// Moves the rows (`meta`, and their `w` words of bins each) whose `feature`
/// bin is at most `bin` to the front, keeping the order on both sides;
/// returns how many went there. `scratch` holds the others on the way.
/// `W` is `w` when the caller knows it, 0 when not.
#[inline(always)]
fn partition_rows<const W: usize>(
    w: usize,
    meta: &mut [u32],
    bins: &mut [u64],
    (scratch_meta, scratch_bins): (&mut [u32], &mut [u64]),
    feature: usize,
    bin: u8,
) -> usize {
    let w = if W > 0 { W } else { w };
    let n = meta.len();
    let (word, shift) = (feature / 8, 8 * (feature % 8));
    let (mut kept, mut moved) = (0, 0);
    for i in 0..n {
        let m = meta[i];
        let goes_left = usize::from((bins[i * w + word] >> shift) as u8 <= bin);
        meta[kept] = m;
        scratch_meta[moved] = m;
        for j in 0..w {
            let b = bins[i * w + j];
            bins[kept * w + j] = b;
            scratch_bins[moved * w + j] = b;
        }
        kept += goes_left;
        moved += 1 - goes_left;
    }
    meta[kept..].copy_from_slice(&scratch_meta[..moved]);
    bins[kept * w..n * w].copy_from_slice(&scratch_bins[..moved * w]);
    kept
}

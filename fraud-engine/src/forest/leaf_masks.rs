//! Batch scoring by leaf bitvectors, with every feature bin's masks
//! precomputed: what many rows are scored with.
//!
//! QuickScorer (Lucchese et al., 2015) numbers a tree's leaves left to
//! right and gives each split a mask with zeros for the leaves of its left
//! subtree. A row reaches the leftmost leaf left in the AND of the masks of
//! the splits it goes right at ("false" splits), whether or not they are
//! on its path: a leaf left of the exit leaf lies in the left subtree of
//! some split on the path that the row went right at, and the exit leaf lies
//! in no false split's left subtree.
//!
//! The thresholds of one feature are few (at most 255 from the trainer's
//! histogram bins), so a row's value can be replaced by its bin, the number
//! of the feature's thresholds below it, and the AND of the masks of every
//! split on the feature that the bin goes right at can be prepared once per
//! bin and tree. A row then costs one binary search per feature and, per
//! tree, one AND per feature and the position of the lowest set bit, instead
//! of a dependent load and compare per level. The tree reached is the one
//! the walk reaches, leaf values are added in the same order, and so scores
//! are bit-identical to the walk's (a property test checks it, on values
//! equal to thresholds and between them).

use super::Tree;

/// Largest table built, in bytes (the default model's is 0.3 MB); a forest
/// that would need more keeps the tree walk, so that a model file cannot
/// make loading allocate much more than the file itself.
const MAX_TABLE_BYTES: usize = 16 << 20;

/// Most leaves in a tree scored by masks. A row reads one mask per feature
/// and tree, of a word per 64 leaves: on the default 8 features, trees of
/// up to 64 leaves (depth 8 on 10k training rows) score about 3x faster
/// than the walk, of up to 128 about 1.5x, of up to 256 (800k rows) 0.7x,
/// so larger trees keep the walk.
const MAX_LEAVES: usize = 128;

/// Rows scored together, so that their sums (each added in tree order)
/// form independent chains.
const ROWS_TOGETHER: usize = 4;

/// Features used by a forest whose per-row scratch fits on the stack.
const STACK_FEATURES: usize = 32;

/// Trees handled per pass over a row's features: their masks stay in
/// registers while the features' rows are ANDed in.
const TREE_CHUNK: usize = 8;

/// A forest's leaf-mask table, for trees of up to 64 or 128 leaves.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LeafMasks(Words);

#[derive(Debug, Clone, PartialEq)]
enum Words {
    W1(Table<1, 64>),
    W2(Table<2, 128>),
}

/// The masks of every (feature, bin, tree), `W` words of 64 leaves each,
/// for trees of up to `L = 64 W` leaves.
#[derive(Debug, Clone, PartialEq)]
struct Table<const W: usize, const L: usize> {
    n_trees: usize,
    /// The features some split tests, and for each, its distinct
    /// thresholds in ascending order and the table row of its bin 0.
    features: Vec<(usize, Vec<f64>, usize)>,
    /// Row `first + bin`, `n_trees` masks: per tree, the leaves left after
    /// every split on the feature that a value of that bin goes right at.
    masks: Vec<[u64; W]>,
    /// Per tree, its leaf values left to right, in `L` slots (so that a
    /// bit position indexes them with no check).
    leaf_values: Vec<[f64; L]>,
}

impl LeafMasks {
    /// Prepares the table for `trees` (already validated against
    /// `n_features`), or `None` when it would not beat the walk: a tree has
    /// more than [`MAX_LEAVES`] leaves, or the table would exceed
    /// [`MAX_TABLE_BYTES`].
    pub(crate) fn new(trees: &[Tree], n_features: usize) -> Option<Self> {
        let leaves = trees
            .iter()
            .map(|t| (0..t.len()).filter(|&i| t.is_leaf(i)).count())
            .max()?;
        Some(LeafMasks(match leaves {
            0..=64 => Words::W1(Table::new(trees, n_features)?),
            65..=MAX_LEAVES => Words::W2(Table::new(trees, n_features)?),
            _ => return None,
        }))
    }

    /// Scores row-major `rows` (`width` values each, every value checked and
    /// filled) into `out`, one probability per row.
    pub(crate) fn predict_block(&self, rows: &[f64], width: usize, out: &mut [f64]) {
        match &self.0 {
            Words::W1(table) => table.predict_block(rows, width, out),
            Words::W2(table) => table.predict_block(rows, width, out),
        }
    }
}

/// One split of one tree, for building the table.
struct SplitMask<const W: usize> {
    feature: usize,
    /// The index of its threshold among the feature's.
    bin: usize,
    tree: usize,
    /// Every leaf but those of its left subtree.
    mask: [u64; W],
}

impl<const W: usize, const L: usize> Table<W, L> {
    fn new(trees: &[Tree], n_features: usize) -> Option<Self> {
        let mut thresholds: Vec<Vec<f64>> = vec![Vec::new(); n_features];
        for tree in trees {
            for node in (0..tree.len()).filter(|&i| !tree.is_leaf(i)) {
                thresholds[tree.feature[node] as usize].push(tree.threshold[node]);
            }
        }
        // Thresholds are finite (validated); equal ones, -0 and 0 among
        // them, make one bin edge.
        for list in &mut thresholds {
            list.sort_by(f64::total_cmp);
            list.dedup_by(|a, b| a == b);
        }
        if thresholds.iter().all(Vec::is_empty) {
            // Trees of one leaf each: nothing to gain over the walk.
            return None;
        }
        let rows: usize = thresholds
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| t.len() + 1)
            .sum();
        let bytes = rows
            .checked_mul(trees.len())?
            .checked_mul(std::mem::size_of::<[u64; W]>())?;
        if bytes > MAX_TABLE_BYTES {
            return None;
        }

        let mut leaf_values = Vec::with_capacity(trees.len());
        let mut splits = Vec::new();
        for (t, tree) in trees.iter().enumerate() {
            let mut values = Vec::with_capacity(L);
            number_leaves(tree, 0, &mut values, &mut |node, left_leaves| {
                let feature = tree.feature[node] as usize;
                let list = &thresholds[feature];
                let mut mask = [u64::MAX; W];
                for leaf in left_leaves {
                    mask[leaf / 64] &= !(1u64 << (leaf % 64));
                }
                splits.push(SplitMask {
                    feature,
                    bin: list.partition_point(|&x| x < tree.threshold[node]),
                    tree: t,
                    mask,
                });
            });
            let mut slots = [0.0; L];
            slots[..values.len()].copy_from_slice(&values);
            leaf_values.push(slots);
        }
        splits.sort_by_key(|s| (s.feature, s.bin));

        let n_trees = trees.len();
        let mut features = Vec::new();
        let mut masks = Vec::with_capacity(rows * n_trees);
        let mut pending = splits.iter().peekable();
        for (feature, list) in thresholds.into_iter().enumerate() {
            if list.is_empty() {
                continue;
            }
            let first = masks.len() / n_trees;
            // Bin 0: no threshold below the value, no split goes right.
            masks.extend(std::iter::repeat_n([u64::MAX; W], n_trees));
            for bin in 1..=list.len() {
                // Bin b goes right at every split whose threshold is one of
                // the b lowest: those of bin b - 1, and bin b - 1's.
                let previous = masks.len() - n_trees;
                masks.extend_from_within(previous..);
                let row = &mut masks[previous + n_trees..];
                while let Some(split) =
                    pending.next_if(|s| s.feature == feature && s.bin == bin - 1)
                {
                    for (word, m) in row[split.tree].iter_mut().zip(split.mask) {
                        *word &= m;
                    }
                }
            }
            features.push((feature, list, first));
        }
        Some(Table {
            n_trees,
            features,
            masks,
            leaf_values,
        })
    }

    fn predict_block(&self, rows: &[f64], width: usize, out: &mut [f64]) {
        let n_trees = self.n_trees;
        let n_used = self.features.len();
        // Per row of a group: where each used feature's row of masks starts.
        // On the stack for the usual widths: one row's score allocated
        // this vector on every call (0.42 against 0.40 us per row).
        let mut on_stack = [0usize; ROWS_TOGETHER * STACK_FEATURES];
        let mut on_heap = Vec::new();
        let starts = match on_stack.get_mut(..ROWS_TOGETHER * n_used) {
            Some(starts) => starts,
            None => {
                on_heap.resize(ROWS_TOGETHER * n_used, 0);
                &mut on_heap[..]
            }
        };
        for (rows, out) in rows
            .chunks(ROWS_TOGETHER * width)
            .zip(out.chunks_mut(ROWS_TOGETHER))
        {
            for (row, starts) in rows.chunks_exact(width).zip(starts.chunks_mut(n_used)) {
                for (start, (feature, thresholds, first)) in starts.iter_mut().zip(&self.features) {
                    let x = row[*feature];
                    *start = (first + thresholds.partition_point(|&t| t < x)) * n_trees;
                }
            }
            let mut sums = [0.0f64; ROWS_TOGETHER];
            let sums = &mut sums[..out.len()];
            let mut chunk = 0;
            while chunk + TREE_CHUNK <= n_trees {
                for (sum, starts) in sums.iter_mut().zip(starts.chunks_exact(n_used)) {
                    let mut left = [[u64::MAX; W]; TREE_CHUNK];
                    for &start in starts {
                        let Some(masks) = self.masks[start + chunk..].first_chunk::<TREE_CHUNK>()
                        else {
                            continue;
                        };
                        and_into(&mut left, masks);
                    }
                    // Added in tree order, as the walk adds them.
                    let Some(values) = self.leaf_values[chunk..].first_chunk::<TREE_CHUNK>() else {
                        continue;
                    };
                    for (words, values) in left.iter().zip(values) {
                        *sum += values[lowest_set_bit(words) & (L - 1)];
                    }
                }
                chunk += TREE_CHUNK;
            }
            // The last trees, fewer than a chunk.
            for (sum, starts) in sums.iter_mut().zip(starts.chunks_exact(n_used)) {
                for tree in chunk..n_trees {
                    let mut words = [u64::MAX; W];
                    for &start in starts {
                        for (word, mask) in words.iter_mut().zip(self.masks[start + tree]) {
                            *word &= mask;
                        }
                    }
                    *sum += self.leaf_values[tree][lowest_set_bit(&words) & (L - 1)];
                }
            }
            for (o, s) in out.iter_mut().zip(sums) {
                *o = *s / n_trees as f64;
            }
        }
    }
}

/// `left &= masks`, word by word: written over flat arrays so that the
/// compiler turns it into vector instructions.
#[inline(always)]
fn and_into<const W: usize>(left: &mut [[u64; W]; TREE_CHUNK], masks: &[[u64; W]; TREE_CHUNK]) {
    let left = left.as_flattened_mut();
    let masks = masks.as_flattened();
    for (l, m) in left.iter_mut().zip(masks) {
        *l &= m;
    }
}

/// The position of the lowest set bit of `words` (one is always set: the
/// exit leaf's). Branch-free: which word holds it is as good as random.
#[inline(always)]
fn lowest_set_bit<const W: usize>(words: &[u64; W]) -> usize {
    let mut position = 0;
    let mut searching = 1usize;
    for &word in words {
        // trailing_zeros of 0 is 64: a word with no leaf left moves on.
        position += searching * word.trailing_zeros() as usize;
        searching &= usize::from(word == 0);
    }
    position
}

/// Appends the leaf values below `node` to `leaves` left to right, and
/// calls `split(node, leaf indices of its left subtree)` for every split.
fn number_leaves(
    tree: &Tree,
    node: usize,
    leaves: &mut Vec<f64>,
    split: &mut impl FnMut(usize, std::ops::Range<usize>),
) {
    if tree.is_leaf(node) {
        leaves.push(tree.value[node]);
        return;
    }
    let start = leaves.len();
    number_leaves(tree, tree.left[node] as usize, leaves, split);
    let left = start..leaves.len();
    number_leaves(tree, tree.right[node] as usize, leaves, split);
    split(node, left);
}

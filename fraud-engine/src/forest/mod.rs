//! Trees as stored in the model file, and the flat layout they are scored from.

use serde::{Deserialize, Serialize};

mod leaf_masks;

use leaf_masks::LeafMasks;

/// Child index marking a leaf in [`Tree`].
pub const NO_CHILD: u32 = u32::MAX;
/// Deepest tree the loader accepts (the trainer never builds deeper ones).
pub const MAX_TREE_DEPTH: usize = 64;

/// One decision tree, one entry per node in each array, root first; every child
/// comes after its parent. At an internal node a row goes left when
/// `x[feature] <= threshold` (the scikit-learn convention).
/// `Tree::default()` is the empty tree that growing starts from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Left child, or [`NO_CHILD`] at a leaf.
    pub left: Vec<u32>,
    /// Right child, or [`NO_CHILD`] at a leaf.
    pub right: Vec<u32>,
    /// Feature index tested at an internal node (0 at leaves).
    pub feature: Vec<u32>,
    /// Split threshold at an internal node (0 at leaves).
    pub threshold: Vec<f64>,
    /// Weighted fraud fraction of the training rows that reached the node.
    pub value: Vec<f64>,
    /// Weighted count of training rows that reached the node (its cover).
    pub cover: Vec<f64>,
}

impl Tree {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.left.len()
    }

    /// Whether node `i` is a leaf.
    pub fn is_leaf(&self, i: usize) -> bool {
        self.left[i] == NO_CHILD
    }

    /// Checks the structure: equal array lengths, children after their parent
    /// and inside the tree (so no cycles), every node but the root reached
    /// exactly once (no orphans, no sharing), depth at most [`MAX_TREE_DEPTH`],
    /// feature indices below `n_features`, finite thresholds, values in [0, 1],
    /// finite non-negative covers. Returns the depth.
    pub fn validate(&self, n_features: usize) -> Result<usize, String> {
        let n = self.len();
        if n == 0 {
            return Err("no nodes".into());
        }
        let lengths = [
            self.right.len(),
            self.feature.len(),
            self.threshold.len(),
            self.value.len(),
            self.cover.len(),
        ];
        if lengths.iter().any(|&l| l != n) {
            return Err("node arrays differ in length".into());
        }
        let mut parents = vec![0u8; n];
        let mut depth = vec![0usize; n];
        let mut max_depth = 0;
        for i in 0..n {
            let (l, r) = (self.left[i], self.right[i]);
            if !(0.0..=1.0).contains(&self.value[i]) {
                return Err(format!(
                    "node {i}: value {} is not a probability",
                    self.value[i]
                ));
            }
            if !self.cover[i].is_finite() || self.cover[i] < 0.0 {
                return Err(format!("node {i}: invalid cover {}", self.cover[i]));
            }
            if l == NO_CHILD && r == NO_CHILD {
                continue;
            }
            for child in [l, r] {
                let c = child as usize;
                if child == NO_CHILD || c <= i || c >= n {
                    return Err(format!(
                        "node {i}: child index {child} is out of order or out of range"
                    ));
                }
                parents[c] += 1;
                if parents[c] > 1 {
                    return Err(format!("node {c} has more than one parent"));
                }
                depth[c] = depth[i] + 1;
                max_depth = max_depth.max(depth[c]);
            }
            if self.feature[i] as usize >= n_features {
                return Err(format!(
                    "node {i}: feature index {} >= {n_features}",
                    self.feature[i]
                ));
            }
            if !self.threshold[i].is_finite() {
                return Err(format!("node {i}: threshold is not finite"));
            }
            if max_depth > MAX_TREE_DEPTH {
                return Err(format!("deeper than {MAX_TREE_DEPTH} levels"));
            }
        }
        if let Some(orphan) = (1..n).find(|&i| parents[i] == 0) {
            return Err(format!("node {orphan} is not reachable from the root"));
        }
        Ok(max_depth)
    }

    /// The leaf `row` reaches, by a plain walk (the reference the flat layout is
    /// tested against). A row goes right when `x > threshold`, so a NaN
    /// (which scoring never passes: missing values are filled first) goes
    /// left, as in the flat layout.
    #[cfg(test)]
    pub fn leaf(&self, row: &[f64]) -> usize {
        let mut i = 0;
        while !self.is_leaf(i) {
            let go_right = row[self.feature[i] as usize] > self.threshold[i];
            i = if go_right {
                self.right[i]
            } else {
                self.left[i]
            } as usize;
        }
        i
    }
}

/// One node of the flat layout. The fields a walk needs sit together in 16
/// bytes (four nodes to a cache line); leaf values live apart because a walk
/// reads one of them, once.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
struct Node {
    /// Split threshold; `+inf` at a leaf, so a leaf's "go right" test is false.
    threshold: f64,
    /// Feature tested (0 at a leaf, so the walk reads a valid slot).
    feature: u32,
    /// Left child's index; the right child is the next node. A leaf points to itself.
    left: u32,
}

/// How trees are walked. All reach the same leaves and add their values in
/// the same order, so they give bit-identical results; they differ in speed.
/// Rows take the leaf masks, one or many (for one row of the 10k-row
/// benchmark model, 0.33 us against the branch-free walk's 0.98 us); the
/// others stay for forests too large for masks and for the benchmarks.
#[cfg_attr(not(any(test, feature = "bench")), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// One walk at a time, `if x <= t { left } else { right }` until a leaf.
    Branchy,
    /// Several walks in lockstep (16 trees for one row, 64 rows for one
    /// tree), each step `i = left + (x > t)` with no branch, for a fixed
    /// number of steps (leaves loop to themselves): independent walks overlap
    /// their memory latency and nothing is mispredicted.
    BranchFree,
    /// No walk: each row's bin per feature picks precomputed leaf masks
    /// (see `leaf_masks`); the branch-free walk when the forest has none.
    LeafMasks,
}

/// Trees walked together for one row in the branch-free walk (16 hid the
/// latency of L2-resident nodes better than 8: 1.03 vs 1.25 us per row).
const TREE_LANES: usize = 16;

/// All trees of a forest in one array, each tree contiguous, children of a node
/// next to each other. Scoring allocates nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Forest {
    nodes: Vec<Node>,
    values: Vec<f64>,
    roots: Vec<u32>,
    /// Depth of each tree: the steps a lockstep walk of it needs.
    depths: Vec<u32>,
    /// Deepest tree of each group of `TREE_LANES` trees.
    group_depths: Vec<u32>,
    n_features: usize,
    /// The leaf-mask table many rows are scored with (shared, as it is the
    /// largest part), or `None` when the trees are too large for it.
    masks: Option<std::sync::Arc<LeafMasks>>,
}

/// Rows per block in the batch path: enough independent walks to hide memory
/// latency, few enough that their accumulators stay in registers and L1.
const BLOCK_ROWS: usize = 64;
/// Rows per parallel task in the batch path.
const TASK_ROWS: usize = 4096;
/// A row held in a power-of-two array for the masked walk (rows with more
/// features take the bounds-checked walk).
const ROW_SLOTS: usize = 64;
/// Slots of the batch path's block of padded rows: `BLOCK_ROWS` rows at a
/// power-of-two stride of up to 64 (wider rows take the bounds-checked walk).
const BLOCK_SLOTS: usize = 4096;

impl Forest {
    /// Checks every tree (see [`Tree::validate`]) and lays them out for
    /// scoring; a forest without trees, or a tree that fails its check, is
    /// an error naming the tree.
    pub fn from_trees(trees: &[Tree], n_features: usize) -> Result<Self, String> {
        if trees.is_empty() {
            return Err("the forest has no trees".into());
        }
        let mut depths = Vec::with_capacity(trees.len());
        for (t, tree) in trees.iter().enumerate() {
            let depth = tree
                .validate(n_features)
                .map_err(|reason| format!("tree {t}: {reason}"))?;
            depths.push(depth as u32);
        }
        let total: usize = trees.iter().map(Tree::len).sum();
        let mut nodes = Vec::with_capacity(total);
        let mut values = Vec::with_capacity(total);
        let mut roots = Vec::with_capacity(trees.len());
        let mut queue = std::collections::VecDeque::new();
        for tree in trees {
            let base = nodes.len();
            roots.push(base as u32);
            // Breadth-first, so both children of a node get consecutive slots.
            nodes.push(Node {
                threshold: f64::INFINITY,
                feature: 0,
                left: 0,
            });
            values.push(0.0);
            queue.push_back((0usize, base));
            while let Some((src, dst)) = queue.pop_front() {
                values[dst] = tree.value[src];
                if tree.is_leaf(src) {
                    nodes[dst] = Node {
                        threshold: f64::INFINITY,
                        feature: 0,
                        left: dst as u32,
                    };
                    continue;
                }
                let left = nodes.len();
                nodes.push(Node {
                    threshold: f64::INFINITY,
                    feature: 0,
                    left: 0,
                });
                nodes.push(Node {
                    threshold: f64::INFINITY,
                    feature: 0,
                    left: 0,
                });
                values.extend([0.0, 0.0]);
                nodes[dst] = Node {
                    threshold: tree.threshold[src],
                    feature: tree.feature[src],
                    left: left as u32,
                };
                queue.push_back((tree.left[src] as usize, left));
                queue.push_back((tree.right[src] as usize, left + 1));
            }
        }
        let group_depths = depths
            .chunks(TREE_LANES)
            .map(|g| g.iter().copied().max().unwrap_or(0))
            .collect();
        Ok(Forest {
            nodes,
            values,
            roots,
            depths,
            group_depths,
            n_features,
            masks: LeafMasks::new(trees, n_features).map(std::sync::Arc::new),
        })
    }

    /// The deepest tree's depth.
    pub fn max_depth(&self) -> u32 {
        self.depths.iter().copied().max().unwrap_or(0)
    }

    /// Total number of nodes.
    #[cfg(feature = "bench")]
    pub fn n_nodes(&self) -> usize {
        self.nodes.len()
    }

    #[inline(always)]
    fn leaf_branchy(&self, root: u32, row: &[f64]) -> usize {
        let mut i = root as usize;
        loop {
            let node = self.nodes[i];
            if node.left as usize == i {
                return i;
            }
            i = if row[node.feature as usize] <= node.threshold {
                node.left as usize
            } else {
                node.left as usize + 1
            };
        }
    }

    /// One branch-free step: a leaf steps to itself.
    #[inline(always)]
    fn step(&self, i: u32, row: &[f64]) -> u32 {
        let node = self.nodes[i as usize];
        node.left + u32::from(row[node.feature as usize] > node.threshold)
    }

    /// [`Forest::step`] reading the row from a power-of-two array through a
    /// mask: the feature index is in range by construction (validated below
    /// the feature count), and the mask lets the compiler drop the bounds
    /// check the walk would otherwise pay at every step.
    #[inline(always)]
    fn step_masked<const SLOTS: usize>(&self, i: u32, row: &[f64; SLOTS], base: usize) -> u32 {
        let node = self.nodes[i as usize];
        node.left + u32::from(row[(base | node.feature as usize) & (SLOTS - 1)] > node.threshold)
    }

    /// Fraud probability of one encoded row: the mean over trees of the leaf
    /// value. `row.len()` must equal [`Forest::n_features`] (callers check;
    /// the forest is not part of the public API).
    pub fn predict(&self, row: &[f64]) -> f64 {
        self.predict_with(Walk::LeafMasks, row)
    }

    /// [`Forest::predict`] with a chosen walk (for the benchmarks).
    pub fn predict_with(&self, walk: Walk, row: &[f64]) -> f64 {
        let row = &row[..self.n_features];
        let mut sum = 0.0;
        match walk {
            Walk::LeafMasks => {
                if let Some(masks) = &self.masks {
                    let mut out = [0.0];
                    masks.predict_block(row, self.n_features.max(1), &mut out);
                    return out[0];
                }
                return self.predict_with(Walk::BranchFree, row);
            }
            Walk::Branchy => {
                for &root in &self.roots {
                    sum += self.values[self.leaf_branchy(root, row)];
                }
            }
            Walk::BranchFree if row.len() <= ROW_SLOTS => {
                let mut padded = [0.0f64; ROW_SLOTS];
                padded[..row.len()].copy_from_slice(row);
                for (roots, &depth) in self.roots.chunks(TREE_LANES).zip(&self.group_depths) {
                    let mut at = [0u32; TREE_LANES];
                    at[..roots.len()].copy_from_slice(roots);
                    if roots.len() == TREE_LANES {
                        // A full group: a fixed-size loop the compiler unrolls.
                        for _ in 0..depth {
                            for i in &mut at {
                                *i = self.step_masked(*i, &padded, 0);
                            }
                        }
                    } else {
                        for _ in 0..depth {
                            for i in &mut at[..roots.len()] {
                                *i = self.step_masked(*i, &padded, 0);
                            }
                        }
                    }
                    // Added in tree order, as the branchy walk adds them.
                    for &i in &at[..roots.len()] {
                        sum += self.values[i as usize];
                    }
                }
            }
            Walk::BranchFree => {
                for (roots, &depth) in self.roots.chunks(TREE_LANES).zip(&self.group_depths) {
                    let mut at = [0u32; TREE_LANES];
                    at[..roots.len()].copy_from_slice(roots);
                    for _ in 0..depth {
                        for i in &mut at[..roots.len()] {
                            *i = self.step(*i, row);
                        }
                    }
                    for &i in &at[..roots.len()] {
                        sum += self.values[i as usize];
                    }
                }
            }
        }
        sum / self.roots.len() as f64
    }

    /// Scores row-major `rows` (`n_features` values each) into `out`, one
    /// probability per row, using the rayon thread pool in scope. Gives exactly
    /// the values [`Forest::predict`] gives, row by row. Rows and outputs
    /// that do not match in number are an error, not a partial result.
    pub fn predict_batch(&self, rows: &[f64], out: &mut [f64]) -> crate::Result<()> {
        self.predict_batch_with(Walk::LeafMasks, rows, out)
    }

    /// [`Forest::predict_batch`] with a chosen walk (for the benchmarks).
    pub fn predict_batch_with(
        &self,
        walk: Walk,
        rows: &[f64],
        out: &mut [f64],
    ) -> crate::Result<()> {
        use rayon::prelude::*;
        let width = self.n_features.max(1);
        if rows.len() != out.len() * width {
            return Err(crate::Error::input(
                "rows",
                format!(
                    "{} values do not make {} rows of {width} features",
                    rows.len(),
                    out.len()
                ),
            ));
        }
        let n = out.len();
        if n <= TASK_ROWS {
            self.predict_block(walk, rows, out);
            return Ok(());
        }
        out.par_chunks_mut(TASK_ROWS)
            .zip(rows.par_chunks(TASK_ROWS * width))
            .for_each(|(out, rows)| self.predict_block(walk, rows, out));
        Ok(())
    }

    /// Walks blocks of rows tree by tree, so a tree's nodes stay in cache
    /// while many independent walks overlap their memory latency.
    pub(crate) fn predict_block(&self, walk: Walk, rows: &[f64], out: &mut [f64]) {
        let width = self.n_features.max(1);
        let walk = match (walk, &self.masks) {
            (Walk::LeafMasks, Some(masks)) => return masks.predict_block(rows, width, out),
            (Walk::LeafMasks, None) => Walk::BranchFree,
            (walk, _) => walk,
        };
        // Rows are copied into a power-of-two array, a row every
        // `1 << shift` slots, so that the walk can index it through a mask.
        let stride = width.next_power_of_two();
        let padded_shift = (stride * BLOCK_ROWS <= BLOCK_SLOTS).then(|| stride.trailing_zeros());
        let mut padded = [0.0f64; BLOCK_SLOTS];
        for (out, rows) in out
            .chunks_mut(BLOCK_ROWS)
            .zip(rows.chunks(BLOCK_ROWS * width))
        {
            let n_rows = out.len();
            if padded_shift.is_some() {
                for (r, row) in rows.chunks_exact(width).enumerate() {
                    padded[r * stride..r * stride + width].copy_from_slice(row);
                }
            }
            let mut sums = [0.0f64; BLOCK_ROWS];
            let sums = &mut sums[..n_rows];
            for (&root, &depth) in self.roots.iter().zip(&self.depths) {
                match walk {
                    Walk::Branchy => {
                        for (sum, row) in sums.iter_mut().zip(rows.chunks_exact(width)) {
                            *sum += self.values[self.leaf_branchy(root, &row[..self.n_features])];
                        }
                    }
                    Walk::BranchFree | Walk::LeafMasks => {
                        let mut at = [root; BLOCK_ROWS];
                        if let Some(shift) = padded_shift {
                            for _ in 0..depth {
                                for (r, i) in at.iter_mut().enumerate().take(n_rows) {
                                    *i = self.step_masked(*i, &padded, r << shift);
                                }
                            }
                        } else {
                            for _ in 0..depth {
                                for (i, row) in at.iter_mut().zip(rows.chunks_exact(width)) {
                                    *i = self.step(*i, row);
                                }
                            }
                        }
                        for (sum, &i) in sums.iter_mut().zip(&at) {
                            *sum += self.values[i as usize];
                        }
                    }
                }
            }
            let n_trees = self.roots.len() as f64;
            for (o, s) in out.iter_mut().zip(sums.iter()) {
                *o = s / n_trees;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x0 <= 0.5 ? (x1 <= 2 ? 0.1 : 0.9) : 0.4, stored in a non-BFS order.
    pub(crate) fn small_tree() -> Tree {
        Tree {
            left: vec![1, 2, NO_CHILD, NO_CHILD, NO_CHILD],
            right: vec![4, 3, NO_CHILD, NO_CHILD, NO_CHILD],
            feature: vec![0, 1, 0, 0, 0],
            threshold: vec![0.5, 2.0, 0.0, 0.0, 0.0],
            value: vec![0.3, 0.5, 0.1, 0.9, 0.4],
            cover: vec![10.0, 6.0, 3.0, 3.0, 4.0],
        }
    }

    #[test]
    fn flat_walk_matches_tree_walk() {
        let tree = small_tree();
        assert_eq!(tree.validate(2), Ok(2));
        let forest = Forest::from_trees(&[tree.clone(), tree.clone()], 2).expect("valid");
        for row in [[0.0, 0.0], [0.5, 2.0], [0.5, 2.1], [0.6, 0.0], [-1.0, 9.0]] {
            let expected = tree.value[tree.leaf(&row)];
            assert_eq!(forest.predict_with(Walk::Branchy, &row), expected);
            assert_eq!(forest.predict_with(Walk::BranchFree, &row), expected);
        }
        let rows: Vec<f64> = (0..10_000)
            .flat_map(|i| [f64::from(i % 3) * 0.4, f64::from(i % 5)])
            .collect();
        let mut out = vec![0.0; 10_000];
        forest.predict_batch(&rows, &mut out).expect("scores");
        for (row, p) in rows.chunks(2).zip(&out) {
            assert_eq!(*p, forest.predict(row));
        }
        // Rows and outputs that disagree are an error, never a partial result.
        let mut short = vec![0.0; 9_999];
        assert!(forest.predict_batch(&rows, &mut short).is_err());
        assert!(forest.predict_batch(&rows[1..], &mut out).is_err());
    }

    #[test]
    fn validate_rejects_bad_structure() {
        let mut cycle = small_tree();
        cycle.left[1] = 0;
        assert!(cycle.validate(2).is_err());
        let mut shared = small_tree();
        shared.right[1] = 2;
        assert!(shared
            .validate(2)
            .unwrap_err()
            .contains("more than one parent"));
        let mut feature = small_tree();
        feature.feature[0] = 2;
        assert!(feature.validate(2).is_err());
        let mut value = small_tree();
        value.value[3] = 1.5;
        assert!(value.validate(2).is_err());
        let mut threshold = small_tree();
        threshold.threshold[0] = f64::NAN;
        assert!(threshold.validate(2).is_err());
        let mut half_leaf = small_tree();
        half_leaf.right[1] = NO_CHILD;
        assert!(half_leaf.validate(2).is_err());
        assert!(Forest::from_trees(&[small_tree(), cycle], 2)
            .expect_err("cycle")
            .starts_with("tree 1:"));
        assert!(Forest::from_trees(&[], 2).is_err());
    }

    /// A random valid tree over `n_features` features, grown from a list of
    /// random split decisions.
    fn arb_tree(n_features: usize) -> impl Strategy<Value = Tree> {
        prop::collection::vec(
            (any::<bool>(), 0..n_features, -5.0f64..5.0, 0.0f64..=1.0),
            1..60,
        )
        .prop_map(move |plan| {
            let mut tree = Tree::default();
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

    /// A random tree of up to 150 leaves over `n_features` features, with
    /// thresholds on a coarse grid (so trees share them and rows hit them),
    /// -0.0 and 0.0 among them.
    fn arb_wide_tree(n_features: usize) -> impl Strategy<Value = Tree> {
        prop::collection::vec((0u8..10, 0..n_features, -6i32..6, 0.0f64..=1.0), 1..300).prop_map(
            move |plan| {
                let mut tree = Tree {
                    left: vec![NO_CHILD],
                    right: vec![NO_CHILD],
                    feature: vec![0],
                    threshold: vec![0.0],
                    value: vec![0.5],
                    cover: vec![1.0],
                };
                let mut frontier = std::collections::VecDeque::from([(0usize, 0usize)]);
                for &(split, feature, grid, value) in &plan {
                    let Some((node, depth)) = frontier.pop_front() else {
                        break;
                    };
                    if split == 0 || depth >= 10 {
                        continue;
                    }
                    for v in [value, 1.0 - value] {
                        tree.left.push(NO_CHILD);
                        tree.right.push(NO_CHILD);
                        tree.feature.push(0);
                        tree.threshold.push(0.0);
                        tree.value.push(v);
                        tree.cover.push(1.0);
                    }
                    let l = tree.left.len() - 2;
                    tree.left[node] = l as u32;
                    tree.right[node] = l as u32 + 1;
                    tree.feature[node] = feature as u32;
                    tree.threshold[node] = if grid == 0 {
                        -0.0
                    } else {
                        f64::from(grid) / 4.0
                    };
                    frontier.push_back((l, depth + 1));
                    frontier.push_back((l + 1, depth + 1));
                }
                tree
            },
        )
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn flat_forest_equals_reference_walk(
            trees in prop::collection::vec(arb_tree(4), 1..8),
            rows in prop::collection::vec(prop::collection::vec(-6.0f64..6.0, 4), 1..50),
        ) {
            let forest = Forest::from_trees(&trees, 4).expect("valid trees");
            let mut batch = vec![0.0; rows.len()];
            let flat: Vec<f64> = rows.iter().flatten().copied().collect();
            forest.predict_batch(&flat, &mut batch).expect("scores");
            for (row, &b) in rows.iter().zip(&batch) {
                let mut sum = 0.0;
                for tree in &trees {
                    sum += tree.value[tree.leaf(row)];
                }
                let expected = sum / trees.len() as f64;
                prop_assert_eq!(forest.predict(row), expected);
                prop_assert_eq!(forest.predict_with(Walk::Branchy, row), expected);
                prop_assert_eq!(b, expected);
            }
        }

        /// The leaf masks give exactly the walk's scores: on rows whose
        /// values equal thresholds, fall between them, are -0.0, 0.0, NaN or
        /// infinite, and on trees wide enough to need 2 and 4 mask words.
        #[test]
        fn leaf_masks_equal_the_walk_bit_for_bit(
            trees in prop::collection::vec(arb_wide_tree(5), 1..20),
            picks in prop::collection::vec(
                prop::collection::vec((0usize..6, any::<prop::sample::Index>(), -1.0f64..1.0), 5),
                1..40,
            ),
        ) {
            let forest = Forest::from_trees(&trees, 5).expect("valid trees");
            // Trees of one leaf each, and trees of more than 128 leaves, have
            // no masks (and keep the walk).
            let leaves = |t: &Tree| (0..t.len()).filter(|&i| t.is_leaf(i)).count();
            prop_assert_eq!(
                forest.masks.is_some(),
                trees.iter().any(|t| t.len() > 1) && trees.iter().all(|t| leaves(t) <= 128)
            );
            let mut thresholds: Vec<f64> =
                trees.iter().flat_map(|t| t.threshold.iter().copied()).collect();
            thresholds.sort_by(f64::total_cmp);
            let rows: Vec<Vec<f64>> = picks
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|&(kind, index, noise)| {
                            let t = *index.get(&thresholds);
                            match kind {
                                0 => t,
                                // Between t and the next representable value.
                                1 => t + t.abs().max(1e-300) * f64::EPSILON * noise.abs(),
                                2 => t + noise,
                                3 => [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][index.index(3)],
                                4 => [-0.0, 0.0][index.index(2)],
                                _ => f64::from_bits(t.to_bits().wrapping_sub(1)),
                            }
                        })
                        .collect()
                })
                .collect();
            let flat: Vec<f64> = rows.iter().flatten().copied().collect();
            let mut masked = vec![0.0; rows.len()];
            forest.predict_batch(&flat, &mut masked).expect("scores");
            let mut walked = vec![0.0; rows.len()];
            forest
                .predict_batch_with(Walk::BranchFree, &flat, &mut walked)
                .expect("scores");
            for ((row, &m), &w) in rows.iter().zip(&masked).zip(&walked) {
                let mut sum = 0.0;
                for tree in &trees {
                    sum += tree.value[tree.leaf(row)];
                }
                let expected = sum / trees.len() as f64;
                prop_assert_eq!(m.to_bits(), expected.to_bits(), "{:?}", row);
                prop_assert_eq!(w.to_bits(), expected.to_bits());
                prop_assert_eq!(forest.predict_with(Walk::LeafMasks, row).to_bits(), expected.to_bits());
            }
        }

        /// Arbitrary node arrays (cycles, self-loops, out-of-range links)
        /// are refused or laid out, in bounded time, never a panic or a loop.
        #[test]
        fn any_node_arrays_are_an_error_or_a_forest(
            nodes in prop::collection::vec(
                (0u32..12, 0u32..12, 0u32..4, -2.0f64..2.0, -0.5f64..1.5),
                1..12,
            ),
            leaf_marks in prop::collection::vec(any::<bool>(), 12),
        ) {
            let link = |c: u32, i: usize| if leaf_marks[i] { NO_CHILD } else { c };
            let tree = Tree {
                left: nodes.iter().enumerate().map(|(i, n)| link(n.0, i)).collect(),
                right: nodes.iter().enumerate().map(|(i, n)| link(n.1, i)).collect(),
                feature: nodes.iter().map(|n| n.2).collect(),
                threshold: nodes.iter().map(|n| n.3).collect(),
                value: nodes.iter().map(|n| n.4).collect(),
                cover: vec![1.0; nodes.len()],
            };
            if let Ok(forest) = Forest::from_trees(&[tree], 3) {
                let p = forest.predict(&[0.0, 1.0, -1.0]);
                prop_assert!((0.0..=1.0).contains(&p));
            }
        }
    }
}

//! Training a random forest: binning, bootstrap, trees in parallel, out-of-bag
//! evaluation and the default decision threshold.

mod binning;
mod tree;

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::explain;
use crate::forest::{Tree, NO_CHILD};
use crate::merge::OobPool;
use crate::metrics::{self, ThresholdStrategy};
use crate::model::{Decision, Metadata, Model, RiskBands};
use crate::preprocess::Pipeline;
use crate::rng::Rng;

/// How classes are weighted in the split criterion and leaf values (on top
/// of any per-row weights, see [`Dataset::with_weights`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ClassWeight {
    /// Every row counts once.
    None,
    /// Each class weighs `rows / (2 * rows of that class)`, as scikit-learn's
    /// `class_weight="balanced"`.
    Balanced,
    /// Given weights, as scikit-learn's `class_weight={0: .., 1: ..}`;
    /// written `legitimate:fraud`, such as `1:20`. Like sample weights, they
    /// also weigh the rows in the out-of-bag metrics and the threshold
    /// chosen from them.
    Weights {
        /// Weight of a legitimate row.
        legitimate: f64,
        /// Weight of a fraud.
        fraud: f64,
    },
}

impl ClassWeight {
    /// Checks that given weights are finite, zero or more, and not both zero.
    pub fn validate(&self) -> Result<()> {
        if let ClassWeight::Weights { legitimate, fraud } = *self {
            let fine = |w: f64| w.is_finite() && w >= 0.0;
            if !fine(legitimate) || !fine(fraud) || legitimate + fraud <= 0.0 {
                return Err(Error::InvalidParams {
                    name: "class_weight",
                    reason: format!(
                        "weights {legitimate} (legitimate) and {fraud} (fraud) must be finite, \
                         zero or more, and not both zero"
                    ),
                });
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for ClassWeight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClassWeight::None => f.write_str("none"),
            ClassWeight::Balanced => f.write_str("balanced"),
            ClassWeight::Weights { legitimate, fraud } => write!(f, "{legitimate}:{fraud}"),
        }
    }
}

impl std::str::FromStr for ClassWeight {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim().to_ascii_lowercase();
        let weights = text.split_once(':').and_then(|(legitimate, fraud)| {
            Some(ClassWeight::Weights {
                legitimate: legitimate.trim().parse().ok()?,
                fraud: fraud.trim().parse().ok()?,
            })
        });
        let weight = match text.as_str() {
            "none" => ClassWeight::None,
            "balanced" => ClassWeight::Balanced,
            _ => weights.ok_or_else(|| Error::InvalidParams {
                name: "class_weight",
                reason: format!(
                    "`{text}` is not none, balanced, or two weights legitimate:fraud such as 1:20"
                ),
            })?,
        };
        weight.validate()?;
        Ok(weight)
    }
}

/// Training parameters. The defaults were chosen by measurement on the
/// synthetic generator (see `docs/TRAINING.md`): they rank as well as
/// scikit-learn's best setting while keeping trees small enough to score a
/// transaction in about a microsecond.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// Number of trees.
    pub n_trees: usize,
    /// Deepest level a tree grows to (the root is level 0).
    pub max_depth: usize,
    /// Fewest (bootstrap) samples a leaf may hold.
    pub min_samples_leaf: u32,
    /// Features drawn as split candidates at each node; `None` = sqrt of the count.
    pub max_features: Option<usize>,
    /// Class weighting.
    pub class_weight: ClassWeight,
    /// Draw a bootstrap sample per tree (also what makes out-of-bag metrics possible).
    pub bootstrap: bool,
    /// Histogram bins per feature, 2..=256.
    pub max_bins: usize,
    /// Seed: the same data, parameters and seed give the same model on any
    /// number of threads.
    pub seed: u64,
    /// How the decision threshold is chosen from the out-of-bag scores.
    pub threshold_strategy: ThresholdStrategy,
    /// Risk bands; `None` derives them from the threshold (see [`RiskBands::around`]).
    pub risk_bands: Option<RiskBands>,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            n_trees: 100,
            max_depth: 8,
            min_samples_leaf: 30,
            max_features: None,
            class_weight: ClassWeight::None,
            bootstrap: true,
            max_bins: 256,
            seed: 42,
            threshold_strategy: ThresholdStrategy::MaxF1,
            risk_bands: None,
        }
    }
}

impl TrainParams {
    /// Checks every parameter's domain; the error names the first one out
    /// of it.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, reason: &str| {
            Err(Error::InvalidParams {
                name,
                reason: reason.into(),
            })
        };
        if self.n_trees == 0 || self.n_trees > 10_000 {
            return bad("n_trees", "must be between 1 and 10000");
        }
        if self.max_depth == 0 || self.max_depth > crate::forest::MAX_TREE_DEPTH {
            return bad("max_depth", "must be between 1 and 64");
        }
        if self.min_samples_leaf == 0 {
            return bad("min_samples_leaf", "must be at least 1");
        }
        if self.max_features == Some(0) {
            return bad("max_features", "must be at least 1");
        }
        if !(2..=256).contains(&self.max_bins) {
            return bad("max_bins", "must be between 2 and 256");
        }
        self.class_weight.validate()?;
        if let Some(bands) = self.risk_bands {
            bands.validate()?;
        }
        Ok(())
    }
}

/// Progress callback: `(trees done, trees in all)`.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Training rows whose out-of-bag SHAP values make the global importances.
const SHAP_ROWS: usize = 256;

/// Out-of-bag sums are kept in fixed point so that adding them in any order,
/// from any number of threads, gives bit-identical results.
const OOB_SCALE: f64 = (1u64 << 40) as f64;

/// Trains models: validated parameters, and how to run (threads, progress).
///
/// ```
/// use fraud_engine::{synth, TrainParams, Trainer};
///
/// let data = synth::generate(3_000, 1);
/// let params = TrainParams { n_trees: 10, ..TrainParams::default() };
/// let model = Trainer::new(params)?.threads(1)?.train(&data)?;
/// assert_eq!(model.n_trees(), 10);
/// # Ok::<(), fraud_engine::Error>(())
/// ```
#[derive(Clone)]
pub struct Trainer<'p> {
    params: TrainParams,
    threads: Option<usize>,
    progress: Option<Progress<'p>>,
}

impl std::fmt::Debug for Trainer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("params", &self.params)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl<'p> Trainer<'p> {
    /// A trainer for `params`, checked first (see [`TrainParams::validate`]).
    pub fn new(params: TrainParams) -> Result<Self> {
        params.validate()?;
        Ok(Trainer {
            params,
            threads: None,
            progress: None,
        })
    }

    /// Trains on `threads` worker threads instead of rayon's default pool.
    /// The model is the same on any number of threads.
    pub fn threads(mut self, threads: usize) -> Result<Self> {
        if threads == 0 {
            return Err(Error::InvalidParams {
                name: "threads",
                reason: "must be at least 1".into(),
            });
        }
        self.threads = Some(threads);
        Ok(self)
    }

    /// Calls `progress(trees done, trees in all)` as trees finish.
    pub fn progress(mut self, progress: Progress<'p>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The parameters it trains with.
    pub fn params(&self) -> &TrainParams {
        &self.params
    }

    /// Trains a model on a labelled dataset.
    pub fn train(&self, data: &Dataset) -> Result<Model> {
        Ok(self.train_planned(data, None)?.0)
    }

    /// Trains a whole model, or with a `part` plan one part of a forest
    /// trained apart (see [`crate::merge`]); returns the part's out-of-bag
    /// predictions too.
    pub(crate) fn train_planned(
        &self,
        data: &Dataset,
        part: Option<&PartPlan<'_>>,
    ) -> Result<(Model, OobPool)> {
        let labels = data.labels().ok_or_else(|| {
            Error::schema(
                "dataset",
                format!("training needs the label column `{}`", data.schema().label),
            )
        })?;
        let n = data.n_rows();
        let frauds = labels.iter().filter(|&&y| y == 1).count();
        // A part sees one partition: the classes must both be present in
        // the data as a whole (its encoding), not in every partition.
        let (all_rows, all_frauds) = part.map_or((n as u64, frauds as u64), |p| p.class_counts);
        if all_frauds == 0 || all_frauds == all_rows {
            return Err(Error::schema(
                "dataset",
                format!(
                    "the label `{}` needs both classes; found {frauds} frauds in {n} rows",
                    data.schema().label
                ),
            ));
        }
        if let Some(weights) = data.weights() {
            let weighs = |class: u8| {
                labels
                    .iter()
                    .zip(weights)
                    .any(|(&y, &w)| y == class && w > 0.0)
            };
            if !weighs(0) || !weighs(1) {
                return Err(Error::input(
                    "sample_weight",
                    "every row of one class weighs zero; both classes need weight to learn from",
                ));
            }
        }
        if n > u32::MAX as usize {
            return Err(Error::InvalidParams {
                name: "rows",
                reason: "more than 2^32 rows".into(),
            });
        }
        let run = || train_in_pool(data, labels, &self.params, self.progress, part);
        match self.threads {
            Some(t) => rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .map_err(|e| Error::InvalidParams {
                    name: "threads",
                    reason: e.to_string(),
                })?
                .install(run),
            None => run(),
        }
    }
}

/// Trains a model on a labelled dataset with rayon's default pool: the
/// short form of [`Trainer::new`] then [`Trainer::train`].
pub fn train(data: &Dataset, params: &TrainParams) -> Result<Model> {
    Trainer::new(params.clone())?.train(data)
}

/// What one part of a forest trained apart is given: the encoding fitted
/// once for every part, the class counts of all the data, and the global
/// indices of its trees (each tree's random stream is its global index, so
/// the same seed and partitioning give the same forest).
pub(crate) struct PartPlan<'a> {
    pub pipeline: &'a Pipeline,
    pub schema: &'a crate::schema::Schema,
    pub class_counts: (u64, u64),
    pub trees: std::ops::Range<usize>,
}

fn train_in_pool(
    data: &Dataset,
    labels: &[u8],
    params: &TrainParams,
    progress: Option<Progress<'_>>,
    part: Option<&PartPlan<'_>>,
) -> Result<(Model, OobPool)> {
    let n = labels.len();
    let pipeline = match part {
        Some(plan) => plan.pipeline.clone(),
        None => Pipeline::fit(data)?,
    };
    let tree_range = part.map_or(0..params.n_trees, |p| p.trees.clone());
    let n_trees = tree_range.len();
    let columns = pipeline.transform_columns(data);
    let bins = binning::bin_columns(&columns, params.max_bins);
    // Rows whose out-of-bag SHAP values give the global importances: evenly
    // spaced, so the choice depends on nothing but the row count.
    let shap_rows: Vec<usize> = (0..SHAP_ROWS.min(n))
        .map(|k| k * n / SHAP_ROWS.min(n))
        .collect();
    let shap_encoded: Vec<Vec<f64>> = shap_rows
        .iter()
        .map(|&r| columns.iter().map(|c| c[r]).collect())
        .collect();
    drop(columns);
    // A part weighs the classes by their counts in all of the data.
    let (n_weighted, frauds) = part.map_or(
        (n as f64, labels.iter().filter(|&&y| y == 1).count() as f64),
        |p| (p.class_counts.0 as f64, p.class_counts.1 as f64),
    );
    let class_weight = match params.class_weight {
        ClassWeight::None => [1.0, 1.0],
        ClassWeight::Balanced => [
            n_weighted / (2.0 * (n_weighted - frauds)),
            n_weighted / (2.0 * frauds),
        ],
        ClassWeight::Weights { legitimate, fraud } => [legitimate, fraud],
    };
    let weights = data.weights();
    let n_features = bins.n_features;
    let grow_params = tree::GrowParams {
        max_depth: params.max_depth,
        min_samples_leaf: params.min_samples_leaf,
        max_features: params
            .max_features
            .unwrap_or_else(|| (n_features as f64).sqrt().round().max(1.0) as usize)
            .min(n_features),
        class_weight,
    };
    let oob_sum: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
    let oob_count: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
    let done = AtomicU32::new(0);
    let shap_sum: Vec<AtomicI64> = (0..shap_rows.len() * n_features)
        .map(|_| AtomicI64::new(0))
        .collect();
    let shap_count: Vec<AtomicU32> = (0..shap_rows.len()).map(|_| AtomicU32::new(0)).collect();

    let grown: Vec<(Tree, Vec<f64>)> = tree_range
        .into_par_iter()
        .map(|t| {
            let mut rng = Rng::new(params.seed, t as u64);
            let counts = bootstrap(n, params.bootstrap, &mut rng);
            let grown = match weights {
                None => tree::grow::<[u32; 2]>(&bins, labels, &[], &counts, &grow_params, &mut rng),
                Some(w) => {
                    tree::grow::<tree::Weighted>(&bins, labels, w, &counts, &grow_params, &mut rng)
                }
            };
            let out_of_bag: Vec<u32> = (0..n as u32).filter(|&r| counts[r as usize] == 0).collect();
            add_oob_values(&grown, &bins, &out_of_bag, &oob_sum, &oob_count);
            let paths = explain::TreePaths::new(&grown.tree);
            let mut phi = vec![0.0; n_features];
            for (k, &row) in shap_rows.iter().enumerate() {
                if counts[row] == 0 {
                    phi.fill(0.0);
                    paths.add_shap(&shap_encoded[k], &mut phi, 1.0);
                    for (f, v) in phi.iter().enumerate() {
                        shap_sum[k * n_features + f]
                            .fetch_add((v * OOB_SCALE).round() as i64, Ordering::Relaxed);
                    }
                    shap_count[k].fetch_add(1, Ordering::Relaxed);
                }
            }
            if let Some(report) = progress {
                report(done.fetch_add(1, Ordering::Relaxed) as usize + 1, n_trees);
            }
            let total: f64 = grown.importance.iter().sum();
            let importance = grown
                .importance
                .iter()
                .map(|g| if total > 0.0 { g / total } else { 0.0 })
                .collect();
            (grown.tree, importance)
        })
        .collect();

    let mut impurity_importances = vec![0.0; n_features];
    for (_, tree_importance) in &grown {
        for (sum, v) in impurity_importances.iter_mut().zip(tree_importance) {
            *sum += v / n_trees as f64;
        }
    }
    // Mean |SHAP| over the sampled rows, each row's SHAP values averaged over
    // the trees it was out of bag for (as its out-of-bag prediction is).
    let mut shap_importances = vec![0.0; n_features];
    let explained_rows = shap_count
        .iter()
        .filter(|c| c.load(Ordering::Relaxed) > 0)
        .count()
        .max(1) as f64;
    for (k, count) in shap_count.iter().enumerate() {
        let count = count.load(Ordering::Relaxed);
        if count == 0 {
            continue;
        }
        for (f, importance) in shap_importances.iter_mut().enumerate() {
            let mean = shap_sum[k * n_features + f].load(Ordering::Relaxed) as f64
                / OOB_SCALE
                / f64::from(count);
            *importance += mean.abs() / explained_rows;
        }
    }
    let trees: Vec<Tree> = grown.into_iter().map(|(tree, _)| tree).collect();

    let oob_rows: Vec<usize> = (0..n)
        .filter(|&r| oob_count[r].load(Ordering::Relaxed) > 0)
        .collect();
    let oob_scores: Vec<f64> = oob_rows
        .iter()
        .map(|&r| {
            oob_sum[r].load(Ordering::Relaxed) as f64
                / OOB_SCALE
                / f64::from(oob_count[r].load(Ordering::Relaxed))
        })
        .collect();
    let oob_labels: Vec<u8> = oob_rows.iter().map(|&r| labels[r]).collect();
    // Given class weights say what a row of each class is worth, as sample
    // weights do, so they weigh in the out-of-bag metrics and threshold too;
    // "balanced" only evens out training, and the metrics count rows.
    let metric_class_weight = match params.class_weight {
        ClassWeight::Weights { legitimate, fraud } => Some([legitimate, fraud]),
        ClassWeight::None | ClassWeight::Balanced => None,
    };
    let oob_weights: Option<Vec<f64>> = match (weights, metric_class_weight) {
        (None, None) => None,
        (w, by_class) => Some(
            oob_rows
                .iter()
                .map(|&r| {
                    w.map_or(1.0, |w| w[r]) * by_class.map_or(1.0, |c| c[usize::from(labels[r])])
                })
                .collect(),
        ),
    };
    let has_oob = oob_labels.contains(&0) && oob_labels.contains(&1);
    let amounts = params
        .threshold_strategy
        .needs_amounts()
        .then(|| data.numeric_column(AMOUNT_FEATURE))
        .flatten();
    let oob_amounts: Option<Vec<f64>> = amounts.map(|a| oob_rows.iter().map(|&r| a[r]).collect());
    let threshold = if has_oob {
        metrics::select_weighted_threshold(
            &oob_scores,
            &oob_labels,
            oob_weights.as_deref(),
            oob_amounts.as_deref(),
            params.threshold_strategy,
        )?
    } else {
        0.5
    };
    let decision = Decision {
        threshold,
        risk_bands: params
            .risk_bands
            .unwrap_or_else(|| RiskBands::around(threshold)),
        strategy: if has_oob {
            params.threshold_strategy.to_string()
        } else {
            "default 0.5 (no out-of-bag rows)".into()
        },
    };
    let importances = crate::model::Importances {
        shap: shap_importances,
        impurity: impurity_importances,
    };
    let mut metadata = Metadata::describe(
        data,
        params,
        &trees,
        importances,
        has_oob.then_some(crate::model::OutOfBag {
            scores: &oob_scores,
            labels: &oob_labels,
            weights: oob_weights.as_deref(),
        }),
        threshold,
    );
    // A feature the schema left open is required when training never saw it
    // missing: the model has learned nothing about a missing value there.
    // A part's encoding decided that from all of the data.
    let mut schema = part.map_or_else(|| data.schema().clone(), |p| p.schema.clone());
    for (feature, column) in schema.features.iter_mut().zip(data.columns()) {
        feature.required.get_or_insert(column.missing_count() == 0);
    }
    if let Some(plan) = part {
        metadata.parts = vec![crate::merge::PartRecord::of_plan(
            plan,
            &metadata,
            oob_labels.len(),
        )];
    }
    let oob = OobPool {
        scores: oob_scores,
        labels: oob_labels,
        amounts: oob_amounts,
    };
    Ok((
        Model::assemble(schema, pipeline, trees, decision, metadata)?,
        oob,
    ))
}

/// The feature whose value a missed fraud costs under a cost strategy.
pub const AMOUNT_FEATURE: &str = "amount";

fn bootstrap(n: usize, enabled: bool, rng: &mut Rng) -> Vec<u32> {
    if !enabled {
        return vec![1; n];
    }
    let mut counts = vec![0u32; n];
    for _ in 0..n {
        counts[rng.below(n)] += 1;
    }
    counts
}

/// A tree node packed for walking binned rows: a leaf points to itself on
/// both sides, so a walk that has reached it stays there.
#[derive(Clone, Copy)]
struct BinnedNode {
    children: [u32; 2],
    word: u32,
    shift: u32,
    split: u64,
}

/// Adds each out-of-bag row's leaf value to its running sums. Rows are walked
/// sixteen at a time for a fixed number of steps, branch-free, so the walks'
/// memory accesses overlap instead of waiting on each other.
fn add_oob_values(
    grown: &tree::GrownTree,
    bins: &binning::BinnedMatrix,
    rows: &[u32],
    sums: &[AtomicU64],
    counts: &[AtomicU32],
) {
    const LANES: usize = 16;
    let tree = &grown.tree;
    let nodes: Vec<BinnedNode> = (0..tree.len())
        .map(|i| {
            if tree.left[i] == NO_CHILD {
                BinnedNode {
                    children: [i as u32; 2],
                    word: 0,
                    shift: 0,
                    split: u64::MAX,
                }
            } else {
                let f = tree.feature[i] as usize;
                BinnedNode {
                    children: [tree.left[i], tree.right[i]],
                    word: (f / 8) as u32,
                    shift: (8 * (f % 8)) as u32,
                    split: u64::from(grown.split_bin[i]),
                }
            }
        })
        .collect();
    let depth = tree_depth(tree);
    let stride = bins.stride;
    for block in rows.chunks(LANES) {
        let mut at = [0u32; LANES];
        let mut base = [0usize; LANES];
        for (b, &row) in base.iter_mut().zip(block) {
            *b = row as usize * stride;
        }
        for _ in 0..depth {
            for k in 0..block.len() {
                let node = nodes[at[k] as usize];
                let bin = (bins.words[base[k] + node.word as usize] >> node.shift) & 0xFF;
                at[k] = node.children[usize::from(bin > node.split)];
            }
        }
        for (&row, &leaf) in block.iter().zip(&at) {
            let value = tree.value[leaf as usize];
            sums[row as usize].fetch_add((value * OOB_SCALE + 0.5) as u64, Ordering::Relaxed);
            counts[row as usize].fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn tree_depth(tree: &Tree) -> usize {
    let mut depth = vec![0usize; tree.len()];
    let mut deepest = 0;
    for i in 0..tree.len() {
        if tree.left[i] != NO_CHILD {
            for child in [tree.left[i], tree.right[i]] {
                depth[child as usize] = depth[i] + 1;
                deepest = deepest.max(depth[i] + 1);
            }
        }
    }
    deepest
}

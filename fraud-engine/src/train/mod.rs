//! Training a random forest: binning, bootstrap, trees in parallel, the
//! `auto` choice of tree size and class weighting, out-of-bag evaluation and
//! the default decision threshold.

mod auto;
mod binning;
mod params;
mod tree;

pub use auto::{AutoChoice, Candidate, LADDER, MIN_SELECTION_TREES, SELECTION_ROW_TREES};
pub use params::{ClassWeight, Setting, SettingValue, TrainParams, TreeSettings};

use std::cell::RefCell;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use rayon::prelude::*;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::explain;
use crate::forest::{Tree, NO_CHILD};
use crate::merge::OobPool;
use crate::metrics;
use crate::model::{Decision, Metadata, Model};
use crate::preprocess::Pipeline;
use crate::rng::Rng;

/// Progress callback: `(trees done, trees in all)` of the final forest. With
/// `auto` settings it starts once the candidates are compared, at the
/// winner's trees, which the forest keeps.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Training rows whose out-of-bag SHAP values make the global importances.
const SHAP_ROWS: usize = 256;

/// Of the explained rows, every this many makes the golden set (32 rows of
/// the 256).
const GOLDEN_STRIDE: usize = 8;

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
    parent: Option<String>,
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
            parent: None,
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

    /// Records that the model is a retraining of `parent` (its version in
    /// the model's metadata, and so in its summary).
    pub fn derived_from(mut self, parent: &Model) -> Self {
        self.parent = Some(parent.version().to_owned());
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
        let run = || {
            let (model, pool) = train_in_pool(data, labels, &self.params, self.progress, part)?;
            match &self.parent {
                None => Ok((model, pool)),
                Some(parent) => Ok((model.with_parent(parent)?, pool)),
            }
        };
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

/// What every tree of one training run shares.
struct Context<'a> {
    bins: &'a binning::BinnedMatrix,
    labels: &'a [u8],
    seed: u64,
    bootstrap: bool,
    max_features: usize,
    /// `n / (2 n_class)` per class: the balanced weights (from the class
    /// counts of all the data when training one part of a forest).
    balanced: [f64; 2],
    /// Each row's sample weight, if training has them.
    weights: Option<&'a [f64]>,
    /// Rows whose out-of-bag SHAP values give the global importances.
    shap_rows: &'a [usize],
}

/// Running out-of-bag sums of one forest, one per row, in fixed point so
/// that adding them in any order, from any number of threads, gives
/// bit-identical results; with how many trees left each row out.
///
/// In shards of consecutive rows, each under a lock that a tree takes once
/// for all its rows there: an atomic add per row and tree, on lines the two
/// threads' caches passed back and forth, took about a tenth of training's
/// time on two threads (800k rows: 2.88 s with them, 2.58 s with shards).
struct OobSums {
    shards: Vec<Mutex<OobShard>>,
    /// Rows per shard (the last may have fewer).
    shard_rows: usize,
}

/// The out-of-bag sums of one run of consecutive rows.
enum OobShard {
    /// Forests of fewer than `1 << COUNT_BITS` trees: each row's sum (at
    /// most 2^40 a tree, so under 2^52) shifted above its count, in one
    /// word: 8 bytes a row instead of 12, while `auto` holds two
    /// candidates' sums at training's peak of memory.
    Packed(Vec<u64>),
    /// Larger forests: sums and counts apart.
    Apart { sum: Vec<u64>, count: Vec<u32> },
}

/// Low bits of a packed out-of-bag word that count the trees.
const COUNT_BITS: u32 = 12;

impl OobShard {
    /// Sums for `rows` rows, to which at most `n_trees` trees will add.
    fn new(rows: usize, n_trees: usize) -> Self {
        if n_trees < 1 << COUNT_BITS {
            OobShard::Packed(vec![0; rows])
        } else {
            OobShard::Apart {
                sum: vec![0; rows],
                count: vec![0; rows],
            }
        }
    }

    /// Adds one tree's leaf value (scaled by `OOB_SCALE`) to row `i`.
    #[inline(always)]
    fn add(&mut self, i: usize, scaled: u64) {
        match self {
            OobShard::Packed(words) => words[i] += scaled << COUNT_BITS | 1,
            OobShard::Apart { sum, count } => {
                sum[i] += scaled;
                count[i] += 1;
            }
        }
    }

    /// Row `i`'s sum, and how many trees added to it.
    fn sum_and_count(&self, i: usize) -> (u64, u32) {
        match self {
            OobShard::Packed(words) => (
                words[i] >> COUNT_BITS,
                (words[i] & ((1 << COUNT_BITS) - 1)) as u32,
            ),
            OobShard::Apart { sum, count } => (sum[i], count[i]),
        }
    }

    fn len(&self) -> usize {
        match self {
            OobShard::Packed(words) => words.len(),
            OobShard::Apart { sum, .. } => sum.len(),
        }
    }
}

/// Shards of out-of-bag sums: enough that two threads seldom want the same
/// one, few enough that taking each is nothing beside its rows.
const OOB_SHARDS: usize = 64;

/// One tree of a forest, with what the model keeps from its growth.
struct Planted {
    tree: Tree,
    /// Impurity decrease per feature, summing to 1 (or all 0).
    importance: Vec<f64>,
    /// Whether each of the SHAP rows was out of bag for the tree.
    shap_oob: Vec<bool>,
}

/// A candidate's trees, with their out-of-bag sums.
struct Judged {
    trees: Vec<Planted>,
    oob: OobSums,
}

/// Out-of-bag scores of the rows some tree left out.
struct OobScores {
    rows: Vec<usize>,
    scores: Vec<f64>,
    labels: Vec<u8>,
}

impl OobSums {
    /// Sums for `n` rows, to which at most `n_trees` trees will add.
    fn new(n: usize, n_trees: usize) -> Self {
        let shard_rows = n.div_ceil(OOB_SHARDS).max(1);
        let shards = (0..n.div_ceil(shard_rows))
            .map(|k| Mutex::new(OobShard::new(shard_rows.min(n - k * shard_rows), n_trees)))
            .collect();
        OobSums { shards, shard_rows }
    }

    /// Shard `k`, locked. A thread that panicked holding it left whole
    /// sums behind (each add is one statement), so a poisoned lock is
    /// still used.
    fn shard(&self, k: usize) -> MutexGuard<'_, OobShard> {
        self.shards[k]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn scores(&self, labels: &[u8]) -> OobScores {
        let mut rows = Vec::new();
        let mut scores = Vec::new();
        for k in 0..self.shards.len() {
            let shard = self.shard(k);
            for i in 0..shard.len() {
                let (sum, count) = shard.sum_and_count(i);
                if count > 0 {
                    rows.push(k * self.shard_rows + i);
                    scores.push(sum as f64 / OOB_SCALE / f64::from(count));
                }
            }
        }
        let labels = rows.iter().map(|&r| labels[r]).collect();
        OobScores {
            rows,
            scores,
            labels,
        }
    }
}

impl OobScores {
    fn has_both_classes(&self) -> bool {
        self.labels.contains(&0) && self.labels.contains(&1)
    }
}

impl Context<'_> {
    fn grow_params(&self, settings: TreeSettings) -> tree::GrowParams {
        let plain = [1.0, 1.0];
        let (class_weight, leaf_weight) = match settings.class_weight {
            ClassWeight::None => (plain, plain),
            ClassWeight::Balanced => (self.balanced, self.balanced),
            ClassWeight::BalancedSplits => (self.balanced, plain),
            ClassWeight::Weights { legitimate, fraud } => {
                ([legitimate, fraud], [legitimate, fraud])
            }
        };
        tree::GrowParams {
            max_depth: settings.max_depth,
            min_samples_leaf: settings.min_samples_leaf,
            max_features: self.max_features,
            class_weight,
            leaf_weight,
        }
    }

    /// Grows trees `indices` of the forest `settings` gives, in parallel,
    /// adding their out-of-bag values to `oob`. Tree `t` draws from the
    /// stream `(seed, t)` alone, so it is the same tree whichever run,
    /// thread or candidate grows it.
    fn grow(
        &self,
        settings: TreeSettings,
        indices: std::ops::Range<usize>,
        oob: &OobSums,
        on_tree: &(dyn Fn() + Sync),
    ) -> Vec<Planted> {
        let grow_params = self.grow_params(settings);
        let n = self.labels.len();
        indices
            .into_par_iter()
            .map(|t| {
                let mut rng = Rng::new(self.seed, t as u64);
                let counts = bootstrap(n, self.bootstrap, &mut rng);
                let grown = match self.weights {
                    None => tree::grow::<[u32; 2]>(
                        self.bins,
                        self.labels,
                        &[],
                        &counts,
                        &grow_params,
                        &mut rng,
                    ),
                    Some(w) => tree::grow::<tree::Weighted>(
                        self.bins,
                        self.labels,
                        w,
                        &counts,
                        &grow_params,
                        &mut rng,
                    ),
                };
                add_oob_values(&grown, self.bins, &counts, oob, t);
                let total: f64 = grown.importance.iter().sum();
                let importance = grown
                    .importance
                    .iter()
                    .map(|g| if total > 0.0 { g / total } else { 0.0 })
                    .collect();
                on_tree();
                Planted {
                    tree: grown.tree,
                    importance,
                    shap_oob: self.shap_rows.iter().map(|&r| counts[r] == 0).collect(),
                }
            })
            .collect()
    }

    /// The weights the out-of-bag rows count with in the metrics and the
    /// threshold: sample weights, times given class weights (which say what
    /// a row of each class is worth, as sample weights do). Balanced
    /// weights only even out training, so the metrics count rows.
    fn oob_weights(&self, oob: &OobScores, class_weight: ClassWeight) -> Option<Vec<f64>> {
        let by_class = match class_weight {
            ClassWeight::Weights { legitimate, fraud } => Some([legitimate, fraud]),
            ClassWeight::None | ClassWeight::Balanced | ClassWeight::BalancedSplits => None,
        };
        if self.weights.is_none() && by_class.is_none() {
            return None;
        }
        Some(
            oob.rows
                .iter()
                .zip(&oob.labels)
                .map(|(&r, &y)| {
                    self.weights.map_or(1.0, |w| w[r]) * by_class.map_or(1.0, |c| c[usize::from(y)])
                })
                .collect(),
        )
    }
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
    // Rows whose out-of-bag SHAP values give the global importances: evenly
    // spaced, so the choice depends on nothing but the row count.
    let shap_rows: Vec<usize> = (0..SHAP_ROWS.min(n))
        .map(|k| k * n / SHAP_ROWS.min(n))
        .collect();
    let (bins, shap_encoded) =
        binning::bin_each(data.columns().len(), n, params.max_bins, &shap_rows, |f| {
            pipeline.transform_column(data, f)
        });
    // A part weighs the classes by their counts in all of the data.
    let (n_weighted, frauds) = part.map_or(
        (n as f64, labels.iter().filter(|&&y| y == 1).count() as f64),
        |p| (p.class_counts.0 as f64, p.class_counts.1 as f64),
    );
    let weights = data.weights();
    let n_features = bins.n_features;
    let context = Context {
        bins: &bins,
        labels,
        seed: params.seed,
        bootstrap: params.bootstrap,
        max_features: params
            .max_features
            .unwrap_or_else(|| (n_features as f64).sqrt().round().max(1.0) as usize)
            .min(n_features),
        balanced: [
            n_weighted / (2.0 * (n_weighted - frauds)),
            n_weighted / (2.0 * frauds),
        ],
        weights,
        shap_rows: &shap_rows,
    };

    // The forest's first trees: a whole forest with given settings, or the
    // chosen candidate's trees.
    let (settings, mut planted, oob, auto) = match auto::fixed_settings(params) {
        Some(settings) => (settings, Vec::new(), OobSums::new(n, n_trees), None),
        None => {
            let per_candidate = auto::trees_per_candidate(n_trees, n);
            let first = tree_range.start;
            // Each judged candidate's trees and out-of-bag sums, until a
            // better one makes them useless.
            let judged: RefCell<Vec<Option<Judged>>> = RefCell::new(Vec::new());
            let best = std::cell::Cell::new(0);
            let choice = auto::choose(
                params,
                per_candidate,
                |settings| {
                    let oob = OobSums::new(n, n_trees);
                    let trees = context.grow(settings, first..first + per_candidate, &oob, &|| {});
                    let scores = oob.scores(labels);
                    let weights = context.oob_weights(&scores, settings.class_weight);
                    let (roc, pr) =
                        metrics::weighted_areas(&scores.scores, &scores.labels, weights.as_deref());
                    let result = (pr, roc);
                    judged.borrow_mut().push(Some(Judged { trees, oob }));
                    result
                },
                |winner| {
                    best.set(winner);
                    for (i, slot) in judged.borrow_mut().iter_mut().enumerate() {
                        if i != winner {
                            *slot = None;
                        }
                    }
                },
            );
            // `choose` names its winner through `keep` before returning, so
            // its slot is filled; an empty one would be a bug, not bad input.
            let Judged { trees, oob } = judged
                .borrow_mut()
                .get_mut(best.get())
                .and_then(Option::take)
                .ok_or_else(|| Error::InvalidParams {
                    name: "auto",
                    reason: "no candidate was kept".into(),
                })?;
            (choice.chosen, trees, oob, Some(choice))
        }
    };
    let done = AtomicU32::new(planted.len() as u32);
    let report = || {
        let trees = done.fetch_add(1, Ordering::Relaxed) as usize + 1;
        if let Some(report) = progress {
            report(trees, n_trees);
        }
    };
    let rest = tree_range.start + planted.len()..tree_range.end;
    planted.extend(context.grow(settings, rest, &oob, &report));

    let mut impurity_importances = vec![0.0; n_features];
    for one in &planted {
        for (sum, v) in impurity_importances.iter_mut().zip(&one.importance) {
            *sum += v / n_trees as f64;
        }
    }
    let shap_importances = shap_importances(&planted, &shap_encoded, n_features);
    let trees: Vec<Tree> = planted.into_iter().map(|p| p.tree).collect();

    let oob = oob.scores(labels);
    let oob_weights = context.oob_weights(&oob, settings.class_weight);
    let has_oob = oob.has_both_classes();
    let amounts = params
        .threshold_strategy
        .needs_amounts()
        .then(|| data.numeric_column(AMOUNT_FEATURE))
        .flatten();
    let oob_amounts: Option<Vec<f64>> = amounts.map(|a| oob.rows.iter().map(|&r| a[r]).collect());
    let threshold = if has_oob {
        Some(metrics::select_weighted_threshold(
            &oob.scores,
            &oob.labels,
            oob_weights.as_deref(),
            oob_amounts.as_deref(),
            params.threshold_strategy,
        )?)
    } else {
        None
    };
    let decision = Decision::trained(threshold, params);
    let threshold = decision.threshold;
    let importances = crate::model::Importances {
        shap: shap_importances,
        impurity: impurity_importances,
    };
    let mut metadata = Metadata::describe(
        data,
        params,
        auto,
        &trees,
        importances,
        has_oob.then_some(crate::model::OutOfBag {
            scores: &oob.scores,
            labels: &oob.labels,
            weights: oob_weights.as_deref(),
        }),
        threshold,
    );
    // Every eighth of the evenly spaced explained rows: a golden set that
    // spans the data; assembling the model records their probabilities.
    metadata.golden.rows = shap_encoded
        .iter()
        .step_by(GOLDEN_STRIDE)
        .flatten()
        .copied()
        .collect();
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
            oob.labels.len(),
        )];
    }
    let oob = OobPool {
        scores: oob.scores,
        labels: oob.labels,
        amounts: oob_amounts,
        weights: oob_weights,
    };
    Ok((
        Model::assemble(schema, pipeline, trees, decision, metadata)?,
        oob,
    ))
}

/// Mean |SHAP| per feature over the sampled rows, each row's SHAP values
/// averaged over the trees it was out of bag for (as its out-of-bag
/// prediction is). Computed for the final forest only: a candidate that
/// lost never pays for it.
fn shap_importances(planted: &[Planted], shap_encoded: &[Vec<f64>], n_features: usize) -> Vec<f64> {
    let shap_sum: Vec<AtomicI64> = (0..shap_encoded.len() * n_features)
        .map(|_| AtomicI64::new(0))
        .collect();
    let shap_count: Vec<AtomicU32> = (0..shap_encoded.len()).map(|_| AtomicU32::new(0)).collect();
    planted.par_iter().for_each(|one| {
        let paths = explain::TreePaths::new(&one.tree);
        let mut phi = vec![0.0; n_features];
        for (k, row) in shap_encoded.iter().enumerate() {
            if one.shap_oob[k] {
                phi.fill(0.0);
                paths.add_shap(row, &mut phi, 1.0);
                for (f, v) in phi.iter().enumerate() {
                    shap_sum[k * n_features + f]
                        .fetch_add((v * OOB_SCALE).round() as i64, Ordering::Relaxed);
                }
                shap_count[k].fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let mut importances = vec![0.0; n_features];
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
        for (f, importance) in importances.iter_mut().enumerate() {
            let mean = shap_sum[k * n_features + f].load(Ordering::Relaxed) as f64
                / OOB_SCALE
                / f64::from(count);
            *importance += mean.abs() / explained_rows;
        }
    }
    importances
}

/// The feature whose value a missed fraud costs under a cost strategy.
pub const AMOUNT_FEATURE: &str = "amount";

/// How many times each of `n` rows is drawn in `n` draws with replacement
/// (each row once when the bootstrap is off).
fn bootstrap(n: usize, enabled: bool, rng: &mut Rng) -> Vec<u32> {
    if enabled {
        count_draws(n, n, rng)
    } else {
        vec![1; n]
    }
}

/// How many of `draws` uniform draws from `0..rows` fall on each row.
fn count_draws(rows: usize, draws: usize, rng: &mut Rng) -> Vec<u32> {
    // Counted in bytes first: the draws land at random, and bytes (800 KB
    // for 800k rows) stay in a core's 2 MB cache where 4-byte counts did
    // not (this loop took a tenth of a tree's time). A row drawn 256
    // times, which Poisson odds make all but impossible in a bootstrap,
    // wraps to 0; then the same draws are counted again in full.
    let mut replay = rng.clone();
    let mut small = vec![0u8; rows];
    let mut wrapped = false;
    for _ in 0..draws {
        let count = &mut small[rng.below(rows)];
        *count = count.wrapping_add(1);
        wrapped |= *count == 0;
    }
    if !wrapped {
        return small.into_iter().map(u32::from).collect();
    }
    let mut counts = vec![0u32; rows];
    for _ in 0..draws {
        counts[replay.below(rows)] += 1;
    }
    counts
}

/// The rows of `first..end` that a bootstrap left out (`counts[row]` is 0),
/// in order, into `rows`. Written branch-free: about a third of rows are
/// left out at random, so a branch on each mispredicted often.
fn out_of_bag_rows(counts: &[u32], first: usize, end: usize, rows: &mut Vec<u32>) {
    rows.clear();
    rows.resize(end - first + 1, 0);
    let mut kept = 0;
    for (row, &count) in (first..).zip(&counts[first..end]) {
        rows[kept] = row as u32;
        kept += usize::from(count == 0);
    }
    rows.truncate(kept);
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

/// Adds the leaf value of each row the bootstrap `counts` left out to its
/// running sums, shard by shard, from the shard the tree's index picks, so
/// that threads growing other trees are mostly elsewhere. A shard's rows
/// are listed and walked first, then added under its lock.
fn add_oob_values(
    grown: &tree::GrownTree,
    bins: &binning::BinnedMatrix,
    counts: &[u32],
    oob: &OobSums,
    tree_index: usize,
) {
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
    let scaled: Vec<u64> = tree
        .value
        .iter()
        .map(|value| (value * OOB_SCALE + 0.5) as u64)
        .collect();
    let n_shards = oob.shards.len();
    let (mut in_shard, mut leaves) = (Vec::new(), Vec::new());
    for step in 0..n_shards {
        let k = (tree_index + step) % n_shards;
        let first = k * oob.shard_rows;
        out_of_bag_rows(
            counts,
            first,
            (first + oob.shard_rows).min(counts.len()),
            &mut in_shard,
        );
        if in_shard.is_empty() {
            continue;
        }
        leaves.clear();
        leaves.resize(in_shard.len(), 0);
        walk_to_leaves(&nodes, depth, bins, &in_shard, &mut leaves);
        let mut shard = oob.shard(k);
        for (&row, &leaf) in in_shard.iter().zip(&leaves) {
            shard.add(row as usize - first, scaled[leaf as usize]);
        }
    }
}

/// The leaf each of `rows` reaches, into `leaves`. Rows are walked sixteen
/// at a time for a fixed number of steps, branch-free, so the walks' memory
/// accesses overlap instead of waiting on each other.
fn walk_to_leaves(
    nodes: &[BinnedNode],
    depth: usize,
    bins: &binning::BinnedMatrix,
    rows: &[u32],
    leaves: &mut [u32],
) {
    const LANES: usize = 16;
    let stride = bins.stride;
    // Up to eight features, each row's bins are one word: read once, for
    // every block of a full sixteen rows.
    let mut walked = 0;
    if stride == 1 {
        for (block, out) in rows.chunks_exact(LANES).zip(leaves.chunks_exact_mut(LANES)) {
            let words: [u64; LANES] = std::array::from_fn(|k| bins.words[block[k] as usize]);
            let mut at = [0u32; LANES];
            for _ in 0..depth {
                for k in 0..LANES {
                    let node = nodes[at[k] as usize];
                    let bin = (words[k] >> node.shift) & 0xFF;
                    at[k] = node.children[usize::from(bin > node.split)];
                }
            }
            out.copy_from_slice(&at);
            walked += LANES;
        }
    }
    for (block, out) in rows[walked..]
        .chunks(LANES)
        .zip(leaves[walked..].chunks_mut(LANES))
    {
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
        out.copy_from_slice(&at[..block.len()]);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_counted_in_full_past_255_on_a_row() {
        for (rows, draws) in [(1, 300), (3, 1000), (1000, 1000), (7, 255)] {
            let mut rng = Rng::new(5, rows as u64);
            let mut plain = rng.clone();
            let counts = count_draws(rows, draws, &mut rng);
            let mut expected = vec![0u32; rows];
            for _ in 0..draws {
                expected[plain.below(rows)] += 1;
            }
            assert_eq!(counts, expected, "{draws} draws on {rows} rows");
            // Whichever way they were counted, the draws are used up.
            assert_eq!(rng.next_u64(), plain.next_u64());
        }
    }

    #[test]
    fn out_of_bag_sums_cover_every_row_across_shards() {
        for n in [1, 2, 63, 64, 65, 1000] {
            let oob = OobSums::new(n, 4);
            let labels: Vec<u8> = (0..n).map(|r| u8::from(r % 3 == 0)).collect();
            // Row r gets r % 5 trees, each adding r.
            for r in 0..n {
                for _ in 0..r % 5 {
                    oob.shard(r / oob.shard_rows)
                        .add(r % oob.shard_rows, r as u64);
                }
            }
            let scores = oob.scores(&labels);
            let expected: Vec<usize> = (0..n).filter(|r| r % 5 > 0).collect();
            assert_eq!(scores.rows, expected, "{n} rows");
            for ((&r, &score), &label) in scores.rows.iter().zip(&scores.scores).zip(&scores.labels)
            {
                assert_eq!(score, r as f64 / OOB_SCALE);
                assert_eq!(label, labels[r]);
            }
        }
    }

    #[test]
    fn packed_and_apart_out_of_bag_sums_are_the_same() {
        let mut packed = OobShard::new(4, (1 << COUNT_BITS) - 1);
        let mut apart = OobShard::new(4, 1 << COUNT_BITS);
        assert!(matches!(packed, OobShard::Packed(_)));
        assert!(matches!(apart, OobShard::Apart { .. }));
        let mut rng = Rng::new(3, 0);
        // The packed word's limits: the most trees, each adding the largest
        // value, to row 0; none to row 2.
        let top = (1.0 * OOB_SCALE + 0.5) as u64;
        for _ in 0..(1 << COUNT_BITS) - 1 {
            let any = (rng.next_f64() * OOB_SCALE + 0.5) as u64;
            for (i, scaled) in [(0, top), (1, any), (3, 0)] {
                packed.add(i, scaled);
                apart.add(i, scaled);
            }
        }
        for i in 0..4 {
            assert_eq!(packed.sum_and_count(i), apart.sum_and_count(i), "row {i}");
        }
        assert_eq!(
            packed.sum_and_count(0),
            (top * ((1 << COUNT_BITS) - 1), (1 << COUNT_BITS) - 1)
        );
        assert_eq!(packed.sum_and_count(2), (0, 0));
    }
}

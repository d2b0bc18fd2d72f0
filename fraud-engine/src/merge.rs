//! Forests trained apart and merged into one: how a random forest goes past
//! one machine (Dask, Spark, or any set of workers that each hold some rows).
//!
//! Each worker trains its share of the trees on its own rows and the forests
//! are concatenated; no row moves between workers. Four steps:
//!
//! 1. **First pass.** Each partition summarizes its rows
//!    ([`DataSummary::of`]): the kinds of its columns, counts, each number's
//!    range and a quantile sketch, and every category's rows and frauds.
//! 2. **One encoding.** The driver combines the summaries
//!    ([`DataSummary::combine`]) and fits the one [`Encoding`] every part
//!    uses ([`Encoding::fit`]): category codes, missing-value fills, which
//!    features are required. Encodings then agree on every worker by
//!    construction.
//! 3. **Parts.** Each partition reads its rows with the encoding
//!    ([`Encoding::dataset`]) and trains the trees [`split_trees`] gives it
//!    ([`Trainer::train_part`]). A tree's random stream is its index in the
//!    whole forest, so the same seed and partitioning give the same forest.
//! 4. **Merge.** The driver merges the parts ([`merge`]): trees in the order
//!    of their indices, out-of-bag metrics and the decision threshold from
//!    the parts' pooled out-of-bag predictions, the parts recorded in the
//!    metadata.
//!
//! ```
//! use fraud_engine::merge::{merge, split_trees, DataSummary, Encoding};
//! use fraud_engine::{synth, ColumnRules, Dataset, TrainParams, Trainer};
//!
//! // Two partitions, as two workers would hold them.
//! let tables = [synth::table(3_000, 1), synth::table(3_000, 2)];
//! let rules = ColumnRules::default();
//! let summaries = tables
//!     .iter()
//!     .map(|t| DataSummary::of(&Dataset::from_table(t, &rules)?.dataset))
//!     .collect::<Result<Vec<_>, _>>()?;
//! let encoding = Encoding::fit(&DataSummary::combine(&summaries)?)?;
//!
//! let trainer = Trainer::new(TrainParams { n_trees: 20, ..TrainParams::default() })?;
//! let ranges = split_trees(20, tables.len());
//! let parts = tables
//!     .iter()
//!     .zip(ranges)
//!     .map(|(t, trees)| trainer.train_part(&encoding.dataset(t)?, &encoding, trees))
//!     .collect::<Result<Vec<_>, _>>()?;
//! let model = merge(&parts)?;
//! assert_eq!(model.n_trees(), 20);
//! assert_eq!(model.metadata().parts.len(), 2);
//! assert_eq!(model.metadata().training_rows, 6_000);
//! # Ok::<(), fraud_engine::Error>(())
//! ```
//!
//! Why the pooled out-of-bag predictions are sound: a row of partition A was
//! never seen by the trees of any other part, and was out of the bootstrap
//! sample of about a third of A's own trees. Its prediction by those trees is
//! a prediction by trees that did not train on it, drawn from the same
//! process as every tree of the merged forest, so pooling such predictions
//! over all partitions estimates the merged forest's quality on new rows, as
//! a single forest's out-of-bag estimate does. It averages fewer trees than
//! the merged forest holds, so it errs on the pessimistic side; the
//! threshold is chosen from the same pooled predictions.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::data::{Column, Dataset, Table, MISSING_CODE};
use crate::error::{Error, Result};
use crate::metrics::{self, Evaluation};
use crate::model::{Decision, FeatureStats, Importances, Metadata, Model};
use crate::preprocess::{rank_categories, Encoder, Pipeline};
use crate::schema::{Feature, FeatureKind, Schema};
use crate::train::{AutoChoice, PartPlan, Trainer, TreeSettings, AMOUNT_FEATURE};
use crate::ColumnRules;

/// Points a numeric column's quantile sketch keeps: the fill of a missing
/// value (the median) is exact while a column has at most this many distinct
/// values, and within 1/4096 of the rows of it otherwise.
const SKETCH_POINTS: usize = 4096;

/// The trees each of `n_parts` parts trains, as ranges of tree indices in
/// the whole forest of `n_trees`: as even as can be, the first parts one
/// more. Past `n_trees` parts the ranges are empty (those partitions train
/// nothing; their rows still count in the encoding).
pub fn split_trees(n_trees: usize, n_parts: usize) -> Vec<Range<usize>> {
    let n_parts = n_parts.max(1);
    let (each, extra) = (n_trees / n_parts, n_trees % n_parts);
    let mut start = 0;
    (0..n_parts)
        .map(|i| {
            let len = each + usize::from(i < extra);
            start += len;
            start - len..start
        })
        .collect()
}

/// What one partition's column holds, in a form that adds up across
/// partitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Tally {
    /// Numbers and flags.
    Numbers {
        missing: u64,
        zeros: u64,
        ones: u64,
        range: Option<(f64, f64)>,
        /// Sorted distinct values (or bucket representatives) and how many
        /// rows each stands for.
        sketch: Vec<(f64, u64)>,
    },
    /// Categories: the rows and frauds of each, and of the missing ones.
    Categories {
        missing: (u64, u64),
        levels: BTreeMap<String, (u64, u64)>,
    },
}

/// The first pass over one partition, or over several combined: what the
/// one encoding every part shares is fitted from. See the [module
/// docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    schema: Schema,
    rows: u64,
    frauds: u64,
    tallies: Vec<Tally>,
}

impl DataSummary {
    /// Summarizes a labelled dataset.
    pub fn of(data: &Dataset) -> Result<Self> {
        let labels = data.labels().ok_or_else(|| {
            Error::schema(
                "dataset",
                format!("training needs the label column `{}`", data.schema().label),
            )
        })?;
        let tallies = data
            .columns()
            .iter()
            .map(|column| match column {
                Column::Numeric(values) => {
                    let mut present: Vec<f64> =
                        values.iter().copied().filter(|x| !x.is_nan()).collect();
                    present.sort_unstable_by(f64::total_cmp);
                    let mut sketch: Vec<(f64, u64)> = Vec::new();
                    for &x in &present {
                        match sketch.last_mut() {
                            Some((v, n)) if *v == x => *n += 1,
                            _ => sketch.push((x, 1)),
                        }
                    }
                    Tally::Numbers {
                        missing: (values.len() - present.len()) as u64,
                        zeros: present.iter().filter(|&&x| x == 0.0).count() as u64,
                        ones: present.iter().filter(|&&x| x == 1.0).count() as u64,
                        range: present.first().zip(present.last()).map(|(&a, &b)| (a, b)),
                        sketch: compress(sketch),
                    }
                }
                Column::Categorical { codes, levels } => {
                    let mut counts = vec![(0u64, 0u64); levels.len()];
                    let mut missing = (0u64, 0u64);
                    for (&code, &y) in codes.iter().zip(labels) {
                        let slot = if code == MISSING_CODE {
                            &mut missing
                        } else {
                            &mut counts[code as usize]
                        };
                        slot.0 += 1;
                        slot.1 += u64::from(y);
                    }
                    Tally::Categories {
                        missing,
                        levels: levels
                            .iter()
                            .cloned()
                            .zip(counts)
                            .filter(|(_, (n, _))| *n > 0)
                            .collect(),
                    }
                }
            })
            .collect();
        Ok(DataSummary {
            schema: data.schema().clone(),
            rows: data.n_rows() as u64,
            frauds: labels.iter().filter(|&&y| y == 1).count() as u64,
            tallies,
        })
    }

    /// The summaries of several partitions as one, in the order given.
    /// Their features must agree by name and kind: a column read as a flag
    /// in one partition and as a number in another is a number; one read as
    /// categorical in one and numeric in another is an error naming it and
    /// the partitions (1-based, in the order given).
    pub fn combine(summaries: &[DataSummary]) -> Result<DataSummary> {
        let Some((first, rest)) = summaries.split_first() else {
            return Err(Error::InvalidParams {
                name: "summaries",
                reason: "no partition to combine (the data has no partitions)".into(),
            });
        };
        let mut total = first.clone();
        for (k, next) in rest.iter().enumerate() {
            let here = format!("partition {}", k + 2);
            let mismatch = |reason: String| Error::schema(here.clone(), reason);
            let names = |s: &Schema| s.feature_names().collect::<Vec<_>>().join(", ");
            if total.schema.feature_names().ne(next.schema.feature_names()) {
                return Err(mismatch(format!(
                    "has the features {}, the partitions before it {}",
                    names(&next.schema),
                    names(&total.schema)
                )));
            }
            if total.schema.label != next.schema.label {
                return Err(mismatch(format!(
                    "has the label `{}`, the partitions before it `{}`",
                    next.schema.label, total.schema.label
                )));
            }
            if total.schema.out_of_range != next.schema.out_of_range {
                return Err(mismatch(
                    "reads numbers outside the training range by another policy".into(),
                ));
            }
            for (i, feature) in next.schema.features.iter().enumerate() {
                let joined = join_kinds(&total.schema.features[i], feature).ok_or_else(|| {
                    mismatch(format!(
                        "reads column `{}` as {}, the partitions before it as {}: give a schema that declares its kind",
                        feature.name,
                        feature.kind.name(),
                        total.schema.features[i].kind.name()
                    ))
                })?;
                total.schema.features[i] = joined;
                total.tallies[i] =
                    add_tallies(&total.tallies[i], &next.tallies[i]).ok_or_else(|| {
                        mismatch(format!("column `{}` does not add up", feature.name))
                    })?;
            }
            total.rows += next.rows;
            total.frauds += next.frauds;
        }
        Ok(total)
    }

    /// Rows summarized.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Frauds among them.
    pub fn frauds(&self) -> u64 {
        self.frauds
    }

    /// The features as read (kinds; `required` still undecided).
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The summary as bytes, for sending to the driver.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        seal(SUMMARY_MAGIC, "data summary", self)
    }

    /// Reads [`DataSummary::to_bytes`]' bytes, checking them.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let summary: DataSummary = unseal(SUMMARY_MAGIC, "data summary", bytes)?;
        let bad = |reason: &str| Error::corrupt(PAYLOAD_OFFSET, format!("data summary: {reason}"));
        summary.schema.validate().map_err(|e| bad(&e.to_string()))?;
        if summary.tallies.len() != summary.schema.features.len() || summary.frauds > summary.rows {
            return Err(bad("the counts do not match the features"));
        }
        for (feature, tally) in summary.schema.features.iter().zip(&summary.tallies) {
            let fits = matches!(
                (&feature.kind, tally),
                (FeatureKind::Categorical { .. }, Tally::Categories { .. })
                    | (
                        FeatureKind::Numeric { .. } | FeatureKind::Flag,
                        Tally::Numbers { .. }
                    )
            );
            if !fits {
                return Err(bad("a column's counts do not match its kind"));
            }
            if let Tally::Numbers { sketch, range, .. } = tally {
                let sorted = sketch.windows(2).all(|w| w[0].0 < w[1].0);
                let finite = sketch.iter().all(|(x, _)| x.is_finite())
                    && range.is_none_or(|(a, b)| a.is_finite() && b.is_finite() && a <= b);
                if !sorted || !finite {
                    return Err(bad("a quantile sketch is not sorted finite numbers"));
                }
            }
        }
        Ok(summary)
    }
}

/// The kind two partitions' readings of one column agree on.
fn join_kinds(a: &Feature, b: &Feature) -> Option<Feature> {
    if a == b {
        return Some(a.clone());
    }
    let open_number = |f: &Feature| {
        matches!(
            f.kind,
            FeatureKind::Numeric {
                min: None,
                max: None
            }
        )
    };
    let is_flag = |f: &Feature| f.kind == FeatureKind::Flag;
    let number_or_flag = (is_flag(a) && open_number(b)) || (open_number(a) && is_flag(b));
    (number_or_flag && a.required == b.required).then(|| {
        let mut joined = Feature::numeric(&a.name);
        joined.required = a.required;
        joined
    })
}

fn add_tallies(a: &Tally, b: &Tally) -> Option<Tally> {
    match (a, b) {
        (
            Tally::Numbers {
                missing,
                zeros,
                ones,
                range,
                sketch,
            },
            Tally::Numbers {
                missing: m2,
                zeros: z2,
                ones: o2,
                range: r2,
                sketch: s2,
            },
        ) => {
            let range = match (range, r2) {
                (Some((a, b)), Some((c, d))) => Some((a.min(*c), b.max(*d))),
                (Some(r), None) | (None, Some(r)) => Some(*r),
                (None, None) => None,
            };
            let mut points: Vec<(f64, u64)> = sketch.iter().chain(s2).copied().collect();
            points.sort_by(|x, y| x.0.total_cmp(&y.0));
            let mut merged: Vec<(f64, u64)> = Vec::with_capacity(points.len());
            for (x, n) in points {
                match merged.last_mut() {
                    Some((v, m)) if *v == x => *m += n,
                    _ => merged.push((x, n)),
                }
            }
            Some(Tally::Numbers {
                missing: missing + m2,
                zeros: zeros + z2,
                ones: ones + o2,
                range,
                sketch: compress(merged),
            })
        }
        (
            Tally::Categories { missing, levels },
            Tally::Categories {
                missing: m2,
                levels: l2,
            },
        ) => {
            let mut levels = levels.clone();
            for (level, (n, f)) in l2 {
                let slot = levels.entry(level.clone()).or_insert((0, 0));
                slot.0 += n;
                slot.1 += f;
            }
            Some(Tally::Categories {
                missing: (missing.0 + m2.0, missing.1 + m2.1),
                levels,
            })
        }
        _ => None,
    }
}

/// Sorted weighted points cut to at most [`SKETCH_POINTS`]: consecutive
/// points are grouped into buckets of about equal weight, each kept as the
/// value at its weighted middle.
fn compress(points: Vec<(f64, u64)>) -> Vec<(f64, u64)> {
    if points.len() <= SKETCH_POINTS {
        return points;
    }
    let total: u64 = points.iter().map(|p| p.1).sum();
    let bucket = total.div_ceil(SKETCH_POINTS as u64).max(1);
    let mut out = Vec::with_capacity(SKETCH_POINTS);
    let mut start = 0;
    while start < points.len() {
        let mut weight = 0;
        let mut end = start;
        while end < points.len() && weight < bucket {
            weight += points[end].1;
            end += 1;
        }
        let mut seen = 0;
        let middle = points[start..end]
            .iter()
            .find(|p| {
                seen += p.1;
                2 * seen >= weight
            })
            .map_or(points[start].0, |p| p.0);
        out.push((middle, weight));
        start = end;
    }
    out
}

/// The median of weighted sorted points (the mean of the two middle ranks
/// for an even count, as a plain median); 0 without points.
fn sketch_median(points: &[(f64, u64)]) -> f64 {
    let total: u64 = points.iter().map(|p| p.1).sum();
    if total == 0 {
        return 0.0;
    }
    let at_rank = |rank: u64| {
        let mut seen = 0;
        points
            .iter()
            .find(|p| {
                seen += p.1;
                seen > rank
            })
            .map_or(0.0, |p| p.0)
    };
    (at_rank((total - 1) / 2) + at_rank(total / 2)) / 2.0
}

/// The schema and fitted encoders every part of a forest trained apart
/// shares, and the class counts of all the data. See the [module
/// docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoding {
    schema: Schema,
    pipeline: Pipeline,
    rows: u64,
    frauds: u64,
}

impl Encoding {
    /// Fits the encoding on a (combined) summary as training fits it on a
    /// dataset: categories coded by their smoothed fraud rate, missing
    /// numbers filled with the median (from the quantile sketch), missing
    /// flags with the mode, and a feature the schema left open required
    /// when no partition had a missing value.
    pub fn fit(summary: &DataSummary) -> Result<Encoding> {
        let (rows, frauds) = (summary.rows, summary.frauds);
        if frauds == 0 || frauds == rows {
            return Err(Error::schema(
                "dataset",
                format!(
                    "the label `{}` needs both classes; found {frauds} frauds in {rows} rows",
                    summary.schema.label
                ),
            ));
        }
        let base_rate = frauds as f64 / rows as f64;
        let mut schema = summary.schema.clone();
        let mut encoders = Vec::with_capacity(schema.features.len());
        for (feature, tally) in schema.features.iter_mut().zip(&summary.tallies) {
            let (encoder, missing) = match (&feature.kind, tally) {
                (
                    FeatureKind::Flag,
                    Tally::Numbers {
                        missing,
                        zeros,
                        ones,
                        ..
                    },
                ) => (
                    Encoder::Flag {
                        fill: if ones > zeros { 1.0 } else { 0.0 },
                    },
                    *missing,
                ),
                (
                    FeatureKind::Numeric { .. },
                    Tally::Numbers {
                        missing,
                        range,
                        sketch,
                        ..
                    },
                ) => (
                    Encoder::Numeric {
                        fill: sketch_median(sketch),
                        range: *range,
                    },
                    *missing,
                ),
                (FeatureKind::Categorical { .. }, Tally::Categories { missing, levels }) => {
                    if levels.len() >= u32::MAX as usize - 1 {
                        return Err(Error::input(&feature.name, "too many categories"));
                    }
                    let names: Vec<String> = levels.keys().cloned().collect();
                    let counts: Vec<(f64, f64)> = levels
                        .values()
                        .chain(std::iter::once(missing))
                        .map(|&(n, f)| (n as f64, f as f64))
                        .collect();
                    (rank_categories(&names, &counts, base_rate), missing.0)
                }
                _ => {
                    return Err(Error::schema(
                        "summary",
                        format!("column `{}` does not match its kind", feature.name),
                    ))
                }
            };
            feature.required.get_or_insert(missing == 0);
            encoders.push(encoder);
        }
        let pipeline =
            Pipeline::try_from(encoders).map_err(|reason| Error::schema("pipeline", reason))?;
        Ok(Encoding {
            schema,
            pipeline,
            rows,
            frauds,
        })
    }

    /// The features every part reads, with `required` decided.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The rules that read a partition's table with this encoding's schema
    /// and label.
    pub fn column_rules(&self) -> ColumnRules {
        ColumnRules {
            label: self.schema.label.clone(),
            schema: Some(self.schema.clone()),
            ..ColumnRules::default()
        }
    }

    /// Reads one partition's table with this encoding's schema (other
    /// columns are ignored), checking every value as training does.
    pub fn dataset(&self, table: &Table) -> Result<Dataset> {
        Ok(Dataset::from_table(table, &self.column_rules())?.dataset)
    }

    /// The encoding as bytes, for sending to the workers.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        seal(ENCODING_MAGIC, "encoding", self)
    }

    /// Reads [`Encoding::to_bytes`]' bytes, checking them.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let encoding: Encoding = unseal(ENCODING_MAGIC, "encoding", bytes)?;
        let bad = |reason: String| Error::corrupt(PAYLOAD_OFFSET, format!("encoding: {reason}"));
        encoding.schema.validate().map_err(|e| bad(e.to_string()))?;
        encoding
            .pipeline
            .check_against(&encoding.schema)
            .map_err(bad)?;
        if encoding.frauds > encoding.rows {
            return Err(bad("more frauds than rows".into()));
        }
        Ok(encoding)
    }
}

/// Out-of-bag predictions of one part on its own rows: each row's mean over
/// the part's trees that did not draw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OobPool {
    pub(crate) scores: Vec<f64>,
    pub(crate) labels: Vec<u8>,
    /// The rows' amounts, kept when the threshold strategy charges missed
    /// frauds their amount.
    pub(crate) amounts: Option<Vec<f64>>,
    /// What each row counts for in the metrics and the threshold (its
    /// sample weight times a given class weight), when training had either.
    pub(crate) weights: Option<Vec<f64>>,
}

/// One part of a merged forest, as its metadata records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartRecord {
    /// Index of the part's first tree in the whole forest.
    pub first_tree: u64,
    /// Trees it trained.
    pub n_trees: u64,
    /// Rows it trained on.
    pub training_rows: u64,
    /// Frauds among them.
    pub training_frauds: u64,
    /// Its rows with an out-of-bag prediction, pooled for the merged
    /// forest's metrics and threshold.
    pub oob_rows: u64,
    /// The settings it chose for parameters left `auto`, judged on its own
    /// rows (see [`merge`]); `None` when every setting was given.
    pub auto: Option<TreeSettings>,
}

impl PartRecord {
    pub(crate) fn of_plan(plan: &PartPlan<'_>, metadata: &Metadata, oob_rows: usize) -> Self {
        PartRecord {
            first_tree: plan.trees.start as u64,
            n_trees: plan.trees.len() as u64,
            training_rows: metadata.training_rows,
            training_frauds: metadata.training_frauds,
            oob_rows: oob_rows as u64,
            auto: metadata.auto.as_ref().map(|a| a.chosen),
        }
    }
}

/// A model trained on one partition with a shared [`Encoding`], and its
/// out-of-bag predictions; [`merge`] makes one model of several.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    model: Model,
    oob: OobPool,
}

impl Trainer<'_> {
    /// Trains the trees `trees` (indices into the whole forest of
    /// `params.n_trees`, from [`split_trees`]) on one partition read with
    /// [`Encoding::dataset`]. Class weights come from the encoding's counts
    /// of all the data, so a partition needs not hold both classes.
    pub fn train_part(
        &self,
        data: &Dataset,
        encoding: &Encoding,
        trees: Range<usize>,
    ) -> Result<Part> {
        let total = self.params().n_trees;
        if trees.is_empty() || trees.end > total {
            return Err(Error::InvalidParams {
                name: "trees",
                reason: format!(
                    "trees {} to {} are not a non-empty range of the forest's {total}",
                    trees.start, trees.end
                ),
            });
        }
        let same_features = data
            .schema()
            .feature_names()
            .eq(encoding.schema.feature_names());
        if !same_features || encoding.pipeline.check_against(data.schema()).is_err() {
            return Err(Error::schema(
                "partition",
                format!(
                    "was read with the features {}, the encoding has {}: read it with the encoding",
                    data.schema().feature_names().collect::<Vec<_>>().join(", "),
                    encoding
                        .schema
                        .feature_names()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let plan = PartPlan {
            pipeline: &encoding.pipeline,
            schema: &encoding.schema,
            class_counts: (encoding.rows, encoding.frauds),
            trees,
        };
        let (model, oob) = self.train_planned(data, Some(&plan))?;
        Ok(Part { model, oob })
    }
}

impl Part {
    /// The part's own model (its trees, scored alone).
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Which trees it holds and what it trained on.
    pub fn record(&self) -> Result<&PartRecord> {
        match self.model.metadata.parts.as_slice() {
            [record] => Ok(record),
            _ => Err(Error::InvalidParams {
                name: "parts",
                reason: "a model that is not one part of a forest trained apart".into(),
            }),
        }
    }

    /// The part as bytes: the model file's bytes, then its out-of-bag
    /// predictions.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let model = self.model.to_bytes()?;
        let mut bytes = seal(PART_MAGIC, "forest part", &(model, &self.oob))?;
        bytes.shrink_to_fit();
        Ok(bytes)
    }

    /// Reads [`Part::to_bytes`]' bytes, checking the model as a model file
    /// is checked and the predictions against it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (model, oob): (Vec<u8>, OobPool) = unseal(PART_MAGIC, "forest part", bytes)?;
        let model = Model::from_bytes(&model)?;
        let bad = |reason: &str| Error::corrupt(PAYLOAD_OFFSET, format!("forest part: {reason}"));
        let n = oob.scores.len();
        if oob.labels.len() != n
            || oob.amounts.as_ref().is_some_and(|a| a.len() != n)
            || oob.weights.as_ref().is_some_and(|w| w.len() != n)
        {
            return Err(bad("out-of-bag arrays differ in length"));
        }
        if oob
            .weights
            .as_ref()
            .is_some_and(|w| w.iter().any(|w| !(w.is_finite() && *w >= 0.0)))
        {
            return Err(bad(
                "an out-of-bag row weight is not a finite number, zero or more",
            ));
        }
        if oob.scores.iter().any(|s| !(0.0..=1.0).contains(s)) || oob.labels.iter().any(|&y| y > 1)
        {
            return Err(bad(
                "an out-of-bag prediction is not a probability with a 0/1 label",
            ));
        }
        let part = Part { model, oob };
        if part
            .record()
            .map_err(|_| bad("the model is not a part"))?
            .oob_rows
            != n as u64
        {
            return Err(bad("the out-of-bag rows do not match the part's record"));
        }
        Ok(part)
    }
}

/// Merges parts trained with one [`Encoding`] into one model: the trees in
/// the order of their indices in the whole forest (whatever order the parts
/// come in), out-of-bag metrics and the decision threshold from the pooled
/// out-of-bag predictions of every part (see the [module docs](self) for
/// why that is sound), importances averaged over trees, training statistics
/// pooled, and the parts recorded in the metadata.
///
/// The parts must agree: the same schema, the same encoders (category codes
/// above all) and the same parameters but for the tree count, and no tree
/// given twice. Otherwise the error names the first difference.
pub fn merge(parts: &[Part]) -> Result<Model> {
    let mut order: Vec<&Part> = parts.iter().collect();
    let mut firsts = Vec::with_capacity(parts.len());
    for part in &order {
        firsts.push(part.record()?.first_tree);
    }
    let mut keyed: Vec<(u64, &Part)> = firsts.into_iter().zip(order.drain(..)).collect();
    keyed.sort_by_key(|(first, _)| *first);
    let Some(((_, first), _)) = keyed.split_first() else {
        return Err(Error::InvalidParams {
            name: "parts",
            reason: "no part to merge".into(),
        });
    };
    let base = &first.model;
    let mut records: Vec<PartRecord> = Vec::with_capacity(keyed.len());
    for (k, (_, part)) in keyed.iter().enumerate() {
        let record = part.record()?.clone();
        if let Some(previous) = records.last() {
            if previous.first_tree + previous.n_trees > record.first_tree {
                return Err(Error::InvalidParams {
                    name: "parts",
                    reason: format!(
                        "two parts hold tree {}: the same part given twice, or parts of different splits",
                        record.first_tree
                    ),
                });
            }
        }
        check_agrees(base, &part.model, k + 1)?;
        records.push(record);
    }
    let models: Vec<&Model> = keyed.iter().map(|(_, p)| &p.model).collect();
    let total_trees: usize = models.iter().map(|m| m.trees.len()).sum();
    let trees = models
        .iter()
        .flat_map(|m| m.trees.iter().cloned())
        .collect();

    let mut params = base.metadata.params.clone();
    params.n_trees = total_trees;
    let scores: Vec<f64> = keyed
        .iter()
        .flat_map(|(_, p)| p.oob.scores.iter().copied())
        .collect();
    let labels: Vec<u8> = keyed
        .iter()
        .flat_map(|(_, p)| p.oob.labels.iter().copied())
        .collect();
    let amounts: Option<Vec<f64>> = keyed
        .iter()
        .map(|(_, p)| p.oob.amounts.clone())
        .collect::<Option<Vec<_>>>()
        .map(|a| a.concat());
    // A part trained without weights counts each of its rows once.
    let weights: Option<Vec<f64>> = keyed.iter().any(|(_, p)| p.oob.weights.is_some()).then(|| {
        keyed
            .iter()
            .flat_map(|(_, p)| match &p.oob.weights {
                Some(w) => w.clone(),
                None => vec![1.0; p.oob.scores.len()],
            })
            .collect()
    });
    let has_oob = labels.contains(&0) && labels.contains(&1);
    if params.threshold_strategy.needs_amounts() && amounts.is_none() && has_oob {
        return Err(Error::InvalidParams {
            name: "threshold_strategy",
            reason: format!(
                "`{}` charges missed frauds their amount, but the parts kept no `{AMOUNT_FEATURE}`",
                params.threshold_strategy
            ),
        });
    }
    let threshold = if has_oob {
        Some(metrics::select_weighted_threshold(
            &scores,
            &labels,
            weights.as_deref(),
            amounts.as_deref(),
            params.threshold_strategy,
        )?)
    } else {
        None
    };
    let decision = Decision::trained(threshold, &params);
    let threshold = decision.threshold;
    let tree_weight = |m: &Model| m.trees.len() as f64 / total_trees as f64;
    let n_features = base.schema.features.len();
    let mut importances = Importances {
        shap: vec![0.0; n_features],
        impurity: vec![0.0; n_features],
    };
    for model in &models {
        let w = tree_weight(model);
        for f in 0..n_features {
            importances.shap[f] += w * model.metadata.feature_importances[f];
            importances.impurity[f] += w * model.metadata.impurity_importances[f];
        }
    }
    let (roc, pr) = if has_oob {
        let (roc, pr) = metrics::weighted_curves(
            &scores,
            &labels,
            weights.as_deref(),
            crate::model::CURVE_POINTS,
        );
        (Some(roc), Some(pr))
    } else {
        (None, None)
    };
    let metadata = Metadata {
        model_id: String::new(),
        parent_version: None,
        engine_version: crate::VERSION.into(),
        // The latest part's: the merged model depends on its parts alone.
        created: models
            .iter()
            .map(|m| m.metadata.created.clone())
            .max()
            .unwrap_or_default(),
        training_rows: records.iter().map(|r| r.training_rows).sum(),
        training_frauds: records.iter().map(|r| r.training_frauds).sum(),
        auto: merged_auto(&models, &records),
        params,
        oob: has_oob.then(|| Evaluation::weighted(&scores, &labels, weights.as_deref(), threshold)),
        roc_curve: roc,
        pr_curve: pr,
        feature_importances: importances.shap,
        impurity_importances: importances.impurity,
        feature_stats: (0..n_features)
            .map(|f| {
                pool_stats(
                    models
                        .iter()
                        .map(|m| (m.metadata.training_rows, &m.metadata.feature_stats[f])),
                )
            })
            .collect(),
        n_nodes: models.iter().map(|m| m.metadata.n_nodes).sum(),
        max_depth: 0,
        reference: crate::drift::Reference::pooled(
            &models
                .iter()
                .map(|m| (&m.metadata.reference, m.metadata.training_rows))
                .collect::<Vec<_>>(),
            &scores,
        ),
        golden: pooled_golden_rows(&models, n_features),
        parts: records,
    };
    Model::assemble(
        base.schema.clone(),
        base.pipeline.clone(),
        trees,
        decision,
        metadata,
    )
}

/// Golden rows for a merged forest: evenly spaced rows from the parts'
/// golden sets, as many as one part keeps. Their probabilities are left for
/// [`Model::assemble`] to record, since the merged forest scores them anew.
fn pooled_golden_rows(models: &[&Model], n_features: usize) -> crate::model::GoldenSet {
    let rows: Vec<&[f64]> = models
        .iter()
        .flat_map(|m| m.metadata.golden.rows.chunks_exact(n_features.max(1)))
        .collect();
    let keep = models
        .iter()
        .map(|m| m.metadata.golden.rows.len() / n_features.max(1))
        .max()
        .unwrap_or(0)
        .max(1);
    let stride = rows.len().div_ceil(keep).max(1);
    crate::model::GoldenSet {
        rows: rows
            .iter()
            .step_by(stride)
            .flat_map(|r| r.iter().copied())
            .collect(),
        probabilities: Vec::new(),
    }
}

/// What the parts chose for parameters left `auto`. Each part chose on its
/// own rows, without seeing the others' (no row moves between workers), so
/// parts may differ: `chosen` is then the settings most trees were grown
/// with, and the reason names every part's choice. The candidates are the
/// first part's; every part's choice is in its [`PartRecord`].
fn merged_auto(models: &[&Model], records: &[PartRecord]) -> Option<AutoChoice> {
    let first = models.first()?.metadata.auto.as_ref()?;
    let mut trees_by_choice: Vec<(TreeSettings, u64)> = Vec::new();
    for record in records {
        let settings = record.auto?;
        match trees_by_choice.iter_mut().find(|(s, _)| *s == settings) {
            Some((_, trees)) => *trees += record.n_trees,
            None => trees_by_choice.push((settings, record.n_trees)),
        }
    }
    // The most trees; a tie goes to the choice of the earlier part.
    let (chosen, _) = trees_by_choice
        .iter()
        .rev()
        .max_by_key(|(_, trees)| *trees)
        .copied()?;
    let reason = if trees_by_choice.len() == 1 {
        format!(
            "each of the {} parts chose it on its own rows by out-of-bag PR-AUC; the first part's: {}",
            records.len(),
            first.reason
        )
    } else {
        let each: Vec<String> = records
            .iter()
            .enumerate()
            .filter_map(|(k, r)| {
                let settings = r.auto?;
                Some(format!(
                    "part {} (trees {} to {}) {settings}",
                    k + 1,
                    r.first_tree,
                    r.first_tree + r.n_trees - 1
                ))
            })
            .collect();
        format!(
            "the parts chose on their own rows by out-of-bag PR-AUC, and differently; \
             most trees have these settings. {}",
            each.join("; ")
        )
    };
    Some(AutoChoice {
        chosen,
        candidates: first.candidates.clone(),
        trees_per_candidate: first.trees_per_candidate,
        reason,
    })
}

/// Checks that part `k` (1-based, in tree order) agrees with the first.
fn check_agrees(first: &Model, other: &Model, k: usize) -> Result<()> {
    let here = format!("part {k}");
    let differ = |reason: String| Error::schema(here.clone(), reason);
    let (a, b) = (&first.schema, &other.schema);
    if a.feature_names().ne(b.feature_names()) {
        let names = |s: &Schema| s.feature_names().collect::<Vec<_>>().join(", ");
        return Err(differ(format!(
            "has the features {}, the first part {}",
            names(b),
            names(a)
        )));
    }
    if a.label != b.label {
        return Err(differ(format!(
            "has the label `{}`, the first part `{}`",
            b.label, a.label
        )));
    }
    if a.out_of_range != b.out_of_range {
        return Err(differ(
            "handles numbers outside the training range by another policy than the first part"
                .into(),
        ));
    }
    for (i, (fa, fb)) in a.features.iter().zip(&b.features).enumerate() {
        if fa.kind != fb.kind {
            return Err(differ(format!(
                "reads `{}` as {}, the first part as {}",
                fa.name,
                fb.kind.name(),
                fa.kind.name()
            )));
        }
        if fa.required != fb.required {
            return Err(differ(format!(
                "{} `{}`, the first part does not: the parts were not trained with one encoding",
                if fb.is_required() {
                    "requires"
                } else {
                    "does not require"
                },
                fa.name
            )));
        }
        let (ea, eb) = (&first.pipeline.encoders()[i], &other.pipeline.encoders()[i]);
        if ea != eb {
            let reason = match (ea, eb) {
                (
                    Encoder::Categorical { levels: la, .. },
                    Encoder::Categorical { levels: lb, .. },
                ) => match (
                    lb.iter().find(|l| !la.contains(l)),
                    la.iter().find(|l| !lb.contains(l)),
                ) {
                    (Some(extra), _) => format!(
                        "knows the category `{extra}` of `{}`, the first part does not",
                        fa.name
                    ),
                    (None, Some(missing)) => format!(
                        "does not know the category `{missing}` of `{}`, the first part does",
                        fa.name
                    ),
                    (None, None) => format!(
                        "codes the categories of `{}` differently from the first part",
                        fa.name
                    ),
                },
                _ => format!(
                    "fills or bounds `{}` differently from the first part",
                    fa.name
                ),
            };
            return Err(differ(format!(
                "{reason}: the parts were not trained with one encoding"
            )));
        }
    }
    let (pa, pb) = (&first.metadata.params, &other.metadata.params);
    let mut pb_as_a = pb.clone();
    pb_as_a.n_trees = pa.n_trees;
    if *pa != pb_as_a {
        let differs = [
            ("max_depth", pa.max_depth != pb.max_depth),
            (
                "min_samples_leaf",
                pa.min_samples_leaf != pb.min_samples_leaf,
            ),
            ("max_features", pa.max_features != pb.max_features),
            ("class_weight", pa.class_weight != pb.class_weight),
            ("bootstrap", pa.bootstrap != pb.bootstrap),
            ("max_bins", pa.max_bins != pb.max_bins),
            ("seed", pa.seed != pb.seed),
            (
                "threshold_strategy",
                pa.threshold_strategy != pb.threshold_strategy,
            ),
            ("risk_bands", pa.risk_bands != pb.risk_bands),
        ];
        let name = differs
            .iter()
            .find(|(_, d)| *d)
            .map_or("params", |(n, _)| *n);
        return Err(Error::InvalidParams {
            name,
            reason: format!("{here} was trained with another value than the first part"),
        });
    }
    Ok(())
}

/// One feature's training statistics over all parts, each part's weighted
/// by its rows.
fn pool_stats<'a>(parts: impl Iterator<Item = (u64, &'a FeatureStats)> + Clone) -> FeatureStats {
    let rows: f64 = parts.clone().map(|(n, _)| n as f64).sum::<f64>().max(1.0);
    let present = |n: u64, s: &FeatureStats| n as f64 * (1.0 - s.missing_fraction);
    let all_present: f64 = parts.clone().map(|(n, s)| present(n, s)).sum();
    let weight = |n: u64, s: &FeatureStats| {
        if all_present > 0.0 {
            present(n, s) / all_present
        } else {
            0.0
        }
    };
    let mean: f64 = parts.clone().map(|(n, s)| weight(n, s) * s.mean).sum();
    let var: f64 = parts
        .clone()
        .map(|(n, s)| weight(n, s) * (s.std * s.std + (s.mean - mean).powi(2)))
        .sum();
    let mut shares: Vec<(String, f64)> = Vec::new();
    for (n, s) in parts.clone() {
        for (level, share) in &s.category_shares {
            let add = share * n as f64 / rows;
            match shares.iter_mut().find(|(l, _)| l == level) {
                Some((_, total)) => *total += add,
                None => shares.push((level.clone(), add)),
            }
        }
    }
    FeatureStats {
        missing_fraction: parts
            .clone()
            .map(|(n, s)| s.missing_fraction * n as f64)
            .sum::<f64>()
            / rows,
        mean,
        std: var.max(0.0).sqrt(),
        min: parts.clone().map(|(_, s)| s.min).fold(f64::MAX, f64::min),
        max: parts.clone().map(|(_, s)| s.max).fold(f64::MIN, f64::max),
        category_shares: shares,
    }
}

const SUMMARY_MAGIC: &[u8; 8] = b"FRAUDSUM";
const ENCODING_MAGIC: &[u8; 8] = b"FRAUDENC";
const PART_MAGIC: &[u8; 8] = b"FRAUDPRT";
/// Magic bytes, then the format version (u32, little-endian).
const PAYLOAD_OFFSET: u64 = 12;

/// `magic`, the model format version, then `value` in postcard.
fn seal<T: Serialize + ?Sized>(magic: &[u8; 8], what: &'static str, value: &T) -> Result<Vec<u8>> {
    let body = postcard::to_stdvec(value).map_err(|e| Error::Serialization {
        what,
        reason: e.to_string(),
    })?;
    let mut bytes = Vec::with_capacity(PAYLOAD_OFFSET as usize + body.len());
    bytes.extend_from_slice(magic);
    bytes.extend_from_slice(&crate::FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// Reads [`seal`]'s bytes, trusting nothing.
fn unseal<T: DeserializeOwned>(magic: &[u8; 8], what: &str, bytes: &[u8]) -> Result<T> {
    if bytes.len() < PAYLOAD_OFFSET as usize || &bytes[..8] != magic {
        return Err(Error::corrupt(
            0,
            format!("not a fraud-engine {what} (bad magic bytes)"),
        ));
    }
    let mut version = [0u8; 4];
    version.copy_from_slice(&bytes[8..12]);
    let version = u32::from_le_bytes(version);
    if version != crate::FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            found: version,
            supported: crate::FORMAT_VERSION,
        });
    }
    let body = &bytes[PAYLOAD_OFFSET as usize..];
    let (value, rest): (T, &[u8]) = postcard::take_from_bytes(body)
        .map_err(|e| Error::corrupt(PAYLOAD_OFFSET, format!("{what} does not decode: {e}")))?;
    if !rest.is_empty() {
        return Err(Error::corrupt(
            (bytes.len() - rest.len()) as u64,
            format!("{} unexpected bytes after the {what}", rest.len()),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_trees_is_even_and_covers_the_forest() {
        assert_eq!(split_trees(10, 3), vec![0..4, 4..7, 7..10]);
        assert_eq!(split_trees(2, 3), vec![0..1, 1..2, 2..2]);
        assert_eq!(split_trees(5, 0), vec![0..5]);
    }

    #[test]
    fn sketch_median_is_exact_when_small_and_close_when_compressed() {
        let exact: Vec<(f64, u64)> = vec![(1.0, 1), (2.0, 1), (3.0, 1), (10.0, 1)];
        assert_eq!(sketch_median(&exact), 2.5);
        assert_eq!(sketch_median(&[(4.0, 3)]), 4.0);
        assert_eq!(sketch_median(&[]), 0.0);
        let many: Vec<(f64, u64)> = (0..100_000).map(|i| (f64::from(i), 1)).collect();
        let compressed = compress(many);
        assert!(compressed.len() <= SKETCH_POINTS);
        assert_eq!(compressed.iter().map(|p| p.1).sum::<u64>(), 100_000);
        assert!((sketch_median(&compressed) - 49_999.5).abs() < 100_000.0 / SKETCH_POINTS as f64);
    }

    #[test]
    fn sealed_bytes_are_checked() {
        let err = unseal::<u32>(SUMMARY_MAGIC, "data summary", b"FRAUDENC\x02\0\0\0\x01")
            .expect_err("wrong magic");
        assert!(
            err.to_string().contains("not a fraud-engine data summary"),
            "{err}"
        );
        let mut bytes = seal(SUMMARY_MAGIC, "data summary", &7u32).expect("seal");
        assert_eq!(
            unseal::<u32>(SUMMARY_MAGIC, "data summary", &bytes).expect("open"),
            7
        );
        bytes.push(0);
        assert!(unseal::<u32>(SUMMARY_MAGIC, "data summary", &bytes).is_err());
        bytes[8] = 9;
        assert!(matches!(
            unseal::<u32>(SUMMARY_MAGIC, "data summary", &bytes),
            Err(Error::UnsupportedVersion { found: 9, .. })
        ));
    }

    /// A part's out-of-bag row weights are checked on arrival like its
    /// scores: one per row, each a finite number, zero or more.
    #[test]
    fn part_row_weights_are_checked() {
        let table = crate::synth::table(600, 3);
        let data = crate::Dataset::from_table(&table, &crate::ColumnRules::default())
            .expect("reads")
            .dataset;
        let summary = DataSummary::of(&data).expect("summary");
        let encoding = Encoding::fit(&DataSummary::combine(&[summary]).expect("one")).expect("fit");
        let data = encoding.dataset(&table).expect("reads with the encoding");
        let params = crate::TrainParams {
            n_trees: 4,
            ..crate::TrainParams::default()
        };
        let part = crate::Trainer::new(params)
            .and_then(|t| t.train_part(&data, &encoding, 0..4))
            .expect("part");
        let n = part.oob.scores.len();
        for (weights, expected) in [
            (vec![1.0; n + 1], "differ in length"),
            (vec![-1.0; n], "row weight"),
            (vec![f64::NAN; n], "row weight"),
        ] {
            let mut damaged = part.clone();
            damaged.oob.weights = Some(weights);
            let err = Part::from_bytes(&damaged.to_bytes().expect("bytes")).expect_err("refused");
            assert!(err.to_string().contains(expected), "{err}");
        }
        let mut weighted = part.clone();
        weighted.oob.weights = Some(vec![2.0; n]);
        let back = Part::from_bytes(&weighted.to_bytes().expect("bytes")).expect("reads back");
        assert_eq!(back.oob.weights, weighted.oob.weights);
    }
}

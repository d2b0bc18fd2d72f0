//! Ranking and decision metrics, and threshold selection.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Counts at one decision threshold (`score >= threshold` means "fraud").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Frauds flagged.
    pub true_positives: u64,
    /// Legitimate transactions flagged.
    pub false_positives: u64,
    /// Legitimate transactions passed.
    pub true_negatives: u64,
    /// Frauds passed.
    pub false_negatives: u64,
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

impl Confusion {
    /// Counts at `threshold`.
    pub fn at(scores: &[f64], labels: &[u8], threshold: f64) -> Self {
        let mut c = Confusion::default();
        for (&s, &y) in scores.iter().zip(labels) {
            match (s >= threshold, y == 1) {
                (true, true) => c.true_positives += 1,
                (true, false) => c.false_positives += 1,
                (false, false) => c.true_negatives += 1,
                (false, true) => c.false_negatives += 1,
            }
        }
        c
    }

    /// TP / (TP + FP); 0 when nothing is flagged.
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// TP / (TP + FN); 0 when there are no frauds.
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// FP / (FP + TN); 0 when there are no legitimate rows.
    pub fn false_positive_rate(&self) -> f64 {
        ratio(
            self.false_positives,
            self.false_positives + self.true_negatives,
        )
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        ratio(
            2 * self.true_positives,
            2 * self.true_positives + self.false_positives + self.false_negatives,
        )
    }
}

/// One point of a curve at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// The score threshold (`score >= threshold` flags).
    pub threshold: f64,
    /// Frauds flagged (cumulative, from the highest score down).
    pub true_positives: u64,
    /// Legitimate rows flagged.
    pub false_positives: u64,
}

/// The confusion counts at every distinct score, highest first: the operating
/// points every curve and threshold search reads from. Sorting once makes all
/// of them O(n log n).
pub fn operating_points(scores: &[f64], labels: &[u8]) -> Vec<CurvePoint> {
    // Sorting (score, label) pairs in place is several times faster than
    // sorting indices that point into the scores.
    let mut pairs: Vec<(f64, u8)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    pairs.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let mut points = Vec::new();
    let (mut tp, mut fp) = (0u64, 0u64);
    for (k, &(score, label)) in pairs.iter().enumerate() {
        if label == 1 {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_tie = pairs.get(k + 1).is_none_or(|next| next.0 != score);
        if last_of_tie {
            points.push(CurvePoint {
                threshold: score,
                true_positives: tp,
                false_positives: fp,
            });
        }
    }
    points
}

/// One operating point with weighted counts: what every metric below reads.
/// Unweighted rows weigh 1, so the sums are the integer counts, exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Point {
    threshold: f64,
    true_positives: f64,
    false_positives: f64,
}

/// Rows as `(score, row index)`, highest score first, ties by row: what
/// every weighted walk below reads. 16 bytes a row, sorted in place
/// (sorting indices that point into the scores is several times slower),
/// on every core: training sorts its out-of-bag rows several times, with
/// the others idle. The row breaks ties, so the order, and the sums taken
/// along it, do not depend on how the sort splits the work.
fn ranked(scores: &[f64], labels: &[u8]) -> Vec<(f64, usize)> {
    let n = scores.len().min(labels.len());
    let mut rows: Vec<(f64, usize)> = scores[..n].iter().copied().zip(0..).collect();
    rows.par_sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    rows
}

/// The operating points of `ranked` rows, each row counted by its weight (1
/// when `weights` is `None`), without storing them: callers walk them again
/// rather than keep a point per distinct score (24 bytes a row), since this
/// runs on every `auto` candidate, and on the threshold and metrics, while
/// training's memory is in use.
fn points_of<'a>(
    ranked: &'a [(f64, usize)],
    labels: &'a [u8],
    weights: Option<&'a [f64]>,
) -> impl Iterator<Item = Point> + 'a {
    let (mut tp, mut fp) = (0.0, 0.0);
    ranked
        .iter()
        .enumerate()
        .filter_map(move |(k, &(score, row))| {
            let w = weights.map_or(1.0, |w| w[row]);
            if labels[row] == 1 {
                tp += w;
            } else {
                fp += w;
            }
            ranked
                .get(k + 1)
                .is_none_or(|next| next.0 != score)
                .then_some(Point {
                    threshold: score,
                    true_positives: tp,
                    false_positives: fp,
                })
        })
}

fn fraction(num: f64, den: f64) -> f64 {
    if den <= 0.0 {
        0.0
    } else {
        num / den
    }
}

/// Area under the ROC curve: the probability that a random fraud scores above a
/// random legitimate row, ties counting one half. `None` without both classes.
pub fn roc_auc(scores: &[f64], labels: &[u8]) -> Option<f64> {
    weighted_areas(scores, labels, None).0
}

/// `(ROC-AUC, PR-AUC)` of operating points whose last (the totals) is
/// `last`, in one pass.
fn areas_of(last: Point, points: impl Iterator<Item = Point>) -> (Option<f64>, Option<f64>) {
    let (pos, neg) = (last.true_positives, last.false_positives);
    // Trapezoids between operating points count tied pairs as one half.
    let (mut area, mut ap, mut prev_tp, mut prev_fp) = (0.0f64, 0.0, 0.0, 0.0);
    for p in points {
        area += (p.false_positives - prev_fp) * (p.true_positives + prev_tp) / 2.0;
        let precision = fraction(p.true_positives, p.true_positives + p.false_positives);
        ap += (p.true_positives - prev_tp) / pos * precision;
        prev_tp = p.true_positives;
        prev_fp = p.false_positives;
    }
    let roc = (pos > 0.0 && neg > 0.0).then(|| area / (pos * neg));
    (roc, (pos > 0.0).then_some(ap))
}

/// Average precision (the area under the precision-recall curve as
/// scikit-learn's `average_precision_score` computes it). `None` without frauds.
pub fn average_precision(scores: &[f64], labels: &[u8]) -> Option<f64> {
    weighted_areas(scores, labels, None).1
}

/// [`roc_auc`] and [`average_precision`] with each row counted by its
/// weight (1 when `weights` is `None`), from one sort: `(ROC-AUC, PR-AUC)`.
pub fn weighted_areas(
    scores: &[f64],
    labels: &[u8],
    weights: Option<&[f64]>,
) -> (Option<f64>, Option<f64>) {
    // Two walks over the ranked rows rather than a stored curve (see
    // `points_of`).
    let rows = ranked(scores, labels);
    match points_of(&rows, labels, weights).last() {
        Some(last) => areas_of(last, points_of(&rows, labels, weights)),
        None => (None, None),
    }
}

/// Mean negative log-likelihood, probabilities clipped to [1e-15, 1 - 1e-15].
pub fn log_loss(scores: &[f64], labels: &[u8]) -> f64 {
    weighted_mean(scores, labels, None, row_log_loss)
}

fn row_log_loss(p: f64, y: u8) -> f64 {
    let p = p.clamp(1e-15, 1.0 - 1e-15);
    if y == 1 {
        -p.ln()
    } else {
        -(1.0 - p).ln()
    }
}

/// Mean squared error of the probabilities.
pub fn brier_score(scores: &[f64], labels: &[u8]) -> f64 {
    weighted_mean(scores, labels, None, row_squared_error)
}

fn row_squared_error(p: f64, y: u8) -> f64 {
    (p - f64::from(y)).powi(2)
}

/// The mean of `loss` over the rows, weighted when `weights` are given.
fn weighted_mean(
    scores: &[f64],
    labels: &[u8],
    weights: Option<&[f64]>,
    loss: impl Fn(f64, u8) -> f64,
) -> f64 {
    let pairs = scores.iter().zip(labels);
    match weights {
        None => {
            let n = scores.len().min(labels.len()).max(1) as f64;
            pairs.map(|(&p, &y)| loss(p, y)).sum::<f64>() / n
        }
        Some(w) => {
            let total: f64 = pairs.zip(w).map(|((&p, &y), &w)| w * loss(p, y)).sum();
            fraction(total, w.iter().sum())
        }
    }
}

/// How the decision threshold is chosen from scored, labelled rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ThresholdStrategy {
    /// The threshold with the highest F1.
    MaxF1,
    /// The highest threshold whose recall reaches the target.
    TargetRecall(f64),
    /// The lowest threshold whose precision reaches the target (the most
    /// frauds caught at that precision).
    TargetPrecision(f64),
    /// The lowest threshold whose false-positive rate stays at or below the target.
    MaxFalsePositiveRate(f64),
    /// The threshold with the least expected cost, where every flagged
    /// transaction costs a review and every missed fraud costs its amount
    /// (`missed_fraud_cost: None`) or a fixed sum.
    MinExpectedCost {
        /// Cost of reviewing one flagged transaction.
        review_cost: f64,
        /// Cost of one missed fraud; `None` charges the transaction's amount.
        missed_fraud_cost: Option<f64>,
    },
}

impl ThresholdStrategy {
    /// Whether choosing a threshold this way needs each transaction's amount.
    pub fn needs_amounts(&self) -> bool {
        matches!(
            self,
            ThresholdStrategy::MinExpectedCost {
                missed_fraud_cost: None,
                ..
            }
        )
    }
}

impl std::fmt::Display for ThresholdStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ThresholdStrategy::MaxF1 => write!(f, "max-f1"),
            ThresholdStrategy::TargetRecall(r) => write!(f, "target-recall={r}"),
            ThresholdStrategy::TargetPrecision(p) => write!(f, "target-precision={p}"),
            ThresholdStrategy::MaxFalsePositiveRate(r) => write!(f, "max-fpr={r}"),
            ThresholdStrategy::MinExpectedCost {
                review_cost,
                missed_fraud_cost: None,
            } => {
                write!(f, "min-cost={review_cost}")
            }
            ThresholdStrategy::MinExpectedCost {
                review_cost,
                missed_fraud_cost: Some(c),
            } => {
                write!(f, "min-cost={review_cost},{c}")
            }
        }
    }
}

impl std::str::FromStr for ThresholdStrategy {
    type Err = Error;

    /// Parses `max-f1`, `target-recall=0.9`, `target-precision=0.5`,
    /// `max-fpr=0.01`, `min-cost=REVIEW` (a missed fraud costs its amount) or
    /// `min-cost=REVIEW,MISSED` (a fixed cost per missed fraud).
    fn from_str(text: &str) -> Result<Self> {
        let bad = |reason: String| Error::InvalidParams {
            name: "threshold_strategy",
            reason,
        };
        let (name, value) = match text.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (text.trim(), None),
        };
        let target = || -> Result<f64> {
            let v: f64 = value
                .ok_or_else(|| bad(format!("`{name}` needs a value, as in {name}=0.9")))?
                .parse()
                .map_err(|_| bad(format!("`{text}`: the target is not a number")))?;
            if (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err(bad(format!("`{text}`: the target must be in [0, 1]")))
            }
        };
        let cost = |v: &str| -> Result<f64> {
            match v.trim().parse::<f64>() {
                Ok(c) if c.is_finite() && c >= 0.0 => Ok(c),
                _ => Err(bad(format!("`{text}`: costs must be non-negative numbers"))),
            }
        };
        match name {
            "max-f1" => Ok(ThresholdStrategy::MaxF1),
            "min-cost" => {
                let value = value.ok_or_else(|| bad("`min-cost` needs a review cost, as in min-cost=5".into()))?;
                let (review, missed) = match value.split_once(',') {
                    Some((r, m)) => (cost(r)?, Some(cost(m)?)),
                    None => (cost(value)?, None),
                };
                Ok(ThresholdStrategy::MinExpectedCost { review_cost: review, missed_fraud_cost: missed })
            }
            "target-recall" => Ok(ThresholdStrategy::TargetRecall(target()?)),
            "target-precision" => Ok(ThresholdStrategy::TargetPrecision(target()?)),
            "max-fpr" => Ok(ThresholdStrategy::MaxFalsePositiveRate(target()?)),
            _ => Err(bad(format!(
                "unknown strategy `{name}` (use max-f1, target-recall=R, target-precision=P, max-fpr=F or min-cost=REVIEW[,MISSED])"
            ))),
        }
    }
}

/// What a missed fraud costs, row by row: its amount or a fixed sum.
fn missed_costs<'a>(
    labels: &'a [u8],
    amounts: Option<&'a [f64]>,
    fixed: Option<f64>,
) -> impl Fn(usize) -> f64 + 'a {
    move |i| {
        if labels[i] != 1 {
            0.0
        } else {
            match (fixed, amounts) {
                (Some(c), _) => c,
                (None, Some(a)) if a[i].is_finite() => a[i].max(0.0),
                _ => 0.0,
            }
        }
    }
}

/// Picks a threshold by `strategy`. `amounts` (one per row) are needed only
/// by a cost strategy that charges missed frauds their amount. Falls back to
/// 0.5 when the data has no frauds or no point meets the target.
pub fn select_threshold(
    scores: &[f64],
    labels: &[u8],
    amounts: Option<&[f64]>,
    strategy: ThresholdStrategy,
) -> Result<f64> {
    select_weighted_threshold(scores, labels, None, amounts, strategy)
}

/// [`select_threshold`] with each row counted by its weight (a flagged row
/// of weight 2 costs two reviews).
pub fn select_weighted_threshold(
    scores: &[f64],
    labels: &[u8],
    weights: Option<&[f64]>,
    amounts: Option<&[f64]>,
    strategy: ThresholdStrategy,
) -> Result<f64> {
    if strategy.needs_amounts() && amounts.is_none_or(|a| a.len() != scores.len()) {
        return Err(Error::InvalidParams {
            name: "threshold_strategy",
            reason: format!(
                "`{strategy}` charges missed frauds their amount, but no `amount` column was given"
            ),
        });
    }
    let rows = ranked(scores, labels);
    let points = || points_of(&rows, labels, weights);
    let Some(last) = points().last() else {
        return Ok(0.5);
    };
    let (pos, neg) = (last.true_positives, last.false_positives);
    if pos <= 0.0 {
        return Ok(0.5);
    }
    let precision = |p: &Point| fraction(p.true_positives, p.true_positives + p.false_positives);
    let recall = |p: &Point| fraction(p.true_positives, pos);
    let fpr = |p: &Point| fraction(p.false_positives, neg);
    let chosen = match strategy {
        ThresholdStrategy::MaxF1 => points()
            .map(|p| {
                (
                    p,
                    fraction(
                        2.0 * p.true_positives,
                        p.true_positives + p.false_positives + pos,
                    ),
                )
            })
            // Ties keep the highest threshold (the first), flagging the fewest rows.
            .fold(None::<(Point, f64)>, |best, (p, f1)| match best {
                Some((_, b)) if b >= f1 => best,
                _ => Some((p, f1)),
            })
            .map(|(p, _)| p.threshold),
        ThresholdStrategy::TargetRecall(target) => {
            points().find(|p| recall(p) >= target).map(|p| p.threshold)
        }
        // The lowest threshold that still meets the target: the last such point.
        ThresholdStrategy::TargetPrecision(target) => points()
            .filter(|p| precision(p) >= target)
            .last()
            .map(|p| p.threshold),
        ThresholdStrategy::MaxFalsePositiveRate(target) => points()
            .filter(|p| fpr(p) <= target)
            .last()
            .map(|p| p.threshold),
        ThresholdStrategy::MinExpectedCost {
            review_cost,
            missed_fraud_cost,
        } => {
            let table = cost_curve(
                scores,
                labels,
                weights,
                amounts,
                review_cost,
                missed_fraud_cost,
            );
            table
                .iter()
                .fold(None::<(f64, f64)>, |best, &(t, cost)| match best {
                    Some((_, c)) if c <= cost => best,
                    _ => Some((t, cost)),
                })
                .map(|(t, _)| t)
        }
    };
    Ok(chosen.unwrap_or(0.5))
}

/// Expected cost at every operating point, highest threshold first, plus
/// the point that flags nothing (threshold above every score).
fn cost_curve(
    scores: &[f64],
    labels: &[u8],
    weights: Option<&[f64]>,
    amounts: Option<&[f64]>,
    review_cost: f64,
    missed: Option<f64>,
) -> Vec<(f64, f64)> {
    let n = scores.len().min(labels.len());
    let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
    let missed_cost = missed_costs(labels, amounts, missed);
    let cost_of = |i: usize| match weights {
        None => missed_cost(i),
        Some(_) => weight(i) * missed_cost(i),
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let total_missed: f64 = (0..n).map(&cost_of).sum();
    let max_score = order.first().map_or(1.0, |&i| scores[i]);
    let mut curve = vec![(next_above(max_score), total_missed)];
    let (mut flagged, mut caught) = (0.0, 0.0);
    for (k, &i) in order.iter().enumerate() {
        flagged += weight(i);
        caught += cost_of(i);
        if order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]) {
            curve.push((scores[i], review_cost * flagged + (total_missed - caught)));
        }
    }
    curve
}

/// The smallest threshold that flags nothing when every score is at most `x`.
fn next_above(x: f64) -> f64 {
    if x < 1.0 {
        1.0
    } else {
        f64::from_bits(x.to_bits() + 1)
    }
}

/// One row of a threshold table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdRow {
    /// The threshold (`score >= threshold` flags).
    pub threshold: f64,
    /// Transactions flagged.
    pub flagged: u64,
    /// Precision at the threshold.
    pub precision: f64,
    /// Recall at the threshold.
    pub recall: f64,
    /// False-positive rate at the threshold.
    pub false_positive_rate: f64,
    /// Expected cost: reviews of the flagged plus the missed frauds' cost.
    pub expected_cost: f64,
}

/// Precision, recall, false-positive rate and expected cost at each of
/// `thresholds`, with the cost model of [`ThresholdStrategy::MinExpectedCost`].
pub fn threshold_table(
    scores: &[f64],
    labels: &[u8],
    amounts: Option<&[f64]>,
    review_cost: f64,
    missed_fraud_cost: Option<f64>,
    thresholds: &[f64],
) -> Vec<ThresholdRow> {
    let cost_of = missed_costs(labels, amounts, missed_fraud_cost);
    thresholds
        .iter()
        .map(|&t| {
            let c = Confusion::at(scores, labels, t);
            let missed: f64 = (0..scores.len().min(labels.len()))
                .filter(|&i| scores[i] < t)
                .map(&cost_of)
                .sum();
            ThresholdRow {
                threshold: t,
                flagged: c.true_positives + c.false_positives,
                precision: c.precision(),
                recall: c.recall(),
                false_positive_rate: c.false_positive_rate(),
                expected_cost: review_cost * (c.true_positives + c.false_positives) as f64 + missed,
            }
        })
        .collect()
}

/// Everything `evaluate` reports for scored, labelled rows at one threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Rows scored.
    pub rows: u64,
    /// Frauds among them.
    pub frauds: u64,
    /// Area under the ROC curve (`None` without both classes).
    pub roc_auc: Option<f64>,
    /// Average precision (`None` without frauds).
    pub pr_auc: Option<f64>,
    /// The decision threshold the counts below use.
    pub threshold: f64,
    /// Precision at the threshold.
    pub precision: f64,
    /// Recall at the threshold.
    pub recall: f64,
    /// F1 at the threshold.
    pub f1: f64,
    /// False-positive rate at the threshold.
    pub false_positive_rate: f64,
    /// Counts at the threshold.
    pub confusion: Confusion,
    /// Mean log loss.
    pub log_loss: f64,
    /// Brier score.
    pub brier: f64,
}

impl Evaluation {
    /// Evaluates `scores` against `labels` at `threshold`.
    pub fn new(scores: &[f64], labels: &[u8], threshold: f64) -> Self {
        Self::weighted(scores, labels, None, threshold)
    }

    /// [`Evaluation::new`] with each row counted by its weight (as
    /// scikit-learn's metrics take `sample_weight`): the areas, rates, log
    /// loss and Brier score are weighted; `rows`, `frauds` and `confusion`
    /// still count rows.
    pub fn weighted(
        scores: &[f64],
        labels: &[u8],
        weights: Option<&[f64]>,
        threshold: f64,
    ) -> Self {
        let confusion = Confusion::at(scores, labels, threshold);
        let (roc_auc, pr_auc) = weighted_areas(scores, labels, weights);
        let rates = match weights {
            None => [
                confusion.precision(),
                confusion.recall(),
                confusion.f1(),
                confusion.false_positive_rate(),
            ],
            Some(w) => {
                // [true positives, false positives, true negatives, false negatives]
                let mut sums = [0.0; 4];
                for ((&s, &y), &w) in scores.iter().zip(labels).zip(w) {
                    sums[match (s >= threshold, y == 1) {
                        (true, true) => 0,
                        (true, false) => 1,
                        (false, false) => 2,
                        (false, true) => 3,
                    }] += w;
                }
                let [tp, fp, tn, fn_] = sums;
                [
                    fraction(tp, tp + fp),
                    fraction(tp, tp + fn_),
                    fraction(2.0 * tp, 2.0 * tp + fp + fn_),
                    fraction(fp, fp + tn),
                ]
            }
        };
        Evaluation {
            rows: scores.len() as u64,
            frauds: labels.iter().filter(|&&y| y == 1).count() as u64,
            roc_auc,
            pr_auc,
            threshold,
            precision: rates[0],
            recall: rates[1],
            f1: rates[2],
            false_positive_rate: rates[3],
            confusion,
            log_loss: weighted_mean(scores, labels, weights, row_log_loss),
            brier: weighted_mean(scores, labels, weights, row_squared_error),
        }
    }
}

/// A curve reduced to at most `max_points` points for storage and plotting:
/// ROC as (false-positive rate, true-positive rate), PR as (recall, precision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// x coordinates.
    pub x: Vec<f64>,
    /// y coordinates.
    pub y: Vec<f64>,
    /// The threshold at each point.
    pub thresholds: Vec<f64>,
}

/// ROC and precision-recall curves, each at most `max_points` long.
pub fn curves(scores: &[f64], labels: &[u8], max_points: usize) -> (Curve, Curve) {
    weighted_curves(scores, labels, None, max_points)
}

/// [`curves`] with each row counted by its weight.
pub fn weighted_curves(
    scores: &[f64],
    labels: &[u8],
    weights: Option<&[f64]>,
    max_points: usize,
) -> (Curve, Curve) {
    let rows = ranked(scores, labels);
    let points = || points_of(&rows, labels, weights);
    let mut roc = Curve {
        x: vec![0.0],
        y: vec![0.0],
        thresholds: vec![f64::INFINITY],
    };
    // By convention (scikit-learn's precision_recall_curve) the PR curve
    // starts at recall 0 with precision 1: flag nothing, wrong about nothing.
    let mut pr = Curve {
        x: vec![0.0],
        y: vec![1.0],
        thresholds: vec![f64::INFINITY],
    };
    let Some(last) = points().last() else {
        return (roc, pr);
    };
    let (pos, neg) = (last.true_positives, last.false_positives);
    let step = points().count().div_ceil(max_points.max(2) - 1).max(1);
    let kept = points().step_by(step).chain(std::iter::once(last));
    let mut previous = None;
    for p in kept {
        if previous == Some(p.threshold) {
            continue;
        }
        previous = Some(p.threshold);
        roc.x.push(fraction(p.false_positives, neg));
        roc.y.push(fraction(p.true_positives, pos));
        roc.thresholds.push(p.threshold);
        pr.x.push(fraction(p.true_positives, pos));
        pr.y.push(fraction(
            p.true_positives,
            p.true_positives + p.false_positives,
        ));
        pr.thresholds.push(p.threshold);
    }
    roc.thresholds[0] = roc.thresholds.get(1).map_or(1.0, |t| t.max(1.0));
    pr.thresholds[0] = roc.thresholds[0];
    (roc, pr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_start_where_plots_expect() {
        let scores = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1];
        let labels = [1, 1, 0, 1, 0, 0];
        let (roc, pr) = curves(&scores, &labels, 200);
        assert_eq!((roc.x[0], roc.y[0]), (0.0, 0.0));
        assert_eq!((roc.x.last(), roc.y.last()), (Some(&1.0), Some(&1.0)));
        // Recall 0 at precision 1 (not 0), then the first threshold's point.
        assert_eq!((pr.x[0], pr.y[0]), (0.0, 1.0));
        assert_eq!((pr.x[1], pr.y[1]), (1.0 / 3.0, 1.0));
        assert_eq!(pr.x.len(), pr.thresholds.len());
        assert!(pr.thresholds[0] >= pr.thresholds[1]);
    }

    #[test]
    fn rows_without_a_label_are_left_out() {
        let (scores, labels) = ([0.1, 0.4, 0.35, 0.8, 0.9], [0, 0, 1, 1]);
        assert_eq!(roc_auc(&scores, &labels), roc_auc(&scores[..4], &labels));
        assert_eq!(
            average_precision(&scores, &labels),
            average_precision(&scores[..4], &labels)
        );
    }

    #[test]
    fn auc_examples() {
        assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]), Some(0.75));
        assert_eq!(roc_auc(&[0.5, 0.5], &[0, 1]), Some(0.5));
        assert_eq!(roc_auc(&[0.5, 0.5], &[1, 1]), None);
        // scikit-learn: average_precision_score([0,0,1,1],[0.1,0.4,0.35,0.8]) == 0.8333...
        let ap = average_precision(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]).expect("has frauds");
        assert!((ap - 0.833_333_333_333_333_4).abs() < 1e-12);
    }

    #[test]
    fn confusion_and_thresholds() {
        let scores = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1];
        let labels = [1, 1, 0, 1, 0, 0];
        let c = Confusion::at(&scores, &labels, 0.75);
        assert_eq!(
            (
                c.true_positives,
                c.false_positives,
                c.true_negatives,
                c.false_negatives
            ),
            (2, 0, 3, 1)
        );
        let pick = |strategy| {
            select_threshold(&scores, &labels, None, strategy).expect("no amounts needed")
        };
        assert_eq!(pick(ThresholdStrategy::TargetRecall(1.0)), 0.3);
        assert_eq!(pick(ThresholdStrategy::TargetPrecision(1.0)), 0.8);
        assert_eq!(pick(ThresholdStrategy::MaxFalsePositiveRate(0.0)), 0.8);
        // F1 is 0.8 at 0.8 (2 of 3 frauds, no false alarm) and 6/7 at 0.3.
        assert_eq!(pick(ThresholdStrategy::MaxF1), 0.3);
        assert_eq!(
            select_threshold(&[0.2], &[0], None, ThresholdStrategy::MaxF1).ok(),
            Some(0.5)
        );
    }

    #[test]
    fn cost_strategy_weighs_reviews_against_missed_amounts() {
        let scores = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1];
        let labels = [1, 1, 0, 1, 0, 0];
        let amounts = [100.0, 100.0, 5.0, 1000.0, 5.0, 5.0];
        let cost = |review| ThresholdStrategy::MinExpectedCost {
            review_cost: review,
            missed_fraud_cost: None,
        };
        // Reviews are cheap: flag down to the 1000-unit fraud at 0.3.
        assert_eq!(
            select_threshold(&scores, &labels, Some(&amounts), cost(10.0)).ok(),
            Some(0.3)
        );
        // Reviews cost more than any fraud: flag nothing.
        assert!(
            select_threshold(&scores, &labels, Some(&amounts), cost(5_000.0)).expect("cost") > 0.9
        );
        // A fixed cost of 50 per missed fraud with reviews at 40: catch the two
        // sure frauds (80 + 50 = 130) rather than all three (4 reviews = 160).
        let fixed = ThresholdStrategy::MinExpectedCost {
            review_cost: 40.0,
            missed_fraud_cost: Some(50.0),
        };
        assert_eq!(
            select_threshold(&scores, &labels, None, fixed).ok(),
            Some(0.8)
        );
        assert!(
            select_threshold(&scores, &labels, None, cost(1.0)).is_err(),
            "amounts required"
        );
        let table = threshold_table(&scores, &labels, Some(&amounts), 10.0, None, &[0.8, 0.3]);
        assert_eq!(table[0].flagged, 2);
        assert_eq!(table[0].expected_cost, 20.0 + 1000.0);
        assert_eq!(table[1].expected_cost, 40.0);
        assert_eq!(table[1].recall, 1.0);
    }

    #[test]
    fn strategies_parse() {
        assert_eq!(
            "max-f1".parse::<ThresholdStrategy>().ok(),
            Some(ThresholdStrategy::MaxF1)
        );
        assert_eq!(
            "target-recall=0.8".parse::<ThresholdStrategy>().ok(),
            Some(ThresholdStrategy::TargetRecall(0.8))
        );
        assert!("target-recall".parse::<ThresholdStrategy>().is_err());
        assert!("max-fpr=2".parse::<ThresholdStrategy>().is_err());
        assert!("best".parse::<ThresholdStrategy>().is_err());
        for text in ["min-cost=5", "min-cost=5,120.5", "max-fpr=0.01"] {
            let strategy: ThresholdStrategy = text.parse().expect("parses");
            assert_eq!(strategy.to_string(), text);
        }
        assert!("min-cost=-1".parse::<ThresholdStrategy>().is_err());
    }
}

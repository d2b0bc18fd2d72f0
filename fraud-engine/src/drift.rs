//! Drift: how far the data a model scores has moved from the data it was
//! trained on, as the population stability index (PSI) per feature and for
//! the score.
//!
//! At training time the model stores a [`Reference`]: each feature's
//! training distribution over at most ten bins (deciles of a number, the
//! categories seen plus "other", a bin for missing values) and the
//! distribution of its out-of-bag scores. Live traffic is counted into the
//! same bins, by [`Model::drift_bins`] one transaction at a time (the server
//! keeps a [`Window`] of the latest) or by [`Model::drift`] for a whole table
//! (the command line, Python). PSI is `sum((a - e) * ln(a / e))` over the
//! bins, with `a` the live share and `e` the training share (each floored at
//! 0.0001 so an empty bin does not make it infinite), read by the customary
//! bands: below 0.1 stable, 0.1 to 0.25 moderate, above 0.25 significant.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{category_text, Column, Dataset, Value, MISSING_CODE};
use crate::error::Result;
use crate::model::{Fields, Model, Rows};

/// Quantile bins per numeric feature (deciles), before equal edges merge.
const QUANTILES: usize = 10;
/// The least share a bin counts for in PSI, so an empty bin is finite.
const FLOOR: f64 = 1e-4;
/// Bins named in a report's `top_moving_bins`.
const TOP_BINS: usize = 3;

/// How one feature's values fall into bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Binning {
    /// Bin `i` holds values `<= edges[i]` (and above the edge before); the
    /// last bin holds values above every edge.
    Edges(Vec<f64>),
    /// One bin per category, then one for any other category.
    Levels(Vec<String>),
}

/// One distribution: its bins and each bin's share of the rows, with the
/// missing values' share last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// How values fall into bins.
    pub binning: Binning,
    /// The share of each bin, then of missing values; sums to 1.
    pub shares: Vec<f64>,
}

/// What the model saw in training, to compare live traffic against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// Each feature's training distribution, in schema order.
    pub features: Vec<Distribution>,
    /// The distribution of the model's out-of-bag probabilities.
    pub score: Distribution,
}

impl Binning {
    /// Bins, without the missing bin.
    fn len(&self) -> usize {
        match self {
            Binning::Edges(edges) => edges.len() + 1,
            Binning::Levels(levels) => levels.len() + 1,
        }
    }

    /// The bin of a number (a present value).
    fn number_bin(&self, x: f64) -> usize {
        match self {
            Binning::Edges(edges) => edges.partition_point(|&e| e < x),
            // A category given as a number, as the encoder spells it.
            Binning::Levels(levels) => {
                let mut text = String::new();
                crate::data::number_as_level(x, &mut text);
                self.level_bin(&text, levels)
            }
        }
    }

    fn level_bin(&self, text: &str, levels: &[String]) -> usize {
        levels
            .iter()
            .position(|l| l == text)
            .unwrap_or(levels.len())
    }

    /// The bin of an input value; missing (and unreadable) values go to the
    /// missing bin, `self.len()`.
    fn bin(&self, value: Value<'_>) -> usize {
        let missing = self.len();
        if value.is_missing() {
            return missing;
        }
        match (self, value) {
            (_, Value::Number(x)) => self.number_bin(x),
            (Binning::Edges(_), Value::Bool(b)) => self.number_bin(f64::from(u8::from(b))),
            (Binning::Edges(_), Value::Text(t)) => {
                match crate::data::parse_number(t)
                    .or_else(|| crate::data::parse_bool(t).map(|b| f64::from(u8::from(b))))
                {
                    Some(x) => self.number_bin(x),
                    None => missing,
                }
            }
            (Binning::Levels(levels), value) => {
                let mut scratch = String::new();
                match category_text(&value, &mut scratch) {
                    Ok(Some(text)) => self.level_bin(text, levels),
                    _ => missing,
                }
            }
            _ => missing,
        }
    }

    /// `other`'s shares moved onto these bins (the missing share last, as
    /// it is). Levels map one to one; edges move a bin's share in
    /// proportion to its overlap, the open first and last bins counting as
    /// their one edge.
    fn rebin(&self, other: &Distribution) -> Vec<f64> {
        let missing = other.shares.last().copied().unwrap_or(0.0);
        let mut moved = vec![0.0; self.len() + 1];
        moved[self.len()] = missing;
        match (self, &other.binning) {
            (Binning::Levels(mine), Binning::Levels(theirs)) => {
                for (i, level) in theirs.iter().enumerate() {
                    moved[self.level_bin(level, mine)] += other.shares[i];
                }
                // Their "other" bin stays "other" here.
                moved[mine.len()] += other.shares[theirs.len()];
            }
            (Binning::Edges(mine), Binning::Edges(theirs)) => {
                let cdf = |t: f64| -> f64 {
                    let mut below = 0.0;
                    for (j, share) in other.shares[..=theirs.len()].iter().enumerate() {
                        let (lo, hi) = match j {
                            0 => (theirs.first().copied(), theirs.first().copied()),
                            j if j == theirs.len() => (theirs.last().copied(), None),
                            j => (Some(theirs[j - 1]), Some(theirs[j])),
                        };
                        below += share
                            * match (lo, hi) {
                                (_, Some(hi)) if t >= hi => 1.0,
                                (Some(lo), _) if t <= lo => 0.0,
                                (Some(lo), Some(hi)) => (t - lo) / (hi - lo),
                                // The open last bin: its share lies above its edge.
                                _ => 0.0,
                            };
                    }
                    below
                };
                let present = 1.0 - missing;
                let mut previous = 0.0;
                for (i, &edge) in mine.iter().enumerate() {
                    let at = cdf(edge).min(present);
                    moved[i] = (at - previous).max(0.0);
                    previous = at;
                }
                moved[mine.len()] = (present - previous).max(0.0);
            }
            // Kinds agree between parts of one merge; anything else keeps
            // only the missing share's place and counts the rest as one bin.
            _ => moved[self.len() - 1] = 1.0 - missing,
        }
        moved
    }

    /// A person's name for bin `i` ("<= 12.5", "Grocery", "missing").
    fn label(&self, i: usize) -> String {
        match self {
            _ if i == self.len() => "missing".into(),
            Binning::Edges(edges) if i == edges.len() => match edges.last() {
                Some(&last) => format!("> {}", short_number(last)),
                None => "any".into(),
            },
            Binning::Edges(edges) => format!("<= {}", short_number(edges[i])),
            Binning::Levels(levels) => levels.get(i).cloned().unwrap_or_else(|| "other".into()),
        }
    }
}

/// A bin edge for people: four significant digits, at least two decimals'
/// worth for large numbers, trailing zeros dropped ("0.004603", "39.26").
fn short_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (3 - x.abs().log10().floor() as i64).clamp(2, 12) as usize;
    let text = format!("{x:.decimals$}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

/// Decile edges of present values: distinct, and not the largest value
/// (values above the last edge fall in the last bin).
fn quantile_edges(values: &[f64]) -> Vec<f64> {
    let mut present: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    let Some(max) = present.iter().copied().max_by(f64::total_cmp) else {
        return Vec::new();
    };
    let positions: Vec<usize> = (1..QUANTILES)
        .map(|q| (q * present.len() / QUANTILES).min(present.len() - 1))
        .collect();
    select_in_order(&mut present, &positions);
    let mut edges: Vec<f64> = positions
        .iter()
        .map(|&p| present[p])
        .filter(|&e| e < max)
        .collect();
    edges.dedup();
    edges
}

/// Moves to each of `positions` (ascending) the value a sort would put
/// there, by selection around the middle position, then on either side:
/// about three passes over the values for nine deciles, where sorting a
/// training column took most of the model's description.
fn select_in_order(values: &mut [f64], positions: &[usize]) {
    let Some(&middle) = positions.get(positions.len() / 2) else {
        return;
    };
    let (below, _, above) = values.select_nth_unstable_by(middle, f64::total_cmp);
    let split = positions.partition_point(|&p| p < middle);
    select_in_order(below, &positions[..split]);
    let after: Vec<usize> = positions[split..]
        .iter()
        .filter(|&&p| p > middle)
        .map(|&p| p - middle - 1)
        .collect();
    select_in_order(above, &after);
}

/// The shares of `counts` (which include the missing bin).
fn shares(counts: &[u64]) -> Vec<f64> {
    let total = counts.iter().sum::<u64>().max(1) as f64;
    counts.iter().map(|&c| c as f64 / total).collect()
}

impl Distribution {
    fn of_numbers(values: &[f64]) -> Self {
        let binning = Binning::Edges(quantile_edges(values));
        let mut counts = vec![0u64; binning.len() + 1];
        for &x in values {
            let bin = if x.is_nan() {
                binning.len()
            } else {
                binning.number_bin(x)
            };
            counts[bin] += 1;
        }
        Distribution {
            shares: shares(&counts),
            binning,
        }
    }

    fn of_column(column: &Column) -> Self {
        match column {
            Column::Numeric(values) => Self::of_numbers(values),
            Column::Categorical { codes, levels } => {
                let binning = Binning::Levels(levels.clone());
                let mut counts = vec![0u64; binning.len() + 1];
                for &c in codes {
                    let bin = if c == MISSING_CODE {
                        binning.len()
                    } else {
                        c as usize
                    };
                    counts[bin] += 1;
                }
                Distribution {
                    shares: shares(&counts),
                    binning,
                }
            }
        }
    }
}

impl Reference {
    /// The reference of a training dataset and its out-of-bag scores.
    pub(crate) fn of(data: &Dataset, scores: &[f64]) -> Self {
        let (features, score) = rayon::join(
            || {
                data.columns()
                    .par_iter()
                    .map(Distribution::of_column)
                    .collect()
            },
            || Distribution::of_numbers(scores),
        );
        Reference { features, score }
    }

    /// The reference of a forest merged from parts trained on separate rows
    /// (see [`crate::merge`]): each feature's distribution pooled from the
    /// parts' by their row counts, and the score's from the merged forest's
    /// pooled out-of-bag `scores`.
    ///
    /// The parts share category levels (the encoding is fitted once), so a
    /// categorical feature pools exactly. Each part chose its own decile
    /// edges for a number, so a numeric feature keeps the first part's
    /// edges and the others' shares are moved onto them, spreading a bin's
    /// share evenly between its edges: an approximation, close when the
    /// parts are alike, which is when merging them makes sense.
    pub(crate) fn pooled(parts: &[(&Reference, u64)], scores: &[f64]) -> Self {
        let total = parts.iter().map(|(_, rows)| *rows).sum::<u64>().max(1) as f64;
        let first = parts.first().map(|(r, _)| *r);
        let n_features = first.map_or(0, |r| r.features.len());
        let features = (0..n_features)
            .map(|f| {
                let target = &parts[0].0.features[f];
                let mut shares = vec![0.0; target.shares.len()];
                for (reference, rows) in parts {
                    let weight = *rows as f64 / total;
                    let moved = target.binning.rebin(&reference.features[f]);
                    for (share, m) in shares.iter_mut().zip(moved) {
                        *share += weight * m;
                    }
                }
                Distribution {
                    binning: target.binning.clone(),
                    shares,
                }
            })
            .collect();
        Reference {
            features,
            score: Distribution::of_numbers(scores),
        }
    }

    /// Checks the reference fits `n_features` features (for the loader).
    pub(crate) fn check(&self, n_features: usize) -> std::result::Result<(), String> {
        if self.features.len() != n_features {
            return Err("the drift reference does not match the feature count".into());
        }
        for d in self.features.iter().chain([&self.score]) {
            let finite = d.shares.iter().all(|s| s.is_finite() && *s >= 0.0);
            if d.shares.len() != d.binning.len() + 1 || !finite {
                return Err("a drift reference's shares do not match its bins".into());
            }
            if let Binning::Edges(edges) = &d.binning {
                if edges.iter().any(|e| !e.is_finite()) || edges.windows(2).any(|w| w[0] >= w[1]) {
                    return Err("a drift reference's edges are not increasing".into());
                }
            }
        }
        Ok(())
    }
}

/// How far a population moved, by the customary PSI bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    /// PSI below 0.1.
    Stable,
    /// PSI from 0.1 to 0.25.
    Moderate,
    /// PSI above 0.25.
    Significant,
}

impl Band {
    /// The band of a PSI value.
    pub fn of(psi: f64) -> Self {
        if psi < 0.1 {
            Band::Stable
        } else if psi <= 0.25 {
            Band::Moderate
        } else {
            Band::Significant
        }
    }
}

/// One bin's share in training and in the traffic compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BinShift {
    /// The bin, for people ("<= 12.5", "Grocery", "missing").
    pub bin: String,
    /// Its share of the training rows.
    pub expected: f64,
    /// Its share of the rows compared.
    pub actual: f64,
}

/// The drift of one feature (or of the score).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Psi {
    /// The feature's name (`score` for the model's probability).
    pub feature: String,
    /// The population stability index.
    pub psi: f64,
    /// Its band.
    pub band: Band,
    /// The bins that moved most, largest term first.
    pub top_moving_bins: Vec<BinShift>,
}

/// Drift of every feature and of the score, over some rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    /// Rows compared.
    pub rows: u64,
    /// One entry per feature, in schema order.
    pub features: Vec<Psi>,
    /// The score's drift.
    pub score: Psi,
}

fn psi(feature: &str, reference: &Distribution, counts: &[u64]) -> Psi {
    let actual = shares(counts);
    let terms: Vec<f64> = reference
        .shares
        .iter()
        .zip(&actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(FLOOR), a.max(FLOOR));
            (a - e) * (a / e).ln()
        })
        .collect();
    let total: f64 = terms.iter().sum();
    let mut order: Vec<usize> = (0..terms.len()).collect();
    order.sort_by(|&a, &b| terms[b].total_cmp(&terms[a]));
    Psi {
        feature: feature.into(),
        psi: total,
        band: Band::of(total),
        top_moving_bins: order
            .into_iter()
            .take(TOP_BINS)
            .filter(|&i| terms[i] > 0.0)
            .map(|i| BinShift {
                bin: reference.binning.label(i),
                expected: reference.shares[i],
                actual: actual[i],
            })
            .collect(),
    }
}

/// Live traffic counted into a model's reference bins: the latest
/// `capacity` transactions, each entering as [`Model::drift_bins`] gives
/// them, the oldest leaving as new ones come. Counts are kept as they
/// change, so a report costs one pass over the bins, not over the window.
#[derive(Debug, Clone)]
pub struct Window {
    capacity: usize,
    width: usize,
    /// The bins of each transaction in the window (features then score),
    /// oldest first from `next` around.
    entries: Vec<u16>,
    /// When each transaction was seen (milliseconds, the caller's clock).
    times: Vec<u64>,
    next: usize,
    len: usize,
    counts: Vec<Vec<u64>>,
}

impl Window {
    /// An empty window of `capacity` transactions for `model`.
    pub fn new(model: &Model, capacity: usize) -> Self {
        let reference = &model.metadata.reference;
        let distributions = reference.features.iter().chain([&reference.score]);
        let counts: Vec<Vec<u64>> = distributions.map(|d| vec![0; d.shares.len()]).collect();
        let capacity = capacity.max(1);
        Window {
            capacity,
            width: counts.len(),
            entries: vec![0; capacity * counts.len()],
            times: vec![0; capacity],
            next: 0,
            len: 0,
            counts,
        }
    }

    /// Counts one transaction: its bins (from [`Model::drift_bins`]) and
    /// when it was seen.
    pub fn observe(&mut self, bins: &[u16], at_millis: u64) {
        if bins.len() != self.width {
            return;
        }
        let slot = &mut self.entries[self.next * self.width..(self.next + 1) * self.width];
        if self.len == self.capacity {
            for (counts, &old) in self.counts.iter_mut().zip(slot.iter()) {
                counts[old as usize] -= 1;
            }
        } else {
            self.len += 1;
        }
        for ((counts, &new), stored) in self.counts.iter_mut().zip(bins).zip(slot.iter_mut()) {
            if let Some(count) = counts.get_mut(new as usize) {
                *count += 1;
            }
            *stored = new;
        }
        self.times[self.next] = at_millis;
        self.next = (self.next + 1) % self.capacity;
    }

    /// Transactions in the window.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The oldest and newest times in the window.
    pub fn span(&self) -> Option<(u64, u64)> {
        if self.len == 0 {
            return None;
        }
        let newest = self.times[(self.next + self.capacity - 1) % self.capacity];
        let oldest = if self.len == self.capacity {
            self.times[self.next]
        } else {
            self.times[0]
        };
        Some((oldest, newest))
    }

    /// The drift of the window against the model's reference.
    pub fn report(&self, model: &Model) -> DriftReport {
        model.drift_report(&self.counts, self.len as u64)
    }
}

impl Model {
    /// The reference bins of one transaction given by field name: one per
    /// feature, then the score's bin for `fraud_probability`. What a
    /// [`Window`] counts.
    pub fn drift_bins<F: Fields + ?Sized>(&self, fields: &F, fraud_probability: f64) -> Vec<u16> {
        let reference = &self.metadata.reference;
        let mut bins: Vec<u16> = self
            .schema
            .features
            .iter()
            .zip(&reference.features)
            .enumerate()
            .map(|(index, (feature, d))| {
                // By position first, as the encoder reads: a request usually
                // lists the fields in the model's order.
                let value = fields
                    .field_at(index, &feature.name)
                    .unwrap_or(Value::Absent);
                d.binning.bin(value) as u16
            })
            .collect();
        bins.push(reference.score.binning.number_bin(fraud_probability) as u16);
        bins
    }

    /// The drift of a whole table of transactions against the training data
    /// (every row is scored for the score's drift; a bad value fails it as
    /// [`Model::predict_proba_many`] does).
    pub fn drift(&self, table: &crate::data::Table) -> Result<DriftReport> {
        let mut scores = vec![0.0; table.n_rows()];
        self.predict_proba_many(Rows::Table(table), &mut scores)?;
        let positions = table.positions(self.schema.feature_names())?;
        let reference = &self.metadata.reference;
        let mut counts: Vec<Vec<u64>> = reference
            .features
            .iter()
            .chain([&reference.score])
            .map(|d| vec![0; d.shares.len()])
            .collect();
        for (i, (&position, d)) in positions.iter().zip(&reference.features).enumerate() {
            let column = &table.columns()[position];
            for row in 0..table.n_rows() {
                counts[i][d.binning.bin(column.value(row))] += 1;
            }
        }
        let score_counts = &mut counts[reference.features.len()];
        for &p in &scores {
            score_counts[reference.score.binning.number_bin(p)] += 1;
        }
        Ok(self.drift_report(&counts, table.n_rows() as u64))
    }

    fn drift_report(&self, counts: &[Vec<u64>], rows: u64) -> DriftReport {
        let reference = &self.metadata.reference;
        DriftReport {
            rows,
            features: self
                .schema
                .features
                .iter()
                .zip(&reference.features)
                .zip(counts)
                .map(|((f, d), c)| psi(&f.name, d, c))
                .collect(),
            score: psi("score", &reference.score, &counts[reference.features.len()]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_references_keep_the_mass_and_are_exact_on_shared_bins() {
        let numbers = |edges: Vec<f64>, shares: Vec<f64>| Distribution {
            binning: Binning::Edges(edges),
            shares,
        };
        let a = Reference {
            features: vec![
                numbers(vec![1.0, 2.0, 3.0], vec![0.2, 0.3, 0.3, 0.1, 0.1]),
                Distribution {
                    binning: Binning::Levels(vec!["x".into(), "y".into()]),
                    shares: vec![0.5, 0.25, 0.25, 0.0],
                },
            ],
            score: numbers(vec![], vec![1.0, 0.0]),
        };
        let mut b = a.clone();
        b.features[0] = numbers(vec![1.5, 2.5], vec![0.25, 0.5, 0.25, 0.0]);
        b.features[1].shares = vec![0.0, 0.5, 0.5, 0.0];
        // The same reference twice is itself.
        let same = Reference::pooled(&[(&a, 10), (&a, 30)], &[0.1, 0.2]);
        for (pooled, original) in same.features.iter().zip(&a.features) {
            assert_eq!(pooled.binning, original.binning);
            for (p, o) in pooled.shares.iter().zip(&original.shares) {
                assert!((p - o).abs() < 1e-12, "{:?}", pooled.shares);
            }
        }
        let pooled = Reference::pooled(&[(&a, 1), (&b, 1)], &[0.1, 0.2]);
        let numeric = &pooled.features[0];
        assert_eq!(numeric.binning, Binning::Edges(vec![1.0, 2.0, 3.0]));
        let total: f64 = numeric.shares.iter().sum();
        assert!((total - 1.0).abs() < 1e-12, "{:?}", numeric.shares);
        // b's 0.25 at or below 1.5 counts as a point at 1.5 (above 1.0, at or
        // below 2.0); half of its (1.5, 2.5] bin lies at or below 2.0, half
        // in (2.0, 3.0]; its 0.25 above 2.5 counts as above 3.0. Each part
        // weighs a half.
        let expect = [0.1, 0.15 + 0.25, 0.15 + 0.125, 0.05 + 0.125, 0.05];
        for (got, want) in numeric.shares.iter().zip(expect) {
            assert!((got - want).abs() < 1e-12, "{:?}", numeric.shares);
        }
        assert_eq!(pooled.features[1].shares, vec![0.25, 0.375, 0.375, 0.0]);
    }

    #[test]
    fn bins_cover_numbers_categories_and_missing() {
        let binning = Binning::Edges(vec![1.0, 5.0]);
        assert_eq!(binning.bin(Value::Number(0.5)), 0);
        assert_eq!(binning.bin(Value::Number(1.0)), 0);
        assert_eq!(binning.bin(Value::Number(3.0)), 1);
        assert_eq!(binning.bin(Value::Number(99.0)), 2);
        assert_eq!(binning.bin(Value::Text(" 3 ")), 1);
        assert_eq!(binning.bin(Value::Missing), 3);
        assert_eq!(binning.bin(Value::Text("NA")), 3);
        assert_eq!(binning.label(2), "> 5");
        let levels = Binning::Levels(vec!["a".into(), "b".into()]);
        assert_eq!(levels.bin(Value::Text("b")), 1);
        assert_eq!(levels.bin(Value::Text("zzz")), 2);
        assert_eq!(levels.bin(Value::Absent), 3);
        assert_eq!(levels.label(2), "other");
        let scores = Binning::Edges(vec![0.000490196078, 0.004602659196280001, 39.26, 1234.5]);
        let labels: Vec<String> = (0..5).map(|i| scores.label(i)).collect();
        assert_eq!(
            labels,
            [
                "<= 0.0004902",
                "<= 0.004603",
                "<= 39.26",
                "<= 1234.5",
                "> 1234.5"
            ]
        );
    }

    #[test]
    fn psi_is_zero_for_the_same_shares_and_grows_with_shift() {
        let reference = Distribution {
            binning: Binning::Edges(vec![1.0]),
            shares: vec![0.5, 0.5, 0.0],
        };
        let same = psi("x", &reference, &[50, 50, 0]);
        assert!(same.psi.abs() < 1e-12 && same.band == Band::Stable);
        let moved = psi("x", &reference, &[10, 90, 0]);
        assert!(moved.psi > 0.25, "{}", moved.psi);
        assert_eq!(moved.band, Band::Significant);
        assert_eq!(
            moved.top_moving_bins[0].bin, "<= 1",
            "the bin that emptied moved most"
        );
        assert_eq!(Band::of(0.15), Band::Moderate);
    }

    #[test]
    fn quantile_edges_are_those_of_the_sorted_values() {
        let mut rng = crate::rng::Rng::new(7, 0);
        for len in (1..40).chain([97, 1000, 4099]) {
            for spread in [3, 50, 1_000_000] {
                let values: Vec<f64> = (0..len)
                    .map(|_| match rng.below(40) {
                        0 => f64::NAN,
                        1 => -0.0,
                        2 => f64::INFINITY,
                        3 => f64::NEG_INFINITY,
                        _ => rng.below(spread) as f64 / 7.0 - 2.0,
                    })
                    .collect();
                let mut sorted: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
                sorted.sort_by(f64::total_cmp);
                let mut expected: Vec<f64> = match sorted.last() {
                    None => Vec::new(),
                    Some(&max) => (1..QUANTILES)
                        .map(|q| sorted[(q * sorted.len() / QUANTILES).min(sorted.len() - 1)])
                        .filter(|&e| e < max)
                        .collect(),
                };
                expected.dedup();
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&quantile_edges(&values)),
                    bits(&expected),
                    "{len} values spread over {spread}"
                );
            }
        }
    }

    #[test]
    fn quantile_edges_are_distinct_and_below_the_maximum() {
        let values: Vec<f64> = (0..100).map(f64::from).collect();
        let edges = quantile_edges(&values);
        assert_eq!(edges.len(), 9);
        assert!(edges.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(quantile_edges(&[1.0, 1.0, 1.0]), Vec::<f64>::new());
        assert_eq!(quantile_edges(&[0.0, 1.0, 0.0, 0.0]), vec![0.0]);
    }
}

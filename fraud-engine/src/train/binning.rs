//! Quantile binning: each feature's values become at most 256 ordered bins, so
//! split search scans a small histogram instead of sorting rows.

use rayon::prelude::*;

/// Values sampled to place quantile edges on large columns.
const QUANTILE_SAMPLE: usize = 200_000;

/// One feature's bins: `bin(x)` is the first `b` with `x <= upper[b]`, or the
/// last bin. A split after bin `b` becomes the threshold `thresholds[b]`, which
/// sends exactly the training values of bins `0..=b` left.
#[derive(Debug, Clone)]
pub(crate) struct FeatureBins {
    /// Split thresholds: midway between the largest value of bin `b` and the
    /// smallest of the next non-empty bin.
    pub thresholds: Vec<f64>,
    /// Bin of each row.
    pub bins: Vec<u8>,
    /// Number of bins.
    pub n_bins: usize,
}

/// Every feature binned, with the bins stored row-major and packed eight to a
/// `u64` word: a row's bins sit together, and copying a row (which tree growth
/// does for every sample at every level) is a word copy, not a `memmove` call.
pub(crate) struct BinnedMatrix {
    /// Row `r` is `words[r * stride..(r + 1) * stride]`; feature `f` is byte
    /// `f % 8` (little-endian) of word `f / 8`.
    pub words: Vec<u64>,
    /// Words per row.
    pub stride: usize,
    /// Features per row.
    pub n_features: usize,
    /// Bins per feature.
    pub n_bins: Vec<usize>,
    /// Split thresholds per feature (see [`FeatureBins`]).
    pub thresholds: Vec<Vec<f64>>,
}

impl BinnedMatrix {
    /// The packed bins of one row.
    pub fn row(&self, row: usize) -> &[u64] {
        &self.words[row * self.stride..(row + 1) * self.stride]
    }
}

/// Bin of `feature` in a packed row.
#[inline(always)]
pub(crate) fn bin_of(row: &[u64], feature: usize) -> u8 {
    (row[feature / 8] >> (8 * (feature % 8))) as u8
}

/// Bins `n_features` columns of `n_rows` values, each made by `column(f)`
/// when it is binned and dropped after, in parallel over columns: only the
/// columns being binned are in memory at once, not every encoded column.
/// Also returns each feature's values at `keep_rows` (indexed `[row][f]`).
pub(crate) fn bin_each(
    n_features: usize,
    n_rows: usize,
    max_bins: usize,
    keep_rows: &[usize],
    column: impl Fn(usize) -> Vec<f64> + Sync,
) -> (BinnedMatrix, Vec<Vec<f64>>) {
    let binned: Vec<(FeatureBins, Vec<f64>)> = (0..n_features)
        .into_par_iter()
        .map(|f| {
            let values = column(f);
            let kept = keep_rows.iter().map(|&r| values[r]).collect();
            (bin_column(&values, max_bins), kept)
        })
        .collect();
    let kept_rows = (0..keep_rows.len())
        .map(|k| binned.iter().map(|(_, kept)| kept[k]).collect())
        .collect();
    let per_feature: Vec<FeatureBins> = binned.into_iter().map(|(bins, _)| bins).collect();
    let stride = n_features.div_ceil(8).max(1);
    let mut words = vec![0u64; n_rows * stride];
    for (f, fb) in per_feature.iter().enumerate() {
        for (row, &b) in fb.bins.iter().enumerate() {
            words[row * stride + f / 8] |= u64::from(b) << (8 * (f % 8));
        }
    }
    let matrix = BinnedMatrix {
        words,
        stride,
        n_features,
        n_bins: per_feature.iter().map(|fb| fb.n_bins).collect(),
        thresholds: per_feature.into_iter().map(|fb| fb.thresholds).collect(),
    };
    (matrix, kept_rows)
}

fn bin_column(values: &[f64], max_bins: usize) -> FeatureBins {
    let upper = upper_edges(values, max_bins);
    let n_bins = upper.len() + 1;
    let mut lowest = vec![f64::INFINITY; n_bins];
    let mut highest = vec![f64::NEG_INFINITY; n_bins];
    let bins: Vec<u8> = values
        .iter()
        .map(|&x| {
            let b = upper.partition_point(|&e| e < x);
            lowest[b] = lowest[b].min(x);
            highest[b] = highest[b].max(x);
            b as u8
        })
        .collect();
    // The threshold after bin b lies between the values actually seen on either
    // side, so unseen values in the gap split the difference, as in scikit-learn.
    let thresholds = (0..n_bins - 1)
        .map(|b| {
            let below = highest[..=b]
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            let above = lowest[b + 1..]
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min);
            if below.is_finite() && above.is_finite() {
                let mid = below + (above - below) / 2.0;
                if mid >= below && mid < above {
                    return mid;
                }
                return below;
            }
            upper[b]
        })
        .collect();
    FeatureBins {
        thresholds,
        bins,
        n_bins,
    }
}

/// Bin upper edges: every distinct value but the largest when there are few,
/// else quantiles of a strided sample.
fn upper_edges(values: &[f64], max_bins: usize) -> Vec<f64> {
    let max_bins = max_bins.clamp(2, 256);
    let mut distinct: Vec<f64> = Vec::with_capacity(max_bins + 1);
    for &x in values {
        if let Err(pos) = distinct.binary_search_by(|d| d.total_cmp(&x)) {
            if distinct.len() == max_bins {
                distinct.clear();
                break;
            }
            distinct.insert(pos, x);
        }
    }
    if !distinct.is_empty() {
        distinct.pop();
        return distinct;
    }
    let stride = values.len().div_ceil(QUANTILE_SAMPLE).max(1);
    let mut sample: Vec<f64> = values.iter().step_by(stride).copied().collect();
    sample.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..max_bins)
        .map(|q| sample[(q * sample.len() / max_bins).min(sample.len() - 1)])
        .collect();
    edges.dedup();
    if edges.last() == sample.last() {
        edges.pop();
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_values_get_one_bin_each() {
        let fb = bin_column(&[3.0, 1.0, 2.0, 1.0, 3.0], 256);
        assert_eq!(fb.n_bins, 3);
        assert_eq!(fb.bins, [2, 0, 1, 0, 2]);
        assert_eq!(fb.thresholds, [1.5, 2.5]);
    }

    #[test]
    fn many_values_get_quantile_bins_consistent_with_thresholds() {
        let values: Vec<f64> = (0..100_000)
            .map(|i| f64::from((i * 7919) % 100_003) / 7.0)
            .collect();
        let fb = bin_column(&values, 64);
        assert!(fb.n_bins <= 64 && fb.n_bins > 32);
        for (&x, &b) in values.iter().zip(&fb.bins) {
            let b = b as usize;
            if b > 0 {
                assert!(x > fb.thresholds[b - 1]);
            }
            if b < fb.n_bins - 1 {
                assert!(x <= fb.thresholds[b]);
            }
        }
    }
}

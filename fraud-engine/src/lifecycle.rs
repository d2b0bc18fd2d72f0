//! A model's life after training: retraining on labelled traffic, and
//! comparing a shadow model with the live one on the same transactions.

use serde::Serialize;

use crate::data::{ColumnRules, Dataset, Table};
use crate::error::{Error, Result};
use crate::metrics::Evaluation;
use crate::model::Model;
use crate::train::Trainer;

/// What [`Model::retrain`] produced: the successor, and both models
/// measured on the newest rows, which neither trained on.
#[derive(Debug, Clone)]
pub struct Retrained {
    /// The new model; its parent is the model it was retrained from.
    pub model: Model,
    /// Rows it trained on (the oldest).
    pub training_rows: usize,
    /// The base model on the held-out rows, at its threshold.
    pub base_holdout: Evaluation,
    /// The new model on the held-out rows, at its threshold.
    pub new_holdout: Evaluation,
}

impl Model {
    /// Trains a successor on labelled rows, oldest first: the same schema
    /// (kinds, valid ranges, allowed categories) and training parameters,
    /// with this model recorded as its parent. The newest `holdout_fraction`
    /// of the rows are held out, and both models are evaluated on them, so
    /// the comparison is on data neither saw, in the order time gives it.
    ///
    /// `threads` limits the worker threads (`None`: one per core).
    pub fn retrain(
        &self,
        table: &Table,
        holdout_fraction: f64,
        threads: Option<usize>,
    ) -> Result<Retrained> {
        if !(holdout_fraction > 0.0 && holdout_fraction < 1.0) {
            return Err(Error::InvalidParams {
                name: "holdout_fraction",
                reason: format!("must be between 0 and 1 (exclusive), got {holdout_fraction}"),
            });
        }
        let rules = ColumnRules {
            label: self.schema().label.clone(),
            schema: Some(self.schema().clone()),
            ..ColumnRules::default()
        };
        let data = Dataset::from_table(table, &rules)?.dataset;
        let n = data.n_rows();
        if n < 2 {
            return Err(Error::schema(
                table.source(),
                format!("retraining needs at least 2 labelled rows, found {n}"),
            ));
        }
        let held = ((n as f64 * holdout_fraction).round() as usize).clamp(1, n - 1);
        let (train, holdout) = data.split_at(n - held)?;
        let mut trainer = Trainer::new(self.metadata().params.clone())?.derived_from(self);
        if let Some(t) = threads {
            trainer = trainer.threads(t)?;
        }
        let model = trainer.train(&train)?;
        Ok(Retrained {
            base_holdout: self.evaluate(&holdout)?,
            new_holdout: model.evaluate(&holdout)?,
            training_rows: train.n_rows(),
            model,
        })
    }
}

/// One model's precision and recall on the labelled rows of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelledScore {
    /// Precision at the model's threshold (`None` if it flagged nothing).
    pub precision: Option<f64>,
    /// Recall at the model's threshold (`None` without frauds).
    pub recall: Option<f64>,
}

/// The live model and a shadow scored on the same transactions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowComparison {
    /// Transactions both scored.
    pub rows: u64,
    /// Share of them on which both made the same `is_fraud` decision
    /// (`None` for no rows).
    pub agreement: Option<f64>,
    /// Mean absolute difference of the probabilities.
    pub mean_abs_difference: Option<f64>,
    /// Transactions with a label.
    pub labelled_rows: u64,
    /// The live model on the labelled ones.
    pub live: LabelledScore,
    /// The shadow on the labelled ones.
    pub shadow: LabelledScore,
}

/// One transaction scored by both models, with its label if one arrived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedScore {
    /// The live model's probability.
    pub live: f64,
    /// The shadow's probability.
    pub shadow: f64,
    /// The label (0 or 1), if known.
    pub label: Option<u8>,
}

/// Compares the live model and a shadow over the same transactions, each
/// deciding at its own threshold.
pub fn compare_shadow(
    pairs: &[PairedScore],
    live_threshold: f64,
    shadow_threshold: f64,
) -> ShadowComparison {
    let rows = pairs.len();
    let agree = pairs
        .iter()
        .filter(|p| (p.live >= live_threshold) == (p.shadow >= shadow_threshold))
        .count();
    let difference: f64 = pairs.iter().map(|p| (p.live - p.shadow).abs()).sum();
    let per_row = |total: f64| (rows > 0).then(|| total / rows as f64);
    let labelled: Vec<(f64, f64, u8)> = pairs
        .iter()
        .filter_map(|p| p.label.map(|y| (p.live, p.shadow, y)))
        .collect();
    let score = |pick: fn(&(f64, f64, u8)) -> f64, threshold: f64| {
        let (mut tp, mut fp, mut fraud) = (0u64, 0u64, 0u64);
        for row in &labelled {
            let flagged = pick(row) >= threshold;
            let is_fraud = row.2 == 1;
            tp += u64::from(flagged && is_fraud);
            fp += u64::from(flagged && !is_fraud);
            fraud += u64::from(is_fraud);
        }
        LabelledScore {
            precision: (tp + fp > 0).then(|| tp as f64 / (tp + fp) as f64),
            recall: (fraud > 0).then(|| tp as f64 / fraud as f64),
        }
    };
    ShadowComparison {
        rows: rows as u64,
        agreement: per_row(agree as f64),
        mean_abs_difference: per_row(difference),
        labelled_rows: labelled.len() as u64,
        live: score(|r| r.0, live_threshold),
        shadow: score(|r| r.1, shadow_threshold),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shadow_is_compared_on_agreement_difference_and_labels() {
        let pair = |live, shadow, label| PairedScore {
            live,
            shadow,
            label,
        };
        let pairs = [
            pair(0.9, 0.8, Some(1)),
            pair(0.1, 0.6, Some(0)),
            pair(0.2, 0.1, None),
            pair(0.7, 0.2, Some(1)),
        ];
        let c = compare_shadow(&pairs, 0.5, 0.5);
        assert_eq!(c.rows, 4);
        assert_eq!(c.agreement, Some(0.5));
        assert!((c.mean_abs_difference.unwrap() - (0.1 + 0.5 + 0.1 + 0.5) / 4.0).abs() < 1e-12);
        assert_eq!(c.labelled_rows, 3);
        assert_eq!(c.live.precision, Some(1.0));
        assert_eq!(c.live.recall, Some(1.0));
        assert_eq!(c.shadow.precision, Some(0.5));
        assert_eq!(c.shadow.recall, Some(0.5));

        let empty = compare_shadow(&[], 0.5, 0.5);
        assert_eq!((empty.agreement, empty.live.recall), (None, None));
    }
}

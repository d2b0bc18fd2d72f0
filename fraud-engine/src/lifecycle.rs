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

/// One labelled prediction, as [`daily_performance`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledPrediction {
    /// When it was scored: RFC 3339 in UTC (`2026-11-30T14:05:00.123Z`);
    /// its first ten characters are the day it counts for.
    pub timestamp: String,
    /// The model that scored it.
    pub model_version: String,
    /// That model's probability.
    pub probability: f64,
    /// That model's decision, when known (`None`: only the probability,
    /// for a model whose threshold is not known).
    pub flagged: Option<bool>,
    /// The label: 1 fraud, 0 legitimate.
    pub label: u8,
}

/// One model's figures on one day's labelled predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DailyPerformance {
    /// The day (UTC), `YYYY-MM-DD`.
    pub day: String,
    /// The model.
    pub model_version: String,
    /// Labelled predictions.
    pub rows: u64,
    /// Frauds among them.
    pub frauds: u64,
    /// Predictions the model flagged (`None` without decisions).
    pub flagged: Option<u64>,
    /// Precision of its decisions (`None` without decisions, or when it
    /// flagged nothing).
    pub precision: Option<f64>,
    /// Recall of its decisions (`None` without decisions, or frauds).
    pub recall: Option<f64>,
    /// Average precision of its probabilities (`None` without frauds).
    pub pr_auc: Option<f64>,
}

/// Precision, recall and PR-AUC of labelled predictions, by UTC day and
/// model, days in order. Precision and recall are those of the decisions
/// the model made (each at the threshold it had then); a group with any
/// prediction whose decision is unknown reports PR-AUC only.
pub fn daily_performance(predictions: &[LabelledPrediction]) -> Vec<DailyPerformance> {
    let mut groups: std::collections::BTreeMap<(&str, &str), Vec<&LabelledPrediction>> =
        std::collections::BTreeMap::new();
    for p in predictions {
        let day = p.timestamp.get(..10).unwrap_or(&p.timestamp);
        groups
            .entry((day, p.model_version.as_str()))
            .or_default()
            .push(p);
    }
    groups
        .into_iter()
        .map(|((day, model_version), rows)| {
            let labels: Vec<u8> = rows.iter().map(|p| p.label).collect();
            let probabilities: Vec<f64> = rows.iter().map(|p| p.probability).collect();
            let by_probability = Evaluation::new(&probabilities, &labels, 0.5);
            let decisions: Option<Vec<f64>> = rows
                .iter()
                .map(|p| p.flagged.map(|f| f64::from(u8::from(f))))
                .collect();
            let (flagged, precision, recall) = match decisions {
                Some(decisions) => {
                    // The decisions as 0/1 scores at 0.5: the confusion of
                    // the decisions themselves, whatever threshold made them.
                    let c = Evaluation::new(&decisions, &labels, 0.5).confusion;
                    let flagged = c.true_positives + c.false_positives;
                    let frauds = c.true_positives + c.false_negatives;
                    (
                        Some(flagged),
                        (flagged > 0).then(|| c.precision()),
                        (frauds > 0).then(|| c.recall()),
                    )
                }
                None => (None, None, None),
            };
            DailyPerformance {
                day: day.to_owned(),
                model_version: model_version.to_owned(),
                rows: by_probability.rows,
                frauds: by_probability.frauds,
                flagged,
                precision,
                recall,
                pr_auc: by_probability.pr_auc,
            }
        })
        .collect()
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

    #[test]
    fn performance_is_by_day_and_model_from_the_decisions() {
        let p = |timestamp: &str, model: &str, probability, flagged, label| LabelledPrediction {
            timestamp: timestamp.into(),
            model_version: model.into(),
            probability,
            flagged,
            label,
        };
        let rows = [
            p("2026-11-02T10:00:00.000Z", "a", 0.9, Some(true), 1),
            p("2026-11-01T23:59:59.999Z", "a", 0.8, Some(true), 0),
            p("2026-11-01T00:00:00.000Z", "a", 0.7, Some(true), 1),
            p("2026-11-01T12:00:00.000Z", "a", 0.2, Some(false), 1),
            p("2026-11-01T12:00:00.000Z", "b", 0.6, None, 1),
        ];
        let days = daily_performance(&rows);
        let keys: Vec<(&str, &str)> = days
            .iter()
            .map(|d| (d.day.as_str(), d.model_version.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("2026-11-01", "a"),
                ("2026-11-01", "b"),
                ("2026-11-02", "a")
            ]
        );
        let first = &days[0];
        assert_eq!((first.rows, first.frauds, first.flagged), (3, 2, Some(2)));
        assert_eq!(first.precision, Some(0.5));
        assert_eq!(first.recall, Some(0.5));
        // Ranked 0.8 (legit), 0.7 (fraud), 0.2 (fraud): AP = (1/2 + 2/3) / 2.
        assert!((first.pr_auc.unwrap() - (0.5 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        let shadowless = &days[1];
        assert_eq!(
            (shadowless.flagged, shadowless.precision, shadowless.recall),
            (None, None, None)
        );
        assert_eq!(shadowless.pr_auc, Some(1.0));
        assert_eq!(days[2].precision, Some(1.0));
        assert!(daily_performance(&[]).is_empty());
    }
}

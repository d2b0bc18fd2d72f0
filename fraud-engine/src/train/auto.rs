//! Choosing tree size and class weighting from the data: a few candidate
//! settings, each judged by the out-of-bag PR-AUC of its first trees, the
//! best kept.
//!
//! The candidates form a ladder from coarse to fine (`LADDER`): shallow
//! trees with large leaves, which average away noisy labels, then deeper
//! trees with smaller leaves, which keep a small, cleanly separated
//! minority class. Out-of-bag PR-AUC rises along the ladder while the data
//! rewards finer trees and falls once they fit noise, so the walk stops at
//! the first step that does not improve: on large noisy data the expensive
//! fine steps are never grown. Then, unless the class weighting was given,
//! the winner is tried with balanced split weights.
//!
//! Each candidate's trees are the first trees of the forest it would grow
//! (trees are seeded by `(seed, tree index)`), so the winner's are kept and
//! the forest is completed from there: the model is tree for tree the one
//! the chosen values give when passed explicitly.

use serde::{Deserialize, Serialize};

use super::params::{ClassWeight, TrainParams, TreeSettings};

/// `(max_depth, min_samples_leaf)` from coarse to fine. The coarse end is
/// the old fixed default, best on large noisy data; the fine end is close
/// to scikit-learn's unbounded trees, best on clean data. Chosen by the
/// calibration study in `docs/TRAINING.md`.
pub const LADDER: [(usize, u32); 3] = [(8, 30), (12, 5), (20, 1)];

/// Each candidate is judged on at most this many rows times trees, and on
/// at least [`MIN_SELECTION_TREES`] trees: on small data every candidate is
/// a whole forest (the most reliable out-of-bag estimate, and cheap), on
/// large data a few trees, which keeps choosing within a fraction of one
/// training run.
pub const SELECTION_ROW_TREES: usize = 10_000_000;

/// The fewest trees a candidate is judged on (fewer if the forest has fewer).
pub const MIN_SELECTION_TREES: usize = 10;

/// One candidate setting and how its first trees scored out of bag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Deepest tree level.
    pub max_depth: usize,
    /// Fewest samples in a leaf.
    pub min_samples_leaf: u32,
    /// Class weighting.
    pub class_weight: ClassWeight,
    /// Out-of-bag PR-AUC (average precision); `None` without out-of-bag
    /// rows of both classes.
    pub oob_pr_auc: Option<f64>,
    /// Out-of-bag ROC-AUC, for reference.
    pub oob_roc_auc: Option<f64>,
}

impl Candidate {
    /// The settings it grows trees with.
    pub fn settings(&self) -> TreeSettings {
        TreeSettings {
            max_depth: self.max_depth,
            min_samples_leaf: self.min_samples_leaf,
            class_weight: self.class_weight,
        }
    }
}

/// What training chose for the parameters left `auto`, and why: stored in
/// the model's metadata and shown in its summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoChoice {
    /// The settings the forest was grown with (given values included).
    pub chosen: TreeSettings,
    /// Every candidate tried, in the order tried.
    pub candidates: Vec<Candidate>,
    /// Trees each candidate was judged on (the winner's are kept).
    pub trees_per_candidate: usize,
    /// Why, in one sentence.
    pub reason: String,
}

/// How many trees judge each candidate on `rows` rows.
pub(crate) fn trees_per_candidate(n_trees: usize, rows: usize) -> usize {
    (SELECTION_ROW_TREES / rows.max(1)).clamp(MIN_SELECTION_TREES.min(n_trees), n_trees)
}

/// The `(max_depth, min_samples_leaf)` steps to try: the ladder with the
/// given values put in, repeated steps dropped.
pub(crate) fn ladder(params: &TrainParams) -> Vec<(usize, u32)> {
    let mut steps: Vec<(usize, u32)> = Vec::new();
    for (depth, leaf) in LADDER {
        let step = (
            params.max_depth.fixed().unwrap_or(depth),
            params.min_samples_leaf.fixed().unwrap_or(leaf),
        );
        if !steps.contains(&step) {
            steps.push(step);
        }
    }
    steps
}

/// The settings of a forest whose parameters are all given.
pub(crate) fn fixed_settings(params: &TrainParams) -> Option<TreeSettings> {
    Some(TreeSettings {
        max_depth: params.max_depth.fixed()?,
        min_samples_leaf: params.min_samples_leaf.fixed()?,
        class_weight: params.class_weight.fixed()?,
    })
}

/// Walks the candidates: `judge(settings)` grows a candidate's first trees
/// and returns its out-of-bag `(PR-AUC, ROC-AUC)`; `keep(i)` is told which
/// of the judged candidates (by index) is the best so far, so the caller
/// can drop the others' trees. Returns the choice.
pub(crate) fn choose(
    params: &TrainParams,
    trees_per_candidate: usize,
    mut judge: impl FnMut(TreeSettings) -> (Option<f64>, Option<f64>),
    mut keep: impl FnMut(usize),
) -> AutoChoice {
    let first_weight = params.class_weight.fixed().unwrap_or(ClassWeight::None);
    let steps = ladder(params);
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut try_one = |settings: TreeSettings, candidates: &mut Vec<Candidate>| {
        let (pr, roc) = judge(settings);
        candidates.push(Candidate {
            max_depth: settings.max_depth,
            min_samples_leaf: settings.min_samples_leaf,
            class_weight: settings.class_weight,
            oob_pr_auc: pr,
            oob_roc_auc: roc,
        });
        pr
    };
    let mut best: Option<(usize, f64)> = None;
    let mut stopped_by: Option<f64> = None;
    for &(max_depth, min_samples_leaf) in &steps {
        let settings = TreeSettings {
            max_depth,
            min_samples_leaf,
            class_weight: first_weight,
        };
        let Some(pr) = try_one(settings, &mut candidates) else {
            // No out-of-bag rows of both classes: nothing can be compared.
            keep(0);
            let chosen = candidates[0].settings();
            return AutoChoice {
                chosen,
                candidates,
                trees_per_candidate,
                reason: "no out-of-bag rows of both classes to compare settings by \
                         (bootstrap off, or too few rows): kept the first candidate"
                    .into(),
            };
        };
        match best {
            Some((_, best_pr)) if pr <= best_pr => {
                stopped_by = Some(pr);
                break;
            }
            _ => {
                best = Some((candidates.len() - 1, pr));
                keep(candidates.len() - 1);
            }
        }
    }
    let (mut winner, ladder_pr) = best.unwrap_or((0, 0.0));
    let mut weight_note = String::new();
    if params.class_weight.is_auto() {
        let settings = TreeSettings {
            class_weight: ClassWeight::BalancedSplits,
            ..candidates[winner].settings()
        };
        let pr = try_one(settings, &mut candidates);
        if pr.is_some_and(|pr| pr > ladder_pr) {
            winner = candidates.len() - 1;
            keep(winner);
            weight_note = "; balanced split weights raised it".into();
        } else {
            weight_note = "; balanced split weights did not raise it".into();
        }
    }
    let chosen = candidates[winner].settings();
    let best_pr = candidates[winner].oob_pr_auc.unwrap_or(0.0);
    let ladder_note = match (stopped_by, steps.len()) {
        (_, 1) => String::new(),
        (Some(next), _) => {
            format!("; the next finer trees scored {next:.4}, so finer ones were not tried")
        }
        (None, _) => "; it is the finest candidate".into(),
    };
    AutoChoice {
        chosen,
        reason: format!(
            "the highest out-of-bag PR-AUC, {best_pr:.4}, of {} candidates judged on {} trees each{}{}",
            candidates.len(),
            trees_per_candidate,
            ladder_note,
            weight_note
        ),
        candidates,
        trees_per_candidate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::Setting;

    fn params(
        depth: Setting<usize>,
        leaf: Setting<u32>,
        weight: Setting<ClassWeight>,
    ) -> TrainParams {
        TrainParams {
            max_depth: depth,
            min_samples_leaf: leaf,
            class_weight: weight,
            ..TrainParams::default()
        }
    }

    #[test]
    fn given_values_replace_the_ladders() {
        assert_eq!(ladder(&TrainParams::default()), LADDER.to_vec());
        assert_eq!(
            ladder(&params(Setting::Auto, Setting::Fixed(1), Setting::Auto)),
            vec![(8, 1), (12, 1), (20, 1)]
        );
        assert_eq!(
            ladder(&params(Setting::Fixed(6), Setting::Fixed(2), Setting::Auto)),
            vec![(6, 2)]
        );
    }

    #[test]
    fn the_walk_stops_at_the_first_step_that_does_not_improve() {
        let scores = [0.30, 0.35, 0.34, 0.50];
        let mut tried = Vec::new();
        let mut kept = Vec::new();
        let choice = choose(
            &TrainParams::default(),
            100,
            |s| {
                tried.push(s);
                (Some(scores[tried.len() - 1]), Some(0.9))
            },
            |i| kept.push(i),
        );
        // (8,30), (12,5), then (20,1) scores lower: stop; balanced splits at
        // (12,5) scores 0.50 and wins.
        assert_eq!(tried.len(), 4);
        assert_eq!(tried[3].class_weight, ClassWeight::BalancedSplits);
        assert_eq!((tried[3].max_depth, tried[3].min_samples_leaf), (12, 5));
        assert_eq!(choice.chosen, tried[3]);
        assert_eq!(kept, vec![0, 1, 3]);
        assert!(choice.reason.contains("0.5000"), "{}", choice.reason);
    }

    #[test]
    fn ties_keep_the_coarser_setting_and_a_given_weight_is_not_tried() {
        let weight = Setting::Fixed(ClassWeight::None);
        let choice = choose(
            &params(Setting::Auto, Setting::Auto, weight),
            10,
            |_| (Some(0.5), None),
            |_| {},
        );
        assert_eq!(choice.candidates.len(), 2);
        assert_eq!(
            (choice.chosen.max_depth, choice.chosen.min_samples_leaf),
            (8, 30)
        );
    }

    #[test]
    fn without_out_of_bag_scores_the_first_candidate_is_kept() {
        let choice = choose(&TrainParams::default(), 5, |_| (None, None), |_| {});
        assert_eq!(choice.candidates.len(), 1);
        assert_eq!(choice.chosen.max_depth, 8);
        assert!(choice.reason.contains("no out-of-bag rows"));
    }

    #[test]
    fn large_data_judges_candidates_on_fewer_trees() {
        assert_eq!(trees_per_candidate(100, 30_000), 100);
        assert_eq!(trees_per_candidate(100, 800_000), 12);
        assert_eq!(trees_per_candidate(100, 50_000_000), 10);
        assert_eq!(trees_per_candidate(4, 50_000_000), 4);
    }
}

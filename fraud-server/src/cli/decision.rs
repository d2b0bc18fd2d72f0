//! `evaluate` and `tune`: a model's decision layer measured and re-chosen
//! on labelled data.

use std::io::Write;

use fraud_engine::metrics::{self, ThresholdStrategy};
use fraud_engine::{
    read_csv, ColumnRules, Dataset, Error as EngineError, EvaluationReport, Model, Rows,
};

use super::{
    pretty_json, write_evaluation, CliError, CostArgs, EvaluateArgs, StrategyName, TuneArgs,
};

/// Reads a labelled CSV with the model's schema.
fn read_labelled(model: &Model, path: &std::path::Path, label: &str) -> Result<Dataset, CliError> {
    let rules = ColumnRules {
        label: label.into(),
        schema: Some(model.schema().clone()),
        ..ColumnRules::default()
    };
    Ok(read_csv(path, &rules)?.dataset)
}

fn strategy(
    name: StrategyName,
    target: Option<f64>,
    cost: &CostArgs,
) -> Result<ThresholdStrategy, CliError> {
    let need_target = |name: &'static str| -> Result<f64, CliError> {
        match target {
            Some(t) if (0.0..=1.0).contains(&t) => Ok(t),
            Some(t) => Err(EngineError::InvalidParams {
                name: "target",
                reason: format!("{t} is not in [0, 1]"),
            }
            .into()),
            None => Err(EngineError::InvalidParams {
                name: "target",
                reason: format!("--strategy {name} needs --target"),
            }
            .into()),
        }
    };
    check_costs(cost)?;
    Ok(match name {
        StrategyName::MaxF1 => ThresholdStrategy::MaxF1,
        StrategyName::TargetRecall => {
            ThresholdStrategy::TargetRecall(need_target("target-recall")?)
        }
        StrategyName::TargetPrecision => {
            ThresholdStrategy::TargetPrecision(need_target("target-precision")?)
        }
        StrategyName::MaxFpr => ThresholdStrategy::MaxFalsePositiveRate(need_target("max-fpr")?),
        StrategyName::Cost => ThresholdStrategy::MinExpectedCost {
            review_cost: cost.review_cost,
            missed_fraud_cost: cost.missed_fraud_cost,
        },
    })
}

fn check_costs(cost: &CostArgs) -> Result<(), CliError> {
    for (name, value) in [
        ("review_cost", Some(cost.review_cost)),
        ("missed_fraud_cost", cost.missed_fraud_cost),
    ] {
        if let Some(v) = value {
            if !v.is_finite() || v < 0.0 {
                return Err(EngineError::InvalidParams {
                    name,
                    reason: format!("{v} is not a non-negative number"),
                }
                .into());
            }
        }
    }
    Ok(())
}

/// `tune`: a new threshold and risk bands, chosen on labelled data.
pub fn tune(args: TuneArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let model = Model::load(&args.model)?;
    let strategy = strategy(args.strategy, args.target, &args.cost)?;
    let data = read_labelled(&model, &args.data, &args.label)?;
    let source = args.data.display().to_string();
    let (tuned, evaluation) = model.tune(&data, strategy, args.risk_bands, &source)?;
    tuned.save(&args.out)?;
    let d = tuned.decision();
    writeln!(
        out,
        "threshold {:.6} -> {:.6} ({}); MEDIUM from {:.6}, HIGH from {:.6}",
        model.threshold(),
        d.threshold,
        d.strategy,
        d.risk_bands.medium,
        d.risk_bands.high
    )?;
    write_evaluation(out, &evaluation)?;
    writeln!(out, "saved {}", args.out.display())?;
    Ok(())
}

/// Thresholds the evaluation table lists besides the model's own.
const TABLE_THRESHOLDS: [f64; 13] = [
    0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8,
];

/// `evaluate`: metrics at the model's threshold and a per-threshold table.
pub fn evaluate(args: EvaluateArgs, out: &mut dyn Write) -> Result<(), CliError> {
    check_costs(&args.cost)?;
    let model = Model::load(&args.model)?;
    let data = read_labelled(&model, &args.data, &args.label)?;
    let mut scores = vec![0.0; data.n_rows()];
    model.predict_proba_many(Rows::Dataset(&data), &mut scores)?;
    let labels = data.labels().unwrap_or(&[]);
    let report = EvaluationReport::new(&scores, labels, model.threshold());
    let evaluation = &report.evaluation;
    let amounts = match args.cost.missed_fraud_cost {
        Some(_) => None,
        None => data.numeric_column(fraud_engine::train::AMOUNT_FEATURE),
    };
    let has_costs = amounts.is_some() || args.cost.missed_fraud_cost.is_some();
    let mut thresholds: Vec<f64> = TABLE_THRESHOLDS.to_vec();
    thresholds.push(model.threshold());
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    let table = metrics::threshold_table(
        &scores,
        labels,
        amounts,
        args.cost.review_cost,
        args.cost.missed_fraud_cost,
        &thresholds,
    );
    if args.json {
        #[derive(serde::Serialize)]
        struct CostModel {
            review_cost: f64,
            /// A number, or "amount".
            missed_fraud_cost: serde_json::Value,
            available: bool,
        }
        #[derive(serde::Serialize)]
        struct EvaluateJson<'a> {
            #[serde(flatten)]
            report: &'a EvaluationReport,
            threshold_table: &'a [metrics::ThresholdRow],
            expected_cost_model: CostModel,
        }
        let json = EvaluateJson {
            report: &report,
            threshold_table: &table,
            expected_cost_model: CostModel {
                review_cost: args.cost.review_cost,
                missed_fraud_cost: args
                    .cost
                    .missed_fraud_cost
                    .map_or_else(|| "amount".into(), serde_json::Value::from),
                available: has_costs,
            },
        };
        out.write_all(&pretty_json(&json, "evaluation")?)?;
        writeln!(out)?;
        return Ok(());
    }
    write_evaluation(out, evaluation)?;
    writeln!(out)?;
    let cost_note = match args.cost.missed_fraud_cost {
        Some(c) => format!(
            "review {} per flag, {c} per missed fraud",
            args.cost.review_cost
        ),
        None => format!(
            "review {} per flag, the amount per missed fraud",
            args.cost.review_cost
        ),
    };
    writeln!(
        out,
        "  {:>10}  {:>9}  {:>9}  {:>7}  {:>8}  {:>14}",
        "threshold", "flagged", "precision", "recall", "FPR", "expected cost"
    )?;
    for row in &table {
        let marker = if row.threshold == model.threshold() {
            "  <- model threshold"
        } else {
            ""
        };
        let cost = if has_costs {
            format!("{:.2}", row.expected_cost)
        } else {
            "n/a".into()
        };
        writeln!(
            out,
            "  {:>10.4}  {:>9}  {:>9.4}  {:>7.4}  {:>8.5}  {:>14}{marker}",
            row.threshold, row.flagged, row.precision, row.recall, row.false_positive_rate, cost
        )?;
    }
    if has_costs {
        writeln!(out, "  (expected cost: {cost_note})")?;
    }
    Ok(())
}

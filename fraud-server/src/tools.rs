//! The command-line tools that read a CSV row by row (`predict`, `explain`)
//! and those that work on a model's decision layer (`evaluate`, `tune`).

use std::io::Write;

use rayon::prelude::*;

use crate::cli::{
    CliError, CostArgs, EvaluateArgs, ExplainArgs, PredictArgs, StrategyName, TuneArgs,
};
use fraud_engine::metrics::{self, ThresholdStrategy};
use fraud_engine::{Error as EngineError, Model, Rejection, Value};

/// Reads `data` as CSV, computes `extra` columns for every row from the
/// model's feature values (in parallel), and writes every input column plus
/// the extra ones to `out_path` atomically. Bad values fail the whole run,
/// naming each row and column, and leave no output file.
fn map_csv(
    model: &Model,
    data: &std::path::Path,
    out_path: &std::path::Path,
    extra_headers: &[String],
    extra: impl Fn(&[Value<'_>]) -> Result<Vec<String>, EngineError> + Sync,
) -> Result<u64, CliError> {
    let source = data.display().to_string();
    let csv_err = |e: csv::Error| -> EngineError {
        let line = e.position().map_or(0, csv::Position::line);
        match e.into_kind() {
            csv::ErrorKind::Io(io) => EngineError::Io {
                path: data.to_path_buf(),
                source: io,
            },
            kind => EngineError::Schema {
                source_name: source.clone(),
                reason: format!("line {line}: {kind:?}"),
            },
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(data)
        .map_err(csv_err)?;
    let headers = reader.headers().map_err(csv_err)?.clone();
    let mut indices = Vec::new();
    for name in model.feature_names() {
        let index = headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| EngineError::Schema {
                source_name: source.clone(),
                reason: format!("missing column `{name}` that the model needs"),
            })?;
        indices.push(index);
    }
    let records: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .map_err(csv_err)?;
    let results: Vec<Result<Vec<String>, EngineError>> = records
        .par_iter()
        .map(|record| {
            let values: Vec<Value<'_>> = indices
                .iter()
                .map(|&i| Value::Text(record.get(i).unwrap_or("")))
                .collect();
            extra(&values)
        })
        .collect();

    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header_out = headers.clone();
    for h in extra_headers {
        header_out.push_field(h);
    }
    writer.write_record(&header_out).map_err(csv_err)?;
    let (mut rejections, mut total) = (Vec::new(), 0usize);
    for (row, (record, result)) in records.iter().zip(results).enumerate() {
        match result {
            Ok(fields) => {
                let mut out = record.clone();
                for f in &fields {
                    out.push_field(f);
                }
                writer.write_record(&out).map_err(csv_err)?;
            }
            Err(EngineError::InvalidFields { problems }) => {
                total += problems.len();
                for p in problems {
                    if rejections.len() < EngineError::MAX_REJECTIONS {
                        rejections.push(Rejection {
                            row: row as u64 + 1,
                            column: p.field,
                            reason: p.reason,
                        });
                    }
                }
            }
            Err(other) => return Err(other.into()),
        }
    }
    if total > 0 {
        return Err(EngineError::InvalidData {
            source_name: source,
            rejections,
            total,
        }
        .into());
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| CliError::Output(e.into_error()))?;
    fraud_engine::format::write_atomically(out_path, &bytes)?;
    Ok(records.len() as u64)
}

/// `predict`: every input column plus fraud_probability, is_fraud, risk_level.
pub fn predict(args: PredictArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let model = Model::load(&args.model)?;
    let headers = ["fraud_probability", "is_fraud", "risk_level"].map(String::from);
    let rows = map_csv(&model, &args.data, &args.out, &headers, |values| {
        let p = model.predict_values(values)?;
        Ok(vec![
            p.fraud_probability.to_string(),
            u8::from(p.is_fraud).to_string(),
            p.risk_level.to_string(),
        ])
    })?;
    writeln!(out, "scored {rows} rows into {}", args.out.display())?;
    Ok(())
}

/// `explain`: every input column plus fraud_probability, base_value and one
/// contribution_<feature> column per feature.
pub fn explain(args: ExplainArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let model = Model::load(&args.model)?;
    let mut headers = vec!["fraud_probability".to_owned(), "base_value".to_owned()];
    headers.extend(
        model
            .feature_names()
            .iter()
            .map(|f| format!("contribution_{f}")),
    );
    let rows = map_csv(&model, &args.data, &args.out, &headers, |values| {
        let e = model.explain_values(values)?.explanation;
        let mut fields = vec![e.fraud_probability.to_string(), e.base_value.to_string()];
        fields.extend(e.contributions.iter().map(f64::to_string));
        Ok(fields)
    })?;
    writeln!(out, "explained {rows} rows into {}", args.out.display())?;
    Ok(())
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
    let loaded = model.read_csv(&args.data, &args.label, true)?;
    let source = args.data.display().to_string();
    let (tuned, evaluation) = model.tune(&loaded.dataset, strategy, args.risk_bands, &source)?;
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
    crate::cli::write_evaluation(out, &evaluation)?;
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
    let loaded = model.read_csv(&args.data, &args.label, true)?;
    let data = &loaded.dataset;
    let evaluation = model.evaluate(data)?;
    let scores = model.predict_dataset(data)?;
    let labels = data.labels().unwrap_or(&[]);
    let amounts = match args.cost.missed_fraud_cost {
        Some(_) => None,
        None => model
            .schema()
            .index_of("amount")
            .and_then(|i| match &data.columns()[i] {
                fraud_engine::Column::Numeric(v) => Some(v.as_slice()),
                fraud_engine::Column::Categorical { .. } => None,
            }),
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
        let mut json = serde_json::to_value(&evaluation).unwrap_or_default();
        json["threshold_table"] = serde_json::to_value(&table).unwrap_or_default();
        json["expected_cost_model"] = serde_json::json!({
            "review_cost": args.cost.review_cost,
            "missed_fraud_cost": args.cost.missed_fraud_cost.map_or_else(|| serde_json::json!("amount"), serde_json::Value::from),
            "available": has_costs,
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        )?;
        return Ok(());
    }
    crate::cli::write_evaluation(out, &evaluation)?;
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

//! The `fraud-server` command line: `generate`, `train`, `predict`, `evaluate`
//! and `inspect` (other programs rely on these names and flags).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use fraud_engine::{
    metrics::ThresholdStrategy, read_csv, synth, train, ClassWeight, CsvOptions,
    Error as EngineError, Model, Rejection, RiskBands, TrainParams, Value,
};

/// Errors the command line reports, one line each.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The engine refused something.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Writing to the terminal failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// Fraud scoring: train random forests on transaction data and score them,
/// or serve a model over HTTP (the default with no subcommand).
#[derive(Debug, Parser)]
#[command(
    name = "fraud-server",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do; nothing means `serve`.
    #[command(subcommand)]
    pub command: Option<Invocation>,
    /// Server settings when no subcommand is given.
    #[command(flatten)]
    pub serve: Config,
}

/// `serve` or one of the tool subcommands.
#[derive(Debug, Subcommand)]
pub enum Invocation {
    /// Serve the web UI, JSON API and metrics (the default).
    Serve(Config),
    /// A tool subcommand.
    #[command(flatten)]
    Tool(Command),
}

/// The tool subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write synthetic labelled transactions as CSV.
    Generate(GenerateArgs),
    /// Train a model on a labelled CSV and print its out-of-bag metrics.
    Train(TrainArgs),
    /// Score every row of a CSV, keeping its columns and adding
    /// fraud_probability, is_fraud and risk_level.
    Predict(PredictArgs),
    /// Evaluate a model on a labelled CSV.
    Evaluate(EvaluateArgs),
    /// Describe a model file.
    Inspect(InspectArgs),
}

/// `generate` flags.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Rows to generate.
    #[arg(long)]
    pub rows: usize,
    /// Seed (the same seed gives the same rows).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output CSV file.
    #[arg(long)]
    pub out: PathBuf,
}

/// `train` flags.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training CSV with a header row.
    #[arg(long)]
    pub data: PathBuf,
    /// Label column (0/1, true/false or yes/no).
    #[arg(long, default_value = "is_fraud")]
    pub label: String,
    /// Columns to leave out of the features.
    #[arg(long, value_delimiter = ',')]
    pub drop: Vec<String>,
    /// Id-named columns (`id`, `*_id`) to keep as features anyway.
    #[arg(long, value_delimiter = ',')]
    pub keep: Vec<String>,
    /// Number of trees.
    #[arg(long, default_value_t = TrainParams::default().n_trees)]
    pub trees: usize,
    /// Deepest tree level.
    #[arg(long, default_value_t = TrainParams::default().max_depth)]
    pub max_depth: usize,
    /// Fewest samples in a leaf.
    #[arg(long, default_value_t = TrainParams::default().min_samples_leaf)]
    pub min_samples_leaf: u32,
    /// Split candidates per node (default: sqrt of the feature count).
    #[arg(long)]
    pub max_features: Option<usize>,
    /// none or balanced.
    #[arg(long, default_value = "none")]
    pub class_weight: ClassWeight,
    /// Seed.
    #[arg(long, default_value_t = TrainParams::default().seed)]
    pub seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// max-f1, target-recall=R, target-precision=P or max-fpr=F.
    #[arg(long, default_value = "max-f1")]
    pub threshold_strategy: ThresholdStrategy,
    /// MEDIUM,HIGH probability bands (default: half the threshold, the threshold).
    #[arg(long)]
    pub risk_bands: Option<RiskBands>,
    /// Where to write the model.
    #[arg(long)]
    pub out: PathBuf,
}

/// `predict` flags.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Model file.
    #[arg(long)]
    pub model: PathBuf,
    /// CSV to score.
    #[arg(long)]
    pub data: PathBuf,
    /// Scored CSV to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// `evaluate` flags.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Labelled CSV.
    #[arg(long)]
    pub data: PathBuf,
    /// Label column.
    #[arg(long, default_value = "is_fraud")]
    pub label: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `inspect` flags.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs one subcommand, writing results to `out` and notices to stderr.
pub fn run(command: Command, out: &mut dyn Write) -> Result<(), CliError> {
    match command {
        Command::Generate(args) => {
            synth::write_csv(&args.out, args.rows, args.seed)?;
            writeln!(
                out,
                "wrote {} transactions to {}",
                args.rows,
                args.out.display()
            )?;
        }
        Command::Train(args) => run_train(args, out)?,
        Command::Predict(args) => run_predict(args, out)?,
        Command::Evaluate(args) => {
            let model = Model::load(&args.model)?;
            let loaded = model.read_csv(&args.data, &args.label, true)?;
            let evaluation = model.evaluate(&loaded.dataset)?;
            if args.json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&evaluation).unwrap_or_default()
                )?;
            } else {
                write_evaluation(out, &evaluation)?;
            }
        }
        Command::Inspect(args) => {
            let model = Model::load(&args.model)?;
            if args.json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&describe(&model)).unwrap_or_default()
                )?;
            } else {
                write_description(out, &model)?;
            }
        }
    }
    Ok(())
}

fn run_train(args: TrainArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let started = Instant::now();
    let options = CsvOptions {
        label: args.label,
        drop: args.drop,
        keep: args.keep,
        ..CsvOptions::default()
    };
    let loaded = read_csv(&args.data, &options)?;
    for notice in &loaded.notices {
        eprintln!("note: {notice}");
    }
    let data = loaded.dataset;
    let params = TrainParams {
        n_trees: args.trees,
        max_depth: args.max_depth,
        min_samples_leaf: args.min_samples_leaf,
        max_features: args.max_features,
        class_weight: args.class_weight,
        seed: args.seed,
        threshold_strategy: args.threshold_strategy,
        risk_bands: args.risk_bands,
        ..TrainParams::default()
    };
    let read_time = started.elapsed();
    let last_report = std::sync::Mutex::new(Instant::now());
    let progress = |done: usize, total: usize| {
        // Long runs only: a line at most every two seconds.
        if let Ok(mut last) = last_report.lock() {
            if last.elapsed().as_secs_f64() >= 2.0 && done < total {
                *last = Instant::now();
                eprintln!(
                    "training: {done}/{total} trees, {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
        }
    };
    let model = train(&data, &params, args.threads, Some(&progress))?;
    let train_time = started.elapsed() - read_time;
    model.save(&args.out)?;
    let meta = model.metadata();
    writeln!(
        out,
        "trained {} trees on {} rows ({} frauds) in {:.2} s (+{:.2} s reading); {} nodes, max depth {}",
        params.n_trees,
        meta.training_rows,
        meta.training_frauds,
        train_time.as_secs_f64(),
        read_time.as_secs_f64(),
        meta.n_nodes,
        meta.max_depth
    )?;
    match &meta.oob {
        Some(oob) => {
            writeln!(out, "out-of-bag:")?;
            write_evaluation(out, oob)?;
        }
        None => writeln!(out, "no out-of-bag rows: threshold left at 0.5")?,
    }
    writeln!(out, "saved {}", args.out.display())?;
    Ok(())
}

fn run_predict(args: PredictArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let model = Model::load(&args.model)?;
    let source = args.data.display().to_string();
    let csv_err = |e: csv::Error| -> EngineError {
        let line = e.position().map_or(0, csv::Position::line);
        match e.into_kind() {
            csv::ErrorKind::Io(io) => EngineError::Io {
                path: args.data.clone(),
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
        .from_path(&args.data)
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
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header_out = headers.clone();
    for extra in ["fraud_probability", "is_fraud", "risk_level"] {
        header_out.push_field(extra);
    }
    writer.write_record(&header_out).map_err(csv_err)?;
    let mut record = csv::StringRecord::new();
    let mut rejections: Vec<Rejection> = Vec::new();
    let mut total_rejections = 0;
    let mut rows = 0u64;
    while reader.read_record(&mut record).map_err(csv_err)? {
        rows += 1;
        let values: Vec<Value<'_>> = indices
            .iter()
            .map(|&i| Value::Text(record.get(i).unwrap_or("")))
            .collect();
        match model.predict_values(&values) {
            Ok(p) => {
                let mut row = record.clone();
                row.push_field(&p.fraud_probability.to_string());
                row.push_field(if p.is_fraud { "1" } else { "0" });
                row.push_field(p.risk_level.as_str());
                writer.write_record(&row).map_err(csv_err)?;
            }
            Err(EngineError::InvalidFields { problems }) => {
                total_rejections += problems.len();
                for p in problems {
                    if rejections.len() < EngineError::MAX_REJECTIONS {
                        rejections.push(Rejection {
                            row: rows,
                            column: p.field,
                            reason: p.reason,
                        });
                    }
                }
            }
            Err(other) => return Err(other.into()),
        }
    }
    if total_rejections > 0 {
        return Err(EngineError::InvalidData {
            source_name: source,
            rejections,
            total: total_rejections,
        }
        .into());
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| CliError::Output(e.into_error()))?;
    fraud_engine::format::write_atomically(&args.out, &bytes)?;
    writeln!(out, "scored {rows} rows into {}", args.out.display())?;
    Ok(())
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".into(), |v| format!("{v:.4}"))
}

fn write_evaluation(out: &mut dyn Write, e: &fraud_engine::Evaluation) -> std::io::Result<()> {
    let c = &e.confusion;
    writeln!(out, "  rows {}  frauds {}", e.rows, e.frauds)?;
    writeln!(
        out,
        "  ROC-AUC {}  PR-AUC {}",
        fmt_opt(e.roc_auc),
        fmt_opt(e.pr_auc)
    )?;
    writeln!(
        out,
        "  threshold {:.4}: precision {:.4}  recall {:.4}  F1 {:.4}  FPR {:.5}",
        e.threshold, e.precision, e.recall, e.f1, e.false_positive_rate
    )?;
    writeln!(
        out,
        "  confusion: TP {}  FP {}  TN {}  FN {}",
        c.true_positives, c.false_positives, c.true_negatives, c.false_negatives
    )?;
    writeln!(out, "  log loss {:.5}  Brier {:.5}", e.log_loss, e.brier)
}

/// The model as JSON: schema (with category codes), decision layer and metadata.
pub fn describe(model: &Model) -> serde_json::Value {
    let features: Vec<serde_json::Value> = model
        .schema()
        .features
        .iter()
        .zip(model.pipeline().encoders())
        .zip(&model.metadata().feature_importances)
        .map(|((f, encoder), importance)| {
            let mut v = serde_json::json!({ "name": f.name, "importance": importance });
            match (&f.kind, encoder) {
                (fraud_engine::FeatureKind::Numeric { min, max }, _) => {
                    v["kind"] = "numeric".into();
                    v["min"] = serde_json::json!(min);
                    v["max"] = serde_json::json!(max);
                }
                (fraud_engine::FeatureKind::Flag, _) => v["kind"] = "flag".into(),
                (
                    _,
                    fraud_engine::preprocess::Encoder::Categorical {
                        levels,
                        codes,
                        unknown,
                    },
                ) => {
                    v["kind"] = "categorical".into();
                    v["categories"] = levels
                        .iter()
                        .zip(codes)
                        .map(|(l, c)| serde_json::json!({"name": l, "code": c}))
                        .collect();
                    v["unknown_code"] = (*unknown).into();
                }
                _ => v["kind"] = "categorical".into(),
            }
            v
        })
        .collect();
    serde_json::json!({
        "format_version": fraud_engine::FORMAT_VERSION,
        "label": model.schema().label,
        "features": features,
        "decision": model.decision(),
        "metadata": model.metadata(),
        "n_trees": model.trees().len(),
    })
}

fn write_description(out: &mut dyn Write, model: &Model) -> std::io::Result<()> {
    let meta = model.metadata();
    let d = model.decision();
    writeln!(
        out,
        "model {} (format {}, engine {}, created {})",
        meta.model_id,
        fraud_engine::FORMAT_VERSION,
        meta.engine_version,
        meta.created
    )?;
    writeln!(
        out,
        "trained on {} rows ({} frauds); {} trees, {} nodes, max depth {}",
        meta.training_rows,
        meta.training_frauds,
        model.trees().len(),
        meta.n_nodes,
        meta.max_depth
    )?;
    writeln!(
        out,
        "decision: is_fraud when probability >= {:.4} ({}); MEDIUM from {:.4}, HIGH from {:.4}",
        d.threshold, d.strategy, d.risk_bands.medium, d.risk_bands.high
    )?;
    writeln!(out, "features (importance):")?;
    for ((f, imp), encoder) in model
        .schema()
        .features
        .iter()
        .zip(&meta.feature_importances)
        .zip(model.pipeline().encoders())
    {
        let kind = match (&f.kind, encoder) {
            (
                fraud_engine::FeatureKind::Numeric {
                    min: Some(lo),
                    max: Some(hi),
                },
                _,
            ) => format!("numeric {lo}..={hi}"),
            (fraud_engine::FeatureKind::Numeric { .. }, _) => "numeric".into(),
            (fraud_engine::FeatureKind::Flag, _) => "flag".into(),
            (_, fraud_engine::preprocess::Encoder::Categorical { levels, .. }) => {
                format!("categorical, {} categories", levels.len())
            }
            _ => "categorical".into(),
        };
        writeln!(out, "  {:<24} {:<28} {:.4}", f.name, kind, imp)?;
    }
    if let Some(oob) = &meta.oob {
        writeln!(out, "out-of-bag:")?;
        write_evaluation(out, oob)?;
    }
    Ok(())
}

//! The `fraud-server` command line: `generate`, `train`, `predict`,
//! `evaluate`, `inspect`, `explain`, `tune` and `export-trees` (other programs
//! rely on these names and flags).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use fraud_engine::{
    metrics::ThresholdStrategy, read_csv, synth, train, ClassWeight, CsvOptions,
    Error as EngineError, Model, RiskBands, TrainParams,
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
    /// Explain every row of a CSV: its columns plus fraud_probability,
    /// base_value and one contribution_<feature> column per feature.
    Explain(ExplainArgs),
    /// Re-choose a model's threshold and risk bands on labelled data,
    /// leaving its trees untouched.
    Tune(TuneArgs),
    /// Write the forest as documented JSON (for shap, treelite, notebooks).
    ExportTrees(ExportTreesArgs),
}

/// `explain` flags.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Model file.
    #[arg(long)]
    pub model: PathBuf,
    /// CSV to explain.
    #[arg(long)]
    pub data: PathBuf,
    /// CSV to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// How `tune` chooses the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyName {
    /// The highest F1.
    MaxF1,
    /// The highest threshold reaching `--target` recall.
    TargetRecall,
    /// The lowest threshold reaching `--target` precision.
    TargetPrecision,
    /// The lowest threshold whose false-positive rate is at most `--target`.
    MaxFpr,
    /// The least expected cost: `--review-cost` per flagged transaction plus,
    /// per missed fraud, its amount or `--missed-fraud-cost`.
    Cost,
}

/// The cost model shared by `tune --strategy cost` and `evaluate`.
#[derive(Debug, Args)]
pub struct CostArgs {
    /// Cost of reviewing one flagged transaction.
    #[arg(long, default_value_t = 5.0)]
    pub review_cost: f64,
    /// Cost of one missed fraud (default: the transaction's `amount`).
    #[arg(long)]
    pub missed_fraud_cost: Option<f64>,
}

/// `tune` flags.
#[derive(Debug, Args)]
pub struct TuneArgs {
    /// Model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Labelled CSV (data the model was not trained on).
    #[arg(long)]
    pub data: PathBuf,
    /// Label column.
    #[arg(long, default_value = "is_fraud")]
    pub label: String,
    /// How to choose the threshold.
    #[arg(long, value_enum, default_value = "max-f1")]
    pub strategy: StrategyName,
    /// The target of target-recall, target-precision or max-fpr.
    #[arg(long)]
    pub target: Option<f64>,
    /// The cost model (strategy cost).
    #[command(flatten)]
    pub cost: CostArgs,
    /// MEDIUM,HIGH probability bands (default: half the threshold, the threshold).
    #[arg(long)]
    pub risk_bands: Option<RiskBands>,
    /// Where to write the tuned model.
    #[arg(long)]
    pub out: PathBuf,
}

/// `export-trees` flags.
#[derive(Debug, Args)]
pub struct ExportTreesArgs {
    /// Model file.
    #[arg(long)]
    pub model: PathBuf,
    /// JSON file to write.
    #[arg(long)]
    pub out: PathBuf,
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
    /// The cost model of the table's expected-cost column.
    #[command(flatten)]
    pub cost: CostArgs,
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
        Command::Predict(args) => crate::tools::predict(args, out)?,
        Command::Evaluate(args) => crate::tools::evaluate(args, out)?,
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
        Command::Explain(args) => crate::tools::explain(args, out)?,
        Command::Tune(args) => crate::tools::tune(args, out)?,
        Command::ExportTrees(args) => {
            let model = Model::load(&args.model)?;
            let json = serde_json::to_vec_pretty(&model.export_trees()).unwrap_or_default();
            fraud_engine::format::write_atomically(&args.out, &json)?;
            writeln!(
                out,
                "wrote {} trees to {}",
                model.trees().len(),
                args.out.display()
            )?;
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

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".into(), |v| format!("{v:.4}"))
}

pub(crate) fn write_evaluation(
    out: &mut dyn Write,
    e: &fraud_engine::Evaluation,
) -> std::io::Result<()> {
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
    // The export's feature descriptions (kinds, ranges, category codes),
    // with each feature's importances added.
    let meta = model.metadata();
    let mut features = model.feature_descriptions();
    for (i, feature) in features.iter_mut().enumerate() {
        feature["importance"] = serde_json::json!(meta.feature_importances.get(i));
        feature["impurity_importance"] = serde_json::json!(meta.impurity_importances.get(i));
    }
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

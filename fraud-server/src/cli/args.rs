//! The command line's flags: `serve` (the default) and the tool
//! subcommands. Other programs rely on these names and flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use fraud_engine::{metrics::ThresholdStrategy, ClassWeight, RiskBands, Setting, TrainParams};

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
    /// fraud_probability, predicted_is_fraud and risk_level (a label column
    /// the file has is kept as it is).
    Predict(PredictArgs),
    /// Evaluate a model on a labelled CSV.
    Evaluate(EvaluateArgs),
    /// Describe a model file.
    Inspect(InspectArgs),
    /// Explain every row of a CSV: its columns plus `fraud_probability`,
    /// `base_value` and one `contribution_<feature>` column per feature.
    Explain(ExplainArgs),
    /// Re-choose a model's threshold and risk bands on labelled data,
    /// leaving its trees untouched.
    Tune(TuneArgs),
    /// Write the forest as documented JSON (for shap, treelite, notebooks).
    ExportTrees(ExportTreesArgs),
    /// Manage a model registry: list, add, activate, roll back, shadow.
    Models(ModelsArgs),
    /// Compare a CSV of transactions with the model's training data: the
    /// population stability index of every feature and of the score.
    Drift(DriftArgs),
    /// Bring the history database's schema up to date (`serve` also does
    /// this at start-up; run it first to migrate once before a rollout).
    Migrate(MigrateArgs),
    /// Ask a running server's `/ready` and exit 0 only on 200 (a container
    /// health check that needs no curl in the image).
    Healthcheck(HealthcheckArgs),
    // Labels, retraining and backups (issue 12).
    /// Attach labels from a CSV (transaction_id or request_id, is_fraud,
    /// optional labelled_by) to the stored predictions, as POST
    /// /api/feedback does.
    Label(LabelArgs),
    /// Train a successor of a model on the labelled history (rows older
    /// than the label delay), and compare both on the newest held-out rows.
    Retrain(RetrainArgs),
    /// Write a consistent snapshot of the history (SQLite's online backup,
    /// or `pg_dump` for PostgreSQL; while the server runs) and a copy of
    /// the model registry to a new directory.
    Backup(BackupArgs),
    /// Bring back a backup's history and registry, after checking every
    /// file in it.
    Restore(RestoreArgs),
}

// Labels, retraining and backups (issue 12).

/// Where the history is, as `serve` and `migrate` take it.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The history database: a SQLite path, `sqlite://PATH` or
    /// `postgres://USER:PASSWORD@HOST:PORT/DB` (default
    /// `<data-dir>/history.db`).
    #[arg(long = "history", env = "DATABASE_URL", hide_env_values = true)]
    pub history: Option<String>,
    /// Directory of the default history file.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
}

/// `label` flags.
#[derive(Debug, Args)]
pub struct LabelArgs {
    /// The history.
    #[command(flatten)]
    pub history: HistoryArgs,
    /// CSV with a header: `transaction_id` or `request_id`, `is_fraud`
    /// (0/1, true/false or yes/no) and optionally `labelled_by`.
    #[arg(long)]
    pub data: PathBuf,
    /// Store the labels whose ids are known and list the others (without
    /// it, one unknown id stores nothing).
    #[arg(long)]
    pub skip_unknown: bool,
}

/// `retrain` flags.
#[derive(Debug, Args)]
pub struct RetrainArgs {
    /// The history.
    #[command(flatten)]
    pub history: HistoryArgs,
    /// Where to write the new model.
    #[arg(long)]
    pub out: PathBuf,
    /// Only predictions scored on or after this date (2026-11-30) or RFC
    /// 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// The model to retrain (default: the registry's active version).
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// The registry whose active version is the default base (default
    /// `$DATA_DIR/models`, else `data/models`).
    #[arg(long, env = "MODEL_REGISTRY", default_value_os_t = crate::registry::default_dir())]
    pub registry: PathBuf,
    /// Only predictions at least this old (7d, 36h, 0s): fraud labels
    /// arrive late, so newer ones are mostly unlabelled yet.
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
    pub label_delay: std::time::Duration,
    /// The newest share of the rows held out to compare both models.
    #[arg(long, default_value_t = 0.2)]
    pub holdout: f64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `backup` flags.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The history.
    #[command(flatten)]
    pub history: HistoryArgs,
    /// The registry directory (default `$DATA_DIR/models`, else `data/models`).
    #[arg(long, env = "MODEL_REGISTRY", default_value_os_t = crate::registry::default_dir())]
    pub registry: PathBuf,
    /// The backup directory to create (absent or empty).
    #[arg(long)]
    pub out: PathBuf,
    /// The directory holding `pg_dump`, for a PostgreSQL history (default:
    /// found on `PATH`).
    #[arg(long, env = "PG_BIN")]
    pub pg_bin: Option<PathBuf>,
}

/// `restore` flags.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A directory `backup` wrote.
    pub backup: PathBuf,
    /// The history to restore into, of the kind backed up (the server must
    /// be stopped).
    #[command(flatten)]
    pub history: HistoryArgs,
    /// The registry directory to restore into (default `$DATA_DIR/models`,
    /// else `data/models`).
    #[arg(long, env = "MODEL_REGISTRY", default_value_os_t = crate::registry::default_dir())]
    pub registry: PathBuf,
    /// Replace a history or registry that is not empty.
    #[arg(long)]
    pub force: bool,
    /// The directory holding `pg_restore`, for a PostgreSQL history
    /// (default: found on `PATH`).
    #[arg(long, env = "PG_BIN")]
    pub pg_bin: Option<PathBuf>,
}

/// `models` flags.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// The registry directory (default `$DATA_DIR/models`, else `data/models`).
    #[arg(long, env = "MODEL_REGISTRY", default_value_os_t = crate::registry::default_dir())]
    pub registry: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: ModelsCommand,
}

/// The registry operations.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Every stored version with its state and card summary.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Every activation, rollback and shadow change, oldest first.
    History,
    /// Store a model file (after checking it reproduces its golden set).
    Add {
        /// The model file.
        model: PathBuf,
        /// Also make it the active model.
        #[arg(long)]
        activate: bool,
    },
    /// Make a stored version the active model.
    Activate {
        /// The version.
        version: String,
    },
    /// Make the previously active version active again.
    Rollback,
    /// Make a stored version the shadow model.
    Shadow {
        /// The version.
        version: String,
    },
    /// Stop shadow scoring.
    Unshadow,
}

/// `drift` flags.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Model file.
    #[arg(long)]
    pub model: PathBuf,
    /// CSV of transactions to compare with the training data.
    #[arg(long)]
    pub data: PathBuf,
    /// Print JSON (the shape of `GET /api/drift`'s features) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `migrate` flags.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The history database, as `serve` takes it: a SQLite path,
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST:PORT/DB`
    /// (default `<data-dir>/history.db`).
    #[arg(long = "history", env = "DATABASE_URL", hide_env_values = true)]
    pub history: Option<String>,
    /// Directory of the default history file.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
}

/// `healthcheck` flags.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The URL to ask (default `http://127.0.0.1:$PORT/ready`).
    #[arg(long)]
    pub url: Option<String>,
    /// The port of the default URL.
    #[arg(long, env = "PORT", default_value_t = 5000)]
    pub port: u16,
    /// Longest wait for the answer, in seconds.
    #[arg(long, default_value_t = 3)]
    pub timeout: u64,
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
    /// Label noise: 1 is the generator's own, 0 makes the label a
    /// deterministic function of the features, 2 doubles the noise. The
    /// rows' features do not change with it.
    #[arg(long, default_value_t = fraud_engine::synth::DEFAULT_LABEL_NOISE)]
    pub label_noise: f64,
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
    /// A schema file (JSON) declaring the features' kinds, valid ranges,
    /// allowed categories and whether each is required; without it they
    /// are inferred from the data.
    #[arg(long)]
    pub schema: Option<PathBuf>,
    /// Also write the schema the model uses, as a schema file to edit.
    #[arg(long)]
    pub write_schema: Option<PathBuf>,
    /// What scoring does with a number outside the range seen in training:
    /// warn (score it and say so), reject, or accept (silently). Overrides
    /// the schema file's `out_of_range`.
    #[arg(long)]
    pub out_of_range: Option<fraud_engine::RangePolicy>,
    /// A column of row weights (numbers, zero or more), used in the split
    /// criterion, the leaf values and the out-of-bag metrics; not a feature.
    #[arg(long)]
    pub weight: Option<String>,
    /// Number of trees.
    #[arg(long, default_value_t = TrainParams::default().n_trees)]
    pub trees: usize,
    /// Deepest tree level, or auto: chosen with the leaf size and class
    /// weighting by out-of-bag PR-AUC (printed, and kept in the model).
    #[arg(long, default_value_t = TrainParams::default().max_depth, value_parser = max_depth)]
    pub max_depth: Setting<usize>,
    /// Fewest samples in a leaf, or auto.
    #[arg(long, default_value_t = TrainParams::default().min_samples_leaf, value_parser = min_samples_leaf)]
    pub min_samples_leaf: Setting<u32>,
    /// Split candidates per node (default: sqrt of the feature count).
    #[arg(long)]
    pub max_features: Option<usize>,
    /// auto, none, balanced, balanced-splits (balanced weights for choosing
    /// splits, plain fraud fractions in the leaves), or the weights of a
    /// legitimate row and a fraud, such as 1:20 (they also weigh the
    /// out-of-bag metrics).
    #[arg(long, default_value_t = TrainParams::default().class_weight, value_parser = class_weight)]
    pub class_weight: Setting<ClassWeight>,
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

/// `--max-depth`: the engine reads it (`auto` or a number).
fn max_depth(text: &str) -> Result<Setting<usize>, fraud_engine::Error> {
    Setting::parse("max_depth", text)
}

/// `--min-samples-leaf`: the engine reads it.
fn min_samples_leaf(text: &str) -> Result<Setting<u32>, fraud_engine::Error> {
    Setting::parse("min_samples_leaf", text)
}

/// `--class-weight`: the engine reads it.
fn class_weight(text: &str) -> Result<Setting<ClassWeight>, fraud_engine::Error> {
    Setting::parse("class_weight", text)
}

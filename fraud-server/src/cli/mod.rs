//! The `fraud-server` command line: `generate`, `train`, `predict`,
//! `evaluate`, `inspect`, `explain`, `tune`, `export-trees`, `models`,
//! `drift`, and the operations commands `migrate` and `healthcheck`. Each
//! subcommand converts its flags and files into engine calls and the
//! engine's results into text; every data decision is the engine's.

mod args;
mod decision;
mod inspect;
mod labels;
mod lifecycle;
mod ops;
mod score;
mod train;

use std::io::Write;

pub use args::{
    Cli, Command, CostArgs, DriftArgs, EvaluateArgs, ExplainArgs, ExportTreesArgs, GenerateArgs,
    HealthcheckArgs, InspectArgs, Invocation, MigrateArgs, ModelsArgs, ModelsCommand, PredictArgs,
    StrategyName, TrainArgs, TuneArgs,
};
// Labels, retraining and backups (issue 12).
pub use args::{BackupArgs, HistoryArgs, LabelArgs, RestoreArgs, RetrainArgs};
use fraud_engine::{Error as EngineError, Hint};

/// Errors the command line reports, one line each.
#[derive(Debug)]
pub enum CliError {
    /// The engine refused something.
    Engine(EngineError),
    /// Writing to the terminal or a file failed.
    Output(std::io::Error),
    /// The model registry refused or failed.
    Registry(crate::registry::RegistryError),
    /// The history database refused or could not be reached.
    History(crate::history::HistoryError),
    /// A server asked by `healthcheck` is not ready, or did not answer.
    NotReady(String),
    /// The work was done, but not all of it: the message says what is left.
    Incomplete(String),
    /// An input file or flag cannot be used (labels, a backup): the
    /// message names the row, field or file.
    Invalid(String),
}

impl From<crate::registry::RegistryError> for CliError {
    fn from(e: crate::registry::RegistryError) -> Self {
        CliError::Registry(e)
    }
}

impl From<EngineError> for CliError {
    fn from(e: EngineError) -> Self {
        CliError::Engine(e)
    }
}

impl From<crate::history::HistoryError> for CliError {
    fn from(e: crate::history::HistoryError) -> Self {
        CliError::History(e)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Output(e)
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Engine(e) => match e.hint() {
                Some(hint) => write!(f, "{e}; {}", hint_text(hint)),
                None => write!(f, "{e}"),
            },
            CliError::Output(e) => write!(f, "cannot write output: {e}"),
            CliError::Registry(e) => write!(f, "{e}"),
            CliError::History(e) => write!(f, "{e}"),
            CliError::NotReady(message) => f.write_str(message),
            CliError::Incomplete(message) => f.write_str(message),
            CliError::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for CliError {}

impl CliError {
    /// Whether the error is a closed standard output (`... | head -1`),
    /// which ends the program quietly, as coreutils do.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// An engine remedy in this command line's words (its flags).
pub fn hint_text(hint: &Hint) -> String {
    match hint {
        Hint::LeaveOut { column } => format!("leave it out with --drop {column}"),
        Hint::KeepColumn { column } => format!("--keep {column} keeps it"),
        Hint::NameLabel => "name the label column with --label".into(),
        other => other.to_string(),
    }
}

/// Tells the user about a notice from reading data, on stderr.
fn note(notice: &fraud_engine::Notice) {
    match &notice.hint {
        Some(hint) => eprintln!("note: {} ({})", notice.message, hint_text(hint)),
        None => eprintln!("note: {}", notice.message),
    }
}

/// Runs one subcommand, writing results to `out` and notices to stderr.
pub fn run(command: Command, out: &mut dyn Write) -> Result<(), CliError> {
    match command {
        Command::Generate(args) => {
            fraud_engine::synth::write_csv_with_noise(
                &args.out,
                args.rows,
                args.seed,
                args.label_noise,
            )?;
            writeln!(
                out,
                "wrote {} transactions to {}",
                args.rows,
                args.out.display()
            )?;
        }
        Command::Train(args) => train::run(args, out)?,
        Command::Predict(args) => score::predict(args, out)?,
        Command::Explain(args) => score::explain(args, out)?,
        Command::Evaluate(args) => decision::evaluate(args, out)?,
        Command::Tune(args) => decision::tune(args, out)?,
        Command::Inspect(args) => inspect::inspect(args, out)?,
        Command::ExportTrees(args) => inspect::export_trees(args, out)?,
        Command::Models(args) => lifecycle::models(args, out)?,
        Command::Drift(args) => lifecycle::drift(args, out)?,
        Command::Migrate(args) => ops::migrate(args, out)?,
        Command::Healthcheck(args) => ops::healthcheck(args, out)?,
        // Labels, retraining and backups (issue 12).
        Command::Label(args) => labels::label(args, out)?,
        Command::Retrain(args) => labels::retrain(args, out)?,
        Command::Backup(args) => labels::backup(args, out)?,
        Command::Restore(args) => labels::restore(args, out)?,
    }
    Ok(())
}

/// Pretty JSON for people and programs, or the serializer's error.
fn pretty_json<T: serde::Serialize>(value: &T, what: &'static str) -> Result<Vec<u8>, CliError> {
    serde_json::to_vec_pretty(value).map_err(|e| {
        CliError::Engine(EngineError::Serialization {
            what,
            reason: e.to_string(),
        })
    })
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".into(), |v| format!("{v:.4}"))
}

/// The metrics of an evaluation, a few lines of text.
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

/// What `auto` chose and why, with every candidate's out-of-bag scores.
fn write_auto(out: &mut dyn Write, auto: &fraud_engine::AutoChoice) -> std::io::Result<()> {
    writeln!(out, "auto chose {}: {}", auto.chosen, auto.reason)?;
    writeln!(
        out,
        "  {:<9} {:<16} {:<15} {:>10} {:>8}",
        "max_depth", "min_samples_leaf", "class_weight", "OOB PR-AUC", "ROC-AUC"
    )?;
    for c in &auto.candidates {
        let chosen = if c.settings() == auto.chosen {
            "  <- chosen"
        } else {
            ""
        };
        writeln!(
            out,
            "  {:<9} {:<16} {:<15} {:>10} {:>8}{chosen}",
            c.max_depth,
            c.min_samples_leaf,
            c.class_weight.to_string(),
            fmt_opt(c.oob_pr_auc),
            fmt_opt(c.oob_roc_auc)
        )?;
    }
    Ok(())
}

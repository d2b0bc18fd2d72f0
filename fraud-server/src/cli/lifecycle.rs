//! `models` (the registry's operations, as the admin API offers them) and
//! `drift` (the server's drift report, offline).

use std::io::Write;

use fraud_engine::drift::DriftReport;
use fraud_engine::{Model, Table};

use super::{pretty_json, CliError, DriftArgs, ModelsArgs, ModelsCommand};
use crate::registry::{Card, Manifest, Registry};

/// Who the registry records for a change made from the command line.
pub(super) fn operator() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// `models ...`: list, add, activate, roll back and shadow versions in a
/// registry directory. A running server picks the change up on SIGHUP.
pub fn models(args: ModelsArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let registry = Registry::open(&args.registry)?;
    let by = operator();
    match args.command {
        ModelsCommand::List { json } => {
            let entries = registry.list()?;
            if json {
                out.write_all(&pretty_json(&entries, "model list")?)?;
                writeln!(out)?;
                return Ok(());
            }
            if entries.is_empty() {
                writeln!(out, "no models in {}", registry.dir().display())?;
            }
            for e in entries {
                let state = format!("{:?}", e.state).to_lowercase();
                match e.card {
                    Card::Usable(h) => writeln!(
                        out,
                        "{}  {state:<7} created {}  {} rows  {} trees  threshold {:.4}  PR-AUC {}{}",
                        e.model_version,
                        h.created,
                        h.training_rows,
                        h.n_trees,
                        h.threshold,
                        super::fmt_opt(h.oob_pr_auc),
                        h.parent_version
                            .map(|p| format!("  from {p}"))
                            .unwrap_or_default(),
                    )?,
                    Card::Unusable { problem } => writeln!(
                        out,
                        "{}  {state:<7} UNUSABLE: {}",
                        e.model_version,
                        problem
                    )?,
                }
            }
        }
        ModelsCommand::History => {
            for change in registry.manifest()?.history {
                writeln!(
                    out,
                    "{}  {:<12} {:<16} (was {})  by {}",
                    change.at,
                    format!("{:?}", change.action).to_lowercase(),
                    change.version.as_deref().unwrap_or("-"),
                    change.previous.as_deref().unwrap_or("none"),
                    change.by
                )?;
            }
        }
        ModelsCommand::Add { model, activate } => {
            let stored = registry.add_file(&model)?;
            writeln!(out, "stored model {}", stored.version())?;
            if activate {
                let (_, manifest) = registry.activate(stored.version(), &by)?;
                report(out, &manifest)?;
            }
        }
        ModelsCommand::Activate { version } => {
            let (_, manifest) = registry.activate(&version, &by)?;
            report(out, &manifest)?;
        }
        ModelsCommand::Rollback => {
            let (_, manifest) = registry.rollback(&by)?;
            report(out, &manifest)?;
        }
        ModelsCommand::Shadow { version } => {
            let (_, manifest) = registry.set_shadow(&version, &by)?;
            report(out, &manifest)?;
        }
        ModelsCommand::Unshadow => {
            let manifest = registry.clear_shadow(&by)?;
            report(out, &manifest)?;
        }
    }
    Ok(())
}

fn report(out: &mut dyn Write, manifest: &Manifest) -> std::io::Result<()> {
    writeln!(
        out,
        "active {}, shadow {} (a running server applies this on SIGHUP)",
        manifest.active.as_deref().unwrap_or("none"),
        manifest.shadow.as_deref().unwrap_or("none")
    )
}

/// `drift`: how far a CSV of transactions moved from the model's training
/// data, as `GET /api/drift` reports live traffic.
pub fn drift(args: DriftArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let model = Model::load(&args.model)?;
    let table = Table::read_csv(&args.data)?;
    let report = model.drift(&table)?;
    if args.json {
        out.write_all(&pretty_json(&report, "drift report")?)?;
        writeln!(out)?;
        return Ok(());
    }
    write_drift(out, &report)?;
    Ok(())
}

/// A drift report as a table: PSI and band per feature, then the score.
fn write_drift(out: &mut dyn Write, report: &DriftReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{} rows; PSI below 0.1 is stable, 0.1 to 0.25 moderate, above 0.25 significant",
        report.rows
    )?;
    writeln!(
        out,
        "  {:<24} {:>8}  {:<12} most moved (training share -> now)",
        "feature", "PSI", "band"
    )?;
    for psi in report.features.iter().chain([&report.score]) {
        let moved: Vec<String> = psi
            .top_moving_bins
            .iter()
            .map(|b| format!("{} {:.3}->{:.3}", b.bin, b.expected, b.actual))
            .collect();
        writeln!(
            out,
            "  {:<24} {:>8.4}  {:<12} {}",
            psi.feature,
            psi.psi,
            format!("{:?}", psi.band).to_lowercase(),
            moved.join(", ")
        )?;
    }
    Ok(())
}

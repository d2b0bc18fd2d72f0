//! `inspect` and `export-trees`: what a model file holds, from the engine's
//! own description of it.

use std::io::Write;

use fraud_engine::Model;

use super::{pretty_json, write_auto, write_evaluation, CliError, ExportTreesArgs, InspectArgs};

/// `inspect`: the model summary as text, or as the JSON `GET /api/model`
/// returns.
pub fn inspect(args: InspectArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let model = Model::load(&args.model)?;
    let summary = model.summary();
    if args.json {
        out.write_all(&pretty_json(&summary, "model summary")?)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "model {} (format {}, engine {}, created {})",
        summary.model_version, summary.format_version, summary.engine_version, summary.created
    )?;
    if let Some(parent) = &summary.parent_version {
        writeln!(out, "derived from model {parent}")?;
    }
    writeln!(
        out,
        "trained on {} rows ({} frauds); {} trees, {} nodes, max depth {}",
        summary.training_rows,
        summary.training_frauds,
        summary.n_trees,
        summary.n_nodes,
        summary.max_depth
    )?;
    match &summary.auto {
        Some(auto) => write_auto(out, auto)?,
        None => writeln!(
            out,
            "trees grown with max_depth {}, min_samples_leaf {}, class_weight {} (given)",
            summary.params.max_depth, summary.params.min_samples_leaf, summary.params.class_weight
        )?,
    }
    writeln!(
        out,
        "decision: is_fraud when probability >= {:.4} ({}); MEDIUM from {:.4}, HIGH from {:.4}",
        summary.threshold,
        summary.threshold_strategy,
        summary.risk_bands.medium,
        summary.risk_bands.high
    )?;
    writeln!(
        out,
        "schema (label `{}`; numbers outside the training range: {}):",
        summary.schema.label,
        match summary.schema.out_of_range {
            fraud_engine::RangePolicy::Warn => "scored with a warning",
            fraud_engine::RangePolicy::Reject => "rejected",
            fraud_engine::RangePolicy::Accept => "scored",
        }
    )?;
    writeln!(
        out,
        "  {:<24} {:<12} {:<9} {:<36} importance",
        "feature", "kind", "", "valid values"
    )?;
    for f in &summary.schema.features {
        let valid = match (&f.allowed_categories, &f.categories) {
            (Some(allowed), _) => format!("one of {} categories", allowed.len()),
            (None, Some(seen)) => format!("any text ({} seen in training)", seen.len()),
            _ if f.kind == "flag" => "0 or 1".to_owned(),
            _ => {
                let declared = match (f.min, f.max) {
                    (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
                    (Some(lo), None) => format!("at least {lo}"),
                    (None, Some(hi)) => format!("at most {hi}"),
                    (None, None) => "any number".to_owned(),
                };
                let stats = &f.training_stats;
                format!("{declared} (seen {} to {})", stats.min, stats.max)
            }
        };
        let required = if f.required { "required" } else { "optional" };
        writeln!(
            out,
            "  {:<24} {:<12} {:<9} {:<36} {:.4}",
            f.name, f.kind, required, valid, f.importance
        )?;
    }
    if let Some(oob) = &summary.oob_metrics {
        writeln!(out, "out-of-bag:")?;
        write_evaluation(out, oob)?;
    }
    Ok(())
}

/// `export-trees`: the forest as documented JSON (for shap, treelite, notebooks).
pub fn export_trees(args: ExportTreesArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let model = Model::load(&args.model)?;
    let json = pretty_json(&model.export_trees(), "tree export")?;
    fraud_engine::format::write_atomically(&args.out, &json)?;
    writeln!(
        out,
        "wrote {} trees to {}",
        model.n_trees(),
        args.out.display()
    )?;
    Ok(())
}

//! `train`: a labelled CSV in, a model file out, its out-of-bag metrics printed.

use std::io::Write;
use std::time::Instant;

use fraud_engine::{read_csv, ColumnRules, TrainParams, Trainer};

use super::{note, write_auto, write_evaluation, CliError, TrainArgs};

/// Reads the CSV by the column rules, trains, saves and reports.
pub fn run(args: TrainArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let started = Instant::now();
    let rules = ColumnRules {
        label: args.label,
        drop: args.drop,
        keep: args.keep,
        ..ColumnRules::default()
    };
    let loaded = read_csv(&args.data, &rules)?;
    loaded.notices.iter().for_each(note);
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
    let mut trainer = Trainer::new(params)?.progress(&progress);
    if let Some(threads) = args.threads {
        trainer = trainer.threads(threads)?;
    }
    let model = trainer.train(&data)?;
    let train_time = started.elapsed() - read_time;
    model.save(&args.out)?;
    let meta = model.metadata();
    writeln!(
        out,
        "trained {} trees on {} rows ({} frauds) in {:.2} s (+{:.2} s reading); {} nodes, max depth {}",
        model.n_trees(),
        meta.training_rows,
        meta.training_frauds,
        train_time.as_secs_f64(),
        read_time.as_secs_f64(),
        meta.n_nodes,
        meta.max_depth
    )?;
    if let Some(auto) = &meta.auto {
        write_auto(out, auto)?;
    }
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

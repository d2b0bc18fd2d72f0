//! `train`: a labelled CSV in, a model file out, its out-of-bag metrics printed.

use std::io::Write;
use std::time::Instant;

use fraud_engine::data::read_weights;
use fraud_engine::{ColumnRules, Dataset, Schema, Table, TrainParams, Trainer};

use super::{note, write_evaluation, CliError, TrainArgs};

/// Reads the CSV by the column rules, trains, saves and reports.
pub fn run(args: TrainArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let started = Instant::now();
    let schema = args.schema.as_deref().map(Schema::load).transpose()?;
    let table = Table::read_csv(&args.data)?;
    let weights = args
        .weight
        .as_deref()
        .map(|column| read_weights(&table, column))
        .transpose()?;
    // The weight column is not a feature.
    let mut left_out = args.drop;
    left_out.extend(args.weight);
    let rules = ColumnRules {
        label: schema
            .as_ref()
            .filter(|_| args.label == fraud_engine::schema::DEFAULT_LABEL)
            .map_or(args.label, |s| s.label.clone()),
        drop: left_out,
        keep: args.keep,
        schema,
        out_of_range: args.out_of_range,
        ..ColumnRules::default()
    };
    let loaded = Dataset::from_table(&table, &rules)?;
    loaded.notices.iter().for_each(note);
    let data = match weights {
        None => loaded.dataset,
        Some(weights) => loaded.dataset.with_weights(weights)?,
    };
    // Freed before training, which needs the memory more.
    drop(table);
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
    if let Some(path) = &args.write_schema {
        fraud_engine::format::write_atomically(path, model.schema_json()?.as_bytes())?;
    }
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
    match &meta.oob {
        Some(oob) => {
            writeln!(out, "out-of-bag:")?;
            write_evaluation(out, oob)?;
        }
        None => writeln!(out, "no out-of-bag rows: threshold left at 0.5")?,
    }
    writeln!(out, "saved {}", args.out.display())?;
    if let Some(path) = &args.write_schema {
        writeln!(out, "wrote the schema to {}", path.display())?;
    }
    Ok(())
}

//! Train a model on a labelled CSV, save it, and score a transaction with it:
//! the program a Rust team starts from.
//!
//! ```text
//! cargo run --release -p fraud-engine --example train_and_score -- [DATA.csv] [MODEL.fem]
//! ```
//!
//! Without DATA.csv it trains on 20,000 generated transactions; MODEL.fem
//! defaults to `model.fem`.

use std::error::Error;
use std::path::PathBuf;

use fraud_engine::{read_csv, synth, ColumnRules, Model, TrainParams, Trainer};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let data = args.next().filter(|p| !p.as_os_str().is_empty());
    let out = args.next().unwrap_or_else(|| PathBuf::from("model.fem"));

    // Columns named id or *_id are left out, kinds are inferred, and every
    // rejected value is reported with its row and column.
    let dataset = match &data {
        Some(path) => {
            let loaded = read_csv(path, &ColumnRules::default())?;
            for notice in &loaded.notices {
                eprintln!("note: {notice}");
            }
            loaded.dataset
        }
        None => synth::generate(20_000, 1),
    };
    let model = Trainer::new(TrainParams::default())?.train(&dataset)?;
    if let Some(oob) = &model.metadata().oob {
        println!(
            "trained {} trees on {} rows: out-of-bag ROC-AUC {:.4}, PR-AUC {:.4}, threshold {:.4}",
            model.n_trees(),
            dataset.n_rows(),
            oob.roc_auc.unwrap_or(f64::NAN),
            oob.pr_auc.unwrap_or(f64::NAN),
            model.threshold()
        );
    }
    model.save(&out)?;
    println!("saved {}", out.display());

    // The saved file is checked on load, never trusted.
    let model = Model::load(&out)?;
    let tx: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        r#"{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics",
            "foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,
            "velocity_last_24h":3,"cardholder_age":35}"#,
    )?;
    let explained = model.explain(&tx)?;
    println!(
        "{}",
        serde_json::to_string(&model.explained_output(&explained))?
    );
    Ok(())
}

//! Measures a saved model's scoring speed on rows from a CSV, for the
//! comparison harness (`benches/compare/run.sh`), and prints one JSON object:
//! median single-row latency (encoded row, JSON object, explanation) and batch
//! throughput on the rayon pool.
//!
//! `cargo run --release -p fraud-benches --example score_speed -- MODEL CSV`

use std::time::Instant;

fn median_ns(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Median over `rounds` of the mean time of `per_round` calls.
fn time_calls(rounds: usize, per_round: usize, mut f: impl FnMut(usize)) -> f64 {
    let mut samples = Vec::with_capacity(rounds);
    let mut i = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..per_round {
            f(i);
            i += 1;
        }
        samples.push(start.elapsed().as_nanos() as f64 / per_round as f64);
    }
    median_ns(samples)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(model_path), Some(csv_path)) = (args.next(), args.next()) else {
        return Err("usage: score_speed MODEL CSV".into());
    };
    let model = fraud_engine::Model::load(&model_path)?;
    let rules = fraud_engine::ColumnRules {
        require_label: false,
        schema: Some(model.schema().clone()),
        ..fraud_engine::ColumnRules::default()
    };
    let data = fraud_engine::read_csv(std::path::Path::new(&csv_path), &rules)?.dataset;
    let n = model.schema().features.len();
    let rows = data.n_rows();
    let mut encoded = Vec::with_capacity(rows * n);
    let mut values = Vec::new();
    let mut objects = Vec::new();
    for row in 0..rows {
        data.row_values(row, &mut values);
        let mut object = serde_json::Map::new();
        for (i, v) in values.iter().enumerate() {
            let name = &model.schema().features[i].name;
            let (x, json) = match *v {
                fraud_engine::Value::Number(x) => (x, serde_json::json!(x)),
                fraud_engine::Value::Text(t) => (
                    f64::from(model.category_code(name, t).map_or(0, |c| c.code)),
                    serde_json::json!(t),
                ),
                _ => (f64::NAN, serde_json::Value::Null),
            };
            encoded.push(x);
            object.insert(name.clone(), json);
        }
        if objects.len() < 1_000 {
            objects.push(object);
        }
    }
    let sample = rows.min(1_000);
    let mut sink = 0.0;
    let single_ns = time_calls(200, 1_000, |i| {
        let r = i % sample;
        sink += model
            .predict(&fraud_engine::Encoded(&encoded[r * n..(r + 1) * n]))
            .map_or(0.0, |p| p.fraud_probability);
    });
    let json_ns = time_calls(200, 1_000, |i| {
        sink += model
            .predict(&objects[i % objects.len()])
            .map_or(0.0, |p| p.fraud_probability);
    });
    let explain_ns = time_calls(50, 20, |i| {
        sink += model
            .explain(&objects[i % objects.len()])
            .map_or(0.0, |e| e.explanation.base_value);
    });
    let mut out = vec![0.0; rows];
    let mut batch = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        model.predict_proba_many(fraud_engine::Rows::Encoded(&encoded), &mut out)?;
        batch.push(rows as f64 / start.elapsed().as_secs_f64());
    }
    let filled = fraud_engine::bench::encode_rows(&model, &encoded)?;
    let mut forest_batch = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        fraud_engine::bench::predict_batch_with(
            &model,
            fraud_engine::bench::Walk::BranchFree,
            &filled,
            &mut out,
        )?;
        forest_batch.push(rows as f64 / start.elapsed().as_secs_f64());
    }
    println!(
        "{}",
        serde_json::json!({
            "engine": "fraud-engine",
            "threads": rayon::current_num_threads(),
            "rows": rows,
            "nodes": model.metadata().n_nodes,
            "single_row_us": single_ns / 1e3,
            "json_row_us": json_ns / 1e3,
            "explain_us": explain_ns / 1e3,
            "batch_rows_per_s": median_ns(batch),
            "forest_batch_rows_per_s": median_ns(forest_batch),
            "checksum": sink,
        })
    );
    Ok(())
}

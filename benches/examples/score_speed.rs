//! Measures a saved model's scoring speed on rows from a CSV, for the
//! comparison harness (`benches/compare/run.sh`), and prints one JSON object:
//! median single-row latency (encoded row, JSON object, explanation) and batch
//! throughput on the rayon pool.
//!
//! The ratios between our own paths are measured in interleaved rounds, by
//! the thread's CPU time (`*_cpu_*`): on a shared machine wall time also
//! counts the time other processes held the core, unevenly between rounds.
//!
//! `cargo run --release -p fraud-benches --example score_speed -- MODEL CSV [ROWS_OUT]`
//!
//! With `ROWS_OUT`, also writes the first 1,000 rows there, each as its
//! encoded values, a tab and its JSON body, for `benches/compare/ffi_ratio.c`.

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

/// This thread's CPU time so far, in nanoseconds: the clock itself, to the
/// nanosecond (`/proc/thread-self/schedstat`, read before, moves in 4 ms
/// ticks on these machines, a tenth of a round).
fn thread_cpu_ns() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as f64 * 1e9 + t.tv_nsec as f64
}

/// The CPU time per call of each of `paths` (made `calls` times each) in
/// each of `rounds` rounds, the paths run in turn within each round so that
/// all see the same machine.
fn interleaved_cpu_ns(
    rounds: usize,
    paths: &mut [(usize, &mut dyn FnMut(usize))],
) -> Vec<Vec<f64>> {
    let mut samples = vec![Vec::with_capacity(rounds); paths.len()];
    for _ in 0..rounds {
        for ((calls, path), samples) in paths.iter_mut().zip(&mut samples) {
            let calls = *calls;
            let start = thread_cpu_ns();
            for i in 0..calls {
                path(i);
            }
            samples.push((thread_cpu_ns() - start) / calls as f64);
        }
    }
    samples
}

/// The lower and upper quartiles of the rounds' own ratios `path / base`:
/// how far one round's ratio strays on this machine, beside the ratio of
/// the medians that the targets are judged by.
fn round_ratio_quartiles(path: &[f64], base: &[f64]) -> [f64; 2] {
    let mut ratios: Vec<f64> = path.iter().zip(base).map(|(p, b)| p / b).collect();
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    [ratios[n / 4], ratios[(3 * n) / 4]]
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
    // Request bodies in the documented field order, as clients send them.
    let mut bodies: Vec<String> = Vec::new();
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
            let fields: Vec<String> = model
                .feature_names()
                .iter()
                .map(|name| format!("\"{name}\":{}", object[*name]))
                .collect();
            bodies.push(format!("{{{}}}", fields.join(",")));
            objects.push(object);
        }
    }
    let sample = rows.min(1_000);
    // For the C ABI's comparison (benches/compare/ffi_ratio.c): each row's
    // encoded values, a tab, and its body, one row a line.
    if let Some(path) = args.next() {
        let mut text = String::new();
        for (i, body) in bodies.iter().enumerate() {
            let values: Vec<String> = encoded[i * n..(i + 1) * n]
                .iter()
                .map(|x| format!("{x:?}"))
                .collect();
            text.push_str(&format!("{}\t{body}\n", values.join(" ")));
        }
        std::fs::write(path, text)?;
    }
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
    // Our own paths side by side, by CPU time: an encoded row, a JSON body
    // (parse, validate, encode, score), an explanation.
    let cpu_sink = std::cell::Cell::new(0.0);
    let row = |i: usize| &encoded[(i % sample) * n..(i % sample + 1) * n];
    let (mut encoded_path, mut json_path, mut object_path) = (
        |i: usize| {
            let p = model.predict(&fraud_engine::Encoded(row(i)));
            cpu_sink.set(cpu_sink.get() + p.map_or(0.0, |p| p.fraud_probability));
        },
        |i: usize| {
            let p = model.predict_body(bodies[i % bodies.len()].as_bytes());
            cpu_sink.set(cpu_sink.get() + p.map_or(0.0, |p| p.fraud_probability));
        },
        // The object path alone, which bodies of another shape take.
        |i: usize| {
            let body = fraud_engine::json::Object::parse(bodies[i % bodies.len()].as_bytes());
            let p = body.ok().and_then(|body| model.predict(&body).ok());
            cpu_sink.set(cpu_sink.get() + p.map_or(0.0, |p| p.fraud_probability));
        },
    );
    // Rounds enough that the medians hold still where single rounds stray
    // by a tenth of the ratio on this shared machine (the quartiles below).
    let single_rounds = interleaved_cpu_ns(
        31,
        &mut [
            (100_000, &mut encoded_path),
            (100_000, &mut json_path),
            (100_000, &mut object_path),
        ],
    );
    let mut predict_once = |i: usize| {
        let p = model.predict(&fraud_engine::Encoded(row(i)));
        cpu_sink.set(cpu_sink.get() + p.map_or(0.0, |p| p.fraud_probability));
    };
    let mut explain_once = |i: usize| {
        let e = model.explain(&fraud_engine::Encoded(row(i)));
        cpu_sink.set(cpu_sink.get() + e.map_or(0.0, |e| e.explanation.base_value));
    };
    let explain_rounds = interleaved_cpu_ns(
        21,
        &mut [(100_000, &mut predict_once), (3_000, &mut explain_once)],
    );
    let single_cpu: Vec<f64> = single_rounds.iter().cloned().map(median_ns).collect();
    let explain_cpu: Vec<f64> = explain_rounds.iter().cloned().map(median_ns).collect();

    let mut out = vec![0.0; rows];
    let mut batch = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        model.predict_proba_many(fraud_engine::Rows::Encoded(&encoded), &mut out)?;
        batch.push(rows as f64 / start.elapsed().as_secs_f64());
    }
    let filled = fraud_engine::bench::encode_rows(&model, &encoded)?;
    // The batch scorer against the previous one (the branch-free walk), in
    // alternate runs on the rayon pool, by wall time (two threads).
    let (mut masks_batch, mut walk_batch) = (Vec::new(), Vec::new());
    for _ in 0..9 {
        for (walk, samples) in [
            (fraud_engine::bench::Walk::LeafMasks, &mut masks_batch),
            (fraud_engine::bench::Walk::BranchFree, &mut walk_batch),
        ] {
            let start = Instant::now();
            fraud_engine::bench::predict_batch_with(&model, walk, &filled, &mut out)?;
            samples.push(rows as f64 / start.elapsed().as_secs_f64());
        }
    }
    let forest_batch = masks_batch.clone();
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
            "walk_batch_rows_per_s": median_ns(walk_batch),
            "encoded_cpu_us": single_cpu[0] / 1e3,
            "json_cpu_us": single_cpu[1] / 1e3,
            "json_over_encoded": single_cpu[1] / single_cpu[0],
            "json_over_encoded_rounds": round_ratio_quartiles(&single_rounds[1], &single_rounds[0]),
            "object_cpu_us": single_cpu[2] / 1e3,
            "object_over_encoded": single_cpu[2] / single_cpu[0],
            "predict_cpu_us": explain_cpu[0] / 1e3,
            "explain_cpu_us": explain_cpu[1] / 1e3,
            "explain_over_predict": explain_cpu[1] / explain_cpu[0],
            "explain_over_predict_rounds": round_ratio_quartiles(&explain_rounds[1], &explain_rounds[0]),
            "checksum": sink + cpu_sink.get(),
        })
    );
    Ok(())
}

//! Training speed on generated data.
#![allow(missing_docs)] // criterion_group! generates undocumented items.
//!
//! `cargo bench -p fraud-benches --bench training`

use criterion::{criterion_group, criterion_main, Criterion};
use fraud_engine::{synth, train, TrainParams};

fn training(c: &mut Criterion) {
    let mut group = c.benchmark_group("train");
    group.sample_size(10);
    for rows in [10_000usize, 100_000] {
        let data = synth::generate(rows, 1);
        group.bench_function(format!("{rows}_rows_100_trees"), |b| {
            b.iter(|| train(&data, &TrainParams::default()).map(|m| m.metadata().n_nodes))
        });
    }
    group.finish();
}

criterion_group!(benches, training);
criterion_main!(benches);

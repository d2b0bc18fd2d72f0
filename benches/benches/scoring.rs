//! Scoring speed: single row (both tree walks), batch (both walks and the
//! leaf masks many rows are scored with), JSON, and
//! explanations (three exact TreeSHAP formulations side by side).
#![allow(missing_docs)] // criterion_group! generates undocumented items.
//!
//! `cargo bench -p fraud-benches --bench scoring`

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fraud_benches::{documented_request, encoded_rows, model};
use fraud_engine::bench::{self, PreparedShap, Shap, Walk};
use fraud_engine::{Encoded, Rows};

fn single_row(c: &mut Criterion) {
    for (name, rows) in [("10k", 10_000), ("800k", 800_000)] {
        let model = model(rows);
        let encoded = encoded_rows(&model, 1_000);
        let filled = bench::encode_rows(&model, &encoded).expect("valid rows");
        let n = model.schema().features.len();
        let mut group = c.benchmark_group(format!("single_row/{name}"));
        for (walk_name, walk) in [
            ("branchy", Walk::Branchy),
            ("branch_free", Walk::BranchFree),
            ("leaf_masks", Walk::LeafMasks),
        ] {
            group.bench_function(BenchmarkId::new("forest", walk_name), |b| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % 1_000;
                    black_box(bench::predict_with(
                        &model,
                        walk,
                        &filled[i * n..(i + 1) * n],
                    ))
                })
            });
        }
        group.bench_function("predict_encoded", |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % 1_000;
                black_box(
                    model
                        .predict(&Encoded(&encoded[i * n..(i + 1) * n]))
                        .map(|p| p.fraud_probability),
                )
            })
        });
        let request = documented_request();
        group.bench_function("predict_json_map", |b| {
            b.iter(|| black_box(model.predict(&request).map(|p| p.fraud_probability)))
        });
        // The documented body as text: encoded as it is read (its members
        // are the features in order), and through the object parser, as a
        // body of another shape is.
        let body = fraud_benches::DOCUMENTED_REQUEST.as_bytes();
        group.bench_function("predict_body", |b| {
            b.iter(|| black_box(model.predict_body(body).map(|p| p.fraud_probability)))
        });
        group.bench_function("predict_body_as_object", |b| {
            b.iter(|| {
                let object = fraud_engine::json::Body::parse(body).expect("an object");
                black_box(model.predict(&object).map(|p| p.fraud_probability))
            })
        });
        group.bench_function("explain", |b| {
            b.iter(|| black_box(model.explain(&request).map(|e| e.reasons.len())))
        });
        group.finish();
    }
}

fn batch(c: &mut Criterion) {
    let model = model(10_000);
    let rows = 200_000;
    let encoded = encoded_rows(&model, rows);
    let filled = bench::encode_rows(&model, &encoded).expect("valid rows");
    let mut out = vec![0.0; rows];
    let mut group = c.benchmark_group("batch/10k");
    group.throughput(Throughput::Elements(rows as u64));
    group.sample_size(20);
    for (walk_name, walk) in [
        ("branchy", Walk::Branchy),
        ("branch_free", Walk::BranchFree),
        ("leaf_masks", Walk::LeafMasks),
    ] {
        group.bench_function(BenchmarkId::new("forest_2_threads", walk_name), |b| {
            b.iter(|| bench::predict_batch_with(&model, walk, &filled, &mut out))
        });
    }
    group.bench_function("predict_proba_many_encoded", |b| {
        b.iter(|| model.predict_proba_many(Rows::Encoded(&encoded), &mut out))
    });
    group.finish();
}

/// The exact TreeSHAP formulations on the same rows: the model's
/// (quadrature) against the per-leaf closed form it replaced and per-leaf
/// tables keyed by the hot set.
fn explain(c: &mut Criterion) {
    for (name, rows) in [("10k", 10_000), ("800k", 800_000)] {
        let model = model(rows);
        let encoded = encoded_rows(&model, 256);
        let filled = bench::encode_rows(&model, &encoded).expect("valid rows");
        let n = model.schema().features.len();
        let mut group = c.benchmark_group(format!("explain/{name}"));
        for (shap_name, shap) in [
            ("per_leaf", Shap::PerLeaf),
            ("leaf_tables", Shap::LeafTables),
            ("quadrature", Shap::Quadrature),
        ] {
            let Some(prepared) = PreparedShap::new(&model, shap) else {
                continue;
            };
            let mut phi = vec![0.0; n];
            group.bench_function(shap_name, |b| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % 256;
                    prepared.shap_values(black_box(&filled[i * n..(i + 1) * n]), &mut phi);
                    phi[0]
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, single_row, batch, explain);
criterion_main!(benches);

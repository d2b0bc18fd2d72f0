//! What the C ABI costs: the typed single-row call and the JSON call made
//! through the real shared library (loaded with dlopen and called through
//! function pointers, as a C program calls it), beside the engine's own
//! in-process calls, on a 100-tree model trained on 10,000 synthetic rows.
//!
//! Targets: `ffi/predict_row` at most 1.2x `engine/predict_encoded`;
//! `ffi/predict_json` at most 2 us. The `explain` group shows what an
//! explanation costs through the C ABI (issue 3's target, 50 us, is the
//! engine's).
//!
//! `cargo bench -p fraud-ffi --bench ffi -- --warm-up-time 1 --measurement-time 3`

// Calling a dynamically loaded C library takes `unsafe`; each block says why
// it is sound.
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
// `criterion_group!` defines a public function without a doc comment.
#![allow(missing_docs)]

use std::ffi::{c_char, c_void, CString};
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use fraud_engine::{synth, train, Encoded, Model, TrainParams};

#[path = "../tests/common/mod.rs"]
#[allow(dead_code)]
mod common;

/// `FraudPrediction` from include/fraud_engine.h.
#[repr(C)]
struct FraudPrediction {
    fraud_probability: f64,
    is_fraud: i32,
    risk_level: u32,
    warnings: u32,
}

impl FraudPrediction {
    const EMPTY: Self = FraudPrediction {
        fraud_probability: 0.0,
        is_fraud: 0,
        risk_level: 0,
        warnings: 0,
    };
}

type LoadBytes = unsafe extern "C" fn(*const u8, usize, *mut *mut c_void) -> u32;
type PredictRow =
    unsafe extern "C" fn(*const c_void, *const f64, usize, *mut FraudPrediction) -> u32;
type PredictJson = unsafe extern "C" fn(*const c_void, *const c_char, *mut FraudPrediction) -> u32;
type Free = unsafe extern "C" fn(*mut c_void);
type ExplainRow =
    unsafe extern "C" fn(*const c_void, *const f64, usize, *mut f64, usize, *mut f64) -> u32;
type ExplainJson = unsafe extern "C" fn(*const c_void, *const c_char, *mut *mut c_char) -> u32;
type StringFree = unsafe extern "C" fn(*mut c_char);

/// The shared library's entry points and a model loaded through them.
struct Library {
    predict_row: PredictRow,
    predict_json: PredictJson,
    explain_row: ExplainRow,
    explain_json: ExplainJson,
    string_free: StringFree,
    free: Free,
    model: *mut c_void,
    // Dropped last: the function pointers point into it.
    _library: libloading::Library,
}

impl Library {
    fn load(model: &Model) -> Self {
        let path = common::library_dir().join(libloading::library_filename("fraud_engine"));
        // SAFETY: our own library, whose initialisers do nothing unusual.
        let library = unsafe { libloading::Library::new(&path) }.expect("load the library");
        // SAFETY: each symbol has the type the header declares for it.
        let (load_bytes, predict_row, predict_json, free) = unsafe {
            (
                *library
                    .get::<LoadBytes>(b"fraud_model_load_bytes\0")
                    .expect("symbol"),
                *library
                    .get::<PredictRow>(b"fraud_model_predict_row\0")
                    .expect("symbol"),
                *library
                    .get::<PredictJson>(b"fraud_model_predict_json\0")
                    .expect("symbol"),
                *library.get::<Free>(b"fraud_model_free\0").expect("symbol"),
            )
        };
        // SAFETY: as above.
        let (explain_row, explain_json, string_free) = unsafe {
            (
                *library
                    .get::<ExplainRow>(b"fraud_model_explain_row\0")
                    .expect("symbol"),
                *library
                    .get::<ExplainJson>(b"fraud_model_explain_json\0")
                    .expect("symbol"),
                *library
                    .get::<StringFree>(b"fraud_string_free\0")
                    .expect("symbol"),
            )
        };
        let bytes = model.to_bytes().expect("serializes");
        let mut handle = std::ptr::null_mut();
        // SAFETY: a valid byte slice and out-pointer.
        let status = unsafe { load_bytes(bytes.as_ptr(), bytes.len(), &mut handle) };
        assert_eq!(status, 0, "fraud_model_load_bytes");
        Library {
            predict_row,
            predict_json,
            explain_row,
            explain_json,
            string_free,
            free,
            model: handle,
            _library: library,
        }
    }
}

impl Drop for Library {
    fn drop(&mut self) {
        // SAFETY: the handle came from fraud_model_load_bytes and is freed once.
        unsafe { (self.free)(self.model) }
    }
}

/// Rows cycled through so that the benchmark does not score one
/// transaction from a warm branch predictor over and over.
const ROWS: usize = 1024;

fn benchmarks(c: &mut Criterion) {
    let params = TrainParams {
        n_trees: 100,
        ..TrainParams::default()
    };
    let model = train(&synth::generate(10_000, 42), &params).expect("train");
    let library = Library::load(&model);

    let transactions: Vec<_> = synth::transactions(ROWS, 7).collect();
    let rows: Vec<[f64; 8]> = transactions
        .iter()
        .map(|tx| {
            let code = model
                .category_code("merchant_category", tx.merchant_category)
                .expect("categorical")
                .code;
            [
                tx.amount,
                f64::from(tx.transaction_hour),
                f64::from(code),
                f64::from(u8::from(tx.foreign_transaction)),
                f64::from(u8::from(tx.location_mismatch)),
                tx.device_trust_score,
                f64::from(tx.velocity_last_24h),
                f64::from(tx.cardholder_age),
            ]
        })
        .collect();
    let bodies: Vec<CString> = transactions
        .iter()
        .map(|tx| {
            CString::new(format!(
                r#"{{"amount":{},"transaction_hour":{},"merchant_category":"{}","foreign_transaction":{},"location_mismatch":{},"device_trust_score":{},"velocity_last_24h":{},"cardholder_age":{}}}"#,
                tx.amount,
                tx.transaction_hour,
                tx.merchant_category,
                u8::from(tx.foreign_transaction),
                u8::from(tx.location_mismatch),
                tx.device_trust_score,
                tx.velocity_last_24h,
                tx.cardholder_age
            ))
            .expect("no NUL")
        })
        .collect();

    let mut group = c.benchmark_group("single_row");
    group.bench_function("engine/predict_encoded", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % ROWS;
            model.predict(&Encoded(black_box(&rows[i]))).expect("score")
        })
    });
    group.bench_function("ffi/predict_row", |b| {
        let mut i = 0;
        let mut out = FraudPrediction::EMPTY;
        b.iter(|| {
            i = (i + 1) % ROWS;
            let row = black_box(&rows[i]);
            // SAFETY: a live handle, 8 readable doubles and a valid out-pointer.
            let status =
                unsafe { (library.predict_row)(library.model, row.as_ptr(), row.len(), &mut out) };
            assert_eq!(status, 0);
            out.fraud_probability
        })
    });
    group.finish();

    let mut group = c.benchmark_group("json");
    group.bench_function("serde_json/parse_only", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % ROWS;
            let body = black_box(&bodies[i]).to_bytes();
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body)
                .expect("json")
        })
    });
    group.bench_function("engine/parse_and_predict", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % ROWS;
            let body = black_box(&bodies[i]).to_bytes();
            let fields: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(body).expect("json");
            model.predict(&fields).expect("score")
        })
    });
    group.bench_function("ffi/predict_json", |b| {
        let mut i = 0;
        let mut out = FraudPrediction::EMPTY;
        b.iter(|| {
            i = (i + 1) % ROWS;
            let body = black_box(&bodies[i]);
            // SAFETY: a live handle, a C string and a valid out-pointer.
            let status = unsafe { (library.predict_json)(library.model, body.as_ptr(), &mut out) };
            assert_eq!(status, 0);
            out.fraud_probability
        })
    });
    group.finish();

    let mut group = c.benchmark_group("explain");
    group.bench_function("engine/explain_encoded", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % ROWS;
            model
                .explain(&Encoded(black_box(&rows[i])))
                .expect("explain")
        })
    });
    group.bench_function("ffi/explain_row", |b| {
        let mut i = 0;
        let mut contributions = [0.0; 8];
        let mut base_value = 0.0;
        b.iter(|| {
            i = (i + 1) % ROWS;
            let row = black_box(&rows[i]);
            // SAFETY: a live handle, 8 readable and 8 writable doubles, and a
            // valid out-pointer.
            let status = unsafe {
                (library.explain_row)(
                    library.model,
                    row.as_ptr(),
                    row.len(),
                    contributions.as_mut_ptr(),
                    contributions.len(),
                    &mut base_value,
                )
            };
            assert_eq!(status, 0);
            contributions[0]
        })
    });
    group.bench_function("ffi/explain_json", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % ROWS;
            let body = black_box(&bodies[i]);
            let mut text = std::ptr::null_mut();
            // SAFETY: a live handle, a C string and a valid out-pointer; the
            // string is freed once.
            unsafe {
                let status = (library.explain_json)(library.model, body.as_ptr(), &mut text);
                assert_eq!(status, 0);
                (library.string_free)(text);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);

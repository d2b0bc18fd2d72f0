//! The exports called from Rust as C would call them: every bad call gives
//! its status and message and leaves out-parameters untouched; good calls
//! give exactly the engine's answers.

#[path = "../tests/common/mod.rs"]
#[allow(dead_code)]
mod common;
use common::json_number;

use std::ffi::{c_char, CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::OnceLock;

use fraud_engine::{synth, Encoded, Model, TrainParams, Trainer};

use super::*;
use FraudStatus::*;

const DOCUMENTED: &str = r#"{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#;

/// The model file's bytes, trained once per test binary.
fn model_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let params = TrainParams {
            n_trees: 10,
            ..TrainParams::default()
        };
        let model = Trainer::new(params)
            .and_then(|t| t.threads(1))
            .and_then(|t| t.train(&synth::generate(3_000, 11)))
            .expect("train");
        model.to_bytes().expect("serializes")
    })
}

fn engine() -> Model {
    Model::from_bytes(model_bytes()).expect("load")
}

/// A loaded handle, freed on drop.
struct Handle(*mut FraudModel);

impl Handle {
    fn load() -> Self {
        let bytes = model_bytes();
        let mut out = null_mut();
        // SAFETY: a valid byte slice and out-pointer.
        let status = unsafe { fraud_model_load_bytes(bytes.as_ptr(), bytes.len(), &mut out) };
        assert_eq!(status, FRAUD_OK, "{}", last_error());
        Handle(out)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: a live handle, freed once.
        unsafe { fraud_model_free(self.0) }
    }
}

pub(crate) fn last_error() -> String {
    // SAFETY: fraud_last_error never returns NULL and its string lives until
    // the next failing call on this thread.
    unsafe { CStr::from_ptr(fraud_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// A prediction no call would produce, to see that failures leave `out` alone.
const SENTINEL: FraudPrediction = FraudPrediction {
    fraud_probability: -1.0,
    is_fraud: -1,
    risk_level: FraudRiskLevel::FRAUD_RISK_MEDIUM,
    warnings: 99,
};

fn predict_json(handle: &Handle, json: &str) -> (FraudStatus, FraudPrediction) {
    predict_json_with(handle.0, json)
}

fn predict_json_with(model: *const FraudModel, json: &str) -> (FraudStatus, FraudPrediction) {
    let json = CString::new(json).expect("no NUL");
    let mut out = SENTINEL;
    // SAFETY: a live handle, a C string and a valid out-pointer.
    let status = unsafe { fraud_model_predict_json(model, json.as_ptr(), &mut out) };
    (status, out)
}

fn predict_row(handle: &Handle, row: &[f64]) -> (FraudStatus, FraudPrediction) {
    let mut out = SENTINEL;
    // SAFETY: a live handle, `row.len()` doubles and a valid out-pointer.
    let status = unsafe { fraud_model_predict_row(handle.0, row.as_ptr(), row.len(), &mut out) };
    (status, out)
}

fn category_code(handle: &Handle, feature: &str, category: &str) -> (FraudStatus, u32, i32) {
    let (feature, category) = (
        CString::new(feature).expect("c"),
        CString::new(category).expect("c"),
    );
    let (mut code, mut known) = (u32::MAX, -1);
    // SAFETY: a live handle, C strings and valid out-pointers.
    let status = unsafe {
        fraud_model_category_code(
            handle.0,
            feature.as_ptr(),
            category.as_ptr(),
            &mut code,
            &mut known,
        )
    };
    (status, code, known)
}

/// The documented transaction as a typed row.
fn documented_row(handle: &Handle) -> Vec<f64> {
    let (status, electronics, known) = category_code(handle, "merchant_category", "Electronics");
    assert_eq!((status, known), (FRAUD_OK, 1));
    vec![
        250.0,
        14.0,
        f64::from(electronics),
        0.0,
        0.0,
        75.0,
        3.0,
        35.0,
    ]
}

fn json_map(json: &str) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(json).expect("json")
}

#[test]
fn version_matches_the_crate() {
    // SAFETY: a static C string.
    let version = unsafe { CStr::from_ptr(fraud_version()) };
    assert_eq!(version.to_str(), Ok(env!("CARGO_PKG_VERSION")));
}

#[test]
fn risk_level_names() {
    let name = |level: u32| {
        // SAFETY: a static C string.
        unsafe { CStr::from_ptr(fraud_risk_level_name(level)) }
            .to_str()
            .map(str::to_owned)
    };
    assert_eq!(
        name(FraudRiskLevel::FRAUD_RISK_LOW as u32).as_deref(),
        Ok("LOW")
    );
    assert_eq!(
        name(FraudRiskLevel::FRAUD_RISK_MEDIUM as u32).as_deref(),
        Ok("MEDIUM")
    );
    assert_eq!(
        name(FraudRiskLevel::FRAUD_RISK_HIGH as u32).as_deref(),
        Ok("HIGH")
    );
    assert_eq!(name(3).as_deref(), Ok("UNKNOWN"));
}

#[test]
fn load_rejects_null_missing_and_corrupt_input_without_writing_out() {
    let sentinel = std::ptr::dangling_mut::<FraudModel>();
    let mut out = sentinel;
    let path = CString::new("/nonexistent/dir/model.fem").expect("c");
    // SAFETY: every pointer is NULL or valid.
    unsafe {
        assert_eq!(fraud_model_load(null(), &mut out), FRAUD_NULL_PARAMETER);
        assert!(last_error().contains("`path` is NULL"), "{}", last_error());
        assert_eq!(
            fraud_model_load(path.as_ptr(), null_mut()),
            FRAUD_NULL_PARAMETER
        );
        assert_eq!(fraud_model_load(path.as_ptr(), &mut out), FRAUD_IO);
        assert!(
            last_error().contains("/nonexistent/dir/model.fem"),
            "{}",
            last_error()
        );

        assert_eq!(
            fraud_model_load_bytes(null(), 0, &mut out),
            FRAUD_NULL_PARAMETER
        );
        let bytes = model_bytes();
        assert_eq!(
            fraud_model_load_bytes(bytes.as_ptr(), 0, &mut out),
            FRAUD_CORRUPT_MODEL
        );
        let half = bytes.len() / 2;
        assert_eq!(
            fraud_model_load_bytes(bytes.as_ptr(), half, &mut out),
            FRAUD_CORRUPT_MODEL
        );
        let mut flipped = bytes.to_vec();
        flipped[half] ^= 0x55;
        let status = fraud_model_load_bytes(flipped.as_ptr(), flipped.len(), &mut out);
        assert_eq!(status, FRAUD_CORRUPT_MODEL);
        assert!(
            last_error().contains("corrupt model at byte"),
            "{}",
            last_error()
        );
    }
    assert_eq!(out, sentinel);
}

#[test]
fn free_null_is_a_no_op_and_clones_free_in_any_order() {
    // SAFETY: NULL is documented as a no-op.
    unsafe { fraud_model_free(null_mut()) };
    let first = Handle::load();
    let second = Handle::load();
    let mut clone = null_mut();
    // SAFETY: a live handle and a valid out-pointer.
    assert_eq!(unsafe { fraud_model_clone(first.0, &mut clone) }, FRAUD_OK);
    // SAFETY: NULL arguments are checked.
    let status = unsafe { fraud_model_clone(null(), &mut clone) };
    assert_eq!(status, FRAUD_NULL_PARAMETER);
    let clone = Handle(clone);
    let expected = predict_json(&first, DOCUMENTED);
    drop(first);
    assert_eq!(predict_json(&clone, DOCUMENTED), expected);
    assert_eq!(predict_json(&second, DOCUMENTED), expected);
}

#[test]
fn feature_metadata() {
    let handle = Handle::load();
    let engine = engine();
    let mut count = 0;
    // SAFETY: valid pointers.
    let status = unsafe { fraud_model_feature_count(handle.0, &mut count) };
    assert_eq!(status, FRAUD_OK);
    assert_eq!(count, engine.feature_names().len());
    for (i, expected) in engine.feature_names().iter().enumerate() {
        let mut name: *const c_char = null();
        // SAFETY: valid pointers; the name lives as long as the handle.
        let name = unsafe {
            assert_eq!(fraud_model_feature_name(handle.0, i, &mut name), FRAUD_OK);
            CStr::from_ptr(name)
        };
        assert_eq!(name.to_str(), Ok(*expected));
    }
    let mut kind = FraudFeatureKind::FRAUD_FEATURE_NUMERIC;
    let mut name = null();
    let mut threshold = -1.0;
    // SAFETY: valid or NULL pointers.
    unsafe {
        assert_eq!(fraud_model_feature_kind(handle.0, 2, &mut kind), FRAUD_OK);
        assert_eq!(kind, FraudFeatureKind::FRAUD_FEATURE_CATEGORICAL);
        assert_eq!(fraud_model_feature_kind(handle.0, 3, &mut kind), FRAUD_OK);
        assert_eq!(kind, FraudFeatureKind::FRAUD_FEATURE_FLAG);
        assert_eq!(
            fraud_model_feature_kind(handle.0, count, &mut kind),
            FRAUD_INVALID_ARGUMENT
        );
        assert_eq!(kind, FraudFeatureKind::FRAUD_FEATURE_FLAG);
        assert_eq!(
            fraud_model_feature_name(handle.0, count, &mut name),
            FRAUD_INVALID_ARGUMENT
        );
        assert!(last_error().contains("out of range"), "{}", last_error());
        assert!(name.is_null());
        assert_eq!(
            fraud_model_feature_count(null(), &mut count),
            FRAUD_NULL_PARAMETER
        );
        assert_eq!(
            fraud_model_feature_count(handle.0, null_mut()),
            FRAUD_NULL_PARAMETER
        );
        assert_eq!(fraud_model_threshold(handle.0, &mut threshold), FRAUD_OK);
    }
    assert_eq!(threshold, engine.threshold());
}

#[test]
fn feature_required() {
    let handle = Handle::load();
    let mut required = -1;
    // SAFETY: a live handle and a valid out-pointer.
    let status = unsafe { fraud_model_feature_required(handle.0, 1, &mut required) };
    assert_eq!(
        (status, required),
        (FRAUD_OK, 1),
        "generated data is never missing"
    );
    let mut untouched = -1;
    // SAFETY: as above; the index is out of range.
    let status = unsafe { fraud_model_feature_required(handle.0, 8, &mut untouched) };
    assert_eq!((status, untouched), (FRAUD_INVALID_ARGUMENT, -1));
    // SAFETY: NULL out-pointer, checked by the call.
    let status = unsafe { fraud_model_feature_required(handle.0, 0, null_mut()) };
    assert_eq!(status, FRAUD_NULL_PARAMETER);
}

#[test]
fn category_codes() {
    let handle = Handle::load();
    let engine = engine();
    let (status, code, known) = category_code(&handle, "merchant_category", "Grocery");
    assert_eq!((status, known), (FRAUD_OK, 1));
    assert_eq!(
        code,
        engine
            .category_code("merchant_category", "Grocery")
            .expect("categorical")
            .code
    );
    let (status, unseen, known) = category_code(&handle, "merchant_category", "Casino");
    assert_eq!((status, known), (FRAUD_OK, 0));
    assert_ne!(unseen, code);

    assert_eq!(
        category_code(&handle, "amount", "x"),
        (FRAUD_INVALID_ARGUMENT, u32::MAX, -1)
    );
    assert!(
        last_error().contains("`amount` is not categorical"),
        "{}",
        last_error()
    );
    assert_eq!(
        category_code(&handle, "colour", "x").0,
        FRAUD_INVALID_ARGUMENT
    );
    assert!(
        last_error().contains("no feature `colour`"),
        "{}",
        last_error()
    );

    let feature = CString::new("merchant_category").expect("c");
    let mut code = u32::MAX;
    // SAFETY: valid or NULL pointers; `out_known` may be NULL.
    unsafe {
        let status = fraud_model_category_code(
            handle.0,
            feature.as_ptr(),
            c"Gas".as_ptr(),
            &mut code,
            null_mut(),
        );
        assert_eq!(status, FRAUD_OK);
        let status =
            fraud_model_category_code(handle.0, feature.as_ptr(), null(), &mut code, null_mut());
        assert_eq!(status, FRAUD_NULL_PARAMETER);
        let status = fraud_model_category_code(
            handle.0,
            feature.as_ptr(),
            c"Gas".as_ptr(),
            null_mut(),
            null_mut(),
        );
        assert_eq!(status, FRAUD_NULL_PARAMETER);
        let bad_utf8 = [0xffu8, 0];
        let status = fraud_model_category_code(
            handle.0,
            feature.as_ptr(),
            bad_utf8.as_ptr().cast(),
            &mut code,
            null_mut(),
        );
        assert_eq!(status, FRAUD_INVALID_ARGUMENT);
    }
    assert_eq!(
        code,
        engine
            .category_code("merchant_category", "Gas")
            .expect("categorical")
            .code
    );
}

#[test]
fn json_scores_like_the_engine() {
    let handle = Handle::load();
    let expected = engine().predict(&json_map(DOCUMENTED)).expect("score");
    let (status, got) = predict_json(&handle, DOCUMENTED);
    assert_eq!(status, FRAUD_OK, "{}", last_error());
    assert_eq!(got, FraudPrediction::from(expected));

    let unseen = DOCUMENTED.replace("Electronics", "Casino");
    let (status, got) = predict_json(&handle, &unseen);
    assert_eq!((status, got.warnings), (FRAUD_OK, 1));
    assert_eq!(
        got.fraud_probability,
        engine()
            .predict(&json_map(&unseen))
            .expect("score")
            .fraud_probability
    );
}

#[test]
fn bad_json_gives_a_status_and_leaves_out_alone() {
    let handle = Handle::load();
    for (body, status, message) in [
        ("", FRAUD_INVALID_JSON, "not a JSON object"),
        ("{", FRAUD_INVALID_JSON, "ends early"),
        ("[1, 2]", FRAUD_INVALID_JSON, "not a JSON object"),
        ("{}", FRAUD_INVALID_INPUT, "`amount`: missing field"),
        (
            &DOCUMENTED.replace("14", "25").replace("75", "\"high\""),
            FRAUD_INVALID_INPUT,
            "`transaction_hour`",
        ),
    ] {
        assert_eq!(predict_json(&handle, body), (status, SENTINEL), "{body}");
        assert!(last_error().contains(message), "{body}: {}", last_error());
    }
    let message = last_error();
    assert!(
        message.contains("`device_trust_score`"),
        "every bad field is named: {message}"
    );

    let json = CString::new(DOCUMENTED).expect("c");
    let mut out = SENTINEL;
    // SAFETY: NULL or valid pointers.
    unsafe {
        assert_eq!(
            fraud_model_predict_json(null(), json.as_ptr(), &mut out),
            FRAUD_NULL_PARAMETER
        );
        assert_eq!(
            fraud_model_predict_json(handle.0, null(), &mut out),
            FRAUD_NULL_PARAMETER
        );
        assert_eq!(
            fraud_model_predict_json(handle.0, json.as_ptr(), null_mut()),
            FRAUD_NULL_PARAMETER
        );
    }
    assert_eq!(out, SENTINEL);
}

#[test]
fn json_with_a_length_needs_no_terminator() {
    let handle = Handle::load();
    let padded = format!("{DOCUMENTED}garbage after the body");
    let mut out = SENTINEL;
    // SAFETY: a live handle, `DOCUMENTED.len()` readable bytes and valid out.
    let status = unsafe {
        fraud_model_predict_json_len(handle.0, padded.as_ptr().cast(), DOCUMENTED.len(), &mut out)
    };
    assert_eq!(status, FRAUD_OK, "{}", last_error());
    assert_eq!(out, predict_json(&handle, DOCUMENTED).1);
    let mut out = SENTINEL;
    // SAFETY: as above, with a zero length.
    let status =
        unsafe { fraud_model_predict_json_len(handle.0, padded.as_ptr().cast(), 0, &mut out) };
    assert_eq!((status, out), (FRAUD_INVALID_JSON, SENTINEL));
}

#[test]
fn typed_rows_score_like_the_engine_and_json() {
    let handle = Handle::load();
    let row = documented_row(&handle);
    let (status, got) = predict_row(&handle, &row);
    assert_eq!(status, FRAUD_OK, "{}", last_error());
    assert_eq!(
        got,
        FraudPrediction::from(engine().predict(&Encoded(&row)).expect("score"))
    );
    assert_eq!(got, predict_json(&handle, DOCUMENTED).1);

    // NaN is a missing value; this model's features were never missing in
    // training, so each is required and a missing one is refused by name.
    let mut missing = row.clone();
    missing[5] = f64::NAN;
    let (status, got) = predict_row(&handle, &missing);
    assert_eq!((status, got), (FRAUD_INVALID_INPUT, SENTINEL));
    assert!(
        last_error().contains("`device_trust_score`: missing value: this field is required"),
        "{}",
        last_error()
    );

    assert_eq!(
        predict_row(&handle, &row[..7]),
        (FRAUD_INVALID_INPUT, SENTINEL)
    );
    assert!(
        last_error().contains("7 values for 8 features"),
        "{}",
        last_error()
    );
    assert_eq!(predict_row(&handle, &[]).0, FRAUD_INVALID_INPUT);
    let mut bad = row.clone();
    bad[1] = 25.0;
    assert_eq!(predict_row(&handle, &bad), (FRAUD_INVALID_INPUT, SENTINEL));
    assert!(
        last_error().contains("transaction_hour"),
        "{}",
        last_error()
    );
    bad[1] = 14.0;
    bad[2] = 1000.0;
    assert_eq!(predict_row(&handle, &bad).0, FRAUD_INVALID_INPUT);

    let mut out = SENTINEL;
    // SAFETY: NULL or valid pointers.
    unsafe {
        assert_eq!(
            fraud_model_predict_row(handle.0, null(), 8, &mut out),
            FRAUD_NULL_PARAMETER
        );
        assert_eq!(
            fraud_model_predict_row(handle.0, null(), 0, &mut out),
            FRAUD_NULL_PARAMETER
        );
        assert_eq!(
            fraud_model_predict_row(null(), row.as_ptr(), 8, &mut out),
            FRAUD_NULL_PARAMETER
        );
        assert_eq!(
            fraud_model_predict_row(handle.0, row.as_ptr(), 8, null_mut()),
            FRAUD_NULL_PARAMETER
        );
        // A misaligned out-pointer is refused before anything is written.
        let mut bytes = [0u8; 2 * std::mem::size_of::<FraudPrediction>()];
        let misaligned = bytes.as_mut_ptr().add(1).cast::<FraudPrediction>();
        let status = fraud_model_predict_row(handle.0, row.as_ptr(), 8, misaligned);
        assert_eq!(status, FRAUD_INVALID_ARGUMENT);
        assert!(
            last_error().contains("`out` is not aligned"),
            "{}",
            last_error()
        );
        assert!(bytes.iter().all(|&b| b == 0));
    }
    assert_eq!(out, SENTINEL);
}

/// `n` encoded rows of synthetic transactions, row-major.
fn synthetic_rows(handle: &Handle, n: usize) -> Vec<f64> {
    synth::transactions(n, 5)
        .flat_map(|tx| {
            let (_, code, _) = category_code(handle, "merchant_category", tx.merchant_category);
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
        .collect()
}

fn predict_batch(handle: &Handle, rows: &[f64], n_features: usize, out: &mut [f64]) -> FraudStatus {
    // SAFETY: a live handle, `rows.len()` readable and `out.len()` writable doubles.
    unsafe {
        fraud_model_predict_batch(
            handle.0,
            rows.as_ptr(),
            rows.len() / n_features.max(1),
            n_features,
            out.as_mut_ptr(),
            out.len(),
        )
    }
}

#[test]
fn batches_score_like_single_rows() {
    let handle = Handle::load();
    let engine = engine();
    let rows = synthetic_rows(&handle, 300);
    let mut out = vec![-1.0; 301];
    assert_eq!(
        predict_batch(&handle, &rows, 8, &mut out),
        FRAUD_OK,
        "{}",
        last_error()
    );
    for (row, &p) in rows.chunks_exact(8).zip(&out) {
        assert_eq!(
            p,
            engine
                .predict(&Encoded(row))
                .expect("score")
                .fraud_probability
        );
    }
    assert_eq!(out[300], -1.0, "only n_rows values are written");

    // In place: the matrix's own memory receives the probabilities.
    let mut in_place = rows.clone();
    let (p, len) = (in_place.as_mut_ptr(), in_place.len());
    // SAFETY: `p` holds `len` doubles, read as rows and then written as output.
    let status = unsafe { fraud_model_predict_batch(handle.0, p, 300, 8, p, len) };
    assert_eq!(status, FRAUD_OK);
    assert_eq!(in_place[..300], out[..300]);
}

#[test]
fn bad_batches_give_a_status_and_write_nothing() {
    let handle = Handle::load();
    let mut rows = synthetic_rows(&handle, 10);
    let mut out = vec![-1.0; 10];
    assert_eq!(
        predict_batch(&handle, &rows, 7, &mut out),
        FRAUD_INVALID_INPUT
    );
    assert!(
        last_error().contains("7 features; the model has 8"),
        "{}",
        last_error()
    );
    assert_eq!(
        predict_batch(&handle, &rows, 8, &mut out[..9]),
        FRAUD_INVALID_ARGUMENT
    );
    assert!(
        last_error().contains("holds 9 values for 10 rows"),
        "{}",
        last_error()
    );
    rows[3 * 8 + 5] = 101.0;
    assert_eq!(
        predict_batch(&handle, &rows, 8, &mut out),
        FRAUD_INVALID_INPUT
    );
    assert!(last_error().contains("row index 3"), "{}", last_error());
    assert!(out.iter().all(|&p| p == -1.0));
    assert_eq!(predict_batch(&handle, &rows[..0], 8, &mut out), FRAUD_OK);
    assert!(out.iter().all(|&p| p == -1.0));

    // SAFETY: NULL or valid pointers; the huge count fails before any read.
    unsafe {
        let status = fraud_model_predict_batch(handle.0, null(), 1, 8, out.as_mut_ptr(), 10);
        assert_eq!(status, FRAUD_NULL_PARAMETER);
        let status = fraud_model_predict_batch(handle.0, rows.as_ptr(), 1, 8, null_mut(), 10);
        assert_eq!(status, FRAUD_NULL_PARAMETER);
        let status = fraud_model_predict_batch(null(), rows.as_ptr(), 1, 8, out.as_mut_ptr(), 10);
        assert_eq!(status, FRAUD_NULL_PARAMETER);
        let status = fraud_model_predict_batch(
            handle.0,
            rows.as_ptr(),
            usize::MAX / 4,
            8,
            out.as_mut_ptr(),
            usize::MAX,
        );
        assert_eq!(status, FRAUD_INVALID_ARGUMENT);
        let misaligned = out.as_mut_ptr().cast::<u8>().add(1).cast::<f64>();
        let status = fraud_model_predict_batch(handle.0, rows.as_ptr(), 1, 8, misaligned, 1);
        assert_eq!(status, FRAUD_INVALID_ARGUMENT);
        assert!(last_error().contains("not aligned"), "{}", last_error());
    }
}

#[test]
fn one_handle_serves_many_threads() {
    let handle = Handle::load();
    let expected = predict_json(&handle, DOCUMENTED);
    // Raw pointers are not Send; the address is, and the handle outlives the scope.
    let address = handle.0 as usize;
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..200 {
                    let got = predict_json_with(address as *const FraudModel, DOCUMENTED);
                    assert_eq!(got, expected);
                }
            });
        }
    });
}

/// A transaction with every risk signal, so that its explanation has reasons.
const RISKY: &str = r#"{"amount":4800.0,"transaction_hour":3,"merchant_category":"Electronics","foreign_transaction":1,"location_mismatch":1,"device_trust_score":8,"velocity_last_24h":14,"cardholder_age":22}"#;

/// A pointer no call returns, to see that failures leave `out_json` alone.
fn sentinel_string() -> *mut c_char {
    std::ptr::dangling_mut()
}

/// Explains `body` with `fraud_model_explain_json`; the JSON text on success.
fn explain_json(handle: &Handle, body: &str) -> (FraudStatus, Option<String>) {
    let body = CString::new(body).expect("no NUL");
    let mut out = sentinel_string();
    // SAFETY: a live handle, a C string and a valid out-pointer.
    let status = unsafe { fraud_model_explain_json(handle.0, body.as_ptr(), &mut out) };
    if status != FRAUD_OK {
        assert_eq!(out, sentinel_string(), "failure wrote out_json");
        return (status, None);
    }
    assert_ne!(out, sentinel_string());
    // SAFETY: on success `out` is a NUL-terminated string the caller owns.
    let text = unsafe { CStr::from_ptr(out) }
        .to_str()
        .expect("UTF-8")
        .to_owned();
    // SAFETY: freed once, unmodified.
    unsafe { fraud_string_free(out) };
    (status, Some(text))
}

/// Checks that `text` is the engine's explanation of `body`, number for number.
fn assert_explains(text: &str, body: &str) -> serde_json::Value {
    let engine = engine();
    let expected = engine.explain(&json_map(body)).expect("explain");
    let got: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
    let object = got.as_object().expect("an object");
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    // The HTTP API's explained body, model_version included (one engine type).
    let mut wanted = [
        "is_fraud",
        "fraud_probability",
        "risk_level",
        "model_version",
        "threshold",
        "base_value",
        "contributions",
        "reasons",
        "warnings",
    ];
    wanted.sort_unstable();
    assert_eq!(keys, wanted, "{text}");
    // Keys come in the documented order, contributions in feature order.
    let positions = |names: &[&str]| -> Vec<usize> {
        names
            .iter()
            .map(|n| text.find(&format!("\"{n}\":")).expect("key"))
            .collect()
    };
    let order = positions(&[
        "is_fraud",
        "fraud_probability",
        "risk_level",
        "model_version",
        "threshold",
        "warnings",
        "reasons",
        "contributions",
        "base_value",
    ]);
    assert!(order.is_sorted(), "{text}");
    let contributions_at = text.find("\"contributions\":").expect("contributions");
    let features = engine.feature_names();
    let feature_order: Vec<usize> = features
        .iter()
        .map(|n| {
            contributions_at
                + text[contributions_at..]
                    .find(&format!("\"{n}\":"))
                    .expect("n")
        })
        .collect();
    assert!(feature_order.is_sorted(), "{text}");

    // serde_json's own parser may be 1 ulp off; the numbers are read with
    // Rust's exact one (as strtod reads them in C).
    let number = |key: &str| json_number(text, 0, key);
    let prediction = &expected.prediction;
    assert_eq!(got["is_fraud"], u8::from(prediction.is_fraud));
    assert_eq!(
        number("fraud_probability").to_bits(),
        prediction.fraud_probability.to_bits()
    );
    assert_eq!(got["risk_level"], prediction.risk_level.as_str());
    assert_eq!(number("threshold").to_bits(), engine.threshold().to_bits());
    let base_value = number("base_value");
    assert_eq!(
        base_value.to_bits(),
        expected.explanation.base_value.to_bits()
    );
    let mut sum = base_value;
    for (name, want) in features.iter().zip(&expected.explanation.contributions) {
        let c = json_number(text, contributions_at, name);
        assert_eq!(c.to_bits(), want.to_bits(), "{name}");
        sum += c;
    }
    assert!(
        (sum - prediction.fraud_probability).abs() <= 1e-9,
        "local accuracy: {sum} vs {}",
        prediction.fraud_probability
    );
    // Shortest round-trip formatting: equal text is equal doubles.
    let reasons = serde_json::to_string(&expected.reasons).expect("reasons");
    assert!(text.contains(&format!("\"reasons\":{reasons},")), "{text}");
    let warnings: Vec<(&str, &str)> = got["warnings"]
        .as_array()
        .expect("an array")
        .iter()
        .map(|w| {
            (
                w["field"].as_str().expect("field"),
                w["message"].as_str().expect("message"),
            )
        })
        .collect();
    let expected_warnings: Vec<(&str, &str)> = prediction
        .warnings
        .iter()
        .map(|w| (w.field.as_str(), w.message.as_str()))
        .collect();
    assert_eq!(warnings, expected_warnings);
    got
}

#[test]
fn explain_json_is_the_engines_explanation() {
    let handle = Handle::load();
    let (status, text) = explain_json(&handle, DOCUMENTED);
    assert_eq!(status, FRAUD_OK, "{}", last_error());
    let text = text.expect("text");
    assert_explains(&text, DOCUMENTED);
    let (_, prediction) = predict_json(&handle, DOCUMENTED);
    assert_eq!(
        json_number(&text, 0, "fraud_probability").to_bits(),
        prediction.fraud_probability.to_bits()
    );

    let (status, text) = explain_json(&handle, RISKY);
    assert_eq!(status, FRAUD_OK, "{}", last_error());
    let got = assert_explains(&text.expect("text"), RISKY);
    let reasons = got["reasons"].as_array().expect("reasons");
    assert!(
        !reasons.is_empty(),
        "a risky transaction has reasons: {got}"
    );
    assert!(reasons[0]["text"]
        .as_str()
        .is_some_and(|t| t.ends_with("raised the risk")));

    // An unseen category is explained with its warning; `explain` and other
    // non-feature members of an HTTP body are ignored.
    let unseen = DOCUMENTED
        .replace("Electronics", "Casino")
        .replace('}', r#","explain":true,"transaction_id":"t-1"}"#);
    let (status, text) = explain_json(&handle, &unseen);
    assert_eq!(status, FRAUD_OK, "{}", last_error());
    let got = assert_explains(&text.expect("text"), &unseen);
    assert_eq!(got["warnings"][0]["field"], "merchant_category");
}

#[test]
fn explain_json_with_a_length_needs_no_terminator() {
    let handle = Handle::load();
    let padded = format!("{DOCUMENTED}garbage after the body");
    let mut out = sentinel_string();
    // SAFETY: a live handle, `DOCUMENTED.len()` readable bytes, valid out.
    let status = unsafe {
        fraud_model_explain_json_len(handle.0, padded.as_ptr().cast(), DOCUMENTED.len(), &mut out)
    };
    assert_eq!(status, FRAUD_OK, "{}", last_error());
    // SAFETY: a NUL-terminated string we own; freed once.
    let text = unsafe {
        let text = CStr::from_ptr(out).to_str().expect("UTF-8").to_owned();
        fraud_string_free(out);
        text
    };
    assert_eq!(Some(text), explain_json(&handle, DOCUMENTED).1);
    let mut out = sentinel_string();
    // SAFETY: as above, with a zero length and a NULL body.
    unsafe {
        let status = fraud_model_explain_json_len(handle.0, padded.as_ptr().cast(), 0, &mut out);
        assert_eq!(status, FRAUD_INVALID_JSON);
        let status = fraud_model_explain_json_len(handle.0, null(), 0, &mut out);
        assert_eq!(status, FRAUD_NULL_PARAMETER);
        let status = fraud_model_explain_json_len(handle.0, padded.as_ptr().cast(), 3, null_mut());
        assert_eq!(status, FRAUD_NULL_PARAMETER);
    }
    assert_eq!(out, sentinel_string());
}

#[test]
fn bad_explain_json_calls_give_a_status_and_leave_out_alone() {
    let handle = Handle::load();
    for (body, status, message) in [
        ("", FRAUD_INVALID_JSON, "not a JSON object"),
        ("{", FRAUD_INVALID_JSON, "ends early"),
        ("[1, 2]", FRAUD_INVALID_JSON, "not a JSON object"),
        ("{}", FRAUD_INVALID_INPUT, "`amount`: missing field"),
        (
            &DOCUMENTED.replace("14", "25"),
            FRAUD_INVALID_INPUT,
            "`transaction_hour`",
        ),
    ] {
        assert_eq!(explain_json(&handle, body), (status, None), "{body}");
        assert!(
            last_error().starts_with("fraud_model_explain_json: ")
                && last_error().contains(message),
            "{body}: {}",
            last_error()
        );
    }
    let json = CString::new(DOCUMENTED).expect("c");
    let mut out = sentinel_string();
    // SAFETY: NULL or valid pointers; freeing NULL is documented as a no-op.
    unsafe {
        assert_eq!(
            fraud_model_explain_json(null(), json.as_ptr(), &mut out),
            FRAUD_NULL_PARAMETER
        );
        assert!(last_error().contains("`model` is NULL"), "{}", last_error());
        assert_eq!(
            fraud_model_explain_json(handle.0, null(), &mut out),
            FRAUD_NULL_PARAMETER
        );
        assert_eq!(
            fraud_model_explain_json(handle.0, json.as_ptr(), null_mut()),
            FRAUD_NULL_PARAMETER
        );
        assert!(
            last_error().contains("`out_json` is NULL"),
            "{}",
            last_error()
        );
        fraud_string_free(null_mut());
    }
    assert_eq!(out, sentinel_string());
}

/// Explains a typed row into a buffer of `len` values pre-filled with -7.
fn explain_row(handle: &Handle, row: &[f64], len: usize) -> (FraudStatus, Vec<f64>, f64) {
    let mut contributions = vec![-7.0; len];
    let mut base_value = -7.0;
    // SAFETY: a live handle, `row.len()` readable and `len` writable doubles.
    let status = unsafe {
        fraud_model_explain_row(
            handle.0,
            row.as_ptr(),
            row.len(),
            contributions.as_mut_ptr(),
            len,
            &mut base_value,
        )
    };
    (status, contributions, base_value)
}

#[test]
fn explain_row_is_the_engines_explanation() {
    let handle = Handle::load();
    let engine = engine();
    let rows = synthetic_rows(&handle, 50);
    for row in rows
        .chunks_exact(8)
        .chain([documented_row(&handle).as_slice()])
    {
        let (status, contributions, base_value) = explain_row(&handle, row, 8);
        assert_eq!(status, FRAUD_OK, "{}", last_error());
        let expected = engine.explain(&Encoded(row)).expect("explain");
        assert_eq!(
            base_value.to_bits(),
            expected.explanation.base_value.to_bits()
        );
        assert_eq!(base_value.to_bits(), engine.base_value().to_bits());
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&contributions),
            bits(&expected.explanation.contributions)
        );
        let probability = engine
            .predict(&Encoded(row))
            .expect("score")
            .fraud_probability;
        let sum: f64 = base_value + contributions.iter().sum::<f64>();
        assert!((sum - probability).abs() <= 1e-9, "{sum} vs {probability}");
    }

    // The typed row and the JSON body explain the same transaction alike.
    let (_, contributions, base_value) = explain_row(&handle, &documented_row(&handle), 8);
    let (_, text) = explain_json(&handle, DOCUMENTED);
    let text = text.expect("text");
    assert_eq!(json_number(&text, 0, "base_value"), base_value);
    let at = text.find("\"contributions\":").expect("contributions");
    for (name, c) in engine.feature_names().iter().zip(&contributions) {
        assert_eq!(
            json_number(&text, at, name).to_bits(),
            c.to_bits(),
            "{name}"
        );
    }

    // A missing value (NaN) of a required feature is refused, as by the engine.
    let mut missing = documented_row(&handle);
    missing[5] = f64::NAN;
    let (status, _, _) = explain_row(&handle, &missing, 8);
    assert_eq!(status, FRAUD_INVALID_INPUT);
    assert!(engine.explain(&Encoded(&missing)).is_err());
}

#[test]
fn bad_explain_row_calls_give_a_status_and_write_nothing() {
    let handle = Handle::load();
    let row = documented_row(&handle);
    let untouched = |(status, contributions, base_value): (FraudStatus, Vec<f64>, f64)| {
        assert!(
            contributions.iter().all(|&c| c == -7.0) && base_value == -7.0,
            "{status:?} wrote its out-parameters"
        );
        status
    };
    for len in [0, 7, 9] {
        assert_eq!(
            untouched(explain_row(&handle, &row, len)),
            FRAUD_INVALID_ARGUMENT
        );
        assert!(
            last_error().contains(&format!(
                "`contributions` holds {len} values; the model has 8"
            )),
            "{}",
            last_error()
        );
    }
    assert_eq!(
        untouched(explain_row(&handle, &row[..7], 8)),
        FRAUD_INVALID_INPUT
    );
    assert!(
        last_error().contains("7 values for 8 features"),
        "{}",
        last_error()
    );
    assert_eq!(untouched(explain_row(&handle, &[], 8)), FRAUD_INVALID_INPUT);
    let mut bad = row.clone();
    bad[1] = 24.0;
    assert_eq!(
        untouched(explain_row(&handle, &bad, 8)),
        FRAUD_INVALID_INPUT
    );
    assert!(
        last_error().contains("transaction_hour"),
        "{}",
        last_error()
    );
    bad[1] = 14.0;
    bad[2] = 1000.0;
    assert_eq!(
        untouched(explain_row(&handle, &bad, 8)),
        FRAUD_INVALID_INPUT
    );

    let mut contributions = [-7.0; 8];
    let mut base_value = -7.0;
    let out = contributions.as_mut_ptr();
    // SAFETY: NULL or valid pointers; the misaligned buffer is refused
    // before anything is written.
    unsafe {
        let status = fraud_model_explain_row(null(), row.as_ptr(), 8, out, 8, &mut base_value);
        assert_eq!(status, FRAUD_NULL_PARAMETER);
        let status = fraud_model_explain_row(handle.0, null(), 8, out, 8, &mut base_value);
        assert_eq!(status, FRAUD_NULL_PARAMETER);
        let status =
            fraud_model_explain_row(handle.0, row.as_ptr(), 8, null_mut(), 8, &mut base_value);
        assert_eq!(status, FRAUD_NULL_PARAMETER);
        assert!(
            last_error().contains("`contributions` is NULL"),
            "{}",
            last_error()
        );
        let status = fraud_model_explain_row(handle.0, row.as_ptr(), 8, out, 8, null_mut());
        assert_eq!(status, FRAUD_NULL_PARAMETER);
        assert!(
            last_error().contains("`base_value` is NULL"),
            "{}",
            last_error()
        );
        let mut bytes = [0u8; 10 * std::mem::size_of::<f64>()];
        let misaligned = bytes.as_mut_ptr().add(1).cast::<f64>();
        let status =
            fraud_model_explain_row(handle.0, row.as_ptr(), 8, misaligned, 8, &mut base_value);
        assert_eq!(status, FRAUD_INVALID_ARGUMENT);
        assert!(last_error().contains("not aligned"), "{}", last_error());
        assert!(bytes.iter().all(|&b| b == 0));
    }
    assert!(contributions.iter().all(|&c| c == -7.0) && base_value == -7.0);
}

#[test]
fn one_handle_explains_from_many_threads() {
    let handle = Handle::load();
    let expected = explain_json(&handle, RISKY);
    let address = handle.0 as usize;
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let handle = std::mem::ManuallyDrop::new(Handle(address as *mut FraudModel));
                for _ in 0..100 {
                    assert_eq!(explain_json(&handle, RISKY), expected);
                }
            });
        }
    });
}

//! The exports called from Rust as C would call them: every bad call gives
//! its status and message and leaves out-parameters untouched; good calls
//! give exactly the engine's answers.

use std::ffi::{c_char, CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::OnceLock;

use fraud_engine::{synth, train, Model, TrainParams};

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
        let model = train(&synth::generate(3_000, 11), &params, Some(1), None).expect("train");
        model.to_bytes()
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
    let path = CString::new("/nonexistent/dir/model.fraud").expect("c");
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
            last_error().contains("/nonexistent/dir/model.fraud"),
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
fn category_codes() {
    let handle = Handle::load();
    let engine = engine();
    let (status, code, known) = category_code(&handle, "merchant_category", "Grocery");
    assert_eq!((status, known), (FRAUD_OK, 1));
    assert_eq!(
        Some(code),
        engine.category_code("merchant_category", "Grocery")
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
    assert_eq!(Some(code), engine.category_code("merchant_category", "Gas"));
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
        ("{", FRAUD_INVALID_JSON, "EOF"),
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
        FraudPrediction::from(engine().predict_encoded(&row).expect("score"))
    );
    assert_eq!(got, predict_json(&handle, DOCUMENTED).1);

    let mut missing = row.clone();
    missing[5] = f64::NAN;
    let (status, got) = predict_row(&handle, &missing);
    assert_eq!(status, FRAUD_OK);
    assert_eq!(
        got.fraud_probability,
        engine().predict_proba_encoded(&missing).expect("score")
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
        assert_eq!(p, engine.predict_proba_encoded(row).expect("score"));
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
    assert!(last_error().contains("row 3"), "{}", last_error());
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

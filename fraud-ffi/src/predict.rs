//! Scoring: a JSON request body, a typed row, a batch of rows.

use std::ffi::{c_char, CStr};

use fraud_engine::{Encoded, Prediction, RiskLevel, Rows};

use crate::model::FraudModel;
use crate::panic;
use crate::ptr::{self, Out, OutBuffer};
use crate::status::{Failure, FraudStatus};

/// Coarse risk for people, from the model's risk bands.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FraudRiskLevel {
    /// Below the medium band.
    FRAUD_RISK_LOW = 0,
    /// In the medium band.
    FRAUD_RISK_MEDIUM = 1,
    /// In the high band (by default: at or above the decision threshold).
    FRAUD_RISK_HIGH = 2,
}

/// The result of scoring one transaction. Plain data, owned by the caller
/// (usually on its stack); nothing in it needs freeing.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FraudPrediction {
    /// Probability that the transaction is fraud, in [0, 1]: the mean over
    /// the trees of the fraud fraction of the leaf reached.
    pub fraud_probability: f64,
    /// 1 when `fraud_probability` is at least the model's threshold, else 0.
    pub is_fraud: i32,
    /// The probability's risk band.
    pub risk_level: FraudRiskLevel,
    /// How many fields were scored with a warning: a category never seen in
    /// training (scored through the model's unknown bucket, or given as the
    /// unknown bucket's code in a typed row), or a number outside the range
    /// seen in training. 0 in the common case.
    pub warnings: u32,
}

impl FraudRiskLevel {
    /// Every level, in value order (the value is the index).
    const ALL: [FraudRiskLevel; 3] = [
        FraudRiskLevel::FRAUD_RISK_LOW,
        FraudRiskLevel::FRAUD_RISK_MEDIUM,
        FraudRiskLevel::FRAUD_RISK_HIGH,
    ];

    fn from_engine(level: RiskLevel) -> Self {
        match level {
            RiskLevel::Low => FraudRiskLevel::FRAUD_RISK_LOW,
            RiskLevel::Medium => FraudRiskLevel::FRAUD_RISK_MEDIUM,
            RiskLevel::High => FraudRiskLevel::FRAUD_RISK_HIGH,
        }
    }

    /// The engine's name for the level, NUL-terminated.
    fn name(self) -> &'static CStr {
        match self {
            FraudRiskLevel::FRAUD_RISK_LOW => c"LOW",
            FraudRiskLevel::FRAUD_RISK_MEDIUM => c"MEDIUM",
            FraudRiskLevel::FRAUD_RISK_HIGH => c"HIGH",
        }
    }
}

/// The name of a risk level as the HTTP API spells it: `"LOW"`, `"MEDIUM"`
/// or `"HIGH"`; `"UNKNOWN"` for a value that is no `FraudRiskLevel`. A
/// static NUL-terminated string: do not free. Thread-safe; never fails.
#[no_mangle]
pub extern "C" fn fraud_risk_level_name(level: u32) -> *const c_char {
    panic::catch_or(c"UNKNOWN".as_ptr(), || {
        usize::try_from(level)
            .ok()
            .and_then(|i| FraudRiskLevel::ALL.get(i))
            .map_or(c"UNKNOWN", |l| l.name())
            .as_ptr()
    })
}

impl From<Prediction> for FraudPrediction {
    fn from(p: Prediction) -> Self {
        FraudPrediction {
            fraud_probability: p.fraud_probability,
            is_fraud: i32::from(p.is_fraud),
            risk_level: FraudRiskLevel::from_engine(p.risk_level),
            warnings: u32::try_from(p.warnings.len()).unwrap_or(u32::MAX),
        }
    }
}

/// A request body as the JSON object of its fields, borrowed from the text
/// (no allocation per member: this is most of what a JSON call costs).
pub(crate) fn parse_body(json: &[u8]) -> Result<fraud_engine::json::Body<'_>, Failure> {
    fraud_engine::json::Body::parse(json)
        .map_err(|e| fraud_engine::json::BodyError::NotAnObject(e).into())
}

fn predict_json_bytes(model: &FraudModel, json: &[u8]) -> Result<FraudPrediction, Failure> {
    Ok(model.model().predict_body(json)?.into())
}

/// Scores one transaction given as the JSON body of `POST /api/predict`: a
/// NUL-terminated JSON object with one member per model feature, e.g.
/// `{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics",
/// "foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,
/// "velocity_last_24h":3,"cardholder_age":35}`. Other members are ignored;
/// `null` means missing. On success writes `*out`; on failure leaves it
/// untouched. Thread-safe: any number of threads may score with one model.
///
/// Statuses: `FRAUD_NULL_PARAMETER`, `FRAUD_INVALID_JSON` (not JSON, or not
/// an object), `FRAUD_INVALID_INPUT` (a field missing, of the wrong type or
/// out of range; `fraud_last_error()` names every bad field).
///
/// # Safety
/// `model` must be NULL or a live handle; `json` NULL or a NUL-terminated
/// string; `out` NULL or valid for writing a `FraudPrediction`.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_predict_json(
    model: *const FraudModel,
    json: *const c_char,
    out: *mut FraudPrediction,
) -> FraudStatus {
    panic::status("fraud_model_predict_json", || {
        // SAFETY: NULL or a live handle and a NUL-terminated string (caller
        // contract).
        let (model, json) = unsafe { (ptr::reference(model, "model")?, ptr::c_str(json, "json")?) };
        let out = Out::new(out, "out")?;
        let prediction = predict_json_bytes(model, json.to_bytes())?;
        // SAFETY: `out` is valid for a write (caller contract).
        unsafe { out.write(prediction) };
        Ok(())
    })
}

/// As `fraud_model_predict_json`, for a body given as `len` bytes that need
/// not be NUL-terminated (as an HTTP server receives it). `len` 0 is an
/// empty body: `FRAUD_INVALID_JSON`.
///
/// # Safety
/// `model` must be NULL or a live handle; `json` NULL or `len` readable
/// bytes; `out` NULL or valid for writing a `FraudPrediction`.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_predict_json_len(
    model: *const FraudModel,
    json: *const c_char,
    len: usize,
    out: *mut FraudPrediction,
) -> FraudStatus {
    panic::status("fraud_model_predict_json_len", || {
        // SAFETY: NULL or a live handle and `len` readable bytes (caller
        // contract).
        let (model, json) = unsafe {
            (
                ptr::reference(model, "model")?,
                ptr::slice(json.cast::<u8>(), len, "json")?,
            )
        };
        let out = Out::new(out, "out")?;
        let prediction = predict_json_bytes(model, json)?;
        // SAFETY: `out` is valid for a write (caller contract).
        unsafe { out.write(prediction) };
        Ok(())
    })
}

/// Scores one transaction given as `n_values` numbers in the model's feature
/// order (see `fraud_model_feature_name`): numbers as they are, flags as 0 or
/// 1, categories by their code from `fraud_model_category_code`, NaN for a
/// missing value (refused for a required feature, see
/// `fraud_model_feature_required`). The fastest single-row call: no parsing,
/// no allocation. On success writes `*out`; on failure leaves it untouched.
/// Thread-safe.
///
/// Statuses: `FRAUD_NULL_PARAMETER`, `FRAUD_INVALID_INPUT` (`n_values` is
/// not the feature count, a value out of its range, a missing value of a
/// required feature, a category code that does not exist).
///
/// # Safety
/// `model` must be NULL or a live handle; `values` NULL or `n_values`
/// readable doubles; `out` NULL or valid for writing a `FraudPrediction`.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_predict_row(
    model: *const FraudModel,
    values: *const f64,
    n_values: usize,
    out: *mut FraudPrediction,
) -> FraudStatus {
    panic::status("fraud_model_predict_row", || {
        // SAFETY: NULL or a live handle and `n_values` readable doubles
        // (caller contract).
        let (model, values) = unsafe {
            (
                ptr::reference(model, "model")?,
                ptr::slice(values, n_values, "values")?,
            )
        };
        let out = Out::new(out, "out")?;
        let prediction = model.model().predict(&Encoded(values))?;
        // SAFETY: `out` is valid for a write (caller contract).
        unsafe { out.write(prediction.into()) };
        Ok(())
    })
}

/// Scores `n_rows` transactions given as a row-major matrix of `n_rows` x
/// `n_features` doubles (each row as for `fraud_model_predict_row`), writing
/// the fraud probability of row `i` to `probabilities[i]`, a caller-owned
/// buffer of `probabilities_len` doubles (at least `n_rows`; only the first
/// `n_rows` are written). Rows are scored on a pool of worker threads the
/// library starts on first use (one per core; the `RAYON_NUM_THREADS`
/// environment variable sets another count). One invalid value fails the
/// whole call, naming its row and feature, and then nothing is written.
/// `n_rows` 0 succeeds and writes nothing. Thread-safe.
///
/// Statuses: `FRAUD_NULL_PARAMETER`, `FRAUD_INVALID_INPUT` (`n_features` is
/// not the model's feature count, or a bad value), `FRAUD_INVALID_ARGUMENT`
/// (`probabilities_len` below `n_rows`, or a matrix too large to address).
///
/// # Safety
/// `model` must be NULL or a live handle; `rows` NULL or `n_rows *
/// n_features` readable doubles; `probabilities` NULL or `probabilities_len`
/// writable doubles (which need not be initialised, and may be `rows`
/// itself) that no other thread touches during the call.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_predict_batch(
    model: *const FraudModel,
    rows: *const f64,
    n_rows: usize,
    n_features: usize,
    probabilities: *mut f64,
    probabilities_len: usize,
) -> FraudStatus {
    panic::status("fraud_model_predict_batch", || {
        // SAFETY: NULL or a live handle (caller contract).
        let model = unsafe { ptr::reference(model, "model") }?;
        ptr::non_null(rows, "rows")?;
        let probabilities = OutBuffer::new(probabilities, probabilities_len, "probabilities")?;
        let expected = model.model().schema().features.len();
        if n_features != expected {
            return Err(Failure::new(
                FraudStatus::FRAUD_INVALID_INPUT,
                format!("rows have {n_features} features; the model has {expected}"),
            ));
        }
        let n_values = n_rows.checked_mul(n_features).ok_or_else(|| {
            Failure::argument(format!(
                "{n_rows} rows of {n_features} features is too large"
            ))
        })?;
        if probabilities_len < n_rows {
            return Err(Failure::argument(format!(
                "`probabilities` holds {probabilities_len} values for {n_rows} rows"
            )));
        }
        // SAFETY: NULL or `n_values` readable doubles (caller contract).
        let rows = unsafe { ptr::slice(rows, n_values, "rows") }?;
        // Scored into Rust memory first, so the caller's buffer is written
        // only on success and may be uninitialised.
        let mut scores = vec![0.0; n_rows];
        if n_rows > 0 {
            model
                .model()
                .predict_proba_many(Rows::Encoded(rows), &mut scores)?;
        }
        // SAFETY: `probabilities` holds `probabilities_len >= n_rows`
        // writable doubles that no other thread touches (caller contract).
        unsafe { probabilities.fill(&scores) }?;
        Ok(())
    })
}

//! Explanations: why the model scored a transaction as it did (exact
//! TreeSHAP contributions and reason codes), as the HTTP API's JSON or as a
//! typed buffer of contributions.

use std::ffi::{c_char, CString};

use fraud_engine::{Encoded, Explained};

use crate::model::FraudModel;
use crate::panic;
use crate::ptr::{self, Out, OutBuffer};
use crate::status::{Failure, FraudStatus};

/// The JSON text of an explanation (the engine's one output shape, as the
/// HTTP API sends it), as a C string the caller frees with
/// `fraud_string_free`.
fn explained_json(model: &FraudModel, explained: &Explained) -> Result<CString, Failure> {
    let output = model.model().explained_output(explained);
    let text = serde_json::to_vec(&output).map_err(|e| {
        Failure::new(
            FraudStatus::FRAUD_OTHER_ERROR,
            format!("the explanation cannot be written as JSON: {e}"),
        )
    })?;
    // serde_json escapes control characters, so its output holds no NUL;
    // should that ever change, the caller gets a status, not a cut string.
    CString::new(text).map_err(|_| {
        Failure::new(
            FraudStatus::FRAUD_OTHER_ERROR,
            "the explanation's JSON contains a NUL byte",
        )
    })
}

fn explain_json_bytes(model: &FraudModel, json: &[u8]) -> Result<CString, Failure> {
    let fields = crate::predict::parse_body(json)?;
    let explained = model.model().explain(&fields)?;
    explained_json(model, &explained)
}

/// Scores and explains one transaction given as the JSON body of
/// `POST /api/predict` (a NUL-terminated JSON object, as for
/// `fraud_model_predict_json`; an `"explain"` member, like every member that
/// is not a feature, is ignored). On success stores in `*out_json` a new
/// NUL-terminated JSON object, the body the HTTP API answers with
/// `"explain": true` (the same keys, from the same engine type), in this
/// order:
///
/// ```text
/// {"is_fraud":0,"fraud_probability":0.12,"risk_level":"LOW",
///  "model_version":"3f2a9c1e","threshold":0.5,
///  "warnings":[{"field":"merchant_category","message":"..."}],
///  "reasons":[{"feature":"amount","value":250,"contribution":0.01,
///              "text":"amount = 250 raised the risk"}],
///  "contributions":{"amount":0.01,...},"base_value":0.08}
/// ```
///
/// `contributions` has one member per model feature, in the model's feature
/// order: the exact TreeSHAP value of the feature (path-dependent, as
/// `shap.TreeExplainer` computes it), so that `base_value` plus the sum of
/// the contributions is `fraud_probability` (to 1e-9). `reasons` lists up
/// to three features that raised the risk most, strongest first (empty when
/// none did). Numbers are written so that reading them back gives the same
/// doubles. The string is the caller's: release it with `fraud_string_free`
/// (not `free`), and do not shorten it before then. On failure `*out_json`
/// is left untouched. Thread-safe.
///
/// Statuses: `FRAUD_NULL_PARAMETER`, `FRAUD_INVALID_JSON` (not JSON, or not
/// an object), `FRAUD_INVALID_INPUT` (a field missing, of the wrong type or
/// out of range; `fraud_last_error()` names every bad field).
///
/// # Safety
/// `model` must be NULL or a live handle; `json` NULL or a NUL-terminated
/// string; `out_json` NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_explain_json(
    model: *const FraudModel,
    json: *const c_char,
    out_json: *mut *mut c_char,
) -> FraudStatus {
    panic::status("fraud_model_explain_json", || {
        // SAFETY: NULL or a live handle and a NUL-terminated string (caller
        // contract).
        let (model, json) = unsafe { (ptr::reference(model, "model")?, ptr::c_str(json, "json")?) };
        let out_json = Out::new(out_json, "out_json")?;
        let text = explain_json_bytes(model, json.to_bytes())?;
        // SAFETY: `out_json` is valid for a write (caller contract). The
        // string is released by `fraud_string_free`, which takes it back.
        unsafe { out_json.write(text.into_raw()) };
        Ok(())
    })
}

/// As `fraud_model_explain_json`, for a body given as `len` bytes that need
/// not be NUL-terminated. `len` 0 is an empty body: `FRAUD_INVALID_JSON`.
///
/// # Safety
/// `model` must be NULL or a live handle; `json` NULL or `len` readable
/// bytes; `out_json` NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_explain_json_len(
    model: *const FraudModel,
    json: *const c_char,
    len: usize,
    out_json: *mut *mut c_char,
) -> FraudStatus {
    panic::status("fraud_model_explain_json_len", || {
        // SAFETY: NULL or a live handle and `len` readable bytes (caller
        // contract).
        let (model, json) = unsafe {
            (
                ptr::reference(model, "model")?,
                ptr::slice(json.cast::<u8>(), len, "json")?,
            )
        };
        let out_json = Out::new(out_json, "out_json")?;
        let text = explain_json_bytes(model, json)?;
        // SAFETY: `out_json` is valid for a write (caller contract). The
        // string is released by `fraud_string_free`, which takes it back.
        unsafe { out_json.write(text.into_raw()) };
        Ok(())
    })
}

/// Releases a string the library gave the caller to own (today: the JSON
/// of `fraud_model_explain_json` and `fraud_model_explain_json_len`). NULL
/// is a no-op. Freeing the same string twice, a string the library still
/// owns (`fraud_last_error`, a feature name, ...) or memory from `malloc` is
/// undefined behaviour, as with `free`. Thread-safe; never fails.
///
/// # Safety
/// `s` must be NULL or a string from one of the functions above, not freed
/// yet, whose length the caller has not changed.
#[no_mangle]
pub unsafe extern "C" fn fraud_string_free(s: *mut c_char) {
    panic::catch_or((), || {
        if !s.is_null() {
            // SAFETY: a non-NULL `s` came from `CString::into_raw` and is
            // freed once with its terminator where it was (caller contract),
            // so `from_raw` rebuilds the same allocation.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

/// Explains one transaction given as a typed row (`n_values` numbers in the
/// model's feature order, as for `fraud_model_predict_row`): writes the
/// contribution of feature `i` to `contributions[i]`, a caller-owned buffer
/// of `contributions_len` doubles that must equal the feature count, and the
/// model's base value to `*base_value`. `*base_value` plus the sum of the
/// contributions is the row's fraud probability (to 1e-9; the exact
/// probability is `fraud_model_predict_row`'s). No JSON and no strings; on
/// failure nothing is written. Thread-safe.
///
/// Statuses: `FRAUD_NULL_PARAMETER`, `FRAUD_INVALID_INPUT` (`n_values` is
/// not the feature count, a value out of its range, a category code that
/// does not exist), `FRAUD_INVALID_ARGUMENT` (`contributions_len` is not the
/// feature count, or a misaligned buffer).
///
/// # Safety
/// `model` must be NULL or a live handle; `values` NULL or `n_values`
/// readable doubles; `contributions` NULL or `contributions_len` writable
/// doubles (which need not be initialised) that no other thread touches
/// during the call; `base_value` NULL or valid for writing a `double`.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_explain_row(
    model: *const FraudModel,
    values: *const f64,
    n_values: usize,
    contributions: *mut f64,
    contributions_len: usize,
    base_value: *mut f64,
) -> FraudStatus {
    panic::status("fraud_model_explain_row", || {
        // SAFETY: NULL or a live handle and `n_values` readable doubles
        // (caller contract).
        let (model, values) = unsafe {
            (
                ptr::reference(model, "model")?,
                ptr::slice(values, n_values, "values")?,
            )
        };
        let contributions = OutBuffer::new(contributions, contributions_len, "contributions")?;
        let base_value = Out::new(base_value, "base_value")?;
        let n_features = model.feature_names().len();
        if contributions_len != n_features {
            return Err(Failure::argument(format!(
                "`contributions` holds {contributions_len} values; the model has {n_features} \
                 features"
            )));
        }
        // Computed into our own buffer so the caller's is written only on success.
        let explained = model.model().explain(&Encoded(values))?;
        // SAFETY: `contributions` holds `contributions_len` writable doubles
        // that no other thread touches (caller contract); exactly that many
        // contributions are copied (checked above).
        unsafe { contributions.fill(&explained.explanation.contributions) }?;
        // SAFETY: `base_value` is valid for a write (caller contract).
        unsafe { base_value.write(model.model().base_value()) };
        Ok(())
    })
}

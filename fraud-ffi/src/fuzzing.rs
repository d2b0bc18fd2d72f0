//! The C ABI's JSON entry points driven from safe Rust, for the fuzz target
//! `c_abi_json` (feature `fuzzing`, off in every normal build). The calls
//! go through the exported functions exactly as a C caller makes them, and
//! each call's contract is checked: no caught panic, and a success writes a
//! sane answer.

use std::ffi::{c_char, CStr, CString};
use std::ptr::null_mut;

use crate::{
    fraud_last_error, fraud_model_explain_json, fraud_model_explain_json_len, fraud_model_free,
    fraud_model_load_bytes, fraud_model_predict_json, fraud_model_predict_json_len,
    fraud_string_free, FraudModel, FraudPrediction, FraudRiskLevel, FraudStatus,
};

/// A model handle from `fraud_model_load_bytes`, freed on drop.
pub struct Handle(*mut FraudModel);

impl Handle {
    /// Loads a model file's bytes through the C ABI.
    pub fn load(bytes: &[u8]) -> Result<Handle, String> {
        let mut out = null_mut();
        // SAFETY: `bytes` is readable for its length; `out` is a valid place
        // for one pointer.
        let status = unsafe { fraud_model_load_bytes(bytes.as_ptr(), bytes.len(), &mut out) };
        if status != FraudStatus::FRAUD_OK || out.is_null() {
            return Err(format!(
                "fraud_model_load_bytes: {status:?}: {}",
                last_error()
            ));
        }
        Ok(Handle(out))
    }

    /// Calls every JSON entry point with `json` (the `_len` forms always,
    /// the NUL-terminated forms when `json` has no NUL byte). `Err` names a
    /// broken contract: a caught panic, or an answer that cannot be right.
    pub fn json_calls(&self, json: &[u8]) -> Result<(), String> {
        let mut by_len = blank();
        // SAFETY: the handle is live; `json` is readable for its length;
        // `by_len` is a valid place for one prediction.
        let len_status = unsafe {
            fraud_model_predict_json_len(self.0, json.as_ptr().cast(), json.len(), &mut by_len)
        };
        check("fraud_model_predict_json_len", len_status, &by_len)?;
        let explained_len = self.explain_len(json)?;
        if let Ok(text) = CString::new(json) {
            let mut by_str = blank();
            // SAFETY: the handle is live; `text` is NUL-terminated; `by_str`
            // is a valid place for one prediction.
            let status = unsafe { fraud_model_predict_json(self.0, text.as_ptr(), &mut by_str) };
            check("fraud_model_predict_json", status, &by_str)?;
            if status != len_status || by_str != by_len {
                return Err(format!(
                    "the NUL-terminated and the length forms disagree: {status:?} {by_str:?} against {len_status:?} {by_len:?}"
                ));
            }
            let mut out: *mut c_char = null_mut();
            // SAFETY: as above; `out` is a valid place for one pointer.
            let status = unsafe { fraud_model_explain_json(self.0, text.as_ptr(), &mut out) };
            let explained = take_string("fraud_model_explain_json", status, out)?;
            if explained != explained_len {
                return Err("the two explain forms disagree".into());
            }
        }
        match (len_status, explained_len) {
            (FraudStatus::FRAUD_OK, Some(text)) => {
                let v: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| format!("the explanation is not JSON ({e}): {text}"))?;
                let p = v["fraud_probability"].as_f64();
                if p != Some(by_len.fraud_probability) {
                    return Err(format!(
                        "explained probability {p:?} is not the predicted {}",
                        by_len.fraud_probability
                    ));
                }
                Ok(())
            }
            (FraudStatus::FRAUD_OK, None) | (_, Some(_)) => Err(format!(
                "predict answered {len_status:?} but explain did not agree"
            )),
            (_, None) => Ok(()),
        }
    }

    fn explain_len(&self, json: &[u8]) -> Result<Option<String>, String> {
        let mut out: *mut c_char = null_mut();
        // SAFETY: the handle is live; `json` is readable for its length;
        // `out` is a valid place for one pointer.
        let status = unsafe {
            fraud_model_explain_json_len(self.0, json.as_ptr().cast(), json.len(), &mut out)
        };
        take_string("fraud_model_explain_json_len", status, out)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from `fraud_model_load_bytes` and is
        // freed once, here.
        unsafe { fraud_model_free(self.0) };
    }
}

fn blank() -> FraudPrediction {
    FraudPrediction {
        fraud_probability: -1.0,
        is_fraud: -1,
        risk_level: FraudRiskLevel::FRAUD_RISK_LOW,
        warnings: u32::MAX,
    }
}

fn last_error() -> String {
    // SAFETY: `fraud_last_error` returns a NUL-terminated string owned by
    // the library, valid until the next call on this thread.
    unsafe { CStr::from_ptr(fraud_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn check(call: &str, status: FraudStatus, p: &FraudPrediction) -> Result<(), String> {
    match status {
        FraudStatus::FRAUD_PANIC => Err(format!("{call} caught a panic: {}", last_error())),
        FraudStatus::FRAUD_OK => {
            if !(0.0..=1.0).contains(&p.fraud_probability) || !matches!(p.is_fraud, 0 | 1) {
                return Err(format!("{call} answered {p:?}"));
            }
            Ok(())
        }
        FraudStatus::FRAUD_INVALID_JSON | FraudStatus::FRAUD_INVALID_INPUT => {
            if *p != blank() {
                return Err(format!("{call} failed with {status:?} but wrote {p:?}"));
            }
            if last_error().is_empty() {
                return Err(format!("{call} failed with {status:?} and no message"));
            }
            Ok(())
        }
        other => Err(format!("{call}: unexpected {other:?}: {}", last_error())),
    }
}

fn take_string(
    call: &str,
    status: FraudStatus,
    out: *mut c_char,
) -> Result<Option<String>, String> {
    match status {
        FraudStatus::FRAUD_OK if !out.is_null() => {
            // SAFETY: on success `out` is a NUL-terminated string the caller
            // owns; it is read once and released once.
            let text = unsafe { CStr::from_ptr(out) }
                .to_string_lossy()
                .into_owned();
            // SAFETY: as above.
            unsafe { fraud_string_free(out) };
            Ok(Some(text))
        }
        FraudStatus::FRAUD_PANIC => Err(format!("{call} caught a panic: {}", last_error())),
        FraudStatus::FRAUD_INVALID_JSON | FraudStatus::FRAUD_INVALID_INPUT if out.is_null() => {
            Ok(None)
        }
        other => Err(format!("{call}: {other:?} with out = {out:?}")),
    }
}

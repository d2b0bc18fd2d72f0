//! # fraud-ffi
//!
//! The C ABI of the fraud engine: `libfraud_engine.so` and `libfraud_engine.a`
//! with the header `include/fraud_engine.h` (generated from this crate by
//! cbindgen, see `cbindgen.toml`). C and C++ programs load a model file and
//! score transactions in-process, as JSON request bodies, typed rows or
//! batches, and get exactly the probabilities the Rust engine gives, and
//! explain them (exact TreeSHAP contributions and reason codes).
//!
//! Conventions, the same for every function:
//! - fallible calls return a [`FraudStatus`]; on failure `fraud_last_error()`
//!   names what was wrong, and out-parameters are left untouched;
//! - every pointer is checked for NULL; buffers are `(pointer, length)` pairs;
//! - every body runs inside a panic boundary, so a bug becomes `FRAUD_PANIC`
//!   instead of aborting the host process;
//! - a model handle is immutable and may be used by many threads at once.
//!
//! The library's file name is `fraud_engine`, as C users expect, which is
//! also the engine crate's name: the two never meet in one `rustc`
//! invocation (this crate builds no rlib), and `doc = false` keeps `cargo doc`
//! from writing both to `target/doc/fraud_engine`. The C API's documentation
//! is the header itself and `docs/c-api.md`.

// The whole point of this crate is an `unsafe` boundary: raw pointers from C
// and `#[no_mangle]` exports. The workspace denies `unsafe_code`; here it is
// allowed, and every block must say why it is sound.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod explain;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod model;
mod panic;
mod predict;
mod ptr;
mod status;

use std::ffi::{c_char, CStr};

pub use explain::{
    fraud_model_explain_json, fraud_model_explain_json_len, fraud_model_explain_row,
    fraud_string_free,
};
pub use model::{
    fraud_model_category_code, fraud_model_clone, fraud_model_feature_count,
    fraud_model_feature_kind, fraud_model_feature_name, fraud_model_feature_required,
    fraud_model_free, fraud_model_load, fraud_model_load_bytes, fraud_model_threshold,
    FraudFeatureKind, FraudModel,
};
pub use panic::fraud_last_error;
pub use predict::{
    fraud_model_predict_batch, fraud_model_predict_json, fraud_model_predict_json_len,
    fraud_model_predict_row, fraud_risk_level_name, FraudPrediction, FraudRiskLevel,
};
pub use status::{fraud_status_name, FraudStatus};

/// The library version as a NUL-terminated string, e.g. `"0.1.0"`: the
/// version of the code actually linked, to compare with the header's
/// `FRAUD_ENGINE_VERSION`. Static: do not free. Thread-safe; never fails.
#[no_mangle]
pub extern "C" fn fraud_version() -> *const c_char {
    // Checked at compile time: a version never holds a NUL byte.
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("the crate version contains a NUL byte"),
        };
    panic::catch_or(VERSION.as_ptr(), || VERSION.as_ptr())
}

#[cfg(test)]
mod tests;

//! The model handle: loading, freeing and what a caller needs to know to
//! build rows (feature count, names, kinds, category codes).

use std::ffi::{c_char, CString};
use std::sync::Arc;

use fraud_engine::{FeatureKind, Model};

use crate::panic;
use crate::ptr::{self, Out};
use crate::status::{Failure, FraudStatus};

/// A loaded model. Opaque: create it with `fraud_model_load` or
/// `fraud_model_load_bytes`, release it with `fraud_model_free`.
///
/// A model is immutable once loaded, so one handle may be used by any number
/// of threads at once with no locking; only `fraud_model_free` must not race
/// with other calls on the same handle.
pub struct FraudModel {
    model: Arc<Model>,
    /// Feature names as C strings, made once so `fraud_model_feature_name`
    /// can hand out pointers without allocating; shared by clones.
    feature_names: Arc<[CString]>,
}

impl FraudModel {
    fn new(model: Model) -> Result<Self, Failure> {
        let feature_names = model
            .feature_names()
            .into_iter()
            .map(|name| {
                CString::new(name).map_err(|_| {
                    Failure::new(
                        FraudStatus::FRAUD_CORRUPT_MODEL,
                        format!("feature name {name:?} contains a NUL byte"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(FraudModel {
            model: Arc::new(model),
            feature_names,
        })
    }

    pub(crate) fn model(&self) -> &Model {
        &self.model
    }

    /// The feature names, in the model's feature order.
    pub(crate) fn feature_names(&self) -> &[CString] {
        &self.feature_names
    }

    /// Feature `index` of the schema, or an error naming the index.
    fn feature(&self, index: usize) -> Result<&fraud_engine::Feature, Failure> {
        let features = &self.model.schema().features;
        features.get(index).ok_or_else(|| {
            Failure::argument(format!(
                "feature index {index} is out of range (the model has {} features)",
                features.len()
            ))
        })
    }

    /// Hands the handle to C.
    fn into_raw(self) -> *mut FraudModel {
        Box::into_raw(Box::new(self))
    }
}

/// What kind of value a feature takes in a typed row.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FraudFeatureKind {
    /// A real number (possibly limited to a range, e.g. an hour is 0-23).
    FRAUD_FEATURE_NUMERIC = 0,
    /// A yes/no flag: 0 or 1.
    FRAUD_FEATURE_FLAG = 1,
    /// A category, given in a typed row by its code from
    /// `fraud_model_category_code`.
    FRAUD_FEATURE_CATEGORICAL = 2,
}

/// Loads the model file at `path` (a NUL-terminated file name, passed to the
/// operating system as is). On success stores a new handle in `*out`, which
/// the caller owns and releases with `fraud_model_free`; on failure `*out` is
/// left untouched. The file is fully checked: a damaged or hostile file gives
/// `FRAUD_CORRUPT_MODEL` (or `FRAUD_UNSUPPORTED_VERSION`), never a crash.
/// Thread-safe. Loading the same file again gives an independent handle.
///
/// Statuses: `FRAUD_NULL_PARAMETER` (`path` or `out` NULL), `FRAUD_IO`,
/// `FRAUD_CORRUPT_MODEL`, `FRAUD_UNSUPPORTED_VERSION`,
/// `FRAUD_INVALID_ARGUMENT` (a file name that is not UTF-8, on systems other
/// than Unix).
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string; `out` must be NULL or
/// valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_load(
    path: *const c_char,
    out: *mut *mut FraudModel,
) -> FraudStatus {
    panic::status("fraud_model_load", || {
        // SAFETY: the caller passes NULL or a NUL-terminated string.
        let path = unsafe { ptr::c_str(path, "path") }?;
        let out = Out::new(out, "out")?;
        let model = Model::load(os_path(path)?)?;
        let handle = FraudModel::new(model)?.into_raw();
        // SAFETY: `out` is valid for a write (caller contract).
        unsafe { out.write(handle) };
        Ok(())
    })
}

#[cfg(unix)]
fn os_path(path: &std::ffi::CStr) -> Result<&std::path::Path, Failure> {
    use std::os::unix::ffi::OsStrExt;
    Ok(std::path::Path::new(std::ffi::OsStr::from_bytes(
        path.to_bytes(),
    )))
}

#[cfg(not(unix))]
fn os_path(path: &std::ffi::CStr) -> Result<&std::path::Path, Failure> {
    path.to_str()
        .map(std::path::Path::new)
        .map_err(|e| Failure::argument(format!("`path` is not valid UTF-8: {e}")))
}

/// Loads a model from the `len` bytes of a model file at `bytes` (for models
/// kept in a database or embedded in the program). The bytes are copied as
/// needed: the caller may free them once this returns. Ownership of `*out`
/// and statuses as for `fraud_model_load`; an empty or truncated byte string
/// gives `FRAUD_CORRUPT_MODEL`. Thread-safe.
///
/// # Safety
/// `bytes` must be NULL or point to `len` readable bytes; `out` must be NULL
/// or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_load_bytes(
    bytes: *const u8,
    len: usize,
    out: *mut *mut FraudModel,
) -> FraudStatus {
    panic::status("fraud_model_load_bytes", || {
        // SAFETY: the caller passes NULL or `len` readable bytes.
        let bytes = unsafe { ptr::slice(bytes, len, "bytes") }?;
        let out = Out::new(out, "out")?;
        let handle = FraudModel::new(Model::from_bytes(bytes)?)?.into_raw();
        // SAFETY: `out` is valid for a write (caller contract).
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Makes a second handle to the same loaded model, sharing its memory (no
/// copy, no file read). Each handle is freed on its own with
/// `fraud_model_free`, in any order; the model's memory goes with the last.
/// Useful to hand a model to another component (or swap models on reload)
/// without coordinating who frees it. Thread-safe.
///
/// Statuses: `FRAUD_NULL_PARAMETER`.
///
/// # Safety
/// `model` must be NULL or a live handle; `out` must be NULL or valid for
/// writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_clone(
    model: *const FraudModel,
    out: *mut *mut FraudModel,
) -> FraudStatus {
    panic::status("fraud_model_clone", || {
        // SAFETY: NULL or a live handle (caller contract).
        let model = unsafe { ptr::reference(model, "model") }?;
        let out = Out::new(out, "out")?;
        let handle = FraudModel {
            model: Arc::clone(&model.model),
            feature_names: Arc::clone(&model.feature_names),
        }
        .into_raw();
        // SAFETY: `out` is valid for a write (caller contract).
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Releases a handle from `fraud_model_load`, `fraud_model_load_bytes` or
/// `fraud_model_clone`. NULL is a no-op. After this call the handle and every
/// string obtained from it (feature names) are invalid; freeing the same
/// handle twice is undefined behaviour, as with `free`. Must not run while
/// another thread still uses this handle.
///
/// # Safety
/// `model` must be NULL or a live handle that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_free(model: *mut FraudModel) {
    panic::catch_or((), || {
        if !model.is_null() {
            // SAFETY: a non-NULL `model` came from `into_raw` and is freed
            // once (caller contract), so it is still a live Box.
            drop(unsafe { Box::from_raw(model) });
        }
    })
}

/// Stores the number of features of the model in `*out`: the length of a
/// typed row (`fraud_model_predict_row`) and the column count of a batch.
/// Thread-safe.
///
/// Statuses: `FRAUD_NULL_PARAMETER`.
///
/// # Safety
/// `model` must be NULL or a live handle; `out` must be NULL or valid for
/// writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_feature_count(
    model: *const FraudModel,
    out: *mut usize,
) -> FraudStatus {
    panic::status("fraud_model_feature_count", || {
        // SAFETY: NULL or a live handle (caller contract).
        let model = unsafe { ptr::reference(model, "model") }?;
        let out = Out::new(out, "out")?;
        // SAFETY: `out` is valid for a write (caller contract).
        unsafe { out.write(model.feature_names.len()) };
        Ok(())
    })
}

/// Stores in `*out` the name of feature `index` (0-based, in the model's
/// feature order, the order of a typed row). The string belongs to the handle:
/// do not free it; it stays valid until the handle is freed. Thread-safe.
///
/// Statuses: `FRAUD_NULL_PARAMETER`, `FRAUD_INVALID_ARGUMENT` (`index` not
/// below the feature count).
///
/// # Safety
/// `model` must be NULL or a live handle; `out` must be NULL or valid for
/// writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_feature_name(
    model: *const FraudModel,
    index: usize,
    out: *mut *const c_char,
) -> FraudStatus {
    panic::status("fraud_model_feature_name", || {
        // SAFETY: NULL or a live handle (caller contract).
        let model = unsafe { ptr::reference(model, "model") }?;
        let out = Out::new(out, "out")?;
        let name = model.feature_names.get(index).ok_or_else(|| {
            Failure::argument(format!(
                "feature index {index} is out of range (the model has {} features)",
                model.feature_names.len()
            ))
        })?;
        // SAFETY: `out` is valid for a write (caller contract).
        unsafe { out.write(name.as_ptr()) };
        Ok(())
    })
}

/// Stores in `*out` the kind of feature `index`: how to fill its slot in a
/// typed row. Thread-safe.
///
/// Statuses: `FRAUD_NULL_PARAMETER`, `FRAUD_INVALID_ARGUMENT` (`index` not
/// below the feature count).
///
/// # Safety
/// `model` must be NULL or a live handle; `out` must be NULL or valid for
/// writing a `FraudFeatureKind`.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_feature_kind(
    model: *const FraudModel,
    index: usize,
    out: *mut FraudFeatureKind,
) -> FraudStatus {
    panic::status("fraud_model_feature_kind", || {
        // SAFETY: NULL or a live handle (caller contract).
        let model = unsafe { ptr::reference(model, "model") }?;
        let out = Out::new(out, "out")?;
        let kind = match model.feature(index)?.kind {
            FeatureKind::Numeric { .. } => FraudFeatureKind::FRAUD_FEATURE_NUMERIC,
            FeatureKind::Flag => FraudFeatureKind::FRAUD_FEATURE_FLAG,
            FeatureKind::Categorical { .. } => FraudFeatureKind::FRAUD_FEATURE_CATEGORICAL,
        };
        // SAFETY: `out` is valid for a write (caller contract).
        unsafe { out.write(kind) };
        Ok(())
    })
}

/// Stores in `*out` 1 when feature `index` is required (a missing value, NaN
/// in a typed row or `null` in JSON, is refused with `FRAUD_INVALID_INPUT`)
/// and 0 when it is optional (a missing value is filled as in training).
/// A feature is required when the model's schema says so, or when it was
/// never missing in the training data. Thread-safe.
///
/// Statuses: `FRAUD_NULL_PARAMETER`, `FRAUD_INVALID_ARGUMENT` (`index` not
/// below the feature count).
///
/// # Safety
/// `model` must be NULL or a live handle; `out` must be NULL or valid for
/// writing an `int32_t`.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_feature_required(
    model: *const FraudModel,
    index: usize,
    out: *mut i32,
) -> FraudStatus {
    panic::status("fraud_model_feature_required", || {
        // SAFETY: NULL or a live handle (caller contract).
        let model = unsafe { ptr::reference(model, "model") }?;
        let out = Out::new(out, "out")?;
        let required = model.feature(index)?.is_required();
        // SAFETY: `out` is valid for a write (caller contract).
        unsafe { out.write(i32::from(required)) };
        Ok(())
    })
}

/// Looks up the code of `category` (e.g. `"Electronics"`) for the
/// categorical feature named `feature` (e.g. `"merchant_category"`), the
/// number to put in that feature's slot of a typed row. Look codes up once
/// at start-up: they are fixed for a loaded model.
///
/// A category never seen in training is not an error: it gets the code of
/// the model's unknown bucket, as in a JSON request. `*out_known` (when
/// `out_known` is not NULL) says which: 1 for a category seen in training,
/// 0 for the unknown bucket. On success `*out_code` (and `*out_known`) are
/// written; on failure neither is. Thread-safe.
///
/// Statuses: `FRAUD_NULL_PARAMETER` (`model`, `feature`, `category` or
/// `out_code` NULL), `FRAUD_INVALID_ARGUMENT` (no such feature, a feature that
/// is not categorical, or text that is not UTF-8).
///
/// # Safety
/// `model` must be NULL or a live handle; `feature` and `category` NULL or
/// NUL-terminated strings; `out_code` NULL or valid for writing a `uint32_t`;
/// `out_known` NULL or valid for writing an `int32_t`.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_category_code(
    model: *const FraudModel,
    feature: *const c_char,
    category: *const c_char,
    out_code: *mut u32,
    out_known: *mut i32,
) -> FraudStatus {
    panic::status("fraud_model_category_code", || {
        // SAFETY: NULL or a live handle and NUL-terminated strings (caller
        // contract).
        let (model, feature, category) = unsafe {
            (
                ptr::reference(model, "model")?,
                ptr::utf8(feature, "feature")?,
                ptr::utf8(category, "category")?,
            )
        };
        let out_code = Out::new(out_code, "out_code")?;
        let found = model
            .model
            .category_code(feature, category)
            .map_err(|e| Failure::argument(e.to_string()))?;
        // SAFETY: `out_code` is valid for a write (caller contract).
        unsafe { out_code.write(found.code) };
        if let Ok(out_known) = Out::new(out_known, "out_known") {
            // SAFETY: non-NULL, so valid for a write (caller contract).
            unsafe { out_known.write(i32::from(found.known)) };
        }
        Ok(())
    })
}

/// Stores in `*out` the model's decision threshold: `is_fraud` is 1 when the
/// fraud probability is at least this. Thread-safe.
///
/// Statuses: `FRAUD_NULL_PARAMETER`.
///
/// # Safety
/// `model` must be NULL or a live handle; `out` must be NULL or valid for
/// writing a `double`.
#[no_mangle]
pub unsafe extern "C" fn fraud_model_threshold(
    model: *const FraudModel,
    out: *mut f64,
) -> FraudStatus {
    panic::status("fraud_model_threshold", || {
        // SAFETY: NULL or a live handle (caller contract).
        let model = unsafe { ptr::reference(model, "model") }?;
        let out = Out::new(out, "out")?;
        // SAFETY: `out` is valid for a write (caller contract).
        unsafe { out.write(model.model.threshold()) };
        Ok(())
    })
}

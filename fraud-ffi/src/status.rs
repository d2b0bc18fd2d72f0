//! The status every fallible call returns, and how engine errors map onto it.

use std::ffi::{c_char, CStr};

use fraud_engine::Error;

/// The result of a call. `FRAUD_OK` (0) is success; every other value is a
/// failure, and `fraud_last_error()` then holds a message naming what was
/// wrong. The values are part of the ABI: they are never renumbered, and new
/// statuses only ever get new numbers, so a program may store or switch on them.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FraudStatus {
    /// Success: the out-parameters have been written.
    FRAUD_OK = 0,
    /// A required pointer argument was NULL. Nothing was read or written.
    FRAUD_NULL_PARAMETER = 1,
    /// A non-pointer argument is outside its domain: a buffer too short, an
    /// index past the end, a misaligned buffer, a feature that does not
    /// exist or is not categorical, text that is not valid UTF-8.
    FRAUD_INVALID_ARGUMENT = 2,
    /// A JSON request body is not valid JSON, or is not a JSON object.
    FRAUD_INVALID_JSON = 3,
    /// The model rejected the transaction: a missing field, a value of the
    /// wrong type or out of its range, a wrong number of features, a category
    /// code that does not exist. The message names each bad field.
    FRAUD_INVALID_INPUT = 4,
    /// Reading the model file failed (not found, permission denied, ...).
    FRAUD_IO = 5,
    /// The model file or byte string is damaged, truncated or hostile; the
    /// message gives the byte offset where the problem was found.
    FRAUD_CORRUPT_MODEL = 6,
    /// The model file was written in a format version this library cannot read.
    FRAUD_UNSUPPORTED_VERSION = 7,
    /// The library hit an internal bug (a Rust panic) and stopped it at the
    /// boundary. The call had no effect; the model handle stays usable.
    FRAUD_PANIC = 8,
    /// An engine error this version of the C ABI has no specific status for.
    FRAUD_OTHER_ERROR = 9,
}

impl FraudStatus {
    /// Every status, in value order (the value is the index).
    pub(crate) const ALL: [FraudStatus; 10] = [
        FraudStatus::FRAUD_OK,
        FraudStatus::FRAUD_NULL_PARAMETER,
        FraudStatus::FRAUD_INVALID_ARGUMENT,
        FraudStatus::FRAUD_INVALID_JSON,
        FraudStatus::FRAUD_INVALID_INPUT,
        FraudStatus::FRAUD_IO,
        FraudStatus::FRAUD_CORRUPT_MODEL,
        FraudStatus::FRAUD_UNSUPPORTED_VERSION,
        FraudStatus::FRAUD_PANIC,
        FraudStatus::FRAUD_OTHER_ERROR,
    ];

    /// The status's C name.
    fn name(self) -> &'static CStr {
        match self {
            FraudStatus::FRAUD_OK => c"FRAUD_OK",
            FraudStatus::FRAUD_NULL_PARAMETER => c"FRAUD_NULL_PARAMETER",
            FraudStatus::FRAUD_INVALID_ARGUMENT => c"FRAUD_INVALID_ARGUMENT",
            FraudStatus::FRAUD_INVALID_JSON => c"FRAUD_INVALID_JSON",
            FraudStatus::FRAUD_INVALID_INPUT => c"FRAUD_INVALID_INPUT",
            FraudStatus::FRAUD_IO => c"FRAUD_IO",
            FraudStatus::FRAUD_CORRUPT_MODEL => c"FRAUD_CORRUPT_MODEL",
            FraudStatus::FRAUD_UNSUPPORTED_VERSION => c"FRAUD_UNSUPPORTED_VERSION",
            FraudStatus::FRAUD_PANIC => c"FRAUD_PANIC",
            FraudStatus::FRAUD_OTHER_ERROR => c"FRAUD_OTHER_ERROR",
        }
    }
}

/// Name returned for a value that is no `FraudStatus` of this version.
const UNKNOWN_STATUS: &CStr = c"FRAUD_UNKNOWN_STATUS";

/// A failed call: the status to return and the message for `fraud_last_error`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: FraudStatus,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: FraudStatus, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn argument(message: impl Into<String>) -> Self {
        Failure::new(FraudStatus::FRAUD_INVALID_ARGUMENT, message)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let status = match &error {
            Error::InvalidInput { .. }
            | Error::InvalidFields { .. }
            | Error::InvalidData { .. }
            | Error::Schema { .. } => FraudStatus::FRAUD_INVALID_INPUT,
            Error::InvalidParams { .. } => FraudStatus::FRAUD_INVALID_ARGUMENT,
            Error::CorruptModel { .. } => FraudStatus::FRAUD_CORRUPT_MODEL,
            Error::UnsupportedVersion { .. } => FraudStatus::FRAUD_UNSUPPORTED_VERSION,
            Error::Io { .. } => FraudStatus::FRAUD_IO,
            // `Error` is non-exhaustive: a variant added to the engine later
            // still reaches C as a failure with its message.
            _ => FraudStatus::FRAUD_OTHER_ERROR,
        };
        Failure::new(status, error.to_string())
    }
}

impl From<fraud_engine::json::BodyError> for Failure {
    fn from(error: fraud_engine::json::BodyError) -> Self {
        match error {
            fraud_engine::json::BodyError::NotAnObject(_) => {
                Failure::new(FraudStatus::FRAUD_INVALID_JSON, error.to_string())
            }
            fraud_engine::json::BodyError::Fields(error) => error.into(),
        }
    }
}

/// The name of a status value, e.g. `"FRAUD_INVALID_JSON"`, as a static
/// NUL-terminated string the caller must not free. A value that is no status
/// of this version gives `"FRAUD_UNKNOWN_STATUS"`. The parameter is a plain
/// `uint32_t` so that any value may be passed. Thread-safe; never fails.
#[no_mangle]
pub extern "C" fn fraud_status_name(status: u32) -> *const c_char {
    crate::panic::catch_or(UNKNOWN_STATUS.as_ptr(), || {
        usize::try_from(status)
            .ok()
            .and_then(|i| FraudStatus::ALL.get(i))
            .map_or(UNKNOWN_STATUS, |s| s.name())
            .as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn name_of(status: u32) -> String {
        // SAFETY: fraud_status_name always returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(fraud_status_name(status)) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn values_are_the_index_and_names_match() {
        for (i, status) in FraudStatus::ALL.iter().enumerate() {
            assert_eq!(*status as usize, i);
            assert_eq!(name_of(i as u32), format!("{status:?}"));
        }
        assert_eq!(name_of(10), "FRAUD_UNKNOWN_STATUS");
        assert_eq!(name_of(u32::MAX), "FRAUD_UNKNOWN_STATUS");
    }

    #[test]
    fn engine_errors_map_to_their_status() {
        let corrupt = fraud_engine::Model::from_bytes(b"not a model").expect_err("garbage");
        assert_eq!(
            Failure::from(corrupt).status,
            FraudStatus::FRAUD_CORRUPT_MODEL
        );
        let missing = fraud_engine::Model::load("/nonexistent/model.bin").expect_err("missing");
        let failure = Failure::from(missing);
        assert_eq!(failure.status, FraudStatus::FRAUD_IO);
        assert!(failure.message.contains("/nonexistent/model.bin"));
    }
}

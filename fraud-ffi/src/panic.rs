//! The panic boundary every exported function runs in, and the thread-local
//! message behind `fraud_last_error`.
//!
//! Since Rust 1.81 a panic unwinding out of an `extern "C"` function aborts
//! the whole process, so a bug in the library (or the engine) would take the
//! host payment switch down with it. Every export therefore runs its body in
//! [`catch_unwind`]; a panic becomes `FRAUD_PANIC` with its message.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::status::{Failure, FraudStatus};

thread_local! {
    /// This thread's message for its last failed call ("" before any).
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error.
fn set_last_error(message: String) {
    // A message quoting caller data could hold a NUL byte; C would cut it
    // there, so it is spelled out instead.
    let message = CString::new(message).unwrap_or_else(|e| {
        let text = String::from_utf8_lossy(&e.into_vec()).replace('\0', "\\0");
        CString::new(text).unwrap_or_default()
    });
    // `try_with` fails only while the thread is being torn down, when no one
    // can read the message any more.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = message);
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "a panic without a message"
    }
}

/// Runs the body of the export `function`, turning a returned [`Failure`]
/// or a panic into a status and this thread's last error.
///
/// The closure is asserted unwind-safe: every body only reads shared state
/// (an immutable `Model`) and writes its out-parameters as its very last
/// step, so a panic cannot leave anything the caller sees half-updated.
pub(crate) fn status(
    function: &'static str,
    body: impl FnOnce() -> Result<(), Failure>,
) -> FraudStatus {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => FraudStatus::FRAUD_OK,
        Ok(Err(failure)) => {
            set_last_error(format!("{function}: {}", failure.message));
            failure.status
        }
        Err(payload) => {
            set_last_error(format!(
                "{function}: internal error (panic): {}",
                panic_message(payload.as_ref())
            ));
            FraudStatus::FRAUD_PANIC
        }
    }
}

/// Runs the body of an export that returns a value rather than a status;
/// a panic gives `fallback`.
pub(crate) fn catch_or<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// This thread's message for its last failed call, as a NUL-terminated
/// string; `""` when no call on this thread has failed yet. A successful call
/// leaves the message as it was. The string belongs to the library: do not
/// free it; it stays valid until the next failing call on the same thread
/// (copy it to keep it longer). Each thread has its own message, so this is
/// thread-safe. Never returns NULL.
#[no_mangle]
pub extern "C" fn fraud_last_error() -> *const c_char {
    const EMPTY: *const c_char = c"".as_ptr();
    catch_or(EMPTY, || {
        // The pointer outlives the borrow: it points into the CString's heap
        // buffer, which stays put until `set_last_error` replaces the value
        // (the contract above) or the thread exits.
        LAST_ERROR
            .try_with(|slot| slot.borrow().as_ptr())
            .unwrap_or(EMPTY)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::last_error;

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = status("fraud_test", || panic!("boom {}", 42));
        assert_eq!(status, FraudStatus::FRAUD_PANIC);
        assert_eq!(last_error(), "fraud_test: internal error (panic): boom 42");
        let status = super::status("fraud_test", || std::panic::panic_any(7u8));
        assert_eq!(status, FraudStatus::FRAUD_PANIC);
        assert!(last_error().ends_with("a panic without a message"));
        assert_eq!(catch_or(1, || panic!("no")), 1);
    }

    #[test]
    fn failures_set_the_message_and_success_keeps_it() {
        let failed = status("fraud_test", || {
            Err(Failure::new(FraudStatus::FRAUD_INVALID_JSON, "bad\0body"))
        });
        assert_eq!(failed, FraudStatus::FRAUD_INVALID_JSON);
        assert_eq!(last_error(), "fraud_test: bad\\0body");
        assert_eq!(status("fraud_test", || Ok(())), FraudStatus::FRAUD_OK);
        assert_eq!(last_error(), "fraud_test: bad\\0body");
    }

    #[test]
    fn messages_are_per_thread() {
        let _ = status("fraud_test", || {
            Err(Failure::new(FraudStatus::FRAUD_IO, "here"))
        });
        let other = std::thread::spawn(last_error).join().expect("thread");
        assert_eq!(other, "");
        assert_eq!(last_error(), "fraud_test: here");
    }
}

//! The C ABI's JSON entry points (`fraud_model_predict_json[_len]`,
//! `fraud_model_explain_json[_len]`) called as C calls them: no caught
//! panic, failures leave the output untouched, successes agree.
#![no_main]

use fraud_ffi::fuzzing::Handle;
use libfuzzer_sys::fuzz_target;

thread_local! {
    static HANDLE: Handle = Handle::load(fraud_fuzz::model_bytes()).expect("the C ABI loads the fuzz model");
}

fuzz_target!(|data: &[u8]| {
    HANDLE.with(|handle| {
        if let Err(broken) = handle.json_calls(data) {
            panic!("{broken}");
        }
    });
});

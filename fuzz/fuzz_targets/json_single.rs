//! The JSON transaction parser on one body (`POST /api/predict`, the C
//! ABI's JSON calls): a typed error with a byte offset, or an object the
//! model scores and explains the same way.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(object) = fraud_engine::json::Object::parse(data) {
        let _ = object.text();
        fraud_fuzz::score_object(&object);
    }
});

//! The JSON transaction parser on a batch body (`POST /api/predict/batch`):
//! every object of `transactions` is scored and explained; whatever the
//! shape, an error and never a panic.
#![no_main]

use fraud_engine::json::{Json, Object};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut body) = Object::parse(data) else {
        return;
    };
    let Some(Json::Array(transactions)) = body.take("transactions") else {
        return;
    };
    for transaction in &transactions {
        match transaction {
            Json::Object(object) => fraud_fuzz::score_object(object),
            other => {
                let _ = other.type_name();
                let _ = other.as_value();
            }
        }
    }
});

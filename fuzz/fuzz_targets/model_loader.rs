//! The model loader on hostile bytes: either a typed error or a model that
//! scores, serialises and loads back. The first byte picks whether the rest
//! is the whole file, or a payload given a valid header and checksum (so the
//! fuzzer reaches the decoder and the checks behind the checksum).
#![no_main]

use fraud_engine::Model;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        let mut file = Vec::with_capacity(32 + rest.len());
        file.extend_from_slice(&fraud_engine::format::MAGIC);
        file.extend_from_slice(&fraud_engine::FORMAT_VERSION.to_le_bytes());
        file.extend_from_slice(&0u32.to_le_bytes());
        file.extend_from_slice(&(rest.len() as u64).to_le_bytes());
        file.extend_from_slice(&crc32fast::hash(rest).to_le_bytes());
        file.extend_from_slice(&0u32.to_le_bytes());
        file.extend_from_slice(rest);
        file
    };
    let Ok(model) = Model::from_bytes(&file) else {
        return;
    };
    let row = fraud_engine::json::Object::parse(
        br#"{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#,
    )
    .expect("the documented body parses");
    if let Ok(p) = model.predict(&row) {
        assert!((0.0..=1.0).contains(&p.fraud_probability), "{p:?}");
        let _ = model.explain(&row);
    }
    let _ = model.summary();
    let again = model.to_bytes().expect("a loaded model serialises");
    Model::from_bytes(&again).expect("a saved model loads back");
});

//! The schema file parser (`Schema::from_json`): a typed error naming the
//! line, column or feature, or a schema that writes out and reads back the
//! same.
#![no_main]

use fraud_engine::Schema;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(schema) = Schema::from_json(text, "fuzz.json") else {
        return;
    };
    let written = schema.to_json(None).expect("a valid schema writes out");
    let again = Schema::from_json(&written, "written.json").expect("a written schema reads back");
    assert_eq!(again, schema, "{written}");
});

//! The JSON transaction parser on one body (`POST /api/predict`, the C
//! ABI's JSON calls): a typed error with a byte offset, or an object the
//! model scores and explains the same way; and `Model::predict_body`, which
//! reads bodies of the common shape without the object, gives the object's
//! answer or its error for every body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let model = fraud_fuzz::model();
    let direct = model.predict_body(data);
    match fraud_engine::json::Object::parse(data) {
        Ok(object) => {
            let _ = object.text();
            fraud_fuzz::score_object(&object);
            match (direct, model.predict(&object)) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "predict_body and the object differ"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!("predict_body gave {a:?}, the object {b:?}"),
            }
        }
        Err(e) => {
            let expected = fraud_engine::json::BodyError::NotAnObject(e).to_string();
            match direct {
                Err(error) => assert_eq!(error.to_string(), expected),
                Ok(p) => panic!("predict_body scored what does not parse: {p:?}"),
            }
        }
    }
});

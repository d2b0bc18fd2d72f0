//! A JSON request body scores the same whichever way the engine reads it:
//! `Model::predict_body` encodes the common shape (the features, in order)
//! as it reads it, and every other body, or one with a warning or an
//! error, through the object parser.

mod common;

use std::sync::LazyLock;

use fraud_engine::json::{Body, BodyError};
use fraud_engine::{Model, Prediction};
use proptest::prelude::*;

static MODEL: LazyLock<Model> = LazyLock::new(|| common::small_model(2_000, 10, 3));

/// What the body gives through the object parser, the reference.
fn through_the_object(model: &Model, body: &[u8]) -> Result<Prediction, BodyError> {
    let object = Body::parse(body).map_err(BodyError::NotAnObject)?;
    Ok(model.predict(&object)?)
}

fn assert_same(body: &str) {
    assert_same_bytes(body.as_bytes());
}

fn assert_same_bytes(bytes: &[u8]) {
    let model = &*MODEL;
    let body = String::from_utf8_lossy(bytes);
    let direct = model.predict_body(bytes);
    let reference = through_the_object(model, bytes);
    match (&direct, &reference) {
        (Ok(a), Ok(b)) => {
            assert_eq!(
                a.fraud_probability.to_bits(),
                b.fraud_probability.to_bits(),
                "{body}"
            );
            assert_eq!(a, b, "{body}");
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string(), "{body}");
            assert_eq!(
                matches!(a, BodyError::NotAnObject(_)),
                matches!(b, BodyError::NotAnObject(_)),
                "{body}"
            );
        }
        _ => panic!("{body}: {direct:?} against {reference:?}"),
    }
}

const DOCUMENTED: &str = r#"{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#;

#[test]
fn the_documented_body_scores_as_its_object() {
    assert_same(DOCUMENTED);
    let p = MODEL.predict_body(DOCUMENTED.as_bytes()).expect("scores");
    assert!(p.warnings.is_empty());
    // As Python's json.dumps writes it: a space after every `:` and `,`.
    assert_same(&DOCUMENTED.replace(':', ": ").replace(',', ", "));
    assert_same(&format!("\n\t{DOCUMENTED} \r\n"));
}

#[test]
fn a_body_of_the_common_shape_keeps_its_warnings_and_errors() {
    let unknown = DOCUMENTED.replace("Electronics", "Spaceships");
    assert_same(&unknown);
    let p = MODEL.predict_body(unknown.as_bytes()).expect("scores");
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert_eq!(p.warnings[0].field, "merchant_category");
    for bad in [
        DOCUMENTED.replace("\"transaction_hour\":14", "\"transaction_hour\":24"),
        DOCUMENTED.replace("\"cardholder_age\":35", "\"cardholder_age\":\"old\""),
    ] {
        assert_same(&bad);
        assert!(MODEL.predict_body(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn bodies_of_other_shapes_score_or_fail_as_their_objects() {
    for body in [
        // Another order, a member more or less, one twice.
        r#"{"transaction_hour":14,"amount":250.0,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#,
        r#"{"transaction_id":"T1","amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#,
        r#"{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3}"#,
        r#"{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35,"amount":1}"#,
        // A key and a category spelt with escapes.
        r#"{"amo\u0075nt":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#,
        r#"{"amount":250.0,"transaction_hour":14,"merchant_category":"Electr\u006fnics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#,
        // Values the direct reader leaves to the parser, or that fail.
        r#"{"amount":1e400,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#,
        r#"{"amount":NaN,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#,
        r#"{"amount":250.00000000000000000001,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#,
        r#"{"amount":[250],"transaction_hour":14.5,"merchant_category":"Nowhere","foreign_transaction":true,"location_mismatch":null,"device_trust_score":-1,"velocity_last_24h":"3","cardholder_age":35}"#,
        r#"{"amount":250.0,"transaction_hour":24,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#,
        // Not JSON, or not an object.
        r#"{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}x"#,
        r#"{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35"#,
        r#"{"amount":0250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#,
        r#"{"amount":250.,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#,
        r#"[1,2]"#,
        "",
        "{}",
    ] {
        assert_same(body);
    }
    // A category that is not UTF-8, in a body of the common shape.
    let documented = DOCUMENTED.as_bytes();
    let at = DOCUMENTED.find("Electronics").expect("the category");
    let mut not_utf8 = documented.to_vec();
    not_utf8[at + 1] = 0xFF;
    assert_same_bytes(&not_utf8);
    assert!(matches!(
        MODEL.predict_body(&not_utf8),
        Err(BodyError::NotAnObject(_))
    ));
}

/// One member's value as a client might write it: mostly of the kinds the
/// direct reader takes, so that most bodies are read by it.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => plain_value(),
        1 => odd_value(),
    ]
}

/// Numbers, strings without escapes, booleans and `null`: what the direct
/// reader reads (valid or not for the feature).
fn plain_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-1_000_000i64..1_000_000, 0u32..4).prop_map(|(n, decimals)| {
            let x = n as f64 / 10f64.powi(decimals as i32);
            format!("{x:.*}", decimals as usize)
        }),
        (0u32..30).prop_map(|n| n.to_string()),
        (0u32..30).prop_map(|n| format!("{n}.0")),
        prop::sample::select(vec![
            "\"Electronics\"",
            "\"Gas\"",
            "\"Grocery\"",
            "\" Gas \"",
            "\"Électronique\"",
            "\"\"",
            "\"NA\"",
            "\"3\"",
            "null",
            "true",
            "false",
        ])
        .prop_map(str::to_owned),
    ]
}

/// Values of every other shape the grammar has, and some it has not.
fn odd_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|x| format!("{x:?}")),
        any::<f64>().prop_map(|x| format!("{x:e}")),
        prop::sample::select(vec![
            "-0",
            "1E2",
            "123456789012345678901234",
            "NaN",
            "-Infinity",
            "\"Gr\\u006fcery\"",
            "\"a\\\"b\"",
            "[]",
            "{}",
            "[1]",
            "{\"a\":1}",
            "tru",
        ])
        .prop_map(str::to_owned),
    ]
}

prop_compose! {
    /// A body of the model's features in order, a value each, with
    /// space; now and then two members swapped, one dropped, added or
    /// repeated, or its end cut off.
    fn body()(
        values in prop::collection::vec(value(), 8),
        space in prop::sample::select(vec!["", " ", "\n", "\t ", "\r\n"]),
        shuffle in prop::bool::weighted(0.2),
        swap in (0usize..8, 0usize..8),
        change in 0u8..12,
        cut in any::<prop::sample::Index>(),
    ) -> String {
        let names = MODEL.feature_names();
        let mut members: Vec<String> = names
            .iter()
            .zip(&values)
            .map(|(name, value)| format!("\"{name}\"{space}:{space}{value}"))
            .collect();
        if shuffle {
            members.swap(swap.0, swap.1);
        }
        match change {
            0 => {
                members.remove(swap.0);
            }
            1 => members.push(format!("\"{}\":1", names[swap.1])),
            2 => members.insert(0, "\"transaction_id\":\"T-1\"".to_owned()),
            _ => {}
        }
        let members = members.join(&format!(",{space}"));
        let body = format!("{space}{{{space}{members}{space}}}{space}");
        if change == 3 {
            let at = cut.index(body.len());
            let end = (0..=at).rev().find(|&i| body.is_char_boundary(i)).unwrap_or(0);
            body[..end].to_owned()
        } else {
            body
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_body_scores_or_fails_as_its_object(body in body()) {
        assert_same(&body);
    }

    #[test]
    fn any_bytes_score_or_fail_as_their_object(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let model = &*MODEL;
        let direct = model.predict_body(&bytes).map_err(|e| e.to_string());
        let reference = through_the_object(model, &bytes).map_err(|e| e.to_string());
        prop_assert_eq!(direct, reference);
    }
}

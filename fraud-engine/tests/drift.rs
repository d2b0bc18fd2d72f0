//! Drift against the training data: traffic like it stays stable, shifted
//! traffic is significant, over a whole table and through a live window.

mod common;

use fraud_engine::drift::{Band, Window};
use fraud_engine::{synth, Table, TableColumn, Value};

/// A generated table with `amount` multiplied by `factor`.
fn table(rows: usize, seed: u64, factor: f64) -> Table {
    let base = synth::table(rows, seed);
    let mut shifted = Table::new("shifted");
    for (name, column) in base.names().iter().zip(base.columns()) {
        let column = match (name.as_str(), column) {
            ("amount", TableColumn::Numbers(v)) => {
                TableColumn::Numbers(v.iter().map(|x| x * factor).collect())
            }
            _ => column.clone(),
        };
        shifted.push(name.clone(), column).expect("column");
    }
    shifted
}

#[test]
fn training_like_traffic_is_stable_and_shifted_traffic_is_significant() {
    let model = common::small_model(20_000, 20, 7);
    let like = model.drift(&table(5_000, 99, 1.0)).expect("drift");
    assert_eq!(like.rows, 5_000);
    for f in like.features.iter().chain([&like.score]) {
        assert!(f.psi < 0.1, "{}: {}", f.feature, f.psi);
        assert_eq!(f.band, Band::Stable);
    }
    let shifted = model.drift(&table(5_000, 99, 5.0)).expect("drift");
    let amount = &shifted.features[0];
    assert_eq!(amount.feature, "amount");
    assert!(amount.psi > 0.25, "{}", amount.psi);
    assert_eq!(amount.band, Band::Significant);
    assert!(!amount.top_moving_bins.is_empty());
    assert!(shifted.features[1].psi < 0.1, "other features stay put");
}

#[test]
fn a_window_counts_the_latest_transactions() {
    let model = common::small_model(20_000, 20, 7);
    let mut window = Window::new(&model, 2_000);
    assert!(window.is_empty() && window.span().is_none());
    let feed = |window: &mut Window, table: &Table, start: u64| {
        let names = table.names();
        for row in 0..table.n_rows() {
            let fields: Vec<(&str, Value<'_>)> = names
                .iter()
                .zip(table.columns())
                .map(|(n, c)| (n.as_str(), c.value(row)))
                .collect();
            let p = model.predict(&fields[..]).expect("scores");
            window.observe(
                &model.drift_bins(&fields[..], p.fraud_probability),
                start + row as u64,
            );
        }
    };
    feed(&mut window, &table(3_000, 5, 5.0), 0);
    assert_eq!(window.len(), 2_000);
    assert!(window.report(&model).features[0].psi > 0.25);
    // Training-like traffic pushes the shifted rows out of the window.
    feed(&mut window, &table(2_000, 6, 1.0), 10_000);
    let report = window.report(&model);
    assert_eq!(report.rows, 2_000);
    assert!(report.features[0].psi < 0.1, "{}", report.features[0].psi);
    assert_eq!(window.span(), Some((10_000, 11_999)));
}

#[test]
fn a_transaction_has_the_same_bins_whatever_the_order_of_its_fields() {
    let model = common::small_model(5_000, 10, 7);
    let in_order = br#"{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":1,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#;
    let shuffled = br#"{"cardholder_age":35,"location_mismatch":1,"amount":250.0,"velocity_last_24h":3,"merchant_category":"Electronics","transaction_hour":14,"device_trust_score":75,"foreign_transaction":0}"#;
    // Fields by position and by name disagree here: the first member is
    // another feature than the model's first.
    let missing_first = br#"{"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":1,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#;
    let bins = |body: &[u8]| {
        let object = fraud_engine::json::Object::parse(body).expect("JSON");
        model.drift_bins(&object, 0.5)
    };
    let pairs: Vec<(&str, Value<'_>)> = vec![
        ("amount", Value::Number(250.0)),
        ("transaction_hour", Value::Number(14.0)),
        ("merchant_category", Value::Text("Electronics")),
        ("foreign_transaction", Value::Number(0.0)),
        ("location_mismatch", Value::Number(1.0)),
        ("device_trust_score", Value::Number(75.0)),
        ("velocity_last_24h", Value::Number(3.0)),
        ("cardholder_age", Value::Number(35.0)),
    ];
    let by_name = model.drift_bins(&pairs[..], 0.5);
    assert_eq!(bins(in_order), by_name);
    assert_eq!(bins(shuffled), by_name);
    let without_amount = bins(missing_first);
    assert_eq!(without_amount[1..], by_name[1..]);
    assert_ne!(
        without_amount[0], by_name[0],
        "an absent amount has a bin of its own"
    );
}

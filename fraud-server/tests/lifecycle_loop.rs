//! The whole model lifecycle against the real binary, as an operator runs
//! it: serve the default model, send transactions, post labels, retrain on
//! them, upload the result as the shadow, compare the two, activate the new
//! model, and roll back.

mod common;

use std::path::Path;
use std::process::Command;

use common::{request, Resp, Server};
use fraud_engine::Model;
use serde_json::{json, Value};

const ADMIN_KEY: &str = "loop-admin-key";

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn admin(server: &Server, method: &str, url: &str, body: Option<&[u8]>) -> Resp {
    request(
        server.addr,
        method,
        url,
        &[("X-Admin-Key", ADMIN_KEY), ("X-Admin-User", "loop-test")],
        body,
    )
}

/// Transactions from the engine's generator as request bodies with ids,
/// and their true classes.
fn traffic(rows: usize, seed: u64) -> Vec<(Value, u8)> {
    fraud_engine::synth::transactions(rows, seed)
        .enumerate()
        .map(|(i, t)| {
            let body = json!({
                "transaction_id": format!("loop-{seed}-{i}"),
                "amount": t.amount,
                "transaction_hour": t.transaction_hour,
                "merchant_category": t.merchant_category,
                "foreign_transaction": u8::from(t.foreign_transaction),
                "location_mismatch": u8::from(t.location_mismatch),
                "device_trust_score": t.device_trust_score,
                "velocity_last_24h": t.velocity_last_24h,
                "cardholder_age": t.cardholder_age,
            });
            (body, u8::from(t.is_fraud))
        })
        .collect()
}

fn serving(server: &Server) -> String {
    server.get("/ready").json()["model_version"]
        .as_str()
        .expect("a serving model")
        .to_owned()
}

#[test]
fn serve_label_retrain_shadow_compare_activate_and_roll_back() {
    let dir = common::temp_dir("lifecycle-loop");
    let env = [
        ("DEFAULT_MODEL_ROWS", "3000"),
        ("ADMIN_API_KEY", ADMIN_KEY),
        ("RATE_LIMIT_PER_MINUTE", "0"),
    ];
    // 1. The default model, trained at first start and made active.
    let server = Server::start_in(&dir, &[], &env);
    server.wait_ready(180);
    let default_version = serving(&server);

    // 2. Transactions, answered by the default model.
    let sent = traffic(1500, 77);
    for chunk in sent.chunks(500) {
        let rows: Vec<&Value> = chunk.iter().map(|(v, _)| v).collect();
        let r = server.post(
            "/api/predict/batch",
            &json!({ "transactions": rows }).to_string(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        for p in r.json()["predictions"].as_array().expect("predictions") {
            assert_eq!(p["model_version"], default_version.as_str());
        }
    }

    // 3. Their labels, as a chargeback feed would post them.
    let labels: Vec<Value> = sent
        .iter()
        .map(|(v, label)| json!({"transaction_id": v["transaction_id"], "is_fraud": label}))
        .collect();
    for chunk in labels.chunks(500) {
        let r = server.post(
            "/api/feedback",
            &json!({ "labels": chunk, "labelled_by": "chargebacks" }).to_string(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }

    // 4. Retrain on the labelled history (all of it is old enough with no
    // delay), from the registry's active model.
    let history = dir.join("data").join("history.db");
    let registry = dir.join("data").join("models");
    let retrained = dir.join("retrained.fem");
    let output = Command::new(env!("CARGO_BIN_EXE_fraud-server"))
        .args([
            "retrain",
            "--history",
            path(&history),
            "--registry",
            path(&registry),
            "--out",
            path(&retrained),
            "--label-delay",
            "0s",
        ])
        .env_remove("DATABASE_URL")
        .env_remove("MODEL_REGISTRY")
        .output()
        .expect("retrain runs");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out.contains("read 1500 labelled predictions"), "{out}");
    let new_model = Model::load(&retrained).expect("the retrained model loads");
    assert_eq!(
        new_model.metadata().parent_version.as_deref(),
        Some(default_version.as_str())
    );
    assert_eq!(new_model.metadata().training_rows, 1200);

    // 5. Upload it and make it the shadow: answers stay the default model's.
    let bytes = std::fs::read(&retrained).expect("read the model");
    let r = admin(&server, "POST", "/admin/models", Some(&bytes));
    assert_eq!(r.status, 200, "{}", r.text());
    let new_version = r.json()["model_version"]
        .as_str()
        .expect("version")
        .to_owned();
    assert_eq!(new_version, new_model.version());
    let r = admin(
        &server,
        "POST",
        &format!("/admin/models/{new_version}/shadow"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let more = traffic(400, 78);
    let rows: Vec<&Value> = more.iter().map(|(v, _)| v).collect();
    let r = server.post(
        "/api/predict/batch",
        &json!({ "transactions": rows }).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let answered = r.text();
    assert!(!answered.contains("shadow"), "{answered}");
    for p in r.json()["predictions"].as_array().expect("predictions") {
        assert_eq!(p["model_version"], default_version.as_str());
    }
    let labels: Vec<Value> = more
        .iter()
        .map(|(v, label)| json!({"transaction_id": v["transaction_id"], "is_fraud": label}))
        .collect();
    let r = server.post("/api/feedback", &json!({ "labels": labels }).to_string());
    assert_eq!(r.status, 200, "{}", r.text());

    // 6. Compare: the shadow scored the same 400 transactions, and both
    // models have figures on the labelled ones.
    let r = server.get("/api/shadow");
    assert_eq!(r.status, 200, "{}", r.text());
    let comparison = r.json();
    assert_eq!(comparison["rows"], 400, "{comparison}");
    let agreement = comparison["agreement"].as_f64().expect("agreement");
    assert!((0.0..=1.0).contains(&agreement), "{comparison}");
    let performance = server.get("/api/performance").json();
    let shadow_days = performance["shadow"].as_array().expect("shadow figures");
    assert_eq!(shadow_days.len(), 1, "{performance}");
    assert_eq!(shadow_days[0]["model_version"], new_version.as_str());
    assert_eq!(shadow_days[0]["rows"], 400);
    assert!(
        shadow_days[0]["recall"].as_f64().is_some(),
        "the server holds the shadow, so its threshold decides: {performance}"
    );

    // 7. Activate the new model: it answers from now on.
    let r = admin(
        &server,
        "POST",
        &format!("/admin/models/{new_version}/activate"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(serving(&server), new_version);
    let one = server.post("/api/predict", &more[0].0.to_string()).json();
    assert_eq!(one["model_version"], new_version.as_str());

    // 8. Roll back: the default model answers again, and the manifest says
    // who did what.
    let r = admin(&server, "POST", "/admin/rollback", None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(serving(&server), default_version);
    let one = server.post("/api/predict", &more[1].0.to_string()).json();
    assert_eq!(one["model_version"], default_version.as_str());
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(registry.join("manifest.json")).expect("the manifest"),
    )
    .expect("JSON");
    let actions: Vec<(&str, &str)> = manifest["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap_or(""),
                c["by"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        actions.ends_with(&[
            ("shadow", "loop-test"),
            ("activate", "loop-test"),
            ("rollback", "loop-test")
        ]),
        "{actions:?}"
    );
}

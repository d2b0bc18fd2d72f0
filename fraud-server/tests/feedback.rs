//! Labels, performance, retraining and backups against the real binary on
//! loopback: labels posted over HTTP (and from a CSV) are the rows
//! `retrain` trains on; unknown ids are a 404 naming them and store
//! nothing; `backup` taken while the server writes restores the history
//! and the registry byte for byte.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{model, model_file, request, Resp, Server};
use fraud_engine::Model;
use serde_json::{json, Value};

/// Runs the CLI; (exit success, stdout, stderr).
fn cli(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_fraud-server"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("MODEL_REGISTRY")
        .output()
        .expect("the CLI runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// A transaction that varies with `i`, with its id.
fn transaction(i: usize) -> Value {
    let mut t = Value::Object(common::documented());
    t["amount"] = json!(10.0 + (i * 37 % 900) as f64);
    t["transaction_hour"] = json!(i % 24);
    t["device_trust_score"] = json!((i * 13) % 100);
    t["velocity_last_24h"] = json!(i % 9);
    t["foreign_transaction"] = json!(i % 3 == 0);
    t["transaction_id"] = json!(format!("tx-{i}"));
    t
}

/// The true class the test assigns to transaction `i`.
fn truth(i: usize) -> u8 {
    u8::from(i % 4 == 0 || i % 7 == 0)
}

/// A prediction's `is_fraud` as 0 or 1.
fn decision(v: &Value) -> u8 {
    match v {
        Value::Bool(b) => u8::from(*b),
        Value::Number(n) => u8::from(n.as_u64() == Some(1)),
        other => panic!("is_fraud is {other}"),
    }
}

fn feedback(server: &Server, body: &Value) -> Resp {
    server.post("/api/feedback", &body.to_string())
}

/// Every stored prediction, by transaction id.
fn stored(server: &Server) -> std::collections::HashMap<String, Value> {
    let page = server.get("/api/predictions?limit=1000").json();
    page["predictions"]
        .as_array()
        .expect("predictions")
        .iter()
        .map(|r| {
            (
                r["transaction_id"].as_str().unwrap_or("").to_owned(),
                r.clone(),
            )
        })
        .collect()
}

#[test]
fn labels_posted_over_http_are_the_rows_retrain_trains_on() {
    let server = Server::start(
        "feedback-loop",
        &["--model", path(model_file())],
        &[("RATE_LIMIT_PER_MINUTE", "0")],
    );
    server.wait_ready(30);
    let version = model().version().to_owned();

    // 50 in one batch request, 10 alone, each alone with its request id.
    let batch: Vec<Value> = (0..50).map(transaction).collect();
    let r = server.post(
        "/api/predict/batch",
        &json!({ "transactions": batch }).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let mut flagged = [0u8; 60];
    for (i, p) in r.json()["predictions"]
        .as_array()
        .expect("list")
        .iter()
        .enumerate()
    {
        flagged[i] = decision(&p["is_fraud"]);
    }
    for (i, decided) in flagged.iter_mut().enumerate().skip(50) {
        let body = transaction(i).to_string();
        let id = format!("single-{i}");
        let r = request(
            server.addr,
            "POST",
            "/api/predict",
            &[("Content-Type", "application/json"), ("X-Request-Id", &id)],
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        *decided = decision(&r.json()["is_fraud"]);
    }

    // A batch of 40 by transaction id, 3 alone by request id.
    let labels: Vec<Value> = (0..40)
        .map(|i| json!({"transaction_id": format!("tx-{i}"), "is_fraud": truth(i)}))
        .collect();
    let r = feedback(&server, &json!({ "labels": labels }));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["labels"], 40);
    assert_eq!(r.json()["predictions_labelled"], 40);
    for i in 50..53 {
        let r = feedback(
            &server,
            &json!({"request_id": format!("single-{i}"), "is_fraud": truth(i), "labelled_by": "analyst-7"}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["predictions_labelled"], 1);
    }

    // All or nothing: one unknown id stores none of the batch, and is named.
    let r = feedback(
        &server,
        &json!({"labels": [
            {"transaction_id": "tx-1", "is_fraud": 1 - truth(1)},
            {"transaction_id": "no-such-tx", "is_fraud": 0}
        ]}),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    let body = r.json();
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("no-such-tx"),
        "{body}"
    );
    assert_eq!(body["details"][0]["field"], "transaction_id");
    let r = feedback(&server, &json!({"request_id": "nope-1", "is_fraud": 1}));
    assert_eq!(r.status, 404);
    assert!(r.text().contains("nope-1"));
    // Invalid fields are 422, each named.
    let r = feedback(
        &server,
        &json!({"labels": [{"transaction_id": "tx-2", "is_fraud": 2}, {"is_fraud": 0}]}),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let fields: Vec<String> = r.json()["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d["field"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(fields, ["labels[0].is_fraud", "labels[1].transaction_id"]);

    let rows = stored(&server);
    assert_eq!(
        rows["tx-1"]["label"],
        truth(1),
        "the failed batch changed nothing"
    );
    assert_eq!(
        rows["tx-1"]["labelled_by"], "127.0.0.1",
        "the client's address"
    );
    assert_eq!(rows["tx-51"]["labelled_by"], "analyst-7");
    assert!(rows["tx-45"]["label"].is_null());

    // Five more from a CSV; one unknown id stores nothing unless skipped.
    let dir = common::temp_dir("feedback-files");
    let history = server.dir.join("data").join("history.db");
    let csv = dir.join("labels.csv");
    let mut text = String::from("transaction_id,is_fraud,labelled_by\n");
    for i in 40..45 {
        text.push_str(&format!(
            "tx-{i},{},{}\n",
            truth(i),
            if i == 40 { "chargebacks" } else { "" }
        ));
    }
    text.push_str("tx-unknown,1,\n");
    std::fs::write(&csv, text).expect("write the CSV");
    let (ok, _, err) = cli(&["label", "--history", path(&history), "--data", path(&csv)]);
    assert!(!ok);
    assert!(
        err.contains("transaction_id `tx-unknown`") && err.contains("nothing was stored"),
        "{err}"
    );
    assert!(stored(&server)["tx-40"]["label"].is_null());
    let (ok, out, err) = cli(&[
        "label",
        "--history",
        path(&history),
        "--data",
        path(&csv),
        "--skip-unknown",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("stored 5 labels on 5 predictions; 1 unknown ids skipped"),
        "{out}"
    );
    let rows = stored(&server);
    assert_eq!(rows["tx-40"]["labelled_by"], "chargebacks");
    assert!(rows["tx-41"]["labelled_by"]
        .as_str()
        .expect("by")
        .starts_with("cli:"));

    // Performance: today's figures of the live model on the 48 labels.
    let labelled: Vec<usize> = (0..45).chain(50..53).collect();
    let (mut tp, mut fp, mut frauds) = (0, 0, 0);
    for &i in &labelled {
        tp += u32::from(flagged[i] == 1 && truth(i) == 1);
        fp += u32::from(flagged[i] == 1 && truth(i) == 0);
        frauds += u32::from(truth(i));
    }
    let report = server.get("/api/performance").json();
    assert_eq!(report["labelled_rows"], 48, "{report}");
    let live = report["live"].as_array().expect("live");
    assert_eq!(live.len(), 1, "{report}");
    let today = &fraud_server::handlers::now_rfc3339()[..10];
    assert_eq!(live[0]["day"], today);
    assert_eq!(live[0]["model_version"], version.as_str());
    assert_eq!(live[0]["rows"], 48);
    assert_eq!(live[0]["frauds"], frauds);
    assert_eq!(live[0]["flagged"], tp + fp);
    if tp + fp > 0 {
        let precision = live[0]["precision"].as_f64().expect("precision");
        assert!((precision - f64::from(tp) / f64::from(tp + fp)).abs() < 1e-12);
    }
    let recall = live[0]["recall"].as_f64().expect("recall");
    assert!((recall - f64::from(tp) / f64::from(frauds)).abs() < 1e-12);
    assert!(live[0]["pr_auc"].as_f64().is_some());
    assert_eq!(report["shadow"], json!([]), "no shadow scored these");
    let none = server.get("/api/performance?until=2000-01-01").json();
    assert_eq!(none["labelled_rows"], 0);
    assert_eq!(server.get("/api/performance?since=soon").status, 400);

    // Retrain on exactly those 48 rows (a label delay of 0: all are old
    // enough), oldest first, newest 20% held out.
    let out_model = dir.join("retrained.fem");
    let (ok, out, err) = cli(&[
        "retrain",
        "--history",
        path(&history),
        "--base",
        path(model_file()),
        "--out",
        path(&out_model),
        "--label-delay",
        "0s",
        "--threads",
        "1",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("read 48 labelled predictions"), "{out}");
    let held = (48.0_f64 * 0.2).round() as u64;
    let retrained = Model::load(&out_model).expect("the retrained model loads");
    assert_eq!(retrained.metadata().training_rows, 48 - held);
    assert_eq!(
        retrained.metadata().parent_version.as_deref(),
        Some(version.as_str())
    );
    assert!(
        out.contains(&format!(
            "trained on {} rows, {held} newest held out",
            48 - held
        )),
        "{out}"
    );
    assert!(out.contains("held-out rows, base model") && out.contains("held-out rows, new model"));
    // Labels younger than the delay are left out.
    let (ok, _, err) = cli(&[
        "retrain",
        "--history",
        path(&history),
        "--base",
        path(model_file()),
        "--out",
        path(&dir.join("none.fem")),
        "--label-delay",
        "1h",
    ]);
    assert!(!ok);
    assert!(err.contains("no labelled predictions"), "{err}");
}

/// Every row of the predictions table, in id order.
fn rows_of(db: &Path) -> Vec<Vec<rusqlite::types::Value>> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the database");
    let mut stmt = conn
        .prepare("SELECT * FROM predictions ORDER BY id")
        .expect("select");
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            (0..n)
                .map(|i| r.get::<_, rusqlite::types::Value>(i))
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .expect("rows")
        .collect::<rusqlite::Result<Vec<_>>>()
        .expect("rows read");
    rows
}

#[test]
fn backup_while_serving_and_restore_round_trip() {
    let mut server = Server::start(
        "feedback-backup",
        &["--model", path(model_file())],
        &[("RATE_LIMIT_PER_MINUTE", "0")],
    );
    server.wait_ready(30);
    let dir = common::temp_dir("feedback-backup-files");
    let registry = dir.join("registry");
    let (ok, _, err) = cli(&[
        "models",
        "--registry",
        path(&registry),
        "add",
        path(model_file()),
        "--activate",
    ]);
    assert!(ok, "{err}");
    for i in 0..30 {
        assert_eq!(
            server
                .post("/api/predict", &transaction(i).to_string())
                .status,
            200
        );
    }
    let labels: Vec<Value> = (0..10)
        .map(|i| json!({"transaction_id": format!("tx-{i}"), "is_fraud": truth(i)}))
        .collect();
    assert_eq!(feedback(&server, &json!({ "labels": labels })).status, 200);

    // Traffic keeps coming while the backup is taken.
    let running = Arc::new(AtomicBool::new(true));
    let sender = common::predict_until(server.addr, Arc::clone(&running), |n| {
        transaction(100 + n).to_string()
    });
    std::thread::sleep(std::time::Duration::from_millis(100));
    let history = server.dir.join("data").join("history.db");
    let backup = dir.join("backup");
    let (ok, out, err) = cli(&[
        "backup",
        "--history",
        path(&history),
        "--registry",
        path(&registry),
        "--out",
        path(&backup),
    ]);
    running.store(false, Ordering::SeqCst);
    let sent_during = sender.join().expect("the sender");
    assert!(ok, "{err}");
    assert!(out.contains("(10 labelled"), "{out}");
    let record: Value =
        serde_json::from_slice(&std::fs::read(backup.join("backup.json")).expect("backup.json"))
            .expect("JSON");
    let in_backup = record["history"]["predictions"].as_u64().expect("count") as usize;
    assert!(in_backup >= 30, "{record}");
    assert_eq!(record["registry"]["active"], model().version());
    assert!(sent_during > 0);

    // A second backup into the same directory is refused.
    let (ok, _, err) = cli(&[
        "backup",
        "--history",
        path(&history),
        "--registry",
        path(&registry),
        "--out",
        path(&backup),
    ]);
    assert!(!ok && err.contains("not empty"), "{err}");

    server.signal("TERM");
    assert_eq!(server.wait_exit(20), Some(0));
    let source_rows = rows_of(&history);
    assert!(source_rows.len() >= in_backup);

    // Restore into new places: the history is the backup's file, byte for
    // byte, and the rows the server had committed when it was taken.
    let restored = dir.join("restored").join("history.db");
    let restored_registry = dir.join("restored-registry");
    let (ok, out, err) = cli(&[
        "restore",
        path(&backup),
        "--history",
        path(&restored),
        "--registry",
        path(&restored_registry),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("passed its golden set"), "{out}");
    assert_eq!(
        std::fs::read(&restored).expect("restored"),
        std::fs::read(backup.join("history.db")).expect("backup")
    );
    assert_eq!(rows_of(&restored), source_rows[..in_backup]);
    assert_eq!(
        std::fs::read(restored_registry.join("manifest.json")).expect("manifest"),
        std::fs::read(registry.join("manifest.json")).expect("manifest")
    );
    let model_name = format!("models/{}.fem", model().version());
    assert_eq!(
        std::fs::read(restored_registry.join(&model_name)).expect("model"),
        std::fs::read(registry.join(&model_name)).expect("model")
    );

    // Not over a history in use without --force; with it, yes.
    let (ok, _, err) = cli(&[
        "restore",
        path(&backup),
        "--history",
        path(&restored),
        "--registry",
        path(&restored_registry),
    ]);
    assert!(!ok && err.contains("--force"), "{err}");
    let (ok, _, err) = cli(&[
        "restore",
        path(&backup),
        "--history",
        path(&restored),
        "--registry",
        path(&restored_registry),
        "--force",
    ]);
    assert!(ok, "{err}");

    // A damaged model file in the backup stops the restore before anything.
    let damaged = backup.join("registry").join(&model_name);
    let mut bytes = std::fs::read(&damaged).expect("model");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&damaged, bytes).expect("damage");
    let elsewhere = dir.join("elsewhere.db");
    let (ok, _, err) = cli(&[
        "restore",
        path(&backup),
        "--history",
        path(&elsewhere),
        "--registry",
        path(&dir.join("r3")),
    ]);
    assert!(!ok && err.contains("damaged"), "{err}");
    assert!(!elsewhere.exists());
}

#[test]
fn feedback_needs_the_api_key_and_names_its_holder() {
    let server = Server::start(
        "feedback-key",
        &["--model", path(model_file())],
        &[("API_KEY", "s3cret")],
    );
    server.wait_ready(30);
    let key = [
        ("Content-Type", "application/json"),
        ("X-API-Key", "s3cret"),
    ];
    let body = transaction(1).to_string();
    let r = request(
        server.addr,
        "POST",
        "/api/predict",
        &key,
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 200);
    let label = json!({"transaction_id": "tx-1", "is_fraud": 1}).to_string();
    assert_eq!(server.post("/api/feedback", &label).status, 401);
    let r = request(
        server.addr,
        "POST",
        "/api/feedback",
        &key,
        Some(label.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let page = request(server.addr, "GET", "/api/predictions", &key, None).json();
    let by = page["predictions"][0]["labelled_by"].as_str().expect("by");
    assert!(by.starts_with("api-key:") && !by.contains("s3cret"), "{by}");
    assert_eq!(server.get("/api/performance").status, 401);
}

//! The model lifecycle against the real binary on loopback: the admin API
//! (a model failing its golden set is refused while the old one serves;
//! activations and rollbacks under load fail no request), shadow scoring
//! (in the history, never in an answer), drift (PSI per feature), and the
//! start-up and SIGHUP rules.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::{model, model_file, request, small_model, Resp, Server, DOCUMENTED};
use fraud_engine::Model;
use serde_json::{json, Value};

const ADMIN_KEY: &str = "admin-test-key";

/// A second model, for activations, rollbacks and the shadow.
fn other_model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| small_model(12))
}

fn admin(server: &Server, method: &str, path: &str, body: Option<&[u8]>) -> Resp {
    request(
        server.addr,
        method,
        path,
        &[
            ("X-Admin-Key", ADMIN_KEY),
            ("X-Admin-User", "test-operator"),
        ],
        body,
    )
}

fn start(name: &str, extra: &[&str]) -> Server {
    let server = Server::start(
        name,
        extra,
        &[("ADMIN_API_KEY", ADMIN_KEY), ("RATE_LIMIT_PER_MINUTE", "0")],
    );
    server.wait_ready(30);
    server
}

fn serving(server: &Server) -> String {
    server.get("/ready").json()["model_version"]
        .as_str()
        .expect("a serving model")
        .to_owned()
}

fn upload(server: &Server, model: &Model) -> String {
    let r = admin(
        server,
        "POST",
        "/admin/models",
        Some(&model.to_bytes().expect("bytes")),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let version = r.json()["model_version"]
        .as_str()
        .expect("version")
        .to_owned();
    assert_eq!(version, model.version());
    version
}

/// CRC-32 (IEEE), as the model file's header holds it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `model`'s file with the lowest bit of one golden probability flipped
/// and the checksum recomputed: a file that is whole and decodes, but does
/// not reproduce its golden set.
fn golden_mismatch(model: &Model) -> Vec<u8> {
    let mut bytes = model.to_bytes().expect("bytes");
    let payload = fraud_engine::format::HEADER_LEN;
    let found = model
        .metadata()
        .golden
        .probabilities
        .iter()
        .find_map(|p| {
            let pattern = p.to_le_bytes();
            let at: Vec<usize> = bytes[payload..]
                .windows(8)
                .enumerate()
                .filter(|(_, w)| *w == pattern)
                .map(|(i, _)| payload + i)
                .collect();
            // A probability written once is the golden one, nowhere else.
            (at.len() == 1).then(|| at[0])
        })
        .expect("a golden probability written once in the file");
    bytes[found] ^= 1;
    let crc = crc32(&bytes[payload..]);
    bytes[24..28].copy_from_slice(&crc.to_le_bytes());
    bytes
}

#[test]
fn a_model_failing_its_golden_set_is_refused_while_the_old_one_serves() {
    let server = start(
        "golden",
        &["--model", model_file().to_str().expect("utf-8")],
    );
    let old = model().version().to_owned();
    let bad = golden_mismatch(other_model());
    assert!(matches!(
        Model::from_bytes(&bad),
        Err(fraud_engine::Error::GoldenSetMismatch { .. })
    ));

    // The admin key is checked before anything is read.
    for key in [None, Some("wrong"), Some("")] {
        let headers: Vec<(&str, &str)> = key.map(|k| ("X-Admin-Key", k)).into_iter().collect();
        let r = request(server.addr, "POST", "/admin/models", &headers, Some(&bad));
        assert_eq!(r.status, 401, "{key:?}: {}", r.text());
    }
    // The API key's door is not the admin's.
    let r = request(
        server.addr,
        "GET",
        "/admin/models",
        &[("X-API-Key", ADMIN_KEY)],
        None,
    );
    assert_eq!(r.status, 401);

    let r = admin(&server, "POST", "/admin/models", Some(&bad));
    assert_eq!(r.status, 422, "{}", r.text());
    let error = r.json()["error"].as_str().expect("error").to_owned();
    assert!(error.contains("golden set"), "{error}");
    wait_for_log(&server, "refused an uploaded model");

    // The old model keeps serving, and the registry holds only it.
    assert_eq!(serving(&server), old);
    let p = server.post("/api/predict", DOCUMENTED);
    assert_eq!(p.status, 200);
    assert_eq!(p.json()["model_version"], old.as_str());
    assert_eq!(server.get("/api/drift").json()["window"]["transactions"], 1);
    let listing = admin(&server, "GET", "/admin/models", None).json();
    assert_eq!(listing["active"], old.as_str());
    let versions: Vec<&str> = listing["models"]
        .as_array()
        .expect("models")
        .iter()
        .map(|m| m["model_version"].as_str().expect("version"))
        .collect();
    assert_eq!(versions, [old.as_str()]);
    assert_eq!(listing["models"][0]["state"], "active");

    // A good upload is stored but does not serve until activated.
    let new = upload(&server, other_model());
    assert_eq!(serving(&server), old);
    let r = admin(
        &server,
        "POST",
        &format!("/admin/models/{new}/activate"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["active"], new.as_str());
    assert_eq!(serving(&server), new);
    // The activated model starts its own drift window.
    let drift = server.get("/api/drift").json();
    assert_eq!(drift["model_version"], new.as_str());
    assert_eq!(drift["window"]["transactions"], 0);
    // Unknown and malformed versions are named.
    let r = admin(
        &server,
        "POST",
        "/admin/models/0123456789abcdef/activate",
        None,
    );
    assert_eq!(r.status, 404);
    assert!(r.text().contains("0123456789abcdef"), "{}", r.text());
    let r = admin(&server, "POST", "/admin/models/nope/activate", None);
    assert_eq!(r.status, 400, "{}", r.text());
    // The registry recorded who did what.
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(server.dir.join("data/models/manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    let last = manifest["history"]
        .as_array()
        .expect("history")
        .last()
        .cloned();
    assert_eq!(
        last.as_ref().map(|c| &c["by"]),
        Some(&json!("test-operator"))
    );
}

#[test]
fn the_admin_api_is_off_without_its_key() {
    let server = Server::start(
        "no-admin",
        &["--model", model_file().to_str().expect("utf-8")],
        &[("API_KEY", "api-key")],
    );
    server.wait_ready(30);
    for (method, path) in [
        ("GET", "/admin/models"),
        ("POST", "/admin/rollback"),
        ("DELETE", "/admin/shadow"),
    ] {
        let r = request(
            server.addr,
            method,
            path,
            &[("X-Admin-Key", "api-key")],
            None,
        );
        assert_eq!(r.status, 404, "{method} {path}");
    }
}

#[test]
fn a_damaged_model_file_is_listed_with_its_problem_and_hides_no_other() {
    let server = start(
        "damaged-listing",
        &["--model", model_file().to_str().expect("utf-8")],
    );
    let old = serving(&server);
    let new = upload(&server, other_model());
    // A stored file changed on disk: its bytes no longer add up.
    let path = server.dir.join(format!("data/models/models/{new}.fem"));
    let mut bytes = std::fs::read(&path).expect("the stored file");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xFF;
    std::fs::write(&path, &bytes).expect("write");

    let r = admin(&server, "GET", "/admin/models", None);
    assert_eq!(r.status, 200, "{}", r.text());
    let listing = r.json();
    let models = listing["models"].as_array().expect("models");
    assert_eq!(models.len(), 2, "{listing}");
    // The healthy model first, with its card; the damaged one after it,
    // with why it cannot be used instead of a card.
    assert_eq!(models[0]["model_version"], old.as_str());
    assert_eq!(models[0]["state"], "active");
    assert!(models[0]["created"].is_string() && models[0].get("problem").is_none());
    assert_eq!(models[1]["model_version"], new.as_str());
    assert_eq!(models[1]["state"], "stored");
    assert!(models[1].get("created").is_none(), "{listing}");
    let problem = models[1]["problem"].as_str().expect("a problem");
    assert!(problem.contains("corrupt model"), "{problem}");
    assert_eq!(models[1]["file_bytes"], bytes.len());
    // It cannot be activated, and the CLI lists it the same way.
    let r = admin(
        &server,
        "POST",
        &format!("/admin/models/{new}/activate"),
        None,
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(serving(&server), old);
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_fraud-server"))
        .args(["models", "list"])
        .env("MODEL_REGISTRY", server.dir.join("data/models"))
        .output()
        .expect("the CLI runs");
    let text = String::from_utf8_lossy(&cli.stdout);
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert!(text.contains(&format!("{old}  active")), "{text}");
    assert!(
        text.contains(&format!(
            "{new}  stored  UNUSABLE: model refused: corrupt model at byte"
        )),
        "{text}"
    );
}

#[test]
fn admin_requests_are_never_rate_limited_by_prediction_traffic() {
    let server = Server::start(
        "admin-limits",
        &["--model", model_file().to_str().expect("utf-8")],
        &[("ADMIN_API_KEY", ADMIN_KEY), ("RATE_LIMIT_PER_MINUTE", "2")],
    );
    server.wait_ready(30);
    let statuses: Vec<u16> = (0..3)
        .map(|_| server.post("/api/predict", DOCUMENTED).status)
        .collect();
    assert_eq!(statuses, [200, 200, 429]);
    for _ in 0..5 {
        assert_eq!(admin(&server, "GET", "/admin/models", None).status, 200);
        assert_eq!(admin(&server, "DELETE", "/admin/shadow", None).status, 200);
    }
    assert_eq!(server.post("/api/predict", DOCUMENTED).status, 429);
}

fn wait_for_log(server: &Server, needle: &str) {
    if !common::eventually(10, || server.stderr().contains(needle)) {
        panic!("no `{needle}` in the log: {}", server.stderr());
    }
}

#[test]
fn a_hundred_activations_and_rollbacks_under_load_fail_no_request() {
    let server = start("swaps", &["--model", model_file().to_str().expect("utf-8")]);
    let (a, b) = (model().version().to_owned(), upload(&server, other_model()));
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let addr = server.addr;
    let clients: Vec<_> = (0..3)
        .map(|i| {
            let (stop, answered, failures, seen) = (
                stop.clone(),
                answered.clone(),
                failures.clone(),
                seen.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let r = if i == 0 {
                        let batch = format!(r#"{{"transactions":[{DOCUMENTED},{DOCUMENTED}]}}"#);
                        request(
                            addr,
                            "POST",
                            "/api/predict/batch",
                            &[("Content-Type", "application/json")],
                            Some(batch.as_bytes()),
                        )
                    } else {
                        request(
                            addr,
                            "POST",
                            "/api/predict",
                            &[("Content-Type", "application/json")],
                            Some(DOCUMENTED.as_bytes()),
                        )
                    };
                    if r.status != 200 {
                        failures
                            .lock()
                            .expect("failures")
                            .push((r.status, r.text()));
                        continue;
                    }
                    let v = r.json();
                    let versions = match v.get("predictions") {
                        Some(list) => list
                            .as_array()
                            .expect("predictions")
                            .iter()
                            .map(|p| p["model_version"].as_str().expect("version").to_owned())
                            .collect(),
                        None => vec![v["model_version"].as_str().expect("version").to_owned()],
                    };
                    seen.lock().expect("seen").extend(versions);
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for round in 0..50 {
        let r = admin(
            &server,
            "POST",
            &format!("/admin/models/{b}/activate"),
            None,
        );
        assert_eq!(r.status, 200, "activation {round}: {}", r.text());
        assert_eq!(r.json()["active"], b.as_str());
        let r = admin(&server, "POST", "/admin/rollback", None);
        assert_eq!(r.status, 200, "rollback {round}: {}", r.text());
        assert_eq!(r.json()["active"], a.as_str());
    }
    // Some traffic after the last swap, too.
    let until = answered.load(Ordering::Relaxed) + 20;
    while answered.load(Ordering::Relaxed) < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client");
    }
    let failures = failures.lock().expect("failures");
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let seen = seen.lock().expect("seen");
    assert_eq!(
        seen.iter().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut both = vec![a.as_str(), b.as_str()];
            both.sort();
            both
        },
        "answers named both models"
    );
    assert_eq!(serving(&server), a);
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(server.dir.join("data/models/manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    // The start-up activation, then 50 activations and 50 rollbacks.
    assert_eq!(manifest["history"].as_array().expect("history").len(), 101);
    println!(
        "{} requests answered during 100 swaps",
        answered.load(Ordering::Relaxed)
    );
}

#[test]
fn shadow_scores_are_in_the_history_and_never_in_an_answer() {
    let server = start(
        "shadow",
        &["--model", model_file().to_str().expect("utf-8")],
    );
    let live = model().version().to_owned();
    let shadow = upload(&server, other_model());
    let r = admin(&server, "GET", "/api/shadow", None);
    assert_eq!(r.status, 409, "no shadow yet: {}", r.text());
    let r = admin(
        &server,
        "POST",
        &format!("/admin/models/{shadow}/shadow"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"active": live, "shadow": shadow}));

    let transactions: Vec<Value> = fraud_engine::synth::transactions(30, 5)
        .map(|t| transaction_json(&t, 1.0))
        .collect();
    for t in &transactions[..10] {
        let r = server.post("/api/predict", &t.to_string());
        assert_eq!(r.status, 200);
        assert!(!r.text().contains("shadow"), "{}", r.text());
        assert!(!r.text().contains(shadow.as_str()), "{}", r.text());
        assert_eq!(r.json()["model_version"], live.as_str());
    }
    let batch = json!({"transactions": &transactions[10..]}).to_string();
    let r = server.post("/api/predict/batch", &batch);
    assert_eq!(r.status, 200);
    assert!(!r.text().contains("shadow"), "{}", r.text());
    assert!(!r.text().contains(shadow.as_str()));

    // The history has both scores: the shadow's is what the shadow model
    // gives the same transaction.
    let page = server.get("/api/predictions?limit=30").json();
    let records = page["predictions"].as_array().expect("records");
    assert_eq!(records.len(), 30);
    for record in records {
        assert_eq!(record["model_version"], live.as_str());
        assert_eq!(record["shadow_version"], shadow.as_str());
        let features: serde_json::Map<String, Value> =
            serde_json::from_value(record["features"].clone()).expect("an object");
        let expected = other_model().predict(&features).expect("scores");
        assert_eq!(
            record["shadow_probability"].as_f64(),
            Some(expected.fraud_probability),
            "{record}"
        );
        let live_expected = model().predict(&features).expect("scores");
        assert_eq!(
            record["fraud_probability"].as_f64(),
            Some(live_expected.fraud_probability)
        );
    }

    let report = server.get("/api/shadow").json();
    assert_eq!(report["live_version"], live.as_str());
    assert_eq!(report["shadow_version"], shadow.as_str());
    assert_eq!(report["rows"], 30);
    let agreement = report["agreement"].as_f64().expect("agreement");
    assert!((0.0..=1.0).contains(&agreement), "{report}");
    assert!(report["mean_abs_difference"].as_f64().expect("difference") > 0.0);
    assert_eq!(report["labelled_rows"], 0);
    assert_eq!(server.get("/api/shadow?limit=5").json()["rows"], 5);
    assert_eq!(server.get("/api/shadow?limit=0").status, 400);

    // Without a shadow, nothing more is stored next to the live score.
    let r = admin(&server, "DELETE", "/admin/shadow", None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["shadow"], Value::Null);
    assert_eq!(server.post("/api/predict", DOCUMENTED).status, 200);
    let newest = &server.get("/api/predictions?limit=1").json()["predictions"][0];
    assert_eq!(newest["shadow_version"], Value::Null);
    assert_eq!(newest["shadow_probability"], Value::Null);
    assert_eq!(server.get("/api/shadow").status, 409);
}

/// A synthetic transaction as a request body, its amount multiplied by
/// `amount_factor`.
fn transaction_json(t: &fraud_engine::synth::Transaction, amount_factor: f64) -> Value {
    json!({
        "amount": t.amount * amount_factor,
        "transaction_hour": t.transaction_hour,
        "merchant_category": t.merchant_category,
        "foreign_transaction": u8::from(t.foreign_transaction),
        "location_mismatch": u8::from(t.location_mismatch),
        "device_trust_score": t.device_trust_score,
        "velocity_last_24h": t.velocity_last_24h,
        "cardholder_age": t.cardholder_age,
    })
}

fn psi_of(report: &Value, feature: &str) -> f64 {
    report["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["feature"] == feature)
        .and_then(|f| f["psi"].as_f64())
        .unwrap_or_else(|| panic!("no PSI for {feature} in {report}"))
}

/// The drift model: enough trees and rows that its out-of-bag score
/// reference is smooth (with few trees it is noisy, and so is the score's PSI).
fn drift_model_file(dir: &Path) -> std::path::PathBuf {
    let data = fraud_engine::synth::generate(6000, 21);
    let params = fraud_engine::TrainParams {
        n_trees: 60,
        max_depth: 8.into(),
        seed: 21,
        ..fraud_engine::TrainParams::default()
    };
    let model = fraud_engine::train(&data, &params).expect("trains");
    let path = dir.join("drift-model.fem");
    model.save(&path).expect("save");
    path
}

fn send_batch(server: &Server, rows: &[Value]) {
    for chunk in rows.chunks(500) {
        let r = server.post(
            "/api/predict/batch",
            &json!({ "transactions": chunk }).to_string(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

#[test]
fn psi_rises_past_significant_for_shifted_traffic_and_stays_stable_otherwise() {
    let dir = common::temp_dir("drift-model");
    let model_path = drift_model_file(&dir);
    let server = start(
        "drift",
        &[
            "--model",
            model_path.to_str().expect("utf-8"),
            "--drift-window",
            "3000",
        ],
    );
    let empty = server.get("/api/drift").json();
    assert_eq!(empty["window"]["transactions"], 0);
    assert_eq!(empty["window"]["capacity"], 3000);
    assert!(!server.get("/metrics").text().contains("fraud_feature_psi{"));

    // Traffic like the training data: every feature stable.
    let like: Vec<Value> = fraud_engine::synth::transactions(3000, 77)
        .map(|t| transaction_json(&t, 1.0))
        .collect();
    send_batch(&server, &like);
    let report = server.get("/api/drift").json();
    assert_eq!(report["window"]["transactions"], 3000);
    assert!(report["window"]["from"].is_string() && report["window"]["to"].is_string());
    for f in report["features"].as_array().expect("features") {
        let psi = f["psi"].as_f64().expect("psi");
        assert!(psi < 0.1, "{}: {psi} ({report})", f["feature"]);
        assert_eq!(f["band"], "stable");
    }
    let score_psi = report["score"]["psi"].as_f64().expect("score psi");
    assert!(
        score_psi < 0.1,
        "score PSI {score_psi} on training-like traffic"
    );
    println!(
        "training-like: amount PSI {:.4}, score PSI {score_psi:.4}",
        psi_of(&report, "amount")
    );
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.contains("fraud_feature_psi{feature=\"amount\""),
        "{metrics}"
    );
    assert!(metrics.contains("fraud_score_psi{"), "{metrics}");

    // The same traffic with every amount five times larger: the window
    // fills with it, and only the amount moves.
    let shifted: Vec<Value> = fraud_engine::synth::transactions(3000, 78)
        .map(|t| transaction_json(&t, 5.0))
        .collect();
    send_batch(&server, &shifted);
    let report = server.get("/api/drift").json();
    let amount = psi_of(&report, "amount");
    assert!(amount > 0.25, "amount PSI {amount}");
    println!(
        "amounts x5: amount PSI {amount:.4}, cardholder_age PSI {:.4}, score PSI {:.4}",
        psi_of(&report, "cardholder_age"),
        report["score"]["psi"].as_f64().unwrap_or(f64::NAN)
    );
    let moved = report["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["feature"] == "amount")
        .expect("amount");
    assert_eq!(moved["band"], "significant");
    assert!(!moved["top_moving_bins"]
        .as_array()
        .expect("bins")
        .is_empty());
    for unmoved in ["cardholder_age", "transaction_hour", "merchant_category"] {
        let psi = psi_of(&report, unmoved);
        assert!(psi < 0.1, "{unmoved}: {psi}");
    }
    let metrics = server.get("/metrics").text();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("fraud_feature_psi{feature=\"amount\""))
        .expect("the amount's PSI");
    let exported: f64 = line
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("a value");
    assert!(exported > 0.25, "{line}");
}

#[test]
fn startup_and_sighup_follow_the_file_and_the_manifest() {
    let dir = common::temp_dir("rules");
    let file = dir.join("model.fem");
    std::fs::copy(model_file(), &file).expect("copy");
    let file_arg = file.to_str().expect("utf-8").to_owned();
    let env = [("ADMIN_API_KEY", ADMIN_KEY)];
    let (a, b) = (
        model().version().to_owned(),
        other_model().version().to_owned(),
    );

    // First start: the file is activated "by startup"; then B is uploaded
    // and activated over the admin API.
    {
        let server = Server::start_in(&dir, &["--model", &file_arg], &env);
        server.wait_ready(30);
        assert_eq!(serving(&server), a);
        upload(&server, other_model());
        assert_eq!(
            admin(
                &server,
                "POST",
                &format!("/admin/models/{b}/activate"),
                None
            )
            .status,
            200
        );
        assert_eq!(serving(&server), b);
    }
    // The same file again: the manifest's choice (B) stands.
    let mut server = Server::start_in(&dir, &["--model", &file_arg], &env);
    server.wait_ready(30);
    assert_eq!(serving(&server), b);

    // SIGHUP with the file unchanged and the manifest changed by the CLI:
    // the manifest's change is served. The CLI finds the server's registry
    // from DATA_DIR, as the server does.
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_fraud-server"))
        .args(["models", "rollback"])
        .env("DATA_DIR", dir.join("data"))
        .env_remove("MODEL_REGISTRY")
        .output()
        .expect("the CLI runs");
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    server.signal("HUP");
    wait_until(|| serving(&server) == a);
    wait_for_log(&server, "reloaded the models from the registry");

    // SIGHUP after the file changed: its model is added and activated.
    let c = small_model(13);
    c.save(&file).expect("save");
    server.signal("HUP");
    wait_until(|| serving(&server) == c.version());
    // A file that fails its golden set: logged, the old model serves.
    std::fs::write(&file, golden_mismatch(&small_model(14))).expect("write");
    server.signal("HUP");
    wait_for_log(&server, "golden set");
    assert_eq!(serving(&server), c.version());
    assert_eq!(server.post("/api/predict", DOCUMENTED).status, 200);
    server.signal("TERM");
    assert_eq!(server.wait_exit(30), Some(0));
    drop(server);

    // The active version's stored file is damaged: the server refuses to
    // start, naming the version and why.
    let stored = dir.join(format!("data/models/models/{}.fem", c.version()));
    std::fs::write(&stored, golden_mismatch(&c)).expect("damage");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fraud-server"))
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(dir.join("data"))
        .env_remove("MODEL_PATH")
        .env_remove("MODEL_REGISTRY")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(c.version()), "{err}");
    assert!(err.contains("golden set"), "{err}");
}

fn wait_until(done: impl FnMut() -> bool) {
    assert!(
        common::eventually(10, done),
        "condition not reached in 10 s"
    );
}

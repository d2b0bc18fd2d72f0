//! Every endpoint through `routes(state)` with `warp::test`: the documented
//! request and response, each kind of bad input, auth, rate limiting, CORS,
//! history, metrics and the UI's files.

mod common;

use common::{documented, model, settings, state_with, state_without_model, DOCUMENTED};
use fraud_server::{routes, Settings};
use serde_json::{json, Value};
use warp::http::Response;

async fn post(state: &fraud_server::AppState, path: &str, body: &str) -> Response<bytes::Bytes> {
    warp::test::request()
        .method("POST")
        .path(path)
        .header("content-type", "application/json")
        .body(body)
        .reply(&routes(state.clone()))
        .await
}

async fn get(state: &fraud_server::AppState, path: &str) -> Response<bytes::Bytes> {
    warp::test::request()
        .path(path)
        .reply(&routes(state.clone()))
        .await
}

fn body(r: &Response<bytes::Bytes>) -> Value {
    serde_json::from_slice(r.body())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(r.body())))
}

/// The `field`s named in an error response's details.
fn fields(v: &Value) -> Vec<String> {
    v["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d["field"].as_str().expect("field").to_owned())
        .collect()
}

#[tokio::test]
async fn documented_request_gets_the_documented_response() {
    let state = state_with(settings());
    let mut tx = documented();
    tx.insert("transaction_id".into(), json!("TX-1001"));
    let r = post(&state, "/api/predict", &Value::Object(tx).to_string()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert!(r.headers().contains_key("x-request-id"));
    let v = body(&r);
    let expected = model().predict(&documented()).expect("engine scores");
    assert_eq!(v["is_fraud"], json!(u8::from(expected.is_fraud)));
    assert_eq!(
        v["fraud_probability"].as_f64(),
        Some(expected.fraud_probability)
    );
    assert_eq!(v["risk_level"], expected.risk_level.as_str());
    assert_eq!(v["model_version"], model().metadata().model_id.as_str());
    assert_eq!(v["threshold"].as_f64(), Some(model().threshold()));
    assert_eq!(v["transaction_id"], "TX-1001");
    assert_eq!(v["warnings"], json!([]));
}

#[tokio::test]
async fn a_caller_request_id_is_echoed_and_a_bad_one_replaced() {
    let state = state_with(settings());
    let r = warp::test::request()
        .method("POST")
        .path("/api/predict")
        .header("x-request-id", "abc-123")
        .header("content-type", "application/json")
        .body(DOCUMENTED)
        .reply(&routes(state.clone()))
        .await;
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = warp::test::request()
        .path("/health")
        .header("x-request-id", "has spaces and <html>")
        .reply(&routes(state.clone()))
        .await;
    let id = r.headers()["x-request-id"].to_str().expect("ascii");
    assert!(!id.contains(' ') && !id.is_empty(), "{id}");
}

#[tokio::test]
async fn unknown_category_scores_with_a_warning() {
    let state = state_with(settings());
    let mut tx = documented();
    tx.insert("merchant_category".into(), json!("Spaceships"));
    let r = post(&state, "/api/predict", &Value::Object(tx).to_string()).await;
    assert_eq!(r.status(), 200);
    let v = body(&r);
    assert_eq!(v["warnings"][0]["field"], "merchant_category");
    assert!(v["warnings"][0]["message"]
        .as_str()
        .expect("message")
        .contains("unknown"));
}

#[tokio::test]
async fn every_bad_field_is_named() {
    let state = state_with(settings());
    let r = post(
        &state,
        "/api/predict",
        r#"{"amount":"lots","transaction_hour":25,"merchant_category":[1],"foreign_transaction":7,
            "location_mismatch":0,"device_trust_score":-1,"cardholder_age":35,"transaction_id":{"a":1}}"#,
    )
    .await;
    assert_eq!(r.status(), 422);
    let v = body(&r);
    let named = fields(&v);
    for field in [
        "amount",
        "transaction_hour",
        "merchant_category",
        "foreign_transaction",
        "device_trust_score",
        "velocity_last_24h",
        "transaction_id",
    ] {
        assert!(named.iter().any(|f| f == field), "{field} not in {named:?}");
    }
    assert!(!named.iter().any(|f| f == "cardholder_age"), "{named:?}");
    assert!(v["error"].as_str().expect("error").contains("amount"));
    let missing = v["details"]
        .as_array()
        .expect("details")
        .iter()
        .find(|d| d["field"] == "velocity_last_24h")
        .expect("missing field listed");
    assert_eq!(missing["reason"], "missing field");
}

#[tokio::test]
async fn malformed_bodies_are_400_naming_the_body() {
    let state = state_with(settings());
    let deep = "[".repeat(5000) + &"]".repeat(5000);
    for (text, needle) in [
        ("{\"amount\": 250", "ends early"),
        ("not json", "invalid JSON"),
        ("[1, 2, 3]", "expected a JSON object, got an array"),
        (deep.as_str(), "nested deeper than 128 levels"),
        ("", "ends early"),
        (
            "{\"amount\": 1, \"amount\": 2}",
            "the key `amount` appears twice in one object",
        ),
    ] {
        let r = post(&state, "/api/predict", text).await;
        assert_eq!(r.status(), 400, "{text:.40}");
        let v = body(&r);
        assert_eq!(fields(&v), ["body"], "{text:.40}");
        let reason = v["details"][0]["reason"].as_str().expect("reason");
        assert!(reason.contains(needle), "{text:.40}: {reason}");
    }
}

/// Values that are not numbers, or not finite ones, are the field's problem:
/// 422 naming it, as for any bad value (they were a 400 naming the body).
#[tokio::test]
async fn values_that_are_not_finite_numbers_are_422_naming_the_field() {
    let state = state_with(settings());
    for (value, reason) in [
        ("NaN", "expected a number, got NaN (not a number)"),
        (
            "Infinity",
            "expected a number, got Infinity (not a finite number)",
        ),
        (
            "-Infinity",
            "expected a number, got Infinity (not a finite number)",
        ),
        (
            "1e999",
            "expected a number, got a number too large for a double",
        ),
        ("true", "expected a number, got true"),
    ] {
        let text = DOCUMENTED.replace("\"amount\":250.0", &format!("\"amount\":{value}"));
        let r = post(&state, "/api/predict", &text).await;
        assert_eq!(r.status(), 422, "{value}");
        let v = body(&r);
        assert_eq!(fields(&v), ["amount"], "{value}");
        assert_eq!(v["details"][0]["reason"], reason);
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let mut s = settings();
    s.limits.body_bytes = 300;
    let state = state_with(s);
    let padded = format!(r#"{{"pad":"{}",{}"#, "x".repeat(400), &DOCUMENTED[1..]);
    let r = post(&state, "/api/predict", &padded).await;
    assert_eq!(r.status(), 413);
    assert!(body(&r)["error"]
        .as_str()
        .expect("error")
        .contains("300 bytes"));
    assert_eq!(post(&state, "/api/predict", DOCUMENTED).await.status(), 200);
}

#[tokio::test]
async fn batch_scores_in_order_and_enforces_its_limits() {
    let state = state_with(settings());
    let rows: Vec<Value> = fraud_engine::synth::transactions(50, 3)
        .enumerate()
        .map(|(i, t)| {
            json!({"transaction_id": i, "amount": t.amount, "transaction_hour": t.transaction_hour,
                   "merchant_category": t.merchant_category, "foreign_transaction": u8::from(t.foreign_transaction),
                   "location_mismatch": u8::from(t.location_mismatch), "device_trust_score": t.device_trust_score,
                   "velocity_last_24h": t.velocity_last_24h, "cardholder_age": t.cardholder_age})
        })
        .collect();
    let r = post(
        &state,
        "/api/predict/batch",
        &json!({ "transactions": rows }).to_string(),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v = body(&r);
    let predictions = v["predictions"].as_array().expect("predictions");
    assert_eq!(predictions.len(), 50);
    for (i, (p, row)) in predictions.iter().zip(&rows).enumerate() {
        let single = model()
            .predict(row.as_object().expect("object"))
            .expect("scores");
        assert_eq!(p["transaction_id"], json!(i));
        assert_eq!(
            p["fraud_probability"].as_f64(),
            Some(single.fraud_probability)
        );
    }

    // Over the count limit (100 in these settings): 413.
    let many = vec![documented(); 101];
    let r = post(
        &state,
        "/api/predict/batch",
        &json!({ "transactions": many }).to_string(),
    )
    .await;
    assert_eq!(r.status(), 413);
    assert!(body(&r)["error"]
        .as_str()
        .expect("error")
        .contains("at most 100"));

    // Shape problems: 400 naming the element.
    let r = post(&state, "/api/predict/batch", r#"{"transactions":[{}, 5]}"#).await;
    assert_eq!(r.status(), 400);
    assert_eq!(fields(&body(&r)), ["transactions[1]"]);
    for text in [r#"{"rows":[]}"#, r#"{"transactions":{}}"#] {
        let r = post(&state, "/api/predict/batch", text).await;
        assert_eq!(r.status(), 400);
        assert_eq!(fields(&body(&r)), ["transactions"]);
    }

    // Bad fields: 422 naming row and field.
    let mut bad = documented();
    bad.insert("cardholder_age".into(), json!(-3));
    let r = post(
        &state,
        "/api/predict/batch",
        &json!({ "transactions": [documented(), bad] }).to_string(),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(fields(&body(&r)), ["transactions[1].cardholder_age"]);

    // An empty batch is fine.
    let r = post(&state, "/api/predict/batch", r#"{"transactions":[]}"#).await;
    assert_eq!(body(&r), json!({"predictions": []}));
}

#[tokio::test]
async fn health_ready_and_model_before_and_after_loading() {
    let state = state_without_model(settings());
    let h = body(&get(&state, "/health").await);
    assert_eq!(h["status"], "healthy");
    assert_eq!(h["model_loaded"], false);
    let ts = h["timestamp"].as_str().expect("timestamp");
    assert!(humantime::parse_rfc3339(ts).is_ok(), "{ts}");
    assert_eq!(get(&state, "/ready").await.status(), 503);
    assert_eq!(post(&state, "/api/predict", DOCUMENTED).await.status(), 503);
    assert_eq!(get(&state, "/api/model").await.status(), 503);

    state.set_model(model().clone()).expect("a servable model");
    assert_eq!(body(&get(&state, "/health").await)["model_loaded"], true);
    let r = get(&state, "/ready").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        body(&r)["model_version"],
        model().metadata().model_id.as_str()
    );
}

#[tokio::test]
async fn model_endpoint_describes_schema_metrics_and_curves() {
    let state = state_with(settings());
    let v = body(&get(&state, "/api/model").await);
    let m = model().metadata();
    assert_eq!(v["model_version"], m.model_id.as_str());
    assert_eq!(v["threshold"].as_f64(), Some(model().threshold()));
    assert_eq!(v["n_trees"], 15);
    let features = v["schema"]["features"].as_array().expect("features");
    assert_eq!(features.len(), 8);
    assert_eq!(features[1]["name"], "transaction_hour");
    assert_eq!(features[1]["kind"], "numeric");
    assert_eq!(features[1]["max"], 23.0);
    assert_eq!(features[3]["kind"], "flag");
    assert_eq!(features[2]["kind"], "categorical");
    let categories = features[2]["categories"].as_array().expect("categories");
    assert!(categories.contains(&json!("Electronics")));
    let impurity: f64 = features
        .iter()
        .map(|f| f["impurity_importance"].as_f64().expect("imp"))
        .sum();
    assert!((impurity - 1.0).abs() < 1e-6);
    for (f, expected) in features.iter().zip(&m.feature_importances) {
        assert_eq!(f["importance"].as_f64(), Some(*expected));
    }
    assert!(features
        .iter()
        .any(|f| f["importance"].as_f64().expect("imp") > 0.0));
    assert!(v["oob_metrics"]["roc_auc"].as_f64().expect("auc") > 0.5);
    let roc = &v["roc_curve"];
    // Curves name their axes (fpr/tpr, recall/precision), as evaluate does.
    assert_eq!(
        roc["fpr"].as_array().expect("fpr").len(),
        m.roc_curve.as_ref().expect("roc").x.len()
    );
    assert!(
        v["pr_curve"]["precision"]
            .as_array()
            .expect("precision")
            .len()
            > 2
    );
    assert!(v["risk_bands"]["high"].as_f64().is_some());
}

#[tokio::test]
async fn api_key_guards_api_routes_only() {
    let state = state_with(Settings {
        api_key: Some("s3cret".into()),
        ..settings()
    });
    for key in [None, Some("wrong"), Some("s3cre"), Some("")] {
        let mut req = warp::test::request()
            .method("POST")
            .path("/api/predict")
            .body(DOCUMENTED);
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        let r = req.reply(&routes(state.clone())).await;
        assert_eq!(r.status(), 401, "{key:?}");
        assert_eq!(body(&r), json!({"error": "Invalid API key"}));
    }
    let r = warp::test::request()
        .method("POST")
        .path("/api/predict")
        .header("x-api-key", "s3cret")
        .header("content-type", "application/json")
        .body(DOCUMENTED)
        .reply(&routes(state.clone()))
        .await;
    assert_eq!(r.status(), 200);
    for path in ["/api/model", "/api/predictions", "/api/openapi.json"] {
        assert_eq!(get(&state, path).await.status(), 401, "{path}");
    }
    for path in ["/health", "/ready", "/metrics", "/", "/static/app.js"] {
        assert_eq!(get(&state, path).await.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn rate_limit_per_client_with_retry_after() {
    let state = state_with(Settings {
        rate_limit_per_minute: 3,
        ..settings()
    });
    let from = |ip: &str| {
        warp::test::request()
            .method("POST")
            .path("/api/predict")
            .remote_addr(format!("{ip}:4000").parse().expect("addr"))
            .header("content-type", "application/json")
            .body(DOCUMENTED)
    };
    for _ in 0..3 {
        assert_eq!(
            from("10.1.1.1")
                .reply(&routes(state.clone()))
                .await
                .status(),
            200
        );
    }
    let r = from("10.1.1.1").reply(&routes(state.clone())).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=20).contains(&retry), "{retry}");
    assert_eq!(body(&r)["error"], "Rate limit exceeded");
    // Another client has its own bucket; health is never limited.
    assert_eq!(
        from("10.1.1.2")
            .reply(&routes(state.clone()))
            .await
            .status(),
        200
    );
    assert_eq!(get(&state, "/health").await.status(), 200);
}

#[tokio::test]
async fn cors_preflight_and_origins() {
    let state = state_with(settings());
    let r = warp::test::request()
        .method("OPTIONS")
        .path("/api/predict")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type, x-api-key")
        .reply(&routes(state.clone()))
        .await;
    assert_eq!(r.status(), 200);
    // Any origin is allowed with the literal `*` (it echoed the origin
    // before issue 11).
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let methods = r.headers()["access-control-allow-methods"]
        .to_str()
        .expect("ascii");
    assert!(methods.contains("POST"), "{methods}");
    assert!(!r.headers().contains_key("access-control-allow-credentials"));

    let restricted = state_with(Settings {
        cors_origins: Some(vec!["https://good.example".into()]),
        ..settings()
    });
    let r = warp::test::request()
        .method("POST")
        .path("/api/predict")
        .header("origin", "https://evil.example")
        .body(DOCUMENTED)
        .reply(&routes(restricted.clone()))
        .await;
    assert_eq!(r.status(), 403);
    let r = warp::test::request()
        .method("POST")
        .path("/api/predict")
        .header("origin", "https://good.example")
        .header("content-type", "application/json")
        .body("{}")
        .reply(&routes(restricted.clone()))
        .await;
    // Errors carry CORS headers too, so a browser can read them.
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://good.example"
    );
}

#[tokio::test]
async fn history_is_written_and_read_back_newest_first() {
    let state = state_with(settings());
    for i in 0..3 {
        let mut tx = documented();
        tx.insert("transaction_id".into(), json!(format!("H{i}")));
        tx.insert("amount".into(), json!(100 + i));
        assert_eq!(
            post(&state, "/api/predict", &Value::Object(tx).to_string())
                .await
                .status(),
            200
        );
    }
    let v = body(&get(&state, "/api/predictions?limit=2").await);
    assert_eq!(v["total"], 3);
    assert_eq!(v["limit"], 2);
    let page = v["predictions"].as_array().expect("predictions");
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["transaction_id"], "H2");
    assert_eq!(page[0]["features"]["amount"], 102);
    assert_eq!(
        page[0]["model_version"],
        model().metadata().model_id.as_str()
    );
    assert!(page[0]["request_id"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert!(page[0]["latency_ms"].as_f64().is_some());
    let v = body(&get(&state, "/api/predictions?limit=2&offset=2").await);
    assert_eq!(v["predictions"][0]["transaction_id"], "H0");

    let r = get(&state, "/api/predictions?limit=0&offset=x").await;
    assert_eq!(r.status(), 400);
    assert_eq!(fields(&body(&r)), ["limit", "offset"]);
}

#[tokio::test]
async fn history_filters_by_risk_decision_and_time() {
    let state = state_with(settings());
    let risky = r#"{"amount":4999.0,"transaction_hour":3,"merchant_category":"Electronics","foreign_transaction":1,"location_mismatch":1,"device_trust_score":5,"velocity_last_24h":9,"cardholder_age":22}"#;
    let mut levels = Vec::new();
    for body_text in [DOCUMENTED, risky, DOCUMENTED] {
        let r = post(&state, "/api/predict", body_text).await;
        levels.push(body(&r)["risk_level"].as_str().expect("level").to_owned());
    }
    assert_ne!(levels[0], levels[1], "the two transactions differ in risk");
    let listed = |v: &Value| -> Vec<String> {
        v["predictions"]
            .as_array()
            .expect("predictions")
            .iter()
            .map(|p| p["risk_level"].as_str().expect("level").to_owned())
            .collect()
    };
    let v = body(
        &get(
            &state,
            &format!("/api/predictions?risk_level={}", levels[1].to_lowercase()),
        )
        .await,
    );
    assert_eq!(v["total"], 1);
    assert_eq!(listed(&v), [levels[1].clone()]);
    let v = body(
        &get(
            &state,
            &format!("/api/predictions?risk_level={}", levels[0]),
        )
        .await,
    );
    assert_eq!(v["total"], 2);
    let flagged = model()
        .predict(&common::documented())
        .expect("scores")
        .is_fraud;
    let v = body(
        &get(
            &state,
            &format!("/api/predictions?is_fraud={}", u8::from(flagged)),
        )
        .await,
    );
    assert!(v["total"].as_u64().expect("total") >= 2);
    // Every record is from today (UTC); none is from before 2000 or after 2999.
    let today = &now_utc_date();
    assert_eq!(
        body(
            &get(
                &state,
                &format!("/api/predictions?since={today}&until={today}")
            )
            .await
        )["total"],
        3
    );
    assert_eq!(
        body(&get(&state, "/api/predictions?until=1999-12-31").await)["total"],
        0
    );
    assert_eq!(
        body(&get(&state, "/api/predictions?since=2999-01-01T00:00:00Z").await)["total"],
        0
    );
    let r = get(&state, "/api/predictions?risk_level=SEVERE&since=soon").await;
    assert_eq!(r.status(), 400);
    assert_eq!(fields(&body(&r)), ["risk_level", "since"]);
}

/// Today's date in UTC, as the history stores it.
fn now_utc_date() -> String {
    humantime::format_rfc3339(std::time::SystemTime::now()).to_string()[..10].to_owned()
}

#[tokio::test]
async fn metrics_count_requests_predictions_and_errors() {
    let state = state_with(settings());
    post(&state, "/api/predict", DOCUMENTED).await;
    post(&state, "/api/predict", "{}").await;
    let r = get(&state, "/metrics").await;
    assert_eq!(r.status(), 200);
    let text = String::from_utf8_lossy(r.body()).into_owned();
    assert!(
        text.contains(r#"http_requests_total{method="POST",route="/api/predict",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"status="422"} 1"#));
    assert!(text.contains("http_request_duration_seconds_bucket{route=\"/api/predict\""));
    assert!(text.contains("fraud_predictions_total{"));
    assert!(text.contains(r#"fraud_api_errors_total{kind="invalid_fields"} 1"#));
    let version = &model().metadata().model_id;
    assert!(text.contains(&format!("model_version=\"{version}\"")));
    assert!(text.contains("process_resident_memory_bytes"));
    assert!(text.contains("process_cpu_seconds_total"));
}

#[tokio::test]
async fn ui_files_are_served_with_a_strict_csp() {
    let state = state_with(settings());
    let r = get(&state, "/").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/html"));
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .expect("ascii");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = String::from_utf8_lossy(r.body()).into_owned();
    assert!(html.contains("/static/app.js") && !html.contains("<script>"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external resources"
    );
    let js = get(&state, "/static/app.js").await;
    assert!(js.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/javascript"));
    let js_text = String::from_utf8_lossy(js.body()).into_owned();
    assert!(
        !js_text.contains("innerHTML"),
        "user data is rendered as text only"
    );
    assert_eq!(get(&state, "/static/nope.js").await.status(), 404);
    let r = get(&state, "/no/such/route").await;
    assert_eq!(r.status(), 404);
    assert_eq!(body(&r), json!({"error": "Not found"}));
    assert_eq!(post(&state, "/health", "").await.status(), 405);
}

/// A transaction the small model finds risky, so it has reasons to give.
fn risky() -> serde_json::Map<String, Value> {
    let mut tx = documented();
    for (k, v) in [
        ("amount", json!(4999.5)),
        ("transaction_hour", json!(3)),
        ("device_trust_score", json!(8)),
        ("velocity_last_24h", json!(14)),
        ("cardholder_age", json!(22)),
        ("merchant_category", json!("Online")),
    ] {
        tx.insert(k.into(), v);
    }
    tx
}

/// Checks one explained prediction against the engine's own explanation of
/// `tx`: the same prediction, reasons, contributions (by name) and base
/// value, and local accuracy.
fn assert_explained_like_the_engine(p: &Value, tx: &serde_json::Map<String, Value>) {
    let engine = model().explain(tx).expect("the engine explains");
    let plain = model().predict(tx).expect("the engine scores");
    assert_eq!(
        p["fraud_probability"].as_f64(),
        Some(plain.fraud_probability)
    );
    assert_eq!(p["is_fraud"], json!(u8::from(plain.is_fraud)));
    assert_eq!(p["risk_level"], plain.risk_level.as_str());
    assert_eq!(
        p["reasons"],
        serde_json::to_value(&engine.reasons).expect("reasons serialize")
    );
    assert_eq!(
        p["base_value"].as_f64(),
        Some(engine.explanation.base_value)
    );
    let contributions = p["contributions"].as_object().expect("contributions");
    let mut names: Vec<&str> = contributions.keys().map(String::as_str).collect();
    let mut features = model().feature_names();
    names.sort_unstable();
    features.sort_unstable();
    assert_eq!(names, features, "one contribution per feature");
    for (name, expected) in model()
        .feature_names()
        .iter()
        .zip(&engine.explanation.contributions)
    {
        assert_eq!(contributions[*name].as_f64(), Some(*expected), "{name}");
    }
    let sum: f64 = contributions
        .values()
        .map(|c| c.as_f64().expect("number"))
        .sum();
    let base = p["base_value"].as_f64().expect("base value");
    let probability = p["fraud_probability"].as_f64().expect("probability");
    assert!(
        (base + sum - probability).abs() <= 1e-9,
        "local accuracy: {base} + {sum} != {probability}"
    );
}

const EXPLANATION_KEYS: [&str; 3] = ["reasons", "contributions", "base_value"];

#[tokio::test]
async fn explain_in_the_body_adds_reasons_and_contributions() {
    let state = state_with(settings());
    let mut tx = risky();
    tx.insert("explain".into(), json!(true));
    tx.insert("transaction_id".into(), json!("TX-7"));
    let r = post(
        &state,
        "/api/predict",
        &Value::Object(tx.clone()).to_string(),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    // The contributions are written in schema order.
    let text = String::from_utf8_lossy(r.body()).into_owned();
    let object = &text[text.find("\"contributions\":{").expect("contributions")..];
    let positions: Vec<usize> = model()
        .feature_names()
        .iter()
        .map(|name| object.find(&format!("\"{name}\":")).expect("feature"))
        .collect();
    assert!(positions.is_sorted(), "{object}");
    let v = body(&r);
    assert_eq!(v["transaction_id"], "TX-7");
    assert!(
        !v["reasons"].as_array().expect("reasons").is_empty(),
        "a risky transaction has reasons: {v}"
    );
    let first = &v["reasons"][0];
    assert!(first["text"]
        .as_str()
        .expect("text")
        .ends_with("raised the risk"));
    assert!(first["contribution"].as_f64().expect("contribution") > 0.0);
    assert_explained_like_the_engine(&v, &tx);

    // `"explain": false`, or no key at all: the response is unchanged.
    for explain in [Some(false), None] {
        let mut tx = risky();
        if let Some(b) = explain {
            tx.insert("explain".into(), json!(b));
        }
        let v = body(&post(&state, "/api/predict", &Value::Object(tx).to_string()).await);
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            // serde_json's map is sorted here.
            [
                "fraud_probability",
                "is_fraud",
                "model_version",
                "risk_level",
                "threshold",
                "warnings"
            ],
            "{explain:?}"
        );
    }
}

#[tokio::test]
async fn explain_in_the_query_adds_reasons_and_stores_nothing_extra() {
    let state = state_with(settings());
    let r = post(
        &state,
        "/api/predict?explain=true",
        &Value::Object(risky()).to_string(),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v = body(&r);
    assert_explained_like_the_engine(&v, &risky());

    // The documented request, explained: local accuracy there too.
    let v = body(&post(&state, "/api/predict?explain=true", DOCUMENTED).await);
    assert_explained_like_the_engine(&v, &documented());

    // Either place asks: the query wins over `"explain": false`.
    let mut tx = risky();
    tx.insert("explain".into(), json!(false));
    let v = body(
        &post(
            &state,
            "/api/predict?limit=3&explain=true",
            &Value::Object(tx).to_string(),
        )
        .await,
    );
    assert!(v["reasons"].is_array());
    let v = body(&post(&state, "/api/predict?explain=false", DOCUMENTED).await);
    for key in EXPLANATION_KEYS {
        assert!(v.get(key).is_none(), "{key} in {v}");
    }

    // The history holds the predictions, not their explanations.
    let page = body(&get(&state, "/api/predictions").await);
    assert_eq!(page["total"], 4);
    for record in page["predictions"].as_array().expect("records") {
        for key in EXPLANATION_KEYS {
            assert!(record.get(key).is_none(), "{key} in {record}");
        }
    }
}

#[tokio::test]
async fn explain_values_that_are_not_booleans_are_named() {
    let state = state_with(settings());
    for bad in [json!("yes"), json!(1), json!(null), json!({"on": true})] {
        let mut tx = documented();
        tx.insert("explain".into(), bad.clone());
        let r = post(&state, "/api/predict", &Value::Object(tx).to_string()).await;
        assert_eq!(r.status(), 422, "{bad}");
        let v = body(&r);
        assert_eq!(fields(&v), ["explain"], "{bad}");
        assert!(v["details"][0]["reason"]
            .as_str()
            .expect("reason")
            .contains("expected a boolean"));
    }
    // With other bad fields, every one is named.
    let mut tx = documented();
    tx.insert("explain".into(), json!("true"));
    tx.insert("amount".into(), json!("lots"));
    let r = post(
        &state,
        "/api/predict?explain=true",
        &Value::Object(tx).to_string(),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(fields(&body(&r)), ["amount", "explain"]);

    for query in ["explain=yes", "explain=1", "explain=", "explain"] {
        for path in ["/api/predict", "/api/predict/batch"] {
            let r = post(&state, &format!("{path}?{query}"), DOCUMENTED).await;
            assert_eq!(r.status(), 400, "{path}?{query}");
            assert_eq!(fields(&body(&r)), ["explain"], "{path}?{query}");
        }
    }

    let r = post(
        &state,
        "/api/predict/batch",
        &json!({"transactions": [documented()], "explain": "yes"}).to_string(),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(fields(&body(&r)), ["explain"]);
    let r = post(&state, "/api/predict/batch", r#"{"explain": 0}"#).await;
    assert_eq!(r.status(), 400);
    assert_eq!(fields(&body(&r)), ["explain", "transactions"]);
    // Nothing was scored, so nothing was recorded.
    assert_eq!(body(&get(&state, "/api/predictions").await)["total"], 0);
}

#[tokio::test]
async fn batch_explains_every_prediction_when_asked() {
    let state = state_with(settings());
    let rows: Vec<serde_json::Map<String, Value>> = fraud_engine::synth::transactions(40, 9)
        .map(|t| {
            let v = json!({"amount": t.amount, "transaction_hour": t.transaction_hour,
                   "merchant_category": t.merchant_category, "foreign_transaction": u8::from(t.foreign_transaction),
                   "location_mismatch": u8::from(t.location_mismatch), "device_trust_score": t.device_trust_score,
                   "velocity_last_24h": t.velocity_last_24h, "cardholder_age": t.cardholder_age});
            v.as_object().expect("object").clone()
        })
        .chain([risky()])
        .collect();
    for (path, request) in [
        (
            "/api/predict/batch",
            json!({"transactions": rows, "explain": true}),
        ),
        (
            "/api/predict/batch?explain=true",
            json!({"transactions": rows}),
        ),
    ] {
        let r = post(&state, path, &request.to_string()).await;
        assert_eq!(r.status(), 200, "{path}");
        let v = body(&r);
        let predictions = v["predictions"].as_array().expect("predictions");
        assert_eq!(predictions.len(), rows.len());
        for (p, row) in predictions.iter().zip(&rows) {
            assert_explained_like_the_engine(p, row);
        }
        assert!(!predictions[rows.len() - 1]["reasons"]
            .as_array()
            .expect("reasons")
            .is_empty());
    }
    // Without it, no prediction carries an explanation.
    let r = post(
        &state,
        "/api/predict/batch",
        &json!({"transactions": rows, "explain": false}).to_string(),
    )
    .await;
    for p in body(&r)["predictions"].as_array().expect("predictions") {
        for key in EXPLANATION_KEYS {
            assert!(p.get(key).is_none(), "{key} in {p}");
        }
    }
}

#[tokio::test]
async fn a_model_feature_named_explain_keeps_the_body_key() {
    use fraud_engine::{Column, Dataset, Feature, Schema, TrainParams};
    let n = 400;
    let amount: Vec<f64> = (0..n).map(|i| f64::from(i % 37)).collect();
    let explain: Vec<f64> = (0..n).map(|i| f64::from(i % 10)).collect();
    let labels: Vec<u8> = explain.iter().map(|&x| u8::from(x >= 7.0)).collect();
    let schema = Schema::new(
        vec![Feature::numeric("amount"), Feature::numeric("explain")],
        "is_fraud",
    )
    .expect("schema");
    let data = Dataset::new(
        schema,
        vec![Column::Numeric(amount), Column::Numeric(explain)],
        Some(labels),
    )
    .expect("dataset");
    let params = TrainParams {
        n_trees: 5,
        max_depth: 4.into(),
        seed: 3,
        ..TrainParams::default()
    };
    let odd = fraud_engine::train(&data, &params).expect("trains");
    let state = common::state_without_model(settings());
    state.set_model(odd.clone()).expect("a servable model");

    // `explain` is this model's feature: its value is scored, not read as the option.
    let tx = json!({"amount": 3, "explain": 9});
    let r = post(&state, "/api/predict", &tx.to_string()).await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    let v = body(&r);
    let expected = odd
        .predict(tx.as_object().expect("object"))
        .expect("scores");
    assert_eq!(
        v["fraud_probability"].as_f64(),
        Some(expected.fraud_probability)
    );
    assert!(v.get("reasons").is_none(), "{v}");

    // The query still asks for explanations, which name the feature.
    let r = post(&state, "/api/predict?explain=true", &tx.to_string()).await;
    assert_eq!(r.status(), 200);
    let v = body(&r);
    assert!(v["contributions"]["explain"].as_f64().is_some(), "{v}");
    let engine = odd
        .explain(tx.as_object().expect("object"))
        .expect("explains");
    assert_eq!(
        v["reasons"],
        serde_json::to_value(&engine.reasons).expect("serializes")
    );
}

/// A browser asking for an address that is not here gets a page; an API
/// client gets the JSON error.
#[tokio::test]
async fn unknown_addresses_are_a_page_for_browsers_and_json_for_clients() {
    let state = state_with(settings());
    let r = warp::test::request()
        .path("/nope%3Cscript%3E")
        .header(
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        )
        .reply(&routes(state.clone()))
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let page = String::from_utf8_lossy(r.body());
    assert!(page.contains("Page not found"), "{page}");
    assert!(
        !page.contains("<script>"),
        "nothing of the address is shown back"
    );
    for accept in [None, Some("*/*"), Some("application/json")] {
        let mut request = warp::test::request().path("/nope");
        if let Some(a) = accept {
            request = request.header("accept", a);
        }
        let r = request.reply(&routes(state.clone())).await;
        assert_eq!(r.status(), 404);
        assert_eq!(body(&r), json!({"error": "Not found"}), "{accept:?}");
    }
}
/// A request to `routes(state)` with the given method, path and headers.
async fn send(
    state: &fraud_server::AppState,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response<bytes::Bytes> {
    let mut req = warp::test::request().method(method).path(path).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.reply(&routes(state.clone())).await
}

#[tokio::test]
async fn cors_any_origin_is_a_literal_star_and_never_credentials() {
    let state = state_with(settings());
    for origin in ["https://app.example", "null", "http://localhost:8080"] {
        let preflight = send(
            &state,
            "OPTIONS",
            "/api/predict",
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
            ],
            "",
        )
        .await;
        assert_eq!(preflight.status(), 200, "{origin}");
        assert_eq!(
            preflight.headers()["access-control-allow-origin"],
            "*",
            "{origin}"
        );
        assert!(!preflight
            .headers()
            .contains_key("access-control-allow-credentials"));
        let r = send(
            &state,
            "POST",
            "/api/predict",
            &[("origin", origin), ("content-type", "application/json")],
            DOCUMENTED,
        )
        .await;
        assert_eq!(r.status(), 200, "{origin}");
        assert_eq!(r.headers()["access-control-allow-origin"], "*", "{origin}");
        assert!(!r.headers().contains_key("access-control-allow-credentials"));
    }
}

#[tokio::test]
async fn cors_allow_list_echoes_only_allowed_origins_and_varies_on_origin() {
    let state = state_with(Settings {
        cors_origins: Some(vec!["https://good.example".into()]),
        ..settings()
    });
    let vary = |r: &Response<bytes::Bytes>| -> Vec<String> {
        r.headers()
            .get_all("vary")
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect()
    };
    let preflight = send(
        &state,
        "OPTIONS",
        "/api/predict",
        &[
            ("origin", "https://good.example"),
            ("access-control-request-method", "POST"),
        ],
        "",
    )
    .await;
    assert_eq!(preflight.status(), 200);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://good.example"
    );
    assert!(vary(&preflight).iter().any(|v| v.contains("Origin")));
    let ok = send(
        &state,
        "POST",
        "/api/predict",
        &[
            ("origin", "https://good.example"),
            ("content-type", "application/json"),
        ],
        DOCUMENTED,
    )
    .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://good.example"
    );
    assert!(vary(&ok).iter().any(|v| v.contains("Origin")));
    assert!(!ok
        .headers()
        .contains_key("access-control-allow-credentials"));
    // Refused origins get no Allow-Origin at all, and still the Vary.
    for origin in ["https://evil.example", "null"] {
        let r = send(
            &state,
            "POST",
            "/api/predict",
            &[("origin", origin), ("content-type", "application/json")],
            DOCUMENTED,
        )
        .await;
        assert_eq!(r.status(), 403, "{origin}");
        assert!(
            !r.headers().contains_key("access-control-allow-origin"),
            "{origin}"
        );
        assert!(vary(&r).iter().any(|v| v.contains("Origin")), "{origin}");
    }
    // Without an Origin, the answer still varies on it (a cache may hold it).
    let plain = get(&state, "/health").await;
    assert!(!plain.headers().contains_key("access-control-allow-origin"));
    assert!(vary(&plain).iter().any(|v| v.contains("Origin")));
}

#[tokio::test]
async fn scoring_needs_a_json_content_type() {
    let state = state_with(settings());
    for path in ["/api/predict", "/api/predict/batch"] {
        let body = if path.ends_with("batch") {
            format!(r#"{{"transactions":[{DOCUMENTED}]}}"#)
        } else {
            DOCUMENTED.to_owned()
        };
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/json; charset=iso-8859-1"),
            Some("application/jsonx"),
        ] {
            let headers: Vec<(&str, &str)> = content_type
                .map(|c| ("content-type", c))
                .into_iter()
                .collect();
            let r = send(&state, "POST", path, &headers, &body).await;
            assert_eq!(r.status(), 415, "{path} {content_type:?}");
            assert_eq!(r.headers()["accept-post"], "application/json");
            let error = body_of(&r)["error"].as_str().expect("error").to_owned();
            assert!(error.contains("application/json"), "{error}");
        }
        for content_type in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=\"UTF-8\"",
        ] {
            let r = send(
                &state,
                "POST",
                path,
                &[("content-type", content_type)],
                &body,
            )
            .await;
            assert_eq!(r.status(), 200, "{path} {content_type}");
        }
    }
    // Nothing unannounced reached the history.
    let page = body_of(&get(&state, "/api/predictions").await);
    assert_eq!(page["total"], 6);
    // The key is checked first: an unauthenticated caller learns nothing more.
    let locked = state_with(Settings {
        api_key: Some("k".into()),
        ..settings()
    });
    let r = send(
        &locked,
        "POST",
        "/api/predict",
        &[("content-type", "text/plain")],
        DOCUMENTED,
    )
    .await;
    assert_eq!(r.status(), 401);
}

fn body_of(r: &Response<bytes::Bytes>) -> Value {
    body(r)
}

#[tokio::test]
async fn unknown_methods_are_one_metric_label_and_rate_limited() {
    let state = state_with(Settings {
        rate_limit_per_minute: 5,
        ..settings()
    });
    let from = |method: String| {
        warp::test::request()
            .method(&method)
            .path("/health")
            .remote_addr("10.9.9.9:4000".parse().expect("addr"))
    };
    let mut statuses = Vec::new();
    for i in 0..8 {
        let r = from(format!("M{i}XYZ")).reply(&routes(state.clone())).await;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses[..5], [405; 5]);
    assert_eq!(statuses[5..], [429; 3]);
    let text = String::from_utf8_lossy(get(&state, "/metrics").await.body()).into_owned();
    assert!(
        !text.contains("XYZ"),
        "a method name leaked into the metrics"
    );
    assert!(
        text.contains(r#"http_requests_total{method="other",route="/health",status="405"} 5"#),
        "{text}"
    );
    assert!(text.contains(r#"http_requests_total{method="other",route="/health",status="429"} 3"#));
    // With an API key configured, an unknown method without it is refused.
    let locked = state_with(Settings {
        api_key: Some("k".into()),
        ..settings()
    });
    let r = warp::test::request()
        .method("BREW")
        .path("/")
        .reply(&routes(locked.clone()))
        .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn ready_reports_a_history_that_cannot_be_written() {
    use fraud_server::history::{
        Filter, History, HistoryError, NewRecord, Page, Pages, Policy, Store,
    };
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// A store whose disk is full while `full` is set.
    struct Switchable {
        full: Arc<AtomicBool>,
        rows: Arc<std::sync::Mutex<usize>>,
    }
    impl Store for Switchable {
        fn write(&mut self, batch: &[NewRecord]) -> Result<(), HistoryError> {
            if self.full.load(Ordering::SeqCst) {
                return Err(HistoryError::Io {
                    path: "test store".into(),
                    source: std::io::Error::other("database or disk is full"),
                });
            }
            *self.rows.lock().expect("rows") += batch.len();
            Ok(())
        }
        fn probe(&mut self) -> Result<(), HistoryError> {
            self.write(&[])
        }
        fn describe(&self) -> String {
            "test store".into()
        }
        fn label(
            &mut self,
            labels: &[fraud_server::history::Label],
        ) -> Result<fraud_server::history::LabelOutcome, HistoryError> {
            // It keeps no predictions, so every id is unknown.
            Ok(fraud_server::history::LabelOutcome::Unknown(
                labels.iter().map(|l| l.key.clone()).collect(),
            ))
        }
    }
    struct NoPages;
    impl Pages for NoPages {
        fn page(&self, limit: u32, offset: u64, _: &Filter) -> Result<Page, HistoryError> {
            Ok(Page {
                predictions: Vec::new(),
                total: 0,
                limit,
                offset,
            })
        }
        fn shadow_pairs(
            &self,
            _: &str,
            _: &str,
            _: u32,
        ) -> Result<Vec<fraud_engine::lifecycle::PairedScore>, HistoryError> {
            Ok(Vec::new())
        }
        fn labelled(
            &self,
            _: &fraud_server::history::LabelledQuery,
        ) -> Result<Vec<fraud_server::history::Record>, HistoryError> {
            Ok(Vec::new())
        }
    }

    for failure in [
        fraud_server::FailurePolicy::FailClosed,
        fraud_server::FailurePolicy::FailOpen,
    ] {
        let full = Arc::new(AtomicBool::new(false));
        let rows = Arc::new(std::sync::Mutex::new(0));
        let metrics = fraud_server::metrics::Metrics::new().expect("metrics");
        let history = History::start(
            Box::new(Switchable {
                full: full.clone(),
                rows: rows.clone(),
            }),
            Arc::new(NoPages),
            Policy {
                queue: 16,
                durability: fraud_server::Durability::Commit,
                failure,
            },
            metrics.clone(),
        )
        .expect("history");
        let state = fraud_server::AppState::new(history, metrics, settings());
        state.set_model(model().clone()).expect("model");
        assert_eq!(post(&state, "/api/predict", DOCUMENTED).await.status(), 200);
        full.store(true, Ordering::SeqCst);
        let r = post(&state, "/api/predict", DOCUMENTED).await;
        let ready = get(&state, "/ready").await;
        let v = body(&ready);
        match failure {
            fraud_server::FailurePolicy::FailClosed => {
                assert_eq!(r.status(), 503);
                assert!(body(&r)["error"]
                    .as_str()
                    .expect("error")
                    .contains("disk is full"));
                assert_eq!(ready.status(), 503);
                assert_eq!(v["status"], "history_unavailable");
            }
            fraud_server::FailurePolicy::FailOpen => {
                assert_eq!(r.status(), 200);
                assert_eq!(r.headers()["x-history"], "not-recorded");
                assert_eq!(ready.status(), 200);
                assert_eq!(v["status"], "degraded");
            }
        }
        assert!(v["history"]
            .as_str()
            .expect("history")
            .contains("disk is full"));
        // Space returns: the writer's probe notices without any request.
        full.store(false, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while get(&state, "/ready").await.status() != 200
            || body(&get(&state, "/ready").await)["status"] != "ready"
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{failure:?}: not ready again"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let r = post(&state, "/api/predict", DOCUMENTED).await;
        assert_eq!(r.status(), 200);
        assert!(!r.headers().contains_key("x-history"));
        assert_eq!(*rows.lock().expect("rows"), 2, "{failure:?}");
        let text = String::from_utf8_lossy(get(&state, "/metrics").await.body()).into_owned();
        assert!(text.contains("fraud_history_failed_total 1"), "{text}");
        assert!(text.contains("fraud_history_writable 1"));
        assert!(text.contains("fraud_history_queue_requests 0"));
    }
}

#[tokio::test]
async fn trusted_proxies_name_the_client_and_others_cannot() {
    let state = state_with(Settings {
        rate_limit_per_minute: 2,
        trusted_proxies: "127.0.0.1".parse().expect("a list"),
        ..settings()
    });
    let routes = routes(state.clone());
    let send = |peer: &str, forwarded: Option<&str>| {
        let mut r = warp::test::request()
            .method("POST")
            .path("/api/predict")
            .remote_addr(format!("{peer}:4000").parse().expect("addr"))
            .header("content-type", "application/json")
            .body(DOCUMENTED);
        if let Some(f) = forwarded {
            r = r.header("x-forwarded-for", f);
        }
        let routes = routes.clone();
        async move { r.reply(&routes).await }
    };
    // Through the proxy, each client has its own bucket, whatever it
    // wrote into the header itself (the rightmost untrusted hop counts).
    for _ in 0..2 {
        assert_eq!(send("127.0.0.1", Some("203.0.113.1")).await.status(), 200);
    }
    assert_eq!(send("127.0.0.1", Some("203.0.113.1")).await.status(), 429);
    assert_eq!(
        send("127.0.0.1", Some("203.0.113.1, 203.0.113.1"))
            .await
            .status(),
        429,
        "a client cannot leave its bucket by adding a hop"
    );
    assert_eq!(
        send("127.0.0.1", Some("198.51.100.9, 203.0.113.2"))
            .await
            .status(),
        200
    );
    // A direct client's header is ignored: spoofing changes nothing.
    for n in 0..2 {
        assert_eq!(
            send("192.0.2.50", Some(&format!("10.0.0.{n}")))
                .await
                .status(),
            200
        );
    }
    assert_eq!(send("192.0.2.50", Some("10.0.0.99")).await.status(), 429);
}

#[tokio::test]
async fn without_trusted_proxies_forwarded_for_is_ignored() {
    let state = state_with(Settings {
        rate_limit_per_minute: 1,
        ..settings()
    });
    let routes = routes(state.clone());
    let send = |forwarded: &str| {
        let r = warp::test::request()
            .method("POST")
            .path("/api/predict")
            .remote_addr("127.0.0.1:4000".parse().expect("addr"))
            .header("content-type", "application/json")
            .header("x-forwarded-for", forwarded)
            .body(DOCUMENTED);
        let routes = routes.clone();
        async move { r.reply(&routes).await }
    };
    assert_eq!(send("203.0.113.1").await.status(), 200);
    assert_eq!(send("203.0.113.2").await.status(), 429);
}

#[tokio::test]
async fn a_transaction_id_with_nul_is_refused_on_every_backend() {
    let state = state_with(settings());
    let r = post(
        &state,
        "/api/predict",
        &DOCUMENTED.replacen('{', r#"{"transaction_id":"a\u0000b","#, 1),
    )
    .await;
    assert_eq!(r.status(), 422, "{}", String::from_utf8_lossy(r.body()));
    assert_eq!(fields(&body(&r)), ["transaction_id"]);
    assert!(body(&r).to_string().contains("NUL"));
}

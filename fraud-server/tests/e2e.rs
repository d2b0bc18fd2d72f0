//! The real binary on a loopback port: the documented exchange, an
//! explained prediction, chunked bodies, auth and rate limiting over TCP, the
//! default model, model reload, JSON logs, and a graceful shutdown that loses
//! no history.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{model, model_file, request, send_raw, Server, DOCUMENTED};
use serde_json::json;

fn model_arg() -> &'static str {
    model_file().to_str().expect("utf-8 path")
}

#[test]
fn documented_exchange_over_tcp() {
    let server = Server::start("documented", &["--model", model_arg()], &[]);
    let r = server.post("/api/predict", DOCUMENTED);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let expected = model().predict(&common::documented()).expect("scores");
    assert_eq!(
        v["fraud_probability"].as_f64(),
        Some(expected.fraud_probability)
    );
    assert_eq!(v["is_fraud"], json!(u8::from(expected.is_fraud)));
    assert_eq!(v["risk_level"], expected.risk_level.as_str());
    let h = server.get("/health").json();
    assert_eq!(h["status"], "healthy");
    assert_eq!(h["model_loaded"], true);
    assert_eq!(server.get("/ready").status, 200);
    assert!(server.get("/").text().contains("fraud-server"));
    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert!(
        text.contains(r#"route="/api/predict",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains("process_resident_memory_bytes"));
    // The default rate limit (100/minute) is on: the 101st request is refused.
    let mut refused = None;
    for i in 0..105 {
        let r = server.get("/api/model");
        if r.status == 429 {
            refused = Some((i, r));
            break;
        }
    }
    let (i, r) = refused.expect("rate limited");
    assert_eq!(i, 99, "the 100th request after the first POST is the 101st");
    assert!(r.header("retry-after").is_some());
}

#[test]
fn explained_prediction_over_tcp() {
    let server = Server::start("explain", &["--model", model_arg()], &[]);
    let r = server.post("/api/predict?explain=true", DOCUMENTED);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let expected = model()
        .explain(&common::documented())
        .expect("the engine explains");
    assert_eq!(
        v["fraud_probability"].as_f64(),
        Some(expected.prediction.fraud_probability)
    );
    assert_eq!(
        v["reasons"],
        serde_json::to_value(&expected.reasons).expect("serializes")
    );
    let contributions = v["contributions"].as_object().expect("contributions");
    assert_eq!(contributions.len(), model().feature_names().len());
    let sum: f64 = contributions
        .values()
        .map(|c| c.as_f64().expect("number"))
        .sum();
    let base = v["base_value"].as_f64().expect("base value");
    assert!((base + sum - expected.prediction.fraud_probability).abs() <= 1e-9);
    // The same request without the option is answered as before.
    let plain = server.post("/api/predict", DOCUMENTED).json();
    assert!(plain.get("reasons").is_none() && plain.get("contributions").is_none());
    assert_eq!(plain["fraud_probability"], v["fraud_probability"]);
}

#[test]
fn chunked_bodies_are_read_and_limited() {
    let server = Server::start(
        "chunked",
        &["--model", model_arg(), "--max-body-bytes", "1000"],
        &[("RATE_LIMIT_PER_MINUTE", "0")],
    );
    let chunked = |parts: &[&str]| {
        let mut raw = format!(
            "POST /api/predict HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            server.addr
        )
        .into_bytes();
        for p in parts {
            raw.extend_from_slice(format!("{:x}\r\n{p}\r\n", p.len()).as_bytes());
        }
        raw.extend_from_slice(b"0\r\n\r\n");
        send_raw(server.addr, &raw)
    };
    let (a, b) = DOCUMENTED.split_at(40);
    let r = chunked(&[a, b]);
    assert_eq!(r.status, 200, "{}", r.text());
    let pad = "x".repeat(300);
    let big: Vec<&str> = vec![pad.as_str(); 10];
    let r = chunked(&big);
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.json()["error"]
        .as_str()
        .expect("error")
        .contains("1000 bytes"));
    // A declared length over the limit is refused before the body is read.
    let head = format!(
        "POST /api/predict HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 5000000\r\n\r\n{{",
        server.addr
    );
    let r = send_raw(server.addr, head.as_bytes());
    assert_eq!(r.status, 413);
}

#[test]
fn api_key_and_cors_over_tcp() {
    let server = Server::start(
        "auth",
        &["--model", model_arg()],
        &[("API_KEY", "k-123"), ("CORS_ORIGINS", "https://ok.example")],
    );
    let r = server.post("/api/predict", DOCUMENTED);
    assert_eq!(r.status, 401);
    assert_eq!(r.json(), json!({"error": "Invalid API key"}));
    let r = request(
        server.addr,
        "POST",
        "/api/predict",
        &[("X-API-Key", "k-123"), ("Content-Type", "application/json")],
        Some(DOCUMENTED.as_bytes()),
    );
    assert_eq!(r.status, 200);
    let r = request(
        server.addr,
        "OPTIONS",
        "/api/predict",
        &[
            ("Origin", "https://ok.example"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "x-api-key,content-type"),
        ],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://ok.example")
    );
    let r = request(
        server.addr,
        "OPTIONS",
        "/api/predict",
        &[
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        None,
    );
    assert_eq!(r.status, 403);
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn default_model_is_trained_cached_and_reused() {
    let dir = common::temp_dir("default");
    let env = [("DEFAULT_MODEL_ROWS", "3000")];
    let first_version = {
        let server = Server::start_in(&dir, &[], &env);
        server.wait_ready(120);
        let v = server.post("/api/predict", DOCUMENTED).json();
        assert!(v["fraud_probability"].as_f64().is_some());
        v["model_version"].as_str().expect("version").to_owned()
    };
    assert!(dir.join("data/default-model.fem").exists());
    assert!(dir.join("data/history.db").exists());
    // The default model was stored in the registry and activated there.
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("data/models/manifest.json")).expect("a manifest"),
    )
    .expect("JSON");
    assert_eq!(manifest["active"], first_version.as_str());
    assert_eq!(manifest["history"][0]["by"], "startup");
    assert!(dir
        .join(format!("data/models/models/{first_version}.fem"))
        .exists());
    // Restarted, the registry's active model serves: nothing is trained,
    // nor read from the cache.
    let server = Server::start_in(&dir, &[], &env);
    server.wait_ready(30);
    // The log is written by a background thread: give it a moment.
    wait_for(|| {
        server
            .stderr()
            .contains("loaded the model from the registry")
    });
    assert!(!server.stderr().contains("training the default model"));
    assert!(!server.stderr().contains("loaded the cached default model"));
    assert_eq!(
        server.get("/ready").json()["model_version"],
        first_version.as_str()
    );
}

#[test]
fn sighup_reloads_and_a_bad_file_keeps_the_old_model() {
    let dir = common::temp_dir("reload");
    let path = dir.join("model.fem");
    std::fs::copy(model_file(), &path).expect("copy");
    let server = Server::start_in(&dir, &["--model", path.to_str().expect("utf-8")], &[]);
    let old = model().metadata().model_id.clone();
    let version = || {
        server.get("/ready").json()["model_version"]
            .as_str()
            .map(str::to_owned)
    };
    assert_eq!(version().as_deref(), Some(old.as_str()));

    std::fs::write(&path, b"definitely not a model").expect("write");
    server.signal("HUP");
    wait_for(|| server.stderr().contains("model reload failed"));
    assert_eq!(version().as_deref(), Some(old.as_str()));
    assert_eq!(server.post("/api/predict", DOCUMENTED).status, 200);

    let other = common::small_model(99);
    other.save(&path).expect("save");
    server.signal("HUP");
    let new = other.metadata().model_id.clone();
    assert_ne!(new, old);
    wait_for(|| version().as_deref() == Some(new.as_str()));
    assert_eq!(
        server.post("/api/predict", DOCUMENTED).json()["model_version"],
        new.as_str()
    );
}

fn wait_for(done: impl FnMut() -> bool) {
    assert!(common::eventually(5, done), "condition not reached in 5 s");
}

#[test]
fn json_logs_carry_the_request_fields() {
    let server = Server::start(
        "logs",
        &["--model", model_arg(), "--log-format", "json"],
        &[],
    );
    let r = request(
        server.addr,
        "POST",
        "/api/predict",
        &[
            ("X-Request-Id", "trace-42"),
            ("Content-Type", "application/json"),
        ],
        Some(DOCUMENTED.as_bytes()),
    );
    assert_eq!(r.header("x-request-id"), Some("trace-42"));
    wait_for(|| server.stderr().contains("trace-42"));
    let line = server
        .stderr()
        .lines()
        .find(|l| l.contains("trace-42"))
        .map(str::to_owned)
        .expect("a log line");
    let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    let fields = &v["fields"];
    assert_eq!(fields["method"], "POST");
    assert_eq!(fields["route"], "/api/predict");
    assert_eq!(fields["status"], 200);
    assert!(fields["latency_us"].as_u64().is_some());
}

#[test]
fn a_port_in_use_fails_cleanly() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let dir = common::temp_dir("port");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fraud-server"))
        .args(["--port", &port, "--model", model_arg(), "--data-dir"])
        .arg(dir.join("data"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: cannot listen on 127.0.0.1:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fraud-server"))
        .args([
            "--port",
            "0",
            "--model",
            "/nonexistent/model.fem",
            "--data-dir",
        ])
        .arg(dir.join("data"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot load model /nonexistent/model.fem"),
        "{err}"
    );
}

#[test]
fn sigterm_finishes_requests_and_flushes_every_prediction() {
    let mut server = Server::start(
        "shutdown",
        &["--model", model_arg()],
        &[("RATE_LIMIT_PER_MINUTE", "0")],
    );
    let addr = server.addr;
    let ok = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (ok, stop, ids) = (ok.clone(), stop.clone(), ids.clone());
            std::thread::spawn(move || {
                // Keep-alive connections, so in-flight requests span the signal.
                let Ok(mut stream) = TcpStream::connect(addr) else { return };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) && n < 400 {
                    n += 1;
                    let body = DOCUMENTED.replacen('{', &format!("{{\"transaction_id\":\"w{w}-{n}\","), 1);
                    let req = format!(
                        "POST /api/predict HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(req.as_bytes()).is_err() {
                        return;
                    }
                    match read_one(&mut stream) {
                        Some(200) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            ids.lock().expect("lock").push(format!("w{w}-{n}"));
                        }
                        _ => return,
                    }
                }
            })
        })
        .collect();
    while ok.load(Ordering::Relaxed) < 100 {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.signal("TERM");
    let code = server.wait_exit(30);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    assert_eq!(code, Some(0), "{}", server.stderr());
    assert!(server.stderr().contains("the history is flushed"));

    let answered = ids.lock().expect("lock").clone();
    let db = rusqlite::Connection::open(server.dir.join("data/history.db")).expect("open db");
    let stored: Vec<String> = db
        .prepare("SELECT transaction_id FROM predictions")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let stored: std::collections::HashSet<String> = stored.into_iter().collect();
    let missing: Vec<&String> = answered.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(answered.len() >= 100);
    assert!(
        missing.is_empty(),
        "{} answered predictions missing from the history: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

/// Reads one keep-alive response (Content-Length framed) and returns its status.
fn read_one(stream: &mut TcpStream) -> Option<u16> {
    use std::io::Read;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).ok()?;
    Some(status)
}

/// What a model trained from `generate`'s CSV accepts: with the shipped
/// schema file, an hour of 25 is refused; without it, the model learned only
/// the range it saw, so 25 is scored with a warning naming the field. A
/// value that was never missing in training is required either way.
#[test]
fn validation_with_and_without_the_shipped_schema_file() {
    let dir = common::temp_dir("schema-e2e");
    let csv = dir.join("tx.csv");
    let bin = env!("CARGO_BIN_EXE_fraud-server");
    let run = |args: &[&str]| {
        let o = std::process::Command::new(bin)
            .args(args)
            .output()
            .expect("runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let path = |p: &std::path::Path| p.to_str().expect("utf-8").to_owned();
    run(&["generate", "--rows", "3000", "--out", &path(&csv)]);
    let shipped = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fraud-engine/schemas/transactions.json"
    );
    let (strict, learned) = (dir.join("strict.fem"), dir.join("learned.fem"));
    run(&[
        "train",
        "--data",
        &path(&csv),
        "--trees",
        "10",
        "--schema",
        shipped,
        "--out",
        &path(&strict),
    ]);
    run(&[
        "train",
        "--data",
        &path(&csv),
        "--trees",
        "10",
        "--out",
        &path(&learned),
    ]);
    let hour_25 = DOCUMENTED.replace("\"transaction_hour\":14", "\"transaction_hour\":25");
    let null_amount = DOCUMENTED.replace("\"amount\":250.0", "\"amount\":null");

    let server = Server::start("schema-strict", &["--model", &path(&strict)], &[]);
    let r = server.post("/api/predict", &hour_25);
    assert_eq!(r.status, 422, "{}", r.text());
    let v = r.json();
    assert_eq!(v["details"][0]["field"], "transaction_hour");
    assert_eq!(
        v["details"][0]["reason"],
        "25 is outside the valid range: must be between 0 and 23"
    );
    drop(server);

    let server = Server::start("schema-learned", &["--model", &path(&learned)], &[]);
    let r = server.post("/api/predict", &hour_25);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["warnings"][0]["field"], "transaction_hour");
    assert_eq!(v["warnings"][0]["code"], "outside_training_range");
    let r = server.post("/api/predict", &null_amount);
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["details"][0]["field"], "amount");
    let _ = std::fs::remove_dir_all(&dir);
}

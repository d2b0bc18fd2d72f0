//! The web UI in a real headless Chromium, driven through chromedriver's
//! WebDriver HTTP API: fill the form and read the result and its explanation
//! (reasons and every contribution as signed bars), upload a CSV and
//! read the scored table, check that user data is rendered as text, draw the
//! model page, and save a screenshot of each page to
//! `target/ui-artifacts/`. Without chromium and chromedriver (install them
//! with `tests/setup-browser.sh`) the test says it was skipped, unless
//! `FRAUD_REQUIRE_BROWSER=1` makes that a failure.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{model, model_file, request, Server};
use serde_json::{json, Value};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

struct Driver {
    process: Child,
    addr: SocketAddr,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = request(
            self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            &[],
            None,
        );
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Driver {
    fn start(chromedriver: &Path, chromium: &Path, profile: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let process = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(addr).is_ok()
                && call(addr, "GET", "/status", None)["value"]["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=1280,1100",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let mut driver = Driver {
            process,
            addr,
            session: String::new(),
        };
        let v = call(addr, "POST", "/session", Some(&caps));
        driver.session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_owned();
        driver
    }

    fn cmd(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let v = call(
            self.addr,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        );
        if v["value"].get("error").is_some() {
            panic!("WebDriver {method} {path}: {v}");
        }
        v["value"].clone()
    }

    fn go(&self, url: &str) {
        self.cmd("POST", "/url", Some(&json!({ "url": url })));
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(&json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/clear"), Some(&json!({})));
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(&json!({ "text": text })),
        );
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/click"), Some(&json!({})));
    }

    fn js(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": []})),
        )
    }

    /// Polls a script until it returns something truthy.
    fn wait(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.js(script);
            if !(v.is_null() || v == false || v == "" || v == 0) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn screenshot(&self, dir: &Path, name: &str) {
        let v = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64"))
            .expect("valid base64");
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::write(dir.join(name), png).expect("write screenshot");
    }

    fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.cmd("GET", &format!("/element/{id}/text"), None)
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

fn call(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Value {
    let text = body.map(Value::to_string);
    let r = request(
        addr,
        method,
        path,
        &[("Content-Type", "application/json; charset=utf-8")],
        text.as_deref().map(str::as_bytes),
    );
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("ui-artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

#[test]
fn web_ui_in_headless_chromium() {
    let (Some(chromedriver), Some(chromium)) =
        (find_program("chromedriver"), find_program("chromium"))
    else {
        let message = "browser test SKIPPED: chromium and/or chromedriver are not installed \
                       (run fraud-server/tests/setup-browser.sh)";
        assert!(
            std::env::var("FRAUD_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "{message}"
        );
        println!("{message}");
        eprintln!("{message}");
        return;
    };
    let artifacts = artifacts_dir();
    let profile = common::temp_dir("chromium-profile");
    let server = Server::start(
        "browser",
        &["--model", model_file().to_str().expect("utf-8")],
        &[("RATE_LIMIT_PER_MINUTE", "0")],
    );
    let driver = Driver::start(&chromedriver, &chromium, &profile);
    let base = format!("http://{}", server.addr);

    // --- score one transaction through the form ---
    driver.go(&format!("{base}/#predict"));
    driver.wait("the form", "return document.body.dataset.ready === 'true'");
    let n_fields = driver.js("return document.querySelectorAll('#fields .field').length");
    assert_eq!(n_fields, 8);
    let inputs = [
        ("amount", "4999.5"),
        ("transaction_hour", "3"),
        ("device_trust_score", "8"),
        ("velocity_last_24h", "14"),
        ("cardholder_age", "22"),
        ("merchant_category", "Online"),
    ];
    for (name, value) in inputs {
        driver.type_into(&format!("#field-{name}"), value);
    }
    driver.click("#predict-submit");
    driver.wait(
        "the result",
        "return !document.getElementById('predict-result').hidden",
    );
    let mut tx = common::documented();
    for (name, value) in inputs {
        let v = value
            .parse::<f64>()
            .map_or_else(|_| json!(value), |n| json!(n));
        tx.insert(name.into(), v);
    }
    let expected = model().predict(&tx).expect("scores");
    let shown = driver.text("#result-probability");
    let shown_p: f64 = shown.trim_end_matches('%').parse().expect("a percentage");
    assert!(
        (shown_p - expected.fraud_probability * 100.0).abs() < 0.006,
        "{shown} vs {}",
        expected.fraud_probability
    );
    assert_eq!(driver.text("#result-risk"), expected.risk_level.as_str());
    let class = driver.js("return document.getElementById('result-risk').className");
    assert_eq!(class, format!("risk risk-{}", expected.risk_level.as_str()));
    let colour = driver
        .js("return getComputedStyle(document.getElementById('result-risk')).backgroundColor");
    assert_ne!(colour, "rgba(0, 0, 0, 0)", "the risk level is coloured");
    driver.screenshot(&artifacts, "predict.png");

    // --- the explanation: reasons and every contribution as signed bars ---
    let explained = model().explain(&tx).expect("explains");
    assert!(
        !explained.reasons.is_empty(),
        "the risky transaction has reasons"
    );
    driver.wait(
        "the explanation",
        "return !document.getElementById('result-explanation').hidden",
    );
    let reasons = driver.js(
        "return Array.from(document.querySelectorAll('#result-reasons li')).map(li => ({ \
           text: li.querySelector('.reason-text').textContent, \
           bars: Array.from(li.querySelectorAll('rect.reason-bar')).map(r => ({ \
             feature: r.dataset.feature, contribution: Number(r.dataset.contribution), \
             width: Number(r.getAttribute('width')), up: r.classList.contains('up'), \
             fill: r.getAttribute('fill') })) }))",
    );
    let reasons = reasons.as_array().expect("reasons");
    assert_eq!(reasons.len(), explained.reasons.len());
    for (shown, reason) in reasons.iter().zip(&explained.reasons) {
        assert_eq!(shown["text"], reason.text.as_str());
        let bars = shown["bars"].as_array().expect("bars");
        assert_eq!(bars.len(), 1, "one bar per reason: {shown}");
        assert_eq!(bars[0]["feature"], reason.feature.as_str());
        assert_eq!(bars[0]["contribution"].as_f64(), Some(reason.contribution));
        assert!(bars[0]["width"].as_f64().expect("width") > 0.0);
        assert_eq!(bars[0]["up"], true, "reasons raise the risk");
    }
    let bars = driver.js(
        "return Array.from(document.querySelectorAll('#contribution-chart rect.contribution-bar')).map(r => ({ \
           feature: r.dataset.feature, contribution: Number(r.dataset.contribution), \
           x: Number(r.getAttribute('x')), width: Number(r.getAttribute('width')), \
           up: r.classList.contains('up'), down: r.classList.contains('down'), \
           fill: getComputedStyle(r).fill }))",
    );
    let bars = bars.as_array().expect("bars");
    let names = model().feature_names();
    assert_eq!(bars.len(), names.len(), "a bar for every feature");
    let axis = bars
        .iter()
        .map(|b| {
            let x = b["x"].as_f64().expect("x");
            if b["up"] == true {
                x
            } else {
                x + b["width"].as_f64().expect("width")
            }
        })
        .collect::<Vec<f64>>();
    let mut fills = std::collections::BTreeMap::new();
    let mut previous = f64::INFINITY;
    for (bar, x) in bars.iter().zip(&axis) {
        let feature = bar["feature"].as_str().expect("feature");
        let i = names
            .iter()
            .position(|n| *n == feature)
            .expect("a model feature");
        let c = explained.explanation.contributions[i];
        assert_eq!(bar["contribution"].as_f64(), Some(c), "{feature}");
        // Signed: positive bars grow right of the zero line, negative left.
        assert_eq!(bar["up"] == true, c >= 0.0, "{feature}: {bar}");
        assert_eq!(bar["down"] == true, c < 0.0, "{feature}: {bar}");
        assert!((x - axis[0]).abs() < 0.2, "every bar starts at zero: {bar}");
        // Largest magnitude first.
        assert!(c.abs() <= previous, "{feature} is out of order");
        previous = c.abs();
        fills.insert(c >= 0.0, bar["fill"].clone());
    }
    if let (Some(up), Some(down)) = (fills.get(&true), fills.get(&false)) {
        assert_ne!(up, down, "raising and lowering bars differ in colour");
    }
    let base_text = driver.text("#result-base");
    let base_shown = format!("{:.2}%", explained.explanation.base_value * 100.0);
    assert!(
        base_text.contains(&base_shown),
        "{base_text} lacks {base_shown}"
    );
    driver.js("document.getElementById('result-explanation').scrollIntoView(); return true");
    driver.screenshot(&artifacts, "predict-explanation.png");

    // --- user data is rendered as text, never as HTML ---
    let hostile = "<img id=\"injected\" src=x onerror=\"document.title='pwned'\">";
    driver.type_into("#field-merchant_category", hostile);
    driver.click("#predict-submit");
    driver.wait(
        "the warning",
        "return document.getElementById('result-warnings').children.length > 0",
    );
    assert_eq!(
        driver.js("return document.getElementById('injected') === null"),
        true
    );
    assert_ne!(driver.js("return document.title"), "pwned");

    // --- a form error names the field ---
    driver.type_into("#field-transaction_hour", "99");
    driver.click("#predict-submit");
    let error = driver.wait(
        "the error",
        "const e = document.getElementById('predict-error'); return e.hidden ? '' : e.textContent",
    );
    assert!(
        error.as_str().expect("text").contains("transaction_hour"),
        "{error}"
    );
    driver.screenshot(&artifacts, "predict-error.png");

    // --- history, with the hostile input shown as text ---
    driver.go(&format!("{base}/#history"));
    driver.wait(
        "history rows",
        "return document.querySelectorAll('#history-table tr').length > 1",
    );
    let page_text = driver.js("return document.getElementById('history-table').textContent");
    assert!(page_text
        .as_str()
        .expect("text")
        .contains("<img id=\\\"injected\\\""));
    assert_eq!(
        driver.js("return document.getElementById('injected') === null"),
        true
    );
    driver.screenshot(&artifacts, "history.png");

    // --- upload a CSV ---
    let csv_dir = common::temp_dir("csv");
    let csv_path = csv_dir.join("transactions.csv");
    fraud_engine::synth::write_csv(&csv_path, 40, 5).expect("csv");
    driver.go(&format!("{base}/#batch"));
    let file_input = driver.find("#batch-file");
    driver.cmd(
        "POST",
        &format!("/element/{file_input}/value"),
        Some(&json!({ "text": csv_path.to_str().expect("utf-8") })),
    );
    let status = driver.wait(
        "the scored table",
        "const s = document.getElementById('batch-status').textContent; return s.startsWith('Scored') ? s : ''",
    );
    assert!(
        status.as_str().expect("text").starts_with("Scored 40 rows"),
        "{status}"
    );
    let rows = driver.js("return document.querySelectorAll('#batch-table tr').length");
    assert_eq!(rows, 41);
    let href = driver.js("return document.getElementById('batch-download').href");
    assert!(href.as_str().expect("href").starts_with("blob:"), "{href}");
    // The first row's risk level is what the engine says for that CSV row.
    let table = fraud_engine::Table::read_csv(&csv_path).expect("read csv");
    let first_risk = model()
        .predict_many(fraud_engine::Rows::Table(&table))
        .expect("scores")[0]
        .risk_level;
    let shown = driver.js(
        "const r = document.querySelectorAll('#batch-table tr')[1].children; return r[r.length - 1].textContent",
    );
    assert_eq!(shown, first_risk.as_str());
    driver.screenshot(&artifacts, "batch.png");

    // --- model page: metrics, importance bars, ROC and PR curves ---
    driver.go(&format!("{base}/#model"));
    driver.wait(
        "the charts",
        "return document.querySelector('#roc-chart svg path.curve') && document.querySelector('#pr-chart svg path.curve')",
    );
    assert_eq!(
        driver
            .js("return document.querySelectorAll('#importance-chart rect.importance-bar').length"),
        8
    );
    let metrics = driver.js("return document.getElementById('model-metrics').textContent");
    assert!(metrics.as_str().expect("text").contains("ROC-AUC"));
    driver.screenshot(&artifacts, "model.png");
    driver.js("document.querySelector('.curves').scrollIntoView(); return true");
    driver.screenshot(&artifacts, "model-curves.png");

    // No Content-Security-Policy violations were reported.
    let logs = call(
        driver.addr,
        "POST",
        &format!("/session/{}/se/log", driver.session),
        Some(&json!({"type": "browser"})),
    );
    if let Some(entries) = logs["value"].as_array() {
        for entry in entries {
            let message = entry["message"].as_str().unwrap_or("");
            assert!(
                !message.contains("Content Security Policy"),
                "CSP violation: {message}"
            );
        }
    }
    for name in [
        "predict.png",
        "predict-explanation.png",
        "batch.png",
        "history.png",
        "model.png",
    ] {
        assert!(artifacts.join(name).exists());
    }
    println!("screenshots in {}", artifacts.display());
}

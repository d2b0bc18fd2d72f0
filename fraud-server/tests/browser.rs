//! The web UI in a real headless Chromium, driven through chromedriver's
//! WebDriver HTTP API: fill the form and read the result and its explanation
//! (reasons and every contribution as signed bars), upload a CSV and
//! read the scored table, check that user data is rendered as text, draw the
//! model page, filter the history, audit every page with axe-core, and save
//! screenshots of each page at a desktop and a phone width to
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

    /// Selects the option whose value is `value` in a `<select>`, as a
    /// person choosing it would (the page hears a change).
    fn choose(&self, css: &str, value: &str) {
        let script = "const s = document.querySelector(arguments[0]); s.value = arguments[1]; \
                      s.dispatchEvent(new Event('change', { bubbles: true })); return s.value === arguments[1]";
        let chosen = self.cmd(
            "POST",
            "/execute/sync",
            Some(&json!({ "script": script, "args": [css, value] })),
        );
        assert_eq!(chosen, true, "{css} has no option {value:?}");
    }

    /// Runs the axe-core accessibility checker on the page; any serious or
    /// critical violation fails the test, naming the rule and the elements.
    fn audit(&self, what: &str) {
        let axe = axe_source();
        self.cmd(
            "POST",
            "/execute/sync",
            Some(&json!({ "script": format!("{axe}; return true;"), "args": [] })),
        );
        let v = self.cmd(
            "POST",
            "/execute/async",
            Some(&json!({
                "script": "const done = arguments[arguments.length - 1]; \
                    axe.run(document, { resultTypes: ['violations'] }).then(r => done(r.violations.map(v => ({ \
                      id: v.id, impact: v.impact, help: v.help, \
                      nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5) })))).catch(e => done('error: ' + e))",
                "args": [],
            })),
        );
        let violations = v
            .as_array()
            .unwrap_or_else(|| panic!("axe failed on {what}: {v}"));
        let serious: Vec<&Value> = violations
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(
            serious.is_empty(),
            "accessibility violations on {what}: {serious:#?}"
        );
    }

    /// Screenshots of the page at a desktop and a phone width.
    fn screenshots(&self, dir: &Path, name: &str) {
        for (size, width, height) in [("desktop", 1280, 1100), ("phone", 390, 844)] {
            self.cmd(
                "POST",
                "/window/rect",
                Some(&json!({ "width": width, "height": height })),
            );
            self.screenshot(dir, &format!("{name}-{size}.png"));
        }
        self.cmd(
            "POST",
            "/window/rect",
            Some(&json!({ "width": 1280, "height": 1100 })),
        );
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

/// The axe-core script that `tests/setup-browser.sh` installs with npm.
fn axe_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("target dir")
            .to_owned();
        let path = target.join("axe-core/node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "axe-core is not installed at {} ({e}): run fraud-server/tests/setup-browser.sh",
                path.display()
            )
        })
    })
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
    // Every input has a label tied to it, and a hint in words.
    assert_eq!(
        driver.js("return [...document.querySelectorAll('#fields input:not([hidden]), #fields select')].every(i => i.labels.length > 0 || i.getAttribute('aria-label'))"),
        true
    );
    let hint = driver.text("#field-transaction_hour-hint");
    assert_eq!(hint, "a number between 0 and 23, required");
    // A categorical feature is a select of the model's categories, and "other".
    let options = driver.js(
        "return [...document.getElementById('field-merchant_category').options].map(o => o.textContent)",
    );
    let options: Vec<&str> = options
        .as_array()
        .expect("options")
        .iter()
        .map(|o| o.as_str().expect("text"))
        .collect();
    let categories = model()
        .category_codes("merchant_category")
        .expect("categorical");
    assert_eq!(options.len(), categories.categories.len() + 1);
    assert!(options.contains(&"Online"));
    assert_eq!(options.last(), Some(&"other (unknown to the model)"));
    let inputs = [
        ("amount", "4999.5"),
        ("transaction_hour", "3"),
        ("device_trust_score", "8"),
        ("velocity_last_24h", "14"),
        ("cardholder_age", "22"),
    ];
    for (name, value) in inputs {
        driver.type_into(&format!("#field-{name}"), value);
    }
    driver.choose("#field-merchant_category", "Online");
    driver.click("#predict-submit");
    driver.wait(
        "the result",
        "return !document.getElementById('predict-result').hidden",
    );
    let mut tx = common::documented();
    for (name, value) in inputs.iter().chain(&[("merchant_category", "Online")]) {
        let v = value
            .parse::<f64>()
            .map_or_else(|_| json!(value), |n| json!(n));
        tx.insert((*name).into(), v);
    }
    let expected = model().predict(&tx).expect("scores");
    let shown = driver.text("#result-probability");
    let shown_p: f64 = shown.trim_end_matches('%').parse().expect("a percentage");
    assert!(
        (shown_p - expected.fraud_probability * 100.0).abs() < 0.006,
        "{shown} vs {}",
        expected.fraud_probability
    );
    // The risk level is a word as well as a colour.
    assert_eq!(driver.text("#result-risk"), expected.risk_level.as_str());
    let class = driver.js("return document.getElementById('result-risk').className");
    assert_eq!(class, format!("risk risk-{}", expected.risk_level.as_str()));
    let colour = driver
        .js("return getComputedStyle(document.getElementById('result-risk')).backgroundColor");
    assert_ne!(colour, "rgba(0, 0, 0, 0)", "the risk level is coloured");
    driver.audit("the scored transaction");
    driver.screenshots(&artifacts, "predict");

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

    // --- "other": a category the model never saw, shown as text, warned about ---
    let hostile = "<img id=\"injected\" src=x onerror=\"document.title='pwned'\">";
    driver.choose("#field-merchant_category", "\u{0}other");
    assert_eq!(
        driver.js("return document.getElementById('field-merchant_category-other').hidden"),
        false
    );
    assert_eq!(
        driver.js("return document.activeElement.id"),
        "field-merchant_category-other"
    );
    driver.type_into("#field-merchant_category-other", hostile);
    driver.click("#predict-submit");
    // The first transaction's values lie outside the training range, so its
    // warnings are still on the page until this answer replaces them: wait
    // for this answer's warning, not for any warning.
    let warning = driver.wait(
        "the unknown-category warning",
        "const w = document.getElementById('result-warnings').textContent; return w.includes('unknown bucket') ? w : ''",
    );
    assert!(
        warning
            .as_str()
            .expect("text")
            .contains("merchant_category"),
        "the warning names the field: {warning}"
    );
    assert_eq!(
        driver.js("return document.getElementById('injected') === null"),
        true
    );
    assert_ne!(driver.js("return document.title"), "pwned");

    // --- a form error names the field, in words, marks it and focuses it ---
    driver.choose("#field-merchant_category", "Online");
    driver.type_into("#field-transaction_hour", "99");
    driver.click("#predict-submit");
    let error = driver.wait(
        "the error",
        "const e = document.getElementById('predict-error'); return e.hidden ? '' : e.textContent",
    );
    let error = error.as_str().expect("text");
    assert!(error.contains("transaction_hour"), "{error}");
    assert!(
        error.contains("between 0 and 23") && !error.contains("..="),
        "{error}"
    );
    assert_eq!(
        driver.js(
            "return document.getElementById('field-transaction_hour').getAttribute('aria-invalid')"
        ),
        "true"
    );
    assert!(driver
        .text("#field-transaction_hour-error")
        .contains("must be between 0 and 23"));
    assert_eq!(
        driver.js("return document.activeElement.id"),
        "field-transaction_hour"
    );
    driver.audit("the form with an error");
    driver.screenshots(&artifacts, "predict-error");
    driver.type_into("#field-transaction_hour", "3");
    driver.click("#predict-submit");
    driver.wait(
        "the error to clear",
        "return document.getElementById('predict-error').hidden && !document.getElementById('field-transaction_hour').hasAttribute('aria-invalid')",
    );

    // --- history: features in an expandable row, labels, filters, paging ---
    // Label the oldest prediction, as an analyst's review would.
    let oldest = server.get("/api/predictions?limit=100").json()["predictions"]
        .as_array()
        .and_then(|rows| rows.last().cloned())
        .expect("a stored prediction");
    let labelled = server.post(
        "/api/feedback",
        &json!({"request_id": oldest["request_id"], "is_fraud": 1}).to_string(),
    );
    assert_eq!(labelled.status, 200, "{}", labelled.text());
    driver.go(&format!("{base}/#history"));
    driver.wait(
        "history rows",
        "return document.querySelectorAll('#history-table tr:not(.details)').length > 1",
    );
    assert_eq!(
        driver.js("return [...document.querySelectorAll('#history-table th')].map(h => h.textContent).filter(h => h === 'shadow' || h === 'label')"),
        json!(["shadow", "label"])
    );
    // Exactly the labelled row shows its label; no shadow model was set.
    assert_eq!(
        driver.js(&format!(
            "return [...document.querySelectorAll('#history-table tr:not(.details)')].filter(r => r.querySelector('td.label')).map(r => [r.cells[1].textContent, r.querySelector('td.label').textContent, r.querySelector('td.shadow').textContent]).filter(r => r[1] !== '' || r[2] !== '' || r[0] === '{}')",
            oldest["id"]
        )),
        json!([[oldest["id"].to_string(), "1 (fraud)", ""]])
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
    assert_eq!(
        driver.js("return document.querySelector('#history-table tr.details').hidden"),
        true
    );
    driver.click("#history-table button.toggle");
    assert_eq!(
        driver.js("return [document.querySelector('#history-table tr.details').hidden, document.querySelector('#history-table button.toggle').getAttribute('aria-expanded')]"),
        json!([false, "true"])
    );
    let rows_before =
        driver.js("return document.querySelectorAll('#history-table tr.details').length");
    driver.audit("the history");
    driver.screenshots(&artifacts, "history");
    driver.choose("#filter-risk", expected.risk_level.as_str());
    driver.click("#filter-apply");
    let levels = driver.wait(
        "filtered rows",
        "const s = document.getElementById('history-status').textContent; \
         return s.includes('of') ? [...document.querySelectorAll('#history-table .risk')].map(r => r.textContent) : ''",
    );
    let levels = levels.as_array().expect("levels");
    assert!(!levels.is_empty());
    assert!(
        levels.iter().all(|l| *l == expected.risk_level.as_str()),
        "{levels:?}"
    );
    driver.choose("#filter-risk", "");
    driver.js("document.getElementById('filter-until').value = '1999-12-31'; return true");
    driver.click("#filter-apply");
    driver.wait(
        "no rows",
        "return document.getElementById('history-status').textContent === 'No predictions match.'",
    );
    driver.js("document.getElementById('filter-until').value = ''; return true");
    driver.click("#filter-apply");
    driver.wait(
        "every row again",
        &format!("return document.querySelectorAll('#history-table tr.details').length === {rows_before}"),
    );

    // --- batch: a sample file, progress, a summary, and the scored file ---
    driver.go(&format!("{base}/#batch"));
    let sample = driver.wait(
        "the sample link",
        "const a = document.getElementById('batch-sample'); return a.href.startsWith('blob:') ? a.href : ''",
    );
    assert!(sample.as_str().expect("href").starts_with("blob:"));
    // The page's CSP keeps it from fetching its own blob: URL back, so the
    // text is read from the function that made it.
    let sample_text = driver
        .js("return sampleCsv(modelInfo)")
        .as_str()
        .expect("text")
        .to_owned();
    let sample_header: Vec<&str> = sample_text
        .lines()
        .next()
        .expect("header")
        .split(',')
        .collect();
    assert_eq!(sample_header, names, "the sample has the model's columns");
    let csv_dir = common::temp_dir("csv");
    let csv_path = csv_dir.join("transactions.csv");
    fraud_engine::synth::write_csv(&csv_path, 40, 5).expect("csv");
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
    assert_eq!(
        driver.js("const p = document.getElementById('batch-progress'); return [p.value, p.max]"),
        json!([40, 40])
    );
    let rows = driver.js("return document.querySelectorAll('#batch-table tr').length");
    assert_eq!(rows, 41);
    // The file's own is_fraud label is kept; the verdict is predicted_is_fraud.
    let header = driver.js(
        "return [...document.querySelectorAll('#batch-table tr:first-child th')].map(h => h.textContent)",
    );
    let header: Vec<&str> = header
        .as_array()
        .expect("header")
        .iter()
        .map(|h| h.as_str().expect("text"))
        .collect();
    assert_eq!(header.iter().filter(|h| **h == "is_fraud").count(), 1);
    assert_eq!(
        &header[header.len() - 3..],
        ["fraud_probability", "predicted_is_fraud", "risk_level"]
    );
    let href = driver.js("return document.getElementById('batch-download').href");
    assert!(href.as_str().expect("href").starts_with("blob:"), "{href}");
    let table = fraud_engine::Table::read_csv(&csv_path).expect("read csv");
    let predictions = model()
        .predict_many(fraud_engine::Rows::Table(&table))
        .expect("scores");
    let shown = driver.js(
        "const r = document.querySelectorAll('#batch-table tr')[1].children; return r[r.length - 1].textContent",
    );
    assert_eq!(shown, predictions[0].risk_level.as_str());
    // The summary counts each level and bins every probability.
    let counts = driver.js(
        "return Object.fromEntries([...document.querySelectorAll('#batch-counts tr')].slice(1).map(tr => \
           [tr.querySelector('.risk').textContent, Number(tr.querySelector('.count').textContent)]))",
    );
    for level in [
        fraud_engine::RiskLevel::Low,
        fraud_engine::RiskLevel::Medium,
        fraud_engine::RiskLevel::High,
    ] {
        let n = predictions.iter().filter(|p| p.risk_level == level).count();
        assert_eq!(counts[level.as_str()], n, "{level}");
    }
    let binned = driver.js(
        "return [...document.querySelectorAll('#batch-histogram rect.histogram-bar')].reduce((a, r) => a + Number(r.dataset.count), 0)",
    );
    assert_eq!(binned, 40);
    driver.audit("the scored batch");
    driver.screenshots(&artifacts, "batch");

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
    // The PR curve starts at recall 0, precision 1 (the plot's top left).
    let start = driver.js("return document.querySelector('#pr-chart svg path.curve').getAttribute('d').split(' L')[0]");
    assert_eq!(start, "M48.0 10.0");
    driver.audit("the model page");
    driver.screenshots(&artifacts, "model");
    driver.js("document.querySelector('.curves').scrollIntoView(); return true");
    driver.screenshot(&artifacts, "model-curves.png");

    // --- drift page: the window of what was scored above, PSI per feature ---
    driver.go(&format!("{base}/#drift"));
    driver.wait(
        "the drift table",
        "return document.querySelectorAll('#drift-table tr').length > 1",
    );
    // A header, the eight features, then the score.
    assert_eq!(
        driver.js("return document.querySelectorAll('#drift-table tr').length"),
        10
    );
    assert_eq!(
        driver.js("return [...document.querySelectorAll('#drift-table .band')].every(b => ['stable', 'moderate', 'significant'].includes(b.textContent))"),
        true
    );
    assert_eq!(
        driver.js("return document.querySelectorAll('#drift-table svg rect.psi-bar').length"),
        9
    );
    let status = driver.text("#drift-status");
    assert!(
        status.contains(&model().metadata().model_id),
        "the drift page names the model: {status}"
    );
    driver.audit("the drift page");
    driver.screenshots(&artifacts, "drift");

    // --- addresses that are not pages ---
    driver.go(&format!("{base}/#nowhere"));
    driver.wait(
        "the missing-page notice",
        "return !document.getElementById('page-missing').hidden",
    );
    assert_eq!(driver.text("#missing-name"), "#nowhere");
    assert_eq!(
        driver.js("return document.getElementById('page-predict').hidden"),
        true
    );
    driver.audit("the missing page");
    driver.screenshots(&artifacts, "missing-page");
    driver.go(&format!("{base}/nope"));
    assert_eq!(driver.text("h1"), "Page not found");
    driver.audit("the not-found page");
    driver.screenshots(&artifacts, "not-found");

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
    for page in [
        "predict",
        "predict-error",
        "batch",
        "history",
        "model",
        "drift",
        "missing-page",
        "not-found",
    ] {
        for size in ["desktop", "phone"] {
            assert!(
                artifacts.join(format!("{page}-{size}.png")).exists(),
                "{page}-{size}"
            );
        }
    }
    println!("screenshots in {}", artifacts.display());
}

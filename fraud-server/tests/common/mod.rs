//! Shared test helpers: a small trained model, in-process state, the real
//! binary on a loopback port, and a minimal HTTP/1.1 client (so tests can
//! send exactly the bytes they mean, chunked bodies included).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fraud_engine::{synth, train, Model, TrainParams};
use fraud_server::history::History;
use fraud_server::metrics::Metrics;
use fraud_server::{AppState, Limits, Settings};

pub mod postgres;

/// Whether `done` comes true within `secs` seconds, asked every 25 ms: for
/// what the server does just after the client sees an answer or a close
/// (a log line from the writer thread, a connection counted once closed).
pub fn eventually(secs: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The documented request body.
pub const DOCUMENTED: &str = r#"{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#;

/// The documented request body with a `transaction_id`.
pub fn documented_with_id(id: &str) -> String {
    DOCUMENTED.replacen('{', &format!(r#"{{"transaction_id":"{id}","#), 1)
}

/// Posts `body(n)` for n = 0, 1, ... to `/api/predict` at `addr`, each
/// answered 200, until `running` turns false: traffic while something else
/// happens. The thread's result is how many were sent.
pub fn predict_until(
    addr: SocketAddr,
    running: std::sync::Arc<std::sync::atomic::AtomicBool>,
    body: impl Fn(usize) -> String + Send + 'static,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut sent = 0;
        while running.load(std::sync::atomic::Ordering::SeqCst) {
            let r = request(
                addr,
                "POST",
                "/api/predict",
                &[("Content-Type", "application/json")],
                Some(body(sent).as_bytes()),
            );
            assert_eq!(r.status, 200, "{}", r.text());
            sent += 1;
        }
        sent
    })
}

pub fn documented() -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(DOCUMENTED).expect("documented body parses")
}

/// A fresh directory under the system temp dir, removed when dropped; kept
/// when the test fails (it is dropped while panicking), with its path
/// printed, so the logs and files in it can be looked into.
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept {} for the failing test", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A fresh [`TempDir`].
pub fn temp_dir(name: &str) -> TempDir {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "fraud-server-test-{}-{name}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    TempDir(dir)
}

/// A small model trained once per test binary (fast in debug builds).
pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| small_model(11))
}

pub fn small_model(seed: u64) -> Model {
    let data = synth::generate(4000, seed);
    let params = TrainParams {
        n_trees: 15,
        max_depth: 8.into(),
        seed,
        ..TrainParams::default()
    };
    train(&data, &params).expect("training works")
}

/// The small model saved to a file, under the target directory (a static
/// lives as long as the process, so a temp dir would never be removed).
pub fn model_file() -> &'static Path {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fraud-server-tests");
        std::fs::create_dir_all(&dir).expect("target tmp dir");
        let path = dir.join(format!("model-{}.fem", std::process::id()));
        model().save(&path).expect("save model");
        path
    })
}

pub fn settings() -> Settings {
    Settings {
        api_key: None,
        rate_limit_per_minute: 0,
        cors_origins: None,
        limits: Limits {
            body_bytes: 64 * 1024,
            batch_body_bytes: 4 * 1024 * 1024,
            max_batch: 100,
        },
        trusted_proxies: Default::default(),
        admin_key: None,
    }
}

/// In-process state and the directory of its history file, removed with it.
pub struct TestState {
    state: AppState,
    _dir: TempDir,
}

impl TestState {
    /// A handle to the state ([`AppState`] is a cheap shared handle).
    #[allow(clippy::should_implement_trait)] // It clones the handle, not the directory.
    pub fn clone(&self) -> AppState {
        self.state.clone()
    }
}

impl Drop for TestState {
    /// Stops the history's writer before the directory goes: a writer (or
    /// SQLite's WAL files) still busy in it would leave the directory behind.
    fn drop(&mut self) {
        let state = self.state.clone();
        // A thread of its own: this may run inside a test's runtime, where
        // blocking on another runtime is not allowed.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = rt.block_on(state.history().close());
            }
        })
        .join();
    }
}

impl std::ops::Deref for TestState {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.state
    }
}

/// In-process state with the small model loaded and its own history file.
pub fn state_with(settings: Settings) -> TestState {
    let state = state_without_model(settings);
    state.set_model(model().clone()).expect("a servable model");
    state
}

pub fn state_without_model(settings: Settings) -> TestState {
    let dir = temp_dir("state");
    let metrics = Metrics::new().expect("metrics");
    let history =
        History::open(&dir.join("history.db"), 64, metrics.clone()).expect("history opens");
    TestState {
        state: AppState::new(history, metrics, settings),
        _dir: dir,
    }
}

// ---- the routes behind the real connection layer, in this process ----

/// Connection limits for tests: the defaults, with the given timeouts.
pub fn limits(
    header: Duration,
    body: Duration,
    keep_alive: Duration,
) -> fraud_server::ConnectionLimits {
    fraud_server::ConnectionLimits {
        header_read: header,
        body_read: body,
        keep_alive,
        max_connections: 1024,
        max_per_address: 0,
    }
}

/// `routes(state)` served by `fraud_server::connections::serve` on a
/// loopback port, on a runtime of its own; stopped on drop.
pub struct InProcess {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcess {
    pub fn start(state: AppState, limits: fraud_server::ConnectionLimits) -> InProcess {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound, addr) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind loopback");
                bound
                    .send(listener.local_addr().expect("addr"))
                    .expect("report the address");
                let metrics = state.metrics().clone();
                fraud_server::connections::serve(
                    listener,
                    fraud_server::routes(state),
                    limits,
                    metrics,
                    async move {
                        let _ = stopped.await;
                    },
                )
                .await;
            });
        });
        InProcess {
            addr: addr.recv().expect("the server binds"),
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---- the real binary ----

/// The server binary running on a free loopback port; killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub stderr_path: PathBuf,
    /// The directory [`Server::start`] made, removed after the server stops.
    owned_dir: Option<TempDir>,
}

impl Server {
    /// Starts `fraud-server serve --port 0 ...extra` with its data in a
    /// fresh directory, waiting until it prints its address.
    pub fn start(name: &str, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = temp_dir(name);
        let mut server = Self::start_in(&dir, extra, env);
        server.owned_dir = Some(dir);
        server
    }

    pub fn start_in(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let stderr_path = dir.join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fraud-server"));
        cmd.arg("serve")
            .args(["--port", "0", "--data-dir"])
            .arg(dir.join("data"))
            .args(extra)
            .current_dir(dir)
            .env_remove("API_KEY")
            .env_remove("PORT")
            .env_remove("MODEL_PATH")
            .env_remove("DATABASE_URL")
            .env_remove("RATE_LIMIT_PER_MINUTE")
            .env_remove("CORS_ORIGINS")
            .env_remove("ADMIN_API_KEY")
            .env_remove("MODEL_REGISTRY")
            .env_remove("DRIFT_WINDOW")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the server starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        let read = reader.read_line(&mut line).unwrap_or(0);
        if read == 0 {
            let _ = child.wait();
            let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            panic!("the server exited before listening: {log}");
        }
        let addr: SocketAddr = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Server {
            child,
            addr,
            dir: dir.to_owned(),
            stderr_path,
            owned_dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn get(&self, path: &str) -> Resp {
        request(self.addr, "GET", path, &[], None)
    }

    pub fn post(&self, path: &str, body: &str) -> Resp {
        request(
            self.addr,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        )
    }

    /// Sends a signal with the `kill` command.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit (at most `secs`), returning its code.
    pub fn wait_exit(&mut self, secs: u64) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit within {secs} s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Polls `/ready` until 200.
    pub fn wait_ready(&self, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if self.get("/ready").status == 200 {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("not ready after {secs} s: {}", self.stderr());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---- a minimal HTTP/1.1 client ----

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a new connection (`Connection: close`).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    send_raw(addr, &bytes)
}

/// Writes `bytes` as the whole request and reads the response.
pub fn send_raw(addr: SocketAddr, bytes: &[u8]) -> Resp {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    // The server may answer (413) and close before reading everything.
    let _ = stream.write_all(bytes);
    read_response(&mut stream)
}

/// Reads one response, framed by Content-Length or chunked encoding (a peer
/// may keep the connection open despite `Connection: close`), else to EOF.
pub fn read_response(stream: &mut TcpStream) -> Resp {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut head_end = None;
    loop {
        if let Some(end) = head_end {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let body = &raw[end + 4..];
            let length = head.lines().find_map(|l| {
                l.strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse::<usize>().ok())
            });
            if let Some(n) = length {
                if body.len() >= n {
                    break;
                }
            } else if head.contains("transfer-encoding: chunked") && body.ends_with(b"0\r\n\r\n") {
                break;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
        if head_end.is_none() {
            head_end = raw.windows(4).position(|w| w == b"\r\n\r\n");
        }
    }
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> Resp {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        data = &data[end + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

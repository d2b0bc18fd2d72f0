//! The deployment files run or check for real: the Procfile's commands as
//! a platform runs them (through `sh -c`, with `$PORT` set), and the systemd
//! unit through `systemd-analyze verify` and its offline security score.
//! (nginx's config runs in benches/scale/run.sh, the Dockerfile in
//! scripts/test-container.sh.)

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_owned()
}

fn binary_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_fraud-server"))
        .parent()
        .expect("a directory")
        .to_owned()
}

/// The Procfile's process types and commands.
fn procfile() -> Vec<(String, String)> {
    std::fs::read_to_string(repo().join("Procfile"))
        .expect("a Procfile at the top of the repository")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (kind, command) = l.split_once(':').expect("`type: command` lines");
            (kind.trim().to_owned(), command.trim().to_owned())
        })
        .collect()
}

/// `sh -c COMMAND` as a platform runs a Procfile entry: the binary on the
/// PATH, settings in the environment.
fn platform(command: &str, dir: &Path, port: u16) -> Command {
    let path = format!(
        "{}:{}",
        binary_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new("sh");
    c.args(["-c", command])
        .current_dir(dir)
        .env("PATH", path)
        .env("PORT", port.to_string())
        .env("DATABASE_URL", dir.join("history.db"))
        .env("MODEL_PATH", common::model_file())
        .env("DATA_DIR", dir.join("data"))
        .env_remove("API_KEY")
        .env_remove("HOST");
    c
}

#[test]
fn the_procfile_runs_as_a_platform_runs_it() {
    let entries = procfile();
    let command = |kind: &str| {
        entries
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| panic!("no `{kind}` process in the Procfile: {entries:?}"))
    };
    let dir = common::temp_dir("procfile");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let release = platform(&command("release"), &dir, port)
        .output()
        .expect("release runs");
    assert!(
        release.status.success(),
        "{}",
        String::from_utf8_lossy(&release.stderr)
    );
    assert!(String::from_utf8_lossy(&release.stdout).contains("schema"));

    let mut web = platform(&command("web"), &dir, port)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("web runs");
    let mut line = String::new();
    BufReader::new(web.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the address line");
    // It listens on every interface, on the platform's $PORT.
    assert!(line.contains(&format!("0.0.0.0:{port}")), "{line}");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let deadline = Instant::now() + Duration::from_secs(30);
    while common::request(addr, "GET", "/ready", &[], None).status != 200 {
        assert!(Instant::now() < deadline, "not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = common::request(
        addr,
        "POST",
        "/api/predict",
        &[("Content-Type", "application/json")],
        Some(common::DOCUMENTED.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // The container image's health check, against it and against nothing.
    let healthy = Command::new(env!("CARGO_BIN_EXE_fraud-server"))
        .args(["healthcheck", "--port", &port.to_string()])
        .output()
        .expect("healthcheck runs");
    assert!(healthy.status.success());
    assert!(String::from_utf8_lossy(&healthy.stdout).contains("\"ready\""));
    web.kill().ok();
    web.wait().ok();
    let down = Command::new(env!("CARGO_BIN_EXE_fraud-server"))
        .args(["healthcheck", "--port", &port.to_string()])
        .output()
        .expect("healthcheck runs");
    assert!(!down.status.success());
    assert!(String::from_utf8_lossy(&down.stderr).contains(&format!("127.0.0.1:{port}/ready")));
    // Started again: the history written before is still there.
    let mut web = platform(&command("web"), &dir, port)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("web runs again");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !Command::new(env!("CARGO_BIN_EXE_fraud-server"))
        .args(["healthcheck", "--port", &port.to_string()])
        .output()
        .expect("healthcheck runs")
        .status
        .success()
    {
        assert!(Instant::now() < deadline, "not ready again");
        std::thread::sleep(Duration::from_millis(50));
    }
    let page = common::request(addr, "GET", "/api/predictions", &[], None).json();
    assert_eq!(page["total"], 1);
    Command::new("kill")
        .args(["-TERM", &web.id().to_string()])
        .status()
        .expect("kill");
    assert!(
        web.wait().expect("exit").success(),
        "SIGTERM ends it cleanly"
    );
    assert!(dir.join("history.db").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `systemd-analyze`, or a plain failure saying how to get it.
fn systemd_analyze() -> Command {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "systemd-analyze is not installed, so the unit file cannot be checked \
         (apt-get install systemd; deploy/install-test-deps.sh does)"
    );
    Command::new("systemd-analyze")
}

/// `systemd-analyze verify` passes with no complaint about this unit (the
/// host's other units may have their own).
fn verify(unit: &Path) {
    let verify = systemd_analyze()
        .arg("verify")
        .arg(unit)
        .output()
        .expect("systemd-analyze runs");
    let complaints = String::from_utf8_lossy(&verify.stderr);
    let ours: Vec<&str> = complaints
        .lines()
        .filter(|l| l.contains("fraud-server"))
        .collect();
    assert!(
        verify.status.success() && ours.is_empty(),
        "systemd-analyze verify {}: {complaints}",
        unit.display()
    );
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let unit = std::fs::read_to_string(repo().join("deploy/systemd/fraud-server.service"))
        .expect("the unit file");
    for needed in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "StateDirectory=fraud-engine",
        "Restart=on-failure",
        "ExecReload=/bin/sh -c 'kill -HUP $MAINPID'",
        "KillSignal=SIGTERM",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(unit.contains(needed), "the unit lacks {needed:?}");
    }
    // verify checks that ExecStart exists: point it at the binary built here.
    let dir = common::temp_dir("systemd");
    let path = dir.join("fraud-server.service");
    std::fs::write(
        &path,
        unit.replace(
            "/usr/local/bin/fraud-server",
            env!("CARGO_BIN_EXE_fraud-server"),
        ),
    )
    .expect("write the unit");
    verify(&path);
    // The template docs/deploy.md makes for replicas (PORT and state per
    // instance), with the same sed expressions.
    let template = dir.join("fraud-server@.service");
    let made = Command::new("sed")
        .args([
            "-e",
            "s/^Environment=PORT=5000$/Environment=PORT=%i/",
            "-e",
            "s|fraud-engine$|fraud-engine/%i|",
        ])
        .arg(&path)
        .output()
        .expect("sed runs");
    let text = String::from_utf8_lossy(&made.stdout).into_owned();
    for line in [
        "Environment=PORT=%i",
        "StateDirectory=fraud-engine/%i",
        "WorkingDirectory=/var/lib/fraud-engine/%i",
        "Environment=DATA_DIR=/var/lib/fraud-engine/%i",
    ] {
        assert!(text.contains(line), "the template lacks {line}");
    }
    std::fs::write(&template, text).expect("write the template");
    let instance = dir.join("fraud-server@5001.service");
    std::os::unix::fs::symlink(&template, &instance).expect("an instance");
    verify(&instance);
    let security = systemd_analyze()
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&path)
        .output()
        .expect("systemd-analyze security runs");
    let report = String::from_utf8_lossy(&security.stdout);
    let exposure: f64 = report
        .lines()
        .find_map(|l| l.split("fraud-server.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in: {report}"));
    println!("systemd-analyze security --offline: exposure {exposure} (0 is best, 10 worst)");
    assert!(exposure <= 2.0, "exposure {exposure}: {report}");
    let _ = std::fs::remove_dir_all(&dir);
}

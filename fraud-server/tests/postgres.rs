//! The real binary with its history on a real PostgreSQL (started by the
//! tests from Debian's package): URLs checked at start-up, migrations from
//! replicas starting together, and a database killed and restarted under
//! load, under both failure policies.

mod common;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::postgres::{shared, TempPostgres};
use common::{documented_with_id, model_file, temp_dir, Server};

fn model_arg() -> &'static str {
    model_file().to_str().expect("utf-8 path")
}

/// Runs `fraud-server serve` expecting it to refuse to start; its stderr.
fn refused_start(dir: &std::path::Path, url: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fraud-server"))
        .args(["serve", "--port", "0", "--model", model_arg()])
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env_remove("DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started with DATABASE_URL={url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success(), "{url} was accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_database_urls_stop_the_start_up_and_create_nothing() {
    let dir = temp_dir("bad-urls");
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    // The seed's own setting, with nothing listening: before, it made a
    // folder named `postgres:` holding a SQLite file and served.
    let seed = format!("postgres://user@127.0.0.1:{closed_port}/frauddb");
    let err = refused_start(&dir, &seed);
    assert!(
        err.contains(&format!("postgres://user@127.0.0.1:{closed_port}/frauddb")),
        "{err}"
    );
    assert!(err.contains("refused"), "{err}");
    let err = refused_start(&dir, "mysql://user:hunter2@localhost/frauddb");
    assert!(err.contains("unknown scheme `mysql`"), "{err}");
    assert!(!err.contains("hunter2"), "the password is not shown: {err}");
    let err = refused_start(&dir, "postgresql://user@[::1/frauddb");
    assert!(err.contains("DATABASE_URL"), "{err}");
    let left: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "nothing is created: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replicas_and_migrate_starting_together_share_one_schema() {
    let pg = shared();
    let url = pg.create_database("replicas_start_together");
    let migrators: Vec<_> = (0..3)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_fraud-server"))
                .args(["migrate", "--history", &url])
                .output()
        })
        .collect();
    let servers: Vec<Server> = (0..2)
        .map(|n| {
            let url = url.clone();
            std::thread::spawn(move || {
                Server::start(
                    &format!("replica-{n}"),
                    &["--model", model_arg()],
                    &[
                        ("DATABASE_URL", url.as_str()),
                        ("RATE_LIMIT_PER_MINUTE", "0"),
                    ],
                )
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("started"))
        .collect();
    for out in migrators {
        let out = out.expect("migrate runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("schema"), "{text}");
        assert!(!text.contains(common::postgres::PASSWORD), "{text}");
    }
    assert_eq!(
        pg.psql(
            "replicas_start_together",
            "SELECT count(*), max(version) FROM schema_migrations"
        ),
        format!("{n}|{n}", n = fraud_server::history::schema::latest())
    );
    // Both replicas write one history and each lists the other's records.
    for (n, server) in servers.iter().enumerate() {
        server.wait_ready(60);
        for k in 0..3 {
            let r = server.post("/api/predict", &documented_with_id(&format!("r{n}-{k}")));
            assert_eq!(r.status, 200, "{}", r.text());
        }
    }
    for server in &servers {
        let page = server.get("/api/predictions?limit=10").json();
        assert_eq!(page["total"], 6);
        let ids: HashSet<&str> = page["predictions"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| r["transaction_id"].as_str().expect("an id"))
            .collect();
        assert_eq!(ids.len(), 6);
        assert_eq!(
            page["predictions"][0]["features"]["merchant_category"],
            "Electronics"
        );
    }
    assert_eq!(
        pg.psql(
            "replicas_start_together",
            "SELECT count(*) FROM predictions"
        ),
        "6"
    );
    // `migrate` again: nothing to do.
    let out = Command::new(env!("CARGO_BIN_EXE_fraud-server"))
        .args(["migrate", "--history", &url])
        .output()
        .expect("migrate runs");
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to apply"));
}

/// What the clients saw while the database went away and came back.
#[derive(Default)]
struct Seen {
    /// Transaction ids answered 200 whose record the server says it stored.
    stored: HashSet<String>,
    /// Answered 200 but marked `X-History: not-recorded` (fail-open).
    not_recorded: HashSet<String>,
    /// Refused with 503 (fail-closed).
    refused: usize,
    /// Anything else (must stay 0).
    other: Vec<String>,
}

/// Drives predictions with unique transaction ids from `clients` threads
/// until `stop`.
fn load(
    server: &Server,
    clients: usize,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    tag: &str,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..clients)
        .map(|c| {
            let addr = server.addr;
            let stop = Arc::clone(&stop);
            let seen = Arc::clone(&seen);
            let tag = tag.to_owned();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("{tag}-{c}-{n}");
                    n += 1;
                    let body = documented_with_id(&id);
                    let r = common::request(
                        addr,
                        "POST",
                        "/api/predict",
                        &[("Content-Type", "application/json")],
                        Some(body.as_bytes()),
                    );
                    let mut seen = seen.lock().expect("lock");
                    match (r.status, r.header("x-history")) {
                        (200, None) => {
                            seen.stored.insert(id);
                        }
                        (200, Some("not-recorded")) => {
                            seen.not_recorded.insert(id);
                        }
                        (503, _) => seen.refused += 1,
                        (status, _) => seen.other.push(format!("{status}: {}", r.text())),
                    }
                }
            })
        })
        .collect()
}

/// Kills PostgreSQL under load, checks `/ready` and the answers while it is
/// down, restarts it, and checks that the server recovered by itself and
/// that every answered record is in the database.
fn restart_under_load(pg: &mut TempPostgres, policy: &str) -> String {
    let db = format!("restart_{}", policy.replace('-', "_"));
    let url = pg.create_database(&db);
    let server = Server::start(
        &format!("pg-restart-{policy}"),
        &["--model", model_arg(), "--history-failure", policy],
        &[
            ("DATABASE_URL", url.as_str()),
            ("RATE_LIMIT_PER_MINUTE", "0"),
        ],
    );
    server.wait_ready(60);
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let clients = load(&server, 4, Arc::clone(&stop), Arc::clone(&seen), policy);
    std::thread::sleep(Duration::from_millis(1500));
    let before = seen.lock().expect("lock").stored.len();
    assert!(before > 0, "predictions were answered before the kill");

    pg.kill();
    let down = Instant::now();
    // While it is down, /ready says so and the policy is followed.
    let mut ready_while_down = None;
    while down.elapsed() < Duration::from_secs(10) {
        let r = server.get("/ready");
        let body = r.text();
        if body.contains("history") && (r.status == 503 || body.contains("degraded")) {
            ready_while_down = Some((r.status, body));
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (ready_status, ready_body) = ready_while_down.expect("/ready reports the failing history");
    std::thread::sleep(Duration::from_millis(1500));
    pg.start_again();
    let up = Instant::now();
    let mut recovered = None;
    while up.elapsed() < Duration::from_secs(30) {
        if server.get("/ready").status == 200 && !server.get("/ready").text().contains("degraded") {
            recovered = Some(up.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let recovered = recovered.unwrap_or_else(|| {
        panic!(
            "not ready again 30 s after PostgreSQL came back: {}",
            server.stderr()
        )
    });
    let answered_after = seen.lock().expect("lock").stored.len();
    std::thread::sleep(Duration::from_millis(1000));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client");
    }
    let seen = seen.lock().expect("lock");
    assert!(
        seen.other.is_empty(),
        "unexpected answers: {:?}",
        &seen.other[..seen.other.len().min(5)]
    );
    assert!(
        seen.stored.len() > answered_after,
        "predictions are stored again after recovery"
    );
    let rows: HashSet<String> = pg
        .psql(&db, "SELECT transaction_id FROM predictions")
        .lines()
        .map(str::to_owned)
        .collect();
    let missing: Vec<&String> = seen
        .stored
        .iter()
        .filter(|id| !rows.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} answered records missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    match policy {
        "fail-closed" => {
            assert_eq!(ready_status, 503, "{ready_body}");
            assert!(
                seen.refused > 0,
                "predictions were refused while the database was down"
            );
            assert!(seen.not_recorded.is_empty());
        }
        _ => {
            assert_eq!(ready_status, 200, "{ready_body}");
            assert!(ready_body.contains("degraded"), "{ready_body}");
            assert!(
                !seen.not_recorded.is_empty(),
                "answers while down say they were not recorded"
            );
            assert_eq!(seen.refused, 0);
        }
    }
    let report = format!(
        "postgres restart ({policy}): {} answered and stored, all {} in PostgreSQL; {} refused with 503; {} answered as not recorded; /ready {} while down; ready again {:.1} s after PostgreSQL restarted",
        seen.stored.len(),
        seen.stored.len(),
        seen.refused,
        seen.not_recorded.len(),
        ready_status,
        recovered.as_secs_f64()
    );
    println!("{report}");
    report
}

#[test]
fn killing_postgres_under_load_recovers_by_itself_and_loses_nothing() {
    let mut pg = TempPostgres::start("restart");
    restart_under_load(&mut pg, "fail-closed");
    restart_under_load(&mut pg, "fail-open");
}

/// Runs the CLI with `args`; whether it succeeded, and its stdout and stderr.
fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fraud-server"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("MODEL_REGISTRY")
        .env_remove("PG_BIN")
        .stdin(Stdio::null())
        .output()
        .expect("the CLI runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every stored prediction of `db` with an id up to `last`, in id order, as
/// text: what a restore must give back exactly.
fn predictions_text(pg: &TempPostgres, db: &str, last: u64) -> String {
    pg.psql(
        db,
        &format!(
            "SELECT string_agg(p::text, E'\\n' ORDER BY id) FROM predictions p WHERE id <= {last}"
        ),
    )
}

#[test]
fn backup_while_serving_and_restore_into_a_new_database() {
    let pg = shared();
    let bin = common::postgres::bin_dir();
    let pg_bin = bin.to_str().expect("a UTF-8 path");
    let source = pg.create_database("backup_source");
    let mut server = Server::start(
        "pg-backup",
        &["--model", model_arg()],
        &[
            ("DATABASE_URL", source.as_str()),
            ("RATE_LIMIT_PER_MINUTE", "0"),
        ],
    );
    server.wait_ready(60);
    for i in 0..20 {
        assert_eq!(
            server
                .post("/api/predict", &documented_with_id(&format!("b-{i}")))
                .status,
            200
        );
    }
    let labels: Vec<String> = (0..5)
        .map(|i| format!(r#"{{"transaction_id":"b-{i}","is_fraud":{}}}"#, i % 2))
        .collect();
    let r = server.post(
        "/api/feedback",
        &format!(r#"{{"labels":[{}]}}"#, labels.join(",")),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // Traffic keeps coming while the backup is taken.
    let running = Arc::new(AtomicBool::new(true));
    let sender = common::predict_until(server.addr, Arc::clone(&running), |n| {
        documented_with_id(&format!("d-{n}"))
    });
    std::thread::sleep(Duration::from_millis(200));
    let dir = temp_dir("pg-backup-files");
    let backup = dir.join("backup");
    let backup_arg = backup.to_str().expect("a UTF-8 path");
    let registry = dir.join("registry");
    let registry_arg = registry.to_str().expect("a UTF-8 path");
    let (ok, out, err) = cli(&[
        "backup",
        "--history",
        &source,
        "--registry",
        registry_arg,
        "--out",
        backup_arg,
        "--pg-bin",
        pg_bin,
    ]);
    running.store(false, Ordering::SeqCst);
    let sent_during = sender.join().expect("the sender");
    assert!(ok, "{err}");
    assert!(out.contains("(5 labelled"), "{out}");
    assert!(!out.contains(common::postgres::PASSWORD), "{out}");
    assert!(sent_during > 0);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("backup.json")).expect("backup.json"))
            .expect("JSON");
    assert_eq!(record["history"]["database"], "postgres");
    assert_eq!(record["history"]["file"], "history.pgdump");
    assert!(
        !record.to_string().contains(common::postgres::PASSWORD),
        "{record}"
    );
    let in_backup = record["history"]["predictions"].as_u64().expect("a count");
    assert!(in_backup >= 20, "{record}");
    server.signal("TERM");
    assert_eq!(server.wait_exit(30), Some(0));

    // Into a new, empty database: the rows the dump's snapshot held, exactly.
    let target = pg.create_database("backup_target");
    let restored_registry = dir.join("restored-registry");
    let restored_registry_arg = restored_registry.to_str().expect("a UTF-8 path");
    let restore = |force: bool| {
        let mut args = vec![
            "restore",
            backup_arg,
            "--history",
            &target,
            "--registry",
            restored_registry_arg,
            "--pg-bin",
            pg_bin,
        ];
        if force {
            args.push("--force");
        }
        cli(&args)
    };
    let (ok, out, err) = restore(false);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("({in_backup} predictions, 5 labelled")),
        "{out}"
    );
    assert_eq!(
        predictions_text(pg, "backup_target", u64::MAX >> 1),
        predictions_text(pg, "backup_source", in_backup)
    );
    assert_eq!(
        pg.psql(
            "backup_target",
            "SELECT max(version) FROM schema_migrations"
        ),
        fraud_server::history::schema::latest().to_string()
    );

    // Not over a history in use without --force; with it, yes.
    let (ok, _, err) = restore(false);
    assert!(!ok && err.contains("--force"), "{err}");
    assert!(!err.contains(common::postgres::PASSWORD), "{err}");
    let (ok, _, err) = restore(true);
    assert!(ok, "{err}");
    assert_eq!(
        pg.psql("backup_target", "SELECT count(*) FROM predictions"),
        in_backup.to_string()
    );

    // A PostgreSQL backup does not go into a SQLite file.
    let sqlite = dir.join("history.db");
    let (ok, _, err) = cli(&[
        "restore",
        backup_arg,
        "--history",
        sqlite.to_str().expect("a UTF-8 path"),
        "--registry",
        restored_registry_arg,
    ]);
    assert!(!ok && err.contains("holds a PostgreSQL history"), "{err}");
    assert!(!sqlite.exists());

    // A server on the restored database lists the restored records and
    // writes after them: the identity sequence came back with the table
    // (as pg_dump read it, after the snapshot's rows: sequences are not
    // transactional, so ids the writes during the dump took stay unused).
    let server = Server::start(
        "pg-restored",
        &["--model", model_arg()],
        &[("DATABASE_URL", target.as_str())],
    );
    server.wait_ready(60);
    let page = server.get("/api/predictions?limit=1").json();
    assert_eq!(page["total"], in_backup);
    let last: u64 = pg
        .psql("backup_target", "SELECT max(id) FROM predictions")
        .parse()
        .expect("an id");
    assert_eq!(
        server
            .post("/api/predict", &documented_with_id("after"))
            .status,
        200
    );
    let after: u64 = pg
        .psql(
            "backup_target",
            "SELECT id FROM predictions WHERE transaction_id = 'after'",
        )
        .parse()
        .expect("an id");
    assert!(after > last, "{after} after {last}");
    let labelled = pg.psql(
        "backup_target",
        "SELECT count(*) FROM predictions WHERE label IS NOT NULL",
    );
    assert_eq!(labelled, "5");
}

#[test]
fn backup_names_a_missing_pg_dump() {
    let pg = shared();
    let url = pg.create_database("backup_no_tool");
    let (ok, _, err) = cli(&["migrate", "--history", &url]);
    assert!(ok, "{err}");
    let dir = temp_dir("pg-backup-no-tool");
    let out = dir.join("backup");
    let (ok, _, err) = cli(&[
        "backup",
        "--history",
        &url,
        "--out",
        out.to_str().expect("a UTF-8 path"),
        "--pg-bin",
        dir.to_str().expect("a UTF-8 path"),
    ]);
    assert!(!ok);
    assert!(err.contains("pg_dump was not found"), "{err}");
    assert!(!err.contains(common::postgres::PASSWORD), "{err}");
}

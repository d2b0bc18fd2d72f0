//! A throwaway PostgreSQL server for tests: Debian's `postgresql` package
//! (initdb and postgres from /usr/lib/postgresql/*/bin), a cluster in a
//! temporary directory, listening on a free loopback port, with password
//! authentication. Stopped and deleted when dropped, and by a watcher
//! process when the test binary exits (a shared instance lives in a static,
//! which Rust never drops).
//!
//! A machine without PostgreSQL fails the test with a plain message.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The password of the `fraud` role every instance has.
pub const PASSWORD: &str = "fraud-test-secret";

/// The cluster's superuser.
pub const USER: &str = "fraud";

/// One running PostgreSQL server.
pub struct TempPostgres {
    /// The temporary directory (cluster, socket, log).
    pub dir: super::TempDir,
    /// The loopback port.
    pub port: u16,
    bin: PathBuf,
    child: Option<Child>,
    /// The server runs as this user when the tests run as root (PostgreSQL
    /// refuses to run as root).
    run_as: Option<String>,
}

/// The directory holding initdb, postgres and psql: `FRAUD_PG_BIN`, or the
/// newest /usr/lib/postgresql/*/bin.
pub fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("FRAUD_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb. \
             Install Debian's package (apt-get install postgresql; scripts/test.sh does), \
             or set FRAUD_PG_BIN to a directory with initdb, postgres and psql."
        ),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn numeric_id(flag: &str, user: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, user])
        .output()
        .expect("id runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| {
            panic!(
                "the tests run as root and PostgreSQL refuses root, but there is no `{user}` user \
                 to run it as (Debian's postgresql package creates it)"
            )
        })
}

impl TempPostgres {
    /// initdb and start a new cluster; panics with the reason and the
    /// server's log when it cannot start.
    pub fn start(name: &str) -> TempPostgres {
        let bin = bin_dir();
        let dir = super::temp_dir(&format!("pg-{name}"));
        let run_as = is_root().then(|| "postgres".to_owned());
        if let Some(user) = &run_as {
            let (uid, gid) = (numeric_id("-u", user), numeric_id("-g", user));
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the cluster dir");
        }
        let password_file = dir.join("password");
        std::fs::write(&password_file, PASSWORD).expect("write the password file");
        if let Some(user) = &run_as {
            let (uid, gid) = (numeric_id("-u", user), numeric_id("-g", user));
            std::os::unix::fs::chown(&password_file, Some(uid), Some(gid)).expect("chown");
        }
        let data = dir.join("data");
        let mut initdb = Self::command_as(&run_as, &bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                USER,
                "--auth=scram-sha-256",
                "--no-locale",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", password_file.display()));
        let out = initdb.output().unwrap_or_else(|e| {
            panic!(
                "PostgreSQL could not be set up: cannot run {}: {e}",
                bin.join("initdb").display()
            )
        });
        assert!(
            out.status.success(),
            "PostgreSQL could not be set up: initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pg = TempPostgres {
            dir,
            port: free_port(),
            bin,
            child: None,
            run_as,
        };
        pg.start_again();
        pg.watch_for_exit();
        pg
    }

    fn command_as(run_as: &Option<String>, program: &Path) -> Command {
        match run_as {
            Some(user) => {
                let mut c = Command::new("setpriv");
                c.args([
                    &format!("--reuid={user}"),
                    &format!("--regid={user}"),
                    "--clear-groups",
                    "--",
                ])
                .arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    /// Starts the server (again, after [`Self::kill`]) on the same port and
    /// waits until it accepts queries.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "PostgreSQL is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("postgres.log"))
            .expect("the log file");
        let mut postgres = Self::command_as(&self.run_as, &self.bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string()])
            .arg("-k")
            .arg(&*self.dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                // Durable across a process crash, which is what the tests
                // kill; only an OS crash would need fsync.
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log));
        let child = postgres.spawn().unwrap_or_else(|e| {
            panic!(
                "PostgreSQL could not start: cannot run {}: {e}",
                self.bin.join("postgres").display()
            )
        });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.try_psql("postgres", "SELECT 1").is_ok() {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    panic!("PostgreSQL could not start ({status}): {}", self.log());
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "PostgreSQL did not accept connections within 30 s: {}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server at once, as a crash would (SIGQUIT: PostgreSQL's
    /// immediate shutdown, with crash recovery at the next start).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-QUIT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }

    /// A URL for database `db` as the `fraud` user.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{db}", self.port)
    }

    /// A new, empty database named `name`; its URL.
    pub fn create_database(&self, name: &str) -> String {
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// Runs `sql` in `db` with psql; the unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.try_psql(db, sql)
            .unwrap_or_else(|e| panic!("psql `{sql}` failed: {e}"))
    }

    fn try_psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                "-d",
                db,
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-Atqc", sql])
            .env("PGPASSWORD", PASSWORD)
            .env("PGCONNECT_TIMEOUT", "5")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A process that stops this server and deletes its directory once the
    /// test binary has exited, however it exits.
    fn watch_for_exit(&self) {
        let script = format!(
            "while kill -0 {test} 2>/dev/null; do sleep 0.2; done; \
             kill -QUIT $(head -1 '{dir}/data/postmaster.pid' 2>/dev/null) 2>/dev/null; \
             sleep 1; rm -rf '{dir}'",
            test = std::process::id(),
            dir = self.dir.display(),
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        // The directory removes itself after this, once the server is gone.
        self.kill();
    }
}

/// One server for the whole test binary, started on first use.
pub fn shared() -> &'static TempPostgres {
    static SHARED: OnceLock<TempPostgres> = OnceLock::new();
    SHARED.get_or_init(|| TempPostgres::start("shared"))
}

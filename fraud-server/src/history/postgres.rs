//! The PostgreSQL history store, for several replicas writing one history.
//!
//! tokio-postgres with a deadpool pool: the pool hands out a working
//! connection for each batch and page, and replaces a broken one, so the
//! store reconnects by itself after the database restarts. The client runs
//! on a small runtime of its own (one thread), because the history's writer
//! is a plain thread and `fraud-server migrate` has no runtime: the store
//! behaves the same whoever calls it.
//!
//! A batch is one multi-row `INSERT ... SELECT FROM UNNEST(...)` with every
//! column as an array: one statement, one round trip and one commit whatever
//! the batch's size, and atomic like a transaction. With the server's
//! default `synchronous_commit = on`, PostgreSQL answers once the commit is
//! flushed to its write-ahead log, so `commit` durability means what it
//! says here too.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use fraud_engine::lifecycle::PairedScore;
use tokio_postgres::NoTls;

use super::schema::{self, MigrationReport};
use super::{
    Condition, Contents, Filter, HistoryError, Label, LabelKey, LabelOutcome, LabelledQuery,
    NewRecord, Page, Pages, Record, Store,
};

/// Longest wait for a connection (also the TCP connect timeout when the URL
/// sets none).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest time one write or read may take before it counts as failed.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest time a start-up migration may wait for another replica's.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(120);

/// Longest time `pg_dump` or `pg_restore` may take over the history.
const TOOL_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// The tables the history owns: what a backup holds and a restore
/// replaces (their indexes and identity sequences come with them).
const HISTORY_TABLES: [&str; 3] = ["predictions", "history_probe", "schema_migrations"];

/// The advisory lock that serialises migrations across replicas: any fixed
/// number works, as long as every replica uses the same one ("fraud" then
/// 1, in ASCII).
pub const MIGRATION_LOCK: i64 = 0x6672_6175_6400_0001;

/// Where the history lives: the parsed URL and a form of it safe to log.
#[derive(Clone)]
pub struct Target {
    config: tokio_postgres::Config,
    shown: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl Target {
    /// Reads a `postgres://` or `postgresql://` URL (every libpq URL
    /// parameter tokio-postgres knows is allowed).
    pub fn parse(url: &str) -> Result<Self, HistoryError> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| HistoryError::Url {
            url: redact(url),
            reason: e.to_string(),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("fraud-server");
        }
        let shown = shown(&config);
        Ok(Target { config, shown })
    }

    /// The URL without its password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// `program` (`pg_dump`, `pg_restore`) pointed at this database: host,
    /// port, user and database as options, the password only in the
    /// environment (a command line is readable by every user of the
    /// machine), and never a password prompt.
    fn tool(&self, program: &std::path::Path) -> std::process::Command {
        let mut command = std::process::Command::new(program);
        let config = &self.config;
        let hosts: Vec<String> = config.get_hosts().iter().map(host_name).collect();
        if !hosts.is_empty() {
            command.arg(format!("--host={}", hosts.join(",")));
        }
        let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
        if !ports.is_empty() {
            command.arg(format!("--port={}", ports.join(",")));
        }
        if let Some(user) = config.get_user() {
            command.arg(format!("--username={user}"));
        }
        command
            .arg(format!("--dbname={}", config.get_dbname().unwrap_or("")))
            .arg("--no-password");
        match config.get_password() {
            Some(password) => command.env("PGPASSWORD", String::from_utf8_lossy(password).as_ref()),
            None => command.env_remove("PGPASSWORD"),
        };
        command
            .env("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT.as_secs().to_string())
            .stdin(std::process::Stdio::null());
        command
    }
}

/// A host as libpq takes it: a name, or a socket directory.
fn host_name(host: &tokio_postgres::config::Host) -> String {
    match host {
        tokio_postgres::config::Host::Tcp(name) => name.clone(),
        #[cfg(unix)]
        tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
    }
}

/// `postgres://user@host:port/dbname`, never the password.
fn shown(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| format!("{}:{port}", host_name(host)))
        .collect();
    format!(
        "postgres://{}@{}/{}",
        config.get_user().unwrap_or(""),
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

/// A URL with the password in its user part replaced, for error messages
/// about URLs that could not be read.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = &rest[..at];
            let user = user.split_once(':').map_or(user, |(name, _)| name);
            let password = if rest[..at].contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{password}{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

/// An error with its causes, each once ("cannot connect: refused").
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

fn pg_error(target: &str) -> impl Fn(tokio_postgres::Error) -> HistoryError + '_ {
    move |e| HistoryError::Postgres {
        target: target.to_owned(),
        reason: match e.as_db_error() {
            Some(db) => format!(
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            ),
            None => with_causes(&e),
        },
    }
}

fn pool_error(target: &str) -> impl Fn(deadpool_postgres::PoolError) -> HistoryError + '_ {
    move |e| {
        HistoryError::Postgres {
        target: target.to_owned(),
        reason: match e {
            deadpool_postgres::PoolError::Backend(e) => {
                format!("cannot connect: {}", with_causes(&e))
            }
            deadpool_postgres::PoolError::Timeout(_) => format!(
                "no connection within {} s (is PostgreSQL up, and does it allow this many connections?)",
                CONNECT_TIMEOUT.as_secs()
            ),
            other => format!("cannot get a connection: {}", with_causes(&other)),
        },
    }
    }
}

/// The pool and the runtime its connections live on, shared by the store
/// and the page reader.
struct Client {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pool: Pool,
    shown: String,
}

impl Client {
    fn new(target: &Target, pool_size: usize) -> Result<Self, HistoryError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("history-postgres")
            .enable_all()
            .build()
            .map_err(|source| HistoryError::Io {
                path: "history-postgres runtime".into(),
                source,
            })?;
        let manager = Manager::from_config(
            target.config.clone(),
            NoTls,
            ManagerConfig {
                // A connection that died with the server is dropped and a
                // new one made, without a round trip per checkout.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(2))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| HistoryError::Postgres {
                target: target.shown.clone(),
                reason: e.to_string(),
            })?;
        Ok(Client {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            pool,
            shown: target.shown.clone(),
        })
    }

    /// Runs `work` on the client's runtime and waits for it (from any
    /// thread: a blocking task, the writer thread, or none at all), failing
    /// it after `limit`.
    fn run<T, F>(&self, limit: Duration, work: F) -> Result<T, HistoryError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, HistoryError>> + Send + 'static,
    {
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        let shown = self.shown.clone();
        self.handle.spawn(async move {
            let outcome = match tokio::time::timeout(limit, work).await {
                Ok(outcome) => outcome,
                Err(_) => Err(HistoryError::Postgres {
                    target: shown,
                    reason: format!("no answer within {} s", limit.as_secs()),
                }),
            };
            let _ = done.send(outcome);
        });
        wait.recv().map_err(|_| HistoryError::Closed)?
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Without waiting: the last handle may be dropped on an async
        // thread, where waiting for a runtime would panic.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Connects, brings the schema up to date, and returns the writer's store
/// and the page reader. An unreachable database is an error here, at
/// start-up, not later.
pub fn open(
    target: &Target,
    pool_size: usize,
) -> Result<(PostgresStore, PostgresPages), HistoryError> {
    let client = Arc::new(Client::new(target, pool_size)?);
    let report = migrate_with(&client)?;
    if report.newer_than_this_build() {
        tracing::warn!(database = %client.shown, "{report}");
    } else if !report.applied.is_empty() {
        tracing::info!(database = %client.shown, "{report}");
    }
    Ok((
        PostgresStore {
            client: Arc::clone(&client),
        },
        PostgresPages { client },
    ))
}

/// Brings the schema up to date, as `fraud-server migrate` does.
pub fn migrate(target: &Target) -> Result<MigrationReport, HistoryError> {
    let client = Client::new(target, 2)?;
    migrate_with(&client)
}

const CONTENTS: &str = "SELECT COALESCE((SELECT MAX(version) FROM schema_migrations), 0),
        (SELECT COUNT(*) FROM predictions),
        (SELECT COUNT(*) FROM predictions WHERE label IS NOT NULL)";

fn contents_of(row: &tokio_postgres::Row) -> Contents {
    let count = |i: usize| u64::try_from(row.get::<_, i64>(i)).unwrap_or(0);
    Contents {
        schema_version: row.get(0),
        predictions: count(1),
        labelled: count(2),
    }
}

/// What the history at `target` holds; `None` when it has no predictions
/// table (an empty database).
pub fn contents(target: &Target) -> Result<Option<Contents>, HistoryError> {
    let client = Client::new(target, 2)?;
    let pool = client.pool.clone();
    let shown = client.shown.clone();
    client.run(OPERATION_TIMEOUT, async move {
        let conn = pool.get().await.map_err(pool_error(&shown))?;
        let exists: bool = conn
            .query_one(
                "SELECT to_regclass('predictions') IS NOT NULL
                    AND to_regclass('schema_migrations') IS NOT NULL",
                &[],
            )
            .await
            .map_err(pg_error(&shown))?
            .get(0);
        if !exists {
            return Ok(None);
        }
        let row = conn
            .query_one(CONTENTS, &[])
            .await
            .map_err(pg_error(&shown))?;
        Ok(Some(contents_of(&row)))
    })
}

/// Runs a PostgreSQL tool to the end; its error output on failure.
fn run_tool(
    mut command: std::process::Command,
    tool: &str,
    shown: &str,
) -> Result<(), HistoryError> {
    let failed = |reason: String| HistoryError::Postgres {
        target: shown.to_owned(),
        reason,
    };
    let output = command.output().map_err(|e| {
        failed(if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "{tool} was not found: install PostgreSQL's client tools (Debian: \
                 postgresql-client) or give --pg-bin, the directory that holds {tool}"
            )
        } else {
            format!("cannot run {tool}: {e}")
        })
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(failed(format!(
            "{tool} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// Dumps the history's tables with `pg_dump` (its custom format) into
/// `file`, while replicas keep writing, and says what the dump holds. The
/// counts are read in a repeatable-read transaction whose snapshot
/// `pg_dump` is handed (`--snapshot`), so they are the dump's own.
pub fn dump(
    target: &Target,
    pg_dump: &std::path::Path,
    file: &std::path::Path,
) -> Result<Contents, HistoryError> {
    let client = Client::new(target, 2)?;
    let pool = client.pool.clone();
    let shown = client.shown.clone();
    let mut command = target.tool(pg_dump);
    command.arg("--format=custom").arg("--file").arg(file);
    for table in HISTORY_TABLES {
        command.arg(format!("--table={table}"));
    }
    client.run(TOOL_TIMEOUT, async move {
        let mut conn = pool.get().await.map_err(pool_error(&shown))?;
        let tx = conn
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg_error(&shown))?;
        let snapshot: String = tx
            .query_one("SELECT pg_export_snapshot()", &[])
            .await
            .map_err(pg_error(&shown))?
            .get(0);
        let contents = contents_of(
            &tx.query_one(CONTENTS, &[])
                .await
                .map_err(pg_error(&shown))?,
        );
        // The snapshot lives as long as this transaction: pg_dump runs
        // while it is open.
        command.arg(format!("--snapshot={snapshot}"));
        let tool_shown = shown.clone();
        tokio::task::spawn_blocking(move || run_tool(command, "pg_dump", &tool_shown))
            .await
            .map_err(|e| HistoryError::Postgres {
                target: shown.clone(),
                reason: format!("pg_dump did not finish: {e}"),
            })??;
        tx.commit().await.map_err(pg_error(&shown))?;
        Ok(contents)
    })
}

/// Replaces the history's tables at `target` with those of a `pg_dump`
/// archive, in one transaction (all or nothing), and says what the
/// history then holds. Writers must be stopped: the tables are dropped and
/// made anew.
pub fn restore(
    target: &Target,
    pg_restore: &std::path::Path,
    file: &std::path::Path,
) -> Result<Contents, HistoryError> {
    let mut command = target.tool(pg_restore);
    command
        .args([
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
        ])
        .arg(file);
    run_tool(command, "pg_restore", target.shown())?;
    contents(target)?.ok_or_else(|| HistoryError::Postgres {
        target: target.shown().to_owned(),
        reason: "pg_restore ended, but the database has no history tables".into(),
    })
}

/// Applies the pending migrations in one transaction, holding an advisory
/// lock: replicas starting together take turns, and each one after the
/// first finds nothing to do. PostgreSQL's DDL is transactional, so a
/// failed migration leaves the previous version whole.
fn migrate_with(client: &Client) -> Result<MigrationReport, HistoryError> {
    let pool = client.pool.clone();
    let shown = client.shown.clone();
    client.run(MIGRATION_TIMEOUT, async move {
        let mut conn = pool.get().await.map_err(pool_error(&shown))?;
        let tx = conn.transaction().await.map_err(pg_error(&shown))?;
        let step = async {
            tx.batch_execute("SET LOCAL lock_timeout = '100s'").await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await?;
            // Checked before creating, so a role without CREATE on the
            // schema can serve an up-to-date database.
            let exists: bool = tx
                .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
                .await?
                .get(0);
            if !exists {
                tx.batch_execute(
                    "CREATE TABLE schema_migrations (
                        version BIGINT PRIMARY KEY,
                        name TEXT NOT NULL,
                        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                    )",
                )
                .await?;
            }
            let from: i64 = tx
                .query_one(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                    &[],
                )
                .await?
                .get(0);
            let mut applied = Vec::new();
            for migration in schema::pending(from) {
                tx.batch_execute(migration.postgres).await?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    &[&migration.version, &migration.name],
                )
                .await?;
                applied.push((migration.version, migration.name));
            }
            let to = applied.last().map_or(from, |&(version, _)| version);
            Ok::<_, tokio_postgres::Error>(MigrationReport { from, to, applied })
        };
        let report = step.await.map_err(pg_error(&shown))?;
        tx.commit().await.map_err(pg_error(&shown))?;
        Ok(report)
    })
}

/// Every column as an array, in the order of [`INSERT`]'s parameters.
#[derive(Default)]
struct Columns {
    timestamps: Vec<String>,
    request_ids: Vec<String>,
    transaction_ids: Vec<Option<String>>,
    model_versions: Vec<String>,
    features: Vec<String>,
    probabilities: Vec<f64>,
    decisions: Vec<i16>,
    risk_levels: Vec<&'static str>,
    latencies: Vec<f64>,
    shadow_versions: Vec<Option<String>>,
    shadow_probabilities: Vec<Option<f64>>,
}

impl Columns {
    fn of(batch: &[NewRecord]) -> Self {
        let mut c = Columns::default();
        for r in batch {
            c.timestamps.push(r.timestamp.clone());
            c.request_ids.push(r.request_id.clone());
            c.transaction_ids.push(r.transaction_id.clone());
            c.model_versions.push(r.model_version.to_string());
            c.features.push(r.features_json.clone());
            c.probabilities.push(r.fraud_probability);
            c.decisions.push(i16::from(r.is_fraud));
            c.risk_levels.push(r.risk_level);
            c.latencies.push(r.latency_ms);
            c.shadow_versions
                .push(r.shadow.as_ref().map(|(v, _)| v.to_string()));
            c.shadow_probabilities
                .push(r.shadow.as_ref().map(|(_, p)| *p));
        }
        c
    }
}

/// One statement for the whole batch, in the batch's order (so ids follow
/// it, as with SQLite).
const INSERT: &str = "INSERT INTO predictions (\"timestamp\", request_id, transaction_id,
        model_version, features, fraud_probability, is_fraud, risk_level, latency_ms,
        shadow_version, shadow_probability)
    SELECT t::timestamptz, r, x, m, f, p, d, l, ms, sv, sp
    FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                $6::float8[], $7::int2[], $8::text[], $9::float8[], $10::text[], $11::float8[])
         WITH ORDINALITY AS u(t, r, x, m, f, p, d, l, ms, sv, sp, n)
    ORDER BY n";

/// The writer's side of the PostgreSQL history.
pub struct PostgresStore {
    client: Arc<Client>,
}

impl Store for PostgresStore {
    fn write(&mut self, batch: &[NewRecord]) -> Result<(), HistoryError> {
        let c = Columns::of(batch);
        let pool = self.client.pool.clone();
        let shown = self.client.shown.clone();
        self.client.run(OPERATION_TIMEOUT, async move {
            let conn = pool.get().await.map_err(pool_error(&shown))?;
            let insert = conn
                .prepare_cached(INSERT)
                .await
                .map_err(pg_error(&shown))?;
            conn.execute(
                &insert,
                &[
                    &c.timestamps,
                    &c.request_ids,
                    &c.transaction_ids,
                    &c.model_versions,
                    &c.features,
                    &c.probabilities,
                    &c.decisions,
                    &c.risk_levels,
                    &c.latencies,
                    &c.shadow_versions,
                    &c.shadow_probabilities,
                ],
            )
            .await
            .map_err(pg_error(&shown))?;
            Ok(())
        })
    }

    fn probe(&mut self) -> Result<(), HistoryError> {
        let pool = self.client.pool.clone();
        let shown = self.client.shown.clone();
        self.client.run(CONNECT_TIMEOUT * 2, async move {
            let conn = pool.get().await.map_err(pool_error(&shown))?;
            // A real write, so a database that answers but cannot write
            // (disk full, read-only) still counts as failing.
            conn.execute(
                "INSERT INTO history_probe (id, checked) VALUES (1, now())
                 ON CONFLICT (id) DO UPDATE SET checked = excluded.checked",
                &[],
            )
            .await
            .map_err(pg_error(&shown))?;
            Ok(())
        })
    }

    fn describe(&self) -> String {
        self.client.shown.clone()
    }

    fn label(&mut self, labels: &[Label]) -> Result<LabelOutcome, HistoryError> {
        let labels = labels.to_vec();
        let pool = self.client.pool.clone();
        let shown = self.client.shown.clone();
        self.client.run(OPERATION_TIMEOUT, async move {
            let mut conn = pool.get().await.map_err(pool_error(&shown))?;
            store_labels(&mut conn, &labels)
                .await
                .map_err(pg_error(&shown))
        })
    }
}

/// The reader's side of the PostgreSQL history.
pub struct PostgresPages {
    client: Arc<Client>,
}

/// Times as the SQLite history stores them (RFC 3339, UTC, milliseconds),
/// so both backends answer byte for byte alike.
const RFC3339_MILLIS: &str =
    "to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

/// `labelled_at` in the same form (NULL stays NULL).
const LABELLED_AT_MILLIS: &str =
    "to_char(labelled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

/// The `WHERE ...` clause (or nothing) for `filter` and its parameters,
/// numbered from `$1`. Times arrive as RFC 3339 text and are compared as
/// `timestamptz`, which is what the column holds.
fn where_clause(
    filter: &Filter,
) -> (
    String,
    Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>>,
) {
    let mut conditions = Vec::new();
    let mut values: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> = Vec::new();
    for condition in filter.conditions() {
        let n = values.len() + 1;
        let (sql, value): (String, Box<dyn tokio_postgres::types::ToSql + Sync + Send>) =
            match condition {
                Condition::RiskLevel(level) => {
                    (format!("risk_level = ${n}"), Box::new(level.to_owned()))
                }
                Condition::IsFraud(flag) => (format!("is_fraud = ${n}"), Box::new(i16::from(flag))),
                Condition::Since(since) => (
                    format!("\"timestamp\" >= ${n}::text::timestamptz"),
                    Box::new(since.to_owned()),
                ),
                Condition::Until(until) => (
                    format!("\"timestamp\" <= ${n}::text::timestamptz"),
                    Box::new(until.to_owned()),
                ),
            };
        values.push(value);
        conditions.push(sql);
    }
    if conditions.is_empty() {
        (String::new(), values)
    } else {
        (format!("WHERE {}", conditions.join(" AND ")), values)
    }
}

impl Pages for PostgresPages {
    fn page(&self, limit: u32, offset: u64, filter: &Filter) -> Result<Page, HistoryError> {
        let pool = self.client.pool.clone();
        let shown = self.client.shown.clone();
        let (condition, mut values) = where_clause(filter);
        self.client.run(OPERATION_TIMEOUT, async move {
            let conn = pool.get().await.map_err(pool_error(&shown))?;
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                values.iter().map(|v| &**v as _).collect();
            let total: i64 = conn
                .query_one(
                    &format!("SELECT count(*) FROM predictions {condition}"),
                    &params,
                )
                .await
                .map_err(pg_error(&shown))?
                .get(0);
            let n = values.len();
            let select = conn
                .prepare_cached(&format!(
                    "SELECT id, {RFC3339_MILLIS}, request_id, transaction_id, model_version,
                            features, fraud_probability, is_fraud, risk_level, latency_ms,
                            shadow_version, shadow_probability, label, labelled_by,
                            {LABELLED_AT_MILLIS}
                     FROM predictions {condition} ORDER BY id DESC LIMIT ${} OFFSET ${}",
                    n + 1,
                    n + 2
                ))
                .await
                .map_err(pg_error(&shown))?;
            values.push(Box::new(i64::from(limit)));
            values.push(Box::new(i64::try_from(offset).unwrap_or(i64::MAX)));
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                values.iter().map(|v| &**v as _).collect();
            let rows = conn
                .query(&select, &params)
                .await
                .map_err(pg_error(&shown))?;
            let mut predictions = Vec::with_capacity(rows.len());
            for row in rows {
                predictions.push(record(&row).map_err(pg_error(&shown))?);
            }
            Ok(Page {
                predictions,
                total: u64::try_from(total).unwrap_or(0),
                limit,
                offset,
            })
        })
    }

    fn shadow_pairs(
        &self,
        live_version: &str,
        shadow_version: &str,
        limit: u32,
    ) -> Result<Vec<PairedScore>, HistoryError> {
        self.read_shadow_pairs(live_version, shadow_version, limit)
    }

    fn labelled(&self, query: &LabelledQuery) -> Result<Vec<Record>, HistoryError> {
        self.read_labelled(query)
    }
}

// ---- model lifecycle: shadow comparison ----

impl PostgresPages {
    fn read_shadow_pairs(
        &self,
        live_version: &str,
        shadow_version: &str,
        limit: u32,
    ) -> Result<Vec<PairedScore>, HistoryError> {
        let pool = self.client.pool.clone();
        let shown = self.client.shown.clone();
        let (live, shadow) = (live_version.to_owned(), shadow_version.to_owned());
        self.client.run(OPERATION_TIMEOUT, async move {
            let conn = pool.get().await.map_err(pool_error(&shown))?;
            let select = conn
                .prepare_cached(
                    "SELECT fraud_probability, shadow_probability, label FROM predictions
                     WHERE model_version = $1 AND shadow_version = $2
                       AND shadow_probability IS NOT NULL
                     ORDER BY id DESC LIMIT $3",
                )
                .await
                .map_err(pg_error(&shown))?;
            let rows = conn
                .query(&select, &[&live, &shadow, &i64::from(limit)])
                .await
                .map_err(pg_error(&shown))?;
            let mut pairs = Vec::with_capacity(rows.len());
            for row in rows {
                let pair = (|| {
                    Ok::<_, tokio_postgres::Error>(PairedScore {
                        live: row.try_get(0)?,
                        shadow: row.try_get(1)?,
                        label: row.try_get::<_, Option<i16>>(2)?.map(|l| u8::from(l != 0)),
                    })
                })()
                .map_err(pg_error(&shown))?;
                pairs.push(pair);
            }
            Ok(pairs)
        })
    }
}

// Labels (issue 12).

const LABEL_BY_TRANSACTION: &str = "UPDATE predictions
    SET label = $1, labelled_by = $2, labelled_at = $3::text::timestamptz
    WHERE transaction_id = $4";

const LABEL_BY_REQUEST: &str = "UPDATE predictions
    SET label = $1, labelled_by = $2, labelled_at = $3::text::timestamptz
    WHERE request_id = $4";

/// Sets each label in one transaction; rolled back if any id matches no
/// prediction, so a set of labels is stored whole or not at all.
async fn store_labels(
    conn: &mut deadpool_postgres::Object,
    labels: &[Label],
) -> Result<LabelOutcome, tokio_postgres::Error> {
    let tx = conn.transaction().await?;
    let by_transaction = tx.prepare_cached(LABEL_BY_TRANSACTION).await?;
    let by_request = tx.prepare_cached(LABEL_BY_REQUEST).await?;
    let mut rows = 0u64;
    let mut unknown = Vec::new();
    for l in labels {
        let statement = match l.key {
            LabelKey::TransactionId(_) => &by_transaction,
            LabelKey::RequestId(_) => &by_request,
        };
        let changed = tx
            .execute(
                statement,
                &[
                    &i16::from(l.label),
                    &l.labelled_by,
                    &l.labelled_at,
                    &l.key.id(),
                ],
            )
            .await?;
        if changed == 0 {
            unknown.push(l.key.clone());
        }
        rows += changed;
    }
    if unknown.is_empty() {
        tx.commit().await?;
        Ok(LabelOutcome::Applied { rows })
    } else {
        tx.rollback().await?;
        Ok(LabelOutcome::Unknown(unknown))
    }
}

impl PostgresPages {
    fn read_labelled(&self, query: &LabelledQuery) -> Result<Vec<Record>, HistoryError> {
        let pool = self.client.pool.clone();
        let shown = self.client.shown.clone();
        let query = query.clone();
        self.client.run(OPERATION_TIMEOUT, async move {
            let conn = pool.get().await.map_err(pool_error(&shown))?;
            let features = if query.features { "features" } else { "NULL" };
            let select = conn
                .prepare_cached(&format!(
                    "SELECT id, {RFC3339_MILLIS}, request_id, transaction_id, model_version,
                            {features}, fraud_probability, is_fraud, risk_level, latency_ms,
                            shadow_version, shadow_probability, label, labelled_by,
                            {LABELLED_AT_MILLIS}
                     FROM predictions
                     WHERE label IS NOT NULL
                       AND ($1::text IS NULL OR \"timestamp\" >= $1::text::timestamptz)
                       AND ($2::text IS NULL OR \"timestamp\" < $2::text::timestamptz)
                     ORDER BY \"timestamp\", id"
                ))
                .await
                .map_err(pg_error(&shown))?;
            let rows = conn
                .query(&select, &[&query.since, &query.before])
                .await
                .map_err(pg_error(&shown))?;
            let mut records = Vec::with_capacity(rows.len());
            for row in rows {
                records.push(record(&row).map_err(pg_error(&shown))?);
            }
            Ok(records)
        })
    }
}

fn record(row: &tokio_postgres::Row) -> Result<Record, tokio_postgres::Error> {
    // NULL when a labelled read left the input out.
    let features: Option<String> = row.try_get(5)?;
    let is_fraud: i16 = row.try_get(7)?;
    Ok(Record {
        id: row.try_get(0)?,
        timestamp: row.try_get(1)?,
        request_id: row.try_get(2)?,
        transaction_id: row.try_get(3)?,
        model_version: row.try_get(4)?,
        features: features.map_or(serde_json::Value::Null, |text| {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        }),
        fraud_probability: row.try_get(6)?,
        is_fraud: u8::from(is_fraud != 0),
        risk_level: row.try_get(8)?,
        latency_ms: row.try_get(9)?,
        shadow_version: row.try_get(10)?,
        shadow_probability: row.try_get(11)?,
        label: row.try_get::<_, Option<i16>>(12)?.map(|l| u8::from(l != 0)),
        labelled_by: row.try_get(13)?,
        labelled_at: row.try_get(14)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_passwords() {
        let t = Target::parse("postgres://fraud:s3cret@127.0.0.1:5433/frauddb").expect("a URL");
        assert_eq!(t.shown(), "postgres://fraud@127.0.0.1:5433/frauddb");
        assert!(!format!("{t:?}").contains("s3cret"));
        assert_eq!(
            redact("postgres://fraud:s3cret@host/db?x=1"),
            "postgres://fraud:***@host/db?x=1"
        );
        assert_eq!(redact("postgres://host/db"), "postgres://host/db");
        match Target::parse("postgresql://fraud:s3cret@[::1/db") {
            Err(HistoryError::Url { url, .. }) => assert!(!url.contains("s3cret"), "{url}"),
            other => panic!("{other:?}"),
        }
    }
}

//! The SQLite history store: WAL mode, one writer connection owned by the
//! writer thread, one read-only connection for listing pages, and one that
//! checkpoints the WAL on a thread of its own.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use fraud_engine::lifecycle::PairedScore;
use rusqlite::{params, Connection, OpenFlags};

use super::schema::{self, MigrationReport};
use super::{
    Condition, Filter, HistoryError, Label, LabelKey, LabelOutcome, LabelledQuery, NewRecord, Page,
    Pages, Record, Store,
};
use crate::config::SyncMode;

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> HistoryError + '_ {
    move |source| HistoryError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

/// How long a connection waits for another's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, HistoryError> {
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite(path))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite(path))?;
    Ok(conn)
}

/// Opens (creating if needed) the database at `path`: the writer's store
/// and the page reader.
pub fn open(path: &Path, sync: SyncMode) -> Result<(SqliteStore, SqlitePages), HistoryError> {
    open_with(path, sync, Checkpoints::DEFAULT)
}

fn open_with(
    path: &Path,
    sync: SyncMode,
    checkpoints: Checkpoints,
) -> Result<(SqliteStore, SqlitePages), HistoryError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| HistoryError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    let conn = connect(path, OpenFlags::default())?;
    // WAL lets the reader list while the writer writes. A commit is in the
    // WAL file before it is acknowledged, so it survives a crash of this
    // process with either level; NORMAL syncs the WAL only at checkpoints,
    // so a power loss may lose the last commits, FULL syncs every commit.
    use_wal(&conn).map_err(sqlite(path))?;
    let level = match sync {
        SyncMode::Normal => "NORMAL",
        SyncMode::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", level)
        .map_err(sqlite(path))?;
    conn.pragma_update(None, "wal_autocheckpoint", checkpoints.backstop_frames)
        .map_err(sqlite(path))?;
    migrate_connection(&conn).map_err(sqlite(path))?;
    let checkpointer = Checkpointer::start(path, level, checkpoints)?;
    let reader = connect(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    Ok((
        SqliteStore {
            conn,
            path: path.to_owned(),
            inserts: insert_statements(),
            checkpointer,
        },
        SqlitePages {
            conn: Mutex::new(reader),
            path: path.to_owned(),
        },
    ))
}

/// Brings the database at `path` (created if needed) to this build's
/// schema, as `fraud-server migrate` does.
pub fn migrate(path: &Path) -> Result<MigrationReport, HistoryError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| HistoryError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    let conn = connect(path, OpenFlags::default())?;
    use_wal(&conn).map_err(sqlite(path))?;
    migrate_connection(&conn).map_err(sqlite(path))
}

/// Puts the database in WAL mode. Switching takes an exclusive lock, and
/// SQLite answers "database is locked" at once, without waiting, when
/// another connection opening the same new file (a second replica
/// starting) holds a lock: so this waits and tries again, as long as the
/// busy timeout.
fn use_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// Applies the pending migrations in one `IMMEDIATE` transaction (which
/// takes the write lock first, so two servers opening one file at once run
/// them once). The version is SQLite's `user_version`.
fn migrate_connection(conn: &Connection) -> rusqlite::Result<MigrationReport> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        let from: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let mut applied = Vec::new();
        for migration in schema::pending(from) {
            conn.execute_batch(migration.sqlite)?;
            applied.push((migration.version, migration.name));
        }
        let to = applied.last().map_or(from, |&(version, _)| version);
        if to != from {
            conn.pragma_update(None, "user_version", to)?;
        }
        Ok(MigrationReport { from, to, applied })
    })();
    match result {
        Ok(report) => {
            conn.execute_batch("COMMIT")?;
            Ok(report)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// The writer's side of the SQLite history.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    /// The INSERT statements' text, made once (see [`insert`]).
    inserts: Vec<(usize, String)>,
    checkpointer: Checkpointer,
}

impl Store for SqliteStore {
    fn write(&mut self, batch: &[NewRecord]) -> Result<(), HistoryError> {
        insert(&mut self.conn, &self.inserts, batch).map_err(sqlite(&self.path))?;
        if self.checkpointer.restart.swap(false, Ordering::Relaxed) {
            // Between two of its own transactions the writer's checkpoint
            // copies every frame (the checkpointer has copied all but the
            // last few), so the next transaction starts the WAL over.
            if let Err(error) = checkpoint(&self.conn) {
                tracing::warn!(history = %self.path.display(), %error, "WAL checkpoint failed");
            }
        }
        self.checkpointer.wake();
        Ok(())
    }

    fn probe(&mut self) -> Result<(), HistoryError> {
        // One page rewritten and committed: on a full disk the WAL cannot
        // grow and this fails like a real write.
        self.conn
            .execute(
                "INSERT OR REPLACE INTO history_probe (id, checked) VALUES (1, ?1)",
                params![crate::handlers::now_rfc3339()],
            )
            .map(|_| ())
            .map_err(sqlite(&self.path))
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    fn label(&mut self, labels: &[Label]) -> Result<LabelOutcome, HistoryError> {
        store_labels(&mut self.conn, labels).map_err(sqlite(&self.path))
    }
}

/// The reader's side of the SQLite history.
pub struct SqlitePages {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Pages for SqlitePages {
    fn page(&self, limit: u32, offset: u64, filter: &Filter) -> Result<Page, HistoryError> {
        // A poisoned lock only means another listing panicked; the
        // connection itself is still usable.
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        read_page(&conn, limit, offset, filter).map_err(sqlite(&self.path))
    }

    // ---- model lifecycle: shadow comparison ----

    fn shadow_pairs(
        &self,
        live_version: &str,
        shadow_version: &str,
        limit: u32,
    ) -> Result<Vec<PairedScore>, HistoryError> {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        read_shadow_pairs(&conn, live_version, shadow_version, limit).map_err(sqlite(&self.path))
    }

    // Labels (issue 12).

    fn labelled(&self, query: &LabelledQuery) -> Result<Vec<Record>, HistoryError> {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        read_labelled(&conn, query).map_err(sqlite(&self.path))
    }
}

/// The newest rows both models scored (index `predictions_shadow_pairs`).
const SHADOW_PAIRS: &str = "SELECT fraud_probability, shadow_probability, label FROM predictions
     WHERE model_version = ?1 AND shadow_version = ?2 AND shadow_probability IS NOT NULL
     ORDER BY id DESC LIMIT ?3";

fn read_shadow_pairs(
    conn: &Connection,
    live_version: &str,
    shadow_version: &str,
    limit: u32,
) -> rusqlite::Result<Vec<PairedScore>> {
    let mut stmt = conn.prepare_cached(SHADOW_PAIRS)?;
    let rows = stmt.query_map(params![live_version, shadow_version, limit], |r| {
        Ok(PairedScore {
            live: r.get(0)?,
            shadow: r.get(1)?,
            label: r.get::<_, Option<i64>>(2)?.map(|l| u8::from(l != 0)),
        })
    })?;
    rows.collect()
}

/// A stored record from a row of the columns the listings select, in
/// order (the input is NULL when a labelled read left it out).
fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    let features: Option<String> = r.get(5)?;
    Ok(Record {
        id: r.get(0)?,
        timestamp: r.get(1)?,
        request_id: r.get(2)?,
        transaction_id: r.get(3)?,
        model_version: r.get(4)?,
        features: features.map_or(serde_json::Value::Null, |text| {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        }),
        fraud_probability: r.get(6)?,
        is_fraud: r.get(7)?,
        risk_level: r.get(8)?,
        latency_ms: r.get(9)?,
        shadow_version: r.get(10)?,
        shadow_probability: r.get(11)?,
        label: r.get(12)?,
        labelled_by: r.get(13)?,
        labelled_at: r.get(14)?,
    })
}

/// The `WHERE ...` clause (or nothing) for `filter` and its parameters,
/// numbered from `?1`. Timestamps are stored as RFC 3339 UTC text with
/// milliseconds, so comparing the text compares the times.
fn where_clause(filter: &Filter) -> (String, Vec<Box<dyn rusqlite::ToSql + Send>>) {
    let mut conditions = Vec::new();
    let mut values: Vec<Box<dyn rusqlite::ToSql + Send>> = Vec::new();
    for condition in filter.conditions() {
        let (column, value): (&str, Box<dyn rusqlite::ToSql + Send>) = match condition {
            Condition::RiskLevel(level) => ("risk_level =", Box::new(level.to_owned())),
            Condition::IsFraud(flag) => ("is_fraud =", Box::new(i64::from(flag))),
            Condition::Since(since) => ("timestamp >=", Box::new(since.to_owned())),
            Condition::Until(until) => ("timestamp <=", Box::new(until.to_owned())),
        };
        values.push(value);
        conditions.push(format!("{column} ?{}", values.len()));
    }
    if conditions.is_empty() {
        (String::new(), values)
    } else {
        (format!("WHERE {}", conditions.join(" AND ")), values)
    }
}

fn read_page(
    conn: &Connection,
    limit: u32,
    offset: u64,
    filter: &Filter,
) -> rusqlite::Result<Page> {
    let (condition, mut values) = where_clause(filter);
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM predictions {condition}"),
        rusqlite::params_from_iter(values.iter()),
        |r| r.get(0),
    )?;
    let n = values.len();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, timestamp, request_id, transaction_id, model_version, features,
                fraud_probability, is_fraud, risk_level, latency_ms, shadow_version,
                shadow_probability, label, labelled_by, labelled_at
         FROM predictions {condition} ORDER BY id DESC LIMIT ?{} OFFSET ?{}",
        n + 1,
        n + 2
    ))?;
    values.push(Box::new(limit));
    values.push(Box::new(i64::try_from(offset).unwrap_or(i64::MAX)));
    let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), record)?;
    Ok(Page {
        predictions: rows.collect::<rusqlite::Result<_>>()?,
        total: u64::try_from(total).unwrap_or(0),
        limit,
        offset,
    })
}

/// When the WAL is checkpointed (copied into the database file).
#[derive(Debug, Clone, Copy)]
struct Checkpoints {
    /// How long the checkpointer lets commits gather before it copies them.
    pause: Duration,
    /// WAL frames (pages) past which the checkpointer asks the writer to
    /// let the WAL start over. SQLite writes the WAL from its beginning
    /// again only after a checkpoint has copied every frame, which a
    /// checkpoint racing the writer's commits rarely does.
    restart_frames: i64,
    /// WAL frames past which the writer checkpoints after every commit, as
    /// SQLite does by itself past 1000: reached only if the checkpointer
    /// falls behind (a reader holding on to an old snapshot, a failing
    /// disk).
    backstop_frames: i64,
}

impl Checkpoints {
    /// Ten checkpoints a second at most; the WAL starts over past 32 MB.
    const DEFAULT: Checkpoints = Checkpoints {
        pause: Duration::from_millis(100),
        restart_frames: 8_000,
        backstop_frames: 32_000,
    };
}

/// A passive checkpoint: copies what it can without waiting for anyone.
/// Returns the WAL's length in frames.
fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
}

/// Copies committed WAL frames into the database file on a thread of its
/// own, so that the writer (and the requests waiting for its commit) do not
/// wait for that copy and its two `fsync`s, as they would with SQLite's
/// automatic checkpoint every 1000 frames.
struct Checkpointer {
    wake: Option<mpsc::SyncSender<()>>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Set when the WAL has grown past [`Checkpoints::restart_frames`].
    restart: Arc<AtomicBool>,
}

impl Checkpointer {
    fn start(path: &Path, sync_level: &str, every: Checkpoints) -> Result<Self, HistoryError> {
        let conn = connect(path, OpenFlags::default())?;
        conn.pragma_update(None, "synchronous", sync_level)
            .map_err(sqlite(path))?;
        let (wake, woken) = mpsc::sync_channel(1);
        let (stop, stopped) = mpsc::channel::<()>();
        let restart = Arc::new(AtomicBool::new(false));
        let wanted = Arc::clone(&restart);
        let shown = path.display().to_string();
        let thread = std::thread::Builder::new()
            .name("history-checkpoint".into())
            .spawn(move || {
                // Dropping the store drops both senders: the pause ends at
                // once, and closing the last connection checkpoints the rest.
                while woken.recv().is_ok() {
                    if stopped.recv_timeout(every.pause) != Err(mpsc::RecvTimeoutError::Timeout) {
                        return;
                    }
                    match checkpoint(&conn) {
                        Ok(frames) if frames > every.restart_frames => {
                            wanted.store(true, Ordering::Relaxed)
                        }
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(history = %shown, %error, "WAL checkpoint failed")
                        }
                    }
                }
            })
            .map_err(|source| HistoryError::Io {
                path: "history-checkpoint thread".into(),
                source,
            })?;
        Ok(Checkpointer {
            wake: Some(wake),
            stop: Some(stop),
            thread: Some(thread),
            restart,
        })
    }

    /// Tells the checkpointer that there are new commits. Never waits: a
    /// wake already pending covers these too.
    fn wake(&self) {
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.wake = None;
        self.stop = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Most rows one INSERT statement writes. Each statement has a fixed cost
/// (and, with AUTOINCREMENT, ends by updating the id counter), so a batch
/// is written a chunk of rows per statement rather than a row per
/// statement; 64 rows of 11 values stay far below SQLite's limit on
/// parameters.
const ROWS_PER_INSERT: usize = 64;

/// `INSERT` for `rows` rows.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO predictions (timestamp, request_id, transaction_id, model_version,
            features, fraud_probability, is_fraud, risk_level, latency_ms, shadow_version,
            shadow_probability) VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?,?,?,?,?,?)");
    }
    sql
}

/// The statements [`insert`] uses: for 64, 32, ..., 1 rows.
fn insert_statements() -> Vec<(usize, String)> {
    std::iter::successors(Some(ROWS_PER_INSERT), |&n| (n > 1).then_some(n / 2))
        .map(|rows| (rows, insert_sql(rows)))
        .collect()
}

fn insert(
    conn: &mut Connection,
    statements: &[(usize, String)],
    batch: &[NewRecord],
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let mut rest = batch;
    // The largest statement that fits, again and again: a batch takes at
    // most one statement of each size below 64, so only these few are ever
    // prepared (and cached).
    while let Some((rows, sql)) = statements.iter().find(|(rows, _)| *rows <= rest.len()) {
        let (chunk, after) = rest.split_at(*rows);
        let shadows: Vec<(Option<&str>, Option<f64>)> = chunk
            .iter()
            .map(|r| match &r.shadow {
                Some((version, p)) => (Some(&**version), Some(*p)),
                None => (None, None),
            })
            .collect();
        let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(chunk.len() * 11);
        for (r, (shadow_version, shadow_probability)) in chunk.iter().zip(&shadows) {
            values.extend_from_slice(&[
                &r.timestamp,
                &r.request_id,
                &r.transaction_id,
                &r.model_version,
                &r.features_json,
                &r.fraud_probability,
                &r.is_fraud,
                &r.risk_level,
                &r.latency_ms,
                shadow_version,
                shadow_probability,
            ]);
        }
        tx.prepare_cached(sql)?.execute(values.as_slice())?;
        rest = after;
    }
    tx.commit()
}

// Labels (issue 12).

/// Sets each label in one transaction; rolled back if any id matches no
/// prediction, so a set of labels is stored whole or not at all.
fn store_labels(conn: &mut Connection, labels: &[Label]) -> rusqlite::Result<LabelOutcome> {
    let tx = conn.transaction()?;
    let mut rows = 0u64;
    let mut unknown = Vec::new();
    {
        let mut by_transaction = tx.prepare_cached(
            "UPDATE predictions SET label = ?1, labelled_by = ?2, labelled_at = ?3
             WHERE transaction_id = ?4",
        )?;
        let mut by_request = tx.prepare_cached(
            "UPDATE predictions SET label = ?1, labelled_by = ?2, labelled_at = ?3
             WHERE request_id = ?4",
        )?;
        for l in labels {
            let statement = match l.key {
                LabelKey::TransactionId(_) => &mut by_transaction,
                LabelKey::RequestId(_) => &mut by_request,
            };
            let changed =
                statement.execute(params![l.label, l.labelled_by, l.labelled_at, l.key.id()])?;
            if changed == 0 {
                unknown.push(l.key.clone());
            }
            rows += changed as u64;
        }
    }
    if unknown.is_empty() {
        tx.commit()?;
        Ok(LabelOutcome::Applied { rows })
    } else {
        tx.rollback()?;
        Ok(LabelOutcome::Unknown(unknown))
    }
}

/// The labelled rows in a time range, oldest first (index
/// `predictions_labelled`); the input only when `features`.
fn labelled_query(features: bool) -> String {
    let features = if features { "features" } else { "NULL" };
    format!(
        "SELECT id, timestamp, request_id, transaction_id, model_version, {features},
                fraud_probability, is_fraud, risk_level, latency_ms, shadow_version,
                shadow_probability, label, labelled_by, labelled_at
         FROM predictions
         WHERE label IS NOT NULL
           AND (?1 IS NULL OR timestamp >= ?1) AND (?2 IS NULL OR timestamp < ?2)
         ORDER BY timestamp, id"
    )
}

fn read_labelled(conn: &Connection, query: &LabelledQuery) -> rusqlite::Result<Vec<Record>> {
    let mut stmt = conn.prepare_cached(&labelled_query(query.features))?;
    let rows = stmt.query_map(params![query.since, query.before], record)?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain prediction's record, as the server writes one.
    fn record(n: usize) -> NewRecord {
        NewRecord {
            timestamp: format!("2026-12-01T05:{:02}:{:02}.000Z", n / 60 % 60, n % 60),
            request_id: format!("req-{n}"),
            transaction_id: None,
            model_version: "model".into(),
            features_json: format!(r#"{{"amount":{n}.25,"merchant_category":"Grocery"}}"#),
            fraud_probability: 0.25,
            is_fraud: false,
            risk_level: "LOW",
            latency_ms: 0.1,
            shadow: None,
        }
    }

    /// Batches [`write_batches`] writes, one after the other, as a busy
    /// server does (between two commits a checkpoint would see every frame
    /// copied, and the WAL would start over anyway).
    const BATCHES: usize = 1_000;

    /// Writes the same batches through a store checkpointed `every` way;
    /// returns how many records it wrote and the WAL file's largest size.
    fn write_batches(dir: &Path, name: &str, every: Checkpoints) -> (i64, u64) {
        let path = dir.join(name);
        let wal = dir.join(format!("{name}-wal"));
        let (mut store, _pages) = open_with(&path, SyncMode::Normal, every).expect("open");
        let (mut written, mut largest_wal) = (0, 0);
        for _ in 0..BATCHES {
            let batch: Vec<NewRecord> = (written..written + 16).map(record).collect();
            store.write(&batch).expect("write");
            written += batch.len();
            largest_wal = largest_wal.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
        // While the store is still open, the checkpointer copies the last
        // commits: the database file alone then holds every record.
        let copy = dir.join(format!("{name}-copy"));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let in_the_file = loop {
            // Nothing of an earlier copy's WAL may be read with this copy.
            for stale in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(dir.join(format!("{name}-copy{stale}")));
            }
            std::fs::copy(&path, &copy).expect("copy the database file");
            // A copy taken while a checkpoint writes into the file can hold
            // pages of two moments, which SQLite calls malformed: that copy
            // says nothing, and the next one is taken after the pause.
            let count = Connection::open(&copy).and_then(|c| {
                c.query_row("SELECT count(*) FROM predictions", [], |r| {
                    r.get::<_, i64>(0)
                })
            });
            match count {
                Ok(count) if count == written as i64 => break Ok(count),
                last if std::time::Instant::now() > deadline => break last,
                _ => std::thread::sleep(every.pause),
            }
        };
        drop(store);
        (in_the_file.expect("count the copy's records"), largest_wal)
    }

    #[test]
    fn commits_reach_the_database_file_and_the_wal_starts_over() {
        /// Removes the test's directory however the test ends.
        struct Removed(PathBuf);
        impl Drop for Removed {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let dir = std::env::temp_dir().join(format!("fraud-checkpoints-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let removed = Removed(dir);
        let dir = &removed.0;
        let pause = Duration::from_millis(5);
        // Without restarts (and with SQLite's own checkpoints out of reach)
        // the WAL holds every frame written: the measure to compare with.
        let (stored, unbounded) = write_batches(
            dir,
            "never-restarted.db",
            Checkpoints {
                pause,
                restart_frames: i64::MAX,
                backstop_frames: 1_000_000,
            },
        );
        let (stored_too, bounded) = write_batches(
            dir,
            "restarted.db",
            Checkpoints {
                pause,
                restart_frames: 64,
                backstop_frames: 1_000_000,
            },
        );
        assert_eq!(
            (stored, stored_too),
            (BATCHES as i64 * 16, BATCHES as i64 * 16)
        );
        assert!(
            bounded * 4 < unbounded,
            "the WAL grew to {bounded} bytes with restarts, {unbounded} without"
        );
    }

    /// SQLite's plan for `sql`, one step per line.
    fn plan(conn: &Connection, sql: &str, values: impl rusqlite::Params) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("plan");
        let steps = stmt
            .query_map(values, |r| r.get::<_, String>(3))
            .expect("steps");
        steps
            .map(|s| s.expect("step"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn shadow_and_labelled_reads_use_their_indexes_not_a_table_scan() {
        let conn = Connection::open_in_memory().expect("open");
        migrate_connection(&conn).expect("migrate");
        let shadow = plan(&conn, SHADOW_PAIRS, params!["live", "shadow", 10]);
        assert!(shadow.contains("predictions_shadow_pairs"), "{shadow}");
        for features in [false, true] {
            let labelled = plan(
                &conn,
                &labelled_query(features),
                params![None::<String>, None::<String>],
            );
            assert!(labelled.contains("predictions_labelled"), "{labelled}");
            assert!(!labelled.contains("USE TEMP B-TREE"), "{labelled}");
        }
    }
}

//! The SQLite history store: WAL mode, one writer connection owned by the
//! writer thread and one read-only connection for listing pages.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
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
    migrate_connection(&conn).map_err(sqlite(path))?;
    let reader = connect(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    Ok((
        SqliteStore {
            conn,
            path: path.to_owned(),
            inserts: insert_statements(),
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
}

impl Store for SqliteStore {
    fn write(&mut self, batch: &[NewRecord]) -> Result<(), HistoryError> {
        insert(&mut self.conn, &self.inserts, batch).map_err(sqlite(&self.path))
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

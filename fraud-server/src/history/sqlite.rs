//! The SQLite history store: WAL mode, one writer connection owned by the
//! writer thread and one read-only connection for listing pages.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags};

use super::schema::{self, MigrationReport};
use super::{Condition, Filter, HistoryError, NewRecord, Page, Pages, Record, Store};
use crate::config::SyncMode;

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> HistoryError + '_ {
    move |source| HistoryError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, HistoryError> {
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite(path))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(sqlite(path))?;
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
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sqlite(path))?;
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
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sqlite(path))?;
    migrate_connection(&conn).map_err(sqlite(path))
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
}

impl Store for SqliteStore {
    fn write(&mut self, batch: &[NewRecord]) -> Result<(), HistoryError> {
        insert(&mut self.conn, batch).map_err(sqlite(&self.path))
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
                fraud_probability, is_fraud, risk_level, latency_ms
         FROM predictions {condition} ORDER BY id DESC LIMIT ?{} OFFSET ?{}",
        n + 1,
        n + 2
    ))?;
    values.push(Box::new(limit));
    values.push(Box::new(i64::try_from(offset).unwrap_or(i64::MAX)));
    let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), |r| {
        let features: String = r.get(5)?;
        Ok(Record {
            id: r.get(0)?,
            timestamp: r.get(1)?,
            request_id: r.get(2)?,
            transaction_id: r.get(3)?,
            model_version: r.get(4)?,
            features: serde_json::from_str(&features)
                .unwrap_or(serde_json::Value::String(features)),
            fraud_probability: r.get(6)?,
            is_fraud: r.get(7)?,
            risk_level: r.get(8)?,
            latency_ms: r.get(9)?,
        })
    })?;
    Ok(Page {
        predictions: rows.collect::<rusqlite::Result<_>>()?,
        total: u64::try_from(total).unwrap_or(0),
        limit,
        offset,
    })
}

fn insert(conn: &mut Connection, batch: &[NewRecord]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO predictions (timestamp, request_id, transaction_id, model_version,
                features, fraud_probability, is_fraud, risk_level, latency_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for r in batch {
            stmt.execute(params![
                r.timestamp,
                r.request_id,
                r.transaction_id,
                &*r.model_version,
                r.features_json,
                r.fraud_probability,
                r.is_fraud,
                r.risk_level,
                r.latency_ms
            ])?;
        }
    }
    tx.commit()
}

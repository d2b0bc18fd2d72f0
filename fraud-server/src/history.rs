//! The prediction history: SQLite in WAL mode, written by one background
//! thread in batched transactions, fed through a bounded queue.
//!
//! Requests hand their records to the queue and go on; when the queue is full
//! they wait (backpressure) instead of dropping anything. A write that fails is
//! retried, then logged with the count of records lost and counted in metrics,
//! never dropped silently. [`History::close`] writes everything queued before
//! it returns.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;

/// One scored transaction, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// Row id (0 until stored).
    pub id: i64,
    /// When it was scored (RFC 3339, UTC, milliseconds).
    pub timestamp: String,
    /// The request that scored it.
    pub request_id: String,
    /// The caller's `transaction_id`, when given.
    pub transaction_id: Option<String>,
    /// The model that scored it.
    pub model_version: String,
    /// The input as received (a JSON object).
    pub features: serde_json::Value,
    /// The model's probability.
    pub fraud_probability: f64,
    /// The decision, 0 or 1.
    pub is_fraud: u8,
    /// LOW, MEDIUM or HIGH.
    pub risk_level: String,
    /// Time spent scoring this request, in milliseconds.
    pub latency_ms: f64,
}

/// A record on its way to the database: the input kept as JSON text, so the
/// request path does not build a `Value` tree it would only serialise again.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// RFC 3339 timestamp.
    pub timestamp: String,
    /// Request id.
    pub request_id: String,
    /// The caller's transaction id.
    pub transaction_id: Option<String>,
    /// Model version.
    pub model_version: Arc<str>,
    /// The input object as JSON text.
    pub features_json: String,
    /// Probability.
    pub fraud_probability: f64,
    /// Decision.
    pub is_fraud: bool,
    /// Risk level.
    pub risk_level: &'static str,
    /// Latency in milliseconds.
    pub latency_ms: f64,
}

/// Which records a listing shows; `None` in a field means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this risk level (`LOW`, `MEDIUM` or `HIGH`).
    pub risk_level: Option<&'static str>,
    /// Only flagged (`true`) or only not flagged (`false`) predictions.
    pub is_fraud: Option<bool>,
    /// Only records at or after this RFC 3339 UTC timestamp.
    pub since: Option<String>,
    /// Only records at or before this RFC 3339 UTC timestamp.
    pub until: Option<String>,
}

impl Filter {
    /// The SQL condition (`WHERE ...`, or nothing) and its parameters,
    /// numbered from `?1`. Timestamps are stored as RFC 3339 UTC text with
    /// milliseconds, so comparing the text compares the times.
    fn sql(&self) -> (String, Vec<Box<dyn rusqlite::ToSql + Send>>) {
        let mut conditions = Vec::new();
        let mut values: Vec<Box<dyn rusqlite::ToSql + Send>> = Vec::new();
        let mut add = |condition: &str, value: Box<dyn rusqlite::ToSql + Send>| {
            values.push(value);
            conditions.push(format!("{condition} ?{}", values.len()));
        };
        if let Some(level) = self.risk_level {
            add("risk_level =", Box::new(level));
        }
        if let Some(flag) = self.is_fraud {
            add("is_fraud =", Box::new(i64::from(flag)));
        }
        if let Some(since) = &self.since {
            add("timestamp >=", Box::new(since.clone()));
        }
        if let Some(until) = &self.until {
            add("timestamp <=", Box::new(until.clone()));
        }
        if conditions.is_empty() {
            (String::new(), values)
        } else {
            (format!("WHERE {}", conditions.join(" AND ")), values)
        }
    }
}

/// A page of the history, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// The records.
    pub predictions: Vec<Record>,
    /// Records in the history that pass the filter.
    pub total: u64,
    /// The page size asked for.
    pub limit: u32,
    /// Records skipped.
    pub offset: u64,
}

/// What can go wrong with the history.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// SQLite refused.
    #[error("history database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The directory for the database could not be made.
    #[error("cannot create {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The writer has stopped (the server is shutting down).
    #[error("the history writer has stopped")]
    Closed,
}

enum Message {
    Records(Vec<NewRecord>),
    Flush(oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
}

/// Handle to the history: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct History {
    sender: mpsc::Sender<Message>,
    reader: Arc<Mutex<Connection>>,
    writer: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    metrics: Metrics,
    path: PathBuf,
}

/// Records written in one transaction at most.
const MAX_BATCH: usize = 4096;

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> HistoryError + '_ {
    move |source| HistoryError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

fn open(path: &Path, flags: OpenFlags) -> Result<Connection, HistoryError> {
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite(path))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(sqlite(path))?;
    Ok(conn)
}

impl History {
    /// Opens (creating if needed) the database at `path` and starts the writer.
    /// `queue` is how many requests' records may wait before senders wait.
    pub fn open(path: &Path, queue: usize, metrics: Metrics) -> Result<Self, HistoryError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| HistoryError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        let writer_conn = open(path, OpenFlags::default())?;
        // WAL lets the reader list while the writer writes; NORMAL sync keeps
        // the database consistent after a crash and may lose only the last
        // transactions on power loss, which is the documented durability.
        writer_conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite(path))?;
        writer_conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite(path))?;
        writer_conn
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS predictions (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    timestamp TEXT NOT NULL,
                    request_id TEXT NOT NULL,
                    transaction_id TEXT,
                    model_version TEXT NOT NULL,
                    features TEXT NOT NULL,
                    fraud_probability REAL NOT NULL,
                    is_fraud INTEGER NOT NULL,
                    risk_level TEXT NOT NULL,
                    latency_ms REAL NOT NULL
                );",
            )
            .map_err(sqlite(path))?;
        let reader = open(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let (sender, receiver) = mpsc::channel(queue.max(1));
        let thread_metrics = metrics.clone();
        let thread_path = path.to_owned();
        let writer = std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || write_loop(writer_conn, receiver, &thread_metrics, &thread_path))
            .map_err(|source| HistoryError::Io {
                path: path.to_owned(),
                source,
            })?;
        Ok(History {
            sender,
            reader: Arc::new(Mutex::new(reader)),
            writer: Arc::new(Mutex::new(Some(writer))),
            metrics,
            path: path.to_owned(),
        })
    }

    /// Queues records for writing; waits while the queue is full.
    pub async fn record(&self, records: Vec<NewRecord>) -> Result<(), HistoryError> {
        if records.is_empty() {
            return Ok(());
        }
        self.metrics.history_queue.inc();
        let sent = match self.sender.try_send(Message::Records(records)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(message)) => self
                .sender
                .send(message)
                .await
                .map_err(|_| HistoryError::Closed),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(HistoryError::Closed),
        };
        if sent.is_err() {
            self.metrics.history_queue.dec();
        }
        sent
    }

    /// Waits until everything queued before this call is in the database.
    pub async fn flush(&self) -> Result<(), HistoryError> {
        let (done, wait) = oneshot::channel();
        self.sender
            .send(Message::Flush(done))
            .await
            .map_err(|_| HistoryError::Closed)?;
        wait.await.map_err(|_| HistoryError::Closed)
    }

    /// A page of the history, newest first, including everything recorded
    /// before this call.
    pub async fn list(
        &self,
        limit: u32,
        offset: u64,
        filter: Filter,
    ) -> Result<Page, HistoryError> {
        self.flush().await?;
        let reader = Arc::clone(&self.reader);
        let path = self.path.clone();
        let task = tokio::task::spawn_blocking(move || {
            // A poisoned lock only means another listing panicked; the
            // connection itself is still usable.
            let conn = reader
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            read_page(&conn, limit, offset, &filter).map_err(sqlite(&path))
        });
        task.await.map_err(|_| HistoryError::Closed)?
    }

    /// Writes everything queued and stops the writer. Later `record` calls fail
    /// with [`HistoryError::Closed`].
    pub async fn close(&self) -> Result<(), HistoryError> {
        let (done, wait) = oneshot::channel();
        // Clones of the sender live in request state, so the writer is told to
        // stop rather than left to notice that every sender is gone.
        self.sender
            .send(Message::Stop(done))
            .await
            .map_err(|_| HistoryError::Closed)?;
        wait.await.map_err(|_| HistoryError::Closed)?;
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|_| HistoryError::Closed)?
                .map_err(|_| HistoryError::Closed)?;
        }
        Ok(())
    }
}

fn read_page(
    conn: &Connection,
    limit: u32,
    offset: u64,
    filter: &Filter,
) -> rusqlite::Result<Page> {
    let (condition, mut values) = filter.sql();
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

fn write_loop(
    mut conn: Connection,
    mut receiver: mpsc::Receiver<Message>,
    metrics: &Metrics,
    path: &Path,
) {
    let mut batch: Vec<NewRecord> = Vec::new();
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    let mut stop = None;
    while let Some(first) = receiver.blocking_recv() {
        let mut next = Some(first);
        // Take whatever else is already queued, up to a batch, so a busy
        // server writes one transaction per thousands of predictions.
        while let Some(message) = next.take() {
            match message {
                Message::Records(records) => {
                    metrics.history_queue.dec();
                    batch.extend(records);
                }
                Message::Flush(done) => waiting.push(done),
                Message::Stop(done) => {
                    stop = Some(done);
                    break;
                }
            }
            if batch.len() >= MAX_BATCH {
                break;
            }
            next = receiver.try_recv().ok();
        }
        if !batch.is_empty() {
            write_batch(&mut conn, &mut batch, metrics, path);
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
        if let Some(done) = stop.take() {
            // Refuse what comes after the stop: those senders get `Closed`.
            receiver.close();
            let mut late = 0;
            while let Ok(message) = receiver.try_recv() {
                if let Message::Records(records) = message {
                    metrics.history_queue.dec();
                    late += records.len();
                    batch.extend(records);
                }
            }
            if late > 0 {
                write_batch(&mut conn, &mut batch, metrics, path);
            }
            let _ = done.send(());
            return;
        }
    }
}

fn write_batch(conn: &mut Connection, batch: &mut Vec<NewRecord>, metrics: &Metrics, path: &Path) {
    let mut attempt = 0;
    loop {
        match insert(conn, batch) {
            Ok(()) => {
                metrics.history_written.inc_by(batch.len() as u64);
                batch.clear();
                return;
            }
            Err(e) if attempt < 3 => {
                attempt += 1;
                tracing::warn!(path = %path.display(), error = %e, attempt, "history write failed; retrying");
                std::thread::sleep(Duration::from_millis(100 * attempt));
            }
            Err(e) => {
                tracing::error!(
                    path = %path.display(),
                    error = %e,
                    lost = batch.len(),
                    "history write failed; these predictions are not in the history"
                );
                metrics.history_failed.inc_by(batch.len() as u64);
                batch.clear();
                return;
            }
        }
    }
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

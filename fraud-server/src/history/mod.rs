//! The prediction history: records go through a bounded queue to one writer
//! thread that stores them in batched transactions (group commit).
//!
//! What this module decides, whatever the database: when a request may be
//! answered ([`Durability`]: after its record is committed, or once it is
//! queued), what happens while the database cannot be written
//! ([`FailurePolicy`]), and how the history reports its health. A backend
//! only stores a batch in one transaction ([`Store`]), checks that it could
//! write ([`Store::probe`]) and reads pages ([`Pages`]): SQLite in
//! [`sqlite`] (the embedded default), PostgreSQL in [`postgres`] (for
//! replicas sharing one history). Both follow one list of migrations
//! ([`schema`]), chosen by [`Location`] from `DATABASE_URL`.
//!
//! Nothing is dropped silently. A full queue makes requests wait. A batch
//! that cannot be stored is retried, then each of its requests is told
//! (`commit`), or its records are logged and counted (`async`, which answers
//! before writing: at most the queue is at risk). While writes fail, new
//! predictions are refused (`fail-closed`) or answered and marked as not
//! recorded (`fail-open`); the writer probes the database and recovers by
//! itself once a write works again. [`History::close`] writes everything
//! queued before it returns.

pub mod postgres;
pub mod schema;
pub mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use fraud_engine::lifecycle::PairedScore;
use serde::Serialize;
use tokio::sync::{oneshot, Semaphore};

use crate::config::{Durability, FailurePolicy, SyncMode};
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
    /// The shadow model that also scored it, if one was set.
    pub shadow_version: Option<String>,
    /// The shadow model's probability (never part of the answer).
    pub shadow_probability: Option<f64>,
    /// The true class, once a label arrived (1 fraud, 0 legitimate).
    pub label: Option<u8>,
    /// Who gave the label.
    pub labelled_by: Option<String>,
    /// When the label arrived (RFC 3339, UTC, milliseconds).
    pub labelled_at: Option<String>,
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
    /// The shadow model's version and probability, when one scored it too.
    pub shadow: Option<(Arc<str>, f64)>,
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

/// One condition of a [`Filter`], for a backend to write in its own SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Condition<'a> {
    RiskLevel(&'a str),
    IsFraud(bool),
    Since(&'a str),
    Until(&'a str),
}

impl Filter {
    /// The filter's conditions, all of which a record must meet.
    pub(crate) fn conditions(&self) -> Vec<Condition<'_>> {
        let mut conditions = Vec::new();
        if let Some(level) = self.risk_level {
            conditions.push(Condition::RiskLevel(level));
        }
        if let Some(flag) = self.is_fraud {
            conditions.push(Condition::IsFraud(flag));
        }
        if let Some(since) = &self.since {
            conditions.push(Condition::Since(since));
        }
        if let Some(until) = &self.until {
            conditions.push(Condition::Until(until));
        }
        conditions
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
        path: std::path::PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The directory for the database could not be made.
    #[error("cannot create {path}: {source}")]
    Io {
        /// The directory.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The history cannot be written now (`fail-closed`): the record was not
    /// stored and the prediction must not be answered as if it were.
    #[error("the prediction history cannot be written: {reason}")]
    Unwritable {
        /// The database's last error.
        reason: String,
    },
    /// PostgreSQL refused, or could not be reached.
    #[error("history database {target}: {reason}")]
    Postgres {
        /// The database, without its password.
        target: String,
        /// What went wrong.
        reason: String,
    },
    /// `DATABASE_URL` names no database this server can use.
    #[error("DATABASE_URL `{url}`: {reason}")]
    Url {
        /// The URL, without its password.
        url: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The writer has stopped (the server is shutting down).
    #[error("the history writer has stopped")]
    Closed,
}

/// What a history holds: its schema version, predictions and labelled
/// predictions (what a backup records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contents {
    /// The newest migration applied.
    pub schema_version: i64,
    /// Predictions.
    pub predictions: u64,
    /// Predictions with a label.
    pub labelled: u64,
}

/// Which database holds the history, from `DATABASE_URL`.
#[derive(Debug, Clone)]
pub enum Location {
    /// A SQLite file (a path, or `sqlite://PATH`).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://` or `postgresql://`).
    Postgres(Box<postgres::Target>),
}

impl Location {
    /// Reads `DATABASE_URL`: `postgres://...` or `postgresql://...` is
    /// PostgreSQL; `sqlite://PATH`, `sqlite:PATH` or a path is SQLite. Any
    /// other `scheme:` is an error (a path that really starts with one can
    /// be written `./name:...`), so a mistyped URL never becomes a file.
    pub fn parse(url: &str) -> Result<Self, HistoryError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(HistoryError::Url {
                url: String::new(),
                reason: "empty; give a file path, sqlite://PATH or postgres://USER@HOST/DB".into(),
            });
        }
        let scheme = url.split_once(':').map(|(scheme, _)| scheme).filter(|s| {
            // One letter is a Windows drive (C:\...), not a scheme.
            s.len() > 1
                && s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
        match scheme.map(str::to_ascii_lowercase).as_deref() {
            None => Ok(Location::Sqlite(PathBuf::from(url))),
            Some("sqlite") => {
                let path = url["sqlite:".len()..].trim_start_matches("//");
                // sqlite:///abs/h.db is /abs/h.db; sqlite://rel/h.db is rel/h.db.
                let path = if url["sqlite:".len()..].starts_with("///") {
                    &url["sqlite://".len()..]
                } else {
                    path
                };
                if path.is_empty() {
                    return Err(HistoryError::Url {
                        url: url.to_owned(),
                        reason: "no file path after sqlite://".into(),
                    });
                }
                Ok(Location::Sqlite(PathBuf::from(path)))
            }
            Some(scheme @ ("postgres" | "postgresql")) => {
                // The client reads only lower-case schemes.
                let url = format!("{scheme}{}", &url[scheme.len()..]);
                Ok(Location::Postgres(Box::new(postgres::Target::parse(&url)?)))
            }
            Some(other) => Err(HistoryError::Url {
                url: postgres::redact(url),
                reason: format!(
                    "unknown scheme `{other}`; use a file path, sqlite://PATH, or postgres://USER:PASSWORD@HOST:PORT/DB"
                ),
            }),
        }
    }

    /// The location without credentials, for logs.
    pub fn shown(&self) -> String {
        match self {
            Location::Sqlite(path) => format!("sqlite:{}", path.display()),
            Location::Postgres(target) => target.shown().to_owned(),
        }
    }
}

/// Settings a backend needs beyond the [`Policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendOptions {
    /// SQLite's `synchronous` level.
    pub sync: SyncMode,
    /// Most PostgreSQL connections (the writer's one plus readers).
    pub pool_size: usize,
}

impl Default for BackendOptions {
    fn default() -> Self {
        BackendOptions {
            sync: SyncMode::Normal,
            pool_size: 4,
        }
    }
}

/// Brings the database at `location` to this build's schema and says what
/// was done (`fraud-server migrate`).
pub fn migrate(location: &Location) -> Result<schema::MigrationReport, HistoryError> {
    match location {
        Location::Sqlite(path) => sqlite::migrate(path),
        Location::Postgres(target) => postgres::migrate(target),
    }
}

/// A history backend's writing side, owned by the writer thread.
pub trait Store: Send + 'static {
    /// Stores `batch` in one transaction: every record, or none.
    fn write(&mut self, batch: &[NewRecord]) -> Result<(), HistoryError>;
    /// A small real write, to learn whether writing works again after a
    /// failure (disk space returned, database back).
    fn probe(&mut self) -> Result<(), HistoryError>;
    /// Where the records go, for log lines (no credentials).
    fn describe(&self) -> String;

    // Labels (issue 12).

    /// Sets the label of every prediction each label names, in one
    /// transaction: all of them, or (when some id matches no prediction)
    /// none, with the unknown ids in the outcome.
    fn label(&mut self, labels: &[Label]) -> Result<LabelOutcome, HistoryError>;
}

/// A history backend's reading side.
pub trait Pages: Send + Sync + 'static {
    /// A page of the records that pass `filter`, newest first (blocking).
    fn page(&self, limit: u32, offset: u64, filter: &Filter) -> Result<Page, HistoryError>;

    // ---- model lifecycle: shadow comparison ----

    /// The newest `limit` records that `live_version` answered while
    /// `shadow_version` scored them too: both probabilities and the label,
    /// if one arrived (blocking).
    fn shadow_pairs(
        &self,
        live_version: &str,
        shadow_version: &str,
        limit: u32,
    ) -> Result<Vec<PairedScore>, HistoryError>;

    // Labels (issue 12).

    /// Every labelled record scored in `query`'s time span, oldest first
    /// (by time, then id), blocking.
    fn labelled(&self, query: &LabelledQuery) -> Result<Vec<Record>, HistoryError>;
}

/// How the history behaves: when requests are answered and what happens
/// while writes fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Requests (messages) that may wait in the queue before senders wait.
    pub queue: usize,
    /// Answer after the commit, or once queued.
    pub durability: Durability,
    /// Refuse or keep scoring while writes fail.
    pub failure: FailurePolicy,
}

impl Policy {
    /// `commit` and `fail-closed`, with a queue of `queue` requests.
    pub fn commit(queue: usize) -> Self {
        Policy {
            queue,
            durability: Durability::Commit,
            failure: FailurePolicy::FailClosed,
        }
    }
}

/// What became of the records handed to [`History::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Committed (`commit`).
    Stored,
    /// Queued for the writer (`async`).
    Queued,
    /// Not stored (`fail-open` while writes fail): the answer must say so.
    NotStored,
}

/// Whether the history is being written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writability {
    /// The last write worked.
    Writable,
    /// The last write failed, for this reason; the writer keeps probing.
    Failing(String),
}

type Outcome = Result<(), String>;

enum Message {
    Records {
        records: Vec<NewRecord>,
        done: Option<oneshot::Sender<Outcome>>,
    },
    Flush(oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
    /// Labels, applied after every record sent before them.
    Labels {
        labels: Vec<Label>,
        done: oneshot::Sender<Result<LabelOutcome, String>>,
    },
}

struct Shared {
    failing: AtomicBool,
    reason: Mutex<String>,
    closing: AtomicBool,
}

impl Shared {
    fn set_failing(&self, reason: String, metrics: &Metrics) {
        *self
            .reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = reason;
        self.failing.store(true, Ordering::SeqCst);
        metrics.history_writable.set(0);
    }

    fn set_writable(&self, metrics: &Metrics) {
        self.failing.store(false, Ordering::SeqCst);
        metrics.history_writable.set(1);
    }

    fn reason(&self) -> String {
        self.reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Handle to the history: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct History {
    sender: mpsc::Sender<Message>,
    room: Arc<Semaphore>,
    pages: Arc<dyn Pages>,
    writer: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    shared: Arc<Shared>,
    metrics: Metrics,
    policy: Policy,
}

/// Records written in one transaction at most.
const MAX_BATCH: usize = 4096;

/// How often a failing history is probed while nothing else is written.
const PROBE_EVERY: Duration = Duration::from_millis(500);

/// Longest wait for more requests to share a commit (see `Writer::run`).
const LINGER: Duration = Duration::from_micros(250);

/// Retries of a batch after its first failure, while the history was healthy.
const RETRIES: u32 = 2;

impl History {
    /// Opens (creating if needed) the SQLite database at `path` with the
    /// default policy (`commit`, `fail-closed`, `synchronous=NORMAL`).
    /// `queue` is how many requests' records may wait before senders wait.
    pub fn open(path: &Path, queue: usize, metrics: Metrics) -> Result<Self, HistoryError> {
        Self::open_sqlite(path, Policy::commit(queue), SyncMode::Normal, metrics)
    }

    /// Opens the SQLite database at `path` with `policy` and `sync`.
    pub fn open_sqlite(
        path: &Path,
        policy: Policy,
        sync: SyncMode,
        metrics: Metrics,
    ) -> Result<Self, HistoryError> {
        let (store, pages) = sqlite::open(path, sync)?;
        Self::start(Box::new(store), Arc::new(pages), policy, metrics)
    }

    /// Opens the history at `location` (migrating its schema first) with
    /// `policy`. A database that cannot be reached is an error now.
    pub fn open_location(
        location: &Location,
        policy: Policy,
        options: BackendOptions,
        metrics: Metrics,
    ) -> Result<Self, HistoryError> {
        match location {
            Location::Sqlite(path) => Self::open_sqlite(path, policy, options.sync, metrics),
            Location::Postgres(target) => {
                let (store, pages) = postgres::open(target, options.pool_size)?;
                Self::start(Box::new(store), Arc::new(pages), policy, metrics)
            }
        }
    }

    /// Starts the writer thread over any backend.
    pub fn start(
        store: Box<dyn Store>,
        pages: Arc<dyn Pages>,
        policy: Policy,
        metrics: Metrics,
    ) -> Result<Self, HistoryError> {
        let (sender, receiver) = mpsc::channel();
        let room = Arc::new(Semaphore::new(policy.queue.max(1)));
        let shared = Arc::new(Shared {
            failing: AtomicBool::new(false),
            reason: Mutex::new(String::new()),
            closing: AtomicBool::new(false),
        });
        metrics.history_writable.set(1);
        let writer = Writer {
            store,
            receiver,
            room: Arc::clone(&room),
            capacity: policy.queue.max(1),
            shared: Arc::clone(&shared),
            metrics: metrics.clone(),
            last_batch: 0,
        };
        let handle = std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || writer.run())
            .map_err(|source| HistoryError::Io {
                path: "history-writer thread".into(),
                source,
            })?;
        Ok(History {
            sender,
            room,
            pages,
            writer: Arc::new(Mutex::new(Some(handle))),
            shared,
            metrics,
            policy,
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Whether writes work now.
    pub fn writability(&self) -> Writability {
        if self.shared.failing.load(Ordering::SeqCst) {
            Writability::Failing(self.shared.reason())
        } else {
            Writability::Writable
        }
    }

    /// Requests whose records wait for the writer now.
    pub fn queued(&self) -> usize {
        self.policy
            .queue
            .max(1)
            .saturating_sub(self.room.available_permits())
    }

    /// Hands records to the writer. Waits while the queue is full; with
    /// `commit`, also until they are committed. See [`Recorded`] for what
    /// an `Ok` means; an error means the records were not stored and the
    /// caller must not answer as if they were.
    pub async fn record(&self, records: Vec<NewRecord>) -> Result<Recorded, HistoryError> {
        if records.is_empty() {
            return Ok(match self.policy.durability {
                Durability::Commit => Recorded::Stored,
                Durability::Async => Recorded::Queued,
            });
        }
        if self.policy.durability == Durability::Async && self.shared.failing.load(Ordering::SeqCst)
        {
            // Answered before writing: while writes fail, the queue would
            // only fill with records that are then lost.
            return self.refuse(records.len());
        }
        if self.shared.closing.load(Ordering::SeqCst) {
            return Err(HistoryError::Closed);
        }
        let permit = self
            .room
            .acquire()
            .await
            .map_err(|_| HistoryError::Closed)?;
        // The writer hands the place back when it takes the message.
        permit.forget();
        let (done, wait) = match self.policy.durability {
            Durability::Commit => {
                let (done, wait) = oneshot::channel();
                (Some(done), Some(wait))
            }
            Durability::Async => (None, None),
        };
        let count = records.len();
        if self
            .sender
            .send(Message::Records { records, done })
            .is_err()
        {
            self.room.add_permits(1);
            return Err(HistoryError::Closed);
        }
        self.metrics.history_queue.set(self.queued() as i64);
        let Some(wait) = wait else {
            return Ok(Recorded::Queued);
        };
        match wait.await {
            Ok(Ok(())) => Ok(Recorded::Stored),
            Ok(Err(reason)) => match self.policy.failure {
                FailurePolicy::FailClosed => Err(HistoryError::Unwritable { reason }),
                FailurePolicy::FailOpen => Ok(Recorded::NotStored),
            },
            // The writer thread is gone: the records may not be stored.
            Err(_) => self.refuse(count),
        }
    }

    fn refuse(&self, count: usize) -> Result<Recorded, HistoryError> {
        match self.policy.failure {
            FailurePolicy::FailClosed => Err(HistoryError::Unwritable {
                reason: self.shared.reason(),
            }),
            FailurePolicy::FailOpen => {
                self.metrics.history_failed.inc_by(count as u64);
                Ok(Recorded::NotStored)
            }
        }
    }

    /// Waits until everything queued before this call has been written or
    /// has failed.
    pub async fn flush(&self) -> Result<(), HistoryError> {
        let (done, wait) = oneshot::channel();
        self.sender
            .send(Message::Flush(done))
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
        let pages = Arc::clone(&self.pages);
        tokio::task::spawn_blocking(move || pages.page(limit, offset, &filter))
            .await
            .map_err(|_| HistoryError::Closed)?
    }

    // ---- model lifecycle: shadow comparison ----

    /// The newest `limit` records `live_version` answered with
    /// `shadow_version` as the shadow (see [`Pages::shadow_pairs`]),
    /// including everything recorded before this call.
    pub async fn shadow_pairs(
        &self,
        live_version: &str,
        shadow_version: &str,
        limit: u32,
    ) -> Result<Vec<PairedScore>, HistoryError> {
        self.flush().await?;
        let pages = Arc::clone(&self.pages);
        let (live, shadow) = (live_version.to_owned(), shadow_version.to_owned());
        tokio::task::spawn_blocking(move || pages.shadow_pairs(&live, &shadow, limit))
            .await
            .map_err(|_| HistoryError::Closed)?
    }

    /// Writes everything queued and stops the writer. Later `record` calls fail
    /// with [`HistoryError::Closed`].
    pub async fn close(&self) -> Result<(), HistoryError> {
        self.shared.closing.store(true, Ordering::SeqCst);
        let (done, wait) = oneshot::channel();
        self.sender
            .send(Message::Stop(done))
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

struct Writer {
    store: Box<dyn Store>,
    receiver: mpsc::Receiver<Message>,
    room: Arc<Semaphore>,
    capacity: usize,
    shared: Arc<Shared>,
    metrics: Metrics,
    /// Requests waiting for their commit in the last batch.
    last_batch: usize,
}

/// One batch being collected: the records and who waits for them.
#[derive(Default)]
struct Batch {
    records: Vec<NewRecord>,
    waiting: Vec<oneshot::Sender<Outcome>>,
    flushes: Vec<oneshot::Sender<()>>,
}

impl Writer {
    fn run(mut self) {
        // One batch for the writer's life, emptied by each write: a new one
        // per commit grew its vectors record by record, and the reallocations
        // were a twentieth of the writer's time under load. It keeps the
        // largest batch's capacity, at most MAX_BATCH records (under 1 MB).
        let mut batch = Batch::default();
        loop {
            let first = if self.shared.failing.load(Ordering::SeqCst) {
                match self.receiver.recv_timeout(PROBE_EVERY) {
                    Ok(message) => message,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        self.probe();
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            } else {
                match self.receiver.recv() {
                    Ok(message) => message,
                    Err(_) => return,
                }
            };
            let mut next = Some(first);
            let mut stop = None;
            let mut labels = None;
            // Requests that wait for their commit and came in a group last
            // time will likely come in a group again: wait a moment for the
            // rest of it, so one commit serves them all (group commit): a
            // transaction and its commit record in the WAL cost the writer
            // the same for one row as for many.
            let linger_until = (self.last_batch > 1).then(|| Instant::now() + LINGER);
            loop {
                // Take whatever else is already queued, up to a batch: one
                // transaction (one commit) for every request waiting now.
                while let Some(message) = next.take() {
                    match message {
                        Message::Records { records, done } => {
                            self.room.add_permits(1);
                            batch.records.extend(records);
                            batch.waiting.extend(done);
                        }
                        Message::Flush(done) => batch.flushes.push(done),
                        Message::Stop(done) => {
                            stop = Some(done);
                            break;
                        }
                        // The records before them are written first, so
                        // a label finds a prediction sent just before it.
                        Message::Labels { labels: list, done } => {
                            self.room.add_permits(1);
                            labels = Some((list, done));
                            break;
                        }
                    }
                    if batch.records.len() >= MAX_BATCH {
                        break;
                    }
                    next = self.receiver.try_recv().ok();
                }
                let wait = match linger_until {
                    Some(until)
                        if stop.is_none()
                            && labels.is_none()
                            && !batch.waiting.is_empty()
                            && batch.waiting.len() < self.last_batch
                            && batch.records.len() < MAX_BATCH =>
                    {
                        until.checked_duration_since(Instant::now())
                    }
                    _ => None,
                };
                // The wait is a sleep, not a blocking receive: a writer
                // blocked on the queue is woken by every request that
                // arrives, which costs that request's worker a wake-up call
                // and the writer a context switch per record (about 3 us of
                // CPU per prediction in all, docs/PERFORMANCE.md). Asleep,
                // the writer lets them queue and takes them all after.
                let Some(pause) = wait else { break };
                std::thread::sleep(pause);
                match self.receiver.try_recv() {
                    Ok(message) => next = Some(message),
                    Err(_) => break,
                }
            }
            self.last_batch = batch.waiting.len();
            self.write(&mut batch);
            if let Some((list, done)) = labels {
                let _ = done.send(self.label_with_retries(&list));
            }
            if let Some(done) = stop {
                // Write what was sent before the senders saw `closing`.
                let mut late = Batch::default();
                while let Ok(message) = self.receiver.try_recv() {
                    match message {
                        Message::Records { records, done } => {
                            self.room.add_permits(1);
                            late.records.extend(records);
                            late.waiting.extend(done);
                        }
                        Message::Flush(done) | Message::Stop(done) => late.flushes.push(done),
                        Message::Labels { labels: list, done } => {
                            self.room.add_permits(1);
                            self.write(&mut late);
                            let _ = done.send(self.label_with_retries(&list));
                        }
                    }
                }
                self.write(&mut late);
                self.room.close();
                let _ = done.send(());
                return;
            }
            let queued = self.capacity.saturating_sub(self.room.available_permits());
            self.metrics.history_queue.set(queued as i64);
        }
    }

    /// Stores the batch's records, tells each waiting request how that went,
    /// and leaves the batch empty for the next.
    fn write(&mut self, batch: &mut Batch) {
        let Batch {
            records,
            waiting,
            flushes,
        } = batch;
        if !records.is_empty() {
            let outcome = self.store_with_retries(records);
            match &outcome {
                Ok(()) => self.metrics.history_written.inc_by(records.len() as u64),
                Err(reason) => {
                    self.metrics.history_failed.inc_by(records.len() as u64);
                    if waiting.is_empty() {
                        tracing::error!(
                            store = %self.store.describe(),
                            error = %reason,
                            lost = records.len(),
                            "history write failed; these answered predictions are not in the history"
                        );
                    } else {
                        tracing::warn!(
                            store = %self.store.describe(),
                            error = %reason,
                            records = records.len(),
                            "history write failed; each request is told its record was not stored"
                        );
                    }
                }
            }
            for done in waiting.drain(..) {
                let _ = done.send(outcome.clone());
            }
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
        records.clear();
        // Requests that sent no records (none of theirs to store) learn it
        // from their dropped sender, as before.
        waiting.clear();
    }

    fn store_with_retries(&mut self, records: &[NewRecord]) -> Outcome {
        let mut attempt = 0;
        loop {
            match self.store.write(records) {
                Ok(()) => {
                    if self.shared.failing.load(Ordering::SeqCst) {
                        tracing::info!(store = %self.store.describe(), "history writes work again");
                    }
                    self.shared.set_writable(&self.metrics);
                    return Ok(());
                }
                // A healthy history retries once or twice (a transient
                // error); a failing one does not, so requests are answered
                // at once while the disk is full.
                Err(e) if attempt < RETRIES && !self.shared.failing.load(Ordering::SeqCst) => {
                    attempt += 1;
                    tracing::warn!(store = %self.store.describe(), error = %e, attempt, "history write failed; retrying");
                    std::thread::sleep(Duration::from_millis(25 * u64::from(attempt)));
                }
                Err(e) => {
                    let reason = e.to_string();
                    if !self.shared.failing.load(Ordering::SeqCst) {
                        tracing::error!(store = %self.store.describe(), error = %reason, "the history cannot be written; probing until it can");
                    }
                    self.shared.set_failing(reason.clone(), &self.metrics);
                    return Err(reason);
                }
            }
        }
    }

    fn probe(&mut self) {
        match self.store.probe() {
            Ok(()) => {
                tracing::info!(store = %self.store.describe(), "history writes work again");
                self.shared.set_writable(&self.metrics);
            }
            Err(e) => {
                tracing::debug!(store = %self.store.describe(), error = %e, "history still cannot be written");
                self.shared.set_failing(e.to_string(), &self.metrics);
            }
        }
    }
}

// Labels (issue 12): the true class of a prediction, learnt later (a
// chargeback, an analyst's review). Labels go through the writer's queue,
// like records, so they are committed in order after the predictions sent
// before them and share the writer's retries and health.

/// Which stored predictions a label is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelKey {
    /// Every prediction with this caller's `transaction_id`.
    TransactionId(String),
    /// Every prediction of this request (a batch request has several).
    RequestId(String),
}

impl LabelKey {
    /// The id's name, as the API and the CSV call it.
    pub fn field(&self) -> &'static str {
        match self {
            LabelKey::TransactionId(_) => "transaction_id",
            LabelKey::RequestId(_) => "request_id",
        }
    }

    /// The id.
    pub fn id(&self) -> &str {
        match self {
            LabelKey::TransactionId(id) | LabelKey::RequestId(id) => id,
        }
    }
}

impl std::fmt::Display for LabelKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} `{}`", self.field(), self.id())
    }
}

/// One label to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The predictions it is for.
    pub key: LabelKey,
    /// The true class: 1 fraud, 0 legitimate.
    pub label: u8,
    /// Who gave it.
    pub labelled_by: String,
    /// When (RFC 3339, UTC, milliseconds).
    pub labelled_at: String,
}

/// What became of a set of labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelOutcome {
    /// Every label was stored; this many predictions now carry one (a
    /// label overwrites an earlier one: the latest review wins).
    Applied {
        /// Predictions labelled.
        rows: u64,
    },
    /// These ids match no stored prediction, so no label was stored.
    Unknown(Vec<LabelKey>),
}

/// Which labelled records [`Pages::labelled`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelledQuery {
    /// Only records scored at or after this RFC 3339 UTC time.
    pub since: Option<String>,
    /// Only records scored before this RFC 3339 UTC time.
    pub before: Option<String>,
    /// Read each record's input too (retraining needs it; performance
    /// figures do not, and leave `features` null).
    pub features: bool,
}

impl History {
    /// Stores `labels`, all or none, after every record handed to the
    /// history before this call. Labels always wait for their commit,
    /// whatever the durability: the caller needs to know which ids were
    /// unknown.
    pub async fn label(&self, labels: Vec<Label>) -> Result<LabelOutcome, HistoryError> {
        if labels.is_empty() {
            return Ok(LabelOutcome::Applied { rows: 0 });
        }
        if self.shared.closing.load(Ordering::SeqCst) {
            return Err(HistoryError::Closed);
        }
        let permit = self
            .room
            .acquire()
            .await
            .map_err(|_| HistoryError::Closed)?;
        permit.forget();
        let (done, wait) = oneshot::channel();
        if self.sender.send(Message::Labels { labels, done }).is_err() {
            self.room.add_permits(1);
            return Err(HistoryError::Closed);
        }
        match wait.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(reason)) => Err(HistoryError::Unwritable { reason }),
            Err(_) => Err(HistoryError::Closed),
        }
    }

    /// The labelled records `query` selects, oldest first, including
    /// everything recorded and labelled before this call.
    pub async fn labelled(&self, query: LabelledQuery) -> Result<Vec<Record>, HistoryError> {
        self.flush().await?;
        let pages = Arc::clone(&self.pages);
        tokio::task::spawn_blocking(move || pages.labelled(&query))
            .await
            .map_err(|_| HistoryError::Closed)?
    }
}

impl Writer {
    /// Stores labels with the retries records get; an error is the
    /// database's, in words.
    fn label_with_retries(&mut self, labels: &[Label]) -> Result<LabelOutcome, String> {
        let mut attempt = 0;
        loop {
            match self.store.label(labels) {
                Ok(outcome) => {
                    self.shared.set_writable(&self.metrics);
                    return Ok(outcome);
                }
                Err(e) if attempt < RETRIES && !self.shared.failing.load(Ordering::SeqCst) => {
                    attempt += 1;
                    tracing::warn!(store = %self.store.describe(), error = %e, attempt, "storing labels failed; retrying");
                    std::thread::sleep(Duration::from_millis(25 * u64::from(attempt)));
                }
                Err(e) => {
                    let reason = e.to_string();
                    tracing::error!(store = %self.store.describe(), error = %reason, labels = labels.len(), "storing labels failed; the caller is told");
                    self.shared.set_failing(reason.clone(), &self.metrics);
                    return Err(reason);
                }
            }
        }
    }
}

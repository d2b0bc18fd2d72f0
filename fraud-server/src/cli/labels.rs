//! `label` (labels from a CSV into the history, as `POST /api/feedback`
//! stores them), `retrain` (a successor trained on the labelled history),
//! `backup` and `restore` (the history and the model registry).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use fraud_engine::data::{is_missing_text, read_labels, TableColumn, Value};
use fraud_engine::json::Object;
use fraud_engine::{Model, Table};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{BackupArgs, CliError, HistoryArgs, LabelArgs, RestoreArgs, RetrainArgs};
use crate::history::{
    BackendOptions, Contents, History, Label, LabelKey, LabelOutcome, LabelledQuery, Location,
    Policy,
};
use crate::registry::{write_atomically, Manifest, Registry};

/// The history the flags name.
fn location(args: &HistoryArgs) -> Result<Location, CliError> {
    Ok(match &args.history {
        Some(url) => Location::parse(url)?,
        None => Location::Sqlite(args.data_dir.join("history.db")),
    })
}

/// A runtime for the history's async calls, and the history itself (an
/// existing one: a SQLite path that is not there is an error, not a new
/// empty file).
fn open_history(args: &HistoryArgs) -> Result<(tokio::runtime::Runtime, History), CliError> {
    let location = location(args)?;
    if let Location::Sqlite(path) = &location {
        if !path.is_file() {
            return Err(CliError::Invalid(format!(
                "no history database at {} (give --history or DATABASE_URL)",
                path.display()
            )));
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let metrics = crate::metrics::Metrics::new()
        .map_err(|e| CliError::Output(std::io::Error::other(format!("metrics: {e}"))))?;
    let history = History::open_location(
        &location,
        Policy::commit(16),
        BackendOptions::default(),
        metrics,
    )?;
    Ok((runtime, history))
}

fn now() -> String {
    crate::handlers::now_rfc3339()
}

/// An id cell of the labels CSV: its text, or `None` when empty.
fn id_cell(value: Value<'_>) -> Option<String> {
    match value {
        Value::Text(t) if !is_missing_text(t) => Some(t.trim().to_owned()),
        Value::Number(x) => Some(x.to_string()),
        _ => None,
    }
}

/// The labels of a CSV, every bad row named.
fn read_label_file(path: &Path, default_by: &str) -> Result<Vec<Label>, CliError> {
    let table = Table::read_csv(path)?;
    let source = table.source().to_owned();
    let transaction = table.column("transaction_id");
    let request = table.column("request_id");
    if transaction.is_none() && request.is_none() {
        return Err(CliError::Invalid(format!(
            "{source}: no transaction_id or request_id column (columns: {})",
            table.names().join(", ")
        )));
    }
    let Some(is_fraud) = table.column("is_fraud") else {
        return Err(CliError::Invalid(format!(
            "{source}: no is_fraud column (columns: {})",
            table.names().join(", ")
        )));
    };
    let values = read_labels(is_fraud, "is_fraud", &source)?;
    let by = table.column("labelled_by");
    let at = now();
    let mut labels = Vec::with_capacity(values.len());
    let mut problems = Vec::new();
    for (row, label) in values.into_iter().enumerate() {
        let tx = transaction.and_then(|c| id_cell(c.value(row)));
        let rq = request.and_then(|c| id_cell(c.value(row)));
        let key = match (tx, rq) {
            (Some(id), None) => LabelKey::TransactionId(id),
            (None, Some(id)) => LabelKey::RequestId(id),
            (Some(_), Some(_)) => {
                problems.push(format!(
                    "row {}: give transaction_id or request_id, not both",
                    row + 1
                ));
                continue;
            }
            (None, None) => {
                problems.push(format!("row {}: no transaction_id or request_id", row + 1));
                continue;
            }
        };
        let labelled_by = match by.and_then(|c| id_cell(c.value(row))) {
            Some(text) => match crate::feedback::check_labelled_by(&text, "labelled_by") {
                Ok(text) => text,
                Err(e) => {
                    problems.push(format!("row {}: labelled_by {}", row + 1, e.reason));
                    continue;
                }
            },
            None => default_by.to_owned(),
        };
        labels.push(Label {
            key,
            label,
            labelled_by,
            labelled_at: at.clone(),
        });
    }
    if !problems.is_empty() {
        let total = problems.len();
        problems.truncate(10);
        let more = if total > 10 {
            format!(" (and {} more)", total - 10)
        } else {
            String::new()
        };
        return Err(CliError::Invalid(format!(
            "{source}: {}{more}; nothing was stored",
            problems.join("; ")
        )));
    }
    Ok(labels)
}

fn list_keys(keys: &[LabelKey]) -> String {
    let mut shown: Vec<String> = keys.iter().take(20).map(LabelKey::to_string).collect();
    if keys.len() > 20 {
        shown.push(format!("and {} more", keys.len() - 20));
    }
    shown.join(", ")
}

/// `label`: the CSV's labels, stored all or nothing (or, with
/// `--skip-unknown`, all whose ids are known).
pub fn label(args: LabelArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let labels = read_label_file(&args.data, &super::lifecycle::operator())?;
    let count = labels.len();
    let (runtime, history) = open_history(&args.history)?;
    let outcome = runtime.block_on(history.label(labels.clone()));
    let result = match outcome {
        Ok(LabelOutcome::Applied { rows }) => {
            writeln!(
                out,
                "stored {count} labels on {rows} predictions; 0 unknown ids"
            )?;
            Ok(())
        }
        Ok(LabelOutcome::Unknown(unknown)) if args.skip_unknown => {
            let known: Vec<Label> = labels
                .into_iter()
                .filter(|l| !unknown.contains(&l.key))
                .collect();
            let stored = known.len();
            match runtime.block_on(history.label(known)) {
                Ok(LabelOutcome::Applied { rows }) => {
                    writeln!(
                        out,
                        "stored {stored} labels on {rows} predictions; {} unknown ids skipped: {}",
                        unknown.len(),
                        list_keys(&unknown)
                    )?;
                    Ok(())
                }
                Ok(LabelOutcome::Unknown(more)) => Err(CliError::Incomplete(format!(
                    "ids vanished while labelling ({}); nothing was stored",
                    list_keys(&more)
                ))),
                Err(e) => Err(e.into()),
            }
        }
        Ok(LabelOutcome::Unknown(unknown)) => Err(CliError::Invalid(format!(
            "{} of {count} ids match no stored prediction: {}; nothing was stored (--skip-unknown stores the others)",
            unknown.len(),
            list_keys(&unknown)
        ))),
        Err(e) => Err(e.into()),
    };
    runtime.block_on(history.close())?;
    result
}

/// A `--since` value: a date's first moment, or an RFC 3339 time.
fn since_bound(text: &str) -> Result<String, CliError> {
    let text = text.trim();
    let time = if text.len() == 10 {
        humantime::parse_rfc3339(&format!("{text}T00:00:00Z")).ok()
    } else {
        humantime::parse_rfc3339_weak(text.trim_end_matches('Z')).ok()
    };
    time.map(|t| humantime::format_rfc3339_millis(t).to_string())
        .ok_or_else(|| {
            CliError::Invalid(format!(
                "--since `{text}` is not a date (2026-11-30) or an RFC 3339 time (2026-11-30T14:05:00Z)"
            ))
        })
}

/// The model to retrain: `--base`, else the registry's active version.
fn base_model(args: &RetrainArgs) -> Result<(Model, String), CliError> {
    if let Some(path) = &args.base {
        return Ok((Model::load(path)?, path.display().to_string()));
    }
    if !args.registry.is_dir() {
        return Err(CliError::Invalid(format!(
            "no --base given and no registry at {} (give --registry or MODEL_REGISTRY)",
            args.registry.display()
        )));
    }
    let registry = Registry::open(&args.registry)?;
    let Some(active) = registry.manifest()?.active else {
        return Err(CliError::Invalid(format!(
            "no --base given and the registry {} has no active version",
            args.registry.display()
        )));
    };
    let model = registry.load(&active)?;
    Ok((
        model,
        format!("the active version of {}", registry.dir().display()),
    ))
}

/// `retrain`: labelled history rows older than the label delay, oldest
/// first, into the base model's schema; the engine trains and compares.
pub fn retrain(args: RetrainArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let (base, base_from) = base_model(&args)?;
    let since = args.since.as_deref().map(since_bound).transpose()?;
    let before = SystemTime::now()
        .checked_sub(args.label_delay)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let before = humantime::format_rfc3339_millis(before).to_string();
    let (runtime, history) = open_history(&args.history)?;
    let records = runtime.block_on(history.labelled(LabelledQuery {
        since: since.clone(),
        before: Some(before.clone()),
        features: true,
    }));
    runtime.block_on(history.close())?;
    let records = records?;
    let span = match &since {
        Some(since) => format!("scored from {since} to before {before}"),
        None => format!("scored before {before}"),
    };
    writeln!(
        out,
        "read {} labelled predictions {span} (label delay {})",
        records.len(),
        humantime::format_duration(args.label_delay)
    )?;
    if records.is_empty() {
        return Err(CliError::Invalid(format!(
            "no labelled predictions {span}: post labels (POST /api/feedback or `fraud-server label`), or shorten --label-delay"
        )));
    }
    let texts: Vec<String> = records.iter().map(|r| r.features.to_string()).collect();
    let mut objects = Vec::with_capacity(texts.len());
    for (text, record) in texts.iter().zip(&records) {
        objects.push(Object::parse(text.as_bytes()).map_err(|e| {
            CliError::Invalid(format!(
                "history row {}: the stored input is not a JSON object ({e})",
                record.id
            ))
        })?);
    }
    let schema = base.schema();
    let names: Vec<&str> = schema.features.iter().map(|f| f.name.as_str()).collect();
    let mut table = fraud_engine::json::table_of_objects("history", &names, &objects)?;
    let labels: Vec<f64> = records
        .iter()
        .map(|r| f64::from(r.label.unwrap_or(0)))
        .collect();
    table
        .push(schema.label.clone(), TableColumn::Numbers(labels))
        .map_err(CliError::Engine)?;
    let retrained = base.retrain(&table, args.holdout, args.threads)?;
    retrained.model.save(&args.out)?;
    let meta = retrained.model.metadata();
    writeln!(
        out,
        "base model {} ({base_from}); new model {} (parent {}), trained on {} rows, {} newest held out",
        base.version(),
        retrained.model.version(),
        meta.parent_version.as_deref().unwrap_or("none"),
        retrained.training_rows,
        retrained.new_holdout.rows
    )?;
    writeln!(out, "held-out rows, base model {}:", base.version())?;
    super::write_evaluation(out, &retrained.base_holdout)?;
    writeln!(
        out,
        "held-out rows, new model {}:",
        retrained.model.version()
    )?;
    super::write_evaluation(out, &retrained.new_holdout)?;
    writeln!(
        out,
        "wrote {} (add it with `fraud-server models add`, try it as the shadow first)",
        args.out.display()
    )?;
    Ok(())
}

/// What `backup` wrote, in `backup.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupRecord {
    /// The layout's version.
    pub format: u32,
    /// When the snapshot was taken (RFC 3339, UTC).
    pub created_at: String,
    /// The fraud-server that wrote it.
    pub fraud_server_version: String,
    /// The history snapshot.
    pub history: HistorySnapshot,
    /// The registry copy, if there was a registry.
    pub registry: Option<RegistrySnapshot>,
}

/// Which database a backup's history came from, and so what its file is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackedUpDatabase {
    /// A SQLite database file (the online backup API's copy).
    #[default]
    Sqlite,
    /// A `pg_dump` archive (custom format) of the history's tables.
    Postgres,
}

impl BackedUpDatabase {
    fn name(self) -> &'static str {
        match self {
            BackedUpDatabase::Sqlite => "SQLite",
            BackedUpDatabase::Postgres => "PostgreSQL",
        }
    }
}

/// The history part of a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistorySnapshot {
    /// The database it came from (backups written before PostgreSQL was
    /// backed up say nothing: SQLite).
    #[serde(default)]
    pub database: BackedUpDatabase,
    /// The snapshot's file, relative to the backup directory.
    pub file: String,
    /// Where it was copied from.
    pub source: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// The schema version (SQLite's `user_version`, PostgreSQL's newest
    /// `schema_migrations` row).
    pub schema_version: i64,
    /// Predictions in it.
    pub predictions: u64,
    /// Labelled predictions in it.
    pub labelled: u64,
}

/// The registry part of a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistrySnapshot {
    /// The copy, relative to the backup directory.
    pub dir: String,
    /// Where it was copied from.
    pub source: String,
    /// The active version then.
    pub active: Option<String>,
    /// The shadow version then.
    pub shadow: Option<String>,
    /// Every model file, each checked (loaded and its golden set run)
    /// before it was copied.
    pub versions: Vec<ModelFile>,
}

/// One model file of a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelFile {
    /// Its version.
    pub version: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

const BACKUP_FORMAT: u32 = 1;
const BACKUP_RECORD: &str = "backup.json";
const HISTORY_FILE: &str = "history.db";
/// The `pg_dump` archive of a PostgreSQL history in a backup.
const PG_HISTORY_FILE: &str = "history.pgdump";

/// A PostgreSQL tool (`pg_dump`, `pg_restore`): in `--pg-bin` when given,
/// else found on `PATH`.
fn pg_tool(dir: Option<&Path>, name: &str) -> PathBuf {
    dir.map_or_else(|| PathBuf::from(name), |dir| dir.join(name))
}
const REGISTRY_DIR: &str = "registry";
/// The registry's manifest file (see [`crate::registry`]'s layout).
const MANIFEST_FILE: &str = "manifest.json";

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn io_at(path: &Path) -> impl Fn(std::io::Error) -> CliError + '_ {
    move |e| {
        CliError::Output(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        ))
    }
}

fn sqlite_error(path: &Path) -> impl Fn(rusqlite::Error) -> CliError + '_ {
    move |source| {
        CliError::History(crate::history::HistoryError::Sqlite {
            path: path.to_owned(),
            source,
        })
    }
}

/// Whether `dir` is absent or an empty directory.
fn absent_or_empty(dir: &Path) -> Result<bool, CliError> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io_at(dir)(e)),
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut file = fs::File::create(path).map_err(io_at(path))?;
    file.write_all(bytes).map_err(io_at(path))?;
    file.sync_all().map_err(io_at(path))
}

/// Copies the live SQLite history at `source` to `target` with SQLite's
/// online backup API, in one step: one read transaction sees one
/// consistent state, and in WAL mode the server keeps writing meanwhile.
fn snapshot_sqlite(source: &Path, target: &Path) -> Result<Contents, CliError> {
    use rusqlite::backup::{Backup, StepResult};
    use rusqlite::{Connection, OpenFlags};
    let from = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_error(source))?;
    from.busy_timeout(Duration::from_secs(5))
        .map_err(sqlite_error(source))?;
    let mut to = Connection::open(target).map_err(sqlite_error(target))?;
    {
        let backup = Backup::new(&from, &mut to).map_err(sqlite_error(target))?;
        let mut waits = 0;
        loop {
            // -1: every page in this step.
            match backup.step(-1).map_err(sqlite_error(source))? {
                StepResult::Done => break,
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked if waits < 200 => {
                    waits += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                StepResult::Busy | StepResult::Locked => {
                    return Err(CliError::Incomplete(format!(
                        "{} stayed locked for 10 s; the backup was not taken",
                        source.display()
                    )))
                }
                // StepResult is non-exhaustive.
                _ => {}
            }
        }
    }
    let check: String = to
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(sqlite_error(target))?;
    if check != "ok" {
        return Err(CliError::Incomplete(format!(
            "the snapshot {} fails SQLite's check: {check}",
            target.display()
        )));
    }
    let version: i64 = to
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sqlite_error(target))?;
    let (predictions, labelled): (i64, i64) = to
        .query_row("SELECT count(*), count(label) FROM predictions", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(sqlite_error(target))?;
    // In one file: the snapshot must not depend on a -wal file beside it.
    to.pragma_update(None, "journal_mode", "DELETE")
        .map_err(sqlite_error(target))?;
    drop(to);
    Ok(Contents {
        schema_version: version,
        predictions: u64::try_from(predictions).unwrap_or(0),
        labelled: u64::try_from(labelled).unwrap_or(0),
    })
}

/// Copies the registry at `source` into `target`: the manifest first, then
/// every model file, each loaded (golden set included) before it is
/// copied. Model files are written before any manifest names them, so
/// every version the copied manifest names is among the files listed after.
fn copy_registry(source: &Path, target: &Path) -> Result<RegistrySnapshot, CliError> {
    let registry = Registry::open(source)?;
    let manifest_path = registry.dir().join(MANIFEST_FILE);
    let manifest_bytes = match fs::read(&manifest_path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_at(&manifest_path)(e)),
    };
    let manifest: Manifest = match &manifest_bytes {
        Some(bytes) => serde_json::from_slice(bytes).map_err(|e| {
            CliError::Invalid(format!(
                "{}: damaged manifest ({e}); not backed up",
                manifest_path.display()
            ))
        })?,
        None => Manifest::default(),
    };
    let models = target.join("models");
    fs::create_dir_all(&models).map_err(io_at(&models))?;
    let mut versions = Vec::new();
    for entry in registry.list()? {
        let version = entry.model_version;
        registry.load(&version)?;
        let from = registry.model_path(&version)?;
        let bytes = fs::read(&from).map_err(io_at(&from))?;
        write_synced(&models.join(format!("{version}.fem")), &bytes)?;
        versions.push(ModelFile {
            version,
            bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        });
    }
    versions.sort_by(|a, b| a.version.cmp(&b.version));
    if let Some(bytes) = &manifest_bytes {
        write_synced(&target.join(MANIFEST_FILE), bytes)?;
    }
    Ok(RegistrySnapshot {
        dir: REGISTRY_DIR.into(),
        source: source.display().to_string(),
        active: manifest.active,
        shadow: manifest.shadow,
        versions,
    })
}

/// `backup`: the history (SQLite's online backup, or `pg_dump` for
/// PostgreSQL; both safe while serving) and the registry, into a new
/// directory, with `backup.json` written last.
pub fn backup(args: BackupArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let location = location(&args.history)?;
    if let Location::Sqlite(source) = &location {
        if !source.is_file() {
            return Err(CliError::Invalid(format!(
                "no history database at {} (give --history or DATABASE_URL)",
                source.display()
            )));
        }
    }
    if !absent_or_empty(&args.out)? {
        return Err(CliError::Invalid(format!(
            "{} is not empty; a backup goes into a new directory",
            args.out.display()
        )));
    }
    fs::create_dir_all(&args.out).map_err(io_at(&args.out))?;
    let created_at = now();
    let (database, file, contents) = match &location {
        Location::Sqlite(source) => (
            BackedUpDatabase::Sqlite,
            HISTORY_FILE,
            snapshot_sqlite(source, &args.out.join(HISTORY_FILE))?,
        ),
        Location::Postgres(target) => (
            BackedUpDatabase::Postgres,
            PG_HISTORY_FILE,
            crate::history::postgres::dump(
                target,
                &pg_tool(args.pg_bin.as_deref(), "pg_dump"),
                &args.out.join(PG_HISTORY_FILE),
            )?,
        ),
    };
    let history_path = args.out.join(file);
    let bytes = fs::read(&history_path).map_err(io_at(&history_path))?;
    let history = HistorySnapshot {
        database,
        file: file.into(),
        source: location.shown(),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
        schema_version: contents.schema_version,
        predictions: contents.predictions,
        labelled: contents.labelled,
    };
    drop(bytes);
    let registry = if args.registry.is_dir() {
        Some(copy_registry(&args.registry, &args.out.join(REGISTRY_DIR))?)
    } else {
        None
    };
    let record = BackupRecord {
        format: BACKUP_FORMAT,
        created_at,
        fraud_server_version: env!("CARGO_PKG_VERSION").into(),
        history,
        registry,
    };
    write_synced(
        &args.out.join(BACKUP_RECORD),
        &super::pretty_json(&record, "backup record")?,
    )?;
    writeln!(
        out,
        "backed up {} predictions ({} labelled, schema {}) from {} to {}",
        record.history.predictions,
        record.history.labelled,
        record.history.schema_version,
        record.history.source,
        args.out.display()
    )?;
    match &record.registry {
        Some(r) => writeln!(
            out,
            "backed up {} model versions (active {}, shadow {}) from {}",
            r.versions.len(),
            r.active.as_deref().unwrap_or("none"),
            r.shadow.as_deref().unwrap_or("none"),
            r.source
        )?,
        None => writeln!(
            out,
            "no registry at {}; only the history was backed up",
            args.registry.display()
        )?,
    }
    Ok(())
}

/// Checks every file of a backup against `backup.json`; the model files
/// are loaded, which runs each one's golden set.
fn verify_backup(dir: &Path) -> Result<(BackupRecord, Option<Vec<u8>>), CliError> {
    let record_path = dir.join(BACKUP_RECORD);
    let text = fs::read(&record_path).map_err(|e| {
        CliError::Invalid(format!(
            "{} is not a backup: cannot read {BACKUP_RECORD} ({e})",
            dir.display()
        ))
    })?;
    let record: BackupRecord = serde_json::from_slice(&text).map_err(|e| {
        CliError::Invalid(format!(
            "{}: not a backup record ({e})",
            record_path.display()
        ))
    })?;
    if record.format != BACKUP_FORMAT {
        return Err(CliError::Invalid(format!(
            "{}: backup format {} is not {BACKUP_FORMAT}, the one this build reads",
            record_path.display(),
            record.format
        )));
    }
    let history = dir.join(&record.history.file);
    let bytes = fs::read(&history).map_err(io_at(&history))?;
    if sha256_hex(&bytes) != record.history.sha256 {
        return Err(CliError::Invalid(format!(
            "{}: its SHA-256 differs from the one in {BACKUP_RECORD}; the backup is damaged",
            history.display()
        )));
    }
    let mut manifest = None;
    if let Some(registry) = &record.registry {
        let root = dir.join(&registry.dir);
        for file in &registry.versions {
            let path = root.join("models").join(format!("{}.fem", file.version));
            let bytes = fs::read(&path).map_err(io_at(&path))?;
            if sha256_hex(&bytes) != file.sha256 {
                return Err(CliError::Invalid(format!(
                    "{}: its SHA-256 differs from the one in {BACKUP_RECORD}; the backup is damaged",
                    path.display()
                )));
            }
            let model = Model::from_bytes(&bytes)
                .map_err(|e| CliError::Invalid(format!("{}: {e}", path.display())))?;
            if model.version() != file.version {
                return Err(CliError::Invalid(format!(
                    "{}: the model inside is version {}, not {}",
                    path.display(),
                    model.version(),
                    file.version
                )));
            }
        }
        let manifest_path = root.join(MANIFEST_FILE);
        if manifest_path.exists() {
            let bytes = fs::read(&manifest_path).map_err(io_at(&manifest_path))?;
            let parsed: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
                CliError::Invalid(format!(
                    "{}: damaged manifest ({e})",
                    manifest_path.display()
                ))
            })?;
            for named in [&parsed.active, &parsed.shadow].into_iter().flatten() {
                if !registry.versions.iter().any(|f| &f.version == named) {
                    return Err(CliError::Invalid(format!(
                        "{}: names version {named}, which the backup does not hold",
                        manifest_path.display()
                    )));
                }
            }
            manifest = Some(bytes);
        }
    }
    Ok((record, manifest))
}

/// Puts a SQLite snapshot in place of `target`: copied beside it, then
/// renamed over it, so a crash leaves the old file or the whole new one.
fn restore_sqlite(snapshot: &Path, target: &Path) -> Result<(), CliError> {
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io_at(dir))?;
    }
    let staged = PathBuf::from(format!("{}.restoring", target.display()));
    let bytes = fs::read(snapshot).map_err(io_at(snapshot))?;
    write_synced(&staged, &bytes)?;
    drop(bytes);
    // A -wal or -shm file of the old database would be read as part of the
    // new one: removed.
    for suffix in ["-wal", "-shm", "-journal"] {
        let side = PathBuf::from(format!("{}{suffix}", target.display()));
        match fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_at(&side)(e)),
        }
    }
    fs::rename(&staged, target).map_err(io_at(target))?;
    Ok(())
}

/// Whether a registry directory holds anything (a manifest or a model).
fn registry_in_use(dir: &Path) -> Result<bool, CliError> {
    if dir.join(MANIFEST_FILE).exists() {
        return Ok(true);
    }
    Ok(!absent_or_empty(&dir.join("models"))?)
}

/// `restore`: checks the whole backup first, refuses to replace a history
/// or registry in use unless `--force`, then puts both back.
pub fn restore(args: RestoreArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let (record, manifest) = verify_backup(&args.backup)?;
    let location = location(&args.history)?;
    let in_use = match (&location, record.history.database) {
        (Location::Sqlite(target), BackedUpDatabase::Sqlite) => {
            fs::metadata(target).is_ok_and(|m| m.len() > 0)
        }
        (Location::Postgres(target), BackedUpDatabase::Postgres) => {
            crate::history::postgres::contents(target)?.is_some_and(|c| c.predictions > 0)
        }
        (_, database) => {
            let kind = database.name();
            return Err(CliError::Invalid(format!(
                "{} holds a {kind} history; restore it into a {kind} one (--history or DATABASE_URL), not {}",
                args.backup.display(),
                location.shown()
            )));
        }
    };
    if in_use && !args.force {
        return Err(CliError::Invalid(format!(
            "{} already holds a history; stop the server and give --force to replace it",
            location.shown()
        )));
    }
    if record.registry.is_some() && registry_in_use(&args.registry)? && !args.force {
        return Err(CliError::Invalid(format!(
            "the registry {} is not empty; give --force to replace its manifest (model files are immutable and stay)",
            args.registry.display()
        )));
    }
    let snapshot = args.backup.join(&record.history.file);
    match &location {
        Location::Sqlite(target) => restore_sqlite(&snapshot, target)?,
        Location::Postgres(target) => {
            let pg_restore = pg_tool(args.pg_bin.as_deref(), "pg_restore");
            let restored = crate::history::postgres::restore(target, &pg_restore, &snapshot)?;
            if (restored.predictions, restored.labelled)
                != (record.history.predictions, record.history.labelled)
            {
                return Err(CliError::Incomplete(format!(
                    "{} now holds {} predictions ({} labelled), but the backup recorded {} ({} labelled)",
                    location.shown(),
                    restored.predictions,
                    restored.labelled,
                    record.history.predictions,
                    record.history.labelled
                )));
            }
        }
    }
    writeln!(
        out,
        "restored the history ({} predictions, {} labelled, taken {}) to {}",
        record.history.predictions,
        record.history.labelled,
        record.created_at,
        location.shown()
    )?;
    if let Some(snapshot) = &record.registry {
        let registry = Registry::open(&args.registry)?;
        let root = args.backup.join(&snapshot.dir).join("models");
        for file in &snapshot.versions {
            let from = root.join(format!("{}.fem", file.version));
            let bytes = fs::read(&from).map_err(io_at(&from))?;
            write_atomically(&registry.model_path(&file.version)?, &bytes)?;
        }
        if let Some(bytes) = &manifest {
            write_atomically(&registry.dir().join(MANIFEST_FILE), bytes)?;
        }
        writeln!(
            out,
            "restored {} model versions (active {}, shadow {}) to {}; each loaded and passed its golden set",
            snapshot.versions.len(),
            snapshot.active.as_deref().unwrap_or("none"),
            snapshot.shadow.as_deref().unwrap_or("none"),
            registry.dir().display()
        )?;
    }
    Ok(())
}

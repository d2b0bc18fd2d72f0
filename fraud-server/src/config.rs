//! Server configuration: every setting is a flag and most are also an
//! environment variable, named as the deployment plan's Flask app named them.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::history::{HistoryError, Location};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event, for log shippers.
    Json,
}

/// When a prediction is answered relative to its history record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Durability {
    /// Answer only after the record is committed (group commit).
    Commit,
    /// Answer once the record is queued; a crash loses at most the queue.
    Async,
}

/// What the server does while the history cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailurePolicy {
    /// Refuse predictions (503) and report `/ready` 503 until writes work again.
    FailClosed,
    /// Keep answering, mark each unrecorded answer, and report `/ready` degraded.
    FailOpen,
}

/// How hard SQLite pushes each commit to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SyncMode {
    /// WAL with `synchronous=NORMAL`: commits survive a process crash; a
    /// power loss may lose the last ones.
    Normal,
    /// WAL with `synchronous=FULL`: every commit is on the disk before it
    /// is acknowledged, so it also survives a power loss.
    Full,
}

/// Settings for `fraud-server serve` (also the default with no subcommand).
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on. Only loopback by default: pass 0.0.0.0 to listen
    /// on every interface.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one; the chosen address is printed).
    #[arg(long, env = "PORT", default_value_t = 5000)]
    pub port: u16,
    /// Model file to serve. Without it the default model serves: loaded from
    /// `<data-dir>/default-model.fem`, or trained from the synthetic
    /// generator and cached there.
    #[arg(long, env = "MODEL_PATH")]
    pub model: Option<PathBuf>,
    /// When set, every `/api/*` request needs this value in `X-API-Key`.
    #[arg(long, env = "API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Turns the admin API (`/admin/*`: upload, activate, roll back and
    /// shadow models) on; every admin request needs this value in
    /// `X-Admin-Key`. Without it every `/admin/*` address is 404.
    #[arg(long, env = "ADMIN_API_KEY", hide_env_values = true)]
    pub admin_api_key: Option<String>,
    /// The model registry directory (default `<data-dir>/models`): model
    /// files by version and the manifest naming the active and shadow ones.
    #[arg(long, env = "MODEL_REGISTRY")]
    pub registry: Option<PathBuf>,
    /// Transactions in the rolling window `GET /api/drift` compares with
    /// the training data.
    #[arg(long, env = "DRIFT_WINDOW", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub drift_window: u32,
    /// Requests a minute per API key (or per client address without a key);
    /// 0 turns rate limiting off.
    #[arg(long, env = "RATE_LIMIT_PER_MINUTE", default_value_t = 100)]
    pub rate_limit_per_minute: u32,
    /// Comma-separated origins allowed by CORS; empty or `*` allows any
    /// origin (never with credentials).
    #[arg(long, env = "CORS_ORIGINS", default_value = "*")]
    pub cors_origins: String,
    /// Prediction history database: a SQLite file path or `sqlite://PATH`
    /// (default `<data-dir>/history.db`), or `postgres://USER:PASSWORD@HOST:PORT/DB`
    /// (also `postgresql://`) for replicas sharing one history. Any other
    /// scheme, or a database that cannot be reached, stops the start-up.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub history: Option<String>,
    /// Most connections to PostgreSQL from this server (one writes, the
    /// rest read pages); unused with SQLite.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 4)]
    pub database_pool_size: usize,
    /// Proxies whose `X-Forwarded-For` is believed (comma-separated
    /// addresses or CIDR ranges, e.g. `127.0.0.1,10.0.0.0/8`; default none).
    /// A request from one of them is attributed, for rate limits and logs,
    /// to the rightmost address in `X-Forwarded-For` that is not itself a
    /// trusted proxy.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: crate::proxies::TrustedProxies,
    /// Directory for the default model cache and the default history file.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Most transactions in one `POST /api/predict/batch` (more: 413).
    #[arg(long, env = "MAX_BATCH_SIZE", default_value_t = 10_000)]
    pub max_batch: usize,
    /// Largest request body for single requests, in bytes (more: 413).
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: u64,
    /// Largest request body for batch requests, in bytes (more: 413).
    #[arg(long, env = "MAX_BATCH_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_batch_body_bytes: u64,
    /// Pending history writes (requests) before requests wait for the writer.
    #[arg(long, env = "HISTORY_QUEUE", default_value_t = 8192)]
    pub history_queue: usize,
    /// Rows the default model is trained on when no cached one exists.
    #[arg(long, env = "DEFAULT_MODEL_ROWS", default_value_t = 50_000)]
    pub default_model_rows: usize,
    /// `commit`: a prediction is answered only after its history record is
    /// committed. `async`: answered once queued.
    #[arg(long, env = "HISTORY_DURABILITY", value_enum, default_value_t = Durability::Commit)]
    pub history_durability: Durability,
    /// While the history cannot be written: `fail-closed` answers 503,
    /// `fail-open` keeps scoring. Default: fail-closed with `commit`,
    /// fail-open with `async`.
    #[arg(long, env = "HISTORY_FAILURE", value_enum)]
    pub history_failure: Option<FailurePolicy>,
    /// SQLite `synchronous` level: `normal` survives a crash, `full` also a
    /// power loss.
    #[arg(long, env = "HISTORY_SYNC", value_enum, default_value_t = SyncMode::Normal)]
    pub history_sync: SyncMode,
    /// Longest time a client may take to send a request's headers (from the
    /// connection's start, or from the first byte of a later request).
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value = "30s")]
    pub header_read_timeout: humantime::Duration,
    /// Longest wait between two pieces of a request body.
    #[arg(long, env = "BODY_READ_TIMEOUT", default_value = "30s")]
    pub body_read_timeout: humantime::Duration,
    /// How long an idle keep-alive connection stays open (also the longest
    /// wait for a client to read a response).
    #[arg(long, env = "KEEP_ALIVE_TIMEOUT", default_value = "30s")]
    pub keep_alive_timeout: humantime::Duration,
    /// Most open connections. Past it, the oldest idle connection is closed
    /// to make room, or the new one is refused with 503.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Most open connections from one client address (0: no limit).
    #[arg(long, env = "MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 0)]
    pub max_connections_per_address: usize,
}

impl Config {
    /// The defaults, as if no flag or variable were given.
    pub fn defaults() -> Self {
        use clap::{FromArgMatches, Parser};
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            config: Config,
        }
        // Parsing an empty command line cannot fail: every field has a default.
        let matches = <Only as clap::CommandFactory>::command()
            .no_binary_name(true)
            .ignore_errors(true)
            .get_matches_from(Vec::<String>::new());
        match Only::from_arg_matches(&matches) {
            Ok(only) => only.config,
            Err(e) => unreachable!("defaults parse: {e}"),
        }
    }

    /// Where the history is written: `DATABASE_URL` read, or the default
    /// SQLite file in the data directory.
    pub fn history_location(&self) -> Result<Location, HistoryError> {
        match &self.history {
            Some(url) => Location::parse(url),
            None => Ok(Location::Sqlite(self.data_dir.join("history.db"))),
        }
    }

    /// The SQLite file the history is written to, when it is SQLite.
    pub fn history_path(&self) -> Option<PathBuf> {
        match self.history_location() {
            Ok(Location::Sqlite(path)) => Some(path),
            _ => None,
        }
    }

    /// The failure policy in force: the one asked for, else the default for
    /// the durability mode.
    pub fn failure_policy(&self) -> FailurePolicy {
        self.history_failure
            .unwrap_or(match self.history_durability {
                Durability::Commit => FailurePolicy::FailClosed,
                Durability::Async => FailurePolicy::FailOpen,
            })
    }

    /// Where the default model is cached.
    pub fn default_model_path(&self) -> PathBuf {
        self.data_dir.join("default-model.fem")
    }

    /// The model registry directory: the one given, else `models` in the
    /// data directory (so a service whose data directory is elsewhere keeps
    /// its registry beside its history).
    pub fn registry_dir(&self) -> PathBuf {
        self.registry
            .clone()
            .unwrap_or_else(|| self.data_dir.join("models"))
    }

    /// The allowed CORS origins, or `None` for any origin.
    pub fn cors_origin_list(&self) -> Option<Vec<String>> {
        let origins: Vec<String> = self
            .cors_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect();
        if origins.is_empty() || origins.iter().any(|o| o == "*") {
            None
        } else {
            Some(origins)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_ones() {
        let c = Config::defaults();
        assert_eq!(c.port, 5000);
        assert_eq!(c.host.to_string(), "127.0.0.1");
        assert_eq!(c.rate_limit_per_minute, 100);
        assert_eq!(c.max_batch, 10_000);
        assert_eq!(c.history_path(), Some(PathBuf::from("data/history.db")));
        assert_eq!(c.database_pool_size, 4);
        assert!(c.trusted_proxies.is_empty());
        assert_eq!(c.cors_origin_list(), None);
        assert_eq!(c.history_durability, Durability::Commit);
        assert_eq!(c.failure_policy(), FailurePolicy::FailClosed);
        assert_eq!(c.history_sync, SyncMode::Normal);
        assert_eq!(*c.header_read_timeout, std::time::Duration::from_secs(30));
        assert_eq!(*c.body_read_timeout, std::time::Duration::from_secs(30));
        assert_eq!(*c.keep_alive_timeout, std::time::Duration::from_secs(30));
        assert_eq!(c.max_connections, 1024);
        assert_eq!(c.max_connections_per_address, 0);
        assert_eq!(c.registry_dir(), PathBuf::from("data/models"));
        assert_eq!(c.drift_window, 10_000);
        assert_eq!(c.admin_api_key, None);
        let mut a = Config::defaults();
        a.history_durability = Durability::Async;
        assert_eq!(a.failure_policy(), FailurePolicy::FailOpen);
    }

    #[test]
    fn history_urls_and_origins() {
        let mut c = Config::defaults();
        c.history = Some("sqlite:///tmp/h.db".into());
        assert_eq!(c.history_path(), Some(PathBuf::from("/tmp/h.db")));
        c.history = Some("rel/h.db".into());
        assert_eq!(c.history_path(), Some(PathBuf::from("rel/h.db")));
        c.history = Some("sqlite://rel/h.db".into());
        assert_eq!(c.history_path(), Some(PathBuf::from("rel/h.db")));
        c.history = Some("sqlite:h.db".into());
        assert_eq!(c.history_path(), Some(PathBuf::from("h.db")));
        c.history = Some("./odd:name.db".into());
        assert_eq!(c.history_path(), Some(PathBuf::from("./odd:name.db")));
        for url in [
            "postgres://user@127.0.0.1:5432/frauddb",
            "postgresql://user:pass@localhost/frauddb",
            "POSTGRES://user@localhost/frauddb",
        ] {
            c.history = Some(url.into());
            match c.history_location() {
                Ok(Location::Postgres(target)) => {
                    assert!(!target.shown().contains("pass"), "{url}");
                    assert!(target.shown().ends_with("/frauddb"), "{url}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        for (url, says) in [
            ("mysql://user@localhost/frauddb", "unknown scheme `mysql`"),
            (
                "postgress://user@localhost/db",
                "unknown scheme `postgress`",
            ),
            ("redis:6379", "unknown scheme `redis`"),
            ("sqlite://", "no file path"),
            ("", "empty"),
        ] {
            c.history = Some(url.into());
            match c.history_location() {
                Err(e @ HistoryError::Url { .. }) => {
                    assert!(e.to_string().contains(says), "{url}: {e}")
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        c.cors_origins = "https://a.example, https://b.example".into();
        assert_eq!(
            c.cors_origin_list(),
            Some(vec!["https://a.example".into(), "https://b.example".into()])
        );
    }
}

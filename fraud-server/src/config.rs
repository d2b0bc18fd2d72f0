//! Server configuration: every setting is a flag and most are also an
//! environment variable, named as the deployment plan's Flask app named them.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event, for log shippers.
    Json,
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
    /// Requests a minute per API key (or per client address without a key);
    /// 0 turns rate limiting off.
    #[arg(long, env = "RATE_LIMIT_PER_MINUTE", default_value_t = 100)]
    pub rate_limit_per_minute: u32,
    /// Comma-separated origins allowed by CORS; empty or `*` allows any
    /// origin (never with credentials).
    #[arg(long, env = "CORS_ORIGINS", default_value = "*")]
    pub cors_origins: String,
    /// Prediction history database: a SQLite file path or `sqlite://PATH`
    /// (default `<data-dir>/history.db`).
    #[arg(long, env = "DATABASE_URL")]
    pub history: Option<String>,
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

    /// The SQLite file the history is written to.
    pub fn history_path(&self) -> PathBuf {
        match &self.history {
            Some(url) => {
                let path = url
                    .strip_prefix("sqlite://")
                    .or_else(|| url.strip_prefix("sqlite:"))
                    .unwrap_or(url);
                PathBuf::from(path)
            }
            None => self.data_dir.join("history.db"),
        }
    }

    /// Where the default model is cached.
    pub fn default_model_path(&self) -> PathBuf {
        self.data_dir.join("default-model.fem")
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
        assert_eq!(c.history_path(), PathBuf::from("data/history.db"));
        assert_eq!(c.cors_origin_list(), None);
    }

    #[test]
    fn history_urls_and_origins() {
        let mut c = Config::defaults();
        c.history = Some("sqlite:///tmp/h.db".into());
        assert_eq!(c.history_path(), PathBuf::from("/tmp/h.db"));
        c.history = Some("rel/h.db".into());
        assert_eq!(c.history_path(), PathBuf::from("rel/h.db"));
        c.cors_origins = "https://a.example, https://b.example".into();
        assert_eq!(
            c.cors_origin_list(),
            Some(vec!["https://a.example".into(), "https://b.example".into()])
        );
    }
}

//! The `fraud-server` crate: the reference HTTP server (JSON API, web UI,
//! Prometheus metrics, prediction history) and the command-line tool over
//! `fraud-engine`.
//!
//! [`routes`] builds the whole HTTP surface from an [`AppState`] (tests drive
//! it with `warp::test`); [`run`] loads the model, opens the history and
//! serves until SIGTERM or Ctrl-C, then drains requests and flushes the
//! history.

pub mod admin;
pub mod cli;
pub mod config;
pub mod connections;
pub mod dto;
pub mod error;
pub mod feedback;
pub mod filters;
pub mod handlers;
pub mod history;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod proxies;
pub mod registry;
pub mod state;
pub mod ui;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fraud_engine::{Model, TrainParams};
use warp::http::{HeaderValue, Method};
use warp::path::FullPath;
use warp::reply::Response;
use warp::{Filter, Reply};

pub use config::{Config, Durability, FailurePolicy, LogFormat, SyncMode};
pub use connections::ConnectionLimits;
pub use state::{AppState, Lifecycle, Limits, Settings};

use crate::error::{handle_rejection, ErrorKind};
use crate::filters::with_state;
use crate::history::{BackendOptions, History, HistoryError, Policy};
use crate::metrics::Metrics;
use crate::registry::Registry;

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The model file given could not be loaded.
    #[error("cannot load model {}: {source}", path.display())]
    Model {
        /// The file.
        path: PathBuf,
        /// The engine's reason.
        source: fraud_engine::Error,
    },
    /// The prediction history could not be opened or flushed.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// A model the registry names cannot serve, or the registry cannot be
    /// read.
    #[error(transparent)]
    Deploy(#[from] lifecycle::DeployError),
    /// The metrics registry refused a metric (a bug).
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

/// Every endpoint, with CORS, security headers, request logging and metrics.
/// Never fails: every rejection becomes a JSON error response.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    let endpoints = filters::unserved_method(state.clone())
        .and(filters::predict(state.clone()))
        .or(filters::predict_batch(state.clone()))
        .unify()
        .or(filters::model(state.clone()))
        .unify()
        .or(filters::predictions(state.clone()))
        .unify()
        .or(filters::openapi(state.clone()))
        .unify()
        .or(filters::health(state.clone()))
        .unify()
        .or(filters::ready(state.clone()))
        .unify()
        .or(filters::metrics(state.clone()))
        .unify()
        // Model lifecycle: the admin API, the shadow comparison and drift.
        .or(filters::admin(state.clone()))
        .unify()
        .or(filters::shadow(state.clone()))
        .unify()
        .or(filters::drift(state.clone()))
        .unify()
        // Labels and performance (issue 12).
        .or(feedback::feedback_route(state.clone()))
        .unify()
        .or(feedback::performance_route(state.clone()))
        .unify()
        .or(filters::ui())
        .unify()
        .boxed();
    let cors = cors(state.settings().cors_origins.as_deref());
    // Errors are rendered inside CORS, so cross-origin callers can read them;
    // the outer recover catches what CORS itself refuses.
    let served = endpoints
        .recover(handle_rejection)
        .unify()
        .with(cors)
        .map(Reply::into_response)
        .recover(handle_rejection)
        .unify();
    let served = warp::header::optional::<String>("accept")
        .or(warp::any().map(|| None))
        .unify()
        .and(served)
        .map(ui::not_found_for_browsers);
    warp::any()
        .map(Instant::now)
        .and(warp::method())
        .and(warp::path::full())
        .and(
            warp::header::optional::<String>("x-request-id")
                .or(warp::any().map(|| None))
                .unify(),
        )
        .and(filters::remote())
        .and(
            filters::client(state.clone())
                .or(warp::any().map(|| None))
                .unify(),
        )
        .and(with_state(state))
        .and(served)
        .map(finish)
}

fn cors(origins: Option<&[String]>) -> warp::filters::cors::Cors {
    let builder = warp::cors()
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(["content-type", "x-api-key", "x-request-id"])
        .expose_headers(["x-request-id", "retry-after"])
        .max_age(600);
    match origins {
        Some(list) => builder.allow_origins(list.iter().map(String::as_str)),
        None => builder.allow_any_origin(),
    }
    .build()
}

/// What warp's CORS filter leaves to us: with any origin allowed, the
/// literal `*` (warp echoes the caller's origin, `null` included); with an
/// allow-list, `Vary: Origin` on every response, so a cache never serves one
/// origin's answer to another.
fn cors_origin_headers(headers: &mut warp::http::HeaderMap, allow_list: bool) {
    use warp::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, VARY};
    if allow_list {
        let varies = headers.get_all(VARY).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.to_ascii_lowercase().contains("origin"))
        });
        if !varies {
            headers.append(VARY, HeaderValue::from_static("Origin"));
        }
    } else if headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN) {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
}

/// Request id, security headers, metrics and the request log line.
// warp hands each extracted value to the function as its own argument.
#[allow(clippy::too_many_arguments)]
fn finish(
    started: Instant,
    method: Method,
    path: FullPath,
    given_id: Option<String>,
    remote: Option<SocketAddr>,
    client: Option<std::net::IpAddr>,
    state: AppState,
    mut response: Response,
) -> Response {
    let route = metrics::route_label(path.as_str());
    let status = response.status().as_u16();
    let headers = response.headers_mut();
    let request_id = match headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
        Some(id) => id.to_owned(),
        None => {
            let id = given_id
                .filter(|id| filters::valid_request_id(id))
                .unwrap_or_else(|| state.next_request_id());
            if let Ok(value) = HeaderValue::from_str(&id) {
                headers.insert("x-request-id", value);
            }
            id
        }
    };
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(ui::CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    cors_origin_headers(headers, state.settings().cors_origins.is_some());
    let elapsed = started.elapsed();
    state
        .metrics()
        .request(route, method.as_str(), status, elapsed.as_secs_f64());
    if let Some(ErrorKind(kind)) = response.extensions().get::<ErrorKind>() {
        state.metrics().error(kind);
    }
    tracing::info!(
        target: "fraud_server::request",
        method = %method,
        route,
        path = path.as_str(),
        status,
        latency_us = elapsed.as_micros() as u64,
        request_id = %request_id,
        client = %client.map_or_else(|| "-".to_owned(), |a| a.to_string()),
        peer = %remote.map_or_else(|| "-".to_owned(), |a| a.ip().to_string()),
    );
    response
}

/// Sets up `tracing` output to stderr (level from `RUST_LOG`, default info).
/// Lines go through a background writer that writes them out every few
/// milliseconds (see [`logging`]); nothing is dropped (a full buffer makes
/// the logger wait). Keep the returned guard alive until exit: dropping it
/// writes out what is left. `None` if a subscriber was already installed, or
/// if the writer's thread could not start (said on stderr).
pub fn init_logging(format: LogFormat) -> Option<logging::LogGuard> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = match logging::spawn(std::io::stderr()) {
        Ok(started) => started,
        Err(e) => {
            eprintln!(
                "error: cannot start the log writer's thread, so nothing will be logged: {e}"
            );
            return None;
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(writer);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.ok().map(|()| guard)
}

/// Loads the cached default model, or trains it from the synthetic generator
/// and caches it. A cache that fails to load is replaced.
pub fn load_or_train_default(path: &Path, rows: usize) -> Result<Model, fraud_engine::Error> {
    if path.exists() {
        match Model::load(path) {
            Ok(model) => {
                tracing::info!(path = %path.display(), model_version = %model.metadata().model_id, "loaded the cached default model");
                return Ok(model);
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cached default model unusable; training a new one")
            }
        }
    }
    let started = Instant::now();
    tracing::info!(rows, "training the default model on synthetic transactions");
    let data = fraud_engine::synth::generate(rows, 42);
    let model = fraud_engine::train(&data, &TrainParams::default())?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        model_version = %model.metadata().model_id,
        "trained the default model"
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = model.save(path) {
        tracing::warn!(path = %path.display(), error = %e, "cannot cache the default model; it will be trained again next start");
    }
    Ok(model)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; Ctrl-C still stops the server");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down: finishing requests and flushing the history");
}

/// On SIGHUP, re-reads the `--model` file (if any) and the registry's
/// manifest and serves what they name (see [`lifecycle`]); a model that
/// fails leaves the serving one in place.
#[cfg(unix)]
async fn reload_on_hangup(state: AppState, path: Option<PathBuf>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("cannot watch SIGHUP; model reload is off");
        return;
    };
    while hup.recv().await.is_some() {
        lifecycle::reload(&state, path.as_deref()).await;
    }
}

/// Serves until SIGTERM or Ctrl-C, then stops accepting, finishes in-flight
/// requests and flushes the history. Prints `listening on http://ADDR` on
/// stdout once bound (with `--port 0`, the port chosen).
pub async fn run(config: Config) -> Result<(), ServerError> {
    let _log_guard = init_logging(config.log_format);
    let metrics = Metrics::new()?;
    let location = config.history_location()?;
    let policy = Policy {
        queue: config.history_queue,
        durability: config.history_durability,
        failure: config.failure_policy(),
    };
    let options = BackendOptions {
        sync: config.history_sync,
        pool_size: config.database_pool_size,
    };
    tracing::info!(history = %location.shown(), "opening the prediction history");
    // Opening connects and migrates, which blocks: off the async threads.
    let opening = metrics.clone();
    let history = tokio::task::spawn_blocking(move || {
        History::open_location(&location, policy, options, opening)
    })
    .await
    .map_err(|e| ServerError::Runtime(std::io::Error::other(e)))??;
    let registry_dir = config.registry_dir();
    let registry = tokio::task::spawn_blocking(move || Registry::open(registry_dir))
        .await
        .map_err(|e| ServerError::Runtime(std::io::Error::other(e)))?
        .map_err(lifecycle::DeployError::from)?;
    tracing::info!(registry = %registry.dir().display(), "opened the model registry");
    let state = AppState::with_lifecycle(
        history.clone(),
        metrics,
        Settings::from_config(&config),
        Lifecycle {
            registry: Some(registry.clone()),
            drift_window: config.drift_window as usize,
        },
    );

    // The start-up rule (see `lifecycle`): the --model file when it changed,
    // else what the manifest names. Anything named that cannot serve stops
    // the start-up, saying which version and why.
    let model_path = config.model.clone();
    let file = model_path.clone();
    let planning = state.clone();
    let deploying = registry.clone();
    let plan = tokio::task::spawn_blocking(move || {
        if let Some(path) = &file {
            if let Some(version) = lifecycle::deploy_model_file(&deploying, path, "startup")? {
                tracing::info!(path = %path.display(), model_version = %version, "activated the model file");
            }
        }
        let manifest = deploying.manifest()?;
        lifecycle::plan(&deploying, &manifest, &planning, Vec::new())
    })
    .await
    .map_err(|e| ServerError::Runtime(std::io::Error::other(e)))?
    .map_err(|e| match e {
        lifecycle::DeployError::File { path, source } => ServerError::Model { path, source },
        other => ServerError::Deploy(other),
    })?;
    lifecycle::apply(&state, plan)?;
    match state.model() {
        Some(serving) => {
            tracing::info!(model_version = %serving.version, "loaded the model from the registry")
        }
        None => {
            let path = config.default_model_path();
            let rows = config.default_model_rows;
            let loading = state.clone();
            // In the background, so /health and /ready answer while it trains.
            tokio::spawn(async move {
                let trained = tokio::task::spawn_blocking(move || {
                    let model = load_or_train_default(&path, rows)?;
                    // The registry records the default model like any other,
                    // so later activations can roll back to it.
                    if let Err(e) = registry
                        .add(&model)
                        .and_then(|()| registry.activate(model.version(), "startup").map(|_| ()))
                    {
                        tracing::error!(error = %e, "cannot record the default model in the registry; it serves anyway");
                    }
                    Ok::<_, fraud_engine::Error>(model)
                })
                .await;
                match trained {
                    Ok(Ok(model)) => {
                        if let Err(e) = loading.set_model(model) {
                            tracing::error!(error = %e, "cannot serve the default model; /ready stays 503")
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "cannot build the default model; /ready stays 503")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "default model task failed; /ready stays 503")
                    }
                }
            });
        }
    }

    let addr = SocketAddr::new(config.host, config.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "fraud-server listening on http://{local}");
        let _ = out.flush();
    }
    tracing::info!(address = %local, "listening");

    let pruning = state.clone();
    let pruner = tokio::spawn(async move {
        let mut tick = tokio::time::interval(state::PRUNE_EVERY);
        loop {
            tick.tick().await;
            let kept = pruning.prune_rate_limits();
            tracing::debug!(kept, "pruned idle rate-limit buckets");
        }
    });
    #[cfg(unix)]
    let reloader = tokio::spawn(reload_on_hangup(state.clone(), model_path));
    #[cfg(not(unix))]
    let _ = model_path;

    let limits = ConnectionLimits::from_config(&config);
    let metrics = state.metrics().clone();
    connections::serve(listener, routes(state), limits, metrics, shutdown_signal()).await;

    pruner.abort();
    #[cfg(unix)]
    reloader.abort();
    history.close().await?;
    tracing::info!("stopped; the history is flushed");
    Ok(())
}

/// Runs [`run`] on a new multi-threaded runtime (what `main` calls).
pub fn serve(config: Config) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServerError::Runtime)?;
    let result = runtime.block_on(run(config));
    // A default model still training must not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

//! The state every request shares: the serving model, the history, metrics,
//! the rate limiter and the API key. Cheap to clone (one `Arc`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use fraud_engine::drift::Window;
use fraud_engine::Model;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::history::History;
use crate::metrics::Metrics;
use crate::registry::Registry;

/// Transactions in a drift window when nothing else is configured.
pub const DEFAULT_DRIFT_WINDOW: usize = 10_000;

/// A model ready to serve, with what the API says about it precomputed.
#[derive(Debug)]
pub struct LoadedModel {
    /// The model.
    pub model: Model,
    /// `metadata.model_id`, shared by every response and history record.
    pub version: Arc<str>,
    /// The `GET /api/model` body.
    pub info: bytes::Bytes,
    /// Whether an `explain` key in a transaction asks for explanations.
    /// False when the model has a feature of that name: the key is then
    /// that feature's value, and only `?explain=true` asks.
    pub explain_key_is_option: bool,
    /// The latest transactions this model scored, counted into its
    /// training reference's bins (`GET /api/drift`). Each model has its
    /// own, so activating another model starts a fresh window.
    pub drift: Mutex<Window>,
}

impl LoadedModel {
    /// Wraps a model, rendering its description once, with a drift window
    /// of the default size.
    pub fn new(model: Model) -> Result<Self, fraud_engine::Error> {
        Self::with_drift_window(model, DEFAULT_DRIFT_WINDOW)
    }

    /// Wraps a model with a drift window of `capacity` transactions.
    pub fn with_drift_window(model: Model, capacity: usize) -> Result<Self, fraud_engine::Error> {
        let info = serde_json::to_vec(&model.summary()).map_err(|e| {
            fraud_engine::Error::Serialization {
                what: "model summary",
                reason: e.to_string(),
            }
        })?;
        Ok(LoadedModel {
            version: Arc::from(model.version()),
            info: bytes::Bytes::from(info),
            explain_key_is_option: !model
                .schema()
                .features
                .iter()
                .any(|f| f.name == crate::handlers::EXPLAIN),
            drift: Mutex::new(Window::new(&model, capacity)),
            model,
        })
    }

    /// Counts scored transactions (each as [`Model::drift_bins`] gives it)
    /// into the drift window. The lock is held only for the counting.
    pub fn observe_drift<'b>(&self, bins: impl IntoIterator<Item = &'b [u16]>) {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut window = self
            .drift
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for b in bins {
            window.observe(b, at);
        }
    }
}

/// Size limits applied to requests.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest body of a single request, in bytes.
    pub body_bytes: u64,
    /// Largest body of a batch request, in bytes.
    pub batch_body_bytes: u64,
    /// Most transactions in one batch.
    pub max_batch: usize,
}

/// The request policy: API key, rate limit, CORS and size limits.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Required `X-API-Key` value for `/api/*`, if any.
    pub api_key: Option<String>,
    /// Requests a minute per key or client; 0 = unlimited.
    pub rate_limit_per_minute: u32,
    /// Allowed CORS origins; `None` = any.
    pub cors_origins: Option<Vec<String>>,
    /// Size limits.
    pub limits: Limits,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::proxies::TrustedProxies,
    /// Required `X-Admin-Key` value for `/admin/*`; `None` turns the admin
    /// API off (every `/admin/*` address is 404).
    pub admin_key: Option<String>,
}

impl Settings {
    /// The policy a configuration asks for.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Settings {
            api_key: config.api_key.clone().filter(|k| !k.is_empty()),
            rate_limit_per_minute: config.rate_limit_per_minute,
            cors_origins: config.cors_origin_list(),
            limits: Limits {
                body_bytes: config.max_body_bytes,
                batch_body_bytes: config.max_batch_body_bytes,
                max_batch: config.max_batch,
            },
            trusted_proxies: config.trusted_proxies.clone(),
            admin_key: config.admin_api_key.clone().filter(|k| !k.is_empty()),
        }
    }
}

/// What the server needs to manage models, beyond serving one: the
/// registry and the size of each model's drift window.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    /// The model registry; without one the admin API answers 503.
    pub registry: Option<Registry>,
    /// Transactions in each model's drift window.
    pub drift_window: usize,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            registry: None,
            drift_window: DEFAULT_DRIFT_WINDOW,
        }
    }
}

/// Who a rate-limit bucket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// Callers presenting a valid API key (by its digest, never the key itself).
    ApiKey([u8; 32]),
    /// Callers by address.
    Client(IpAddr),
    /// Requests with no known address (in-process tests).
    Unknown,
}

struct Inner {
    model: ArcSwapOption<LoadedModel>,
    shadow: ArcSwapOption<LoadedModel>,
    lifecycle: Lifecycle,
    /// Held while the serving models change (admin API, SIGHUP), so the
    /// models in memory follow the manifest's changes in their order.
    changing: tokio::sync::Mutex<()>,
    admin_key: Option<[u8; 32]>,
    history: History,
    metrics: Metrics,
    limiter: Option<DefaultKeyedRateLimiter<RateKey>>,
    api_key: Option<[u8; 32]>,
    settings: Settings,
    request_ids: AtomicU64,
    boot: u32,
}

/// The shared state of the server.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl AppState {
    /// State with no model loaded yet, no registry and drift windows of the
    /// default size.
    pub fn new(history: History, metrics: Metrics, settings: Settings) -> Self {
        Self::with_lifecycle(history, metrics, settings, Lifecycle::default())
    }

    /// State with no model loaded yet, managing models with `lifecycle`.
    pub fn with_lifecycle(
        history: History,
        metrics: Metrics,
        settings: Settings,
        lifecycle: Lifecycle,
    ) -> Self {
        let limiter = NonZeroU32::new(settings.rate_limit_per_minute)
            .map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
        AppState {
            inner: Arc::new(Inner {
                model: ArcSwapOption::empty(),
                shadow: ArcSwapOption::empty(),
                lifecycle,
                changing: tokio::sync::Mutex::new(()),
                admin_key: settings
                    .admin_key
                    .as_deref()
                    .filter(|k| !k.is_empty())
                    .map(digest),
                history,
                metrics,
                limiter,
                api_key: settings
                    .api_key
                    .as_deref()
                    .filter(|k| !k.is_empty())
                    .map(digest),
                settings,
                request_ids: AtomicU64::new(1),
                boot,
            }),
        }
    }

    /// The serving model, if one is loaded.
    pub fn model(&self) -> Option<Arc<LoadedModel>> {
        self.inner.model.load_full()
    }

    /// Puts `model` in service; requests already scoring finish on the old
    /// one. A model that cannot be described is refused and the serving one
    /// stays.
    pub fn set_model(&self, model: Model) -> Result<(), fraud_engine::Error> {
        let loaded = LoadedModel::with_drift_window(model, self.inner.lifecycle.drift_window)?;
        self.inner
            .metrics
            .set_model(&loaded.version, &loaded.model.metadata().engine_version);
        self.inner.model.store(Some(Arc::new(loaded)));
        Ok(())
    }

    /// The shadow model, if one is set: it scores every transaction the
    /// serving model scores, for the history only.
    pub fn shadow(&self) -> Option<Arc<LoadedModel>> {
        self.inner.shadow.load_full()
    }

    /// Sets (`Some`) or removes (`None`) the shadow model.
    pub fn set_shadow(&self, model: Option<Model>) -> Result<(), fraud_engine::Error> {
        let loaded = match model {
            // The shadow's window is never reported: the smallest will do.
            Some(model) => Some(Arc::new(LoadedModel::with_drift_window(model, 1)?)),
            None => None,
        };
        self.inner.shadow.store(loaded);
        Ok(())
    }

    /// The model registry, when the server has one.
    pub fn registry(&self) -> Option<&Registry> {
        self.inner.lifecycle.registry.as_ref()
    }

    /// Transactions in each model's drift window.
    pub fn drift_window(&self) -> usize {
        self.inner.lifecycle.drift_window
    }

    /// Held while the serving models change.
    pub fn changing(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.changing
    }

    /// Checks `X-Admin-Key`: 404 while the admin API is off, 401 for a
    /// missing or wrong key. Never rate-limited.
    pub fn admit_admin(&self, presented: Option<&str>) -> Result<(), ApiError> {
        let Some(expected) = self.inner.admin_key else {
            return Err(ApiError::NotFound);
        };
        // Hashed first, as the API key is, so the comparison takes the
        // same time whatever the presented key.
        let given = digest(presented.unwrap_or(""));
        if !bool::from(given.ct_eq(&expected)) || presented.is_none() {
            return Err(ApiError::AdminUnauthorized);
        }
        Ok(())
    }

    /// The history.
    pub fn history(&self) -> &History {
        &self.inner.history
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Request limits.
    pub fn limits(&self) -> Limits {
        self.inner.settings.limits
    }

    /// The request policy.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// A new request id, unique within this process and unlikely to repeat
    /// across restarts.
    pub fn next_request_id(&self) -> String {
        let n = self.inner.request_ids.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}-{n:010}", self.inner.boot)
    }

    /// Checks the API key (when one is configured) and the rate limit.
    pub fn admit(&self, presented: Option<&str>, client: Option<IpAddr>) -> Result<(), ApiError> {
        let key = match self.inner.api_key {
            Some(expected) => {
                // Both sides are hashed to 32 bytes first, so the comparison
                // takes the same time whatever the presented key's length or
                // content.
                let given = digest(presented.unwrap_or(""));
                if !bool::from(given.ct_eq(&expected)) || presented.is_none() {
                    return Err(ApiError::Unauthorized);
                }
                RateKey::ApiKey(given)
            }
            None => client.map_or(RateKey::Unknown, RateKey::Client),
        };
        if let Some(limiter) = &self.inner.limiter {
            if let Err(not_until) = limiter.check_key(&key) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                return Err(ApiError::RateLimited {
                    retry_after_secs: secs.max(1),
                });
            }
        }
        Ok(())
    }

    /// Forgets rate-limit buckets that are full again (idle clients), so
    /// memory stays bounded by the clients of the last minute.
    pub fn prune_rate_limits(&self) -> usize {
        match &self.inner.limiter {
            Some(limiter) => {
                limiter.retain_recent();
                limiter.shrink_to_fit();
                limiter.len()
            }
            None => 0,
        }
    }
}

/// How often idle rate-limit buckets are pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    /// Removes the test's history directory when the test ends.
    struct Cleanup(std::path::PathBuf);

    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn state(key: Option<&str>, per_minute: u32) -> (AppState, Cleanup) {
        let dir = std::env::temp_dir().join(format!(
            "fraud-state-{}-{per_minute}-{}",
            std::process::id(),
            key.unwrap_or("none")
        ));
        let metrics = Metrics::new().expect("metrics");
        let history = History::open(&dir.join("h.db"), 8, metrics.clone()).expect("history");
        let state = AppState::new(
            history,
            metrics,
            Settings {
                api_key: key.map(str::to_owned),
                rate_limit_per_minute: per_minute,
                cors_origins: None,
                limits: Limits {
                    body_bytes: 1024,
                    batch_body_bytes: 4096,
                    max_batch: 10,
                },
                trusted_proxies: Default::default(),
                admin_key: Some("admin-secret".into()),
            },
        );
        (state, Cleanup(dir))
    }

    #[test]
    fn api_key_is_required_and_checked() {
        let (s, _dir) = state(Some("secret"), 0);
        assert_eq!(s.admit(None, None), Err(ApiError::Unauthorized));
        assert_eq!(s.admit(Some("secreT"), None), Err(ApiError::Unauthorized));
        assert_eq!(s.admit(Some(""), None), Err(ApiError::Unauthorized));
        assert_eq!(s.admit(Some("secret"), None), Ok(()));
        // The admin key is another key: neither opens the other's door.
        assert_eq!(
            s.admit(Some("admin-secret"), None),
            Err(ApiError::Unauthorized)
        );
        assert_eq!(
            s.admit_admin(Some("secret")),
            Err(ApiError::AdminUnauthorized)
        );
        assert_eq!(s.admit_admin(None), Err(ApiError::AdminUnauthorized));
        assert_eq!(s.admit_admin(Some("admin-secret")), Ok(()));
    }

    #[test]
    fn rate_limit_is_per_client_and_pruned() {
        let (s, _dir) = state(None, 3);
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        for _ in 0..3 {
            assert_eq!(s.admit(None, Some(a)), Ok(()));
        }
        match s.admit(None, Some(a)) {
            Err(ApiError::RateLimited { retry_after_secs }) => {
                assert!((1..=20).contains(&retry_after_secs), "{retry_after_secs}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.admit(None, Some(b)), Ok(()));
        // Both buckets were used in the last minute, so both are kept.
        assert_eq!(s.prune_rate_limits(), 2);
    }
}

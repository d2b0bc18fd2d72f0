//! Prometheus metrics: requests, latency, predictions, errors, the model
//! version, the history writer, and this process's memory and CPU.

use fraud_engine::RiskLevel;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The server's metrics, registered in their own registry (so tests can
/// build several servers in one process).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// `fraud_predictions_total`'s six series (LOW, MEDIUM, HIGH by decision
    /// 0, 1), looked up once: counting a prediction is then one atomic add,
    /// without hashing its labels.
    prediction_series: [[IntCounter; 2]; 3],
    errors: IntCounterVec,
    model_info: IntGaugeVec,
    /// Predictions written to the history database.
    pub history_written: IntCounter,
    /// Predictions the history writer failed to store (each also logged).
    pub history_failed: IntCounter,
    /// Requests waiting in the history queue.
    pub history_queue: IntGauge,
    /// 1 while the history can be written, 0 while writes fail.
    pub history_writable: IntGauge,
    connections_open: IntGauge,
    connections_closed: IntCounterVec,
    feature_psi: GaugeVec,
    score_psi: GaugeVec,
}

/// Every route the server answers (besides `/static/*`): the metric labels,
/// and what the OpenAPI description must cover.
pub const ROUTES: [&str; 18] = [
    "/api/predict",
    "/api/predict/batch",
    "/api/model",
    "/api/predictions",
    "/api/openapi.json",
    // Labels and performance (issue 12).
    "/api/feedback",
    "/api/performance",
    "/health",
    "/ready",
    "/metrics",
    "/",
    // Model lifecycle.
    "/api/shadow",
    "/api/drift",
    "/admin/models",
    "/admin/models/{version}/activate",
    "/admin/models/{version}/shadow",
    "/admin/rollback",
    "/admin/shadow",
];

/// Routes as metric labels: a fixed set, so a client cannot grow the label space.
pub fn route_label(path: &str) -> &'static str {
    if let Some(route) = ROUTES.iter().find(|r| **r == path) {
        return route;
    }
    // A route with a version in it is labelled by its pattern.
    if let Some(rest) = path.strip_prefix("/admin/models/") {
        match rest.split_once('/') {
            Some((_, "activate")) => return "/admin/models/{version}/activate",
            Some((_, "shadow")) => return "/admin/models/{version}/shadow",
            _ => {}
        }
    }
    if path.starts_with("/static/") {
        "/static"
    } else {
        "other"
    }
}

/// HTTP methods kept as metric labels; any other method is `other`.
pub const METHODS: [&str; 9] = [
    "GET", "POST", "OPTIONS", "HEAD", "PUT", "DELETE", "PATCH", "CONNECT", "TRACE",
];

/// A method as a metric label: one of [`METHODS`], or `other`.
pub fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

/// Why a client connection ended: the fixed label set of
/// `fraud_connections_closed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEnd {
    /// The client or the server closed it after complete exchanges.
    Closed,
    /// The client went away in the middle of a request or response.
    ClientGone,
    /// No complete request head within the header read timeout.
    HeaderTimeout,
    /// Idle (or not reading a response) past the keep-alive timeout.
    IdleTimeout,
    /// A request body stalled past the body read timeout.
    BodyTimeout,
    /// Closed to make room for a new connection at the connection limit.
    Evicted,
    /// Refused: the connection limit was reached and nothing could be closed.
    RefusedLimit,
    /// Refused: the client address had its most connections open.
    RefusedPerAddress,
    /// The client sent something that is not HTTP.
    ProtocolError,
    /// Ended by a server shutdown.
    Shutdown,
}

impl ConnectionEnd {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            ConnectionEnd::Closed => "closed",
            ConnectionEnd::ClientGone => "client_gone",
            ConnectionEnd::HeaderTimeout => "header_timeout",
            ConnectionEnd::IdleTimeout => "idle_timeout",
            ConnectionEnd::BodyTimeout => "body_timeout",
            ConnectionEnd::Evicted => "evicted",
            ConnectionEnd::RefusedLimit => "refused_limit",
            ConnectionEnd::RefusedPerAddress => "refused_per_address",
            ConnectionEnd::ProtocolError => "protocol_error",
            ConnectionEnd::Shutdown => "shutdown",
        }
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from request to response, by route",
            )
            .buckets(vec![
                0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05,
                0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["route"],
        )?;
        let predictions = IntCounterVec::new(
            Opts::new(
                "fraud_predictions_total",
                "Transactions scored, by risk level and decision",
            ),
            &["risk_level", "is_fraud"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new("fraud_api_errors_total", "Error responses by kind"),
            &["kind"],
        )?;
        let model_info = IntGaugeVec::new(
            Opts::new("fraud_model_info", "The serving model (value 1)"),
            &["model_version", "engine_version"],
        )?;
        let history_written = IntCounter::new(
            "fraud_history_written_total",
            "Predictions written to the history database",
        )?;
        let history_failed = IntCounter::new(
            "fraud_history_failed_total",
            "Predictions the history writer could not store",
        )?;
        let history_queue = IntGauge::new(
            "fraud_history_queue_requests",
            "Requests whose predictions wait to be written",
        )?;
        let history_writable = IntGauge::new(
            "fraud_history_writable",
            "1 while the history can be written, 0 while writes fail",
        )?;
        let connections_open =
            IntGauge::new("fraud_connections_open", "Client connections open now")?;
        let connections_closed = IntCounterVec::new(
            Opts::new(
                "fraud_connections_closed_total",
                "Client connections ended, by why (refused ones included)",
            ),
            &["reason"],
        )?;
        let feature_psi = GaugeVec::new(
            Opts::new(
                "fraud_feature_psi",
                "Population stability index of each feature over the drift window, against the serving model's training data",
            ),
            &["feature", "model_version"],
        )?;
        let score_psi = GaugeVec::new(
            Opts::new(
                "fraud_score_psi",
                "Population stability index of the serving model's score over the drift window",
            ),
            &["model_version"],
        )?;
        registry.register(Box::new(feature_psi.clone()))?;
        registry.register(Box::new(score_psi.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(predictions.clone()))?;
        let by_decision = |level: &str| -> Result<[IntCounter; 2], prometheus::Error> {
            Ok([
                predictions.get_metric_with_label_values(&[level, "0"])?,
                predictions.get_metric_with_label_values(&[level, "1"])?,
            ])
        };
        // In the order `prediction` indexes them.
        let prediction_series = [
            by_decision(RiskLevel::Low.as_str())?,
            by_decision(RiskLevel::Medium.as_str())?,
            by_decision(RiskLevel::High.as_str())?,
        ];
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(model_info.clone()))?;
        registry.register(Box::new(history_written.clone()))?;
        registry.register(Box::new(history_failed.clone()))?;
        registry.register(Box::new(history_queue.clone()))?;
        registry.register(Box::new(history_writable.clone()))?;
        registry.register(Box::new(connections_open.clone()))?;
        registry.register(Box::new(connections_closed.clone()))?;
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            prediction_series,
            errors,
            model_info,
            history_written,
            history_failed,
            history_queue,
            history_writable,
            connections_open,
            connections_closed,
            feature_psi,
            score_psi,
        })
    }

    /// Counts one finished request. `method` is folded to a fixed set
    /// (anything else is `other`), so a client cannot grow the label space.
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let code = itoa_status(status);
        let status = std::str::from_utf8(&code).unwrap_or("000");
        self.requests
            .with_label_values(&[route, method_label(method), status])
            .inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    /// Counts a connection opened.
    pub fn connection_opened(&self) {
        self.connections_open.inc();
    }

    /// Counts a connection ended (`was_open`: it had been counted open).
    pub fn connection_ended(&self, end: ConnectionEnd, was_open: bool) {
        if was_open {
            self.connections_open.dec();
        }
        self.connections_closed
            .with_label_values(&[end.label()])
            .inc();
    }

    /// Counts one prediction.
    pub fn prediction(&self, risk_level: RiskLevel, is_fraud: bool) {
        let level = match risk_level {
            RiskLevel::Low => 0,
            RiskLevel::Medium => 1,
            RiskLevel::High => 2,
        };
        self.prediction_series[level][usize::from(is_fraud)].inc();
    }

    /// Counts one error response.
    pub fn error(&self, kind: &str) {
        self.errors.with_label_values(&[kind]).inc();
    }

    /// Records which model serves.
    pub fn set_model(&self, model_version: &str, engine_version: &str) {
        self.model_info.reset();
        self.model_info
            .with_label_values(&[model_version, engine_version])
            .set(1);
    }

    /// Records the serving model's drift; `None` (an empty window) removes
    /// the figures, which mean nothing without transactions.
    pub fn set_drift(
        &self,
        model_version: &str,
        report: Option<&fraud_engine::drift::DriftReport>,
    ) {
        self.feature_psi.reset();
        self.score_psi.reset();
        let Some(report) = report else {
            return;
        };
        for psi in &report.features {
            self.feature_psi
                .with_label_values(&[psi.feature.as_str(), model_version])
                .set(psi.psi);
        }
        self.score_psi
            .with_label_values(&[model_version])
            .set(report.score.psi);
    }

    /// The text exposition format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        String::from_utf8(buf).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

fn itoa_status(status: u16) -> [u8; 3] {
    let s = status.min(999);
    [
        b'0' + (s / 100) as u8,
        b'0' + (s / 10 % 10) as u8,
        b'0' + (s % 10) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_counted() {
        let m = Metrics::new().expect("metrics");
        m.request("/api/predict", "POST", 200, 0.001);
        m.prediction(RiskLevel::High, true);
        m.error("invalid_fields");
        m.set_model("abc", "0.1.0");
        let text = m.render().expect("render");
        assert!(text
            .contains(r#"http_requests_total{method="POST",route="/api/predict",status="200"} 1"#));
        assert!(text.contains(r#"fraud_predictions_total{is_fraud="1",risk_level="HIGH"} 1"#));
        assert!(text.contains(r#"fraud_api_errors_total{kind="invalid_fields"} 1"#));
        assert!(text.contains(r#"fraud_model_info{engine_version="0.1.0",model_version="abc"} 1"#));
        assert_eq!(route_label("/api/../etc"), "other");
        assert_eq!(
            route_label("/admin/models/0123456789abcdef/activate"),
            "/admin/models/{version}/activate"
        );
        assert_eq!(route_label("/admin/models/x/other"), "other");
        m.request("/api/predict", "XYZZY", 405, 0.001);
        m.request("/api/predict", "get", 405, 0.001);
        let text = m.render().expect("render");
        assert!(
            text.contains(
                r#"http_requests_total{method="other",route="/api/predict",status="405"} 2"#
            ),
            "{text}"
        );
    }
}

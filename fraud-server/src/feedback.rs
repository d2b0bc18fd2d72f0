//! Labels and performance (issue 12): `POST /api/feedback` attaches the
//! true class learnt later (a chargeback, an analyst's review) to stored
//! predictions, and `GET /api/performance` measures the live and shadow
//! models on the labelled history, by day. The `label` command reads the
//! same labels from a CSV through [`parse_label_object`]'s rules.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use fraud_engine::json::{Json, Object};
use fraud_engine::lifecycle::{daily_performance, DailyPerformance, LabelledPrediction};
use fraud_engine::Decision;
use serde::Serialize;
use sha2::{Digest, Sha256};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::error::{ApiError, FieldError};
use crate::filters::with_state;
use crate::filters::{api_guard, client, declared_length_within, json_body, json_content_type};
use crate::history::{Label, LabelKey, LabelOutcome, LabelledQuery, Record};
use crate::state::AppState;

/// Longest `labelled_by` accepted, in characters.
pub const MAX_LABELLED_BY: usize = 200;

/// Longest id accepted, in characters (ids are stored as given).
const MAX_ID: usize = 256;

fn reject(e: ApiError) -> Rejection {
    warp::reject::custom(e)
}

/// Who a label is from when the body does not say: the API key's holder
/// (by a short digest of the key, never the key) or else the client's
/// address.
pub fn default_labeller(api_key: Option<&str>, client: Option<IpAddr>) -> String {
    match (api_key, client) {
        (Some(key), _) => {
            let digest = Sha256::digest(key.as_bytes());
            let short: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
            format!("api-key:{short}")
        }
        (None, Some(ip)) => ip.to_string(),
        (None, None) => "unknown".into(),
    }
}

/// A text id: a string, or a number as written (as the history stores a
/// numeric `transaction_id`).
fn id_value(value: &Json<'_>, field: &str) -> Result<String, FieldError> {
    let text = match value {
        Json::String(s) => s.to_string(),
        Json::Number(_, text) => (*text).to_owned(),
        other => {
            return Err(FieldError::new(
                field,
                format!("expected a string or a number, got {}", other.type_name()),
            ))
        }
    };
    storable_text(text, field, MAX_ID)
}

/// `text` when the history can store it: not empty, no NUL character, at
/// most `max` characters.
fn storable_text(text: String, field: &str, max: usize) -> Result<String, FieldError> {
    if text.is_empty() {
        return Err(FieldError::new(field, "is empty"));
    }
    if text.contains('\0') {
        return Err(FieldError::new(
            field,
            "contains the NUL character (U+0000), which the history cannot store",
        ));
    }
    if text.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("is longer than {max} characters"),
        ));
    }
    Ok(text)
}

/// Checks a `labelled_by` value (from a body or a CSV).
pub fn check_labelled_by(text: &str, field: &str) -> Result<String, FieldError> {
    let text = text.trim();
    storable_text(text.to_owned(), field, MAX_LABELLED_BY)
}

/// Reads one label object: `transaction_id` or `request_id` (one of
/// them), `is_fraud` (0 or 1, or true/false), and optionally
/// `labelled_by`. Every bad field is reported, named with `prefix`.
pub fn parse_label_object(
    object: &Object<'_>,
    prefix: &str,
    default_by: &str,
    at: &str,
) -> Result<Label, Vec<FieldError>> {
    let mut problems = Vec::new();
    let present = |name: &str| object.get(name).filter(|v| **v != Json::Null);
    let key = match (present("transaction_id"), present("request_id")) {
        (Some(id), None) => id_value(id, &format!("{prefix}transaction_id"))
            .map(LabelKey::TransactionId)
            .map_err(|e| problems.push(e))
            .ok(),
        (None, Some(id)) => id_value(id, &format!("{prefix}request_id"))
            .map(LabelKey::RequestId)
            .map_err(|e| problems.push(e))
            .ok(),
        (Some(_), Some(_)) => {
            problems.push(FieldError::new(
                format!("{prefix}request_id"),
                "give transaction_id or request_id, not both",
            ));
            None
        }
        (None, None) => {
            problems.push(FieldError::new(
                format!("{prefix}transaction_id"),
                "missing: give transaction_id or request_id",
            ));
            None
        }
    };
    let label = match object.get("is_fraud") {
        None => {
            problems.push(FieldError::new(format!("{prefix}is_fraud"), "missing"));
            None
        }
        Some(value) => fraud_engine::data::parse_label(value.as_value())
            .map_err(|reason| problems.push(FieldError::new(format!("{prefix}is_fraud"), reason)))
            .ok(),
    };
    let labelled_by = match present("labelled_by") {
        None => Some(default_by.to_owned()),
        Some(Json::String(s)) => check_labelled_by(s, &format!("{prefix}labelled_by"))
            .map_err(|e| problems.push(e))
            .ok(),
        Some(other) => {
            problems.push(FieldError::new(
                format!("{prefix}labelled_by"),
                format!("expected a string, got {}", other.type_name()),
            ));
            None
        }
    };
    match (key, label, labelled_by) {
        (Some(key), Some(label), Some(labelled_by)) if problems.is_empty() => Ok(Label {
            key,
            label,
            labelled_by,
            labelled_at: at.to_owned(),
        }),
        _ => Err(problems),
    }
}

/// The labels of a feedback body: one label object, or `{"labels": [...]}`
/// with at most `max` of them.
fn parse_feedback(body: &[u8], default_by: &str, max: usize) -> Result<Vec<Label>, ApiError> {
    let mut object = Object::parse(body)
        .map_err(|e| ApiError::bad_field("body", format!("invalid JSON {e}")))?;
    let at = crate::handlers::now_rfc3339();
    let Some(list) = object.take("labels") else {
        return parse_label_object(&object, "", default_by, &at)
            .map(|label| vec![label])
            .map_err(unprocessable);
    };
    let list = match list {
        Json::Array(list) => list,
        other => {
            return Err(ApiError::bad_field(
                "labels",
                format!("expected an array, got {}", other.type_name()),
            ))
        }
    };
    if list.is_empty() {
        return Err(ApiError::bad_field("labels", "is empty"));
    }
    if list.len() > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "{} labels in one request; at most {max} are allowed",
            list.len()
        )));
    }
    let mut labels = Vec::with_capacity(list.len());
    let mut problems = Vec::new();
    for (i, item) in list.into_iter().enumerate() {
        let prefix = format!("labels[{i}].");
        match item {
            Json::Object(o) => match parse_label_object(&o, &prefix, default_by, &at) {
                Ok(label) => labels.push(label),
                Err(p) => problems.extend(p),
            },
            other => problems.push(FieldError::new(
                format!("labels[{i}]"),
                format!("expected a JSON object, got {}", other.type_name()),
            )),
        }
    }
    if problems.is_empty() {
        Ok(labels)
    } else {
        Err(unprocessable(problems))
    }
}

fn unprocessable(mut details: Vec<FieldError>) -> ApiError {
    let total = details.len();
    details.truncate(100);
    let mut names: Vec<&str> = details.iter().take(10).map(|d| d.field.as_str()).collect();
    names.dedup();
    let more = if total > 10 {
        format!(" (and {} more)", total - 10)
    } else {
        String::new()
    };
    ApiError::Unprocessable {
        error: format!("invalid fields: {}{more}", names.join(", ")),
        details,
    }
}

/// The 404 for ids no stored prediction has, naming each.
pub fn unknown_ids(unknown: &[LabelKey]) -> ApiError {
    let mut details: Vec<FieldError> = unknown
        .iter()
        .map(|key| {
            FieldError::new(
                key.field(),
                format!("no stored prediction has `{}`", key.id()),
            )
        })
        .collect();
    let shown: Vec<String> = unknown.iter().take(10).map(LabelKey::to_string).collect();
    let more = if unknown.len() > 10 {
        format!(" (and {} more)", unknown.len() - 10)
    } else {
        String::new()
    };
    details.truncate(100);
    ApiError::Unknown {
        error: format!(
            "no stored prediction for {}{more}; no label was stored",
            shown.join(", ")
        ),
        details,
    }
}

/// `POST /api/feedback` answer.
#[derive(Debug, Serialize)]
pub struct FeedbackResponse {
    /// Labels stored.
    pub labels: usize,
    /// Predictions that now carry a label.
    pub predictions_labelled: u64,
    /// When (RFC 3339, UTC).
    pub labelled_at: String,
}

/// `POST /api/feedback`: stores one label or a batch, all or nothing.
pub async fn feedback(
    state: AppState,
    api_key: Option<String>,
    client: Option<IpAddr>,
    body: Bytes,
) -> Result<Response, Rejection> {
    // The key is checked by the guard; with no key configured, a header
    // sent anyway says nothing about who the caller is.
    let holder = state.settings().api_key.as_ref().and(api_key.as_deref());
    let default_by = default_labeller(holder, client);
    let labels = parse_feedback(&body, &default_by, state.limits().max_batch).map_err(reject)?;
    let count = labels.len();
    let labelled_at = labels
        .first()
        .map(|l| l.labelled_at.clone())
        .unwrap_or_default();
    match state.history().label(labels).await {
        Ok(LabelOutcome::Applied { rows }) => Ok(warp::reply::with_status(
            warp::reply::json(&FeedbackResponse {
                labels: count,
                predictions_labelled: rows,
                labelled_at,
            }),
            StatusCode::OK,
        )
        .into_response()),
        Ok(LabelOutcome::Unknown(unknown)) => Err(reject(unknown_ids(&unknown))),
        Err(e) => Err(reject(ApiError::Unavailable(format!(
            "the labels were not stored: {e}"
        )))),
    }
}

/// The query of `GET /api/performance`: `since` and `until`, each a date
/// (2026-11-30: `until` includes that day) or an RFC 3339 time.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PerformanceQuery {
    since: Option<String>,
    until: Option<String>,
}

/// A date or an RFC 3339 time; with `next_day`, a date means the start of
/// the day after it (an exclusive bound that includes the whole day).
fn time_of(text: &str, next_day: bool) -> Option<SystemTime> {
    let text = text.trim();
    if text.len() == 10 {
        let day = humantime::parse_rfc3339(&format!("{text}T00:00:00Z")).ok()?;
        return Some(if next_day {
            day + Duration::from_secs(86_400)
        } else {
            day
        });
    }
    let time = humantime::parse_rfc3339_weak(text.trim_end_matches('Z')).ok()?;
    // An exclusive bound one millisecond on includes the time given.
    Some(if next_day {
        time + Duration::from_millis(1)
    } else {
        time
    })
}

impl PerformanceQuery {
    /// The span to read, or a 400 naming each bad parameter.
    pub fn query(&self) -> Result<LabelledQuery, ApiError> {
        let mut details = Vec::new();
        let mut bound = |name: &str, text: &Option<String>, next_day| {
            let text = text.as_deref()?;
            match time_of(text, next_day) {
                Some(t) => Some(humantime::format_rfc3339_millis(t).to_string()),
                None => {
                    details.push(FieldError::new(
                        name,
                        format!(
                            "`{}` is not a date (2026-11-30) or an RFC 3339 time (2026-11-30T14:05:00Z)",
                            text.chars().take(40).collect::<String>()
                        ),
                    ));
                    None
                }
            }
        };
        let since = bound("since", &self.since, false);
        let before = bound("until", &self.until, true);
        if details.is_empty() {
            Ok(LabelledQuery {
                since,
                before,
                features: false,
            })
        } else {
            let names: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
            Err(ApiError::BadRequest {
                error: format!("invalid query parameters: {}", names.join(", ")),
                details,
            })
        }
    }
}

/// `GET /api/performance` answer.
#[derive(Debug, Serialize)]
pub struct PerformanceReport {
    /// Labelled predictions read.
    pub labelled_rows: u64,
    /// The live models (each row's `model_version`), by day: precision and
    /// recall of the decisions they answered, PR-AUC of their probabilities.
    pub live: Vec<DailyPerformance>,
    /// The shadow models (each row's `shadow_version`), by day: precision
    /// and recall at the shadow's threshold when the server knows it,
    /// PR-AUC always.
    pub shadow: Vec<DailyPerformance>,
}

/// The report from labelled records; `decision_of` gives a model
/// version's decision layer when this server knows it.
pub fn performance_report<'m>(
    records: &[Record],
    decision_of: impl Fn(&str) -> Option<&'m Decision>,
) -> PerformanceReport {
    let mut live = Vec::with_capacity(records.len());
    let mut shadow = Vec::new();
    for r in records {
        let Some(label) = r.label else { continue };
        live.push(LabelledPrediction {
            timestamp: r.timestamp.clone(),
            model_version: r.model_version.clone(),
            probability: r.fraud_probability,
            flagged: Some(r.is_fraud == 1),
            label,
        });
        if let (Some(version), Some(probability)) = (&r.shadow_version, r.shadow_probability) {
            shadow.push(LabelledPrediction {
                timestamp: r.timestamp.clone(),
                model_version: version.clone(),
                probability,
                flagged: decision_of(version).map(|d| d.flags(probability)),
                label,
            });
        }
    }
    PerformanceReport {
        labelled_rows: live.len() as u64,
        live: daily_performance(&live),
        shadow: daily_performance(&shadow),
    }
}

/// `GET /api/performance`.
pub async fn performance(state: AppState, query: PerformanceQuery) -> Result<Response, Rejection> {
    let query = query.query().map_err(reject)?;
    let records = state
        .history()
        .labelled(query)
        .await
        .map_err(|e| reject(ApiError::Unavailable(e.to_string())))?;
    // Models this server holds (the active one and the shadow): their
    // thresholds decide their rows. A version it does not hold gets PR-AUC
    // only.
    let held: Vec<_> = state.model().into_iter().chain(state.shadow()).collect();
    let report = tokio::task::spawn_blocking(move || {
        performance_report(&records, |version| {
            held.iter()
                .find(|m| &*m.version == version)
                .map(|m| m.model.decision())
        })
    })
    .await
    .map_err(|e| reject(ApiError::Internal(format!("performance failed: {e}"))))?;
    Ok(warp::reply::json(&report).into_response())
}

/// `POST /api/feedback`.
pub fn feedback_route(
    state: AppState,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = state.limits().batch_body_bytes;
    warp::path!("api" / "feedback")
        .and(warp::post())
        .and(api_guard(state.clone()))
        .and(declared_length_within(limit))
        .and(json_content_type())
        .and(with_state(state.clone()))
        .and(
            warp::header::optional::<String>("x-api-key")
                .or(warp::any().map(|| None))
                .unify(),
        )
        .and(client(state))
        .and(json_body(limit))
        .and_then(feedback)
}

/// `GET /api/performance?since=&until=`.
pub fn performance_route(
    state: AppState,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "performance")
        .and(warp::get())
        .and(api_guard(state.clone()))
        .and(with_state(state))
        .and(warp::query::<PerformanceQuery>())
        .and_then(performance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_every_bad_field() {
        let at = "2026-11-30T00:00:00.000Z";
        let ok = Object::parse(br#"{"transaction_id": 17, "is_fraud": 1}"#).expect("JSON");
        let label = parse_label_object(&ok, "", "10.0.0.1", at).expect("valid");
        assert_eq!(label.key, LabelKey::TransactionId("17".into()));
        assert_eq!((label.label, label.labelled_by.as_str()), (1, "10.0.0.1"));
        let bad = Object::parse(
            br#"{"transaction_id": "a", "request_id": "b", "is_fraud": 2, "labelled_by": 5}"#,
        )
        .expect("JSON");
        let fields: Vec<String> = parse_label_object(&bad, "labels[3].", "x", at)
            .expect_err("invalid")
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "labels[3].request_id",
                "labels[3].is_fraud",
                "labels[3].labelled_by"
            ]
        );
        let missing = Object::parse(br#"{"labelled_by": "ana"}"#).expect("JSON");
        let fields: Vec<String> = parse_label_object(&missing, "", "x", at)
            .expect_err("invalid")
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["transaction_id", "is_fraud"]);
    }

    #[test]
    fn batches_are_bounded_and_labellers_named() {
        let body = br#"{"labels": [{"request_id": "r", "is_fraud": 0}, {"request_id": "s", "is_fraud": 1}]}"#;
        assert_eq!(parse_feedback(body, "x", 2).expect("valid").len(), 2);
        assert!(matches!(
            parse_feedback(body, "x", 1),
            Err(ApiError::PayloadTooLarge(_))
        ));
        assert!(matches!(
            parse_feedback(br#"{"labels": {}}"#, "x", 5),
            Err(ApiError::BadRequest { .. })
        ));
        assert_eq!(
            default_labeller(None, Some("10.1.2.3".parse().expect("ip"))),
            "10.1.2.3"
        );
        let by_key = default_labeller(Some("secret"), None);
        assert!(by_key.starts_with("api-key:") && !by_key.contains("secret"));
    }

    #[test]
    fn performance_spans_read_dates_and_times() {
        let q = PerformanceQuery {
            since: Some("2026-11-01".into()),
            until: Some("2026-11-30".into()),
        };
        let span = q.query().expect("valid");
        assert_eq!(span.since.as_deref(), Some("2026-11-01T00:00:00.000Z"));
        assert_eq!(span.before.as_deref(), Some("2026-12-01T00:00:00.000Z"));
        let bad = PerformanceQuery {
            since: Some("yesterday".into()),
            until: None,
        };
        assert!(matches!(bad.query(), Err(ApiError::BadRequest { .. })));
    }
}

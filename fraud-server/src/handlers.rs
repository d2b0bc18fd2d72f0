//! The endpoint handlers: plain async functions from parsed inputs to responses.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use fraud_engine::json::{Json, Object};
use fraud_engine::RiskLevel;
use rayon::prelude::*;
use serde::Serialize;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Rejection, Reply};

use crate::config::FailurePolicy;
use crate::dto::{BatchResponse, Health, PredictionDto, Ready};
use crate::error::{ApiError, FieldError};
use crate::history::{Filter, NewRecord, Recorded, Writability};
use crate::state::{AppState, LoadedModel};

/// Field errors listed in one response at most (the summary gives the total).
const MAX_DETAILS: usize = 100;

fn reject(e: ApiError) -> Rejection {
    warp::reject::custom(e)
}

/// Now as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

fn json_response<T: Serialize>(body: &T, status: StatusCode, request_id: Option<&str>) -> Response {
    let mut response = warp::reply::with_status(warp::reply::json(body), status).into_response();
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        response.headers_mut().insert("x-request-id", id);
    }
    response
}

fn json_bytes_response(body: Bytes, request_id: Option<&str>) -> Response {
    let mut response = Response::new(body.into());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        response.headers_mut().insert("x-request-id", id);
    }
    response
}

/// Parses a body that must be one JSON object; a syntax error, a repeated
/// key or another JSON type is a 400 naming the body and the byte.
fn parse_object(body: &[u8]) -> Result<Object<'_>, ApiError> {
    Object::parse(body).map_err(|e| ApiError::bad_field("body", format!("invalid JSON {e}")))
}

/// The shadow model's version and probability for a transaction the live
/// model scored; none when no shadow is set, or when the shadow cannot score
/// it (a shadow with another schema): the live answer never depends on it.
fn shadow_score(shadow: Option<&LoadedModel>, row: &Object<'_>) -> Option<(Arc<str>, f64)> {
    let shadow = shadow?;
    let prediction = shadow.model.predict(row).ok()?;
    Some((Arc::clone(&shadow.version), prediction.fraud_probability))
}

/// The `transaction_id` to echo: a string or a number, or nothing. `prefix`
/// goes before the field's name in an error (the name is only formatted
/// then: this runs on every prediction).
fn transaction_id<'o, 'a>(
    object: &'o Object<'a>,
    prefix: &str,
) -> Result<Option<&'o Json<'a>>, FieldError> {
    let field = || format!("{prefix}transaction_id");
    match object.get("transaction_id") {
        None | Some(Json::Null) => Ok(None),
        // PostgreSQL text cannot hold U+0000; refused on every backend so
        // the API does not depend on which one stores the history.
        Some(Json::String(id)) if id.contains('\0') => Err(FieldError::new(
            field(),
            "contains the NUL character (U+0000), which the history cannot store",
        )),
        Some(v @ (Json::String(_) | Json::Number(..))) => Ok(Some(v)),
        Some(other) => Err(FieldError::new(
            field(),
            format!("expected a string or a number, got {}", other.type_name()),
        )),
    }
}

/// The transaction id as the history stores it: the string, or the number
/// as written.
fn id_text(v: &Json<'_>) -> String {
    match v {
        Json::String(s) => s.to_string(),
        Json::Number(_, text) | Json::NotFinite(text) => (*text).to_owned(),
        other => other.type_name().to_owned(),
    }
}

/// The request option (a query parameter, or a body key) that adds reasons,
/// contributions and the base value to each prediction.
pub const EXPLAIN: &str = "explain";

/// The query of the scoring endpoints: `explain=true` or `false` (absent is
/// false); other parameters are ignored.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ExplainQuery {
    explain: Option<String>,
}

impl ExplainQuery {
    /// Whether explanations were asked for.
    pub fn explain(&self) -> Result<bool, ApiError> {
        match self.explain.as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(ApiError::bad_field(
                EXPLAIN,
                format!("`{}` is not a boolean (true or false)", truncate(other)),
            )),
        }
    }
}

/// Reads the `explain` key of a request object: a boolean; absent is false.
fn explain_option(value: Option<&Json<'_>>, field: &str) -> Result<bool, FieldError> {
    match value {
        None => Ok(false),
        Some(Json::Bool(b)) => Ok(*b),
        Some(other) => Err(FieldError::new(
            field,
            format!(
                "expected a boolean (true or false), got {}",
                other.type_name()
            ),
        )),
    }
}

/// A 400 naming every problem with the request's shape.
fn bad_request(details: Vec<FieldError>) -> ApiError {
    let described: Vec<String> = details
        .iter()
        .map(|d| format!("`{}` {}", d.field, d.reason))
        .collect();
    ApiError::BadRequest {
        error: format!("invalid request: {}", described.join("; ")),
        details,
    }
}

/// One scored transaction, explained when that was asked for.
enum Scored {
    Plain(fraud_engine::Prediction),
    Explained(fraud_engine::Explained),
}

impl Scored {
    fn prediction(&self) -> &fraud_engine::Prediction {
        match self {
            Scored::Plain(p) => p,
            Scored::Explained(e) => &e.prediction,
        }
    }

    fn to_dto<'a>(
        &'a self,
        loaded: &'a LoadedModel,
        transaction_id: Option<&'a Json<'a>>,
    ) -> PredictionDto<'a> {
        let output = match self {
            Scored::Plain(p) => loaded.model.output(p),
            Scored::Explained(e) => loaded.model.explained_output(e),
        };
        PredictionDto {
            output,
            transaction_id,
        }
    }
}

/// Why one object could not be scored.
enum Unscored {
    /// Bad fields, each named (with the caller's prefix).
    Fields(Vec<FieldError>),
    /// Not the input's fault.
    Fault(ApiError),
}

/// Scores one object (and explains it when `explain`): the prediction, or
/// every bad field (with `prefix`), `extra` included.
fn score(
    loaded: &LoadedModel,
    object: &Object<'_>,
    prefix: &str,
    explain: bool,
    extra: Option<FieldError>,
) -> Result<Scored, Unscored> {
    let id_problem = transaction_id(object, prefix).err();
    let outcome = if explain {
        loaded.model.explain(object).map(Scored::Explained)
    } else {
        loaded.model.predict(object).map(Scored::Plain)
    };
    let mut problems = match outcome {
        Ok(s) if id_problem.is_none() && extra.is_none() => return Ok(s),
        Ok(_) => Vec::new(),
        Err(e) => match ApiError::from_engine(e, prefix) {
            ApiError::Unprocessable { details, .. } => details,
            other => return Err(Unscored::Fault(other)),
        },
    };
    problems.extend(id_problem);
    problems.extend(extra);
    Err(Unscored::Fields(problems))
}

fn unscored(e: Unscored) -> ApiError {
    match e {
        Unscored::Fields(details) => {
            let total = details.len();
            unprocessable(details, total)
        }
        Unscored::Fault(e) => e,
    }
}

fn unprocessable(details: Vec<FieldError>, total: usize) -> ApiError {
    let mut names: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
    names.truncate(10);
    let more = if total > names.len() {
        format!(" (and {} more)", total - names.len())
    } else {
        String::new()
    };
    ApiError::Unprocessable {
        error: format!("invalid fields: {}{more}", names.join(", ")),
        details,
    }
}

fn history_error(e: crate::history::HistoryError) -> Rejection {
    reject(ApiError::Unavailable(format!(
        "the prediction was not recorded, so it is not answered: {e}"
    )))
}

/// The header that marks an answer whose history record was not stored
/// (`fail-open` while the history cannot be written).
pub const HISTORY_HEADER: &str = "x-history";

/// Marks `response` when its records were not stored.
fn mark_recorded(mut response: Response, recorded: Recorded) -> Response {
    if recorded == Recorded::NotStored {
        response
            .headers_mut()
            .insert(HISTORY_HEADER, HeaderValue::from_static("not-recorded"));
    }
    response
}

/// One transaction's answer: the response body and what the history and
/// the metrics record of it.
struct Answer {
    body: Vec<u8>,
    record: NewRecord,
    risk_level: RiskLevel,
    is_fraud: bool,
}

/// Parses, scores and answers one transaction body. With `explain` the
/// prediction is explained; without, a body that asks for an explanation
/// (`"explain": true`) gets `Ok(None)`, for the caller to answer it on a
/// blocking thread.
fn answer(
    loaded: &LoadedModel,
    shadow: Option<&LoadedModel>,
    body: &[u8],
    explain: bool,
    request_id: &str,
    started: Instant,
) -> Result<Option<Answer>, ApiError> {
    let object = parse_object(body)?;
    // A bad `explain` is reported with the transaction's other bad fields.
    let (explain_in_body, option_problem) = if loaded.explain_key_is_option {
        match explain_option(object.get(EXPLAIN), EXPLAIN) {
            Ok(b) => (b, None),
            Err(e) => (false, Some(e)),
        }
    } else {
        (false, None)
    };
    if explain_in_body && !explain {
        return Ok(None);
    }
    let scored = score(loaded, &object, "", explain, option_problem).map_err(unscored)?;
    let prediction = scored.prediction();
    let echoed = object.get("transaction_id").filter(|v| **v != Json::Null);
    // Sized for an answer without an explanation (about 160 bytes), which
    // `to_vec`'s first 128 bytes would have to grow.
    let mut response = Vec::with_capacity(256);
    serde_json::to_writer(&mut response, &scored.to_dto(loaded, echoed))
        .map_err(|e| ApiError::Internal(format!("cannot encode the response: {e}")))?;
    let shadow = shadow_score(shadow, &object);
    let bins = loaded
        .model
        .drift_bins(&object, prediction.fraud_probability);
    loaded.observe_drift([bins.as_slice()]);
    Ok(Some(Answer {
        body: response,
        record: NewRecord {
            timestamp: now_rfc3339(),
            request_id: request_id.to_owned(),
            transaction_id: echoed.map(id_text),
            model_version: Arc::clone(&loaded.version),
            features_json: object.text().to_owned(),
            fraud_probability: prediction.fraud_probability,
            is_fraud: prediction.is_fraud,
            risk_level: prediction.risk_level.as_str(),
            latency_ms: started.elapsed().as_secs_f64() * 1e3,
            shadow,
        },
        risk_level: prediction.risk_level,
        is_fraud: prediction.is_fraud,
    }))
}

/// `POST /api/predict`: scores one transaction inline (a few microseconds,
/// cheaper than a hop to a blocking thread). With `explain` (query or body)
/// it also explains it, on a blocking thread: an explanation costs up to a
/// millisecond, too long to hold an async worker.
pub async fn predict(
    state: AppState,
    request_id: String,
    query: ExplainQuery,
    body: Bytes,
) -> Result<Response, Rejection> {
    let started = Instant::now();
    let loaded = state
        .model()
        .ok_or_else(|| reject(ApiError::ModelNotLoaded))?;
    let shadow = state.shadow();
    let explain_asked = query.explain().map_err(reject)?;
    let answered = match answer(
        &loaded,
        shadow.as_deref(),
        &body,
        false,
        &request_id,
        started,
    )
    .map_err(reject)?
    {
        Some(answered) if !explain_asked => answered,
        _ => {
            let model = Arc::clone(&loaded);
            let rid = request_id.clone();
            tokio::task::spawn_blocking(move || {
                answer(&model, shadow.as_deref(), &body, true, &rid, started)
            })
            .await
            .map_err(|e| reject(ApiError::Internal(format!("explaining failed: {e}"))))?
            .map_err(reject)?
            .ok_or_else(|| reject(ApiError::Internal("the explanation was not made".into())))?
        }
    };
    state
        .metrics()
        .prediction(answered.risk_level, answered.is_fraud);
    let response = json_bytes_response(Bytes::from(answered.body), Some(&request_id));
    let recorded = state
        .history()
        .record(vec![answered.record])
        .await
        .map_err(history_error)?;
    Ok(mark_recorded(response, recorded))
}

/// `POST /api/predict/batch`: parses, scores (and, with `explain`, explains)
/// on the rayon pool from a blocking thread, so a large batch never stalls
/// the async workers.
pub async fn predict_batch(
    state: AppState,
    request_id: String,
    query: ExplainQuery,
    body: Bytes,
) -> Result<Response, Rejection> {
    let started = Instant::now();
    let loaded = state
        .model()
        .ok_or_else(|| reject(ApiError::ModelNotLoaded))?;
    let max_batch = state.limits().max_batch;
    let explain_asked = query.explain().map_err(reject)?;
    let model = Arc::clone(&loaded);
    let shadow = state.shadow();
    let rid = request_id.clone();
    let scored = tokio::task::spawn_blocking(move || {
        let shadow = shadow.as_deref();
        score_batch(
            &model,
            shadow,
            &body,
            &rid,
            started,
            explain_asked,
            max_batch,
        )
    })
    .await
    .map_err(|e| reject(ApiError::Internal(format!("batch scoring failed: {e}"))))?
    .map_err(reject)?;
    for (level, is_fraud) in &scored.counts {
        state.metrics().prediction(*level, *is_fraud);
    }
    let response = json_bytes_response(scored.body, Some(&request_id));
    let recorded = state
        .history()
        .record(scored.records)
        .await
        .map_err(history_error)?;
    Ok(mark_recorded(response, recorded))
}

struct ScoredBatch {
    body: Bytes,
    records: Vec<NewRecord>,
    counts: Vec<(RiskLevel, bool)>,
}

/// The transactions of a batch body, and whether it asks for explanations.
fn batch_rows<'b>(
    body: &'b [u8],
    explain_asked: bool,
    max_batch: usize,
) -> Result<(Vec<Object<'b>>, bool), ApiError> {
    let mut object = parse_object(body)?;
    let explain_in_body = explain_option(object.get(EXPLAIN), EXPLAIN);
    let transactions = match object.take("transactions") {
        Some(Json::Array(list)) => Ok(list),
        Some(other) => Err(FieldError::new(
            "transactions",
            format!("expected an array, got {}", other.type_name()),
        )),
        None => Err(FieldError::new("transactions", "missing field")),
    };
    let (explain, transactions) = match (explain_in_body, transactions) {
        (Ok(in_body), Ok(list)) => (explain_asked || in_body, list),
        (option, list) => {
            let details = [option.err(), list.err()].into_iter().flatten().collect();
            return Err(bad_request(details));
        }
    };
    if transactions.len() > max_batch {
        return Err(ApiError::PayloadTooLarge(format!(
            "{} transactions in one batch; at most {max_batch} are allowed",
            transactions.len()
        )));
    }
    let mut rows = Vec::with_capacity(transactions.len());
    let mut shape = Vec::new();
    for (i, t) in transactions.into_iter().enumerate() {
        match t {
            Json::Object(object) => rows.push(object),
            other => shape.push(FieldError::new(
                format!("transactions[{i}]"),
                format!("expected a JSON object, got {}", other.type_name()),
            )),
        }
    }
    if !shape.is_empty() {
        let total = shape.len();
        shape.truncate(MAX_DETAILS);
        let names: Vec<&str> = shape.iter().take(10).map(|d| d.field.as_str()).collect();
        return Err(ApiError::BadRequest {
            error: format!(
                "{total} transactions are not JSON objects: {}",
                names.join(", ")
            ),
            details: shape,
        });
    }
    Ok((rows, explain))
}

fn score_batch(
    loaded: &LoadedModel,
    shadow: Option<&LoadedModel>,
    body: &[u8],
    request_id: &str,
    started: Instant,
    explain_asked: bool,
    max_batch: usize,
) -> Result<ScoredBatch, ApiError> {
    let (rows, explain) = batch_rows(body, explain_asked, max_batch)?;
    let results: Vec<Result<Scored, Unscored>> = rows
        .par_iter()
        .enumerate()
        .map(|(i, row)| score(loaded, row, &format!("transactions[{i}]."), explain, None))
        .collect();
    let mut predictions = Vec::with_capacity(results.len());
    let mut details = Vec::new();
    let mut total_problems = 0;
    for result in results {
        match result {
            Ok(p) => predictions.push(p),
            Err(Unscored::Fault(e)) => return Err(e),
            Err(Unscored::Fields(problems)) => {
                total_problems += problems.len();
                let room = MAX_DETAILS.saturating_sub(details.len());
                details.extend(problems.into_iter().take(room));
            }
        }
    }
    if total_problems > 0 {
        return Err(unprocessable(details, total_problems));
    }
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    let mut shadows: Vec<Option<(Arc<str>, f64)>> = match shadow {
        Some(_) => rows
            .par_iter()
            .map(|row| shadow_score(shadow, row))
            .collect(),
        None => Vec::new(),
    };
    shadows.resize(rows.len(), None);
    let bins: Vec<Vec<u16>> = rows
        .iter()
        .zip(predictions.iter().map(Scored::prediction))
        .map(|(row, p)| loaded.model.drift_bins(row, p.fraud_probability))
        .collect();
    loaded.observe_drift(bins.iter().map(Vec::as_slice));
    let timestamp = now_rfc3339();
    let mut records = Vec::with_capacity(rows.len());
    let mut counts = Vec::with_capacity(rows.len());
    for ((row, p), shadow) in rows
        .iter()
        .zip(predictions.iter().map(Scored::prediction))
        .zip(shadows)
    {
        counts.push((p.risk_level, p.is_fraud));
        records.push(NewRecord {
            timestamp: timestamp.clone(),
            request_id: request_id.to_owned(),
            transaction_id: row
                .get("transaction_id")
                .filter(|v| **v != Json::Null)
                .map(id_text),
            model_version: Arc::clone(&loaded.version),
            // Each transaction's text as sent.
            features_json: row.text().to_owned(),
            fraud_probability: p.fraud_probability,
            is_fraud: p.is_fraud,
            risk_level: p.risk_level.as_str(),
            latency_ms,
            shadow,
        });
    }
    let response = BatchResponse {
        predictions: predictions
            .iter()
            .zip(&rows)
            .map(|(p, row)| {
                let echoed = row.get("transaction_id").filter(|v| **v != Json::Null);
                p.to_dto(loaded, echoed)
            })
            .collect(),
    };
    let body = serde_json::to_vec(&response)
        .map_err(|e| ApiError::Internal(format!("cannot encode the response: {e}")))?;
    Ok(ScoredBatch {
        body: Bytes::from(body),
        records,
        counts,
    })
}

/// `GET /api/model`.
pub async fn model(state: AppState) -> Result<Response, Rejection> {
    let loaded = state
        .model()
        .ok_or_else(|| reject(ApiError::ModelNotLoaded))?;
    Ok(json_bytes_response(loaded.info.clone(), None))
}

/// The query of `GET /api/predictions`: `limit` (1 to 1000, default 50),
/// `offset` (default 0), and the filters `risk_level` (LOW, MEDIUM or
/// HIGH), `is_fraud` (0/1 or true/false), `since` and `until` (RFC 3339
/// timestamps, or dates: `until` a date means to the end of that day);
/// other parameters are ignored.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PageQuery {
    limit: Option<String>,
    offset: Option<String>,
    risk_level: Option<String>,
    is_fraud: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

/// A time bound of a history filter as the history stores times (RFC 3339
/// UTC with milliseconds): a timestamp as given, or a date's first (or,
/// with `end_of_day`, last) millisecond.
fn time_bound(text: &str, end_of_day: bool) -> Option<String> {
    let text = text.trim();
    let time = if text.len() == 10 {
        let day = humantime::parse_rfc3339(&format!("{text}T00:00:00Z")).ok()?;
        if end_of_day {
            day + std::time::Duration::from_millis(86_400_000 - 1)
        } else {
            day
        }
    } else {
        humantime::parse_rfc3339_weak(text.trim_end_matches('Z')).ok()?
    };
    Some(humantime::format_rfc3339_millis(time).to_string())
}

impl PageQuery {
    /// `(limit, offset, filter)`, or a 400 naming each bad parameter.
    pub fn page(&self) -> Result<(u32, u64, Filter), ApiError> {
        let mut details = Vec::new();
        let limit = match self.limit.as_deref() {
            None => 50,
            Some(value) => match value.parse::<u32>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => {
                    details.push(FieldError::new(
                        "limit",
                        format!(
                            "`{}` is not a whole number between 1 and 1000",
                            truncate(value)
                        ),
                    ));
                    50
                }
            },
        };
        let offset = match self.offset.as_deref() {
            None => 0,
            Some(value) => match value.parse::<u64>() {
                Ok(n) if n <= i64::MAX as u64 => n,
                _ => {
                    details.push(FieldError::new(
                        "offset",
                        format!("`{}` is not a whole number of at least 0", truncate(value)),
                    ));
                    0
                }
            },
        };
        let mut filter = Filter::default();
        if let Some(level) = self.risk_level.as_deref() {
            filter.risk_level = ["LOW", "MEDIUM", "HIGH"]
                .into_iter()
                .find(|l| l.eq_ignore_ascii_case(level.trim()));
            if filter.risk_level.is_none() {
                details.push(FieldError::new(
                    "risk_level",
                    format!("`{}` is not LOW, MEDIUM or HIGH", truncate(level)),
                ));
            }
        }
        if let Some(flag) = self.is_fraud.as_deref() {
            filter.is_fraud = match flag.trim() {
                "1" | "true" => Some(true),
                "0" | "false" => Some(false),
                other => {
                    details.push(FieldError::new(
                        "is_fraud",
                        format!("`{}` is not 0, 1, true or false", truncate(other)),
                    ));
                    None
                }
            };
        }
        for (name, given, end_of_day, slot) in [
            ("since", &self.since, false, &mut filter.since),
            ("until", &self.until, true, &mut filter.until),
        ] {
            if let Some(text) = given.as_deref() {
                *slot = time_bound(text, end_of_day);
                if slot.is_none() {
                    details.push(FieldError::new(
                        name,
                        format!(
                            "`{}` is not a date (2026-11-30) or an RFC 3339 time (2026-11-30T14:05:00Z)",
                            truncate(text)
                        ),
                    ));
                }
            }
        }
        if details.is_empty() {
            return Ok((limit, offset, filter));
        }
        let names: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
        Err(ApiError::BadRequest {
            error: format!("invalid query parameters: {}", names.join(", ")),
            details,
        })
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// `GET /api/predictions`.
pub async fn predictions(state: AppState, query: PageQuery) -> Result<Response, Rejection> {
    let (limit, offset, filter) = query.page().map_err(reject)?;
    let page = state
        .history()
        .list(limit, offset, filter)
        .await
        .map_err(|e| reject(ApiError::Unavailable(e.to_string())))?;
    Ok(json_response(&page, StatusCode::OK, None))
}

// ---- model lifecycle: the shadow comparison and drift ----

/// Records `GET /api/shadow` compares when no `limit` is given.
pub const SHADOW_WINDOW: u32 = 10_000;

/// The query of `GET /api/shadow`: `limit`, the newest records compared
/// (1 to 1,000,000, default 10,000).
#[derive(Debug, Default, serde::Deserialize)]
pub struct ShadowQuery {
    limit: Option<String>,
}

impl ShadowQuery {
    /// The number of records to compare, or a 400 naming `limit`.
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.limit.as_deref() {
            None => Ok(SHADOW_WINDOW),
            Some(value) => match value.parse::<u32>() {
                Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
                _ => Err(ApiError::bad_field(
                    "limit",
                    format!(
                        "`{}` is not a whole number between 1 and 1000000",
                        truncate(value)
                    ),
                )),
            },
        }
    }
}

/// `GET /api/shadow` answer: the engine's comparison, and what was compared.
#[derive(Debug, Serialize)]
pub struct ShadowReport {
    /// The serving model.
    pub live_version: String,
    /// The shadow model.
    pub shadow_version: String,
    /// The most records compared (the newest ones both models scored).
    pub limit: u32,
    /// The comparison.
    #[serde(flatten)]
    pub comparison: fraud_engine::lifecycle::ShadowComparison,
}

/// `GET /api/shadow`: the serving model against the shadow over the newest
/// records both scored; 409 when no shadow is set.
pub async fn shadow(state: AppState, query: ShadowQuery) -> Result<Response, Rejection> {
    let limit = query.limit().map_err(reject)?;
    let live = state
        .model()
        .ok_or_else(|| reject(ApiError::ModelNotLoaded))?;
    let shadow = state.shadow().ok_or_else(|| {
        reject(ApiError::Conflict(
            "no shadow model is set; POST /admin/models/{version}/shadow sets one".into(),
        ))
    })?;
    let pairs = state
        .history()
        .shadow_pairs(&live.version, &shadow.version, limit)
        .await
        .map_err(|e| reject(ApiError::Unavailable(e.to_string())))?;
    let comparison = fraud_engine::lifecycle::compare_shadow(
        &pairs,
        live.model.threshold(),
        shadow.model.threshold(),
    );
    Ok(json_response(
        &ShadowReport {
            live_version: live.version.to_string(),
            shadow_version: shadow.version.to_string(),
            limit,
            comparison,
        },
        StatusCode::OK,
        None,
    ))
}

/// The rolling window a drift report covers.
#[derive(Debug, Serialize)]
pub struct DriftWindow {
    /// The most transactions it holds.
    pub capacity: usize,
    /// The transactions it holds now.
    pub transactions: usize,
    /// When the oldest of them was scored (RFC 3339 UTC), if any.
    pub from: Option<String>,
    /// When the newest was scored.
    pub to: Option<String>,
}

/// `GET /api/drift` answer: the engine's report on the serving model's
/// window.
#[derive(Debug, Serialize)]
pub struct DriftResponse {
    /// The serving model, whose training data the window is compared with.
    pub model_version: String,
    /// The window.
    pub window: DriftWindow,
    /// PSI per feature and for the score.
    #[serde(flatten)]
    pub report: fraud_engine::drift::DriftReport,
}

fn millis_rfc3339(millis: u64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis);
    humantime::format_rfc3339_millis(at).to_string()
}

/// The serving model's drift report, and how many transactions it covers.
pub fn drift_report(state: &AppState, loaded: &LoadedModel) -> DriftResponse {
    let (report, transactions, span) = {
        let window = loaded
            .drift
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (window.report(&loaded.model), window.len(), window.span())
    };
    DriftResponse {
        model_version: loaded.version.to_string(),
        window: DriftWindow {
            capacity: state.drift_window(),
            transactions,
            from: span.map(|(from, _)| millis_rfc3339(from)),
            to: span.map(|(_, to)| millis_rfc3339(to)),
        },
        report,
    }
}

/// `GET /api/drift`: how far the latest transactions moved from the
/// serving model's training data.
pub async fn drift(state: AppState) -> Result<Response, Rejection> {
    let loaded = state
        .model()
        .ok_or_else(|| reject(ApiError::ModelNotLoaded))?;
    Ok(json_response(
        &drift_report(&state, &loaded),
        StatusCode::OK,
        None,
    ))
}

/// The OpenAPI description, embedded at build time.
pub const OPENAPI: &str = include_str!("../static/openapi.json");

/// `GET /api/openapi.json`.
pub fn openapi() -> Response {
    json_bytes_response(Bytes::from_static(OPENAPI.as_bytes()), None)
}

/// `GET /health`.
pub fn health(state: AppState) -> Response {
    json_response(
        &Health {
            status: "healthy",
            model_loaded: state.model().is_some(),
            timestamp: now_rfc3339(),
        },
        StatusCode::OK,
        None,
    )
}

/// `GET /ready`: 200 once a model serves and the history can be written;
/// 503 while the model loads, or while the history cannot be written under
/// `fail-closed`. Under `fail-open` a failing history is 200 `degraded`.
pub fn ready(state: AppState) -> Response {
    let Some(loaded) = state.model() else {
        return json_response(
            &Ready {
                status: "loading",
                model_version: None,
                history: None,
            },
            StatusCode::SERVICE_UNAVAILABLE,
            None,
        );
    };
    let model_version = Some(loaded.version.to_string());
    match state.history().writability() {
        Writability::Writable => json_response(
            &Ready {
                status: "ready",
                model_version,
                history: None,
            },
            StatusCode::OK,
            None,
        ),
        Writability::Failing(reason) => {
            let (status, code) = match state.history().policy().failure {
                FailurePolicy::FailClosed => {
                    ("history_unavailable", StatusCode::SERVICE_UNAVAILABLE)
                }
                FailurePolicy::FailOpen => ("degraded", StatusCode::OK),
            };
            json_response(
                &Ready {
                    status,
                    model_version,
                    history: Some(format!(
                        "the prediction history cannot be written: {reason}"
                    )),
                },
                code,
                None,
            )
        }
    }
}

/// `GET /metrics`.
pub async fn metrics(state: AppState) -> Result<Response, Rejection> {
    state
        .metrics()
        .history_queue
        .set(state.history().queued() as i64);
    match state.model() {
        Some(loaded) => {
            let drift = drift_report(&state, &loaded);
            state.metrics().set_drift(
                &drift.model_version,
                (drift.window.transactions > 0).then_some(&drift.report),
            );
        }
        None => state.metrics().set_drift("", None),
    }
    let text = state
        .metrics()
        .render()
        .map_err(|e| reject(ApiError::Internal(format!("cannot render metrics: {e}"))))?;
    let mut response = Response::new(text.into());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

/// An embedded UI file (the caller checked that it exists).
pub fn asset(name: &str) -> Response {
    match crate::ui::find(name) {
        Some((bytes, content_type)) => {
            let mut response = Response::new(Bytes::from_static(bytes).into());
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        None => ApiError::NotFound.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_query(query: &str) -> Result<(u32, u64), ApiError> {
        filtered_query(query).map(|(limit, offset, _)| (limit, offset))
    }

    fn filtered_query(query: &str) -> Result<(u32, u64, Filter), ApiError> {
        serde_urlencoded::from_str::<PageQuery>(query)
            .expect("a query")
            .page()
    }

    #[test]
    fn page_query_reads_filters() {
        let (_, _, filter) =
            filtered_query("risk_level=high&is_fraud=1&since=2026-11-30&until=2026-11-30")
                .expect("valid");
        assert_eq!(filter.risk_level, Some("HIGH"));
        assert_eq!(filter.is_fraud, Some(true));
        assert_eq!(filter.since.as_deref(), Some("2026-11-30T00:00:00.000Z"));
        assert_eq!(filter.until.as_deref(), Some("2026-11-30T23:59:59.999Z"));
        let (_, _, filter) = filtered_query("since=2026-11-30T14:05:00Z").expect("valid");
        assert_eq!(filter.since.as_deref(), Some("2026-11-30T14:05:00.000Z"));
        match filtered_query("risk_level=SEVERE&is_fraud=maybe&until=yesterday") {
            Err(ApiError::BadRequest { details, .. }) => {
                let fields: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
                assert_eq!(fields, ["risk_level", "is_fraud", "until"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn page_query_names_each_bad_parameter() {
        assert_eq!(page_query(""), Ok((50, 0)));
        assert_eq!(page_query("limit=10&offset=20&x=y"), Ok((10, 20)));
        assert_eq!(page_query("limit=%31%30"), Ok((10, 0)), "percent-decoded");
        match page_query("limit=0&offset=-1") {
            Err(ApiError::BadRequest { details, .. }) => {
                let fields: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
                assert_eq!(fields, ["limit", "offset"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bodies_that_are_not_objects_name_the_body() {
        for (body, needle) in [
            (&b"[1,2]"[..], "an array"),
            (b"{\"amount\": ", "ends early"),
            (b"{nope}", "invalid JSON"),
        ] {
            match parse_object(body) {
                Err(ApiError::BadRequest { details, .. }) => {
                    assert_eq!(details[0].field, "body");
                    assert!(details[0].reason.contains(needle), "{}", details[0].reason);
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

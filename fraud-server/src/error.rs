//! The one API error type and the one rejection handler that turns every
//! rejection (ours and warp's) into a JSON body naming the problem.

use std::convert::Infallible;

use serde::Serialize;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reject::Reject;
use warp::reply::Response;
use warp::{Rejection, Reply};

/// One bad field of a request and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field, as a path into the request (`amount`, `transactions[3].amount`,
    /// `body`, `limit`).
    pub field: String,
    /// What was wrong with it.
    pub reason: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Everything a request can fail with. Each variant maps to one status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the body or query is not what the endpoint reads (bad JSON, wrong shape).
    BadRequest {
        /// Summary.
        error: String,
        /// Each problem.
        details: Vec<FieldError>,
    },
    /// 422: well-formed, but field values the model cannot score.
    Unprocessable {
        /// Summary.
        error: String,
        /// Each bad field.
        details: Vec<FieldError>,
    },
    /// 413: the body or the batch is larger than allowed.
    PayloadTooLarge(String),
    /// 415: a body that is not announced as JSON.
    UnsupportedMediaType(String),
    /// 408: the request body stalled past the body read timeout.
    RequestTimeout(String),
    /// 401: missing or wrong `X-API-Key`.
    Unauthorized,
    /// 429: over the rate limit; retry after this many seconds.
    RateLimited {
        /// Seconds until a request would be allowed again (at least 1).
        retry_after_secs: u64,
    },
    /// 503: no model is loaded yet (the default model is still training).
    ModelNotLoaded,
    /// 503: a part of the server is shutting down or has failed.
    Unavailable(String),
    /// 404: no such route.
    NotFound,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 403: a cross-origin request from an origin or with a header CORS does not allow.
    Forbidden(String),
    /// 500: a bug or an environment failure; the message is logged and returned.
    Internal(String),
    /// 401: missing or wrong `X-Admin-Key` on an `/admin/*` request.
    AdminUnauthorized,
    /// 404: a thing the request names (a model version) does not exist; the
    /// message names it.
    NoSuch(String),
    /// 409: the request cannot be done in the current state (nothing to roll
    /// back to, no shadow model set).
    Conflict(String),
    /// 404: the route exists, but what the request names does not (a label
    /// for an id no stored prediction has); each one is listed.
    Unknown {
        /// Summary.
        error: String,
        /// Each unknown item.
        details: Vec<FieldError>,
    },
}

impl Reject for ApiError {}

/// Marks an error response with its [`ApiError::kind`], for the metrics
/// recorded after the response is built.
#[derive(Debug, Clone, Copy)]
pub struct ErrorKind(pub &'static str);

impl ApiError {
    /// A 400 about one field.
    pub fn bad_field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let detail = FieldError::new(field, reason);
        ApiError::BadRequest {
            error: format!("invalid request: `{}` {}", detail.field, detail.reason),
            details: vec![detail],
        }
    }

    /// The engine's scoring error as an API error: bad fields are 422 and
    /// list every field; anything else is a server fault.
    pub fn from_engine(error: fraud_engine::Error, prefix: &str) -> Self {
        match error {
            fraud_engine::Error::InvalidFields { problems } => {
                let details: Vec<FieldError> = problems
                    .into_iter()
                    .map(|p| FieldError::new(format!("{prefix}{}", p.field), p.reason))
                    .collect();
                ApiError::Unprocessable {
                    error: invalid_fields_summary(&details),
                    details,
                }
            }
            fraud_engine::Error::InvalidInput { field, reason } => {
                let details = vec![FieldError::new(format!("{prefix}{field}"), reason)];
                ApiError::Unprocessable {
                    error: invalid_fields_summary(&details),
                    details,
                }
            }
            other => ApiError::Internal(other.to_string()),
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ModelNotLoaded | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotFound | ApiError::Unknown { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::AdminUnauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NoSuch(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
        }
    }

    /// A short machine-readable name, used as a metrics label.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::Unprocessable { .. } => "invalid_fields",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::Unauthorized => "unauthorized",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::ModelNotLoaded => "model_not_loaded",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Internal(_) => "internal",
            ApiError::AdminUnauthorized => "admin_unauthorized",
            ApiError::NoSuch(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Unknown { .. } => "unknown_id",
        }
    }

    /// The JSON response.
    pub fn into_response(self) -> Response {
        let status = self.status();
        let kind = self.kind();
        let retry_after = match &self {
            ApiError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let body = match self {
            ApiError::BadRequest { error, details }
            | ApiError::Unprocessable { error, details }
            | ApiError::Unknown { error, details } => ErrorBody {
                error,
                details: Some(details),
            },
            ApiError::PayloadTooLarge(error)
            | ApiError::UnsupportedMediaType(error)
            | ApiError::RequestTimeout(error)
            | ApiError::Unavailable(error)
            | ApiError::Forbidden(error)
            | ApiError::NoSuch(error)
            | ApiError::Conflict(error)
            | ApiError::Internal(error) => ErrorBody {
                error,
                details: None,
            },
            ApiError::Unauthorized => ErrorBody {
                error: "Invalid API key".into(),
                details: None,
            },
            ApiError::AdminUnauthorized => ErrorBody {
                error: "Invalid admin key (X-Admin-Key)".into(),
                details: None,
            },
            ApiError::RateLimited { .. } => ErrorBody {
                error: "Rate limit exceeded".into(),
                details: None,
            },
            ApiError::ModelNotLoaded => ErrorBody {
                error: "No model is loaded yet".into(),
                details: None,
            },
            ApiError::NotFound => ErrorBody {
                error: "Not found".into(),
                details: None,
            },
            ApiError::MethodNotAllowed => ErrorBody {
                error: "Method not allowed".into(),
                details: None,
            },
        };
        let mut response =
            warp::reply::with_status(warp::reply::json(&body), status).into_response();
        response.extensions_mut().insert(ErrorKind(kind));
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            // RFC 9110: a 415 to a POST says which type would be accepted.
            response
                .headers_mut()
                .insert("accept-post", HeaderValue::from_static("application/json"));
        }
        response
    }
}

fn invalid_fields_summary(details: &[FieldError]) -> String {
    let names: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
    format!("invalid fields: {}", names.join(", "))
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Vec<FieldError>>,
}

/// The error an unmatched or failed request ends in, for every route.
pub fn rejection_to_error(rejection: &Rejection) -> ApiError {
    if let Some(e) = rejection.find::<ApiError>() {
        return e.clone();
    }
    if rejection.is_not_found() {
        return ApiError::NotFound;
    }
    if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        return ApiError::MethodNotAllowed;
    }
    if let Some(e) = rejection.find::<warp::filters::cors::CorsForbidden>() {
        return ApiError::Forbidden(format!("CORS: {e}"));
    }
    if let Some(e) = rejection.find::<warp::reject::InvalidQuery>() {
        return ApiError::bad_field("query", e.to_string());
    }
    if let Some(e) = rejection.find::<warp::reject::InvalidHeader>() {
        return ApiError::bad_field("headers", e.to_string());
    }
    if let Some(e) = rejection.find::<warp::reject::MissingHeader>() {
        return ApiError::bad_field("headers", e.to_string());
    }
    if let Some(e) = rejection.find::<warp::reject::PayloadTooLarge>() {
        return ApiError::PayloadTooLarge(e.to_string());
    }
    if let Some(e) = rejection.find::<warp::reject::LengthRequired>() {
        return ApiError::bad_field("headers", e.to_string());
    }
    ApiError::Internal(format!("unhandled rejection: {rejection:?}"))
}

/// Turns any rejection into a JSON error response. The one `.recover` of the
/// server.
pub async fn handle_rejection(rejection: Rejection) -> Result<Response, Infallible> {
    let error = rejection_to_error(&rejection);
    if let ApiError::Internal(message) = &error {
        tracing::error!(%message, "internal error");
    }
    Ok(error.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_field_errors_become_422_with_every_field() {
        let e = fraud_engine::Error::InvalidFields {
            problems: vec![
                fraud_engine::FieldProblem {
                    field: "amount".into(),
                    reason: "missing field".into(),
                },
                fraud_engine::FieldProblem {
                    field: "cardholder_age".into(),
                    reason: "200 is above 150".into(),
                },
            ],
        };
        let api = ApiError::from_engine(e, "transactions[2].");
        assert_eq!(api.status(), StatusCode::UNPROCESSABLE_ENTITY);
        match api {
            ApiError::Unprocessable { details, error } => {
                assert_eq!(details.len(), 2);
                assert_eq!(details[0].field, "transactions[2].amount");
                assert!(error.contains("transactions[2].cardholder_age"));
            }
            other => panic!("{other:?}"),
        }
    }
}

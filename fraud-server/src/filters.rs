//! One filter per endpoint, plus the shared pieces they are built from:
//! state, the API guard (key and rate limit), request ids and a size-limited
//! body that also bounds chunked bodies sent without `Content-Length`.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::error::ApiError;
use crate::handlers;
use crate::state::AppState;

/// Hands the shared state to a handler.
pub fn with_state(
    state: AppState,
) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// The caller's `X-Request-Id` when it is a sensible token, else a new id.
pub fn request_id(state: AppState) -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::header::optional::<String>("x-request-id")
        .or(warp::any().map(|| None))
        .unify()
        .and(with_state(state))
        .map(|given: Option<String>, state: AppState| {
            given
                .filter(|id| valid_request_id(id))
                .unwrap_or_else(|| state.next_request_id())
        })
}

/// Whether a caller-supplied request id is safe to echo and log.
pub fn valid_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// API key and rate limit, for every `/api/*` route.
pub fn api_guard(state: AppState) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<String>("x-api-key")
        .or(warp::any().map(|| None))
        .unify()
        .and(warp::addr::remote())
        .and(with_state(state))
        .and_then(
            |key: Option<String>, remote: Option<SocketAddr>, state: AppState| async move {
                state
                    .admit(key.as_deref(), remote.map(|a| a.ip()))
                    .map_err(warp::reject::custom)
            },
        )
        .untuple_one()
}

/// The request body, at most `limit` bytes. A declared `Content-Length` over
/// the limit is refused before reading; a chunked body is counted as it
/// arrives and refused as soon as it passes the limit.
pub fn json_body(limit: u64) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(move |declared: Option<u64>| async move {
            match declared {
                Some(n) if n > limit => Err(warp::reject::custom(too_large(limit))),
                _ => Ok(()),
            }
        })
        .untuple_one()
        .and(warp::body::stream())
        .and_then(move |stream| collect_limited(stream, limit))
}

fn too_large(limit: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!("request body is larger than {limit} bytes"))
}

async fn collect_limited<S, B>(stream: S, limit: u64) -> Result<Bytes, Rejection>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut stream = std::pin::pin!(stream);
    let mut body = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|e| {
            warp::reject::custom(ApiError::bad_field(
                "body",
                format!("cannot read the request body: {e}"),
            ))
        })?;
        if (body.len() + chunk.remaining()) as u64 > limit {
            return Err(warp::reject::custom(too_large(limit)));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            let n = part.len();
            body.extend_from_slice(part);
            chunk.advance(n);
        }
    }
    Ok(body.freeze())
}

/// `POST /api/predict`.
pub fn predict(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = state.limits().body_bytes;
    warp::path!("api" / "predict")
        .and(warp::post())
        .and(api_guard(state.clone()))
        .and(with_state(state.clone()))
        .and(request_id(state))
        .and(warp::query::<handlers::ExplainQuery>())
        .and(json_body(limit))
        .and_then(handlers::predict)
}

/// `POST /api/predict/batch`.
pub fn predict_batch(
    state: AppState,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = state.limits().batch_body_bytes;
    warp::path!("api" / "predict" / "batch")
        .and(warp::post())
        .and(api_guard(state.clone()))
        .and(with_state(state.clone()))
        .and(request_id(state))
        .and(warp::query::<handlers::ExplainQuery>())
        .and(json_body(limit))
        .and_then(handlers::predict_batch)
}

/// `GET /api/model`.
pub fn model(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "model")
        .and(warp::get())
        .and(api_guard(state.clone()))
        .and(with_state(state))
        .and_then(handlers::model)
}

/// `GET /api/predictions?limit=&offset=`.
pub fn predictions(
    state: AppState,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "predictions")
        .and(warp::get())
        .and(api_guard(state.clone()))
        .and(with_state(state))
        .and(warp::query::<handlers::PageQuery>())
        .and_then(handlers::predictions)
}

/// `GET /api/openapi.json`.
pub fn openapi(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "openapi.json")
        .and(warp::get())
        .and(api_guard(state))
        .map(handlers::openapi)
}

/// `GET /health`.
pub fn health(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("health")
        .and(warp::get())
        .and(with_state(state))
        .map(handlers::health)
}

/// `GET /ready`.
pub fn ready(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("ready")
        .and(warp::get())
        .and(with_state(state))
        .map(handlers::ready)
}

/// `GET /metrics`.
pub fn metrics(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("metrics")
        .and(warp::get())
        .and(with_state(state))
        .and_then(handlers::metrics)
}

/// The web UI: `GET /` and `GET /static/<file>`.
pub fn ui() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let index = warp::path::end()
        .and(warp::get())
        .map(|| handlers::asset("index.html"));
    let assets =
        warp::path!("static" / String)
            .and(warp::get())
            .and_then(|name: String| async move {
                if crate::ui::find(&name).is_some() {
                    Ok(handlers::asset(&name))
                } else {
                    Err(warp::reject::not_found())
                }
            });
    index.or(assets).unify()
}

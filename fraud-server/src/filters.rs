//! One filter per endpoint, plus the shared pieces they are built from:
//! state, the API guard (key and rate limit), request ids and a size-limited
//! body that also bounds chunked bodies sent without `Content-Length`.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use warp::filters::BoxedFilter;
use warp::http::{HeaderMap, Method};
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::connections::{BodyError, ClientAddr};
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

/// The client's address: the one the connection layer records, else
/// warp's (set by `warp::test`).
pub fn remote() -> impl Filter<Extract = (Option<SocketAddr>,), Error = Infallible> + Clone {
    warp::ext::optional::<ClientAddr>()
        .and(warp::addr::remote())
        .map(|ours: Option<ClientAddr>, warps: Option<SocketAddr>| ours.map(|c| c.0).or(warps))
}

/// The client's address, for rate limits and logs: the connection's peer,
/// or, when the peer is a trusted proxy, the one its `X-Forwarded-For`
/// names (see [`crate::proxies`]). Without trusted proxies the header is
/// not even read.
pub fn client(state: AppState) -> BoxedFilter<(Option<IpAddr>,)> {
    if state.settings().trusted_proxies.is_empty() {
        return remote()
            .map(|peer: Option<SocketAddr>| peer.map(|a| a.ip()))
            .boxed();
    }
    remote()
        .and(warp::header::headers_cloned())
        .and(with_state(state))
        .map(
            |peer: Option<SocketAddr>, headers: HeaderMap, state: AppState| {
                peer.map(|a| {
                    // A line that is not text stops the walk like any bad hop.
                    let lines = headers
                        .get_all("x-forwarded-for")
                        .iter()
                        .map(|v| v.to_str().unwrap_or("-"));
                    state.settings().trusted_proxies.client(a.ip(), lines)
                })
            },
        )
        .boxed()
}

/// API key and rate limit, for every `/api/*` route.
pub fn api_guard(state: AppState) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<String>("x-api-key")
        .or(warp::any().map(|| None))
        .unify()
        .and(client(state.clone()))
        .and(with_state(state))
        .and_then(
            |key: Option<String>, client: Option<IpAddr>, state: AppState| async move {
                state
                    .admit(key.as_deref(), client)
                    .map_err(warp::reject::custom)
            },
        )
        .untuple_one()
}

/// Methods some route serves; a request with any other method is checked
/// like an API request (key and rate limit) before it is refused, so
/// unserved methods cost an attacker the same as any request.
pub const SERVED_METHODS: [Method; 3] = [Method::GET, Method::POST, Method::OPTIONS];

/// The API guard for requests whose method no route serves; other requests
/// pass untouched, and so do `/admin/*` requests, which the admin key guards
/// (they must never be rate-limited away by prediction traffic).
pub fn unserved_method(state: AppState) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::method()
        .and(warp::path::full())
        .map(|method: Method, path: warp::path::FullPath| {
            if is_admin_path(path.as_str()) {
                Method::GET
            } else {
                method
            }
        })
        .and(
            warp::header::optional::<String>("x-api-key")
                .or(warp::any().map(|| None))
                .unify(),
        )
        .and(client(state.clone()))
        .and(with_state(state))
        .and_then(
            |method: Method, key: Option<String>, client: Option<IpAddr>, state: AppState| async move {
                if SERVED_METHODS.contains(&method) {
                    return Ok(());
                }
                state
                    .admit(key.as_deref(), client)
                    .map_err(warp::reject::custom)
            },
        )
        .untuple_one()
}

/// Whether a request path is the admin API's.
pub fn is_admin_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// Requires a JSON body: `Content-Type: application/json`, with no charset
/// or `charset=utf-8`. Anything else is 415, before the body is read.
pub fn json_content_type() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .or(warp::any().map(|| None))
        .unify()
        .and_then(|given: Option<String>| async move {
            check_json_content_type(given.as_deref()).map_err(warp::reject::custom)
        })
        .untuple_one()
}

/// Whether a `Content-Type` value announces JSON (see [`json_content_type`]).
pub fn check_json_content_type(given: Option<&str>) -> Result<(), ApiError> {
    let refuse = |what: String| {
        Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type must be application/json ({what})"
        )))
    };
    let Some(given) = given else {
        return refuse("none was given".into());
    };
    // Only an error shows the value: this runs on every prediction.
    let shown = || given.chars().take(80).collect::<String>();
    let mut parts = given.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return refuse(format!("got `{}`", shown()));
    }
    for parameter in parts {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        if name.trim().eq_ignore_ascii_case("charset") {
            let charset = value.trim().trim_matches('"');
            if !(charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8")) {
                return refuse(format!("got `{}`; JSON is read as UTF-8 only", shown()));
            }
        }
    }
    Ok(())
}

/// Refuses a declared `Content-Length` over `limit` (413) before anything
/// else is read.
pub fn declared_length_within(limit: u64) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(move |declared: Option<u64>| async move {
            match declared {
                Some(n) if n > limit => Err(warp::reject::custom(too_large(limit))),
                _ => Ok(()),
            }
        })
        .untuple_one()
}

/// The request body, at most `limit` bytes. A declared `Content-Length` over
/// the limit is refused before reading; a chunked body is counted as it
/// arrives and refused as soon as it passes the limit.
pub fn json_body(limit: u64) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    declared_length_within(limit)
        .and(warp::body::stream())
        .and_then(move |stream| collect_limited(stream, limit))
}

/// A body that stalled past the body read timeout is 408; another read
/// failure (the client went away) is 400.
fn body_read_error(e: &warp::Error) -> ApiError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(timeout @ BodyError::TimedOut(_)) = err.downcast_ref::<BodyError>() {
            return ApiError::RequestTimeout(timeout.to_string());
        }
        source = err.source();
    }
    ApiError::bad_field("body", format!("cannot read the request body: {e}"))
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
        let mut chunk = chunk.map_err(|e| warp::reject::custom(body_read_error(&e)))?;
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
        .and(declared_length_within(limit))
        .and(json_content_type())
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
        .and(declared_length_within(limit))
        .and(json_content_type())
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

// ---- model lifecycle: the admin API, the shadow comparison and drift ----

/// The admin key, for every `/admin/*` route: 404 while the admin API is
/// off, 401 without the right `X-Admin-Key`. Neither the API key nor the
/// rate limit applies.
fn admin_guard(state: AppState) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<String>("x-admin-key")
        .or(warp::any().map(|| None))
        .unify()
        .and(with_state(state))
        .and_then(|key: Option<String>, state: AppState| async move {
            state
                .admit_admin(key.as_deref())
                .map_err(warp::reject::custom)
        })
        .untuple_one()
}

/// Who made an admin change, for the registry's history: `X-Admin-User`
/// when given, else `admin@<client address>`.
fn admin_user(state: AppState) -> impl Filter<Extract = (String,), Error = Rejection> + Clone {
    warp::header::optional::<String>("x-admin-user")
        .or(warp::any().map(|| None))
        .unify()
        .and(client(state))
        .and_then(|user: Option<String>, client: Option<IpAddr>| async move {
            crate::admin::who(user.as_deref(), client).map_err(warp::reject::custom)
        })
}

/// The admin API: `POST /admin/models` (a model file as the body), `GET
/// /admin/models`, `POST /admin/models/{version}/activate`, `POST
/// /admin/rollback`, `POST /admin/models/{version}/shadow` and `DELETE
/// /admin/shadow`.
pub fn admin(state: AppState) -> BoxedFilter<(Response,)> {
    let limit = crate::admin::MAX_MODEL_BYTES;
    let upload = warp::path!("models")
        .and(warp::post())
        .and(declared_length_within(limit))
        .and(with_state(state.clone()))
        .and(admin_user(state.clone()))
        .and(json_body(limit))
        .and_then(crate::admin::upload);
    let list = warp::path!("models")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and_then(crate::admin::list);
    let activate = warp::path!("models" / String / "activate")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(admin_user(state.clone()))
        .and_then(crate::admin::activate);
    let shadow = warp::path!("models" / String / "shadow")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(admin_user(state.clone()))
        .and_then(crate::admin::shadow);
    let rollback = warp::path!("rollback")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(admin_user(state.clone()))
        .and_then(crate::admin::rollback);
    let unshadow = warp::path!("shadow")
        .and(warp::delete())
        .and(with_state(state.clone()))
        .and(admin_user(state.clone()))
        .and_then(crate::admin::unshadow);
    warp::path("admin")
        .and(admin_guard(state))
        .and(
            upload
                .or(list)
                .unify()
                .or(activate)
                .unify()
                .or(shadow)
                .unify()
                .or(rollback)
                .unify()
                .or(unshadow)
                .unify(),
        )
        .boxed()
}

/// `GET /api/shadow?limit=`.
pub fn shadow(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "shadow")
        .and(warp::get())
        .and(api_guard(state.clone()))
        .and(with_state(state))
        .and(warp::query::<handlers::ShadowQuery>())
        .and_then(handlers::shadow)
}

/// `GET /api/drift`.
pub fn drift(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "drift")
        .and(warp::get())
        .and(api_guard(state.clone()))
        .and(with_state(state))
        .and_then(handlers::drift)
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

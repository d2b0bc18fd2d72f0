//! The admin API's handlers: store, list, activate, roll back and shadow
//! models in the registry, and put each change in service at once.
//!
//! Every change is made in the registry first (which loads the model and
//! checks its golden set before the manifest may name it), then the models
//! in memory follow the manifest. A model that fails is refused (422) and
//! the serving one stays. Changes are serialised, so the models in memory
//! follow the manifest's changes in their order; a swap never fails a
//! request (requests already scoring finish on the model they started on).

use std::net::IpAddr;

use bytes::Bytes;
use fraud_engine::Model;
use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Rejection, Reply};

use crate::error::{ApiError, FieldError};
use crate::lifecycle::{self, DeployError};
use crate::registry::{Entry, Manifest, Registry, RegistryError};
use crate::state::AppState;

/// The largest model file `POST /admin/models` accepts (256 MiB).
pub const MAX_MODEL_BYTES: u64 = 256 * 1024 * 1024;

/// Longest `X-Admin-User` accepted.
const MAX_USER_LEN: usize = 128;

fn reject(e: ApiError) -> Rejection {
    warp::reject::custom(e)
}

fn json<T: Serialize>(body: &T) -> Response {
    warp::reply::with_status(warp::reply::json(body), StatusCode::OK).into_response()
}

/// Who the registry records for a change: `X-Admin-User` when given (a
/// name of at most 128 characters without control characters), else
/// `admin@<client address>`.
pub fn who(user: Option<&str>, client: Option<IpAddr>) -> Result<String, ApiError> {
    match user.map(str::trim) {
        Some(name)
            if !name.is_empty()
                && name.chars().count() <= MAX_USER_LEN
                && !name.chars().any(char::is_control) =>
        {
            Ok(name.to_owned())
        }
        Some(_) => Err(ApiError::bad_field(
            "X-Admin-User",
            format!("must be a name of 1 to {MAX_USER_LEN} characters, without control characters"),
        )),
        None => Ok(match client {
            Some(ip) => format!("admin@{ip}"),
            None => "admin@unknown".to_owned(),
        }),
    }
}

/// The registry's error as the API's: an unknown version is 404, a text
/// that cannot be a version 400, nothing to roll back to 409, a model that
/// fails to load or check 422 (naming why), anything else 500.
fn registry_error(e: RegistryError, field: &str) -> ApiError {
    let message = e.to_string();
    match e {
        RegistryError::UnknownVersion { .. } => ApiError::NoSuch(message),
        RegistryError::BadVersion { .. } => ApiError::bad_field("version", message),
        RegistryError::NothingToRollBack { .. } => ApiError::Conflict(message),
        RegistryError::Refused(_) | RegistryError::Tampered { .. } => ApiError::Unprocessable {
            error: message.clone(),
            details: vec![FieldError::new(field, message)],
        },
        RegistryError::Io { .. } | RegistryError::Manifest { .. } => ApiError::Internal(message),
    }
}

fn deploy_error(e: DeployError) -> ApiError {
    let message = e.to_string();
    match e {
        DeployError::Version { source, .. } => match registry_error(*source, "version") {
            ApiError::Unprocessable { details, .. } => ApiError::Unprocessable {
                error: message,
                details,
            },
            other => other,
        },
        DeployError::Registry(source) => registry_error(source, "version"),
        DeployError::File { .. } | DeployError::Describe(_) => ApiError::Internal(message),
    }
}

fn registry(state: &AppState) -> Result<Registry, Rejection> {
    state.registry().cloned().ok_or_else(|| {
        reject(ApiError::Unavailable(
            "this server has no model registry".into(),
        ))
    })
}

fn task_failed(e: tokio::task::JoinError) -> Rejection {
    reject(ApiError::Internal(format!("the registry task failed: {e}")))
}

/// `POST /admin/models` answer.
#[derive(Debug, Serialize)]
pub struct Stored {
    /// The stored model's version.
    pub model_version: String,
}

/// The roles after a change.
#[derive(Debug, Serialize)]
pub struct Roles {
    /// The version answering requests.
    pub active: Option<String>,
    /// The version scoring them in the shadow.
    pub shadow: Option<String>,
}

/// `GET /admin/models` answer.
#[derive(Debug, Serialize)]
pub struct Listing {
    /// The version answering requests.
    pub active: Option<String>,
    /// The shadow version.
    pub shadow: Option<String>,
    /// Every stored version, newest training first.
    pub models: Vec<Entry>,
}

/// `POST /admin/models`: stores the model file in the body, after loading
/// it and checking its golden set; it does not serve until activated.
pub async fn upload(state: AppState, by: String, body: Bytes) -> Result<Response, Rejection> {
    let registry = registry(&state)?;
    let stored = tokio::task::spawn_blocking(move || registry.add_bytes(&body))
        .await
        .map_err(task_failed)?;
    match stored {
        Ok(model) => {
            tracing::info!(model_version = %model.version(), by = %by, "stored an uploaded model");
            Ok(json(&Stored {
                model_version: model.version().to_owned(),
            }))
        }
        Err(e) => {
            tracing::warn!(error = %e, by = %by, "refused an uploaded model");
            Err(reject(registry_error(e, "body")))
        }
    }
}

/// `GET /admin/models`.
pub async fn list(state: AppState) -> Result<Response, Rejection> {
    let registry = registry(&state)?;
    let listing = tokio::task::spawn_blocking(move || {
        let manifest = registry.manifest()?;
        let models = registry.list()?;
        Ok::<_, RegistryError>(Listing {
            active: manifest.active,
            shadow: manifest.shadow,
            models,
        })
    })
    .await
    .map_err(task_failed)?
    .map_err(|e| reject(registry_error(e, "version")))?;
    Ok(json(&listing))
}

/// Makes one change in the registry, then serves what its manifest names.
async fn change<F>(
    state: AppState,
    what: &'static str,
    by: String,
    op: F,
) -> Result<Response, Rejection>
where
    F: FnOnce(&Registry, &str) -> Result<(Option<Model>, Manifest), RegistryError> + Send + 'static,
{
    let registry = registry(&state)?;
    let _changing = state.changing().lock().await;
    let planning = state.clone();
    let who = by.clone();
    let planned = tokio::task::spawn_blocking(move || {
        let (model, manifest) = op(&registry, &who).map_err(|e| registry_error(e, "version"))?;
        let plan = lifecycle::plan(&registry, &manifest, &planning, model.into_iter().collect())
            .map_err(deploy_error)?;
        Ok::<_, ApiError>((plan, manifest))
    })
    .await
    .map_err(task_failed)?;
    let (plan, manifest) = match planned {
        Ok(planned) => planned,
        Err(e) => {
            tracing::warn!(what, by = %by, error = ?e, "admin change refused; the serving models are unchanged");
            return Err(reject(e));
        }
    };
    lifecycle::apply(&state, plan).map_err(|e| reject(deploy_error(e)))?;
    tracing::info!(
        what,
        by = %by,
        active = manifest.active.as_deref().unwrap_or("none"),
        shadow = manifest.shadow.as_deref().unwrap_or("none"),
        "admin change applied"
    );
    Ok(json(&Roles {
        active: manifest.active,
        shadow: manifest.shadow,
    }))
}

/// `POST /admin/models/{version}/activate`.
pub async fn activate(version: String, state: AppState, by: String) -> Result<Response, Rejection> {
    change(state, "activate", by, move |registry, by| {
        let (model, manifest) = registry.activate(&version, by)?;
        Ok((Some(model), manifest))
    })
    .await
}

/// `POST /admin/rollback`.
pub async fn rollback(state: AppState, by: String) -> Result<Response, Rejection> {
    change(state, "rollback", by, |registry, by| {
        let (model, manifest) = registry.rollback(by)?;
        Ok((Some(model), manifest))
    })
    .await
}

/// `POST /admin/models/{version}/shadow`.
pub async fn shadow(version: String, state: AppState, by: String) -> Result<Response, Rejection> {
    change(state, "shadow", by, move |registry, by| {
        let (model, manifest) = registry.set_shadow(&version, by)?;
        Ok((Some(model), manifest))
    })
    .await
}

/// `DELETE /admin/shadow`.
pub async fn unshadow(state: AppState, by: String) -> Result<Response, Rejection> {
    change(state, "unshadow", by, |registry, by| {
        Ok((None, registry.clear_shadow(by)?))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_is_the_named_user_or_the_address() {
        let ip: IpAddr = "10.1.2.3".parse().expect("ip");
        assert_eq!(who(Some("alice"), Some(ip)), Ok("alice".into()));
        assert_eq!(who(None, Some(ip)), Ok("admin@10.1.2.3".into()));
        assert_eq!(who(None, None), Ok("admin@unknown".into()));
        assert!(who(Some(""), None).is_err());
        assert!(who(Some(&"x".repeat(129)), None).is_err());
        assert!(who(Some("a\u{7f}b"), None).is_err());
    }
}

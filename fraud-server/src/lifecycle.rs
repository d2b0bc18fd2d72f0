//! Which models serve: the registry's manifest applied to the running
//! server, at start-up, on SIGHUP and after each admin operation.
//!
//! The rule for `serve --model FILE`: the file's model is stored and
//! activated when its content (its version) differs from the one the
//! manifest recorded for that file; otherwise the manifest's active version
//! serves, so a rollback made through the admin API or the CLI survives a
//! restart and a SIGHUP. Every model is loaded, and so checked against its
//! golden set, before it serves; one that fails never replaces the serving
//! one.

use std::path::{Path, PathBuf};

use fraud_engine::Model;

use crate::registry::{Manifest, Registry, RegistryError};
use crate::state::AppState;

/// Why the models the manifest names cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The `--model` file does not load or fails its golden set.
    #[error("cannot load model {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The engine's reason.
        source: fraud_engine::Error,
    },
    /// A version the manifest names does not load or fails its golden set.
    #[error("model version {version} ({role} in the registry {}) cannot serve: {source}", registry.display())]
    Version {
        /// The version.
        version: String,
        /// `active` or `shadow`.
        role: &'static str,
        /// The registry directory.
        registry: PathBuf,
        /// Why.
        source: Box<RegistryError>,
    },
    /// The registry could not be read or written.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The model loaded but cannot be described (a bug).
    #[error("cannot serve the model: {0}")]
    Describe(#[from] fraud_engine::Error),
}

/// The key the manifest records a `--model` file under: its absolute path
/// when it can be found, else the path as given.
pub fn file_key(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Reads the `--model` file and deploys it by the rule above (blocking).
/// Returns the version when it was activated.
pub fn deploy_model_file(
    registry: &Registry,
    path: &Path,
    by: &str,
) -> Result<Option<String>, DeployError> {
    let model = Model::load(path).map_err(|source| DeployError::File {
        path: path.to_path_buf(),
        source,
    })?;
    let (_, activated) = registry.deploy_file(&file_key(path), &model, by)?;
    Ok(activated.then(|| model.version().to_owned()))
}

/// What has to change in memory to serve what the manifest names.
#[derive(Default)]
pub struct Plan {
    /// The model to activate, when it is not the serving one.
    pub active: Option<Model>,
    /// The shadow change: `None` leaves it, `Some(None)` removes it,
    /// `Some(Some(m))` sets it.
    pub shadow: Option<Option<Model>>,
}

/// Loads (and so checks) every model the manifest names that the state does
/// not serve yet (blocking). `known` are models already loaded (the one an
/// admin operation just checked), used instead of reading them again.
pub fn plan(
    registry: &Registry,
    manifest: &Manifest,
    state: &AppState,
    mut known: Vec<Model>,
) -> Result<Plan, DeployError> {
    let mut take = |version: &str, role: &'static str| -> Result<Model, DeployError> {
        if let Some(i) = known.iter().position(|m| m.version() == version) {
            return Ok(known.swap_remove(i));
        }
        registry
            .load(version)
            .map_err(|source| DeployError::Version {
                version: version.to_owned(),
                role,
                registry: registry.dir().to_path_buf(),
                source: Box::new(source),
            })
    };
    let serving = state.model().map(|m| m.version.to_string());
    let active = match manifest.active.as_deref() {
        Some(v) if serving.as_deref() != Some(v) => Some(take(v, "active")?),
        _ => None,
    };
    let shadowing = state.shadow().map(|m| m.version.to_string());
    let shadow = match (manifest.shadow.as_deref(), shadowing.as_deref()) {
        (Some(v), now) if now != Some(v) => Some(Some(take(v, "shadow")?)),
        (None, Some(_)) => Some(None),
        _ => None,
    };
    Ok(Plan { active, shadow })
}

/// Puts a plan in service: the new active model (swapped atomically:
/// requests already scoring finish on the old one), then the shadow.
pub fn apply(state: &AppState, plan: Plan) -> Result<(), DeployError> {
    if let Some(model) = plan.active {
        let version = model.version().to_owned();
        state.set_model(model)?;
        tracing::info!(model_version = %version, "activated the model");
    }
    match plan.shadow {
        Some(Some(model)) => {
            let version = model.version().to_owned();
            state.set_shadow(Some(model))?;
            tracing::info!(model_version = %version, "set the shadow model");
        }
        Some(None) => {
            state.set_shadow(None)?;
            tracing::info!("removed the shadow model");
        }
        None => {}
    }
    Ok(())
}

/// Re-reads the `--model` file (if any) and the manifest, and serves what
/// they name (what SIGHUP does). A `--model` file that fails is logged and
/// the manifest still applied; a version the manifest names that fails
/// leaves everything serving as it was.
pub async fn reload(state: &AppState, model_file: Option<&Path>) {
    let Some(registry) = state.registry().cloned() else {
        return;
    };
    let _changing = state.changing().lock().await;
    let file = model_file.map(Path::to_path_buf);
    let planning = state.clone();
    let planned = tokio::task::spawn_blocking(move || {
        if let Some(path) = &file {
            match deploy_model_file(&registry, path, "sighup") {
                Ok(Some(version)) => {
                    tracing::info!(path = %path.display(), model_version = %version, "the model file changed; activating it")
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "model reload failed; the previous model keeps serving")
                }
            }
        }
        let manifest = registry.manifest()?;
        plan(&registry, &manifest, &planning, Vec::new())
    })
    .await;
    let outcome = match planned {
        Ok(Ok(plan)) => apply(state, plan),
        Ok(Err(e)) => Err(e),
        Err(e) => {
            tracing::error!(error = %e, "model reload task failed; the previous model keeps serving");
            return;
        }
    };
    match outcome {
        Ok(()) => {
            let version = |m: Option<std::sync::Arc<crate::state::LoadedModel>>| {
                m.map_or_else(|| "none".to_owned(), |m| m.version.to_string())
            };
            tracing::info!(
                active = %version(state.model()),
                shadow = %version(state.shadow()),
                "reloaded the models from the registry"
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "model reload failed; the previous model keeps serving")
        }
    }
}

//! The model registry: immutable model files by version, and a manifest
//! naming the active model, the shadow model and every activation.
//!
//! Layout of a registry directory:
//!
//! ```text
//! models/<version>.fem   one file per version, never rewritten
//! manifest.json          {"active": ..., "shadow": ..., "history": [...]}
//! .lock                  held while a process changes the manifest
//! ```
//!
//! Every write goes to a temporary file that is synced and then renamed over
//! its target, and the directory is synced after the rename, so a crash at
//! any step leaves either the old state or the new one, never a mix. A model
//! file is written before any manifest names it, so the manifest never
//! points at a missing file. Every model is loaded, validated and checked
//! against its golden set before the manifest may name it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use fraud_engine::Model;
use serde::{Deserialize, Serialize};

/// The default registry directory, relative to the working directory.
pub const DEFAULT_DIR: &str = "data/models";

/// The registry the command line uses when none is given: `models` in
/// `DATA_DIR` when that is set, as `serve` places it, else [`DEFAULT_DIR`].
pub fn default_dir() -> PathBuf {
    match std::env::var_os("DATA_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("models"),
        _ => PathBuf::from(DEFAULT_DIR),
    }
}

const MANIFEST: &str = "manifest.json";
const MODELS: &str = "models";
const LOCK: &str = ".lock";
const TEMP_PREFIX: &str = ".tmp-";

/// What went wrong in the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A file of the registry could not be read or written.
    #[error("model registry {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The manifest is not the JSON this server writes.
    #[error("model registry manifest {path} is damaged: {reason}; restore it from a backup, or remove it to start an empty registry (the model files stay)")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// No model of that version is in the registry.
    #[error("no model version {version} in the registry; GET /admin/models or `fraud-server models list` lists the versions it holds")]
    UnknownVersion {
        /// The version asked for.
        version: String,
    },
    /// The text given as a version cannot be one.
    #[error("{version:?} is not a model version: a version is 16 lowercase hexadecimal digits")]
    BadVersion {
        /// The text given.
        version: String,
    },
    /// A rollback was asked for with nothing to roll back to.
    #[error("nothing to roll back to: no model was active before {active}")]
    NothingToRollBack {
        /// The active version, if any.
        active: String,
    },
    /// The model was refused: it does not load, validate or pass its golden set.
    #[error("model refused: {0}")]
    Refused(#[from] fraud_engine::Error),
    /// The file of a version holds a model of another version: someone
    /// changed a file that is never rewritten.
    #[error("{path} should hold model version {expected} but holds {found}; the file was changed after it was stored")]
    Tampered {
        /// The model file.
        path: PathBuf,
        /// The version its name says.
        expected: String,
        /// The version its content hashes to.
        found: String,
    },
}

type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// What a manifest change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A version became active.
    Activate,
    /// The previously active version became active again.
    Rollback,
    /// A version became the shadow.
    Shadow,
    /// The shadow was removed.
    ClearShadow,
}

/// One entry of the manifest's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// What was done.
    pub action: Action,
    /// The version that became active or shadow; `None` when the shadow
    /// was cleared.
    pub version: Option<String>,
    /// The version that held the role before.
    pub previous: Option<String>,
    /// Who did it: the admin API's caller, the CLI's user, or `startup`.
    pub by: String,
    /// When (RFC 3339, UTC).
    pub at: String,
}

/// The registry's small state file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The version that answers requests.
    pub active: Option<String>,
    /// The version that scores the same requests without answering.
    pub shadow: Option<String>,
    /// Every change, oldest first.
    pub history: Vec<Change>,
    /// The version each `serve --model FILE` held when it was last
    /// deployed, by the file's path: the server activates the file again
    /// only when its content changed, so a rollback survives a restart.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub model_files: std::collections::BTreeMap<String, String>,
}

impl Manifest {
    /// Makes `version` active (and no longer the shadow), recording who did
    /// it; false, and nothing recorded, when it already is active.
    fn record_activation(&mut self, version: &str, by: &str) -> bool {
        if self.active.as_deref() == Some(version) {
            return false;
        }
        let previous = self.active.replace(version.to_owned());
        if self.shadow.as_deref() == Some(version) {
            self.shadow = None;
        }
        self.history.push(Change {
            action: Action::Activate,
            version: Some(version.to_owned()),
            previous,
            by: by.to_owned(),
            at: now(),
        });
        true
    }

    /// The version a rollback returns to: the one that was active just
    /// before the current one became active. Two rollbacks in a row swap
    /// back, as `kubectl rollout undo` does.
    pub fn rollback_target(&self) -> Option<&str> {
        self.history
            .iter()
            .rev()
            .find(|change| matches!(change.action, Action::Activate | Action::Rollback))
            .and_then(|change| change.previous.as_deref())
    }
}

/// A version's role, as `GET /admin/models` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Answers requests.
    Active,
    /// Scores requests without answering them.
    Shadow,
    /// Stored, not serving.
    Stored,
}

/// One version in the registry, with its model card's headline.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The version.
    pub model_version: String,
    /// Its role.
    pub state: Role,
    /// Its model card's headline, or why the stored file cannot be used;
    /// in JSON, the headline's fields or `problem`, beside the others.
    #[serde(flatten)]
    pub card: Card,
    /// The model file's size in bytes.
    pub file_bytes: u64,
}

/// What a stored file gives.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Card {
    /// The model loads: its card's headline.
    Usable(Headline),
    /// It does not.
    Unusable {
        /// Why: the file no longer loads, no longer reproduces its golden
        /// set, or holds another version.
        problem: String,
    },
}

/// A stored model's card, in brief.
#[derive(Debug, Clone, Serialize)]
pub struct Headline {
    /// The version it was derived from.
    pub parent_version: Option<String>,
    /// When it was trained.
    pub created: String,
    /// Training rows.
    pub training_rows: u64,
    /// Trees.
    pub n_trees: usize,
    /// The decision threshold.
    pub threshold: f64,
    /// Out-of-bag PR-AUC, if the model has out-of-bag rows.
    pub oob_pr_auc: Option<f64>,
}

/// A registry directory. Cheap to clone; every operation reads the disk,
/// so several processes (the server, the CLI) may share one directory.
#[derive(Debug, Clone)]
pub struct Registry {
    dir: PathBuf,
}

impl Registry {
    /// Opens the registry at `dir`, creating it if needed, and removes
    /// temporary files an interrupted write left behind.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let registry = Registry { dir: dir.into() };
        let models = registry.dir.join(MODELS);
        fs::create_dir_all(&models).map_err(|source| RegistryError::Io {
            path: models.clone(),
            source,
        })?;
        let _lock = registry.lock()?;
        for folder in [&registry.dir, &models] {
            let entries = fs::read_dir(folder).map_err(|source| RegistryError::Io {
                path: folder.clone(),
                source,
            })?;
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                    // A leftover is harmless, so failing to remove it is too.
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(registry)
    }

    /// The registry directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding `version`.
    pub fn model_path(&self, version: &str) -> Result<PathBuf> {
        check_version(version)?;
        Ok(self.dir.join(MODELS).join(format!("{version}.fem")))
    }

    /// Reads the manifest; an absent manifest is an empty registry.
    pub fn manifest(&self) -> Result<Manifest> {
        let path = self.dir.join(MANIFEST);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| RegistryError::Manifest {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(source) => Err(RegistryError::Io { path, source }),
        }
    }

    /// Stores a model file's bytes, after checking that they load, validate
    /// and reproduce the golden set. Storing a version already held is a
    /// no-op. Returns the model.
    pub fn add_bytes(&self, bytes: &[u8]) -> Result<Model> {
        let model = Model::from_bytes(bytes)?;
        let path = self.model_path(model.version())?;
        if !path.exists() {
            write_atomically(&path, bytes)?;
        }
        Ok(model)
    }

    /// Stores a model file, as [`Registry::add_bytes`] does.
    pub fn add_file(&self, path: &Path) -> Result<Model> {
        let bytes = fs::read(path).map_err(|source| RegistryError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.add_bytes(&bytes)
    }

    /// Stores a model already in memory.
    pub fn add(&self, model: &Model) -> Result<()> {
        let path = self.model_path(model.version())?;
        if !path.exists() {
            write_atomically(&path, &model.to_bytes()?)?;
        }
        Ok(())
    }

    /// Loads `version`, checking that its content still hashes to its name.
    /// Loading runs the golden-set check.
    pub fn load(&self, version: &str) -> Result<Model> {
        let path = self.model_path(version)?;
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RegistryError::UnknownVersion {
                    version: version.to_owned(),
                })
            }
            Err(source) => return Err(RegistryError::Io { path, source }),
        };
        let model = Model::from_bytes(&bytes)?;
        if model.version() != version {
            return Err(RegistryError::Tampered {
                path,
                expected: version.to_owned(),
                found: model.version().to_owned(),
            });
        }
        Ok(model)
    }

    /// Every stored version, newest training first, then those whose file
    /// cannot be used (each with its problem, so that one damaged file
    /// does not hide the others).
    pub fn list(&self) -> Result<Vec<Entry>> {
        let manifest = self.manifest()?;
        let folder = self.dir.join(MODELS);
        let entries = fs::read_dir(&folder).map_err(|source| RegistryError::Io {
            path: folder.clone(),
            source,
        })?;
        let mut listed = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(version) = name.strip_suffix(".fem") else {
                continue;
            };
            if check_version(version).is_err() {
                continue;
            }
            let card = match self.load(version) {
                Ok(model) => {
                    let summary = model.summary();
                    Card::Usable(Headline {
                        parent_version: summary.parent_version,
                        created: summary.created,
                        training_rows: summary.training_rows,
                        n_trees: summary.n_trees,
                        threshold: summary.threshold,
                        oob_pr_auc: summary.oob_metrics.as_ref().and_then(|m| m.pr_auc),
                    })
                }
                Err(e) => Card::Unusable {
                    problem: e.to_string(),
                },
            };
            let state = if manifest.active.as_deref() == Some(version) {
                Role::Active
            } else if manifest.shadow.as_deref() == Some(version) {
                Role::Shadow
            } else {
                Role::Stored
            };
            listed.push(Entry {
                model_version: version.to_owned(),
                state,
                card,
                file_bytes: entry.metadata().map(|m| m.len()).unwrap_or(0),
            });
        }
        let created = |e: &Entry| match &e.card {
            Card::Usable(headline) => Some(headline.created.clone()),
            Card::Unusable { .. } => None,
        };
        listed.sort_by(|a, b| {
            // `None` (no usable file) sorts below every date, so last.
            created(b)
                .cmp(&created(a))
                .then_with(|| a.model_version.cmp(&b.model_version))
        });
        Ok(listed)
    }

    /// Makes `version` the active model. The model is loaded and checked
    /// first; a model that fails leaves the manifest untouched.
    pub fn activate(&self, version: &str, by: &str) -> Result<(Model, Manifest)> {
        let model = self.load(version)?;
        let manifest = self.change(|manifest| Ok(manifest.record_activation(version, by)))?;
        Ok((model, manifest))
    }

    /// Makes the previously active version active again.
    pub fn rollback(&self, by: &str) -> Result<(Model, Manifest)> {
        let target = self
            .manifest()?
            .rollback_target()
            .map(str::to_owned)
            .ok_or_else(|| RegistryError::NothingToRollBack {
                active: self
                    .manifest()
                    .ok()
                    .and_then(|m| m.active)
                    .unwrap_or_else(|| "the first activation".to_owned()),
            })?;
        let model = self.load(&target)?;
        let manifest = self.change(|manifest| {
            // Read again under the lock: another process may have moved on.
            let Some(target) = manifest.rollback_target().map(str::to_owned) else {
                return Err(RegistryError::NothingToRollBack {
                    active: manifest.active.clone().unwrap_or_default(),
                });
            };
            let previous = manifest.active.replace(target.clone());
            if manifest.shadow.as_deref() == Some(target.as_str()) {
                manifest.shadow = None;
            }
            manifest.history.push(Change {
                action: Action::Rollback,
                version: Some(target),
                previous,
                by: by.to_owned(),
                at: now(),
            });
            Ok(true)
        })?;
        // The target read under the lock is the one the manifest now names;
        // if it moved between the two reads, load what the manifest says.
        let model = match manifest.active.as_deref() {
            Some(active) if active != model.version() => self.load(active)?,
            _ => model,
        };
        Ok((model, manifest))
    }

    /// Makes `version` the shadow model.
    pub fn set_shadow(&self, version: &str, by: &str) -> Result<(Model, Manifest)> {
        let model = self.load(version)?;
        let manifest = self.change(|manifest| {
            if manifest.shadow.as_deref() == Some(version) {
                return Ok(false);
            }
            let previous = manifest.shadow.replace(version.to_owned());
            manifest.history.push(Change {
                action: Action::Shadow,
                version: Some(version.to_owned()),
                previous,
                by: by.to_owned(),
                at: now(),
            });
            Ok(true)
        })?;
        Ok((model, manifest))
    }

    /// Removes the shadow model, if any.
    pub fn clear_shadow(&self, by: &str) -> Result<Manifest> {
        self.change(|manifest| {
            let Some(previous) = manifest.shadow.take() else {
                return Ok(false);
            };
            manifest.history.push(Change {
                action: Action::ClearShadow,
                version: None,
                previous: Some(previous),
                by: by.to_owned(),
                at: now(),
            });
            Ok(true)
        })
    }

    /// Deploys the model read from a `serve --model` file (`file` is its
    /// path, as the manifest's key): stores it, and activates it unless the
    /// manifest already records this version for this file and some version
    /// is active (then the manifest's choice stands, a rollback included).
    /// Returns the manifest and whether the model was activated.
    pub fn deploy_file(&self, file: &str, model: &Model, by: &str) -> Result<(Manifest, bool)> {
        self.add(model)?;
        let version = model.version();
        let mut activated = false;
        let manifest = self.change(|manifest| {
            if manifest.model_files.get(file).map(String::as_str) == Some(version)
                && manifest.active.is_some()
            {
                return Ok(false);
            }
            manifest
                .model_files
                .insert(file.to_owned(), version.to_owned());
            activated = manifest.record_activation(version, by);
            Ok(true)
        })?;
        Ok((manifest, activated))
    }

    /// Reads the manifest under the lock, applies `edit`, and writes it
    /// back if `edit` says it changed something.
    fn change(&self, edit: impl FnOnce(&mut Manifest) -> Result<bool>) -> Result<Manifest> {
        let _lock = self.lock()?;
        let mut manifest = self.manifest()?;
        if edit(&mut manifest)? {
            let path = self.dir.join(MANIFEST);
            let mut text =
                serde_json::to_vec_pretty(&manifest).map_err(|e| RegistryError::Manifest {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            text.push(b'\n');
            write_atomically(&path, &text)?;
        }
        Ok(manifest)
    }

    /// An exclusive lock on the registry, released when dropped, so two
    /// processes changing the manifest at once cannot lose a change.
    fn lock(&self) -> Result<File> {
        let path = self.dir.join(LOCK);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| RegistryError::Io {
                path: path.clone(),
                source,
            })?;
        #[cfg(unix)]
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).map_err(|e| {
            RegistryError::Io {
                path,
                source: e.into(),
            }
        })?;
        // Elsewhere the registry relies on one process changing it at a time.
        #[cfg(not(unix))]
        let _ = path;
        Ok(file)
    }
}

fn check_version(version: &str) -> Result<()> {
    if version.len() == 16
        && version
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(RegistryError::BadVersion {
            version: version.to_owned(),
        })
    }
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or
/// the whole new one: write a temporary file beside it, sync it, rename it
/// over the target, then sync the directory so the rename itself survives.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io_error = |source| RegistryError::Io {
        path: path.to_path_buf(),
        source,
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = folder.join(format!("{TEMP_PREFIX}{}-{name}", std::process::id()));
    let written = (|| {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        File::open(folder)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written.map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(seed: u64) -> Model {
        let data = fraud_engine::synth::generate(600, seed);
        let params = fraud_engine::TrainParams {
            n_trees: 5,
            seed,
            ..Default::default()
        };
        fraud_engine::train(&data, &params).expect("training the test model")
    }

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("fraud-registry-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                let _ = fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn activation_rollback_and_shadow_are_recorded() {
        let temp = TempDir::new("roles");
        let registry = Registry::open(&temp.0).unwrap();
        let (a, b) = (model(1), model(2));
        registry.add(&a).unwrap();
        registry.add_bytes(&b.to_bytes().unwrap()).unwrap();

        registry.activate(a.version(), "alice").unwrap();
        let (_, manifest) = registry.activate(b.version(), "bob").unwrap();
        assert_eq!(manifest.active.as_deref(), Some(b.version()));
        assert_eq!(manifest.rollback_target(), Some(a.version()));

        let (rolled, manifest) = registry.rollback("carol").unwrap();
        assert_eq!(rolled.version(), a.version());
        assert_eq!(manifest.active.as_deref(), Some(a.version()));
        // A second rollback swaps back.
        let (rolled, _) = registry.rollback("carol").unwrap();
        assert_eq!(rolled.version(), b.version());

        registry.set_shadow(a.version(), "dave").unwrap();
        let listed = registry.list().unwrap();
        let role = |v: &str| listed.iter().find(|e| e.model_version == v).unwrap().state;
        assert_eq!(role(a.version()), Role::Shadow);
        assert_eq!(role(b.version()), Role::Active);
        let manifest = registry.clear_shadow("erin").unwrap();
        assert_eq!(manifest.shadow, None);

        let actions: Vec<_> = manifest
            .history
            .iter()
            .map(|c| (c.action, c.by.as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                (Action::Activate, "alice"),
                (Action::Activate, "bob"),
                (Action::Rollback, "carol"),
                (Action::Rollback, "carol"),
                (Action::Shadow, "dave"),
                (Action::ClearShadow, "erin"),
            ]
        );
        // Reopening reads the same state back.
        assert_eq!(
            Registry::open(&temp.0).unwrap().manifest().unwrap(),
            manifest
        );
    }

    #[test]
    fn a_damaged_file_is_listed_with_its_problem() {
        let temp = TempDir::new("damaged");
        let registry = Registry::open(&temp.0).unwrap();
        let (a, b) = (model(1), model(2));
        registry.add(&a).unwrap();
        registry.add(&b).unwrap();
        registry.activate(a.version(), "alice").unwrap();
        // The file of b holds a's bytes: another version than its name.
        fs::copy(
            registry.model_path(a.version()).unwrap(),
            registry.model_path(b.version()).unwrap(),
        )
        .unwrap();
        let listed = registry.list().unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].model_version, a.version());
        assert_eq!(listed[0].state, Role::Active);
        assert!(matches!(listed[0].card, Card::Usable(_)));
        assert_eq!(listed[1].model_version, b.version());
        let Card::Unusable { problem } = &listed[1].card else {
            panic!("{:?} should be unusable", listed[1]);
        };
        assert!(
            problem.contains("holds") && problem.contains(a.version()),
            "{problem}"
        );
        // The listing's JSON: the card's fields flat for a usable model, as
        // before; none of them, and the problem, for the damaged one.
        let json = serde_json::to_value(&listed).unwrap();
        assert!(json[0]["created"].is_string() && json[0].get("problem").is_none());
        assert!(json[1].get("created").is_none() && json[1]["problem"].is_string());
    }

    #[test]
    fn refuses_what_it_cannot_trust() {
        let temp = TempDir::new("refuse");
        let registry = Registry::open(&temp.0).unwrap();
        assert!(matches!(
            registry.rollback("x"),
            Err(RegistryError::NothingToRollBack { .. })
        ));
        assert!(matches!(
            registry.activate("0123456789abcdef", "x"),
            Err(RegistryError::UnknownVersion { .. })
        ));
        assert!(matches!(
            registry.activate("../../etc/passwd", "x"),
            Err(RegistryError::BadVersion { .. })
        ));
        assert!(matches!(
            registry.add_bytes(b"not a model"),
            Err(RegistryError::Refused(_))
        ));

        // A stored file swapped for another model is caught on load.
        let (a, b) = (model(3), model(4));
        registry.add(&a).unwrap();
        fs::write(
            registry.model_path(a.version()).unwrap(),
            b.to_bytes().unwrap(),
        )
        .unwrap();
        assert!(matches!(
            registry.activate(a.version(), "x"),
            Err(RegistryError::Tampered { .. })
        ));
        assert_eq!(registry.manifest().unwrap(), Manifest::default());
    }

    #[test]
    fn a_model_file_is_activated_again_only_when_it_changed() {
        let temp = TempDir::new("files");
        let registry = Registry::open(&temp.0).unwrap();
        let (a, b) = (model(6), model(7));
        let (manifest, activated) = registry.deploy_file("/m.fem", &a, "startup").unwrap();
        assert!(activated);
        assert_eq!(manifest.active.as_deref(), Some(a.version()));
        registry.add(&b).unwrap();
        registry.activate(b.version(), "ops").unwrap();
        // The same file again: the operator's choice stands.
        let (manifest, activated) = registry.deploy_file("/m.fem", &a, "startup").unwrap();
        assert!(!activated);
        assert_eq!(manifest.active.as_deref(), Some(b.version()));
        // The file changed: its model is activated.
        let c = model(8);
        let (manifest, activated) = registry.deploy_file("/m.fem", &c, "sighup").unwrap();
        assert!(activated);
        assert_eq!(manifest.active.as_deref(), Some(c.version()));
        assert_eq!(manifest.model_files["/m.fem"], c.version());
        assert_eq!(manifest.rollback_target(), Some(b.version()));
    }

    #[test]
    fn leftovers_of_an_interrupted_write_are_ignored_and_removed() {
        let temp = TempDir::new("crash");
        let registry = Registry::open(&temp.0).unwrap();
        let a = model(5);
        registry.add(&a).unwrap();
        registry.activate(a.version(), "x").unwrap();
        let before = registry.manifest().unwrap();
        // A crash between writing the temporary manifest and renaming it.
        let leftover = temp.0.join(format!("{TEMP_PREFIX}999-{MANIFEST}"));
        fs::write(&leftover, b"{\"active\": \"half-writ").unwrap();
        let reopened = Registry::open(&temp.0).unwrap();
        assert_eq!(reopened.manifest().unwrap(), before);
        assert!(!leftover.exists());
    }
}

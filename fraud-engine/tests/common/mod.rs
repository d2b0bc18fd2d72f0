//! Helpers shared by the integration tests.
#![allow(dead_code)]

use fraud_engine::{synth, Model, TrainParams};

/// A small model trained on generated data, quick enough for every test.
pub fn small_model(rows: usize, trees: usize, seed: u64) -> Model {
    let data = synth::generate(rows, seed);
    let params = TrainParams {
        n_trees: trees,
        seed,
        ..TrainParams::default()
    };
    fraud_engine::Trainer::new(params.clone())
        .and_then(|t| t.threads(1))
        .and_then(|t| t.train(&data))
        .expect("training on generated data succeeds")
}

/// A fresh, empty directory under the system temp dir, removed when
/// dropped; kept (its path printed) when the test fails, to look into.
pub struct TempDir(std::path::PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for TempDir {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept {} for the failing test", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A fresh [`TempDir`].
pub fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("fraud-engine-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    TempDir(dir)
}

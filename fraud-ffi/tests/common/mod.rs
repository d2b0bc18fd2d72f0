//! Helpers shared by the integration tests and the benchmark: where the
//! workspace is, and a freshly built `libfraud_engine.{a,so}`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fraud-ffi sits in the workspace")
        .to_path_buf()
}

/// A failed command's status and output, for an assertion message.
pub fn describe(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The directory holding `libfraud_engine.{a,so}` built from this source
/// tree with this test's profile and target.
///
/// `cargo test` builds the package's library only when the tests link it,
/// which they cannot do with a `cdylib` and a `staticlib`; so the library is
/// built here by a nested `cargo build` (a no-op when it is up to date) into
/// the target directory this test executable runs from,
/// `<target-dir>[/<triple>]/<profile>/deps/`, so it follows
/// `CARGO_TARGET_DIR`, `--release`, `--profile` and `--target`.
pub fn library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test executable is in <target>/<profile>/deps");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev",
            Some(name) => name,
            None => panic!("no profile directory in {}", exe.display()),
        };
        let parent = profile_dir.parent().expect("target directory");
        // Cargo gives integration tests `<target-dir>/tmp`. Unit tests (which
        // include this module too) get no such variable; there, the target
        // directory's marker file (CACHEDIR.TAG) decides, which is missing
        // only when something else created the directory before cargo did.
        let at_root = match option_env!("CARGO_TARGET_TMPDIR") {
            Some(tmp) => {
                let target_dir = Path::new(tmp)
                    .parent()
                    .expect("CARGO_TARGET_TMPDIR is <target-dir>/tmp");
                match (parent.canonicalize(), target_dir.canonicalize()) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => parent == target_dir,
                }
            }
            None => parent.join("CACHEDIR.TAG").exists(),
        };
        let (target_dir, triple) = if at_root {
            (parent, None)
        } else {
            (
                parent.parent().expect("target directory"),
                parent.file_name().and_then(|n| n.to_str()),
            )
        };
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "fraud-ffi",
            "--lib",
            "--profile",
            profile,
        ])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(workspace_dir());
        if let Some(triple) = triple {
            cmd.args(["--target", triple]);
        }
        let output = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        assert!(output.status.success(), "{cmd:?}: {}", describe(&output));
        assert!(
            profile_dir.join("libfraud_engine.a").is_file(),
            "{cmd:?} made no libfraud_engine.a in {}",
            profile_dir.display()
        );
        profile_dir.to_path_buf()
    })
}

/// The number after the first `"key":` from byte `from` of a JSON text, read
/// with Rust's own exact float parser, so bit-for-bit comparisons test the
/// text our C ABI wrote and nothing else.
pub fn json_number(text: &str, from: usize, key: &str) -> f64 {
    let pattern = format!("\"{key}\":");
    let start = from
        + text[from..]
            .find(&pattern)
            .unwrap_or_else(|| panic!("no {key} in {text}"))
        + pattern.len();
    let len = text[start..].find([',', '}', ']']).expect("end of number");
    text[start..start + len]
        .parse()
        .unwrap_or_else(|e| panic!("{key}: {e}"))
}

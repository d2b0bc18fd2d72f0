//! The two Rust example programs (`examples/rust/`) run as their docs say:
//! train and save, then score JSON lines from stdin.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// An example binary that `cargo test` built beside this test.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test path");
    // target/<profile>/deps/examples-<hash> -> target/<profile>/examples/<name>
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo test -p fraud-engine`, which builds the examples (a single --test does not)",
        path.display()
    );
    path
}

/// A directory removed when the test ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn train_then_score_json_lines() {
    let dir =
        TempDir(std::env::temp_dir().join(format!("fraud-engine-examples-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let model = dir.0.join("model.fem");
    let trained = Command::new(example("train_and_score"))
        .args(["".as_ref(), model.as_os_str()])
        .output()
        .expect("train_and_score runs");
    let text = String::from_utf8_lossy(&trained.stdout);
    assert!(
        trained.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    assert!(text.contains("out-of-bag ROC-AUC"), "{text}");
    let explained: serde_json::Value =
        serde_json::from_str(text.lines().last().expect("a line")).expect("JSON");
    assert!(explained["contributions"].is_object(), "{explained}");

    let mut child = Command::new(example("score_jsonl"))
        .arg(&model)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("score_jsonl runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            br#"{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}
not json

{"amount":-5,"transaction_hour":25,"merchant_category":"Grocery","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}
"#,
        )
        .expect("write");
    let output = child.wait_with_output().expect("finishes");
    assert!(output.status.success());
    let answers: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(answers.len(), 3);
    assert!(answers[0]["fraud_probability"].is_number());
    assert_eq!(answers[0]["warnings"], serde_json::json!([]));
    assert_eq!(answers[1]["line"], 2);
    assert_eq!(answers[2]["line"], 4);
    let fields: Vec<&str> = answers[2]["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d["field"].as_str().expect("field"))
        .collect();
    assert_eq!(fields, ["amount", "transaction_hour"]);
}

//! Score transactions given as JSON lines on stdin, one answer line per
//! input line on stdout: the scoring loop a Rust service starts from.
//!
//! ```text
//! cargo run --release -p fraud-engine --example score_jsonl -- MODEL.fem < transactions.jsonl
//! ```
//!
//! Each answer is the body `POST /api/predict` returns. A line that is not a
//! JSON object, or has bad fields, gets `{"line": N, "error": ...}` (with the
//! bad fields named) and the loop goes on.

use std::error::Error;
use std::io::{BufRead, BufWriter, Write};

use fraud_engine::{json::Body, Error as EngineError, Model};

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or("usage: score_jsonl MODEL.fem < transactions.jsonl")?;
    let model = Model::load(path)?;
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (n, line) in stdin.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        // Body borrows the members from the line: no map, no per-key allocation.
        let answer = match Body::parse(line.as_bytes()) {
            Err(e) => {
                serde_json::json!({ "line": n + 1, "error": format!("not a JSON object: {e}") })
            }
            Ok(body) => match model.predict(&body) {
                Ok(prediction) => serde_json::to_value(model.output(&prediction))?,
                Err(EngineError::InvalidFields { problems }) => serde_json::json!({
                    "line": n + 1,
                    "error": "invalid fields",
                    "details": problems,
                }),
                Err(other) => return Err(other.into()),
            },
        };
        serde_json::to_writer(&mut out, &answer)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

//! The command line end to end: generate -> train -> evaluate -> predict ->
//! inspect through the real binary, and bad input failing cleanly.

use std::path::Path;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fraud-server"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

mod common;
use common::temp_dir;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failure is one `error:` line, exit code 1, and no panic.
fn assert_clean_failure(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("note:")).collect();
    assert_eq!(lines.len(), 1, "one error line: {err}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(needle),
        "{err}"
    );
}

#[test]
fn generate_train_evaluate_predict_inspect() {
    let dir = temp_dir("pipeline");
    let (train_csv, test_csv, model, scored) = (
        dir.join("train.csv"),
        dir.join("test.csv"),
        dir.join("model.fem"),
        dir.join("scored.csv"),
    );

    let o = run(&[
        "generate",
        "--rows",
        "20000",
        "--seed",
        "1",
        "--out",
        s(&train_csv),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        "generate",
        "--rows",
        "3000",
        "--seed",
        "2",
        "--out",
        s(&test_csv),
    ]);
    assert!(o.status.success());

    let o = run(&[
        "train",
        "--data",
        s(&train_csv),
        "--trees",
        "30",
        "--threads",
        "2",
        "--out",
        s(&model),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("trained 30 trees on 20000 rows"), "{out}");
    assert!(out.contains("ROC-AUC"), "{out}");
    assert!(
        stderr(&o).contains("left out id column `transaction_id`"),
        "{}",
        stderr(&o)
    );

    let o = run(&[
        "evaluate",
        "--model",
        s(&model),
        "--data",
        s(&test_csv),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let evaluation: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(evaluation["rows"], 3000);
    assert!(evaluation["roc_auc"].as_f64().expect("auc") > 0.7);

    let o = run(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&test_csv),
        "--out",
        s(&scored),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut reader = csv::Reader::from_path(&scored).expect("scored CSV");
    let headers = reader.headers().expect("header").clone();
    assert_eq!(headers.get(0), Some("transaction_id"), "input columns kept");
    // The file's own label column is kept; the verdict is predicted_is_fraud,
    // so no header repeats (it was a second is_fraud).
    assert_eq!(
        &headers.iter().rev().take(3).collect::<Vec<_>>(),
        &["risk_level", "predicted_is_fraud", "fraud_probability"]
    );
    assert_eq!(headers.iter().filter(|h| *h == "is_fraud").count(), 1);
    let mut distinct: Vec<&str> = headers.iter().collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), headers.len(), "no repeated header");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 3000);
    let threshold: f64 = {
        let o = run(&["inspect", "--model", s(&model), "--json"]);
        assert!(o.status.success());
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
        assert_eq!(v["schema"]["features"][2]["kind"], "categorical");
        v["threshold"].as_f64().expect("threshold")
    };
    for row in &rows {
        let p: f64 = row[10].parse().expect("probability");
        assert!((0.0..=1.0).contains(&p));
        assert_eq!(&row[11], if p >= threshold { "1" } else { "0" });
        assert!(["LOW", "MEDIUM", "HIGH"].contains(&&row[12]));
    }

    let o = run(&["inspect", "--model", s(&model)]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("device_trust_score"));
}

#[test]
fn bad_input_fails_with_one_line_and_no_output_file() {
    let dir = temp_dir("bad");
    let data = dir.join("bad.csv");
    let model = dir.join("model.fem");
    std::fs::write(
        &data,
        "amount,kind,is_fraud\n1.5,a,0\n2.5,b,TRUE\n3.5,a,perhaps\n",
    )
    .expect("write");
    let o = run(&["train", "--data", s(&data), "--out", s(&model)]);
    assert_clean_failure(&o, "row 3, column `is_fraud`");
    assert!(!model.exists(), "no partial model");

    let o = run(&[
        "train",
        "--data",
        s(&dir.join("absent.csv")),
        "--out",
        s(&model),
    ]);
    assert_clean_failure(&o, "absent.csv");

    let o = run(&[
        "train",
        "--data",
        s(&data),
        "--label",
        "fraud",
        "--out",
        s(&model),
    ]);
    assert_clean_failure(&o, "no label column `fraud`");

    // A good model, then a CSV with a bad value and one without a needed column.
    let train_csv = dir.join("train.csv");
    assert!(run(&["generate", "--rows", "3000", "--out", s(&train_csv)])
        .status
        .success());
    assert!(run(&[
        "train",
        "--data",
        s(&train_csv),
        "--trees",
        "5",
        "--out",
        s(&model)
    ])
    .status
    .success());
    let text = std::fs::read_to_string(&train_csv).expect("read");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut fields: Vec<&str> = lines[5].split(',').collect();
    fields[1] = "oops";
    lines[5] = fields.join(",");
    let broken = dir.join("broken.csv");
    std::fs::write(&broken, lines.join("\n")).expect("write");
    let scored = dir.join("scored.csv");
    let o = run(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&broken),
        "--out",
        s(&scored),
    ]);
    // Every row that can be scored is; the bad one keeps its place with an
    // error naming the field, and the run says so and fails.
    assert_clean_failure(
        &o,
        "1 of 3000 rows could not be scored (the first: row 5, column `amount`",
    );
    let mut reader = csv::Reader::from_path(&scored).expect("scored CSV");
    let headers = reader.headers().expect("header").clone();
    assert_eq!(headers.iter().next_back(), Some("error"));
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 3000);
    assert_eq!(&rows[4][13], "amount: 'oops' is not a number");
    assert_eq!(&rows[4][10], "", "no probability for a bad row");
    assert_eq!(&rows[5][13], "");
    assert!(rows[5][10].parse::<f64>().is_ok());
    std::fs::remove_file(&scored).expect("remove");

    let narrow = dir.join("narrow.csv");
    std::fs::write(&narrow, "amount,is_fraud\n1,0\n").expect("write");
    let o = run(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&narrow),
        "--out",
        s(&scored),
    ]);
    assert_clean_failure(&o, "missing columns `transaction_hour`");

    std::fs::write(dir.join("junk.fem"), b"FRAUDENGjunk").expect("write");
    let o = run(&["inspect", "--model", s(&dir.join("junk.fem"))]);
    assert_clean_failure(&o, "corrupt model");

    let o = run(&[
        "train",
        "--data",
        s(&train_csv),
        "--class-weight",
        "heavy",
        "--out",
        s(&model),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "usage errors exit 2: {}",
        stderr(&o)
    );
}

#[test]
fn explain_tune_export_and_the_threshold_table() {
    let dir = temp_dir("decision");
    let (train_csv, test_csv, model) = (
        dir.join("train.csv"),
        dir.join("test.csv"),
        dir.join("model.fem"),
    );
    assert!(run(&[
        "generate",
        "--rows",
        "20000",
        "--seed",
        "3",
        "--out",
        s(&train_csv)
    ])
    .status
    .success());
    assert!(run(&[
        "generate",
        "--rows",
        "5000",
        "--seed",
        "4",
        "--out",
        s(&test_csv)
    ])
    .status
    .success());
    let o = run(&[
        "train",
        "--data",
        s(&train_csv),
        "--trees",
        "30",
        "--out",
        s(&model),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    // explain: input columns kept, probability, base value, one contribution per feature.
    let explained = dir.join("explained.csv");
    let o = run(&[
        "explain",
        "--model",
        s(&model),
        "--data",
        s(&test_csv),
        "--out",
        s(&explained),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut reader = csv::Reader::from_path(&explained).expect("explained CSV");
    let headers = reader.headers().expect("header").clone();
    assert_eq!(headers.get(0), Some("transaction_id"));
    let at = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("column {name}"))
    };
    let contributions: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| h.starts_with("contribution_"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(contributions.len(), 8);
    assert!(headers
        .iter()
        .any(|h| h == "contribution_device_trust_score"));
    let (p_at, base_at) = (at("fraud_probability"), at("base_value"));
    let mut rows = 0;
    for record in reader.records() {
        let record = record.expect("row");
        let p: f64 = record[p_at].parse().expect("p");
        let base: f64 = record[base_at].parse().expect("base");
        let sum: f64 = contributions
            .iter()
            .map(|&i| record[i].parse::<f64>().expect("c"))
            .sum();
        assert!(
            (base + sum - p).abs() < 1e-9,
            "local accuracy: {base} + {sum} vs {p}"
        );
        rows += 1;
    }
    assert_eq!(rows, 5000);
    // The same probabilities as predict.
    let scored = dir.join("scored.csv");
    assert!(run(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&test_csv),
        "--out",
        s(&scored)
    ])
    .status
    .success());
    let predicted: Vec<String> = csv::Reader::from_path(&scored)
        .expect("csv")
        .records()
        .map(|r| r.expect("row")[10].to_owned())
        .collect();
    let explained_p: Vec<String> = csv::Reader::from_path(&explained)
        .expect("csv")
        .records()
        .map(|r| r.expect("row")[10].to_owned())
        .collect();
    assert_eq!(predicted, explained_p);

    // tune: only the decision layer changes, and how it was chosen is recorded.
    let tuned = dir.join("tuned.fem");
    let o = run(&[
        "tune",
        "--model",
        s(&model),
        "--data",
        s(&test_csv),
        "--strategy",
        "cost",
        "--review-cost",
        "5",
        "--out",
        s(&tuned),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let inspect = |m: &Path| -> serde_json::Value {
        serde_json::from_slice(&run(&["inspect", "--model", s(m), "--json"]).stdout).expect("JSON")
    };
    let (before, after) = (inspect(&model), inspect(&tuned));
    // A new decision layer is a new version, derived from the old one (the
    // version was the same before it became a hash of the whole model).
    assert_ne!(before["model_version"], after["model_version"]);
    assert_eq!(after["parent_version"], before["model_version"]);
    assert!(
        after["threshold_strategy"]
            .as_str()
            .expect("strategy")
            .starts_with("min-cost=5 on "),
        "{}",
        after["threshold_strategy"]
    );
    let o = run(&[
        "tune",
        "--model",
        s(&model),
        "--data",
        s(&test_csv),
        "--strategy",
        "target-recall",
        "--target",
        "0.9",
        "--out",
        s(&tuned),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let recall_json = run(&[
        "evaluate",
        "--model",
        s(&tuned),
        "--data",
        s(&test_csv),
        "--json",
    ]);
    let evaluation: serde_json::Value = serde_json::from_slice(&recall_json.stdout).expect("JSON");
    assert!(evaluation["recall"].as_f64().expect("recall") >= 0.9);
    let table = evaluation["threshold_table"].as_array().expect("table");
    assert!(table.len() >= 13);
    assert!(table
        .iter()
        .any(|row| row["threshold"] == evaluation["threshold"]));
    let o = run(&[
        "tune",
        "--model",
        s(&model),
        "--data",
        s(&test_csv),
        "--strategy",
        "target-recall",
        "--out",
        s(&tuned),
    ]);
    assert_clean_failure(&o, "needs --target");

    // evaluate prints the table with the model's threshold marked.
    let o = run(&[
        "evaluate",
        "--model",
        s(&model),
        "--data",
        s(&test_csv),
        "--review-cost",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("expected cost") && text.contains("<- model threshold"),
        "{text}"
    );

    // export-trees: documented arrays, one object per tree.
    let trees = dir.join("trees.json");
    assert!(
        run(&["export-trees", "--model", s(&model), "--out", s(&trees)])
            .status
            .success()
    );
    let export: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&trees).expect("read")).expect("JSON");
    let all = export["trees"].as_array().expect("trees");
    assert_eq!(all.len(), 30);
    for key in [
        "children_left",
        "children_right",
        "feature",
        "threshold",
        "value",
        "cover",
    ] {
        assert!(all[0][key].is_array(), "{key}");
    }
    assert_eq!(export["features"][2]["kind"], "categorical");
}

/// `fraud-server inspect ... | head -1`: a reader that goes away ends the
/// program quietly with status 0, as coreutils do.
#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = temp_dir("pipe");
    let model = dir.join("model.fem");
    let csv = dir.join("tx.csv");
    assert!(run(&["generate", "--rows", "2000", "--out", s(&csv)])
        .status
        .success());
    assert!(run(&[
        "train",
        "--data",
        s(&csv),
        "--trees",
        "3",
        "--out",
        s(&model)
    ])
    .status
    .success());
    for args in [
        vec!["inspect", "--model", s(&model)],
        vec!["inspect", "--model", s(&model), "--json"],
    ] {
        let mut child = bin()
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("runs");
        // Closed before the program has loaded the model, so its first write
        // finds no reader.
        drop(child.stdout.take());
        let o = child.wait_with_output().expect("finishes");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{args:?}");
    }
}

#[test]
fn train_takes_a_weight_column() {
    let dir = temp_dir("weights");
    let (plain_csv, weighted_csv, bad_csv) = (
        dir.join("plain.csv"),
        dir.join("weighted.csv"),
        dir.join("bad.csv"),
    );
    assert!(run(&[
        "generate",
        "--rows",
        "4000",
        "--seed",
        "8",
        "--out",
        s(&plain_csv)
    ])
    .status
    .success());
    let text = std::fs::read_to_string(&plain_csv).expect("csv");
    let with_weight = |weight: &dyn Fn(usize, &str) -> String| -> String {
        text.lines()
            .enumerate()
            .map(|(i, line)| {
                if i == 0 {
                    format!("{line},w")
                } else {
                    format!("{line},{}", weight(i, line))
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    };
    let train = |csv: &Path, model: &Path, extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            s(csv),
            "--trees",
            "10",
            "--out",
            s(model),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let inspect = |model: &Path| -> serde_json::Value {
        let o = run(&["inspect", "--model", s(model), "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str(&stdout(&o)).expect("json")
    };
    // Weights of 1 train the unweighted model; the column is not a feature.
    std::fs::write(&weighted_csv, with_weight(&|_, _| "1".into())).expect("write");
    let (plain, ones) = (dir.join("plain.fem"), dir.join("ones.fem"));
    assert!(train(&plain_csv, &plain, &[]).status.success());
    let o = train(&weighted_csv, &ones, &["--weight", "w"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (a, b) = (inspect(&plain), inspect(&ones));
    assert_eq!(a["oob_metrics"], b["oob_metrics"]);
    assert_eq!(a["schema"]["features"].as_array().map(Vec::len), Some(8));
    assert_eq!(b["schema"]["features"].as_array().map(Vec::len), Some(8));
    // Frauds weighing 10 change the model and its out-of-bag metrics.
    std::fs::write(
        &weighted_csv,
        with_weight(&|_, line| {
            if line.ends_with(",1") {
                "10".into()
            } else {
                "1".into()
            }
        }),
    )
    .expect("write");
    let heavy = dir.join("heavy.fem");
    assert!(train(&weighted_csv, &heavy, &["--weight", "w"])
        .status
        .success());
    assert_ne!(inspect(&heavy)["oob_metrics"], a["oob_metrics"]);
    // A bad weight is named by row and column.
    std::fs::write(
        &bad_csv,
        with_weight(&|i, _| if i == 3 { "-2".into() } else { "1".into() }),
    )
    .expect("write");
    let o = train(&bad_csv, &dir.join("bad.fem"), &["--weight", "w"]);
    assert_clean_failure(&o, "row 3, column `w`");
    let o = train(&bad_csv, &dir.join("bad.fem"), &["--weight", "nope"]);
    assert_clean_failure(&o, "no weight column `nope`");
}

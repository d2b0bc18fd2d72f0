"""Python gives exactly the probabilities the Rust CLI gives, for the same model and rows."""

import csv
import subprocess
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

import fraud_engine


def rust_display(x: float) -> str:
    """`x` as Rust's `{}` writes an f64: the shortest round-trip digits, never an exponent."""
    text = repr(x)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text


def test_rust_display():
    assert rust_display(0.0) == "0"
    assert rust_display(1.0) == "1"
    assert rust_display(0.25) == "0.25"
    assert rust_display(1e-7) == "0.0000001"
    assert rust_display(0.1 + 0.2) == "0.30000000000000004"


@pytest.fixture(scope="module")
def scored(cli, tmp_path_factory):
    """A CSV from the CLI, a model the CLI trained on it, and the CLI's scores of held-out rows."""
    tmp = tmp_path_factory.mktemp("parity")
    train_csv, test_csv = tmp / "train.csv", tmp / "test.csv"
    model_path, out_csv = tmp / "cli.fem", tmp / "scored.csv"
    run = lambda *args: subprocess.run([cli, *map(str, args)], check=True, capture_output=True)
    run("generate", "--rows", 6000, "--seed", 21, "--out", train_csv)
    run("generate", "--rows", 3000, "--seed", 22, "--out", test_csv)
    run("train", "--data", train_csv, "--trees", 30, "--seed", 5, "--out", model_path)
    run("predict", "--model", model_path, "--data", test_csv, "--out", out_csv)
    with open(out_csv, newline="") as f:
        cli_rows = list(csv.DictReader(f))
    with open(test_csv, newline="") as f:
        text_rows = list(csv.DictReader(f))
    return {
        "train_csv": train_csv,
        "test_csv": test_csv,
        "model": fraud_engine.load(model_path),
        "cli_rows": cli_rows,
        "text_rows": text_rows,
    }


def assert_same_as_cli(probabilities, cli_rows):
    assert len(probabilities) == len(cli_rows)
    ours = [rust_display(float(p)) for p in probabilities]
    theirs = [row["fraud_probability"] for row in cli_rows]
    assert ours == theirs
    assert [float(t) for t in theirs] == [float(p) for p in probabilities]


def test_every_python_path_matches_the_cli(scored):
    model, cli_rows = scored["model"], scored["cli_rows"]
    frame = pd.read_csv(scored["test_csv"])
    assert_same_as_cli(model.predict_proba(frame), cli_rows)
    assert_same_as_cli(model.predict_proba(scored["text_rows"]), cli_rows)
    assert_same_as_cli([model.predict(r)["fraud_probability"] for r in scored["text_rows"]], cli_rows)
    codes = model.category_codes("merchant_category")
    matrix = frame[model.feature_names].assign(
        merchant_category=frame["merchant_category"].map(codes)
    ).to_numpy(dtype=np.float64)
    assert_same_as_cli(model.predict_proba(matrix), cli_rows)


def test_decisions_match_the_cli(scored):
    model, cli_rows = scored["model"], scored["cli_rows"]
    many = model.predict_many(scored["text_rows"])
    assert [str(r["is_fraud"]) for r in many] == [row["predicted_is_fraud"] for row in cli_rows]
    assert [r["risk_level"] for r in many] == [row["risk_level"] for row in cli_rows]
    assert any(row["risk_level"] != "LOW" for row in cli_rows)


def test_a_python_trained_model_matches_the_cli_trained_one(scored):
    ours = fraud_engine.train(scored["train_csv"], n_trees=30, seed=5)
    frame = pd.read_csv(scored["train_csv"])
    from_frame = fraud_engine.train(frame, n_trees=30, seed=5)
    for model in (ours, from_frame):
        assert model.threshold == scored["model"].threshold
        assert_same_as_cli(model.predict_proba(scored["text_rows"]), scored["cli_rows"])

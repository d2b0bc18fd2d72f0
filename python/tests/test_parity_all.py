"""One parity test across all four front ends: the same model file and rows
scored by the Rust CLI, the Python wheel (from pandas, polars, pyarrow and a
numpy matrix), a C program linked against the static library, and the HTTP
server give the same probabilities, exactly."""

import json
import os
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow.csv
import pytest

import fraud_engine

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def c_scorer(tmp_path_factory):
    """examples/c/score_csv.c built against the static library run-tests.sh builds."""
    lib = os.environ.get("FRAUD_FFI_STATIC_LIB")
    if not lib:
        pytest.skip("FRAUD_FFI_STATIC_LIB not set: run python/run-tests.sh, which builds libfraud_engine.a")
    cc = shutil.which("cc")
    assert cc, "a C compiler is needed for the C front end"
    exe = tmp_path_factory.mktemp("c") / "score_csv"
    subprocess.run(
        [cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(REPO / "include"),
         str(REPO / "examples" / "c" / "score_csv.c"), lib, "-lpthread", "-ldl", "-lm", "-o", str(exe)],
        check=True, capture_output=True,
    )
    return exe


def http_scores(cli, model_path, frame, data_dir):
    """Scores through `fraud-server serve` on a free loopback port, then stops it."""
    server = subprocess.Popen(
        [cli, "serve", "--host", "127.0.0.1", "--port", "0", "--model", str(model_path), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "RATE_LIMIT_PER_MINUTE": "0"},
    )
    try:
        url = None
        for line in server.stdout:
            if "listening on " in line:
                url = line.strip().split("listening on ")[1]
                break
        assert url, "the server did not start"
        # Numbers as numbers (json writes Python floats exactly), categories
        # as text: what a client posts.
        records = [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                   for row in frame.to_dict("records")]
        body = json.dumps({"transactions": records}).encode()
        request = urllib.request.Request(url + "/api/predict/batch", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            predictions = json.load(response)["predictions"]
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)
        server.stdout.close()
    assert code == 0, "the server did not shut down cleanly"
    return [p["fraud_probability"] for p in predictions]


def test_rust_python_c_and_http_give_the_same_probabilities(cli, c_scorer, tmp_path):
    run = lambda *args: subprocess.run([str(cli), *map(str, args)], check=True, capture_output=True, text=True)
    train_csv, test_csv, model_path, scored = (tmp_path / n for n in ("train.csv", "test.csv", "m.fem", "scored.csv"))
    run("generate", "--rows", 5000, "--seed", 31, "--out", train_csv)
    run("generate", "--rows", 400, "--seed", 32, "--out", test_csv)
    run("train", "--data", train_csv, "--trees", 40, "--out", model_path)

    run("predict", "--model", model_path, "--data", test_csv, "--out", scored)
    rust = [float(p) for p in pd.read_csv(scored, dtype={"fraud_probability": str})["fraud_probability"]]

    frame = pd.read_csv(test_csv)
    model = fraud_engine.load(model_path)
    python = model.predict_proba(frame).tolist()
    # The same file as each Python data library reads it, and as the encoded
    # float64 matrix: every one scores bit for bit as the others.
    codes = model.category_codes("merchant_category")
    matrix = frame[model.feature_names].assign(
        merchant_category=frame["merchant_category"].map(codes)).to_numpy("float64")
    python_inputs = {
        "numpy": matrix,
        "polars": pl.read_csv(test_csv),
        "pyarrow": pyarrow.csv.read_csv(test_csv),
        "pandas categorical": frame.astype({"merchant_category": "category"}),
    }

    out = subprocess.run([str(c_scorer), str(model_path), str(test_csv)], check=True, capture_output=True, text=True)
    c = [float(line.split(": ")[1]) for line in out.stdout.splitlines() if line.startswith("row ")]

    http = http_scores(cli, model_path, frame[model.feature_names], tmp_path / "server")

    assert len(rust) == len(python) == len(c) == len(http) == 400
    assert python == rust
    for name, x in python_inputs.items():
        assert model.predict_proba(x).tolist() == rust, name
    assert c == rust
    assert http == rust
    # Not vacuous: the rows do not all score alike.
    assert len(set(rust)) > 50


@pytest.fixture(scope="module")
def c_jsonl_scorer(tmp_path_factory):
    """examples/c/score_jsonl.c built against the static library."""
    lib = os.environ.get("FRAUD_FFI_STATIC_LIB")
    if not lib:
        pytest.skip("FRAUD_FFI_STATIC_LIB not set: run python/run-tests.sh, which builds libfraud_engine.a")
    cc = shutil.which("cc")
    assert cc, "a C compiler is needed for the C front end"
    exe = tmp_path_factory.mktemp("c") / "score_jsonl"
    subprocess.run(
        [cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(REPO / "include"),
         str(REPO / "examples" / "c" / "score_jsonl.c"), lib, "-lpthread", "-ldl", "-lm", "-o", str(exe)],
        check=True, capture_output=True,
    )
    return exe


TRANSACTION = {
    "amount": 250.0, "transaction_hour": 14, "merchant_category": "Electronics",
    "foreign_transaction": 0, "location_mismatch": 0, "device_trust_score": 75,
    "velocity_last_24h": 3, "cardholder_age": 35,
}

# (change to the documented transaction, the fields every front end names, or
# [] when it scores). A CSV cell is text, so each value is also written as
# the CSV cell that carries it: `None` is an empty cell.
BAD_INPUTS = [
    ({}, []),
    ({"transaction_hour": 25}, ["transaction_hour"]),
    ({"amount": -5}, ["amount"]),
    ({"amount": None}, ["amount"]),
    ({"device_trust_score": "high"}, ["device_trust_score"]),
    ({"foreign_transaction": 3}, ["foreign_transaction"]),
    ({"amount": True}, ["amount"]),
    ({"velocity_last_24h": float("inf")}, ["velocity_last_24h"]),
    ({"amount": "250.0"}, []),
    ({"merchant_category": "Spaceships"}, []),
    ({"transaction_hour": 25, "amount": None}, ["amount", "transaction_hour"]),
]


def csv_cell(value):
    if value is None:
        return ""
    if value is True:
        return "true"
    if isinstance(value, float) and value == float("inf"):
        return "1e400"
    return str(value)


def json_value(value):
    # JSON has no infinity: 1e400 is what a client sends for one.
    if isinstance(value, float) and value == float("inf"):
        return "1e400"
    return json.dumps(value)


def json_body(tx):
    return "{" + ", ".join(f"{json.dumps(k)}: {json_value(v)}" for k, v in tx.items()) + "}"


def test_the_same_bad_transaction_gets_the_same_verdict_everywhere(cli, c_jsonl_scorer, tmp_path):
    """A model trained with the shipped schema file: each bad transaction is
    refused by the CLI (an error row), Python (InvalidInputError), C
    (FRAUD_INVALID_INPUT) and HTTP (422), naming the same fields; the good
    ones score in all four."""
    run = lambda *args, check=True: subprocess.run([str(cli), *map(str, args)], check=check, capture_output=True, text=True)
    train_csv, model_path = tmp_path / "train.csv", tmp_path / "m.fem"
    run("generate", "--rows", 3000, "--seed", 41, "--out", train_csv)
    run("train", "--data", train_csv, "--trees", 10, "--out", model_path,
        "--schema", REPO / "fraud-engine" / "schemas" / "transactions.json")
    cases = [dict(TRANSACTION, **change) for change, _ in BAD_INPUTS]
    expected = [sorted(fields) for _, fields in BAD_INPUTS]

    # CLI: an error column names the bad fields of each row.
    data_csv, scored = tmp_path / "cases.csv", tmp_path / "scored.csv"
    pd.DataFrame([{k: csv_cell(v) for k, v in tx.items()} for tx in cases]).to_csv(data_csv, index=False)
    result = run("predict", "--model", model_path, "--data", data_csv, "--out", scored, check=False)
    assert result.returncode == 1 and "rows could not be scored" in result.stderr, result.stderr
    errors = pd.read_csv(scored, dtype=str, keep_default_na=False)["error"]
    cli_fields = [sorted(p.split(": ")[0] for p in e.split("; ")) if e else [] for e in errors]

    # Python: InvalidInputError's problems name the fields.
    model = fraud_engine.load(model_path)
    python_fields = []
    for tx in cases:
        try:
            model.predict(tx)
            python_fields.append([])
        except fraud_engine.InvalidInputError as e:
            python_fields.append(sorted(p["field"] for p in e.problems))

    # C: FRAUD_INVALID_INPUT, the message naming each field.
    lines = "\n".join(json_body(tx) for tx in cases) + "\n"
    out = subprocess.run([str(c_jsonl_scorer), str(model_path)], input=lines, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    c_fields = []
    for line in out:
        if line.startswith("ok "):
            c_fields.append([])
        else:
            assert line.startswith("error FRAUD_INVALID_INPUT: "), line
            c_fields.append(sorted(f for f in TRANSACTION if f"`{f}`" in line))

    # HTTP: 422 naming the fields.
    server = subprocess.Popen(
        [cli, "serve", "--host", "127.0.0.1", "--port", "0", "--model", str(model_path),
         "--data-dir", str(tmp_path / "server")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "RATE_LIMIT_PER_MINUTE": "0"},
    )
    http_fields = []
    try:
        url = next(line.strip().split("listening on ")[1] for line in server.stdout if "listening on " in line)
        for tx in cases:
            request = urllib.request.Request(url + "/api/predict", data=json_body(tx).encode(),
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30):
                    http_fields.append([])
            except urllib.error.HTTPError as e:
                assert e.code == 422, e.read()
                http_fields.append(sorted(d["field"] for d in json.load(e)["details"]))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        server.stdout.close()

    assert cli_fields == expected
    assert python_fields == expected
    assert c_fields == expected
    assert http_fields == expected

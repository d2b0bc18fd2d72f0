"""One parity test across all four front ends: the same model file and rows
scored by the Rust CLI, the Python wheel, a C program linked against the
static library, and the HTTP server give the same probabilities, exactly."""

import json
import os
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path

import pandas as pd
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

    out = subprocess.run([str(c_scorer), str(model_path), str(test_csv)], check=True, capture_output=True, text=True)
    c = [float(line.split(": ")[1]) for line in out.stdout.splitlines() if line.startswith("row ")]

    http = http_scores(cli, model_path, frame[model.feature_names], tmp_path / "server")

    assert len(rust) == len(python) == len(c) == len(http) == 400
    assert python == rust
    assert c == rust
    assert http == rust
    # Not vacuous: the rows do not all score alike.
    assert len(set(rust)) > 50

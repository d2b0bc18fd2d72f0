"""Shared fixtures: generated data, a small trained model, the CLI binary."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import fraud_engine

REPO = Path(__file__).resolve().parents[2]

TRANSACTION = {
    "amount": 250.0,
    "transaction_hour": 14,
    "merchant_category": "Electronics",
    "foreign_transaction": 0,
    "location_mismatch": 0,
    "device_trust_score": 75,
    "velocity_last_24h": 3,
    "cardholder_age": 35,
}


@pytest.fixture(scope="session")
def frame():
    """4,000 generated transactions (a pandas DataFrame)."""
    return fraud_engine.generate(4_000, seed=7)


@pytest.fixture(scope="session")
def holdout():
    """2,000 other generated transactions."""
    return fraud_engine.generate(2_000, seed=8)


@pytest.fixture(scope="session")
def model(frame):
    """A small model trained on `frame`."""
    return fraud_engine.train(frame, n_trees=25, seed=3)


@pytest.fixture(scope="session")
def optional_model(frame):
    """A model trained on `frame` whose schema file lets every feature be
    missing (the default schema requires them all)."""
    schema = json.loads((REPO / "fraud-engine/schemas/transactions.json").read_text())
    for feature in schema["features"]:
        feature["required"] = False
    return fraud_engine.train(frame, schema=json.dumps(schema), n_trees=25, seed=3)


@pytest.fixture()
def transaction():
    return dict(TRANSACTION)


@pytest.fixture(scope="session")
def cli():
    """Path to the `fraud-server` binary: $FRAUD_SERVER_BIN, else built with cargo."""
    given = os.environ.get("FRAUD_SERVER_BIN")
    if given:
        return Path(given)
    cargo = shutil.which("cargo")
    assert cargo, "set FRAUD_SERVER_BIN or put cargo on PATH to build fraud-server"
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    subprocess.run(
        [cargo, "build", "--release", "-p", "fraud-server"], cwd=REPO, check=True
    )
    return target / "release" / "fraud-server"

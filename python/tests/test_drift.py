"""Model.drift: the figures `fraud-server drift --json` gives, from any table shape."""

import json
import subprocess

import pytest

import fraud_engine


def test_drift_is_the_cli_report(model, holdout, cli, tmp_path):
    model_path = tmp_path / "model.fem"
    data_path = tmp_path / "holdout.csv"
    model.save(model_path)
    holdout.to_csv(data_path, index=False)
    run = subprocess.run(
        [cli, "drift", "--model", str(model_path), "--data", str(data_path), "--json"],
        check=True,
        capture_output=True,
    )
    expected = json.loads(run.stdout)
    report = model.drift(holdout)
    assert report["rows"] == len(holdout)
    assert [p["feature"] for p in report["features"]] == model.feature_names
    # The CSV round trip writes each number as pandas prints it, which parses
    # back to the same double, so the figures agree to the last bit.
    assert report == expected
    # Every table shape the wheel reads gives the same report.
    assert model.drift(holdout.to_dict("records")) == report
    assert model.drift({c: holdout[c].to_numpy() for c in holdout.columns}) == report


def test_shifted_traffic_drifts_and_training_like_traffic_does_not(model, holdout):
    assert all(p["band"] == "stable" for p in model.drift(holdout)["features"])
    shifted = holdout.copy()
    shifted["amount"] = shifted["amount"] * 8 + 500
    amount = next(p for p in model.drift(shifted)["features"] if p["feature"] == "amount")
    assert amount["psi"] > 0.25 and amount["band"] == "significant"
    assert amount["top_moving_bins"][0]["actual"] > amount["top_moving_bins"][0]["expected"]


def test_drift_names_what_it_cannot_read(model, holdout):
    with pytest.raises(fraud_engine.SchemaError, match="amount"):
        model.drift(holdout.drop(columns=["amount"]))
    with pytest.raises(TypeError, match="DataFrame"):
        model.drift(holdout[model.feature_names].select_dtypes("number").to_numpy())

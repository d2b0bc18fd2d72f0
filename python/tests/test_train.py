"""train() from CSV, DataFrame and dict of columns; kind inference; generate()."""

import logging
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import fraud_engine


def kinds(model):
    return {f["name"]: f["kind"] for f in model.metadata["schema"]["features"]}


def importances(model):
    return [f["importance"] for f in model.metadata["schema"]["features"]]


def test_csv_dataframe_and_columns_train_the_same_model(frame, tmp_path, holdout):
    path = tmp_path / "train.csv"
    frame.to_csv(path, index=False)
    from_csv = fraud_engine.train(path, n_trees=10, seed=5)
    from_str_path = fraud_engine.train(str(path), n_trees=10, seed=5)
    from_frame = fraud_engine.train(frame, n_trees=10, seed=5)
    from_columns = fraud_engine.train({k: frame[k].to_numpy() for k in frame}, n_trees=10, seed=5)
    from_lists = fraud_engine.train({k: frame[k].tolist() for k in frame}, n_trees=10, seed=5)
    expected = from_csv.predict_proba(holdout)
    for other in (from_str_path, from_frame, from_columns, from_lists):
        assert other.feature_names == from_csv.feature_names
        assert kinds(other) == kinds(from_csv)
        np.testing.assert_array_equal(other.predict_proba(holdout), expected)
        assert importances(other) == importances(from_csv)


def test_same_seed_same_model_on_any_thread_count(frame):
    one = fraud_engine.train(frame, n_trees=12, seed=9, threads=1)
    two = fraud_engine.train(frame, n_trees=12, seed=9, threads=2)
    assert importances(one) == importances(two)
    np.testing.assert_array_equal(one.predict_proba(frame), two.predict_proba(frame))
    other = fraud_engine.train(frame, n_trees=12, seed=10)
    assert not np.array_equal(other.predict_proba(frame), one.predict_proba(frame))


def test_kind_inference_mirrors_csv_reading(tmp_path, caplog):
    rng = np.random.default_rng(0)
    n = 400
    label = rng.integers(0, 2, n)
    data = {
        "id": np.arange(n),
        "customer_id": np.arange(n) % 7,
        "spend": rng.normal(size=n),
        "count": rng.integers(0, 9, n),
        "bool_flag": rng.integers(0, 2, n).astype(bool),
        "int_flag": rng.integers(0, 2, n),
        "text_flag": rng.choice(["yes", "no", "TRUE"], n),
        "numeric_text": [str(v) for v in rng.integers(0, 50, n)],
        "colour": rng.choice(["red", "green", None], n),
        "mixed": [1 if i % 2 else "one" for i in range(n)],
        "is_fraud": label,
    }
    frame = pd.DataFrame(data)
    with caplog.at_level(logging.INFO, logger="fraud_engine"):
        model = fraud_engine.train(frame, n_trees=3, min_samples_leaf=5)
    assert kinds(model) == {
        "spend": "numeric",
        "count": "numeric",
        "bool_flag": "flag",
        "int_flag": "flag",
        "text_flag": "flag",
        "numeric_text": "numeric",
        "colour": "categorical",
        "mixed": "categorical",
    }
    assert any("left out id column `customer_id`" in r.message for r in caplog.records)
    # The same table read from CSV by the engine infers the same kinds.
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    assert kinds(fraud_engine.train(path, n_trees=3, min_samples_leaf=5)) == kinds(model)
    kept = fraud_engine.train(frame, n_trees=3, keep=["customer_id"], drop=["mixed", "colour"])
    assert "customer_id" in kept.feature_names and "mixed" not in kept.feature_names
    custom = fraud_engine.train(frame.rename(columns={"is_fraud": "y"}), label="y", drop="mixed", n_trees=3)
    assert custom.label == "y" and "mixed" not in custom.feature_names


def test_bad_training_values_are_reported_with_row_and_column(frame):
    bad = frame.head(300).copy()
    bad["amount"] = bad["amount"].astype(object)
    bad.loc[5, "amount"] = float("inf")
    bad.loc[7, "amount"] = [1]
    bad["is_fraud"] = bad["is_fraud"].astype(object)
    bad.loc[9, "is_fraud"] = "maybe"
    with pytest.raises(fraud_engine.InvalidInputError) as info:
        fraud_engine.train(bad, n_trees=2)
    assert info.value.problems == [
        {"row": 6, "field": "amount", "reason": "inf is not a finite number"},
        {"row": 8, "field": "amount", "reason": "expected a number, got a list"},
        {"row": 10, "field": "is_fraud", "reason": "label 'maybe' is not 0/1, true/false or yes/no"},
    ]
    empty = frame.assign(blank=None)
    with pytest.raises(fraud_engine.SchemaError, match="column `blank` has no values"):
        fraud_engine.train(empty, n_trees=2)


def test_labels_in_other_spellings(frame, holdout):
    yes_no = frame.assign(is_fraud=frame["is_fraud"].map({0: "no", 1: "Yes"}))
    bools = frame.assign(is_fraud=frame["is_fraud"].astype(bool))
    a = fraud_engine.train(yes_no, n_trees=5)
    b = fraud_engine.train(bools, n_trees=5)
    c = fraud_engine.train(frame, n_trees=5)
    np.testing.assert_array_equal(a.predict_proba(holdout), c.predict_proba(holdout))
    np.testing.assert_array_equal(b.predict_proba(holdout), c.predict_proba(holdout))


def test_training_params_reach_the_model(frame):
    model = fraud_engine.train(
        frame,
        n_trees=7,
        max_depth=4,
        min_samples_leaf=3,
        max_features=2,
        class_weight="balanced",
        bootstrap=True,
        max_bins=32,
        seed=11,
        threshold_strategy="target-recall=0.8",
        risk_bands=(0.2, 0.6),
    )
    params = model.metadata["params"]
    assert params["n_trees"] == 7 and params["max_depth"] == 4 and params["max_bins"] == 32
    assert params["class_weight"] == "Balanced" and params["max_features"] == 2
    assert model.metadata["max_depth"] <= 4
    assert model.risk_bands == (0.2, 0.6)
    assert model.metadata["threshold_strategy"] == "target-recall=0.8"


def test_generate_matches_the_cli(cli, tmp_path):
    path = tmp_path / "gen.csv"
    subprocess.run([cli, "generate", "--rows", "500", "--seed", "3", "--out", path], check=True, capture_output=True)
    from_cli = pd.read_csv(path)
    ours = fraud_engine.generate(500, seed=3)
    pd.testing.assert_frame_equal(ours, from_cli, check_dtype=False)
    assert ours["amount"].dtype == np.float64 and ours["transaction_hour"].dtype == np.int64
    assert 0 < ours["is_fraud"].sum() < 50


def test_generate_without_pandas_returns_columns(tmp_path):
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "import fraud_engine\n"
        "cols = fraud_engine.generate(20, seed=1)\n"
        "assert isinstance(cols, dict), type(cols)\n"
        "assert list(cols)[0] == 'transaction_id' and len(cols['amount']) == 20\n"
        "model = fraud_engine.train(fraud_engine.generate(3000, 1), n_trees=3)\n"
        "print(model.predict_proba(cols).shape)\n"
    )
    # Run outside python/: `python -c` puts the working directory on sys.path,
    # where the source tree's fraud_engine/ (no compiled module) would shadow the wheel.
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "(20,)"

"""Bad input: the exception hierarchy, messages naming the problem, and fuzzing."""

import datetime
import errno

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fraud_engine
from fraud_engine import (
    CorruptModelError,
    FraudError,
    FraudFileNotFoundError,
    FraudIOError,
    InvalidInputError,
    InvalidParamsError,
    SchemaError,
    UnsupportedVersionError,
)


def test_hierarchy():
    assert issubclass(FraudError, Exception)
    for cls in (InvalidInputError, InvalidParamsError, CorruptModelError):
        assert issubclass(cls, FraudError) and issubclass(cls, ValueError)
    assert issubclass(SchemaError, InvalidInputError)
    assert issubclass(UnsupportedVersionError, CorruptModelError)
    assert issubclass(FraudIOError, OSError) and issubclass(FraudIOError, FraudError)
    assert issubclass(FraudFileNotFoundError, FileNotFoundError)
    assert issubclass(FraudFileNotFoundError, FraudIOError)
    for cls in (FraudError, InvalidInputError, SchemaError, FraudFileNotFoundError):
        assert cls.__module__ == "fraud_engine"
        assert cls.__doc__


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.fem"
    with pytest.raises(FileNotFoundError) as info:
        fraud_engine.load(missing)
    assert isinstance(info.value, FraudFileNotFoundError)
    assert info.value.errno == errno.ENOENT
    assert info.value.filename == str(missing)
    with pytest.raises(FraudFileNotFoundError):
        fraud_engine.train(tmp_path / "nope.csv")


def test_writing_into_a_missing_directory(model, tmp_path):
    with pytest.raises(FraudIOError):
        model.save(tmp_path / "no" / "such" / "dir" / "m.fem")


def test_corrupt_and_truncated_models(model, tmp_path):
    blob = model.to_bytes()
    with pytest.raises(CorruptModelError, match="magic"):
        fraud_engine.from_bytes(b"not a model at all, not even close")
    for cut in (0, 10, 31, 32, len(blob) // 2, len(blob) - 1):
        with pytest.raises(CorruptModelError):
            fraud_engine.from_bytes(blob[:cut])
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0xFF
    with pytest.raises(CorruptModelError) as info:
        fraud_engine.from_bytes(bytes(flipped))
    assert isinstance(info.value.offset, int)
    newer = bytearray(blob)
    newer[8:12] = (fraud_engine.FORMAT_VERSION + 1).to_bytes(4, "little")
    with pytest.raises(UnsupportedVersionError) as info:
        fraud_engine.from_bytes(bytes(newer))
    assert info.value.found == fraud_engine.FORMAT_VERSION + 1
    assert info.value.supported == fraud_engine.FORMAT_VERSION
    path = tmp_path / "bad.fem"
    path.write_bytes(bytes(flipped))
    with pytest.raises(CorruptModelError):
        fraud_engine.load(path)
    with pytest.raises(TypeError):
        fraud_engine.from_bytes("a str is not bytes")


def test_invalid_fields_are_all_named(model, transaction):
    bad = dict(transaction, amount="abc", merchant_category=1.5j, foreign_transaction=2)
    del bad["cardholder_age"]
    with pytest.raises(InvalidInputError) as info:
        model.predict(bad)
    problems = {p["field"]: p["reason"] for p in info.value.problems}
    assert problems == {
        "amount": "'abc' is not a number",
        "merchant_category": "expected text, got a complex number",
        "foreign_transaction": "2 is not a flag (expected 0 or 1)",
        "cardholder_age": "missing field",
    }
    assert "`amount`" in str(info.value) and "`cardholder_age`" in str(info.value)


@pytest.mark.parametrize(
    "value, reason",
    [
        ([1, 2], "a list"),
        ({"a": 1}, "a dict"),
        (b"12", "bytes"),
        (datetime.datetime(2024, 1, 1), "a date or time"),
        (float("inf"), "not a finite number"),
        (10**400, "too large"),
        (object(), "unsupported type"),
    ],
)
def test_unsupported_values(model, transaction, value, reason):
    with pytest.raises(InvalidInputError, match="amount") as info:
        model.predict(dict(transaction, amount=value))
    assert reason in info.value.problems[0]["reason"]


def test_wrong_containers(model):
    with pytest.raises(TypeError, match="dict of field values"):
        model.predict([1, 2, 3])
    with pytest.raises(TypeError, match="DataFrame"):
        model.predict_proba(42)
    with pytest.raises(TypeError, match="DataFrame"):
        model.predict_proba("a string")


def test_wrong_shapes_and_dtypes(model, holdout):
    n = len(model.feature_names)
    with pytest.raises(InvalidInputError, match=r"2-D array .* shape \(8,\)"):
        model.predict_proba(np.zeros(n))
    with pytest.raises(InvalidInputError, match="7 columns; the model reads 8 features"):
        model.predict_proba(np.zeros((3, n - 1)))
    with pytest.raises(InvalidInputError, match="must hold numbers"):
        model.predict_proba(np.array([["a"] * n]))
    with pytest.raises(InvalidInputError, match="2-D array of numbers"):
        model.predict_proba([[1, 2], [3]])
    with pytest.raises(SchemaError, match="missing columns `amount`, `cardholder_age`"):
        model.predict_proba(holdout.drop(columns=["amount", "cardholder_age"]))
    with pytest.raises(SchemaError, match="column `transaction_hour` has 2 values, `amount` has 1"):
        model.predict_proba({k: holdout[k].tolist()[: 1 if k == "amount" else 2] for k in holdout})
    with pytest.raises(InvalidInputError, match="single float"):
        model.predict_proba({k: 1.0 for k in model.feature_names})
    dated = holdout.assign(amount=pd.Timestamp("2024-01-01"))
    with pytest.raises(InvalidInputError, match="dtype datetime64"):
        model.predict_proba(dated)


def test_bad_values_in_tables_name_row_and_column(model, holdout):
    rows = holdout.head(5).to_dict("records")
    rows[2]["transaction_hour"] = "late"
    rows[4]["merchant_category"] = ["nested"]
    del rows[3]["amount"]
    with pytest.raises(InvalidInputError) as info:
        model.predict_proba(rows)
    assert info.value.problems == [
        {"row": 3, "field": "transaction_hour", "reason": "'late' is not a number"},
        {"row": 4, "field": "amount", "reason": "missing field"},
        {"row": 5, "field": "merchant_category", "reason": "expected text, got a list"},
    ]
    rows[3]["amount"] = 10.0
    with pytest.raises(InvalidInputError) as info:
        model.predict_proba(rows)
    assert info.value.problems == [
        {"row": 3, "field": "transaction_hour", "reason": "'late' is not a number"},
        {"row": 5, "field": "merchant_category", "reason": "expected text, got a list"},
    ]
    assert info.value.total == 2
    matrix = np.zeros((4, len(model.feature_names)))
    matrix[1, 2] = 0.5
    with pytest.raises(InvalidInputError, match="merchant_category.*not a category code"):
        model.predict_proba(matrix)


def test_bad_labels_for_evaluate(model, holdout):
    with pytest.raises(InvalidInputError) as info:
        model.evaluate(holdout, holdout["is_fraud"].replace({0: 2}))
    assert info.value.problems[0]["reason"] == "label 2 is not 0 or 1"
    with pytest.raises(InvalidInputError, match="labels for"):
        model.evaluate(holdout, holdout["is_fraud"][:10])
    with pytest.raises(SchemaError, match="is_fraud"):
        model.evaluate(holdout.drop(columns=["is_fraud"]))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(
    st.sampled_from([
        "amount", "transaction_hour", "merchant_category", "foreign_transaction",
        "location_mismatch", "device_trust_score", "velocity_last_24h", "cardholder_age", "other",
    ]),
    json_values,
))
def test_any_record_scores_or_raises_invalid_input(model, transaction, fields):
    record = dict(transaction, **fields)
    try:
        result = model.predict(record)
    except InvalidInputError as e:
        assert e.problems and all(p["field"] in record or p["reason"] == "missing field" for p in e.problems)
    else:
        assert 0.0 <= result["fraud_probability"] <= 1.0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), keep=st.integers(min_value=0, max_value=64))
def test_any_bytes_load_or_raise_corrupt_model(model, data, keep):
    # Start some inputs with a real header so the fuzzing gets past the magic bytes.
    blob = model.to_bytes()[:keep] + data
    try:
        loaded = fraud_engine.from_bytes(blob)
    except CorruptModelError:
        return
    assert loaded.feature_names


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=8, max_size=8), max_size=20))
def test_any_float_matrix_scores_or_raises_invalid_input(model, rows):
    matrix = np.array(rows, dtype=np.float64).reshape(len(rows), 8)
    try:
        p = model.predict_proba(matrix)
    except InvalidInputError as e:
        assert "row" in str(e)
    else:
        assert p.shape == (len(rows),) and ((p >= 0) & (p <= 1)).all()


def test_bad_training_parameters(frame):
    with pytest.raises(InvalidParamsError, match="unknown parameter") as info:
        fraud_engine.train(frame, n_tree=5)
    assert info.value.param == "n_tree"
    with pytest.raises(InvalidParamsError) as info:
        fraud_engine.train(frame, n_trees=0)
    assert info.value.param == "n_trees"
    for name, value in [
        ("n_trees", "ten"), ("n_trees", -1), ("max_depth", True), ("bootstrap", "yes"),
        ("threshold_strategy", "best"), ("class_weight", "heavy"), ("risk_bands", (0.9, 0.1)),
        ("max_bins", 1000),
    ]:
        with pytest.raises(InvalidParamsError):
            fraud_engine.train(frame, **{name: value})
    with pytest.raises(InvalidParamsError, match="`nope` is not a column"):
        fraud_engine.train(frame, drop=["nope"])
    with pytest.raises(SchemaError, match="no label column `label`"):
        fraud_engine.train(frame, label="label")
    with pytest.raises(SchemaError, match="needs both classes"):
        fraud_engine.train(frame.assign(is_fraud=0))
    with pytest.raises(TypeError):
        fraud_engine.train(42)

"""The Model API: scoring every input shape, files and bytes, metadata, evaluation."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

import fraud_engine


def encoded(model, frame):
    """`frame` as the 2-D float array predict_proba reads: feature order, category codes."""
    codes = model.category_codes("merchant_category")
    x = frame[model.feature_names].copy()
    x["merchant_category"] = x["merchant_category"].map(codes)
    return x.to_numpy(dtype=np.float64)


def test_predict_returns_the_http_response_keys(model, transaction):
    result = model.predict(transaction)
    assert list(result) == [
        "is_fraud",
        "fraud_probability",
        "risk_level",
        "model_version",
        "threshold",
        "warnings",
    ]
    assert result["warnings"] == []
    assert result["is_fraud"] in (0, 1) and type(result["is_fraud"]) is int
    assert 0.0 <= result["fraud_probability"] <= 1.0
    assert result["is_fraud"] == int(result["fraud_probability"] >= model.threshold)
    low, high = model.risk_bands
    p = result["fraud_probability"]
    expected = "HIGH" if p >= high else "MEDIUM" if p >= low else "LOW"
    assert result["risk_level"] == expected
    assert result["model_version"] == model.metadata["model_version"]
    assert result["threshold"] == model.threshold


def test_predict_reads_python_and_numpy_values_alike(model, transaction):
    as_numpy = {
        k: (np.float64(v) if isinstance(v, float) else np.int64(v) if isinstance(v, int) else v)
        for k, v in transaction.items()
    }
    as_text = {k: str(v) for k, v in transaction.items()}
    as_series = pd.Series(transaction, dtype=object)
    expected = model.predict(transaction)
    assert model.predict(as_numpy) == expected
    assert model.predict(as_text) == expected
    assert model.predict(as_series) == expected
    flags_as_bools = dict(transaction, foreign_transaction=False, location_mismatch=False)
    assert model.predict(flags_as_bools) == expected


def test_predict_dict_is_the_engine_output_pythonize_gives(model, transaction):
    # predict builds its dict directly; explain's goes through pythonize of
    # the same engine output: the shared keys, values, types and order agree.
    for t in (transaction, dict(transaction, merchant_category="Spaceships", amount=1e12)):
        predicted = model.predict(t)
        explained = model.explain(t)
        assert list(predicted) == [k for k in explained if k in predicted]
        for key, value in predicted.items():
            assert type(value) is type(explained[key]) and value == explained[key], key
        assert [type(w) for w in predicted["warnings"]] == [dict] * len(predicted["warnings"])
    assert model.predict(transaction) is not model.predict(transaction)
    assert model.with_threshold(0.9).predict(transaction)["threshold"] == 0.9


class Text(str):
    """A str subclass whose equality is its own business."""

    def __eq__(self, other):
        return False

    __hash__ = str.__hash__


def test_predict_reads_category_text_however_it_was_made(model, transaction):
    expected = model.predict(transaction)
    # Not the interned literal: built at run time, parsed from JSON, a subclass.
    built = "".join(["Elec", "tronics"])
    assert built is not transaction["merchant_category"]
    assert model.predict(dict(transaction, merchant_category=built)) == expected
    parsed = json.loads(json.dumps(transaction))
    assert model.predict(parsed) == expected
    assert model.predict(dict(transaction, merchant_category=Text("Electronics"))) == expected
    # Near misses are other categories: never seen, so warned about.
    for near in ("electronics", "Electronic", "Electronics\x00", "Électronics"):
        result = model.predict(dict(transaction, merchant_category=near))
        assert [w["code"] for w in result["warnings"]] == ["unknown_category"], near
    # A category's text given for a number is still not a number.
    with pytest.raises(fraud_engine.InvalidInputError, match="`amount`"):
        model.predict(dict(transaction, amount="Electronics"))
    # Integers of every size read as the float Python makes of them.
    for big in (2**53 + 1, 2**63 - 1, -(2**63), 2**64 + 1, 10**30):
        as_float = model.predict(dict(transaction, amount=float(big)))
        assert model.predict(dict(transaction, amount=big)) == as_float, big


def test_unknown_category_warns_and_missing_values_are_imputed(
    model, optional_model, transaction
):
    result = model.predict(dict(transaction, merchant_category="Spaceships"))
    assert result["warnings"] == [
        {
            "field": "merchant_category",
            "code": "unknown_category",
            "message": "category not seen in training; scored through the unknown bucket",
        }
    ]
    # The default schema requires every field: a missing one is refused by name.
    for missing in (None, float("nan"), ""):
        with pytest.raises(fraud_engine.InvalidInputError, match="`amount`: missing value"):
            model.predict(dict(transaction, amount=missing))
    # An optional one is imputed.
    for missing in (None, float("nan")):
        result = optional_model.predict(dict(transaction, amount=missing))
        assert 0.0 <= result["fraud_probability"] <= 1.0
    # Missing through None and NaN is the same as through the encoded array's NaN.
    row = encoded(optional_model, pd.DataFrame([transaction]))
    row[0, 0] = np.nan
    assert optional_model.predict_proba(row)[0] == optional_model.predict(
        dict(transaction, amount=None)
    )["fraud_probability"]


def test_every_input_shape_gives_the_same_probabilities(model, holdout):
    expected = model.predict_proba(holdout)
    assert expected.dtype == np.float64 and expected.shape == (len(holdout),)
    records = holdout.to_dict("records")
    columns = {k: holdout[k].to_numpy() for k in holdout.columns}
    lists = {k: holdout[k].tolist() for k in holdout.columns}
    matrix = encoded(model, holdout)
    np.testing.assert_array_equal(model.predict_proba(records), expected)
    np.testing.assert_array_equal(model.predict_proba(columns), expected)
    np.testing.assert_array_equal(model.predict_proba(lists), expected)
    np.testing.assert_array_equal(model.predict_proba(matrix), expected)
    np.testing.assert_array_equal(model.predict_proba(np.asfortranarray(matrix)), expected)
    np.testing.assert_array_equal(model.predict_proba(matrix.astype(np.float32).astype(np.float64)), expected)
    np.testing.assert_array_equal(model.predict_proba(matrix[::2]), expected[::2])
    np.testing.assert_array_equal(model.predict_proba(matrix.tolist()), expected)
    single = [model.predict(r)["fraud_probability"] for r in records[:200]]
    np.testing.assert_array_equal(single, expected[:200])


def test_extra_columns_are_ignored_and_order_does_not_matter(model, holdout):
    shuffled = holdout[list(reversed(holdout.columns))].assign(note="x")
    np.testing.assert_array_equal(model.predict_proba(shuffled), model.predict_proba(holdout))


def test_pandas_dtypes(model, optional_model, holdout):
    expected = model.predict_proba(holdout)
    typed = holdout.astype(
        {
            "merchant_category": "category",
            "foreign_transaction": "bool",
            "location_mismatch": "Int64",
            "velocity_last_24h": "float32",
        }
    )
    np.testing.assert_array_equal(model.predict_proba(typed), expected)
    with_na = holdout.astype({"cardholder_age": "Int64"}).copy()
    with_na.loc[0, "cardholder_age"] = pd.NA
    plain = holdout.astype({"cardholder_age": "float64"}).copy()
    plain.loc[0, "cardholder_age"] = np.nan
    np.testing.assert_array_equal(
        optional_model.predict_proba(with_na), optional_model.predict_proba(plain)
    )
    with pytest.raises(fraud_engine.InvalidInputError, match="cardholder_age"):
        model.predict_proba(with_na)


def test_empty_inputs(model):
    assert model.predict_proba([]).shape == (0,)
    assert model.predict_proba(np.empty((0, len(model.feature_names)))).shape == (0,)


def test_predict_many(model, holdout):
    head = holdout.head(50).set_index(holdout.head(50).index + 1000)
    frame = model.predict_many(head)
    assert list(frame.columns) == ["fraud_probability", "is_fraud", "risk_level"]
    assert list(frame.index) == list(head.index)
    records = model.predict_many(head.to_dict("records"))
    columns = ("fraud_probability", "is_fraud", "risk_level")
    assert [{k: r[k] for k in columns} for r in records] == frame.to_dict("records")
    one = model.predict(head.iloc[0].to_dict())
    assert records[0] == one


def test_category_codes(model):
    codes = model.category_codes("merchant_category")
    assert set(codes) == {
        "Grocery", "Restaurant", "Gas", "Clothing", "Entertainment", "Travel", "Online", "Electronics",
    }
    unknown = model.unknown_code("merchant_category")
    assert sorted([*codes.values(), unknown]) == list(range(len(codes) + 1))
    # The feature is a parameter of the call, not an input value.
    with pytest.raises(fraud_engine.InvalidParamsError, match="`amount` is not categorical"):
        model.category_codes("amount")
    with pytest.raises(fraud_engine.InvalidParamsError, match="no feature `"):
        model.category_codes("colour")


def test_save_load_and_bytes_round_trip(model, tmp_path, holdout):
    path = tmp_path / "model.fem"
    model.save(path)
    assert fraud_engine.load(path) == model
    assert fraud_engine.load(str(path)) == model
    assert path.read_bytes() == model.to_bytes()
    again = fraud_engine.from_bytes(model.to_bytes())
    assert again == model
    np.testing.assert_array_equal(again.predict_proba(holdout), model.predict_proba(holdout))
    assert model != "not a model"


def test_metadata_and_properties(model, frame):
    meta = model.metadata
    assert meta["training_rows"] == len(frame)
    assert meta["training_frauds"] == int(frame["is_fraud"].sum())
    features = meta["schema"]["features"]
    assert meta["n_trees"] == 25
    assert meta["format_version"] == fraud_engine.FORMAT_VERSION
    assert meta["engine_version"] == fraud_engine.ENGINE_VERSION
    assert meta["params"]["seed"] == 3
    # impurity_importances: mean decrease in impurity, normalised;
    # feature_importances: mean |SHAP| on out-of-bag rows, in probability units.
    assert math.isclose(sum(f["impurity_importance"] for f in features), 1.0)
    shap_importances = {f["name"]: f["importance"] for f in features}
    assert all(v >= 0 for v in shap_importances.values())
    assert 0 < sum(shap_importances.values()) < 1
    # The generator moves every transaction's risk with device trust, the
    # cardholder's age only past 75.
    assert shap_importances["device_trust_score"] > shap_importances["cardholder_age"]
    assert [f["name"] for f in features] == model.feature_names
    kinds = {f["name"]: f["kind"] for f in features}
    assert kinds["merchant_category"] == "categorical"
    assert kinds["foreign_transaction"] == "flag"
    assert kinds["amount"] == "numeric"
    assert meta["threshold"] == model.threshold
    assert model.feature_names == [
        "amount", "transaction_hour", "merchant_category", "foreign_transaction",
        "location_mismatch", "device_trust_score", "velocity_last_24h", "cardholder_age",
    ]
    assert model.label == "is_fraud"
    assert "Model(model_version=" in repr(model)


def test_with_threshold(model, transaction, tmp_path):
    strict = model.with_threshold(0.0)
    assert strict.threshold == 0.0 and strict.predict(transaction)["is_fraud"] == 1
    assert strict.risk_bands == (0.0, 0.0)
    custom = model.with_threshold(0.5, risk_bands=(0.1, 0.4))
    assert custom.risk_bands == (0.1, 0.4)
    custom.save(tmp_path / "m.fem")
    assert fraud_engine.load(tmp_path / "m.fem").threshold == 0.5
    with pytest.raises(fraud_engine.InvalidParamsError) as info:
        model.with_threshold(1.5)
    assert info.value.param == "threshold"
    with pytest.raises(fraud_engine.InvalidParamsError):
        model.with_threshold(0.5, risk_bands=(0.6, 0.2))


def test_evaluate(model, holdout):
    result = model.evaluate(holdout)
    assert result == model.evaluate(holdout.drop(columns=["is_fraud"]), holdout["is_fraud"])
    assert result["rows"] == len(holdout)
    assert result["frauds"] == int(holdout["is_fraud"].sum())
    p = model.predict_proba(holdout)
    y = holdout["is_fraud"].to_numpy()
    assert math.isclose(result["roc_auc"], roc_auc_score(y, p), rel_tol=1e-12)
    assert math.isclose(result["pr_auc"], average_precision_score(y, p), rel_tol=1e-12)
    assert 0.5 < result["roc_auc"] <= 1.0
    c = result["confusion"]
    assert sum(c.values()) == len(holdout)
    flagged = p >= model.threshold
    assert c["true_positives"] == int((flagged & (holdout["is_fraud"] == 1)).sum())
    roc = result["roc_curve"]
    assert roc["fpr"][0] == 0.0 and roc["fpr"][-1] == 1.0 and roc["tpr"][-1] == 1.0
    assert len(roc["fpr"]) == len(roc["tpr"]) == len(roc["thresholds"]) <= 201
    assert set(result["pr_curve"]) == {"recall", "precision", "thresholds"}
    labels_as_text = holdout["is_fraud"].map({0: "no", 1: "yes"})
    assert model.evaluate(encoded(model, holdout), labels_as_text)["roc_auc"] == result["roc_auc"]

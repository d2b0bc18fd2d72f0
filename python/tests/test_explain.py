"""Explanations: Model.explain, Model.shap_values, expected_value, trees, and shap parity."""

import math
import re
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import fraud_engine
from fraud_engine import InvalidInputError, SchemaError

with warnings.catch_warnings():
    # shap 0.51 calls matplotlib's Colormap.set_bad/set_over/set_under at
    # import time, which matplotlib 3.10 marks as pending deprecation; the
    # warning is theirs, not ours, and only this import is exempted.
    warnings.filterwarnings(
        "ignore",
        message=r"The set_\w+ function will be deprecated",
        category=PendingDeprecationWarning,
    )
    import shap

from test_threads import gil_released_during

TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def rows(holdout, model):
    """300 holdout rows, the model's features only."""
    return holdout[model.feature_names].iloc[:300].reset_index(drop=True)


def encoded(model, frame):
    """The 2-D float matrix predict_proba takes: categories as codes."""
    out = np.empty((len(frame), len(model.feature_names)))
    for j, name in enumerate(model.feature_names):
        column = frame[name]
        if name == "merchant_category":
            codes = model.category_codes(name)
            unknown = model.unknown_code(name)
            out[:, j] = [codes.get(v, unknown) for v in column]
        else:
            out[:, j] = column.to_numpy(dtype=float)
    return out


def all_input_types(model, frame):
    """The same rows as every X type predict_proba accepts."""
    matrix = encoded(model, frame)
    return {
        "dataframe": frame,
        "records": frame.to_dict("records"),
        "columns": {c: frame[c].tolist() for c in frame.columns},
        "array": matrix,
        "fortran array": np.asfortranarray(matrix),
        "list of rows": matrix.tolist(),
    }


# ---- explain(dict) ----------------------------------------------------------


def test_explain_has_predicts_keys_and_values(model, transaction):
    explained = model.explain(transaction)
    predicted = model.predict(transaction)
    for key, value in predicted.items():
        assert explained[key] == value, key
    assert set(explained) == set(predicted) | {"base_value", "contributions", "reasons"}
    assert explained["base_value"] == model.expected_value
    assert list(explained["contributions"]) == model.feature_names


def test_explain_local_accuracy(model, rows):
    for record in rows.to_dict("records")[:200]:
        explained = model.explain(record)
        total = explained["base_value"] + sum(explained["contributions"].values())
        assert abs(total - explained["fraud_probability"]) < TOLERANCE


def test_explain_matches_shap_values(model, rows):
    records = rows.to_dict("records")[:50]
    batch = model.shap_values(rows.iloc[:50])
    for record, row in zip(records, batch):
        explained = model.explain(record)
        assert list(explained["contributions"].values()) == row.tolist()


def test_reasons_are_positive_sorted_and_readable(model, rows):
    seen_reasons = 0
    for record in rows.to_dict("records"):
        explained = model.explain(record)
        reasons = explained["reasons"]
        assert len(reasons) <= 3
        contributions = [r["contribution"] for r in reasons]
        assert all(c > 0 for c in contributions)
        assert contributions == sorted(contributions, reverse=True)
        # The reasons are the largest positive contributions.
        positive = sorted(
            (c for c in explained["contributions"].values() if c > 0), reverse=True
        )
        assert contributions == positive[:3]
        for reason in reasons:
            assert set(reason) == {"feature", "value", "contribution", "text"}
            assert reason["contribution"] == explained["contributions"][reason["feature"]]
            assert reason["text"] == f"{reason['feature']} = {reason['value']} raised the risk"
            assert re.fullmatch(r"\w+ = \S+ raised the risk", reason["text"])
            # The value is the input as given: a category's name, else the number.
            given = record[reason["feature"]]
            if isinstance(given, str):
                assert reason["value"] == given
            else:
                assert reason["value"] == pytest.approx(float(given))
        seen_reasons += len(reasons)
    assert seen_reasons > 0, "no row had a reason: the checks above checked nothing"


def test_a_risky_transaction_names_its_risk(model, transaction):
    risky = dict(transaction, device_trust_score=5, foreign_transaction=1,
                 location_mismatch=1, velocity_last_24h=15, amount=2500.0)
    explained = model.explain(risky)
    assert explained["fraud_probability"] > model.expected_value
    assert explained["reasons"]
    top = explained["reasons"][0]
    assert top["feature"] in risky
    assert top["text"].endswith(" raised the risk")


def test_explain_takes_mappings_like_predict(model, transaction):
    series = pd.Series(transaction)
    assert model.explain(series)["contributions"] == model.explain(transaction)["contributions"]


def test_explain_reports_unknown_categories_as_predict_does(model, transaction):
    odd = dict(transaction, merchant_category="Spaceships")
    explained = model.explain(odd)
    assert explained["warnings"] == model.predict(odd)["warnings"]
    total = explained["base_value"] + sum(explained["contributions"].values())
    assert abs(total - explained["fraud_probability"]) < TOLERANCE


def test_explain_bad_input_raises_like_predict(model, transaction):
    bad_inputs = [
        {k: v for k, v in transaction.items() if k != "amount"},
        dict(transaction, amount="lots"),
        dict(transaction, amount=float("inf"), device_trust_score=[1]),
        {},
    ]
    for bad in bad_inputs:
        with pytest.raises(InvalidInputError) as from_predict:
            model.predict(bad)
        with pytest.raises(InvalidInputError) as from_explain:
            model.explain(bad)
        assert from_explain.value.problems == from_predict.value.problems
        assert str(from_explain.value) == str(from_predict.value)
    for wrong in ([1, 2, 3], "amount=5", 42, None):
        with pytest.raises(TypeError, match=r"explain\(\) takes one transaction"):
            model.explain(wrong)


# ---- shap_values(X) ---------------------------------------------------------


def test_expected_value_is_the_cover_weighted_mean_output(model):
    per_tree = []
    for tree in model.trees():
        leaves = tree["children_left"] == -1
        per_tree.append((tree["cover"][leaves] * tree["value"][leaves]).sum() / tree["cover"][0])
    assert model.expected_value == pytest.approx(np.mean(per_tree), abs=1e-12)
    assert isinstance(model.expected_value, float)


@pytest.mark.parametrize(
    "kind", ["dataframe", "records", "columns", "array", "fortran array", "list of rows"]
)
def test_shap_values_local_accuracy_for_every_input_type(model, rows, kind):
    x = all_input_types(model, rows)[kind]
    values = model.shap_values(x)
    assert isinstance(values, np.ndarray)
    assert values.dtype == np.float64
    assert values.shape == (len(rows), len(model.feature_names))
    proba = model.predict_proba(x)
    assert np.abs(model.expected_value + values.sum(axis=1) - proba).max() < TOLERANCE
    # Every input type explains the same rows the same way.
    assert np.array_equal(values, model.shap_values(rows))


def test_shap_values_extra_columns_are_ignored(model, holdout):
    frame = holdout.iloc[:20]  # has transaction_id and is_fraud too
    assert np.array_equal(model.shap_values(frame), model.shap_values(frame[model.feature_names]))


def test_shap_values_shapes(model, rows):
    n = len(model.feature_names)
    assert model.shap_values(rows.iloc[:1]).shape == (1, n)
    assert model.shap_values(encoded(model, rows.iloc[:1])).shape == (1, n)
    assert model.shap_values(np.empty((0, n))).shape == (0, n)
    assert model.shap_values(rows.iloc[:0]).shape == (0, n)
    integers = encoded(model, rows.iloc[:5]).round().astype(np.int64)
    assert model.shap_values(integers).shape == (5, n)
    strided = encoded(model, rows)[::3]
    assert np.array_equal(model.shap_values(strided), model.shap_values(rows.iloc[::3]))


def test_shap_values_missing_values_fill_as_predict_does(optional_model, rows):
    model = optional_model
    matrix = encoded(model, rows.iloc[:30])
    matrix[::2, 0] = np.nan
    matrix[1::3, model.feature_names.index("merchant_category")] = np.nan
    values = model.shap_values(matrix)
    assert not np.isnan(values).any()
    proba = model.predict_proba(matrix)
    assert np.abs(model.expected_value + values.sum(axis=1) - proba).max() < TOLERANCE


def test_shap_values_bad_input_raises_like_predict_proba(model, rows):
    n = len(model.feature_names)
    bad_code = encoded(model, rows.iloc[:4])
    bad_code[2, model.feature_names.index("merchant_category")] = 999
    bad_frame = rows.iloc[:4].copy()
    bad_frame["amount"] = bad_frame["amount"].astype(object)
    bad_frame.loc[1, "amount"] = "lots"
    cases = [
        np.zeros((3, n - 1)),
        np.zeros(n),
        np.zeros((2, n, 1)),
        np.array([["a"] * n]),
        bad_code,
        bad_frame,
        rows.drop(columns=["amount"]),
        [{"amount": 1.0}],
    ]
    for bad in cases:
        with pytest.raises(InvalidInputError) as from_proba:
            model.predict_proba(bad)
        with pytest.raises(type(from_proba.value)) as from_shap:
            model.shap_values(bad)
        assert str(from_shap.value) == str(from_proba.value)
    with pytest.raises(SchemaError):
        model.shap_values(rows.drop(columns=["amount"]))
    with pytest.raises(InvalidInputError, match="row index 2"):
        model.shap_values(bad_code)
    for wrong in (42, "rows", None, object()):
        with pytest.raises(TypeError):
            model.shap_values(wrong)


def test_shap_values_from_many_threads(model, rows):
    matrix = encoded(model, rows)
    expected = model.shap_values(matrix)
    records = rows.to_dict("records")[:40]
    expected_single = [list(model.explain(r)["contributions"].values()) for r in records]

    def work(k):
        if k % 2:
            return [list(model.explain(r)["contributions"].values()) for r in records]
        return model.shap_values(matrix)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(32)))
    for k, result in enumerate(results):
        if k % 2:
            assert result == expected_single
        else:
            assert np.array_equal(result, expected)


def test_shap_values_releases_the_gil(model, rows):
    matrix = np.tile(encoded(model, rows), (40, 1))
    assert gil_released_during(lambda: model.shap_values(matrix)) > 0


def test_classifier_model_explains(frame):
    classifier = fraud_engine.FraudForestClassifier(n_estimators=10, random_state=1)
    x = frame.drop(columns=["is_fraud"])
    classifier.fit(x, frame["is_fraud"])
    values = classifier.model_.shap_values(x.iloc[:50])
    proba = classifier.predict_proba(x.iloc[:50])[:, 1]
    assert np.abs(classifier.model_.expected_value + values.sum(axis=1) - proba).max() < TOLERANCE


# ---- trees() and parity with the shap package -------------------------------


def test_trees_are_read_only_copies(model):
    trees = model.trees()
    assert len(trees) == model.metadata["n_trees"]
    assert sum(len(t["children_left"]) for t in trees) == model.metadata["n_nodes"]
    for tree in trees:
        assert set(tree) == {"children_left", "children_right", "feature", "threshold", "value", "cover"}
        n = len(tree["children_left"])
        for key, dtype in [("children_left", np.int64), ("children_right", np.int64), ("feature", np.int64),
                           ("threshold", np.float64), ("value", np.float64), ("cover", np.float64)]:
            assert tree[key].dtype == dtype and tree[key].shape == (n,)
            assert not tree[key].flags.writeable
        leaves = tree["children_left"] == -1
        assert np.array_equal(leaves, tree["children_right"] == -1)
        # scikit-learn's markers: TREE_LEAF (-1) links, TREE_UNDEFINED (-2) feature and threshold.
        assert (tree["feature"][leaves] == -2).all()
        assert (tree["threshold"][leaves] == -2.0).all()
        inner = ~leaves
        assert ((tree["feature"][inner] >= 0) & (tree["feature"][inner] < len(model.feature_names))).all()
        # Children come after their parent; covers add up.
        assert (tree["children_left"][inner] > np.flatnonzero(inner)).all()
        assert np.allclose(
            tree["cover"][inner],
            tree["cover"][tree["children_left"][inner]] + tree["cover"][tree["children_right"][inner]],
        )
    with pytest.raises(ValueError):
        trees[0]["value"][0] = 1.0


def walk(tree, row):
    """The leaf value `row` reaches: `x <= threshold` goes left."""
    node = 0
    while tree["children_left"][node] != -1:
        go_left = row[tree["feature"][node]] <= tree["threshold"][node]
        node = tree["children_left"][node] if go_left else tree["children_right"][node]
    return tree["value"][node]


def test_trees_reproduce_predict_proba(model, rows):
    matrix = encoded(model, rows.iloc[:50])
    trees = model.trees()
    ours = [np.mean([walk(t, row) for t in trees]) for row in matrix]
    assert np.abs(np.array(ours) - model.predict_proba(matrix)).max() < 1e-12


def shap_custom_model(model):
    """Our forest in shap's custom tree format: the mean of the trees."""
    trees = model.trees()
    scale = 1.0 / len(trees)
    return {
        "trees": [
            {
                "children_left": t["children_left"],
                "children_right": t["children_right"],
                # Encoded rows have no missing values (NaN is filled first).
                "children_default": t["children_left"],
                "features": t["feature"],
                "thresholds": t["threshold"],
                "values": t["value"].reshape(-1, 1) * scale,
                "node_sample_weight": t["cover"],
            }
            for t in trees
        ]
    }


def test_shap_values_match_the_shap_package(model, holdout):
    frame = holdout[model.feature_names].iloc[:200]
    matrix = encoded(model, frame)
    assert not np.isnan(matrix).any()
    explainer = shap.TreeExplainer(shap_custom_model(model), feature_perturbation="tree_path_dependent")
    theirs = explainer.shap_values(matrix)
    ours = model.shap_values(matrix)
    assert theirs.shape == ours.shape == (200, len(model.feature_names))
    assert np.abs(theirs - ours).max() < TOLERANCE
    assert math.isclose(float(np.ravel(explainer.expected_value)[0]), model.expected_value,
                        abs_tol=TOLERANCE)
    # Not vacuous: the contributions are far from zero.
    assert np.abs(ours).max() > 0.01


def shap_model_from_export(export):
    """shap's custom tree format from `fraud-server export-trees` JSON (docs/EXPLANATIONS.md)."""
    scale = 1.0 / len(export["trees"])
    trees = []
    for t in export["trees"]:
        left = np.array(t["children_left"], dtype=np.int64)
        trees.append({
            "children_left": left,
            "children_right": np.array(t["children_right"], dtype=np.int64),
            "children_default": left,
            "features": np.array(t["feature"], dtype=np.int64),
            "thresholds": np.array(t["threshold"], dtype=np.float64),
            "values": np.array(t["value"], dtype=np.float64).reshape(-1, 1) * scale,
            "node_sample_weight": np.array(t["cover"], dtype=np.float64),
        })
    return {"trees": trees}


def test_shap_on_the_cli_tree_export_matches_ours(cli, model, holdout, tmp_path):
    import json
    import subprocess

    path, trees = tmp_path / "m.fem", tmp_path / "trees.json"
    model.save(path)
    subprocess.run([cli, "export-trees", "--model", str(path), "--out", str(trees)], check=True, capture_output=True)
    export = json.loads(trees.read_text())
    assert export["split_rule"].startswith("a row goes to children_left when x[feature] <= threshold")
    assert [f["name"] for f in export["features"]] == model.feature_names
    # Rows encoded with the export's own category codes, as another tool would.
    frame = holdout[model.feature_names].iloc[:100]
    matrix = np.empty((len(frame), len(model.feature_names)))
    for j, feature in enumerate(export["features"]):
        column = frame[feature["name"]]
        if feature["kind"] == "categorical":
            codes = dict(zip(feature["categories"], feature["category_codes"]))
            matrix[:, j] = [codes.get(v, feature["unknown_code"]) for v in column]
        else:
            matrix[:, j] = column.to_numpy(dtype=float)
    explainer = shap.TreeExplainer(shap_model_from_export(export), feature_perturbation="tree_path_dependent")
    theirs = explainer.shap_values(matrix)
    ours = model.shap_values(frame)
    assert np.abs(theirs - ours).max() < TOLERANCE
    assert math.isclose(float(np.ravel(explainer.expected_value)[0]), export["base_value"], abs_tol=TOLERANCE)
    assert np.abs(ours).max() > 0.01

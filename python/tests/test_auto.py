"""Tree size and class weighting chosen by out-of-bag PR-AUC ("auto", the
default), from ``train`` and from ``FraudForestClassifier``."""

import numpy as np
import pytest
from sklearn.base import clone

import fraud_engine
from fraud_engine import FraudForestClassifier, InvalidParamsError


def _chosen_candidate(auto):
    settings = ("max_depth", "min_samples_leaf", "class_weight")
    matches = [c for c in auto["candidates"] if all(c[k] == auto["chosen"][k] for k in settings)]
    assert matches, auto
    return matches[-1]


def test_auto_is_the_default_and_the_model_records_its_choice(frame):
    model = fraud_engine.train(frame, n_trees=12, seed=3)
    meta = model.metadata
    assert meta["params"]["max_depth"] == "auto"
    assert meta["params"]["min_samples_leaf"] == "auto"
    assert meta["params"]["class_weight"] == "auto"
    auto = meta["auto"]
    assert auto is not None
    assert len(auto["candidates"]) >= 2
    assert "out-of-bag PR-AUC" in auto["reason"]
    best = _chosen_candidate(auto)["oob_pr_auc"]
    assert all(c["oob_pr_auc"] <= best for c in auto["candidates"])
    # 4,000 rows: every candidate is a whole forest, so the winner's
    # out-of-bag PR-AUC is the model's own.
    assert auto["trees_per_candidate"] == 12
    assert best == pytest.approx(meta["oob_metrics"]["pr_auc"], abs=0)
    assert meta["max_depth"] <= auto["chosen"]["max_depth"]
    # Saved and loaded, the choice is still there; the card shows it.
    again = fraud_engine.from_bytes(model.to_bytes())
    assert again.metadata["auto"] == auto
    assert "auto chose max_depth" in model._repr_html_()


def test_the_string_auto_is_the_default(frame):
    default = fraud_engine.train(frame, n_trees=8, seed=3)
    spelled = fraud_engine.train(
        frame, n_trees=8, seed=3, max_depth="auto", min_samples_leaf="AUTO", class_weight="auto"
    )
    np.testing.assert_array_equal(default.predict_proba(frame), spelled.predict_proba(frame))
    assert default.metadata["auto"] == spelled.metadata["auto"]


def test_given_values_override_auto(frame):
    depth = fraud_engine.train(frame, n_trees=8, seed=3, max_depth=5).metadata
    assert depth["params"]["max_depth"] == 5
    assert all(c["max_depth"] == 5 for c in depth["auto"]["candidates"])
    assert depth["max_depth"] <= 5

    every = fraud_engine.train(
        frame, n_trees=8, seed=3, max_depth=6, min_samples_leaf=3, class_weight=None
    )
    assert every.metadata["auto"] is None
    assert every.metadata["params"]["min_samples_leaf"] == 3
    assert every.metadata["max_depth"] <= 6
    # The forest auto grows is the one its chosen values give when passed.
    auto = fraud_engine.train(frame, n_trees=8, seed=3)
    chosen = auto.metadata["auto"]["chosen"]
    weight = {"None": None, "BalancedSplits": "balanced-splits", "Balanced": "balanced"}[
        chosen["class_weight"]
    ]
    explicit = fraud_engine.train(
        frame,
        n_trees=8,
        seed=3,
        max_depth=chosen["max_depth"],
        min_samples_leaf=chosen["min_samples_leaf"],
        class_weight=weight,
    )
    np.testing.assert_array_equal(auto.predict_proba(frame), explicit.predict_proba(frame))


@pytest.mark.parametrize(
    "class_weight, recorded",
    [
        (None, "None"),
        ("none", "None"),
        ("balanced", "Balanced"),
        ("balanced-splits", "BalancedSplits"),
        ({0: 1, 1: 4}, {"Weights": {"legitimate": 1.0, "fraud": 4.0}}),
    ],
)
def test_every_class_weight_fixes_the_weighting_auto_would_choose(frame, class_weight, recorded):
    meta = fraud_engine.train(frame, n_trees=6, seed=3, class_weight=class_weight).metadata
    assert meta["params"]["class_weight"] == recorded
    # Depth and leaf size are still chosen, with this weighting only.
    assert all(c["class_weight"] == recorded for c in meta["auto"]["candidates"])


def test_sample_weights_weigh_the_comparison(frame):
    y = frame["is_fraud"].to_numpy()
    weights = np.where(y == 1, 6.0, 1.0 + np.arange(len(y)) % 3)
    plain = fraud_engine.train(frame, n_trees=10, seed=3).metadata
    weighted = fraud_engine.train(frame, n_trees=10, seed=3, sample_weight=weights).metadata
    first = lambda m: m["auto"]["candidates"][0]["oob_pr_auc"]  # noqa: E731
    assert first(plain) != first(weighted)
    # Judged as the model's own out-of-bag metrics are weighted.
    assert _chosen_candidate(weighted["auto"])["oob_pr_auc"] == pytest.approx(
        weighted["oob_metrics"]["pr_auc"], abs=0
    )


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("max_depth", "deep", "`deep` is not auto or a whole number"),
        ("min_samples_leaf", "some", "`some` is not auto or a whole number"),
        ("max_depth", True, "max_depth"),
        ("max_depth", -1, "max_depth"),
        ("max_depth", 0, "between 1 and 64"),
        (
            "class_weight",
            "sometimes",
            "`sometimes` is not auto or none, balanced, balanced-splits, or two weights",
        ),
        ("class_weight", "1:-2", "must be finite"),
        ("class_weight", 3.5, "class_weight"),
    ],
)
def test_bad_values_name_the_parameter_and_what_it_takes(frame, name, value, says):
    with pytest.raises(InvalidParamsError, match=name) as err:
        fraud_engine.train(frame, n_trees=2, **{name: value})
    assert says in str(err.value)


def test_the_estimator_defaults_to_auto_and_round_trips_its_parameters(frame):
    X, y = frame.drop(columns=["is_fraud"]), frame["is_fraud"]
    clf = FraudForestClassifier(n_estimators=8, random_state=3)
    params = clf.get_params()
    assert (params["max_depth"], params["min_samples_leaf"], params["class_weight"]) == (
        "auto",
        "auto",
        "auto",
    )
    engine = fraud_engine.DEFAULT_TRAIN_PARAMS
    assert (engine["max_depth"], engine["min_samples_leaf"], engine["class_weight"]) == (
        "auto",
        "auto",
        "auto",
    )
    clf.fit(X, y)
    assert clf.model_.metadata["auto"] is not None
    # The estimator trains what train() trains.
    direct = fraud_engine.train(frame, n_trees=8, seed=3)
    assert clf.model_.metadata["auto"] == direct.metadata["auto"]

    given = clone(clf).set_params(max_depth=4, min_samples_leaf=2, class_weight={0: 1, 1: 3})
    assert given.get_params()["class_weight"] == {0: 1, 1: 3}
    given.fit(X, y)
    assert given.model_.metadata["auto"] is None
    assert given.model_.metadata["params"]["max_depth"] == 4
    back = clone(given).set_params(max_depth="auto")
    back.fit(X, y)
    auto = back.model_.metadata["auto"]
    assert auto is not None
    assert all(c["min_samples_leaf"] == 2 for c in auto["candidates"])

    with pytest.raises(InvalidParamsError, match="max_depth"):
        FraudForestClassifier(n_estimators=2, max_depth="bogus").fit(X, y)

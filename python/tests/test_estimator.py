"""FraudForestClassifier inside scikit-learn: clone, cross-validation, Pipeline, grid search."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline

import fraud_engine
from fraud_engine import FraudForestClassifier


@pytest.fixture(scope="module")
def xy(frame):
    return frame.drop(columns=["is_fraud"]), frame["is_fraud"]


def test_defaults_are_the_engines():
    params = FraudForestClassifier().get_params()
    engine = fraud_engine._native.DEFAULT_TRAIN_PARAMS
    assert params["n_estimators"] == engine["n_trees"]
    for name in ("max_depth", "min_samples_leaf", "max_bins", "seed"):
        if name in params:
            assert params[name] == engine[name], name


def test_fit_predict_and_fitted_attributes(xy, holdout):
    X, y = xy
    clf = FraudForestClassifier(n_estimators=10, random_state=4)
    assert clf.fit(X, y) is clf
    assert list(clf.classes_) == [0, 1]
    assert clf.n_features_in_ == X.shape[1]
    assert list(clf.feature_names_in_) == list(X.columns)
    Xh = holdout.drop(columns=["is_fraud"])
    proba = clf.predict_proba(Xh)
    assert proba.shape == (len(Xh), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(proba[:, 1], clf.model_.predict_proba(Xh))
    np.testing.assert_array_equal(clf.predict(Xh), (proba[:, 1] >= clf.model_.threshold).astype(int))
    # The fitted model is the servable one: same engine parameters as train().
    direct = fraud_engine.train(X.assign(is_fraud=y), n_trees=10, seed=4)
    np.testing.assert_array_equal(direct.predict_proba(Xh), proba[:, 1])


def test_string_labels_and_arrays(xy):
    X, y = xy
    names = np.where(y == 1, "fraud", "ok")
    numeric = X.drop(columns=["transaction_id", "merchant_category"]).to_numpy()
    clf = FraudForestClassifier(n_estimators=5).fit(numeric, names)
    assert list(clf.classes_) == ["fraud", "ok"]
    assert not hasattr(clf, "feature_names_in_")
    assert set(clf.predict(numeric)) <= {"fraud", "ok"}
    assert clf.model_.feature_names == [f"x{i}" for i in range(numeric.shape[1])]
    with pytest.raises(ValueError, match="expecting 7 features"):
        clf.predict(numeric[:, :5])
    with pytest.raises(ValueError, match="exactly 2 classes"):
        FraudForestClassifier().fit(numeric, np.zeros(len(numeric)))
    with pytest.raises(NotFittedError):
        FraudForestClassifier().predict(numeric)


def test_get_set_params_and_clone(xy):
    clf = FraudForestClassifier(n_estimators=7, max_depth=5, class_weight="balanced")
    params = clf.get_params()
    assert params["n_estimators"] == 7 and params["max_depth"] == 5
    assert clf.set_params(min_samples_leaf=3) is clf and clf.min_samples_leaf == 3
    with pytest.raises(ValueError):
        clf.set_params(n_trees=3)
    fitted = clone(clf).fit(*xy)
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params() and not hasattr(twin, "model_")
    assert fitted.model_.metadata["params"]["class_weight"] == "Balanced"


def test_cross_val_score(xy):
    X, y = xy
    scores = cross_val_score(FraudForestClassifier(n_estimators=8), X, y, cv=3, scoring="roc_auc")
    assert scores.shape == (3,) and ((scores > 0.5) & (scores <= 1.0)).all()
    accuracy = cross_val_score(FraudForestClassifier(n_estimators=8), X, y, cv=2)
    assert (accuracy > 0.5).all()


def test_pipeline_and_grid_search(xy):
    X, y = xy
    keep = ColumnTransformer(
        [("keep", "passthrough", ["amount", "merchant_category", "device_trust_score", "foreign_transaction"])],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    pipe = Pipeline([("select", keep), ("forest", FraudForestClassifier(n_estimators=5))])
    search = GridSearchCV(
        pipe,
        {"forest__min_samples_leaf": [5, 40], "forest__max_depth": [3, 8]},
        cv=2,
        scoring="roc_auc",
    )
    search.fit(X, y)
    best = search.best_estimator_.named_steps["forest"]
    assert best.model_.feature_names == ["amount", "merchant_category", "device_trust_score", "foreign_transaction"]
    assert best.min_samples_leaf in (5, 40)
    assert search.predict_proba(X).shape == (len(X), 2)
    assert len(search.cv_results_["params"]) == 4


def test_bad_estimator_params(xy):
    X, y = xy
    for bad in (dict(n_estimators=0), dict(random_state="x"), dict(n_jobs=0), dict(max_features=1.5)):
        with pytest.raises(fraud_engine.InvalidParamsError):
            FraudForestClassifier(**bad).fit(X, y)
    clf = FraudForestClassifier(n_estimators=3, max_features="log2", n_jobs=-1, random_state=np.random.RandomState(0))
    assert clf.fit(X, y).model_.metadata["params"]["max_features"] == 3

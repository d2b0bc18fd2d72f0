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


def test_integer_column_names_predict(xy):
    """pd.DataFrame(ndarray) names its columns 0, 1, ...: fit and predict on them."""
    import pandas as pd

    X, y = xy
    numeric = pd.DataFrame(X.drop(columns=["transaction_id", "merchant_category"]).to_numpy())
    clf = FraudForestClassifier(n_estimators=5).fit(numeric, y)
    assert not hasattr(clf, "feature_names_in_")
    proba = clf.predict_proba(numeric)
    np.testing.assert_array_equal(proba, clf.predict_proba(numeric.to_numpy()))
    assert proba.shape == (len(numeric), 2)


def test_sample_weight_trains_a_weighted_forest_in_the_engine(xy, holdout):
    X, y = xy
    Xh = holdout.drop(columns=["is_fraud"])
    plain = FraudForestClassifier(n_estimators=10, random_state=1).fit(X, y)
    ones = FraudForestClassifier(n_estimators=10, random_state=1).fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(ones.predict_proba(Xh), plain.predict_proba(Xh))
    heavy = np.where(y == 1, 20.0, 1.0)
    weighted = FraudForestClassifier(n_estimators=10, random_state=1).fit(X, y, sample_weight=heavy)
    # The engine trained it (the model file serves the same probabilities),
    # and frauds weighing 20 raise every fraud probability's scale.
    direct = fraud_engine.train(X.assign(is_fraud=y), n_trees=10, seed=1, sample_weight=heavy)
    np.testing.assert_array_equal(direct.predict_proba(Xh), weighted.predict_proba(Xh)[:, 1])
    assert weighted.predict_proba(Xh)[:, 1].mean() > 3 * plain.predict_proba(Xh)[:, 1].mean()
    # A class_weight dict is the same weighting, by class label.
    by_class = FraudForestClassifier(n_estimators=10, random_state=1, class_weight={1: 20.0}).fit(X, y)
    np.testing.assert_array_equal(by_class.predict_proba(Xh), weighted.predict_proba(Xh))
    # Out-of-bag metrics are weighted: frauds count 20 times.
    assert weighted.model_.metadata["oob_metrics"]["precision"] > plain.model_.metadata["oob_metrics"]["precision"]
    with pytest.raises(ValueError, match="sample_weight"):
        FraudForestClassifier(n_estimators=3).fit(X, y, sample_weight=np.ones(5))
    with pytest.raises(fraud_engine.InvalidInputError, match="weights must be finite"):
        FraudForestClassifier(n_estimators=3).fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(fraud_engine.InvalidParamsError, match="not classes of y"):
        FraudForestClassifier(n_estimators=3, class_weight={"fraud": 2.0}).fit(X, y)


def test_feature_importances(xy):
    X, y = xy
    clf = FraudForestClassifier(n_estimators=10).fit(X, y)
    importances = clf.feature_importances_
    assert importances.shape == (X.shape[1],)
    assert abs(importances.sum() - 1.0) < 1e-9
    # transaction_id is left out by train(), so it has no importance.
    assert importances[list(X.columns).index("transaction_id")] == 0.0
    assert importances[list(X.columns).index("device_trust_score")] > 0.0


def test_labels_in_scikit_learns_words(xy):
    from sklearn.exceptions import DataConversionWarning

    X, y = xy
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        clf = FraudForestClassifier(n_estimators=3).fit(X, y.to_numpy().reshape(-1, 1))
    assert clf.predict(X).shape == (len(X),)
    with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
        FraudForestClassifier().fit(X)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        FraudForestClassifier().fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        FraudForestClassifier().fit(X, np.arange(len(X)) % 3)
    numeric = X.drop(columns=["transaction_id", "merchant_category"]).to_numpy(np.float64)
    with pytest.raises(ValueError, match="Reshape your data"):
        FraudForestClassifier(n_estimators=3).fit(numeric, y).predict(numeric[0])
    scipy_sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="Sparse input is not supported"):
        FraudForestClassifier().fit(scipy_sparse.csr_matrix(numeric), y)


def test_polars_and_arrow_input(xy):
    import polars as pl
    import pyarrow as pa

    X, y = xy
    clf = FraudForestClassifier(n_estimators=5, random_state=2).fit(X, y)
    expected = clf.predict_proba(X)
    for frame in (pl.from_pandas(X), pa.Table.from_pandas(X, preserve_index=False)):
        np.testing.assert_array_equal(clf.predict_proba(frame), expected)
        refit = FraudForestClassifier(n_estimators=5, random_state=2).fit(frame, y)
        assert list(refit.feature_names_in_) == list(X.columns)
        np.testing.assert_array_equal(refit.predict_proba(X), expected)
    with pytest.raises(TypeError, match=r"collect\(\) it first"):
        clf.predict(pl.from_pandas(X).lazy())

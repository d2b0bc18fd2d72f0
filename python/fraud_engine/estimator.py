"""``FraudForestClassifier``: the engine's random forest as a scikit-learn estimator.

It fits through :func:`fraud_engine.train` and predicts through the trained
:class:`fraud_engine.Model` (``.model_``), so a model tuned with
``GridSearchCV`` is served, unchanged, by ``model_.save(path)`` and
``fraud-server``. It works without scikit-learn installed too (``fit``,
``predict``, ``get_params``, ...), just without scikit-learn's mixins.
"""

from __future__ import annotations

import inspect
import math
import os
import warnings
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ._native import InvalidInputError, InvalidParamsError, Model, from_bytes, train

try:
    # scikit-learn ships no type information: these are untyped to mypy.
    from sklearn.base import BaseEstimator as _EstimatorBase  # type: ignore[import-untyped,unused-ignore]
    from sklearn.base import ClassifierMixin as _ClassifierBase  # type: ignore[import-untyped,unused-ignore]
    from sklearn.exceptions import NotFittedError  # type: ignore[import-untyped,unused-ignore]

    _HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    _HAVE_SKLEARN = False

    class NotFittedError(ValueError, AttributeError):  # type: ignore[no-redef]
        """The estimator was used before ``fit``."""

    class _ClassifierBase:  # type: ignore[no-redef]
        """Stands in for scikit-learn's ClassifierMixin."""

    class _EstimatorBase:  # type: ignore[no-redef]
        """get_params / set_params as scikit-learn's BaseEstimator has them."""

        @classmethod
        def _get_param_names(cls) -> List[str]:
            signature = inspect.signature(cls.__init__)
            return sorted(
                p.name
                for p in signature.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
            )

        def get_params(self, deep: bool = True) -> Dict[str, Any]:
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params: Any) -> Any:
            valid = self._get_param_names()
            for name, value in params.items():
                if name not in valid:
                    raise InvalidParamsError(
                        f"invalid parameter `{name}` for {type(self).__name__} "
                        f"(valid: {', '.join(valid)})"
                    )
                setattr(self, name, value)
            return self

        def __repr__(self) -> str:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
            return f"{type(self).__name__}({args})"


Columns = Dict[str, Any]

try:
    from sklearn.exceptions import (  # type: ignore[import-untyped,unused-ignore]
        DataConversionWarning as _DataConversionWarning,
    )
    from sklearn.utils.multiclass import (  # type: ignore[import-untyped,unused-ignore]
        type_of_target as _type_of_target,
    )
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    _DataConversionWarning = UserWarning  # type: ignore[assignment,misc,unused-ignore]
    _type_of_target = None


def _type_name(X: Any) -> str:
    return f"{type(X).__module__}.{type(X).__qualname__}"


def _array(X: Any) -> np.ndarray:
    """``X`` (a list of rows, anything with ``__array__``) as a 2-D array,
    refused in scikit-learn's words where its checks expect them."""
    array = np.asarray(X)
    if np.iscomplexobj(array):
        raise ValueError("Complex data not supported: X holds complex numbers")
    if array.ndim != 2:
        raise ValueError(
            f"Expected a 2-D array (rows by features), got an array of shape {array.shape}. "
            "Reshape your data either using array.reshape(-1, 1) if your data has a "
            "single feature or array.reshape(1, -1) if it contains a single sample."
        )
    if array.shape[1] == 0:
        raise ValueError(
            f"0 feature(s) (shape={array.shape}) while a minimum of 1 is required."
        )
    if array.shape[0] == 0:
        raise ValueError(
            f"0 sample(s) (shape={array.shape}) while a minimum of 1 is required."
        )
    return array


def _as_columns(X: Any) -> Tuple[List[str], Columns, bool, int]:
    """``X`` as (column names, name -> column, whether the names are real, rows).

    Columns stay in their own library's form (a pandas or polars Series, an
    Arrow array, a numpy view): the engine reads each without a copy per value.
    """
    kind = _type_name(X)
    if kind.startswith("polars.") and type(X).__name__ == "LazyFrame":
        raise TypeError("X is a polars LazyFrame; collect() it first")
    if kind.startswith("scipy.sparse"):
        raise TypeError(
            "Sparse input is not supported: pass a dense array (X.toarray()) or a DataFrame"
        )
    if isinstance(X, dict):
        names = list(X)
        if not all(isinstance(n, str) for n in names):
            raise InvalidInputError("the keys of a dict of columns must be str")
        rows = len(next(iter(X.values()))) if X else 0
        return names, dict(X), True, rows
    if hasattr(X, "column_names") and hasattr(X, "column"):
        # A pyarrow Table or RecordBatch (whose `.columns` are the arrays).
        names = [str(n) for n in X.column_names]
        if len(set(names)) != len(names):
            raise InvalidInputError("X has duplicate column names")
        return names, {n: X.column(i) for i, n in enumerate(names)}, True, X.num_rows
    if hasattr(X, "columns") and hasattr(X, "__getitem__") and not isinstance(X, np.ndarray):
        keys = list(X.columns)
        named = all(isinstance(k, str) for k in keys)
        names = [str(k) for k in keys]
        if len(set(names)) != len(names):
            raise InvalidInputError("X has duplicate column names")
        if not names:
            raise ValueError(
                f"0 feature(s) (shape={(len(X), 0)}) while a minimum of 1 is required."
            )
        return names, {n: X[k] for n, k in zip(names, keys)}, named, len(X)
    if hasattr(X, "__arrow_c_stream__") and not hasattr(X, "__array__"):
        try:
            import pyarrow  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            raise TypeError(
                f"X ({kind}) is an Arrow stream; reading its column names needs pyarrow"
            ) from None
        return _as_columns(pyarrow.table(X))
    array = _array(X)
    names = [f"x{i}" for i in range(array.shape[1])]
    return names, {n: array[:, i] for i, n in enumerate(names)}, False, array.shape[0]


def _labels(y: Any, name: str) -> np.ndarray:
    """``y`` as a 1-D array of two classes, refused in scikit-learn's words
    (its checks, and its users, look for them)."""
    if y is None:
        raise ValueError(
            f"{name} requires y to be passed, but the target y is None"
        )
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change "
            "the shape of y to (n_samples,), for example using ravel().",
            _DataConversionWarning,
            stacklevel=3,
        )
        labels = labels.ravel()
    if labels.ndim != 1:
        raise ValueError(f"y must be 1-D (one label per row), got shape {labels.shape}")
    if labels.dtype.kind in "fc" and not np.all(np.isfinite(labels)):
        what = "NaN" if np.any(np.isnan(labels)) else "infinity"
        raise ValueError(f"Input y contains {what}: every row needs a label")
    if _type_of_target is not None:
        target = _type_of_target(labels, input_name="y")
    elif labels.dtype.kind == "f" and not np.all(np.isnan(labels) | (labels == np.round(labels))):
        target = "continuous"
    else:
        target = "binary"
    if target.startswith("continuous"):
        raise ValueError(
            "Unknown label type: continuous. y holds continuous values (a regression "
            f"target); {name} needs two classes such as 0/1 or True/False"
        )
    if target.startswith("multiclass"):
        raise ValueError(
            "Only binary classification is supported. The type of the target is "
            f"{target}: {name} is a binary (fraud or not) classifier"
        )
    return labels


def _free_label(names: List[str]) -> str:
    label = "is_fraud"
    while label in names:
        label = "_" + label
    return label


class FraudForestClassifier(_ClassifierBase, _EstimatorBase):  # type: ignore[misc,unused-ignore]
    """Random-forest fraud classifier with the scikit-learn estimator API.

    Parameters map to :func:`fraud_engine.train`: ``n_estimators`` (trees),
    ``max_depth``, ``min_samples_leaf``, ``max_features`` (None or "sqrt" for
    the square root of the feature count, "log2", an int, or a float
    fraction), ``class_weight`` (None, "balanced", or a dict of class to
    weight, a class left out weighing 1), ``bootstrap``,
    ``max_bins``, ``threshold_strategy`` (how the decision threshold is
    chosen from out-of-bag scores: "max-f1", "target-recall=R",
    "target-precision=P", "max-fpr=F"), ``random_state`` (an int seed; None
    means the engine's fixed default seed, so fits are reproducible) and
    ``n_jobs`` (training threads; None or -1 for one per core).

    ``X`` may be a pandas DataFrame (text columns become categorical
    features; id-named columns such as ``customer_id`` are left out, as
    ``train`` does), a dict of columns, or a 2-D array. ``y`` holds two
    classes; the second in sorted order (1, True) is fraud, so
    ``predict_proba(X)[:, 1]`` is the fraud probability. ``predict`` applies
    the model's own decision threshold (``model_.threshold``), the one that
    serving uses, rather than 0.5.

    ``fit`` takes ``sample_weight`` (one weight per row): the engine trains a
    weighted forest (split criterion, leaf values, out-of-bag metrics and the
    threshold chosen from them).

    Fitted attributes: ``model_`` (a :class:`fraud_engine.Model`, ready to
    ``save`` and serve), ``classes_``, ``n_features_in_``,
    ``feature_importances_`` (impurity decrease, summing to 1; 0 for a column
    ``train`` left out) and, when X had string column names,
    ``feature_names_in_``. Pickling stores the model
    file's bytes, never a Python object graph of the forest.
    """

    def __init__(
        self,
        n_estimators: int = 100,
        *,
        max_depth: int = 8,
        min_samples_leaf: int = 30,
        max_features: Any = None,
        class_weight: Any = None,
        bootstrap: bool = True,
        max_bins: int = 256,
        threshold_strategy: str = "max-f1",
        random_state: Any = None,
        n_jobs: Optional[int] = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.class_weight = class_weight
        self.bootstrap = bootstrap
        self.max_bins = max_bins
        self.threshold_strategy = threshold_strategy
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _engine_params(self, n_features: int) -> Dict[str, Any]:
        max_features = self.max_features
        if max_features is None or max_features == "sqrt":
            max_features = None
        elif max_features == "log2":
            max_features = max(1, int(math.log2(n_features)))
        elif isinstance(max_features, float):
            if not 0.0 < max_features <= 1.0:
                raise InvalidParamsError(
                    f"invalid parameter `max_features`: a float must be in (0, 1], got {max_features}"
                )
            max_features = max(1, int(max_features * n_features))
        seed = self.random_state
        if seed is None:
            params: Dict[str, Any] = {}
        elif isinstance(seed, np.random.RandomState):
            params = {"seed": int(seed.randint(np.iinfo(np.int32).max))}
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            params = {"seed": int(seed)}
        else:
            raise InvalidParamsError(
                f"invalid parameter `random_state`: expected None, an int or a RandomState, got {seed!r}"
            )
        params.update(
            n_trees=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            max_features=max_features,
            class_weight=self._engine_class_weight(),
            bootstrap=self.bootstrap,
            max_bins=self.max_bins,
            threshold_strategy=self.threshold_strategy,
        )
        return params

    def _engine_class_weight(self) -> Any:
        """``class_weight`` with the labels ``classes_`` read as 0 and 1."""
        weights = self.class_weight
        if not isinstance(weights, dict):
            return weights
        unknown = [c for c in weights if not any(c == k for k in self.classes_)]
        if unknown:
            raise InvalidParamsError(
                f"invalid parameter `class_weight`: {unknown!r} are not classes of y "
                f"(the classes are {list(self.classes_)!r})"
            )
        return {
            code: float(weights[label])
            for code, label in enumerate(self.classes_)
            if label in weights
        }

    def _threads(self) -> Optional[int]:
        n_jobs = self.n_jobs
        if n_jobs is None or n_jobs == -1:
            return None
        if not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
            raise InvalidParamsError(
                f"invalid parameter `n_jobs`: expected None, -1 or a non-zero int, got {n_jobs!r}"
            )
        if n_jobs < 0:
            return max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))
        return int(n_jobs)

    def fit(
        self, X: Any, y: Any = None, sample_weight: Any = None
    ) -> "FraudForestClassifier":
        """Trains the forest on ``X`` and the two-class labels ``y``, each row
        weighing ``sample_weight[i]`` (default 1)."""
        names, columns, named, rows = _as_columns(X)
        labels = _labels(y, type(self).__name__)
        if len(labels) != rows:
            raise InvalidInputError(f"y has {len(labels)} labels for {rows} rows of X")
        try:
            classes, encoded = np.unique(labels, return_inverse=True)
        except TypeError as e:
            raise InvalidInputError(f"y mixes label types that cannot be ordered: {e}") from e
        if len(classes) != 2:
            raise ValueError(
                f"y has {len(classes)} class{'es' if len(classes) != 1 else ''} "
                f"({classes.tolist()!r}); {type(self).__name__} needs exactly 2 classes "
                "(it is a binary classifier)"
                + (" and a single sample has one class" if rows == 1 else "")
            )
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if sample_weight.ndim == 0:
                sample_weight = np.full(rows, float(sample_weight))
            elif sample_weight.ndim != 1 or len(sample_weight) != rows:
                raise ValueError(
                    f"sample_weight.shape == {sample_weight.shape}, expected ({rows},)!"
                )
        self.classes_ = classes
        label = _free_label(names)
        data = dict(columns)
        data[label] = encoded.astype(np.int64)
        self.model_ = train(
            data,
            label=label,
            threads=self._threads(),
            sample_weight=sample_weight,
            **self._engine_params(len(names)),
        )
        self.n_features_in_ = len(names)
        self._fit_columns = names
        if named:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    @property
    def feature_importances_(self) -> np.ndarray:
        """Impurity-based importance of each column of X (as scikit-learn's
        forests report it), summing to 1; 0 for a column ``train`` left out."""
        model = self._fitted_model()
        by_name = {
            f["name"]: f["impurity_importance"] for f in model.metadata["schema"]["features"]
        }
        return np.array([by_name.get(n, 0.0) for n in self._columns()], dtype=np.float64)

    def _columns(self) -> List[str]:
        """The names the columns of X were trained under, in order."""
        names = getattr(self, "_fit_columns", None)
        if names is not None:
            return list(names)
        # Pickled before the names were kept: named columns, or x0, x1, ...
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is not None:
            return list(fitted)
        return [f"x{i}" for i in range(self.n_features_in_)]

    def _fitted_model(self) -> Model:
        model = getattr(self, "model_", None)
        if not isinstance(model, Model):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call fit first."
            )
        return model

    def _aligned(self, X: Any) -> Columns:
        names, columns, named, _ = _as_columns(X)
        if len(names) != self.n_features_in_:
            raise ValueError(
                f"X has {len(names)} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        fitted_names = getattr(self, "feature_names_in_", None)
        if fitted_names is not None and named:
            if names != list(fitted_names):
                raise ValueError(
                    "The feature names should match those that were passed during fit: "
                    f"expected {list(fitted_names)}, got {names}"
                )
            return columns
        if fitted_names is not None and not named:
            warnings.warn(
                f"X does not have valid feature names, but {type(self).__name__} was "
                "fitted with feature names",
                UserWarning,
                stacklevel=3,
            )
        elif fitted_names is None and named:
            warnings.warn(
                f"X has feature names, but {type(self).__name__} was fitted without "
                "feature names",
                UserWarning,
                stacklevel=3,
            )
        # Input without the fitted names lines up with the fitted columns by position.
        return {target: columns[name] for target, name in zip(self._columns(), names)}

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (rows, 2): column 1 is fraud (``classes_[1]``)."""
        model = self._fitted_model()
        fraud = model.predict_proba(self._aligned(X))
        return np.column_stack((1.0 - fraud, fraud))

    def predict(self, X: Any) -> np.ndarray:
        """``classes_[1]`` where the fraud probability reaches ``model_.threshold``."""
        model = self._fitted_model()
        fraud = model.predict_proba(self._aligned(X))
        return self.classes_[(fraud >= model.threshold).astype(np.intp)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()  # type: ignore[misc,unused-ignore]
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_class = False
        return tags

    def _sklearn_expected_failed_checks(self) -> Dict[str, str]:
        """The scikit-learn conformance checks this estimator fails by
        design, each with the reason, for ``parametrize_with_checks(...,
        expected_failed_checks=...)``."""
        failing = {
            # The same reason scikit-learn lists for its own RandomForestClassifier.
            "check_sample_weight_equivalence_on_dense_data": (
                "each tree trains on a bootstrap draw of the rows, and a row of weight 2 "
                "is drawn once where two copies of it are drawn twice"
            ),
        }
        if self.min_samples_leaf * 2 > 50:
            failing["check_class_weight_classifiers"] = (
                "the check trains on 50 rows, fewer than twice min_samples_leaf, so every "
                "tree is one leaf and predict's threshold (chosen on out-of-bag scores) "
                "flags every row; with min_samples_leaf=1 the check passes"
            )
        return failing

    def __getstate__(self) -> Dict[str, Any]:
        if _HAVE_SKLEARN:
            state = dict(super().__getstate__())  # type: ignore[misc,unused-ignore]
        else:
            state = self.__dict__.copy()
        model = state.get("model_")
        if isinstance(model, Model):
            state["model_"] = model.to_bytes()
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        state = dict(state)
        blob = state.get("model_")
        if isinstance(blob, (bytes, bytearray)):
            state["model_"] = from_bytes(bytes(blob))
        if _HAVE_SKLEARN:
            super().__setstate__(state)  # type: ignore[misc,unused-ignore]
        else:
            self.__dict__.update(state)

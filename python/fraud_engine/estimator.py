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
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from ._native import InvalidInputError, InvalidParamsError, Model, from_bytes, train

try:
    from sklearn.base import BaseEstimator as _EstimatorBase
    from sklearn.base import ClassifierMixin as _ClassifierBase
    from sklearn.exceptions import NotFittedError

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


def _as_columns(X: Any) -> Tuple[List[str], Columns, bool, int]:
    """``X`` as (column names, name -> column, whether the names are real, rows)."""
    if isinstance(X, dict):
        names = list(X)
        if not all(isinstance(n, str) for n in names):
            raise InvalidInputError("the keys of a dict of columns must be str")
        rows = len(next(iter(X.values()))) if X else 0
        return names, dict(X), True, rows
    if hasattr(X, "columns") and hasattr(X, "__getitem__") and not isinstance(X, np.ndarray):
        keys = list(X.columns)
        named = all(isinstance(k, str) for k in keys)
        names = [str(k) for k in keys]
        if len(set(names)) != len(names):
            raise InvalidInputError("X has duplicate column names")
        return names, {n: X[k] for n, k in zip(names, keys)}, named, len(X)
    array = np.asarray(X)
    if array.ndim != 2:
        raise InvalidInputError(
            f"X must be 2-D (rows by features), got an array of shape {array.shape}"
        )
    names = [f"x{i}" for i in range(array.shape[1])]
    return names, {n: array[:, i] for i, n in enumerate(names)}, False, array.shape[0]


def _free_label(names: List[str]) -> str:
    label = "is_fraud"
    while label in names:
        label = "_" + label
    return label


class FraudForestClassifier(_ClassifierBase, _EstimatorBase):  # type: ignore[misc]
    """Random-forest fraud classifier with the scikit-learn estimator API.

    Parameters map to :func:`fraud_engine.train`: ``n_estimators`` (trees),
    ``max_depth`` and ``min_samples_leaf`` (an int, or "auto", the default:
    chosen with ``class_weight`` from a few candidates by out-of-bag PR-AUC,
    recorded in ``model_.metadata["auto"]``), ``max_features`` (None or
    "sqrt" for the square root of the feature count, "log2", an int, or a
    float fraction), ``class_weight`` ("auto", the default; None or "none";
    "balanced"; or "balanced-splits": balanced weights for choosing splits,
    plain fraud fractions in the leaves), ``bootstrap``,
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

    Fitted attributes: ``model_`` (a :class:`fraud_engine.Model`, ready to
    ``save`` and serve), ``classes_``, ``n_features_in_`` and, when X had
    string column names, ``feature_names_in_``. Pickling stores the model
    file's bytes, never a Python object graph of the forest.
    """

    def __init__(
        self,
        n_estimators: int = 100,
        *,
        max_depth: Union[int, str] = "auto",
        min_samples_leaf: Union[int, str] = "auto",
        max_features: Any = None,
        class_weight: Optional[str] = "auto",
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
            class_weight=self.class_weight,
            bootstrap=self.bootstrap,
            max_bins=self.max_bins,
            threshold_strategy=self.threshold_strategy,
        )
        return params

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

    def fit(self, X: Any, y: Any) -> "FraudForestClassifier":
        """Trains the forest on ``X`` and the two-class labels ``y``."""
        names, columns, named, rows = _as_columns(X)
        labels = np.asarray(y)
        if labels.ndim != 1:
            raise InvalidInputError(f"y must be 1-D, got shape {labels.shape}")
        if len(labels) != rows:
            raise InvalidInputError(f"y has {len(labels)} labels for {rows} rows of X")
        try:
            classes, encoded = np.unique(labels, return_inverse=True)
        except TypeError as e:
            raise InvalidInputError(f"y mixes label types that cannot be ordered: {e}") from e
        if len(classes) != 2:
            raise InvalidInputError(
                "FraudForestClassifier is a binary classifier: y needs exactly 2 classes, "
                f"got {len(classes)}: {classes.tolist()!r}"
            )
        label = _free_label(names)
        data = dict(columns)
        data[label] = encoded.astype(np.int64)
        self.model_ = train(
            data, label=label, threads=self._threads(), **self._engine_params(len(names))
        )
        self.classes_ = classes
        self.n_features_in_ = len(names)
        if named:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    def _fitted_model(self) -> Model:
        model = getattr(self, "model_", None)
        if model is None:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call fit first."
            )
        return model

    def _aligned(self, X: Any) -> Columns:
        names, columns, named, _ = _as_columns(X)
        if len(names) != self.n_features_in_:
            raise InvalidInputError(
                f"X has {len(names)} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        fitted_names = getattr(self, "feature_names_in_", None)
        if fitted_names is not None and named:
            if names != list(fitted_names):
                raise InvalidInputError(
                    "The feature names should match those that were passed during fit: "
                    f"expected {list(fitted_names)}, got {names}"
                )
            return columns
        # Unnamed input lines up with the fitted columns by position.
        targets = (
            list(fitted_names)
            if fitted_names is not None
            else [f"x{i}" for i in range(self.n_features_in_)]
        )
        return {target: columns[name] for target, name in zip(targets, names)}

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
        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_class = False
        return tags

    def __getstate__(self) -> Dict[str, Any]:
        if _HAVE_SKLEARN:
            state = dict(super().__getstate__())  # type: ignore[misc]
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
            super().__setstate__(state)  # type: ignore[misc]
        else:
            self.__dict__.update(state)

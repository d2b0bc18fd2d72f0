"""Train and score on a Dask cluster: ``fraud_engine.dask.FraudForestClassifier``.

Needs ``pip install 'fraud-engine[dask]'``. Importing ``fraud_engine`` never
imports Dask; importing this module does.

Training spreads the trees over the partitions: each partition trains its
share on its own rows, on the worker that holds them, and the driver merges
the parts (no row moves between workers). Category codes and missing-value
fills are fitted once, from a first pass that summarizes every partition,
so every part encodes alike. Scoring is lazy: ``predict_proba`` maps the
model over the partitions, the model file's bytes scattered to the workers
once and loaded once per worker process. See docs/distributed.md.
"""

# Dask and distributed ship without annotations for most of the API used
# here (delayed, compute, scatter, gather), so calls into them are Any.
# mypy: disallow-untyped-calls=False

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Union

import numpy as np

try:
    import dask.array as da
    import dask.dataframe as dd
    from dask.delayed import delayed
    from dask.distributed import Client, Future, default_client, get_worker
except ImportError as error:  # pragma: no cover - exercised only without dask
    raise ImportError(
        "fraud_engine.dask needs Dask with its distributed scheduler: "
        "pip install 'fraud-engine[dask]'"
    ) from error

from . import _native
from ._native import InvalidInputError, Model, from_bytes, load
from ._shipping import free_label, local_estimator_class, model_from_bytes, partition_frame

__all__ = ["FraudForestClassifier"]


def _worker_threads(n_jobs: Optional[int]) -> Optional[int]:
    """Training threads on a worker: ``n_jobs``, else the worker's own thread count."""
    if n_jobs is not None and n_jobs > 0:
        return int(n_jobs)
    try:
        return int(get_worker().state.nthreads)
    except (ValueError, AttributeError):  # not on a worker (a local scheduler)
        return None


def _summarize(part: Any, label: str) -> Optional[bytes]:
    # An empty partition (after a filter, say) has nothing to summarize or train on.
    return _native.summarize(partition_frame(part), label=label) if len(part) else None


def _train_part(
    part: Any,
    label: str,
    encoding: bytes,
    first: int,
    end: int,
    n_jobs: Optional[int],
    params: Dict[str, Any],
) -> bytes:
    return _native.train_part(
        partition_frame(part),
        encoding,
        first,
        end,
        threads=_worker_threads(n_jobs),
        **params,
    )


def _proba(x: Any, model_bytes: bytes) -> np.ndarray:
    fraud = model_from_bytes(model_bytes).predict_proba(x)
    return np.column_stack((1.0 - fraud, fraud))


def _classes(x: Any, model_bytes: bytes, classes: np.ndarray) -> np.ndarray:
    model = model_from_bytes(model_bytes)
    fraud = model.predict_proba(x)
    return classes[(fraud >= model.threshold).astype(np.intp)]


def _with_labels(X: Any, y: Any, label: str) -> Any:
    """X with y as its column ``label``: one collection, so X's rows and their
    labels are in the same partitions whatever the optimizer does to either."""
    if not isinstance(X, dd.DataFrame):
        raise InvalidInputError(
            f"X must be a dask.dataframe.DataFrame, not {type(X).__name__}; "
            "use fraud_engine.FraudForestClassifier for data in memory"
        )
    if not isinstance(y, dd.Series):
        raise InvalidInputError(
            f"y must be a dask.dataframe.Series (a column of X's frame, say), not {type(y).__name__}"
        )
    try:
        return X.assign(**{label: y})
    except (ValueError, NotImplementedError) as error:
        raise InvalidInputError(
            f"y does not line up with the rows of X ({error}): give y with the partitions of X"
        ) from error


class FraudForestClassifier(local_estimator_class()):  # type: ignore[misc]
    """The engine's random forest, trained and scored on a Dask cluster.

    ``client`` is the ``dask.distributed.Client`` to run on (None: the
    default client). The other parameters are
    :class:`fraud_engine.FraudForestClassifier`'s; ``n_estimators`` is the
    tree count of the whole forest, spread as evenly as can be over the
    non-empty partitions (a partition past the ``n_estimators``-th trains
    none), and
    ``n_jobs`` the training threads per task (None: the worker's threads).

    ``fit(X, y)`` takes a ``dask.dataframe.DataFrame`` and the 0/1 labels
    (true/false and yes/no are read too) as a Dask Series that lines up
    with X's rows (a column of the same frame, typically). It reads ``X`` twice
    (a first pass fits the one encoding every partition shares), so persist
    ``X`` first when it is expensive to compute. The same data, partitioning
    and ``random_state`` give the same model.

    ``predict_proba(X)`` and ``predict(X)`` return lazy Dask arrays, one
    chunk per partition; the model file's bytes are scattered to the
    workers once per fitted model. ``model_`` is the engine's
    :class:`fraud_engine.Model` (save it and serve it), and ``to_local()``
    the plain in-memory estimator.
    """

    def __init__(
        self,
        client: Optional[Client] = None,
        n_estimators: int = 100,
        *,
        max_depth: Union[int, str] = "auto",
        min_samples_leaf: Union[int, str] = "auto",
        max_features: Any = None,
        class_weight: Any = "auto",
        bootstrap: bool = True,
        max_bins: int = 256,
        threshold_strategy: str = "max-f1",
        random_state: Any = None,
        n_jobs: Optional[int] = None,
    ) -> None:
        super().__init__(
            n_estimators,
            max_depth=max_depth,
            min_samples_leaf=min_samples_leaf,
            max_features=max_features,
            class_weight=class_weight,
            bootstrap=bootstrap,
            max_bins=max_bins,
            threshold_strategy=threshold_strategy,
            random_state=random_state,
            n_jobs=n_jobs,
        )
        self.client = client

    @classmethod
    def from_model(
        cls, model: Union[Model, str, "os.PathLike[str]"], client: Optional[Client] = None
    ) -> "FraudForestClassifier":
        """A fitted estimator scoring with ``model``: a :class:`fraud_engine.Model`
        or the path of a model file (one ``fraud-server train`` wrote, say)."""
        if not isinstance(model, Model):
            model = load(model)
        estimator = cls(client=client)
        estimator._set_fitted(model)
        return estimator

    def _set_fitted(self, model: Model) -> None:
        self.model_ = model
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = len(model.feature_names)
        self.feature_names_in_ = np.asarray(model.feature_names, dtype=object)
        self._shipped: Optional["Future[bytes]"] = None

    def _get_client(self) -> Client:
        return self.client if self.client is not None else default_client()

    def fit(self, X: Any, y: Any) -> "FraudForestClassifier":
        """Trains ``n_estimators`` trees in all over the partitions of ``X``."""
        client = self._get_client()
        names = [str(c) for c in X.columns] if isinstance(X, dd.DataFrame) else []
        label = free_label(names)
        partitions = _with_labels(X, y, label).to_delayed()
        summarize = delayed(_summarize, pure=True)
        summaries = client.gather(client.compute([summarize(p, label) for p in partitions]))
        partitions = [p for p, s in zip(partitions, summaries) if s is not None]
        if not partitions:
            raise InvalidInputError("X has no rows")
        encoding = client.scatter(
            _native.fit_encoding([s for s in summaries if s is not None]), broadcast=True
        )
        # The engine reads the label column as 0 and 1 (true/false and
        # yes/no too), so a `class_weight` dict is keyed by those.
        self.classes_ = np.array([0, 1])
        params = self._engine_params(len(names))
        ranges = _native.split_trees(self.n_estimators, len(partitions))
        train = delayed(_train_part, pure=True)
        tasks = [
            train(part, label, encoding, first, end, self.n_jobs, params)
            for part, (first, end) in zip(partitions, ranges)
            if end > first
        ]
        parts = client.gather(client.compute(tasks))
        self._set_fitted(_native.merge_parts(parts))
        return self

    def _model_bytes(self) -> "Future[bytes]":
        """The model file's bytes on every worker, scattered once per fitted model."""
        model = self._fitted_model()
        shipped = getattr(self, "_shipped", None)
        if shipped is None or shipped.status != "finished":
            shipped = self._get_client().scatter(model.to_bytes(), broadcast=True, hash=False)
            self._shipped = shipped
        result: "Future[bytes]" = shipped
        return result

    def _map(self, X: Any, func: Any, *args: Any, ndim: int) -> Any:
        if not isinstance(X, dd.DataFrame):
            raise InvalidInputError(
                f"X must be a dask.dataframe.DataFrame, not {type(X).__name__}"
            )
        missing = [n for n in self._fitted_model().feature_names if n not in X.columns]
        if missing:
            raise InvalidInputError(f"X has no column {', '.join(map(repr, missing))}")
        shipped = self._model_bytes()
        run = delayed(func, pure=True)
        chunks = [
            da.from_delayed(
                run(part, shipped, *args),
                shape=(np.nan, 2) if ndim == 2 else (np.nan,),
                dtype=np.float64 if ndim == 2 else self.classes_.dtype,
            )
            for part in X.to_delayed()
        ]
        return da.concatenate(chunks, axis=0)

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities as a lazy Dask array (rows, 2): column 1 is fraud."""
        return self._map(X, _proba, ndim=2)

    def predict(self, X: Any) -> Any:
        """``classes_[1]`` where the fraud probability reaches ``model_.threshold``, lazily."""
        return self._map(X, _classes, self.classes_, ndim=1)

    def to_local(self) -> Any:
        """The plain in-memory :class:`fraud_engine.FraudForestClassifier` with this model."""
        local_class = local_estimator_class()
        params = self.get_params()
        params.pop("client", None)
        local = local_class(**params)
        local.model_ = self._fitted_model()
        local.classes_ = self.classes_
        local.n_features_in_ = self.n_features_in_
        local.feature_names_in_ = self.feature_names_in_
        return local

    def __getstate__(self) -> Dict[str, Any]:
        state: Dict[str, Any] = super().__getstate__()
        # A client and a future belong to this process.
        state.pop("client", None)
        state.pop("_shipped", None)
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        super().__setstate__(state)
        self.client = None
        self._shipped = None


"""Train and score on Spark: ``fraud_engine.spark.FraudForestClassifier``.

Needs ``pip install 'fraud-engine[spark]'`` (pyspark and pyarrow) and a Java
runtime. Importing ``fraud_engine`` never imports pyspark; importing this
module does.

``FraudForestClassifier(...).fit(df)`` trains with ``mapInPandas``: a first
pass summarizes every partition (the driver fits the one encoding every part
shares), then each partition trains its share of the trees on its own rows
and the driver merges the parts. No shuffle, no row leaves its executor.
``FraudForestModel.transform(df)`` scores with ``mapInPandas`` over Arrow
batches, the model file's bytes broadcast once. See docs/distributed.md.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import numpy as np

try:
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    from pyspark import TaskContext
    from pyspark.sql import DataFrame
    from pyspark.sql.types import (
        DoubleType,
        IntegerType,
        StringType,
        StructField,
        StructType,
    )
except ImportError as error:  # pragma: no cover - exercised only without pyspark
    raise ImportError(
        "fraud_engine.spark needs pyspark, pandas and pyarrow: pip install 'fraud-engine[spark]'"
    ) from error

from . import _native
from ._native import InvalidInputError, Model, load
from ._shipping import local_estimator_class, model_from_bytes

__all__ = ["FraudForestClassifier", "FraudForestModel"]


def _partition_id() -> int:
    """The partition a ``mapInPandas`` function is running on."""
    context = TaskContext.get()
    if context is None:
        raise RuntimeError("fraud_engine.spark: not running inside a Spark task")
    return context.partitionId()

_BYTES_SCHEMA = "partition int, data binary"


def _whole_partition(batches: Iterator[pd.DataFrame]) -> Optional[pd.DataFrame]:
    """A partition's Arrow batches as one frame; None when it has no rows."""
    frames = [b for b in batches if len(b)]
    if not frames:
        return None
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _task_threads(n_jobs: Optional[int]) -> Optional[int]:
    """Training threads in a task: ``n_jobs``, else the CPUs Spark gave the task."""
    if n_jobs is not None and n_jobs > 0:
        return int(n_jobs)
    context = TaskContext.get()
    return int(context.cpus()) if context is not None else None


class FraudForestModel:
    """A fitted model for Spark DataFrames.

    ``model`` is a :class:`fraud_engine.Model` or the path of a model file
    (one ``fraud-server train`` or ``Model.save`` wrote). ``transform(df)``
    adds ``fraud_probability`` (double), ``predicted_is_fraud`` (int, 0 or
    1, at the model's threshold) and ``risk_level`` (LOW, MEDIUM or HIGH),
    the values ``Model.predict_many`` gives in memory, to every row of
    ``df``; the model reads its features by name and ignores other columns.
    The names are those ``fraud-server predict`` writes, so a labelled
    ``df`` keeps its own ``is_fraud`` beside the verdict; they can be
    changed (``probability_col``, ``prediction_col``, ``risk_col``).
    """

    def __init__(
        self,
        model: Union[Model, str, "os.PathLike[str]"],
        *,
        probability_col: str = "fraud_probability",
        prediction_col: str = "predicted_is_fraud",
        risk_col: str = "risk_level",
    ) -> None:
        self.model_ = model if isinstance(model, Model) else load(model)
        self.probability_col = probability_col
        self.prediction_col = prediction_col
        self.risk_col = risk_col
        self._broadcasts: Dict[int, Any] = {}

    def _shipped(self, df: DataFrame) -> Any:
        """The model file's bytes broadcast to the executors, once per Spark context."""
        context = df.sparkSession.sparkContext
        key = id(context)
        if key not in self._broadcasts:
            self._broadcasts[key] = context.broadcast(self.model_.to_bytes())
        return self._broadcasts[key]

    def transform(self, df: DataFrame) -> DataFrame:
        """``df`` with the three score columns added (lazily, as any Spark transformation)."""
        names = (self.probability_col, self.prediction_col, self.risk_col)
        taken = [c for c in names if c in df.columns]
        if taken:
            raise InvalidInputError(
                f"df already has the column {', '.join(map(repr, taken))} that transform adds: "
                "drop it, or name the output with probability_col, prediction_col or risk_col"
            )
        missing = [n for n in self.model_.feature_names if n not in df.columns]
        if missing:
            raise InvalidInputError(f"df has no column {', '.join(map(repr, missing))}")
        shipped = self._shipped(df)
        schema = StructType(
            list(df.schema.fields)
            + [
                StructField(self.probability_col, DoubleType(), False),
                StructField(self.prediction_col, IntegerType(), False),
                StructField(self.risk_col, StringType(), False),
            ]
        )
        probability_col, prediction_col, risk_col = names

        def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            model = model_from_bytes(shipped.value)
            for batch in batches:
                scored = model.predict_many(batch)
                yield batch.assign(
                    **{
                        probability_col: scored["fraud_probability"].to_numpy(),
                        prediction_col: scored["is_fraud"].to_numpy().astype("int32"),
                        risk_col: scored["risk_level"].to_numpy(),
                    }
                )

        return df.mapInPandas(score, schema)

    def __getstate__(self) -> Dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k != "_broadcasts"}
        state["model_"] = self.model_.to_bytes()
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.model_ = model_from_bytes(state["model_"])
        self._broadcasts = {}


class FraudForestClassifier:
    """The engine's random forest, trained on a Spark DataFrame.

    ``label_col`` names the 0/1 label column (true/false and yes/no are read
    too); every other column is a feature, but for those in ``drop`` and
    id-named ones (``id``, ``*_id``) not in ``keep``, as
    :func:`fraud_engine.train` reads a table. The other parameters are
    :class:`fraud_engine.FraudForestClassifier`'s; ``n_estimators`` is the
    tree count of the whole forest, spread as evenly as can be over the
    non-empty partitions, and ``n_jobs`` the training threads per task
    (None: the task's CPUs, ``spark.task.cpus``).

    ``fit(df)`` reads ``df`` twice (a first pass fits the one encoding every
    part shares); it persists ``df`` for the two passes and releases it
    after. The same data, partitioning and ``random_state`` give the same
    model. Returns a :class:`FraudForestModel`.
    """

    def __init__(
        self,
        label_col: str = "is_fraud",
        n_estimators: int = 100,
        *,
        drop: Optional[Sequence[str]] = None,
        keep: Optional[Sequence[str]] = None,
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
        self.label_col = label_col
        self.drop = list(drop or [])
        self.keep = list(keep or [])
        self.n_jobs = n_jobs
        self._local = local_estimator_class()(
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

    @property
    def n_estimators(self) -> int:
        return int(self._local.n_estimators)

    def fit(self, df: DataFrame) -> FraudForestModel:
        """Trains ``n_estimators`` trees in all over the partitions of ``df``."""
        label = self.label_col
        if label not in df.columns:
            raise InvalidInputError(
                f"df has no label column {label!r} (columns: {', '.join(df.columns)})"
            )
        features: List[str] = [c for c in df.columns if c != label and c not in self.drop]
        # The engine reads the label column as 0 and 1 (true/false and
        # yes/no too), so a `class_weight` dict is keyed by those.
        self._local.classes_ = np.array([0, 1])
        params = self._local._engine_params(len(features))
        rules: Dict[str, Any] = {"label": label, "drop": self.drop, "keep": self.keep}
        n_jobs = self.n_jobs
        context = df.sparkSession.sparkContext
        persisted = df.persist()
        try:

            def summaries(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
                frame = _whole_partition(batches)
                if frame is not None:
                    partition = _partition_id()
                    summary = _native.summarize(frame, **rules)
                    yield pd.DataFrame({"partition": [partition], "data": [summary]})

            found = sorted(
                persisted.mapInPandas(summaries, _BYTES_SCHEMA).collect(),
                key=lambda row: row.partition,
            )
            if not found:
                raise InvalidInputError("df has no rows")
            encoding = _native.fit_encoding([bytes(row.data) for row in found])
            ranges = _native.split_trees(self.n_estimators, len(found))
            plan = {
                row.partition: trees for row, trees in zip(found, ranges) if trees[1] > trees[0]
            }
            shipped = context.broadcast(encoding)

            def train(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
                partition = _partition_id()
                if partition not in plan:
                    return
                frame = _whole_partition(batches)
                if frame is None:
                    return
                first, end = plan[partition]
                # Read with the encoding's schema: columns it does not name are ignored.
                part = _native.train_part(
                    frame, shipped.value, first, end, threads=_task_threads(n_jobs), **params
                )
                yield pd.DataFrame({"partition": [partition], "data": [part]})

            parts = persisted.mapInPandas(train, _BYTES_SCHEMA).collect()
            shipped.unpersist()
        finally:
            persisted.unpersist()
        if len(parts) != len(plan):
            raise InvalidInputError(
                f"{len(plan)} partitions were to train trees but {len(parts)} did: "
                "the partitioning changed between the two passes over df"
            )
        return FraudForestModel(_native.merge_parts([bytes(row.data) for row in parts]))

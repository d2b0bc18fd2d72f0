"""What ``fraud_engine.dask`` and ``fraud_engine.spark`` share: partitions
handed to the engine, and models shipped as their file's bytes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Dict, List

from ._native import Model, from_bytes

# Models loaded in this process, by their file's bytes. A worker is sent
# the bytes once and runs many tasks with them: each task finds the model
# here instead of reading it again. The bytes object caches its own hash,
# so a lookup costs nothing after the first.
_LOADED: "OrderedDict[bytes, Model]" = OrderedDict()
_LOADED_LIMIT = 4
_LOCK = threading.Lock()


def model_from_bytes(data: bytes) -> Model:
    """The model whose file's bytes are ``data``, read once per process."""
    with _LOCK:
        model = _LOADED.get(data)
        if model is not None:
            _LOADED.move_to_end(data)
            return model
    model = from_bytes(data)
    with _LOCK:
        _LOADED[data] = model
        while len(_LOADED) > _LOADED_LIMIT:
            _LOADED.popitem(last=False)
    return model


def free_label(names: List[str]) -> str:
    """A label column name that is not one of ``names``."""
    label = "is_fraud"
    while label in names:
        label = "_" + label
    return label


def partition_frame(x: Any, y: Any, label: str) -> Dict[str, Any]:
    """One partition's features and labels as a dict of columns for the engine."""
    columns: Dict[str, Any] = {str(name): x[name] for name in x.columns}
    labels = y.to_numpy() if hasattr(y, "to_numpy") else y
    if len(labels) != len(x):
        from ._native import InvalidInputError

        raise InvalidInputError(
            f"a partition has {len(x)} rows in X and {len(labels)} labels in y: "
            "give y with the partitions of X"
        )
    columns[label] = labels
    return columns


def local_estimator_class() -> Any:
    """The in-memory ``fraud_engine.FraudForestClassifier`` (imports scikit-learn when present)."""
    from .estimator import FraudForestClassifier

    return FraudForestClassifier

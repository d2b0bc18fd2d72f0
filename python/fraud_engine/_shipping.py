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


def partition_frame(part: Any) -> Dict[str, Any]:
    """One partition (a pandas DataFrame) as a dict of columns for the engine."""
    return {str(name): part[name] for name in part.columns}


def local_estimator_class() -> Any:
    """The in-memory ``fraud_engine.FraudForestClassifier`` (imports scikit-learn when present)."""
    from .estimator import FraudForestClassifier

    return FraudForestClassifier

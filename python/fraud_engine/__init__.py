"""Random-forest fraud scoring: train in a notebook, score in microseconds.

The model file is the same one ``fraud-server`` serves and the C library
loads, and every front end gives the same probability for the same row.

>>> import fraud_engine
>>> data = fraud_engine.generate(5_000, seed=7)
>>> model = fraud_engine.train(data, n_trees=10)
>>> result = model.predict({"amount": 250.0, "transaction_hour": 14,
...     "merchant_category": "Electronics", "foreign_transaction": 0,
...     "location_mismatch": 0, "device_trust_score": 75,
...     "velocity_last_24h": 3, "cardholder_age": 35})
>>> sorted(result)[:3]
['fraud_probability', 'is_fraud', 'model_version']

``FraudForestClassifier`` (a scikit-learn estimator) is imported on first
use, so ``import fraud_engine`` stays fast in a web server.
"""

from typing import TYPE_CHECKING

from . import types
from ._native import (
    DEFAULT_TRAIN_PARAMS,
    ENGINE_VERSION,
    FORMAT_VERSION,
    CorruptModelError,
    FraudError,
    FraudFileNotFoundError,
    FraudIOError,
    InvalidInputError,
    InvalidParamsError,
    Model,
    SchemaError,
    UnsupportedVersionError,
    __version__,
    from_bytes,
    generate,
    load,
    train,
)

__all__ = [
    "DEFAULT_TRAIN_PARAMS",
    "ENGINE_VERSION",
    "FORMAT_VERSION",
    "CorruptModelError",
    "FraudError",
    "FraudFileNotFoundError",
    "FraudForestClassifier",
    "FraudIOError",
    "InvalidInputError",
    "InvalidParamsError",
    "Model",
    "SchemaError",
    "UnsupportedVersionError",
    "__version__",
    "from_bytes",
    "generate",
    "load",
    "train",
    "types",
]

if TYPE_CHECKING:
    from .estimator import FraudForestClassifier
else:
    # Hidden from type checkers, which see the import above: a module-level
    # __getattr__ would let any misspelt name (fraud_engine.laod) type-check.
    def __getattr__(name: str) -> object:
        # Importing scikit-learn takes about a second; only the estimator needs it.
        if name == "FraudForestClassifier":
            from .estimator import FraudForestClassifier

            return FraudForestClassifier
        raise AttributeError(f"module 'fraud_engine' has no attribute {name!r}")

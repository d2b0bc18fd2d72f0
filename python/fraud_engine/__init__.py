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

from typing import TYPE_CHECKING, Any

from ._native import (
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

if TYPE_CHECKING:
    from .estimator import FraudForestClassifier

__all__ = [
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
]


def __getattr__(name: str) -> Any:
    # Importing scikit-learn takes about a second; only the estimator needs it.
    if name == "FraudForestClassifier":
        from .estimator import FraudForestClassifier

        return FraudForestClassifier
    raise AttributeError(f"module 'fraud_engine' has no attribute {name!r}")

"""Type-checked (never run) by test_typing.py under ``mypy --strict``: the
results have their TypedDict shapes, and the estimator its methods."""

from typing import List

from typing_extensions import assert_type

import fraud_engine
from fraud_engine import FraudForestClassifier
from fraud_engine.types import (
    Evaluation,
    ExplainedPrediction,
    ModelMetadata,
    Prediction,
)

model = fraud_engine.load("model.fem")
transaction = {"amount": 250.0, "merchant_category": "Electronics"}
assert_type(model.predict(transaction), Prediction)
probability: float = model.predict(transaction)["fraud_probability"]
explained = model.explain(transaction)
assert_type(explained, ExplainedPrediction)
top: str = explained["reasons"][0]["feature"]
assert_type(model.predict_many([transaction]), List[Prediction])
assert_type(model.evaluate([transaction]), Evaluation)
assert_type(model.metadata, ModelMetadata)
auc = model.metadata["oob_metrics"]
if auc is not None:
    roc_auc: float | None = auc["roc_auc"]
recall: List[float] = model.evaluate([transaction])["pr_curve"]["recall"]
defaults = fraud_engine.DEFAULT_TRAIN_PARAMS["n_trees"]
html: str = model._repr_html_()
classifier = FraudForestClassifier(n_estimators=10, class_weight={0: 1.0, 1: 20.0})

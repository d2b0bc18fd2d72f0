"""The shapes of what fraud_engine returns, as ``TypedDict``s for type checkers.

They describe the engine's one output of each kind, the same JSON the HTTP
API sends: ``Prediction`` is the body of ``POST /api/predict``.
"""

from typing import Any, Dict, List, Literal, Optional, Tuple, TypedDict

RiskLevel = Literal["LOW", "MEDIUM", "HIGH"]


class Prediction(TypedDict):
    """One scored transaction (``Model.predict``)."""

    is_fraud: int
    fraud_probability: float
    risk_level: RiskLevel
    model_version: str
    threshold: float
    warnings: List[str]


class Reason(TypedDict):
    """A feature that raised the risk, and by how much."""

    feature: str
    value: Any
    contribution: float
    text: str


class ExplainedPrediction(Prediction):
    """One scored and explained transaction (``Model.explain``)."""

    reasons: List[Reason]
    contributions: Dict[str, float]
    base_value: float


class Confusion(TypedDict):
    """Counts at the threshold."""

    true_positives: int
    false_positives: int
    true_negatives: int
    false_negatives: int


class Metrics(TypedDict):
    """Ranking and decision metrics at one threshold."""

    rows: int
    frauds: int
    roc_auc: Optional[float]
    pr_auc: Optional[float]
    threshold: float
    precision: float
    recall: float
    f1: float
    false_positive_rate: float
    confusion: Confusion
    log_loss: float
    brier: float


class RocCurve(TypedDict):
    """False-positive against true-positive rate, one point per threshold."""

    fpr: List[float]
    tpr: List[float]
    thresholds: List[float]


class PrCurve(TypedDict):
    """Precision against recall, one point per threshold."""

    recall: List[float]
    precision: List[float]
    thresholds: List[float]


class Evaluation(Metrics):
    """``Model.evaluate``: the metrics plus both curves."""

    roc_curve: RocCurve
    pr_curve: PrCurve


class TrainingStats(TypedDict):
    """What the training data looked like in one feature (for drift checks)."""

    missing_fraction: float
    mean: float
    std: float
    min: float
    max: float
    category_shares: List[Tuple[str, float]]


class FeatureInfo(TypedDict, total=False):
    """One feature of the schema. ``categories``, ``category_codes`` and
    ``unknown_code`` are present for a categorical feature only, ``min`` and
    ``max`` where the schema gives a valid range."""

    index: int
    name: str
    kind: Literal["numeric", "flag", "categorical"]
    min: float
    max: float
    categories: List[str]
    category_codes: List[int]
    unknown_code: int
    required: bool
    importance: float
    impurity_importance: float
    training_stats: TrainingStats


class SchemaInfo(TypedDict):
    """The features a model reads, and its label."""

    features: List[FeatureInfo]
    label: str
    out_of_range: str


class RiskBands(TypedDict):
    """The lowest probabilities rated MEDIUM and HIGH."""

    medium: float
    high: float


class TreeSettings(TypedDict):
    """The settings a forest's trees were grown with. ``class_weight`` is
    ``"None"``, ``"Balanced"``, ``"BalancedSplits"`` or
    ``{"Weights": {"legitimate": w, "fraud": w}}``."""

    max_depth: int
    min_samples_leaf: int
    class_weight: Any


class AutoCandidate(TreeSettings):
    """One setting ``auto`` tried, and how its first trees scored out of bag."""

    oob_pr_auc: Optional[float]
    oob_roc_auc: Optional[float]


class AutoChoice(TypedDict):
    """What training chose for the parameters left ``"auto"``, and why."""

    chosen: TreeSettings
    candidates: List[AutoCandidate]
    trees_per_candidate: int
    reason: str


class PartRecord(TypedDict):
    """One part of a forest trained apart (Dask, Spark)."""

    first_tree: int
    n_trees: int
    training_rows: int
    training_frauds: int
    oob_rows: int
    auto: Optional[TreeSettings]


class ModelMetadata(TypedDict):
    """``Model.metadata``: what ``GET /api/model`` returns."""

    model_version: str
    created: str
    engine_version: str
    format_version: int
    n_trees: int
    n_nodes: int
    max_depth: int
    training_rows: int
    training_frauds: int
    schema: SchemaInfo
    threshold: float
    threshold_strategy: str
    risk_bands: RiskBands
    base_value: float
    params: Dict[str, Any]
    auto: Optional[AutoChoice]
    parts: List[PartRecord]
    oob_metrics: Optional[Metrics]
    roc_curve: Optional[RocCurve]
    pr_curve: Optional[PrCurve]


class GeneratedColumns(TypedDict):
    """``generate``'s dict of columns (what it returns without pandas)."""

    transaction_id: Any
    amount: Any
    transaction_hour: Any
    merchant_category: List[Optional[str]]
    foreign_transaction: Any
    location_mismatch: Any
    device_trust_score: Any
    velocity_last_24h: Any
    cardholder_age: Any
    is_fraud: Any

PsiBand = Literal["stable", "moderate", "significant"]


class BinShift(TypedDict):
    """One bin's share in training (``expected``) and in the data compared."""

    bin: str
    expected: float
    actual: float


class Psi(TypedDict):
    """The drift of one feature, or of the score (``feature == "score"``)."""

    feature: str
    psi: float
    band: PsiBand
    top_moving_bins: List[BinShift]


class DriftReport(TypedDict):
    """``Model.drift``: the figures of ``fraud-server drift --json``."""

    rows: int
    features: List[Psi]
    score: Psi


__all__ = [
    "AutoCandidate",
    "AutoChoice",
    "BinShift",
    "Confusion",
    "DriftReport",
    "Evaluation",
    "ExplainedPrediction",
    "FeatureInfo",
    "GeneratedColumns",
    "Metrics",
    "ModelMetadata",
    "PartRecord",
    "PrCurve",
    "Prediction",
    "Psi",
    "PsiBand",
    "Reason",
    "RiskBands",
    "RiskLevel",
    "RocCurve",
    "SchemaInfo",
    "TrainingStats",
    "TreeSettings",
]

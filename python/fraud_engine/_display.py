"""The model card Jupyter shows for a ``Model`` (its ``_repr_html_``)."""

from html import escape
from typing import Any, Iterable, List, Optional

from .types import ModelMetadata


def _number(x: Optional[float], digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}g}"


def _table(head: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    header = "".join(f"<th>{escape(str(h))}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def model_card(metadata: ModelMetadata) -> str:
    """HTML for one model: what it is, what it reads, how well it did out of
    bag, and how it decides."""
    features = metadata["schema"]["features"]
    schema_rows: List[List[Any]] = []
    for f in features:
        if f["kind"] == "categorical":
            values = ", ".join(f.get("categories", []))
        elif "min" in f or "max" in f:
            values = f"{f.get('min', '')} to {f.get('max', '')}"
        else:
            stats = f["training_stats"]
            values = f"trained on {_number(stats['min'])} to {_number(stats['max'])}"
        schema_rows.append(
            [f["name"], f["kind"], "yes" if f["required"] else "no",
             _number(f["impurity_importance"], 3), values]
        )
    oob = metadata["oob_metrics"]
    if oob is None:
        metrics = "<p>No out-of-bag metrics (trained without bootstrap).</p>"
    else:
        metrics = _table(
            ["rows", "frauds", "ROC-AUC", "PR-AUC", "precision", "recall", "F1", "log loss"],
            [[oob["rows"], oob["frauds"], _number(oob["roc_auc"]), _number(oob["pr_auc"]),
              _number(oob["precision"]), _number(oob["recall"]), _number(oob["f1"]),
              _number(oob["log_loss"])]],
        )
    bands = metadata["risk_bands"]
    decision = _table(
        ["threshold", "chosen by", "MEDIUM from", "HIGH from"],
        [[_number(metadata["threshold"]), metadata["threshold_strategy"],
          _number(bands["medium"]), _number(bands["high"])]],
    )
    title = (
        f"fraud_engine.Model <code>{escape(metadata['model_version'])}</code>: "
        f"{metadata['n_trees']} trees, {metadata['n_nodes']} nodes, trained "
        f"{escape(metadata['created'])} on {metadata['training_rows']} rows "
        f"({metadata['training_frauds']} frauds), label "
        f"<code>{escape(metadata['schema']['label'])}</code>"
    )
    return (
        f'<div class="fraud-engine-model"><p><b>{title}</b></p>'
        f"<p><b>Schema</b></p>"
        + _table(["feature", "kind", "required", "importance", "values"], schema_rows)
        + "<p><b>Out-of-bag metrics</b> (at the threshold)</p>"
        + metrics
        + "<p><b>Decision</b></p>"
        + decision
        + "</div>"
    )

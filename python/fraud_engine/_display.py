"""The model card Jupyter shows for a ``Model`` (its ``_repr_html_``)."""

from html import escape
from typing import Any, Iterable, List, Mapping, Optional

from .types import ModelMetadata


def _number(x: Optional[float], digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}g}"


def _table(head: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    header = "".join(f"<th>{escape(str(h))}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _class_weight(weight: Any) -> str:
    """A class weighting as the command line writes it (``balanced-splits``, ``1:20``)."""
    if isinstance(weight, dict) and "Weights" in weight:
        w = weight["Weights"]
        return f"{w['legitimate']:g}:{w['fraud']:g}"
    names = {"None": "none", "Balanced": "balanced", "BalancedSplits": "balanced-splits"}
    return names.get(str(weight), str(weight))


def _settings(s: Mapping[str, Any]) -> str:
    return (
        f"max_depth {s['max_depth']}, min_samples_leaf {s['min_samples_leaf']}, "
        f"class_weight {_class_weight(s['class_weight'])}"
    )


def _same_settings(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(a[k] == b[k] for k in ("max_depth", "min_samples_leaf", "class_weight"))


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
    auto = metadata.get("auto")
    if auto is None:
        settings = "<p>Every tree setting was given (nothing chosen by auto).</p>"
    else:
        chosen = auto["chosen"]
        settings = f"<p>auto chose {escape(_settings(chosen))}: {escape(auto['reason'])}</p>" + _table(
            ["max_depth", "min_samples_leaf", "class_weight", "OOB PR-AUC", "ROC-AUC", ""],
            [[c["max_depth"], c["min_samples_leaf"], _class_weight(c["class_weight"]),
              _number(c["oob_pr_auc"]), _number(c["oob_roc_auc"]),
              "chosen" if _same_settings(c, chosen) else ""]
             for c in auto["candidates"]],
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
        + "<p><b>Tree settings</b></p>"
        + settings
        + "<p><b>Decision</b></p>"
        + decision
        + "</div>"
    )

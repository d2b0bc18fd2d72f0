"""scikit-learn's RandomForestClassifier on the same CSVs our engine trains on.

Prints one JSON object per configuration: training time, pickle size, peak
memory (ru_maxrss), held-out ROC-AUC / PR-AUC, node count and depth, and the
single-row and batch scoring speed. Called by run.sh; usable alone:

    python sklearn_baseline.py TRAIN.csv TEST.csv [--min-samples-leaf 1,5] [--trees 100]
"""
import argparse
import json
import pickle
import resource
import time

import numpy as np  # noqa: F401  (pandas needs it; imported first for clarity)
import pandas as pd
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import average_precision_score, roc_auc_score

FEATURES = [
    "amount", "transaction_hour", "merchant_category", "foreign_transaction",
    "location_mismatch", "device_trust_score", "velocity_last_24h", "cardholder_age",
]


def encode(frame, columns=None):
    """One-hot merchant_category, as the seed app's pipeline does."""
    x = pd.get_dummies(frame[FEATURES], columns=["merchant_category"], dtype=float)
    if columns is not None:
        x = x.reindex(columns=columns, fill_value=0.0)
    return x


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("train")
    parser.add_argument("test")
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--min-samples-leaf", default="1,5")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--score-rows", type=int, default=200_000)
    args = parser.parse_args()

    train = pd.read_csv(args.train)
    test = pd.read_csv(args.test)
    x_train = encode(train)
    x_test = encode(test, x_train.columns)
    y_train, y_test = train["is_fraud"].to_numpy(), test["is_fraud"].to_numpy()

    for leaf in [int(v) for v in args.min_samples_leaf.split(",")]:
        model = RandomForestClassifier(
            n_estimators=args.trees, min_samples_leaf=leaf, n_jobs=args.jobs, random_state=42
        )
        start = time.perf_counter()
        model.fit(x_train, y_train)
        fit_s = time.perf_counter() - start
        proba = model.predict_proba(x_test)[:, 1]

        # The seed app's path: one transaction as a one-row DataFrame.
        one = x_test.iloc[[0]]
        model.predict_proba(one)
        samples = []
        for _ in range(30):
            start = time.perf_counter()
            model.predict_proba(one)
            samples.append(time.perf_counter() - start)
        single_us = sorted(samples)[len(samples) // 2] * 1e6

        batch = x_test.iloc[: args.score_rows]
        start = time.perf_counter()
        model.predict_proba(batch)
        batch_rows_s = len(batch) / (time.perf_counter() - start)

        print(json.dumps({
            "engine": "sklearn",
            "sklearn_version": sklearn.__version__,
            "min_samples_leaf": leaf,
            "trees": args.trees,
            "train_rows": len(x_train),
            "fit_s": round(fit_s, 3),
            "pickle_bytes": len(pickle.dumps(model)),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "roc_auc": round(roc_auc_score(y_test, proba), 4),
            "pr_auc": round(average_precision_score(y_test, proba), 4),
            "nodes": int(sum(e.tree_.node_count for e in model.estimators_)),
            "max_depth": int(max(e.tree_.max_depth for e in model.estimators_)),
            "single_row_us": round(single_us, 1),
            "batch_rows_per_s": round(batch_rows_s),
        }), flush=True)


if __name__ == "__main__":
    main()

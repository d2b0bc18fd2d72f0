"""In-process against Dask (2 workers) against Spark local[2], same data, same run.

    python python/benchmarks/bench_distributed.py [--rows 2000000] [--trees 100]

Writes ``--rows`` generated transactions to two Parquet files (one per
partition, as a table too big for one machine would sit in storage), then:

- **scoring**: a 100-tree model (trained in-process on 200k other rows)
  scores every row, from the Parquet files to the sum of the fraud
  probabilities: ``pd.read_parquet`` + ``Model.predict_proba`` in process,
  ``dd.read_parquet`` + ``fraud_engine.dask.FraudForestClassifier.predict_proba``
  on a LocalCluster of 2 single-threaded worker processes, and
  ``spark.read.parquet`` + ``fraud_engine.spark.FraudForestModel.transform``
  on local[2]. Median of ``--repeats`` runs after one warm-up run.
- **training**: ``--trees`` trees on all rows, from the Parquet files to a
  model, each way once, with the ROC-AUC of each model on 200k held-out rows.
- the same for LightGBM (``LGBMClassifier`` against ``DaskLGBMClassifier``),
  when lightgbm is installed.

Prints one JSON object: rows per second and ratios to in-process. Targets
(issue 14): Dask scoring at least 0.6x in-process throughput, Spark 0.4x.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

import fraud_engine

FEATURES = [
    "amount",
    "transaction_hour",
    "merchant_category",
    "foreign_transaction",
    "location_mismatch",
    "device_trust_score",
    "velocity_last_24h",
    "cardholder_age",
]


def timed(call):
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def median_time(call, repeats):
    call()  # warm-up: connections, the model shipped, the JVM's JIT
    return statistics.median(timed(call)[0] for _ in range(repeats))


def auc(scores, labels):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def write_partitions(directory, rows, seed):
    paths = []
    half = rows // 2
    for k, n in enumerate([half, rows - half]):
        frame = fraud_engine.generate(n, seed=seed + k)
        path = os.path.join(directory, f"part-{k}.parquet")
        frame.to_parquet(path, index=False)
        paths.append(path)
    return paths


def in_process(paths, model, trees, holdout):
    def score():
        frame = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
        return float(model.predict_proba(frame).sum())

    def train():
        frame = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
        return fraud_engine.train(frame[FEATURES + ["is_fraud"]], n_trees=trees, seed=7)

    return score, train


def run_dask(paths, model, trees, holdout, repeats, rows):
    import dask.dataframe as dd
    from dask.distributed import Client, LocalCluster

    from fraud_engine.dask import FraudForestClassifier

    out = {}
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster, Client(cluster) as client:
        scorer = FraudForestClassifier.from_model(model, client=client)

        def score():
            ddf = dd.read_parquet(paths)
            return float(scorer.predict_proba(ddf)[:, 1].sum().compute())

        out["score_s"] = median_time(score, repeats)
        ddf = dd.read_parquet(paths)
        seconds, fitted = timed(
            lambda: FraudForestClassifier(client=client, n_estimators=trees, random_state=7).fit(
                ddf[FEATURES], ddf["is_fraud"]
            )
        )
        out["train_s"] = seconds
        out["train_auc"] = auc(fitted.model_.predict_proba(holdout), holdout["is_fraud"])
        out["partitions"] = ddf.npartitions
        out.update(run_lightgbm_dask(client, paths, trees, holdout, repeats))
    return out


def lightgbm_frame(frame, categories):
    x = frame[FEATURES].copy()
    x["merchant_category"] = pd.Categorical(x["merchant_category"], categories=categories)
    return x


def run_lightgbm_dask(client, paths, trees, holdout, repeats):
    try:
        import dask.dataframe as dd
        import lightgbm
    except ImportError as error:
        return {"lightgbm": f"not installed: {error}"}
    categories = sorted(
        set().union(*(pd.read_parquet(p)["merchant_category"].unique() for p in paths))
    )
    params = dict(n_estimators=trees, num_leaves=63, verbose=-1, random_state=7)

    def read():
        ddf = dd.read_parquet(paths)
        x = ddf[FEATURES].map_partitions(lightgbm_frame, categories)
        return x, ddf["is_fraud"]

    out = {}
    x, y = read()
    seconds, dask_model = timed(lambda: lightgbm.DaskLGBMClassifier(client=client, **params).fit(x, y))
    out["lightgbm_dask_train_s"] = seconds
    out["lightgbm_dask_train_auc"] = auc(
        dask_model.to_local().predict_proba(lightgbm_frame(holdout, categories))[:, 1],
        holdout["is_fraud"],
    )

    def score():
        x, _ = read()
        return float(dask_model.predict_proba(x)[:, 1].sum().compute())

    out["lightgbm_dask_score_s"] = median_time(score, repeats)

    frame = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    local_x = lightgbm_frame(frame, categories)
    seconds, local = timed(
        lambda: lightgbm.LGBMClassifier(n_jobs=2, **params).fit(local_x, frame["is_fraud"])
    )
    out["lightgbm_local_train_s"] = seconds

    def score_local():
        frame = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
        return float(local.predict_proba(lightgbm_frame(frame, categories))[:, 1].sum())

    out["lightgbm_local_score_s"] = median_time(score_local, repeats)
    return out


def run_spark(paths, model, trees, holdout, repeats, directory):
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from fraud_engine.spark import FraudForestClassifier, FraudForestModel

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("fraud-engine-bench")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "6g")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "100000")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    out = {}
    try:
        scorer = FraudForestModel(model)

        def score():
            df = spark.read.parquet(*paths).drop("is_fraud")
            return scorer.transform(df).agg(F.sum("fraud_probability")).collect()[0][0]

        out["score_s"] = median_time(score, repeats)

        def round_trip():
            # The floor under any mapInPandas transform: every row to the
            # Python workers as Arrow batches and back, nothing computed.
            df = spark.read.parquet(*paths).drop("is_fraud")
            return df.mapInPandas(lambda batches: batches, df.schema).agg(F.count("*")).collect()

        out["round_trip_s"] = median_time(round_trip, repeats)
        df = spark.read.parquet(*paths)
        out["partitions"] = df.rdd.getNumPartitions()
        seconds, fitted = timed(
            lambda: FraudForestClassifier(n_estimators=trees, random_state=7).fit(df)
        )
        out["train_s"] = seconds
        out["train_auc"] = auc(fitted.model_.predict_proba(holdout), holdout["is_fraud"])
    finally:
        spark.stop()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    # pyspark's notice about pandas 3, once per call, is noise here.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")

    holdout = fraud_engine.generate(200_000, seed=99)
    model = fraud_engine.train(fraud_engine.generate(200_000, seed=98), n_trees=100, seed=1)
    with tempfile.TemporaryDirectory(prefix="fraud-bench-") as directory:
        paths = write_partitions(directory, args.rows, seed=11)
        score, train = in_process(paths, model, args.trees, holdout)
        local = {"score_s": median_time(score, args.repeats)}
        local["train_s"], local_model = timed(train)
        local["train_auc"] = auc(local_model.predict_proba(holdout), holdout["is_fraud"])
        dask_out = run_dask(paths, model, args.trees, holdout, args.repeats, args.rows)
        spark_out = run_spark(paths, model, args.trees, holdout, args.repeats, directory)

    rows = args.rows
    per_s = lambda seconds: round(rows / seconds)  # noqa: E731
    report = {
        "rows": rows,
        "trees": args.trees,
        "cores": os.cpu_count(),
        "scoring_rows_per_s": {
            "in_process": per_s(local["score_s"]),
            "dask_2_workers": per_s(dask_out["score_s"]),
            "spark_local_2": per_s(spark_out["score_s"]),
        },
        "scoring_ratio_to_in_process": {
            "dask": round(local["score_s"] / dask_out["score_s"], 2),
            "spark": round(local["score_s"] / spark_out["score_s"], 2),
        },
        "spark_mapinpandas_round_trip_rows_per_s": per_s(spark_out["round_trip_s"]),
        "training_s": {
            "in_process": round(local["train_s"], 1),
            "dask_2_workers": round(dask_out["train_s"], 1),
            "spark_local_2": round(spark_out["train_s"], 1),
        },
        "training_ratio_to_in_process": {
            "dask": round(local["train_s"] / dask_out["train_s"], 2),
            "spark": round(local["train_s"] / spark_out["train_s"], 2),
        },
        "holdout_roc_auc": {
            "in_process": round(local["train_auc"], 4),
            "dask": round(dask_out["train_auc"], 4),
            "spark": round(spark_out["train_auc"], 4),
        },
        "partitions": {"dask": dask_out["partitions"], "spark": spark_out["partitions"]},
    }
    if "lightgbm_dask_train_s" in dask_out:
        report["lightgbm"] = {
            "scoring_rows_per_s": {
                "in_process": per_s(dask_out["lightgbm_local_score_s"]),
                "dask_2_workers": per_s(dask_out["lightgbm_dask_score_s"]),
            },
            "scoring_ratio_to_in_process": round(
                dask_out["lightgbm_local_score_s"] / dask_out["lightgbm_dask_score_s"], 2
            ),
            "training_s": {
                "in_process": round(dask_out["lightgbm_local_train_s"], 1),
                "dask_2_workers": round(dask_out["lightgbm_dask_train_s"], 1),
            },
            "holdout_roc_auc_dask": round(dask_out["lightgbm_dask_train_auc"], 4),
        }
    else:
        report["lightgbm"] = dask_out.get("lightgbm")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

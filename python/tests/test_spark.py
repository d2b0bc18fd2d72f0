"""fraud_engine.spark on real pyspark in local mode (local[2], loopback only)."""

import os
import sys

import numpy as np
import pandas as pd
import pytest

import fraud_engine
from fraud_engine.spark import FraudForestClassifier, FraudForestModel

# pyspark's own notice that it is not yet tested with pandas 3 (the venv
# has the current pandas); every result below is checked all the same.
pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning"
)


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession

    # The executors' Python is this one (with the wheel installed), started
    # away from the source tree, whose fraud_engine/ would shadow the wheel.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("spark"))
    try:
        session = (
            SparkSession.builder.master("local[2]")
            .appName("fraud-engine-tests")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
    except Exception as error:  # a Spark that cannot start fails the tests, plainly
        pytest.fail(f"pyspark did not start in local mode (is Java installed?): {error}")
    finally:
        os.chdir(here)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def collected(df):
    """A small Spark DataFrame's rows in a pandas DataFrame (pyspark's own
    toPandas warns under pandas 3)."""
    return pd.DataFrame([row.asDict() for row in df.collect()], columns=df.columns)


@pytest.fixture(scope="module")
def transactions():
    return fraud_engine.generate(40_000, seed=31)


@pytest.fixture(scope="module")
def df(spark, transactions):
    data = spark.createDataFrame(transactions)
    assert data.rdd.getNumPartitions() == 2
    return data


@pytest.fixture(scope="module")
def fitted(df):
    return FraudForestClassifier(n_estimators=30, random_state=9).fit(df)


def test_fit_trains_per_partition_and_merges(fitted, transactions):
    model = fitted.model_
    meta = model.metadata
    assert meta["n_trees"] == 30
    assert [(p["first_tree"], p["n_trees"]) for p in meta["parts"]] == [(0, 15), (15, 15)]
    assert meta["training_rows"] == len(transactions)
    # transaction_id is an id column: left out, as train() leaves it out.
    assert "transaction_id" not in model.feature_names
    assert len(model.feature_names) == 8
    assert meta["oob_metrics"]["roc_auc"] > 0.7


def test_transform_adds_the_scores_bit_identical_to_in_process(fitted, df, transactions):
    scored = fitted.transform(df)
    assert scored.columns == df.columns + ["fraud_probability", "predicted_is_fraud", "risk_level"]
    rows = scored.select("transaction_id", "fraud_probability", "predicted_is_fraud", "risk_level")
    result = collected(rows).set_index("transaction_id").loc[transactions["transaction_id"]]
    local = fitted.model_.predict_many(transactions)
    assert np.array_equal(result["fraud_probability"].to_numpy(), local["fraud_probability"].to_numpy())
    assert np.array_equal(result["predicted_is_fraud"].to_numpy(), local["is_fraud"].to_numpy().astype(np.int32))
    assert result["risk_level"].tolist() == local["risk_level"].tolist()


def test_same_seed_and_partitioning_give_the_same_model(fitted, df):
    again = FraudForestClassifier(n_estimators=30, random_state=9).fit(df).model_
    assert again.threshold == fitted.model_.threshold
    for a, b in zip(again.trees(), fitted.model_.trees()):
        for key in a:
            assert np.array_equal(a[key], b[key]), key


def test_given_class_weights_count_in_the_threshold_as_on_one_machine(spark):
    # One partition grows the trees of training in one piece, and its
    # out-of-bag rows count as they do there: a fraud as twelve rows.
    frame = fraud_engine.generate(12_000, seed=52)
    one = spark.createDataFrame(frame).coalesce(1)
    params = dict(n_estimators=8, random_state=4, class_weight={0: 1, 1: 12})
    distributed = FraudForestClassifier(**params).fit(one).model_
    single = fraud_engine.FraudForestClassifier(**params)
    single.fit(frame.drop(columns=["is_fraud", "transaction_id"]), frame["is_fraud"])
    for a, b in zip(distributed.trees(), single.model_.trees()):
        for key in a:
            assert np.array_equal(a[key], b[key]), key
    assert distributed.threshold == single.model_.threshold
    assert distributed.metadata["oob_metrics"] == single.model_.metadata["oob_metrics"]


def test_a_model_a_server_wrote_scores_in_spark(spark, df, transactions, model, tmp_path):
    path = tmp_path / "model.fraud"
    model.save(path)
    served = FraudForestModel(str(path), prediction_col="predicted_fraud")
    scored = collected(served.transform(df).select("fraud_probability", "predicted_fraud"))
    # createDataFrame keeps the rows in order within and across partitions.
    proba = model.predict_proba(transactions)
    assert np.array_equal(scored["fraud_probability"].to_numpy(), proba)
    assert np.array_equal(scored["predicted_fraud"].to_numpy(), (proba >= model.threshold).astype(int))


def test_bad_inputs_are_plain_errors(df, model):
    with pytest.raises(fraud_engine.InvalidInputError, match="label column 'fraud'"):
        FraudForestClassifier(label_col="fraud").fit(df)
    with pytest.raises(fraud_engine.InvalidInputError, match="amount"):
        FraudForestModel(model).transform(df.drop("amount", "is_fraud"))
    with pytest.raises(fraud_engine.InvalidInputError, match="prediction_col"):
        FraudForestModel(model, prediction_col="is_fraud").transform(df)

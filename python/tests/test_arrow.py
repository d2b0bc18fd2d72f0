"""Arrow inputs: pyarrow tables and record batches, polars frames, the Arrow
PyCapsule interface, pandas' own dtypes; all read without a per-value copy
and all scoring bit for bit as numpy and pandas do."""

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import fraud_engine


@pytest.fixture(scope="module")
def model(optional_model):
    """A model that scores missing values (the rows below have some)."""
    return optional_model


@pytest.fixture(scope="module")
def rows(holdout, model):
    """The holdout's feature columns, with some values missing."""
    frame = holdout[model.feature_names].copy()
    frame.loc[::7, "amount"] = np.nan
    frame.loc[::11, "merchant_category"] = None
    return frame


@pytest.fixture(scope="module")
def expected(model, rows):
    return model.predict_proba(rows)


class Stream:
    """Only the Arrow PyCapsule interface: what any Arrow library offers."""

    def __init__(self, table):
        self.table = table

    def __arrow_c_stream__(self, requested_schema=None):
        return self.table.__arrow_c_stream__(requested_schema)


def encoded(model, frame):
    codes = model.category_codes("merchant_category")
    category = frame["merchant_category"].map(codes).astype("float64")
    return np.ascontiguousarray(frame.assign(merchant_category=category).to_numpy(np.float64))


def test_every_input_scores_bit_for_bit_alike(model, rows, expected):
    table = pa.Table.from_pandas(rows, preserve_index=False)
    polars = pl.from_pandas(rows)
    inputs = {
        "numpy": encoded(model, rows),
        "pandas categorical": rows.astype({"merchant_category": "category"}),
        "pandas str dtype": rows.astype({"merchant_category": "string"}),
        "pandas nullable numbers": rows.astype({"transaction_hour": "Int64", "amount": "Float64"}),
        "pyarrow Table": table,
        "pyarrow RecordBatch": table.combine_chunks().to_batches()[0],
        "pyarrow chunked": pa.concat_tables([table.slice(0, 500), table.slice(500)]),
        "pyarrow dictionary": pa.Table.from_pandas(rows.astype({"merchant_category": "category"})),
        "polars": polars,
        "polars categorical": polars.with_columns(pl.col("merchant_category").cast(pl.Categorical)),
        "Arrow PyCapsule stream": Stream(table),
        "dict of pyarrow arrays": {c: pa.array(rows[c]) for c in rows},
        "dict of polars Series": {c: polars[c] for c in rows},
    }
    assert len(set(expected.tolist())) > 50
    for name, x in inputs.items():
        np.testing.assert_array_equal(model.predict_proba(x), expected, err_msg=name)


def test_predict_many_answers_in_the_frame_it_was_given(model, rows):
    probabilities = model.predict_proba(rows)
    polars = model.predict_many(pl.from_pandas(rows))
    assert isinstance(polars, pl.DataFrame)
    assert polars.columns == ["fraud_probability", "is_fraud", "risk_level"]
    np.testing.assert_array_equal(polars["fraud_probability"].to_numpy(), probabilities)
    arrow = model.predict_many(pa.Table.from_pandas(rows))
    assert isinstance(arrow, pa.Table)
    np.testing.assert_array_equal(arrow.column("fraud_probability").to_numpy(), probabilities)
    pandas = model.predict_many(rows.set_index(rows.index + 100))
    assert isinstance(pandas, pd.DataFrame) and pandas.index[0] == rows.index[0] + 100
    assert set(pandas["risk_level"]) <= {"LOW", "MEDIUM", "HIGH"}
    # Other inputs keep the list of dicts.
    assert isinstance(model.predict_many(rows.to_dict("records")), list)


def test_train_and_evaluate_read_arrow_as_they_read_pandas(frame, holdout):
    from_pandas = fraud_engine.train(frame, n_trees=8, seed=5)
    for data in (pl.from_pandas(frame), pa.Table.from_pandas(frame)):
        model = fraud_engine.train(data, n_trees=8, seed=5)
        np.testing.assert_array_equal(model.predict_proba(holdout), from_pandas.predict_proba(holdout))
    assert from_pandas.evaluate(pl.from_pandas(holdout)) == from_pandas.evaluate(holdout)


def test_clear_errors_for_what_cannot_be_read(model, rows):
    polars = pl.from_pandas(rows)
    with pytest.raises(TypeError, match=r"LazyFrame.*collect\(\) it first"):
        model.predict_proba(polars.lazy())
    with pytest.raises(TypeError, match=r"LazyFrame.*collect\(\) it first"):
        fraud_engine.train(polars.lazy())
    stamped = pa.Table.from_pandas(rows).append_column(
        "note", pa.array(pd.to_datetime(np.arange(len(rows)), unit="s"))
    )
    # An extra column is never read, whatever its type...
    np.testing.assert_array_equal(model.predict_proba(stamped), model.predict_proba(rows))
    # ...but a feature column of an unreadable type is named.
    bad = pa.Table.from_pandas(rows).set_column(
        0, "amount", pa.array(pd.to_datetime(np.arange(len(rows)), unit="s"))
    )
    with pytest.raises(fraud_engine.InvalidInputError, match=r"amount.*Arrow type Timestamp"):
        model.predict_proba(bad)
    with pytest.raises(fraud_engine.SchemaError, match="missing column `amount`"):
        model.predict_proba(pa.Table.from_pandas(rows.drop(columns=["amount"])))
    with pytest.raises(TypeError, match="table of named columns"):
        model.predict_proba(pa.array([1.0, 2.0]))
    scipy_sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="sparse input is not supported"):
        model.predict_proba(scipy_sparse.csr_matrix(np.ones((3, 8))))


def test_objects_with_array_interface_are_read_as_arrays(model, rows):
    class Wrapped:
        def __init__(self, array):
            self.array = array

        def __array__(self, dtype=None, copy=None):
            return self.array if dtype is None else self.array.astype(dtype)

    matrix = encoded(model, rows)
    np.testing.assert_array_equal(model.predict_proba(Wrapped(matrix)), model.predict_proba(matrix))

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


def pyarrow_text_in_chunks(rows):
    """`rows` with its text held by pyarrow in three chunks."""
    parts = [rows.iloc[:300], rows.iloc[300:301], rows.iloc[301:]]
    text = pd.Series(
        pd.arrays.ArrowStringArray(
            pa.chunked_array([pa.array(p["merchant_category"], type=pa.large_string()) for p in parts])
        ),
        index=rows.index,
    )
    assert text.array._pa_array.num_chunks == 3
    return rows.assign(merchant_category=text)


def test_every_input_scores_bit_for_bit_alike(model, rows, expected):
    table = pa.Table.from_pandas(rows, preserve_index=False)
    polars = pl.from_pandas(rows)
    inputs = {
        "numpy": encoded(model, rows),
        "pandas categorical": rows.astype({"merchant_category": "category"}),
        "pandas str dtype": rows.astype({"merchant_category": "string"}),
        "pandas str dtype, Python storage": rows.astype({"merchant_category": pd.StringDtype("python")}),
        "pandas object dtype": rows.astype({"merchant_category": object}),
        "pandas ArrowDtype string": rows.astype({"merchant_category": pd.ArrowDtype(pa.string())}),
        "pandas ArrowDtype large_string": rows.astype({"merchant_category": pd.ArrowDtype(pa.large_string())}),
        "pandas pyarrow text in chunks": pyarrow_text_in_chunks(rows),
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


def test_pandas_text_held_by_pyarrow_is_read_without_factorize(model, rows, expected, monkeypatch):
    """Text that pyarrow holds is read through the Arrow C data interface,
    not through pandas.factorize (which ran on the interpreter's thread);
    text in Python objects still goes through factorize."""
    unseen = rows.astype({"merchant_category": object})
    unseen.iloc[::5, unseen.columns.get_loc("merchant_category")] = "a shop never seen"
    unseen_expected = model.predict_proba(unseen)

    def factorize(*args, **kwargs):
        raise AssertionError("pandas.factorize was called")

    monkeypatch.setattr(pd, "factorize", factorize)
    for dtype in (pd.StringDtype("pyarrow"), pd.ArrowDtype(pa.string())):
        held = rows.astype({"merchant_category": dtype})
        np.testing.assert_array_equal(model.predict_proba(held), expected, err_msg=str(dtype))
        held = unseen.astype({"merchant_category": dtype})
        np.testing.assert_array_equal(model.predict_proba(held), unseen_expected, err_msg=str(dtype))
    with pytest.raises(AssertionError, match="factorize was called"):
        model.predict_proba(unseen)


def test_long_text_columns_read_in_pieces_score_alike(model):
    """A text column long enough to be read in pieces side by side, with
    levels that first show up in a later piece, missing values and texts
    the model never saw, scores as the same column read by pandas.factorize
    (an object column)."""
    frame = fraud_engine.generate(100_000, seed=9)[model.feature_names]
    frame = frame.sort_values("merchant_category", kind="stable", ignore_index=True)
    text = frame["merchant_category"].astype(object)
    text.iloc[::13] = None
    text.iloc[-3_000:] = "a shop never seen"
    frame = frame.assign(merchant_category=text)
    expected = model.predict_proba(frame)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    inputs = {
        "pandas str dtype": frame.astype({"merchant_category": pd.StringDtype("pyarrow")}),
        "pyarrow Table": table,
        "pyarrow chunked": pa.concat_tables([table.slice(0, 40_000), table.slice(40_000)]),
        "polars": pl.from_pandas(frame),
    }
    for name, x in inputs.items():
        np.testing.assert_array_equal(model.predict_proba(x), expected, err_msg=name)


def test_number_columns_read_in_place_score_as_numpy_converts_them(model, rows, expected):
    """int64 and float64 columns are copied out of their arrays off the
    interpreter; every other number dtype, and strided views, as numpy
    converts them. Large integers round to the double numpy's astype gives."""
    # Past the schema's limits: the error names each value as read.
    big = np.array([3, 2**53 + 1, -(2**63), 2**63 - 1, 0] * 400, dtype=np.int64)[: len(rows)]
    errors = []
    for amount in (big, big.astype(np.float64)):
        with pytest.raises(fraud_engine.InvalidInputError) as error:
            model.predict_proba({**{c: rows[c] for c in rows}, "amount": amount})
        errors.append(str(error.value))
    assert errors[0] == errors[1] and "9007199254740992 is outside" in errors[0], errors
    wide = np.repeat(rows["transaction_hour"].to_numpy(np.int64)[:, None], 3, axis=1)
    inputs = {
        "int32": rows.astype({"transaction_hour": np.int32, "cardholder_age": np.int32}),
        "uint8 and bool": rows.astype({"transaction_hour": np.uint8, "foreign_transaction": bool}),
        "float32 and float64": rows.astype({"transaction_hour": np.float32}),
        "strided int64": {**{c: rows[c] for c in rows}, "transaction_hour": wide[:, 1]},
        "strided float64": {**{c: rows[c] for c in rows}, "amount": np.repeat(rows[["amount"]].to_numpy(), 2, axis=1)[:, 0]},
    }
    assert not inputs["strided int64"]["transaction_hour"].flags.c_contiguous
    for name, x in inputs.items():
        np.testing.assert_array_equal(model.predict_proba(x), expected, err_msg=name)


def test_texts_that_start_alike_stay_apart():
    """Texts of many lengths, and long texts that start alike, are told
    apart when read from Arrow in pieces side by side as pandas.factorize
    tells them apart: training on either gives the same categories and the
    same model."""
    names = ["a", "ab", "abc", "abcd", "abcdefg", "abcdefgh", "abcdefghi", "é"]
    names += ["shop with a long name A", "shop with a long name B"]
    frame = fraud_engine.generate(70_000, seed=4)
    frame["merchant_category"] = np.array(names, dtype=object)[np.arange(len(frame)) * 7 % len(names)]
    # The second piece sees its levels in another order than the first.
    frame.loc[40_000:, "merchant_category"] = frame.loc[40_000:, "merchant_category"].to_numpy()[::-1]
    by_factorize = fraud_engine.train(frame.astype({"merchant_category": object}), n_trees=4, seed=2)
    by_arrow = fraud_engine.train(pa.Table.from_pandas(frame, preserve_index=False), n_trees=4, seed=2)
    assert sorted(by_arrow.category_codes("merchant_category")) == sorted(names)
    assert by_arrow.category_codes("merchant_category") == by_factorize.category_codes("merchant_category")
    np.testing.assert_array_equal(by_arrow.predict_proba(frame), by_factorize.predict_proba(frame))


def test_text_that_is_not_utf8_is_named_by_row(model, rows):
    """Arrow text is checked as it is read, once per distinct value: bytes
    that are not UTF-8, in any of Arrow's three text layouts and in a
    chunk after the first, are an error that names the column and the row;
    a binary column is refused as before."""
    valid = pa.Table.from_pandas(rows, preserve_index=False)
    index = valid.schema.get_field_index("merchant_category")
    raw = [c.encode() if isinstance(c, str) else None for c in rows["merchant_category"]]
    raw[1234] = b"Caf\xe9"  # Latin-1, not UTF-8
    for text_type, bytes_type in [
        (pa.string(), pa.binary()),
        (pa.large_string(), pa.large_binary()),
        (pa.string_view(), pa.binary_view()),
    ]:
        # `view` relabels the bytes without checking them, as a producer
        # that writes Arrow by hand could.
        column = pa.chunked_array([
            pa.array(raw[:1000], type=bytes_type).view(text_type),
            pa.array(raw[1000:], type=bytes_type).view(text_type),
        ])
        bad = valid.set_column(index, "merchant_category", column)
        with pytest.raises(fraud_engine.InvalidInputError, match=r"merchant_category.*row 1235 is not UTF-8"):
            model.predict_proba(bad)
        with pytest.raises(fraud_engine.InvalidInputError, match=r"merchant_category.*row 1235 is not UTF-8"):
            model.predict_proba(Stream(bad))
        # The column's valid texts, in the same layout, score as pandas
        # reads them.
        good = valid.set_column(
            index, "merchant_category", pa.array(rows["merchant_category"], type=text_type)
        )
        np.testing.assert_array_equal(model.predict_proba(good), model.predict_proba(rows))
    binary = valid.set_column(index, "merchant_category", pa.array(raw, type=pa.binary()))
    with pytest.raises(fraud_engine.InvalidInputError, match=r"merchant_category.*Arrow type Binary"):
        model.predict_proba(binary)

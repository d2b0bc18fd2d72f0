//! Python inputs to the engine's inputs: one value to a [`Cell`], a column
//! (numpy array, pandas or polars Series, list) to a [`TableColumn`], a
//! table (DataFrame, dict of columns, list of dicts) to a [`Table`], a 2-D
//! numeric array to encoded rows.
//!
//! Everything is copied out of Python objects while attached to the
//! interpreter, so the engine's work that follows can run detached. Nothing
//! here decides what a value means: the engine reads every cell.

use fraud_engine::data::MISSING_CODE;
use fraud_engine::{Cell, Feature, Fields, Table, TableColumn, Value};
use numpy::{PyArrayDescrMethods, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple,
};
use rayon::prelude::*;

use crate::arrow;
use crate::errors::{invalid_input, EngineError};

/// Copies one Python value: `None` and pandas' `NA`/`NaT` are missing, bools
/// are booleans (a flag's value, not a number), numbers (numpy scalars and anything with `__float__` too) are
/// numbers (`NaN` included: the engine reads it as missing), `str` is text;
/// anything else is named by its type for the engine to reject.
pub fn cell(obj: &Bound<'_, PyAny>) -> Cell {
    if obj.is_none() {
        return Cell::Missing;
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return match s.to_cow() {
            Ok(text) => Cell::Text(text.into_owned()),
            Err(_) => Cell::Unsupported("text that is not valid UTF-8"),
        };
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Cell::Bool(b.is_true());
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Cell::Number(f.value());
    }
    if obj.is_instance_of::<PyInt>() {
        // Through a C integer where it fits: `float(obj)` would make a
        // float object to read. The same value either way (both round to
        // nearest, ties to even).
        if let Ok(i) = obj.extract::<i64>() {
            return Cell::Number(i as f64);
        }
        return match obj.extract::<f64>() {
            Ok(x) => Cell::Number(x),
            Err(_) => Cell::Unsupported("an integer too large for a float"),
        };
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        return Cell::Unsupported("a list");
    }
    if obj.is_instance_of::<PyDict>() {
        return Cell::Unsupported("a dict");
    }
    if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyByteArray>() {
        return Cell::Unsupported("bytes");
    }
    match type_name(obj).as_str() {
        "NAType" | "NaTType" => Cell::Missing,
        "datetime" | "date" | "time" | "timedelta" | "Timestamp" | "Timedelta" | "datetime64"
        | "timedelta64" => Cell::Unsupported("a date or time"),
        "complex" | "complex64" | "complex128" => Cell::Unsupported("a complex number"),
        // numpy scalars, Decimal, Fraction: anything that converts to float.
        _ => obj.extract::<f64>().map_or(
            Cell::Unsupported("an object of an unsupported type"),
            Cell::Number,
        ),
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "object".into(), |n| n.to_string())
}

/// An array's shape as Python writes it: `(8,)`, `(3, 7)`.
fn shape_text(array: &Bound<'_, PyUntypedArray>) -> String {
    array
        .getattr(intern!(array.py(), "shape"))
        .and_then(|shape| shape.repr().map(|r| r.to_string()))
        .unwrap_or_default()
}

/// Copies one column: a numpy array (numeric and bool dtypes as numbers,
/// object and string dtypes value by value), a pandas Series (categories by
/// their codes, text that pyarrow holds as Arrow data, other text through
/// `pandas.factorize`: each distinct value read once), Arrow data (a
/// pyarrow array, a polars Series: see [`crate::arrow`]), anything else
/// with `to_numpy()`, or any iterable of values. `name` names the column
/// in errors.
pub fn column(py: Python<'_>, obj: &Bound<'_, PyAny>, name: &str) -> PyResult<TableColumn> {
    let mut read = read_numbers(py, vec![column_of(py, obj, name)?])?;
    Ok(read.pop().expect("one column in, one out"))
}

/// Named columns read by [`read_numbers`].
fn read_all(
    py: Python<'_>,
    named: Vec<(String, Column<'_>)>,
) -> PyResult<Vec<(String, TableColumn)>> {
    let (names, columns): (Vec<String>, Vec<Column<'_>>) = named.into_iter().unzip();
    Ok(names.into_iter().zip(read_numbers(py, columns)?).collect())
}

/// A column as [`column_of`] leaves it: read, or numbers still in a 1-D
/// numpy array, which [`read_numbers`] copies with the table's other such
/// columns, side by side and off the interpreter.
enum Column<'py> {
    Read(TableColumn),
    Numbers(Bound<'py, PyUntypedArray>),
}

/// A numpy array of numbers borrowed by [`read_numbers`].
enum Borrowed<'py> {
    Floats(numpy::PyReadonlyArray1<'py, f64>),
    Integers(numpy::PyReadonlyArray1<'py, i64>),
}

/// The values of a [`Borrowed`] array, in place.
enum NumberSlice<'a> {
    Floats(&'a [f64]),
    Integers(&'a [i64]),
}

/// Every column read, numbers copied out of their arrays in parallel while
/// the interpreter is free: a copy of a float64 column, and the conversion
/// of an int64 one, took the interpreter's thread alone before.
fn read_numbers(py: Python<'_>, columns: Vec<Column<'_>>) -> PyResult<Vec<TableColumn>> {
    // The columns read, or where their borrowed array is in `borrowed`.
    let mut slots: Vec<Result<TableColumn, usize>> = Vec::with_capacity(columns.len());
    let mut borrowed = Vec::new();
    for column in columns {
        let array = match column {
            Column::Read(read) => {
                slots.push(Ok(read));
                continue;
            }
            Column::Numbers(array) => array,
        };
        // float64 and int64 (pandas' two numeric dtypes) are read in place;
        // numpy converts any other to float64 first, as it always did.
        let dtype = array.dtype();
        let values = if dtype.is_equiv_to(&numpy::dtype::<i64>(py)) {
            Borrowed::Integers(array.cast::<numpy::PyArray1<i64>>()?.try_readonly()?)
        } else {
            let floats = if dtype.is_equiv_to(&numpy::dtype::<f64>(py)) {
                array.into_any()
            } else {
                array.call_method1(intern!(py, "astype"), ("float64",))?
            };
            Borrowed::Floats(floats.cast_into::<numpy::PyArray1<f64>>()?.try_readonly()?)
        };
        // A strided view (a column of a 2-D array) is copied here.
        let contiguous = match &values {
            Borrowed::Floats(x) => x.as_slice().is_ok(),
            Borrowed::Integers(x) => x.as_slice().is_ok(),
        };
        if contiguous {
            slots.push(Err(borrowed.len()));
            borrowed.push(values);
        } else {
            slots.push(Ok(TableColumn::Numbers(match values {
                Borrowed::Floats(x) => x.as_array().to_vec(),
                Borrowed::Integers(x) => x.as_array().iter().map(|&x| x as f64).collect(),
            })));
        }
    }
    // Every array in `borrowed` is contiguous (checked above).
    let slices: Vec<NumberSlice<'_>> = borrowed
        .iter()
        .map(|values| match values {
            Borrowed::Floats(x) => NumberSlice::Floats(x.as_slice().unwrap_or(&[])),
            Borrowed::Integers(x) => NumberSlice::Integers(x.as_slice().unwrap_or(&[])),
        })
        .collect();
    let mut copied: Vec<Vec<f64>> = py.detach(|| {
        slices
            .par_iter()
            .map(|values| match values {
                NumberSlice::Floats(x) => x.to_vec(),
                // As numpy's astype("float64"): the nearest double.
                NumberSlice::Integers(x) => x.iter().map(|&x| x as f64).collect(),
            })
            .collect()
    });
    Ok(slots
        .into_iter()
        .map(|slot| match slot {
            Ok(read) => read,
            Err(at) => TableColumn::Numbers(std::mem::take(&mut copied[at])),
        })
        .collect())
}

/// The column [`column`] reads, its numbers left in their array.
fn column_of<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Column<'py>> {
    let single = |obj: &Bound<'_, PyAny>| {
        invalid_input(
            py,
            name,
            format!(
                "expected a column of values, got a single {} (use predict() for one transaction)",
                type_name(obj)
            ),
        )
    };
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(single(obj));
    }
    let is_array = obj.cast::<PyUntypedArray>().is_ok();
    if !is_array && from_pandas(obj) {
        if let Some(column) = pandas_column(py, obj, name)? {
            return Ok(column);
        }
    } else if !is_array && arrow::exports_arrow(obj)? {
        let chunks = arrow::read(obj)?;
        return arrow::column(&chunks.data_type, &chunks.arrays)
            .map(Column::Read)
            .map_err(|reason| invalid_input(py, name, reason));
    }
    let mut obj = obj.clone();
    if !is_array && obj.hasattr(intern!(py, "to_numpy"))? {
        obj = obj.call_method0(intern!(py, "to_numpy"))?;
    }
    let Ok(array) = obj.cast::<PyUntypedArray>() else {
        return match obj.try_iter() {
            Ok(items) => Ok(Column::Read(TableColumn::Cells(
                items
                    .map(|v| v.map(|v| cell(&v)))
                    .collect::<PyResult<_>>()?,
            ))),
            Err(_) => Err(single(&obj)),
        };
    };
    if array.ndim() != 1 {
        return Err(invalid_input(
            py,
            name,
            format!(
                "expected one value per row, got an array of shape {}",
                shape_text(array)
            ),
        ));
    }
    match array.dtype().kind() {
        b'b' | b'i' | b'u' | b'f' => Ok(Column::Numbers(array.clone())),
        b'O' | b'U' | b'S' => {
            let items = array.call_method0(intern!(py, "tolist"))?;
            Ok(Column::Read(TableColumn::Cells(
                items
                    .try_iter()?
                    .map(|v| v.map(|v| cell(&v)))
                    .collect::<PyResult<_>>()?,
            )))
        }
        b'c' => Err(invalid_input(
            py,
            name,
            "complex data not supported: convert the values to real numbers, or drop the column",
        )),
        _ => Err(invalid_input(
            py,
            name,
            format!(
                "values of dtype {} are not read; convert them to numbers or text, or drop the column",
                array.dtype()
            ),
        )),
    }
}

/// Whether `obj` is a pandas object.
fn from_pandas(obj: &Bound<'_, PyAny>) -> bool {
    obj.get_type()
        .module()
        .is_ok_and(|m| m.to_cow().is_ok_and(|m| m.starts_with("pandas")))
}

/// A pandas Series without a value-by-value copy where pandas can give one:
/// categoricals by their codes, text kept by pyarrow (pandas' default `str`
/// dtype since 3.0) through the Arrow C data interface, other text by
/// `pandas.factorize` (the engine then reads each distinct text once),
/// nullable numbers as float64 with NaN. `None` where the values must be
/// read one by one (mixed types).
fn pandas_column<'py>(
    py: Python<'py>,
    series: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<Option<Column<'py>>> {
    let dtype = series.getattr(intern!(py, "dtype"))?;
    // numpy dtypes (float64, int64, bool): read through numpy below.
    if dtype.cast::<numpy::PyArrayDescr>().is_ok()
        && dtype.getattr(intern!(py, "kind"))?.extract::<String>()? != "O"
    {
        return Ok(None);
    }
    let kind: String = dtype.getattr(intern!(py, "kind"))?.extract()?;
    let dtype_name = dtype.str()?.to_cow()?.into_owned();
    if matches!(kind.as_str(), "i" | "u" | "f" | "b") && dtype_name != "category" {
        // Nullable integers, floats, booleans: pd.NA becomes NaN.
        let kwargs = PyDict::new(py);
        kwargs.set_item(intern!(py, "dtype"), "float64")?;
        kwargs.set_item(intern!(py, "na_value"), f64::NAN)?;
        let values = series.call_method(intern!(py, "to_numpy"), (), Some(&kwargs))?;
        return Ok(Some(Column::Numbers(values.cast_into::<PyUntypedArray>()?)));
    }
    if let Some(chunks) = pyarrow_text(py, series, &dtype)? {
        // Read in place, with the interpreter released; `pandas.factorize`
        // held it for the whole column.
        let column = py.detach(|| arrow::column(&chunks.data_type, &chunks.arrays));
        return column
            .map(|column| Some(Column::Read(column)))
            .map_err(|reason| invalid_input(py, name, reason));
    }
    let (codes, levels) = if dtype_name == "category" {
        let cat = series.getattr(intern!(py, "cat"))?;
        (
            cat.getattr(intern!(py, "codes"))?
                .call_method1(intern!(py, "to_numpy"), ("int64",))?,
            cat.getattr(intern!(py, "categories"))?,
        )
    } else {
        let factorized = py
            .import(intern!(py, "pandas"))?
            .call_method1(intern!(py, "factorize"), (series,));
        match factorized {
            Ok(f) => (f.get_item(0)?, f.get_item(1)?),
            // Unhashable values (a list in a cell): read one by one, which
            // names each.
            Err(e) if e.is_instance_of::<PyTypeError>(py) => return Ok(None),
            Err(e) => return Err(e),
        }
    };
    let mut texts = Vec::new();
    for level in levels.try_iter()? {
        match level?.cast::<PyString>() {
            Ok(text) => texts.push(text.to_cow()?.into_owned()),
            // Numbers or other objects among the values: read one by one.
            Err(_) => return Ok(None),
        }
    }
    let codes = codes.call_method1(intern!(py, "astype"), ("int64",))?;
    let codes = codes.cast::<numpy::PyArray1<i64>>()?.try_readonly()?;
    let codes = codes
        .as_array()
        .iter()
        .map(|&c| u32::try_from(c).unwrap_or(MISSING_CODE))
        .collect();
    Ok(Some(Column::Read(TableColumn::Dictionary {
        codes,
        levels: texts,
    })))
}

/// The text of a Series whose values pyarrow holds (`StringDtype` with
/// pyarrow storage, `ArrowDtype` of a string type), as Arrow data; `None`
/// for any other Series.
fn pyarrow_text(
    py: Python<'_>,
    series: &Bound<'_, PyAny>,
    dtype: &Bound<'_, PyAny>,
) -> PyResult<Option<arrow::Chunks>> {
    let storage = dtype.getattr_opt(intern!(py, "storage"))?;
    if !storage.is_some_and(|s| s.extract::<String>().is_ok_and(|s| s == "pyarrow")) {
        return Ok(None);
    }
    let values = series.getattr(intern!(py, "array"))?;
    let Some(export) = values.getattr_opt(intern!(py, "__arrow_array__"))? else {
        return Ok(None);
    };
    // pandas' own export: the ChunkedArray it holds, not a copy.
    let chunks = arrow::read(&export.call0()?)?;
    Ok(arrow::is_text(&chunks.data_type).then_some(chunks))
}

/// How a Python object given as many rows is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Has `.columns` and `[name]` (pandas).
    DataFrame,
    /// Arrow data with named columns: a pyarrow Table or RecordBatch, a
    /// polars DataFrame, anything with `__arrow_c_stream__`.
    Arrow,
    /// A `dict` of column name to column.
    Columns,
    /// A list or tuple of dicts, one per row.
    Records,
    /// Anything else: a 2-D array of encoded rows, or not rows at all.
    Matrix,
}

impl Shape {
    /// The shape of `obj`.
    pub fn of(obj: &Bound<'_, PyAny>) -> PyResult<Shape> {
        if obj.is_instance_of::<PyDict>() {
            return Ok(Shape::Columns);
        }
        let type_name = type_name(obj);
        let module = obj.get_type().module()?.to_cow()?.into_owned();
        if module.starts_with("polars") && type_name == "LazyFrame" {
            return Err(PyTypeError::new_err(
                "X is a polars LazyFrame, whose rows are not computed yet; collect() it first",
            ));
        }
        if module.starts_with("scipy.sparse") {
            return Err(PyTypeError::new_err(format!(
                "sparse input is not supported ({type_name}); pass a dense array (X.toarray()) or a DataFrame"
            )));
        }
        let is_array = obj.cast::<PyUntypedArray>().is_ok();
        if !is_array && !module.starts_with("pandas") && arrow::exports_arrow(obj)? {
            return Ok(Shape::Arrow);
        }
        if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
            return Ok(match obj.try_iter()?.next().transpose()? {
                // An empty list has no rows either way.
                None => Shape::Records,
                Some(row) if row.cast::<PyMapping>().is_ok() => Shape::Records,
                Some(_) => Shape::Matrix,
            });
        }
        if obj.cast::<PyUntypedArray>().is_err() && obj.hasattr(intern!(obj.py(), "columns"))? {
            return Ok(Shape::DataFrame);
        }
        Ok(Shape::Matrix)
    }
}

/// Copies a table: every column, or with `wanted` only the columns so named
/// (the engine names any that are missing). A list of dicts is read by the
/// `wanted` names, a key a row lacks as [`Cell::Absent`], which the engine
/// reports by row.
pub fn table(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    shape: Shape,
    wanted: Option<&[String]>,
) -> PyResult<Table> {
    let keep = |name: &str| wanted.is_none_or(|w| w.iter().any(|n| n == name));
    let (source, columns) = match shape {
        Shape::DataFrame => {
            let mut columns = Vec::new();
            for key in obj.getattr(intern!(py, "columns"))?.try_iter()? {
                let key = key?;
                let name = match key.cast::<PyString>() {
                    Ok(s) => s.to_cow()?.into_owned(),
                    Err(_) => key.str()?.to_cow()?.into_owned(),
                };
                if keep(&name) {
                    columns.push((name.clone(), column_of(py, &obj.get_item(&key)?, &name)?));
                }
            }
            ("DataFrame", read_all(py, columns)?)
        }
        Shape::Arrow => {
            let chunks = arrow::read(obj)?;
            let parts = arrow::columns(&chunks, keep)?;
            // Plain Rust from here: the columns convert side by side while
            // the scoring threads would otherwise wait for them.
            let converted: Vec<Result<TableColumn, String>> = py.detach(|| {
                parts
                    .par_iter()
                    .map(|(_, data_type, parts)| arrow::column(data_type, parts))
                    .collect()
            });
            let mut columns = Vec::new();
            for ((name, _, _), column) in parts.into_iter().zip(converted) {
                let column = column.map_err(|reason| invalid_input(py, &name, reason))?;
                columns.push((name, column));
            }
            // Its own type's name: "DataFrame" (polars), "Table", "RecordBatch".
            return Table::from_columns(type_name(obj), columns).map_err(|e| EngineError(e).into());
        }
        Shape::Columns => {
            let mut columns = Vec::new();
            for (key, value) in obj.cast::<PyDict>()?.iter() {
                let Ok(name) = key.cast::<PyString>() else {
                    return Err(PyTypeError::new_err(format!(
                        "column names must be str, got {}",
                        type_name(&key)
                    )));
                };
                let name = name.to_cow()?.into_owned();
                if keep(&name) {
                    columns.push((name.clone(), column_of(py, &value, &name)?));
                }
            }
            ("dict of columns", read_all(py, columns)?)
        }
        Shape::Records => {
            let Some(names) = wanted else {
                return Err(PyTypeError::new_err(
                    "a list of dicts is read for scoring only; pass a DataFrame or a dict of columns",
                ));
            };
            ("list of dicts", records(py, obj, names)?)
        }
        Shape::Matrix => {
            return Err(PyTypeError::new_err(format!(
                "expected a DataFrame, a dict of columns or a list of dicts, not {}",
                type_name(obj)
            )))
        }
    };
    Table::from_columns(source, columns).map_err(|e| EngineError(e).into())
}

/// The `names` columns of a list of dicts.
fn records(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    names: &[String],
) -> PyResult<Vec<(String, TableColumn)>> {
    let keys: Vec<Bound<'_, PyString>> = names.iter().map(|n| PyString::new(py, n)).collect();
    let mut cells: Vec<Vec<Cell>> = vec![Vec::new(); names.len()];
    for (r, row) in obj.try_iter()?.enumerate() {
        let row = row?;
        let Ok(mapping) = row.cast::<PyMapping>() else {
            return Err(invalid_input(
                py,
                "X",
                format!("row {} is a {}, expected a dict", r + 1, type_name(&row)),
            ));
        };
        for (key, column) in keys.iter().zip(&mut cells) {
            column.push(field(mapping.as_any(), key)?);
        }
    }
    Ok(names
        .iter()
        .cloned()
        .zip(cells.into_iter().map(TableColumn::Cells))
        .collect())
}

/// The texts a model knows (its categories), each as an interned Python
/// `str` mapped to the same text in Rust, so that a cell holding one is read
/// without copying it out of Python: under the stable ABI for Python 3.9 a
/// `str` is only read by encoding it into a new `bytes` object, then copying
/// that. A string literal in the caller's code is usually the very object
/// interned here, found by identity with its hash already cached.
pub struct KnownTexts {
    /// Each text to its index in `texts`.
    index: Py<PyDict>,
    texts: Vec<String>,
}

impl KnownTexts {
    /// The lookup for `texts`.
    pub fn new(py: Python<'_>, texts: Vec<String>) -> PyResult<Self> {
        let index = PyDict::new(py);
        for (i, text) in texts.iter().enumerate() {
            index.set_item(PyString::intern(py, text), i)?;
        }
        Ok(KnownTexts {
            index: index.unbind(),
            texts,
        })
    }

    /// The text `obj` holds when it is a `str` equal to one of these. Only
    /// an exact `str`: a subclass may redefine what equal means.
    fn get(&self, obj: &Bound<'_, PyAny>) -> PyResult<Option<&str>> {
        let Ok(text) = obj.cast_exact::<PyString>() else {
            return Ok(None);
        };
        let Some(i) = self.index.bind(obj.py()).get_item(text)? else {
            return Ok(None);
        };
        Ok(self.texts.get(i.extract::<usize>()?).map(String::as_str))
    }
}

/// One field of a transaction: a text the model knows, borrowed from it, or
/// a value copied out of Python.
enum Field<'m> {
    Known(&'m str),
    Copied(Cell),
}

/// One transaction's fields in the model's feature order, for the engine to
/// read by name ([`fraud_engine::Fields`]).
pub struct Record<'m> {
    /// The model's features, whose names the engine asks by: the same
    /// strings, so a name is recognised by its address before its bytes.
    features: &'m [Feature],
    fields: Vec<Field<'m>>,
}

impl Field<'_> {
    fn value(&self) -> Value<'_> {
        match self {
            Field::Known(text) => Value::Text(text),
            Field::Copied(cell) => cell.as_value(),
        }
    }
}

impl Fields for Record<'_> {
    fn field(&self, name: &str) -> Option<Value<'_>> {
        let i = self.features.iter().position(|f| f.name == name)?;
        self.field_at(i, name)
    }

    fn field_at(&self, index: usize, name: &str) -> Option<Value<'_>> {
        let named = |f: &Feature| std::ptr::eq(f.name.as_str(), name) || f.name == name;
        match (self.features.get(index), self.fields.get(index)) {
            (Some(feature), Some(field)) if named(feature) => match field.value() {
                Value::Absent => None,
                value => Some(value),
            },
            _ => self.field(name),
        }
    }
}

/// The fields of one transaction (a dict or any mapping) for `features`, in
/// that order (`keys` holds their names as Python strings), a missing key as
/// absent; `method` names the caller in the error for anything else.
pub fn record<'m>(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    features: &'m [Feature],
    keys: &[Py<PyString>],
    known: &'m KnownTexts,
    method: &str,
) -> PyResult<Record<'m>> {
    let read = |value: Option<Bound<'_, PyAny>>| -> PyResult<Field<'m>> {
        let Some(value) = value else {
            return Ok(Field::Copied(Cell::Absent));
        };
        Ok(match known.get(&value)? {
            Some(text) => Field::Known(text),
            None => Field::Copied(cell(&value)),
        })
    };
    let mut fields = Vec::with_capacity(keys.len());
    // A plain dict is the common case: read it without the mapping
    // protocol's KeyError for every absent field.
    if let Ok(dict) = obj.cast_exact::<PyDict>() {
        for key in keys {
            fields.push(read(dict.get_item(key.bind(py))?)?);
        }
        return Ok(Record { features, fields });
    }
    let is_mapping = obj.cast::<PyMapping>().is_ok()
        || (obj.hasattr(intern!(py, "keys"))? && obj.hasattr(intern!(py, "__getitem__"))?);
    if !is_mapping {
        return Err(PyTypeError::new_err(format!(
            "{method}() takes one transaction as a dict of field values, not {}; \
             use predict_proba() or predict_many() for many rows",
            type_name(obj)
        )));
    }
    for key in keys {
        let value = match obj.get_item(key.bind(py)) {
            Ok(v) => Some(v),
            Err(e) if e.is_instance_of::<PyKeyError>(py) => None,
            Err(e) => return Err(e),
        };
        fields.push(read(value)?);
    }
    Ok(Record { features, fields })
}

/// The value of `key` in a mapping, [`Cell::Absent`] when it has none.
fn field(mapping: &Bound<'_, PyAny>, key: &Bound<'_, PyString>) -> PyResult<Cell> {
    match mapping.get_item(key) {
        Ok(v) => Ok(cell(&v)),
        Err(e) if e.is_instance_of::<PyKeyError>(mapping.py()) => Ok(Cell::Absent),
        Err(e) => Err(e),
    }
}

/// Runs `work` on the rows of a 2-D numeric array (or a list of rows) as
/// row-major float64, read in place when the array is C-ordered float64 and
/// converted once otherwise. `features` are the names of the columns the
/// array must have, in order.
pub fn with_matrix<T>(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    features: &[String],
    work: impl FnOnce(&[f64]) -> PyResult<T>,
) -> PyResult<T> {
    let array = match obj.cast::<PyUntypedArray>() {
        Ok(a) => a.clone(),
        // Lists of rows, and objects that convert themselves (`__array__`).
        Err(_)
            if obj.is_instance_of::<PyList>()
                || obj.is_instance_of::<PyTuple>()
                || obj.hasattr(intern!(py, "__array__"))? =>
        {
            let numpy = py.import(intern!(py, "numpy"))?;
            let converted = numpy.call_method1("asarray", (obj, "float64")).map_err(|e| {
                invalid_input(
                    py,
                    "X",
                    format!("X that is not rows of dicts must be a 2-D array of numbers ({e})"),
                )
            })?;
            converted.cast_into::<PyUntypedArray>()?
        }
        Err(_) => {
            return Err(PyTypeError::new_err(format!(
                "X must be a DataFrame (pandas, polars), an Arrow table, a list of dicts, a dict of columns or a 2-D numpy array, not {}",
                type_name(obj)
            )))
        }
    };
    let n = features.len();
    let shape = array.shape().to_vec();
    if shape.len() != 2 {
        return Err(invalid_input(
            py,
            "X",
            format!(
                "expected a 2-D array (rows by {n} features), got shape {}; \
                 pass one transaction as X.reshape(1, -1) or as a dict to predict()",
                shape_text(&array)
            ),
        ));
    }
    if shape[1] != n {
        return Err(invalid_input(
            py,
            "X",
            format!(
                "the array has {} columns; the model reads {n} features in this order: {}",
                shape[1],
                features.join(", ")
            ),
        ));
    }
    if !matches!(array.dtype().kind(), b'f' | b'i' | b'u' | b'b') {
        return Err(invalid_input(
            py,
            "X",
            format!(
                "a 2-D array must hold numbers (dtype {} given); categories go in as codes \
                 (Model.category_codes), or pass a DataFrame",
                array.dtype()
            ),
        ));
    }
    let floats = if array.dtype().is_equiv_to(&numpy::dtype::<f64>(py)) {
        array.into_any()
    } else {
        array.call_method1(intern!(py, "astype"), ("float64",))?
    };
    let floats = floats.cast::<numpy::PyArray2<f64>>()?.try_readonly()?;
    // `as_slice` also takes Fortran order, whose memory is column-major.
    match floats.as_slice() {
        Ok(rows) if floats.is_c_contiguous() => work(rows),
        // Fortran order or a strided view: copied to row-major order.
        _ => work(&floats.as_array().iter().copied().collect::<Vec<f64>>()),
    }
}

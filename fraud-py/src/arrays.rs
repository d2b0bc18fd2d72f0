//! Python inputs to engine values: single values, columns (numpy arrays,
//! pandas Series, lists), tables (DataFrames, dicts of columns, lists of
//! dicts) and encoded matrices.
//!
//! Everything is copied out of Python objects while attached to the
//! interpreter into owned Rust values ([`Cell`], [`ColumnData`]), so the
//! engine's work that follows can run detached, on any thread.

use fraud_engine::data::{is_missing_text, parse_bool};
use fraud_engine::Value;
use numpy::{PyArrayDescrMethods, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple,
};

use crate::errors::{invalid_input, schema_error};

/// One value copied out of a Python object.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A number; bools are 0 and 1.
    Number(f64),
    /// Text.
    Text(String),
    /// `None`, `NaN`, `pandas.NA` or `NaT`.
    Missing,
    /// A value no feature reads, by description.
    Unsupported(&'static str),
}

impl Cell {
    /// The engine's view of the value.
    pub fn as_value(&self) -> Value<'_> {
        match self {
            Cell::Number(x) => Value::Number(*x),
            Cell::Text(t) => Value::Text(t),
            Cell::Missing => Value::Missing,
            Cell::Unsupported(what) => Value::Unsupported(what),
        }
    }

    fn number(x: f64) -> Self {
        // NaN is how numpy and pandas spell "missing".
        if x.is_nan() {
            Cell::Missing
        } else {
            Cell::Number(x)
        }
    }
}

/// Copies one Python value: `None`/NaN/`pd.NA` are missing, bools are 0/1,
/// numbers (including numpy scalars and anything with `__float__`) are
/// numbers, `str` is text.
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
        return Cell::Number(f64::from(u8::from(b.is_true())));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Cell::number(f.value());
    }
    if obj.is_instance_of::<PyInt>() {
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
    uncommon_cell(obj)
}

fn uncommon_cell(obj: &Bound<'_, PyAny>) -> Cell {
    let type_name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    match type_name.as_str() {
        // pandas' missing-value singletons.
        "NAType" | "NaTType" => Cell::Missing,
        "datetime" | "date" | "time" | "timedelta" | "Timestamp" | "Timedelta" | "datetime64"
        | "timedelta64" => Cell::Unsupported("a date or time"),
        "complex" | "complex64" | "complex128" => Cell::Unsupported("a complex number"),
        // numpy scalars, Decimal, Fraction: anything that converts to float.
        _ => match obj.extract::<f64>() {
            Ok(x) => Cell::number(x),
            Err(_) => Cell::Unsupported("an object of an unsupported type"),
        },
    }
}

/// One column copied out of Python.
#[derive(Debug, Clone)]
pub enum ColumnData {
    /// A numeric or boolean array as floats; NaN marks a missing value.
    Floats(Vec<f64>),
    /// Any other values, one by one.
    Cells(Vec<Cell>),
}

impl ColumnData {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Floats(v) => v.len(),
            ColumnData::Cells(v) => v.len(),
        }
    }

    /// The engine's view of the value at `row`.
    pub fn value(&self, row: usize) -> Value<'_> {
        match self {
            ColumnData::Floats(v) if v[row].is_nan() => Value::Missing,
            ColumnData::Floats(v) => Value::Number(v[row]),
            ColumnData::Cells(v) => v[row].as_value(),
        }
    }

    /// The kind the values suggest, mirroring how `read_csv` infers a CSV
    /// column: a flag if every present value is 0/1 (or true/false, yes/no),
    /// numeric if every present value is a number, categorical otherwise.
    /// `None` when no value is present.
    pub fn inferred_kind(&self) -> Option<InferredKind> {
        let mut any = false;
        let mut all_flag = true;
        let mut all_numeric = true;
        let mut see = |flag: bool, numeric: bool| {
            any = true;
            all_flag &= flag;
            all_numeric &= numeric;
        };
        match self {
            ColumnData::Floats(values) => {
                for &x in values.iter().filter(|x| !x.is_nan()) {
                    see(x == 0.0 || x == 1.0, true);
                }
            }
            ColumnData::Cells(cells) => {
                for c in cells {
                    match c {
                        Cell::Missing => {}
                        Cell::Text(t) if is_missing_text(t) => {}
                        Cell::Number(x) => see(*x == 0.0 || *x == 1.0, true),
                        Cell::Text(t) => see(
                            parse_bool(t).is_some(),
                            t.trim().parse::<f64>().is_ok_and(f64::is_finite),
                        ),
                        // Left for the dataset builder to reject with its row.
                        Cell::Unsupported(_) => see(false, true),
                    }
                }
            }
        }
        any.then_some(if all_flag {
            InferredKind::Flag
        } else if all_numeric {
            InferredKind::Numeric
        } else {
            InferredKind::Categorical
        })
    }
}

/// What kind of feature a column's values suggest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InferredKind {
    /// 0/1 values.
    Flag,
    /// Numbers.
    Numeric,
    /// Anything else.
    Categorical,
}

/// A shape as Python writes it: `(8,)`, `(3, 7)`.
pub fn shape_text(shape: impl AsRef<[usize]>) -> String {
    let shape = shape.as_ref();
    match shape {
        [one] => format!("({one},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

/// Copies one column: a numpy array, anything with `to_numpy()` (pandas and
/// polars Series), or any iterable of values. `name` appears in errors.
pub fn column_data(py: Python<'_>, obj: &Bound<'_, PyAny>, name: &str) -> PyResult<ColumnData> {
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(invalid_input(
            py,
            name,
            format!(
                "expected a column of values, got a single {} (use predict() for one transaction)",
                type_name(obj)
            ),
        ));
    }
    let mut obj = obj.clone();
    if obj.cast::<PyUntypedArray>().is_err() && obj.hasattr("to_numpy")? {
        obj = obj.call_method0("to_numpy")?;
    }
    if let Ok(array) = obj.cast::<PyUntypedArray>() {
        if array.ndim() != 1 {
            return Err(invalid_input(
                py,
                name,
                format!(
                    "expected one value per row, got an array of shape {}",
                    shape_text(array.shape())
                ),
            ));
        }
        let kind = array.dtype().kind();
        return match kind {
            b'b' | b'i' | b'u' | b'f' => {
                let floats = array.call_method1("astype", ("float64",))?;
                let floats = floats.cast::<numpy::PyArray1<f64>>()?;
                Ok(ColumnData::Floats(floats.to_vec()?))
            }
            b'O' | b'U' | b'S' => {
                let list = array.call_method0("tolist")?;
                Ok(ColumnData::Cells(
                    list.try_iter()?
                        .map(|item| item.map(|v| cell(&v)))
                        .collect::<PyResult<_>>()?,
                ))
            }
            _ => Err(invalid_input(
                py,
                name,
                format!(
                    "values of dtype {} are not read; convert them to numbers or text, or drop the column",
                    array.dtype()
                ),
            )),
        };
    }
    match obj.try_iter() {
        Ok(iter) => Ok(ColumnData::Cells(
            iter.map(|item| item.map(|v| cell(&v)))
                .collect::<PyResult<_>>()?,
        )),
        Err(_) => Err(invalid_input(
            py,
            name,
            format!(
                "expected a column of values, got a single {} (use predict() for one transaction)",
                type_name(&obj)
            ),
        )),
    }
}

/// Named columns read from a table, all the same length.
pub struct Table {
    /// Column names, in the table's order.
    pub names: Vec<String>,
    /// The columns, parallel to `names`.
    pub columns: Vec<ColumnData>,
    /// Rows in every column.
    pub n_rows: usize,
    /// How the source is called in errors ("DataFrame", "dict of columns", ...).
    pub source: &'static str,
}

impl Table {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnData> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.columns[i])
    }
}

/// What a table-shaped Python object is.
pub enum TableKind {
    /// Has `.columns` and `[name]` (pandas, polars).
    DataFrame,
    /// A `dict` of column name to column.
    Columns,
    /// A list or tuple of dicts, one per row.
    Records,
}

/// How a Python object given as `X` is shaped.
pub fn table_kind(obj: &Bound<'_, PyAny>) -> PyResult<Option<TableKind>> {
    if obj.is_instance_of::<PyDict>() {
        return Ok(Some(TableKind::Columns));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let first = obj.try_iter()?.next().transpose()?;
        return Ok(match first {
            // An empty list has no rows either way.
            None => Some(TableKind::Records),
            Some(row) if row.cast::<PyMapping>().is_ok() => Some(TableKind::Records),
            Some(_) => None,
        });
    }
    if obj.cast::<PyUntypedArray>().is_err() && obj.hasattr("columns")? {
        return Ok(Some(TableKind::DataFrame));
    }
    Ok(None)
}

fn column_names<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Vec<(Bound<'py, PyAny>, String)>> {
    let mut names = Vec::new();
    for key in obj.getattr("columns")?.try_iter()? {
        let key = key?;
        let name = match key.cast::<PyString>() {
            Ok(s) => s.to_cow()?.into_owned(),
            Err(_) => key.str()?.to_cow()?.into_owned(),
        };
        names.push((key, name));
    }
    Ok(names)
}

/// Reads a table. With `wanted`, only those columns are read (others are
/// ignored) and each must be present; without it, every column is read.
pub fn read_table(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    kind: TableKind,
    wanted: Option<&[String]>,
) -> PyResult<Table> {
    let (source, mut names, mut columns) = match kind {
        TableKind::DataFrame => {
            let all = column_names(obj)?;
            let picked = pick(py, all, wanted, "DataFrame", |(_, n)| n)?;
            let mut names = Vec::with_capacity(picked.len());
            let mut columns = Vec::with_capacity(picked.len());
            for (key, name) in picked {
                columns.push(column_data(py, &obj.get_item(&key)?, &name)?);
                names.push(name);
            }
            ("DataFrame", names, columns)
        }
        TableKind::Columns => {
            let dict = obj.cast::<PyDict>()?;
            let mut all = Vec::with_capacity(dict.len());
            for (key, value) in dict.iter() {
                let name = match key.cast::<PyString>() {
                    Ok(s) => s.to_cow()?.into_owned(),
                    Err(_) => {
                        return Err(PyTypeError::new_err(format!(
                            "column names must be str, got {}",
                            type_name(&key)
                        )))
                    }
                };
                all.push((name, value));
            }
            let picked = pick(py, all, wanted, "dict of columns", |(n, _)| n)?;
            let mut names = Vec::with_capacity(picked.len());
            let mut columns = Vec::with_capacity(picked.len());
            for (name, value) in picked {
                columns.push(column_data(py, &value, &name)?);
                names.push(name);
            }
            ("dict of columns", names, columns)
        }
        TableKind::Records => {
            let names: Vec<String> = match wanted {
                Some(w) => w.to_vec(),
                None => {
                    return Err(PyTypeError::new_err(
                        "a list of dicts is read for scoring only; pass a DataFrame or a dict of columns",
                    ))
                }
            };
            let keys: Vec<Bound<'_, PyString>> =
                names.iter().map(|n| PyString::new(py, n)).collect();
            let mut cells: Vec<Vec<Cell>> = vec![Vec::new(); names.len()];
            let mut missing = Vec::new();
            for (r, row) in obj.try_iter()?.enumerate() {
                let row = row?;
                let mapping = row.cast::<PyMapping>().map_err(|_| {
                    invalid_input(
                        py,
                        "X",
                        format!("row {} is a {}, expected a dict", r + 1, type_name(&row)),
                    )
                })?;
                for ((key, column), name) in keys.iter().zip(&mut cells).zip(&names) {
                    match mapping.get_item(key) {
                        Ok(v) => column.push(cell(&v)),
                        Err(e) if e.is_instance_of::<PyKeyError>(py) => {
                            // Scored as missing would hide a typo; reported below.
                            column.push(Cell::Missing);
                            missing.push((r + 1, name.clone()));
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            if !missing.is_empty() {
                return Err(crate::errors::to_pyerr(
                    py,
                    fraud_engine::Error::InvalidData {
                        source_name: "list of dicts".into(),
                        total: missing.len(),
                        rejections: missing
                            .into_iter()
                            .take(fraud_engine::Error::MAX_REJECTIONS)
                            .map(|(row, column)| fraud_engine::Rejection {
                                row: row as u64,
                                column,
                                reason: "missing field".into(),
                            })
                            .collect(),
                    },
                ));
            }
            let columns = cells.into_iter().map(ColumnData::Cells).collect();
            ("list of dicts", names, columns)
        }
    };
    let n_rows = columns.first().map_or(0, ColumnData::len);
    for (name, column) in names.iter().zip(&columns) {
        if column.len() != n_rows {
            return Err(schema_error(
                py,
                source,
                format!(
                    "column `{name}` has {} values, `{}` has {n_rows}",
                    column.len(),
                    names[0]
                ),
            ));
        }
    }
    names.shrink_to_fit();
    columns.shrink_to_fit();
    Ok(Table {
        names,
        columns,
        n_rows,
        source,
    })
}

/// Keeps the entries named in `wanted` (in that order), or all of them.
fn pick<T>(
    py: Python<'_>,
    all: Vec<T>,
    wanted: Option<&[String]>,
    source: &str,
    name_of: impl Fn(&T) -> &String,
) -> PyResult<Vec<T>> {
    let Some(wanted) = wanted else {
        return Ok(all);
    };
    let mut slots: Vec<Option<T>> = wanted.iter().map(|_| None).collect();
    for entry in all {
        if let Some(i) = wanted.iter().position(|w| w == name_of(&entry)) {
            slots[i] = Some(entry);
        }
    }
    let missing: Vec<&str> = wanted
        .iter()
        .zip(&slots)
        .filter(|(_, s)| s.is_none())
        .map(|(w, _)| w.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(schema_error(
            py,
            source,
            format!(
                "missing column{} `{}` that the model needs (it reads {})",
                if missing.len() > 1 { "s" } else { "" },
                missing.join("`, `"),
                wanted.join(", ")
            ),
        ));
    }
    Ok(slots.into_iter().flatten().collect())
}

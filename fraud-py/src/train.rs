//! `fraud_engine.train` and `fraud_engine.generate`.

use std::path::{Path, PathBuf};

use fraud_engine::data::MISSING_CODE;
use fraud_engine::metrics::ThresholdStrategy;
use fraud_engine::{
    synth, ClassWeight, ColumnRules, Dataset, RangePolicy, RiskBands, Schema, Setting, Table,
    TableColumn, TrainParams, Trainer, Value,
};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::{PyImportError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString};

use crate::arrays::{self, Shape};
use crate::errors::{detach, invalid_input, invalid_param, notice_text, EngineError};
use crate::model::PyModel;

/// Training parameters accepted as keyword arguments.
const PARAMS: [&str; 10] = [
    "n_trees",
    "max_depth",
    "min_samples_leaf",
    "max_features",
    "class_weight",
    "bootstrap",
    "max_bins",
    "seed",
    "threshold_strategy",
    "risk_bands",
];

/// `TrainParams` from keyword arguments: each value converted to its field's
/// type; the domains are `TrainParams::validate`'s to check.
pub(crate) fn params_from_kwargs(
    py: Python<'_>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<TrainParams> {
    let mut params = TrainParams::default();
    for (key, value) in kwargs.into_iter().flat_map(|k| k.iter()) {
        let name: String = key.extract()?;
        let bad = |takes: &str| invalid_param(py, &name, &format!("expected {takes}, got {value}"));
        // bool is an int in Python; a bool given for a count is a mistake.
        let int = |v: &Bound<'_, PyAny>| -> PyResult<usize> {
            if v.is_instance_of::<PyBool>() {
                return Err(bad("an int"));
            }
            v.extract::<usize>().map_err(|_| bad("an int >= 0"))
        };
        let text = |v: &Bound<'_, PyAny>| v.extract::<String>().map_err(|_| bad("a str"));
        match name.as_str() {
            "n_trees" => params.n_trees = int(&value)?,
            // "auto" (or a number written as text) is the engine's to read.
            "max_depth" if value.is_instance_of::<PyString>() => {
                params.max_depth =
                    Setting::parse("max_depth", &text(&value)?).map_err(EngineError)?
            }
            "max_depth" => {
                params.max_depth = Setting::Fixed(int(&value).map_err(|_| bad(AUTO_OR_INT))?)
            }
            "min_samples_leaf" if value.is_instance_of::<PyString>() => {
                params.min_samples_leaf =
                    Setting::parse("min_samples_leaf", &text(&value)?).map_err(EngineError)?
            }
            "min_samples_leaf" => {
                let count = int(&value).map_err(|_| bad(AUTO_OR_INT))?;
                params.min_samples_leaf =
                    Setting::Fixed(u32::try_from(count).map_err(|_| bad("a count"))?)
            }
            "max_features" if value.is_none() => params.max_features = None,
            "max_features" => params.max_features = Some(int(&value)?),
            "class_weight" if value.is_none() => params.class_weight = ClassWeight::None.into(),
            "class_weight" => params.class_weight = class_weight(py, &value)?,
            "bootstrap" => params.bootstrap = value.extract().map_err(|_| bad("a bool"))?,
            "max_bins" => params.max_bins = int(&value)?,
            "seed" => params.seed = value.extract().map_err(|_| bad("an int >= 0"))?,
            "threshold_strategy" => {
                params.threshold_strategy = text(&value)?
                    .parse::<ThresholdStrategy>()
                    .map_err(EngineError)?
            }
            "risk_bands" if value.is_none() => params.risk_bands = None,
            "risk_bands" => {
                let (medium, high) = value.extract().map_err(|_| bad("(medium, high)"))?;
                params.risk_bands = Some(RiskBands { medium, high });
            }
            _ => {
                let reason = format!("unknown parameter (known: {})", PARAMS.join(", "));
                return Err(invalid_param(py, &name, &reason));
            }
        }
    }
    Ok(params)
}

/// What `max_depth` and `min_samples_leaf` take from Python.
const AUTO_OR_INT: &str = "\"auto\" or an int >= 0";

/// A class weighting: a name (`"auto"`, `"balanced"`, ...), which the engine
/// reads, or a dict of label (0 and 1, False and True) to weight, as
/// scikit-learn's `class_weight`, a label left out weighing 1.
fn class_weight(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Setting<ClassWeight>> {
    let bad = || {
        invalid_param(
            py,
            "class_weight",
            &format!(
                "expected \"auto\", None, \"balanced\", \"balanced-splits\" or a dict \
                 {{0: weight, 1: weight}}, got {value}"
            ),
        )
    };
    if let Ok(text) = value.extract::<String>() {
        return Setting::parse("class_weight", &text).map_err(|e| EngineError(e).into());
    }
    let Ok(dict) = value.cast::<PyDict>() else {
        return Err(bad());
    };
    let mut weights = [1.0, 1.0];
    for (label, weight) in dict.iter() {
        let class = match label.extract::<i64>() {
            Ok(c @ (0 | 1)) => c as usize,
            _ => {
                return Err(invalid_param(
                    py,
                    "class_weight",
                    &format!("the labels are 0 and 1, so {label} names no class"),
                ))
            }
        };
        weights[class] = weight.extract::<f64>().map_err(|_| bad())?;
    }
    let weight = ClassWeight::Weights {
        legitimate: weights[0],
        fraud: weights[1],
    };
    weight.validate().map_err(EngineError)?;
    Ok(weight.into())
}

/// One weight per row, from any 1-D sequence of numbers.
fn sample_weights(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
    let numpy = py.import(intern!(py, "numpy"))?;
    let array = numpy
        .call_method1(intern!(py, "ascontiguousarray"), (value, "float64"))
        .map_err(|e| invalid_input(py, "sample_weight", format!("expected numbers ({e})")))?;
    let Ok(array) = array.cast_into::<PyArray1<f64>>() else {
        return Err(invalid_input(
            py,
            "sample_weight",
            "expected one weight per row (a 1-D sequence of numbers)",
        ));
    };
    Ok(array.to_vec()?)
}

/// Column names given as one name or a list of names.
fn names(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<String>> {
    match obj {
        None => Ok(Vec::new()),
        Some(obj) if obj.is_none() => Ok(Vec::new()),
        Some(obj) => match obj.cast::<PyString>() {
            Ok(s) => Ok(vec![s.to_cow()?.into_owned()]),
            Err(_) => obj.extract::<Vec<String>>().map_err(|_| {
                invalid_param(py, what, "expected a column name or a list of column names")
            }),
        },
    }
}

/// The column rules from `train`'s keyword arguments; a schema is its
/// file's path, or the JSON itself.
pub(crate) fn column_rules(
    py: Python<'_>,
    label: &str,
    drop: Option<&Bound<'_, PyAny>>,
    keep: Option<&Bound<'_, PyAny>>,
    schema: Option<&str>,
    out_of_range: Option<&str>,
) -> PyResult<ColumnRules> {
    let schema = match schema {
        None => None,
        Some(text) if text.trim_start().starts_with('{') => {
            Some(Schema::from_json(text, "schema").map_err(EngineError)?)
        }
        Some(path) => Some(detach(py, || Schema::load(Path::new(path)))?),
    };
    Ok(ColumnRules {
        label: label.into(),
        drop: names(py, drop, "drop")?,
        keep: names(py, keep, "keep")?,
        schema,
        out_of_range: out_of_range
            .map(str::parse::<RangePolicy>)
            .transpose()
            .map_err(EngineError)?,
        ..ColumnRules::default()
    })
}

/// The training table: a CSV file's path, a DataFrame (pandas, polars), an
/// Arrow table or a dict of columns; `function` names the caller in the
/// error for anything else.
pub(crate) fn read_table(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    function: &str,
) -> PyResult<Table> {
    match (data.extract::<PathBuf>(), Shape::of(data)?) {
        (Ok(path), _) => detach(py, || Table::read_csv(&path)),
        (Err(_), shape @ (Shape::DataFrame | Shape::Arrow | Shape::Columns)) => {
            arrays::table(py, data, shape, None)
        }
        _ => Err(PyTypeError::new_err(format!(
            "{function}() takes a CSV path, a DataFrame (pandas, polars), an Arrow table or a dict of columns, not {}",
            data.get_type().name()?
        ))),
    }
}

/// Trains a model.
///
/// `data` is a CSV file path, a pandas or polars DataFrame, a pyarrow Table
/// or RecordBatch (anything with `__arrow_c_stream__`) or a dict of columns, with
/// the 0/1 label in column `label` (true/false and yes/no are read too).
/// Columns named `id` or `*_id` are left out unless listed in `keep`, as are
/// those in `drop`; the kind of every other column is inferred (a flag when
/// all values are 0/1, numeric when all are numbers, categorical otherwise).
/// Columns left out are logged on the `fraud_engine` logger.
///
/// `schema` is a schema file's path, or its JSON text, declaring the
/// features' kinds, valid ranges, allowed categories and which are required
/// (docs/VALIDATION.md); `out_of_range` (`"warn"`, `"reject"` or `"accept"`)
/// says what scoring does with a number outside the training range.
///
/// Keyword parameters: n_trees, max_depth, min_samples_leaf, max_features,
/// class_weight, bootstrap, max_bins, seed, threshold_strategy, risk_bands
/// (see docs/python.md); `threads` sets the worker threads (default: one per
/// core). `sample_weight` gives each row of `data` a weight (as
/// scikit-learn's), used in the split criterion, the leaf values and the
/// out-of-bag metrics; `class_weight` is None, "balanced" or a dict
/// `{0: weight, 1: weight}`. The GIL is released while the forest trains; the same data,
/// parameters and seed give the same model on any number of threads.
#[pyfunction]
#[pyo3(signature = (data, label="is_fraud", drop=None, keep=None, threads=None, schema=None, out_of_range=None, sample_weight=None, **params))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments.
pub fn train(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    label: &str,
    drop: Option<&Bound<'_, PyAny>>,
    keep: Option<&Bound<'_, PyAny>>,
    threads: Option<usize>,
    schema: Option<&str>,
    out_of_range: Option<&str>,
    sample_weight: Option<&Bound<'_, PyAny>>,
    params: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyModel> {
    let weights = sample_weight
        .filter(|w| !w.is_none())
        .map(|w| sample_weights(py, w))
        .transpose()?;
    let mut trainer = Trainer::new(params_from_kwargs(py, params)?).map_err(EngineError)?;
    if let Some(threads) = threads {
        trainer = trainer.threads(threads).map_err(EngineError)?;
    }
    let rules = column_rules(py, label, drop, keep, schema, out_of_range)?;
    let table = read_table(py, data, "train")?;
    let mut loaded = detach(py, || Dataset::from_table(&table, &rules))?;
    if let Some(weights) = weights {
        loaded.dataset = loaded.dataset.with_weights(weights).map_err(EngineError)?;
    }
    // Freed before training, which needs the memory more.
    std::mem::drop(table);
    if !loaded.notices.is_empty() {
        let logger = py
            .import(intern!(py, "logging"))?
            .call_method1(intern!(py, "getLogger"), ("fraud_engine",))?;
        for notice in &loaded.notices {
            logger.call_method1(intern!(py, "info"), (notice_text(notice),))?;
        }
    }
    let model = detach(py, || trainer.train(&loaded.dataset))?;
    PyModel::new(py, model)
}

/// Synthetic labelled card transactions with realistic fraud patterns (about
/// 1.5% fraud); the same `rows` and `seed` give the same rows, identical to
/// `fraud-server generate --rows ROWS --seed SEED`. Columns: transaction_id,
/// the eight default features and is_fraud.
///
/// Returns a pandas DataFrame, or a dict of columns (numpy arrays and lists
/// of str) when pandas is not installed.
#[pyfunction]
#[pyo3(signature = (rows, seed=42))]
pub fn generate(py: Python<'_>, rows: usize, seed: u64) -> PyResult<Py<PyAny>> {
    let table = py.detach(|| synth::table(rows, seed));
    let columns = PyDict::new(py);
    for (name, column) in table.names().iter().zip(table.columns()) {
        let values = match column {
            TableColumn::Numbers(v) if synth::INTEGER_COLUMNS.contains(&name.as_str()) => {
                PyArray1::from_iter(py, v.iter().map(|&x| x as i64)).into_any()
            }
            TableColumn::Numbers(v) => PyArray1::from_slice(py, v).into_any(),
            TableColumn::Dictionary { codes, levels } => {
                // One str per category, shared by its rows.
                let levels: Vec<_> = levels.iter().map(|l| PyString::new(py, l)).collect();
                let none = py.None().into_bound(py);
                let items = codes.iter().map(|&c| match levels.get(c as usize) {
                    Some(level) if c != MISSING_CODE => level.clone().into_any(),
                    _ => none.clone(),
                });
                PyList::new(py, items)?.into_any()
            }
            other => {
                let items = (0..other.len()).map(|r| match other.value(r) {
                    Value::Number(x) => PyFloat::new(py, x).into_any(),
                    Value::Text(t) => PyString::new(py, t).into_any(),
                    _ => py.None().into_bound(py),
                });
                PyList::new(py, items)?.into_any()
            }
        };
        columns.set_item(name, values)?;
    }
    match py.import(intern!(py, "pandas")) {
        Ok(pandas) => Ok(pandas.getattr("DataFrame")?.call1((columns,))?.unbind()),
        Err(e) if e.is_instance_of::<PyImportError>(py) => Ok(columns.into_any().unbind()),
        Err(e) => Err(e),
    }
}

//! `fraud_engine.train` and `fraud_engine.generate`.

use std::path::PathBuf;

use fraud_engine::data::dataset_from_rows;
use fraud_engine::schema::is_id_column;
use fraud_engine::{
    metrics::ThresholdStrategy, read_csv, synth, ClassWeight, CsvOptions, Dataset, Feature,
    RiskBands, Schema, TrainParams, Value,
};
use numpy::PyArray1;
use pyo3::exceptions::{PyImportError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::arrays::{read_table, table_kind, InferredKind, Table, TableKind};
use crate::errors::{invalid_param, schema_error, EngineError};
use crate::model::PyModel;

/// Training parameters accepted as keyword arguments, with what they take.
const PARAMS: [(&str, &str); 10] = [
    ("n_trees", "int, 1..=10000"),
    ("max_depth", "int, 1..=64"),
    ("min_samples_leaf", "int >= 1"),
    (
        "max_features",
        "int >= 1, or None for sqrt of the feature count",
    ),
    ("class_weight", "'none' or 'balanced'"),
    ("bootstrap", "bool"),
    ("max_bins", "int, 2..=256"),
    ("seed", "int >= 0"),
    (
        "threshold_strategy",
        "'max-f1', 'target-recall=R', 'target-precision=P', 'max-fpr=F' or 'min-cost=REVIEW[,MISSED]'",
    ),
    ("risk_bands", "(medium, high) probabilities, or None"),
];

fn params_from_kwargs(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<TrainParams> {
    let mut params = TrainParams::default();
    let Some(kwargs) = kwargs else {
        return Ok(params);
    };
    for (key, value) in kwargs.iter() {
        let name: String = key.extract()?;
        let Some(&(_, takes)) = PARAMS.iter().find(|(n, _)| *n == name) else {
            let known: Vec<&str> = PARAMS.iter().map(|(n, _)| *n).collect();
            return Err(invalid_param(
                py,
                &name,
                &format!("unknown parameter (known: {})", known.join(", ")),
            ));
        };
        let bad = || invalid_param(py, &name, &format!("expected {takes}, got {value}"));
        // bool is an int in Python; a bool given for a count is a mistake.
        let int = |v: &Bound<'_, PyAny>| -> PyResult<usize> {
            if v.is_instance_of::<pyo3::types::PyBool>() {
                return Err(bad());
            }
            v.extract::<usize>().map_err(|_| bad())
        };
        match name.as_str() {
            "n_trees" => params.n_trees = int(&value)?,
            "max_depth" => params.max_depth = int(&value)?,
            "min_samples_leaf" => {
                params.min_samples_leaf = u32::try_from(int(&value)?).map_err(|_| bad())?
            }
            "max_features" => {
                params.max_features = if value.is_none() {
                    None
                } else {
                    Some(int(&value)?)
                }
            }
            "class_weight" => {
                params.class_weight = if value.is_none() {
                    ClassWeight::None
                } else {
                    let text: String = value.extract().map_err(|_| bad())?;
                    text.parse().map_err(EngineError)?
                }
            }
            "bootstrap" => params.bootstrap = value.extract::<bool>().map_err(|_| bad())?,
            "max_bins" => params.max_bins = int(&value)?,
            "seed" => params.seed = int(&value)? as u64,
            "threshold_strategy" => {
                let text: String = value.extract().map_err(|_| bad())?;
                params.threshold_strategy =
                    text.parse::<ThresholdStrategy>().map_err(EngineError)?;
            }
            "risk_bands" => {
                params.risk_bands = if value.is_none() {
                    None
                } else {
                    let (medium, high): (f64, f64) = value.extract().map_err(|_| bad())?;
                    let bands = RiskBands { medium, high };
                    bands.validate().map_err(EngineError)?;
                    Some(bands)
                }
            }
            _ => return Err(bad()),
        }
    }
    Ok(params)
}

fn names_list(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<String>> {
    let Some(obj) = obj else {
        return Ok(Vec::new());
    };
    if obj.is_none() {
        return Ok(Vec::new());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(vec![s.to_cow()?.into_owned()]);
    }
    obj.extract::<Vec<String>>()
        .map_err(|_| invalid_param(py, what, "expected a column name or a list of column names"))
}

/// Builds a dataset from a table the way `read_csv` builds one from a file:
/// the label column, columns in `drop`, and id-named columns (unless in
/// `keep`) are left out; each remaining column's kind is inferred.
fn dataset_from_table(
    py: Python<'_>,
    table: &Table,
    label: &str,
    drop: &[String],
    keep: &[String],
    notices: &mut Vec<String>,
) -> PyResult<Dataset> {
    for (what, names) in [("drop", drop), ("keep", keep)] {
        if let Some(name) = names.iter().find(|n| !table.names.contains(n)) {
            return Err(invalid_param(
                py,
                what,
                &format!("`{name}` is not a column of the {}", table.source),
            ));
        }
    }
    let Some(label_column) = table.column(label) else {
        return Err(schema_error(
            py,
            table.source,
            format!(
                "no label column `{label}` (columns: {}); name it with label=",
                table.names.join(", ")
            ),
        ));
    };
    let mut features = Vec::new();
    let mut columns = Vec::new();
    for (name, column) in table.names.iter().zip(&table.columns) {
        if name == label || drop.contains(name) {
            continue;
        }
        if is_id_column(name) && !keep.contains(name) {
            notices.push(format!(
                "left out id column `{name}`: an id learned as a feature leaks (keep=['{name}'] keeps it)"
            ));
            continue;
        }
        let feature = match column.inferred_kind() {
            Some(InferredKind::Flag) => Feature::flag(name),
            Some(InferredKind::Numeric) => Feature::numeric(name),
            Some(InferredKind::Categorical) => Feature::categorical(name),
            None => {
                return Err(schema_error(
                    py,
                    table.source,
                    format!("column `{name}` has no values; leave it out with drop=['{name}']"),
                ))
            }
        };
        features.push(feature);
        columns.push(column);
    }
    let schema = Schema::new(features, label).map_err(EngineError)?;
    let n_rows = table.n_rows;
    let source = table.source;
    let dataset = py.detach(|| {
        let rows = (0..n_rows).map(|r| {
            columns
                .iter()
                .map(|c| c.value(r))
                .collect::<Vec<Value<'_>>>()
        });
        let labels = (0..n_rows).map(|r| label_column.value(r)).collect();
        dataset_from_rows(schema, rows, Some(labels), source)
    });
    Ok(dataset.map_err(EngineError)?)
}

/// Trains a model.
///
/// `data` is a CSV file path, a pandas DataFrame or a dict of columns, with
/// the 0/1 label in column `label` (true/false and yes/no are read too).
/// Columns named `id` or `*_id` are left out unless listed in `keep`, as are
/// those in `drop`; the kind of every other column is inferred (a flag when
/// all values are 0/1, numeric when all are numbers, categorical otherwise).
///
/// Keyword parameters: n_trees, max_depth, min_samples_leaf, max_features,
/// class_weight, bootstrap, max_bins, seed, threshold_strategy, risk_bands
/// (see docs/python.md); `threads` sets the worker threads (default: one per
/// core). The GIL is released while the forest trains; the same data,
/// parameters and seed give the same model on any number of threads.
#[pyfunction]
#[pyo3(signature = (data, label="is_fraud", drop=None, keep=None, threads=None, **params))]
pub fn train(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    label: &str,
    drop: Option<&Bound<'_, PyAny>>,
    keep: Option<&Bound<'_, PyAny>>,
    threads: Option<usize>,
    params: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyModel> {
    let params = params_from_kwargs(py, params)?;
    let drop = names_list(py, drop, "drop")?;
    let keep = names_list(py, keep, "keep")?;
    let mut notices = Vec::new();
    let dataset = if let Ok(path) = data.extract::<PathBuf>() {
        let options = CsvOptions {
            label: label.into(),
            drop,
            keep,
            ..CsvOptions::default()
        };
        let loaded = py
            .detach(|| read_csv(&path, &options))
            .map_err(EngineError)?;
        notices = loaded.notices;
        loaded.dataset
    } else {
        match table_kind(data)? {
            Some(kind @ (TableKind::DataFrame | TableKind::Columns)) => {
                let table = read_table(py, data, kind, None)?;
                dataset_from_table(py, &table, label, &drop, &keep, &mut notices)?
            }
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "train() takes a CSV path, a pandas DataFrame or a dict of columns, not {}",
                    data.get_type().name()?
                )))
            }
        }
    };
    if !notices.is_empty() {
        let logger = py
            .import(intern!(py, "logging"))?
            .call_method1("getLogger", ("fraud_engine",))?;
        for notice in &notices {
            logger.call_method1("info", (notice,))?;
        }
    }
    let model = py
        .detach(|| fraud_engine::train(&dataset, &params, threads, None))
        .map_err(EngineError)?;
    Ok(PyModel::new(py, model))
}

/// Synthetic labelled card transactions with realistic fraud patterns (about
/// 1.5% fraud); the same `rows` and `seed` give the same rows, identical to
/// `fraud-server generate --rows ROWS --seed SEED`. Columns: transaction_id,
/// the eight default features and is_fraud.
///
/// Returns a pandas DataFrame, or a dict of columns (numpy arrays and a list
/// of str) when pandas is not installed.
#[pyfunction]
#[pyo3(signature = (rows, seed=42))]
pub fn generate(py: Python<'_>, rows: usize, seed: u64) -> PyResult<Py<PyAny>> {
    let transactions: Vec<synth::Transaction> =
        py.detach(|| synth::transactions(rows, seed).collect());
    let columns = PyDict::new(py);
    let ids: Vec<String> = (1..=rows).map(|i| format!("TX{i:08}")).collect();
    columns.set_item("transaction_id", PyList::new(py, ids)?)?;
    let floats = |f: fn(&synth::Transaction) -> f64| {
        PyArray1::from_vec(py, transactions.iter().map(f).collect())
    };
    let ints = |f: fn(&synth::Transaction) -> i64| {
        PyArray1::from_vec(py, transactions.iter().map(f).collect())
    };
    columns.set_item("amount", floats(|t| t.amount))?;
    columns.set_item("transaction_hour", ints(|t| i64::from(t.transaction_hour)))?;
    let categories: Vec<Bound<'_, PyString>> = transactions
        .iter()
        .map(|t| PyString::intern(py, t.merchant_category))
        .collect();
    columns.set_item("merchant_category", PyList::new(py, categories)?)?;
    columns.set_item(
        "foreign_transaction",
        ints(|t| i64::from(t.foreign_transaction)),
    )?;
    columns.set_item(
        "location_mismatch",
        ints(|t| i64::from(t.location_mismatch)),
    )?;
    columns.set_item("device_trust_score", floats(|t| t.device_trust_score))?;
    columns.set_item(
        "velocity_last_24h",
        ints(|t| i64::from(t.velocity_last_24h)),
    )?;
    columns.set_item("cardholder_age", ints(|t| i64::from(t.cardholder_age)))?;
    columns.set_item("is_fraud", ints(|t| i64::from(t.is_fraud)))?;
    match py.import(intern!(py, "pandas")) {
        Ok(pandas) => Ok(pandas.getattr("DataFrame")?.call1((columns,))?.unbind()),
        Err(e) if e.is_instance_of::<PyImportError>(py) => Ok(columns.into_any().unbind()),
        Err(e) => Err(e),
    }
}

//! The building blocks `fraud_engine.dask` and `fraud_engine.spark` train
//! with: the engine's forest merge (`fraud_engine::merge`) over bytes that
//! travel between processes. Each function converts and calls the engine.

use fraud_engine::merge::{self, DataSummary, Encoding, Part};
use fraud_engine::{Dataset, Trainer};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::{detach, EngineError};
use crate::model::PyModel;
use crate::train::{column_rules, params_from_kwargs, read_table};

/// The byte strings in a list (summaries or parts, as the workers sent them).
fn byte_strings(items: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<u8>>> {
    items
        .try_iter()?
        .map(|item| Ok(item?.cast::<PyBytes>()?.as_bytes().to_vec()))
        .collect()
}

/// The first pass over one partition (a DataFrame or a dict of columns
/// with the label column): its columns' kinds, counts, ranges and
/// categories, as bytes for `fit_encoding`. The keyword arguments are
/// `train`'s column rules.
#[pyfunction]
#[pyo3(signature = (data, label="is_fraud", drop=None, keep=None, schema=None, out_of_range=None))]
pub fn summarize<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    label: &str,
    drop: Option<&Bound<'py, PyAny>>,
    keep: Option<&Bound<'py, PyAny>>,
    schema: Option<&str>,
    out_of_range: Option<&str>,
) -> PyResult<Bound<'py, PyBytes>> {
    let rules = column_rules(py, label, drop, keep, schema, out_of_range)?;
    let table = read_table(py, data, "summarize")?;
    let bytes = detach(py, || {
        DataSummary::of(&Dataset::from_table(&table, &rules)?.dataset)?.to_bytes()
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// The one encoding every part trains with, fitted on the partitions'
/// summaries (a list of `summarize`'s bytes, in partition order), as bytes.
#[pyfunction]
pub fn fit_encoding<'py>(
    py: Python<'py>,
    summaries: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let summaries = byte_strings(summaries)?;
    let bytes = detach(py, || {
        let summaries = summaries
            .iter()
            .map(|s| DataSummary::from_bytes(s))
            .collect::<fraud_engine::Result<Vec<_>>>()?;
        Encoding::fit(&DataSummary::combine(&summaries)?)?.to_bytes()
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// How `n_trees` trees are split over `n_parts` partitions: one
/// `(first, end)` range of tree indices per partition, empty past
/// `n_trees` partitions.
#[pyfunction]
pub fn split_trees(n_trees: usize, n_parts: usize) -> Vec<(usize, usize)> {
    merge::split_trees(n_trees, n_parts)
        .into_iter()
        .map(|r| (r.start, r.end))
        .collect()
}

/// Trains the trees `first` to `end` (indices into the whole forest of
/// `n_trees`) on one partition, read with the encoding's schema; returns
/// the part (its model and out-of-bag predictions) as bytes for
/// `merge_parts`. Keyword parameters are `train`'s.
#[pyfunction]
#[pyo3(signature = (data, encoding, first, end, threads=None, **params))]
pub fn train_part<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    encoding: &Bound<'py, PyBytes>,
    first: usize,
    end: usize,
    threads: Option<usize>,
    params: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut trainer = Trainer::new(params_from_kwargs(py, params)?).map_err(EngineError)?;
    if let Some(threads) = threads {
        trainer = trainer.threads(threads).map_err(EngineError)?;
    }
    let encoding = Encoding::from_bytes(encoding.as_bytes()).map_err(EngineError)?;
    let table = read_table(py, data, "train_part")?;
    let bytes = detach(py, || {
        let data = encoding.dataset(&table)?;
        trainer.train_part(&data, &encoding, first..end)?.to_bytes()
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// Merges parts (a list of `train_part`'s bytes, in any order) into one
/// model: trees in index order, out-of-bag metrics and the threshold from
/// the pooled out-of-bag predictions, the parts in `metadata["parts"]`.
#[pyfunction]
pub fn merge_parts(py: Python<'_>, parts: &Bound<'_, PyAny>) -> PyResult<PyModel> {
    let parts = byte_strings(parts)?;
    let model = detach(py, || {
        let parts = parts
            .iter()
            .map(|p| Part::from_bytes(p))
            .collect::<fraud_engine::Result<Vec<_>>>()?;
        merge::merge(&parts)
    })?;
    PyModel::new(py, model)
}

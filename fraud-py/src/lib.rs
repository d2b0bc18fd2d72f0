//! `fraud_engine._native`: the pyo3 extension module behind the `fraud_engine`
//! Python package. A thin adapter: Python values in, engine calls, engine
//! errors out as the exception hierarchy in [`errors`]. Only `fraud-engine`
//! knows about forests.

mod arrays;
mod errors;
mod json;
mod model;
mod train;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{exceptions, EngineError, FraudError};
use crate::model::PyModel;

/// Loads a model file written by `Model.save` or `fraud-server train`. The
/// file is checked, never trusted: a damaged file raises CorruptModelError,
/// a missing one FraudFileNotFoundError (a FileNotFoundError).
#[pyfunction]
fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<PyModel> {
    let model = py
        .detach(|| fraud_engine::Model::load(&path))
        .map_err(EngineError)?;
    Ok(PyModel::new(py, model))
}

/// Reads a model from the bytes `Model.to_bytes` returns, checking them as
/// `load` checks a file.
#[pyfunction]
fn from_bytes(py: Python<'_>, data: &Bound<'_, PyBytes>) -> PyResult<PyModel> {
    let model = fraud_engine::Model::from_bytes(data.as_bytes()).map_err(EngineError)?;
    Ok(PyModel::new(py, model))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ENGINE_VERSION", fraud_engine::VERSION)?;
    m.add("FORMAT_VERSION", fraud_engine::FORMAT_VERSION)?;
    // The estimator's signature must spell its defaults out (scikit-learn
    // introspects it); a test holds it to these.
    let defaults = fraud_engine::TrainParams::default();
    let params = pyo3::types::PyDict::new(py);
    params.set_item("n_trees", defaults.n_trees)?;
    params.set_item("max_depth", defaults.max_depth)?;
    params.set_item("min_samples_leaf", defaults.min_samples_leaf)?;
    params.set_item("max_bins", defaults.max_bins)?;
    params.set_item("seed", defaults.seed)?;
    m.add("DEFAULT_TRAIN_PARAMS", params)?;
    m.add_class::<PyModel>()?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(from_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    m.add_function(wrap_pyfunction!(train::generate, m)?)?;
    m.add("FraudError", py.get_type::<FraudError>())?;
    let types = exceptions(py)?;
    m.add("InvalidInputError", types.invalid_input.bind(py))?;
    m.add("SchemaError", types.schema.bind(py))?;
    m.add("InvalidParamsError", types.invalid_params.bind(py))?;
    m.add("CorruptModelError", types.corrupt_model.bind(py))?;
    m.add(
        "UnsupportedVersionError",
        types.unsupported_version.bind(py),
    )?;
    m.add("FraudIOError", types.io.bind(py))?;
    m.add("FraudFileNotFoundError", types.file_not_found.bind(py))?;
    Ok(())
}

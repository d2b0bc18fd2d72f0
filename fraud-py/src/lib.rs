//! `fraud_engine._native`: the pyo3 extension module behind the `fraud_engine`
//! Python package. A thin adapter: Python inputs become the engine's inputs
//! (module `arrays`), the engine's serde outputs become Python objects, and its
//! errors become the exception hierarchy of module `errors`. Every decision about
//! the data is the engine's.

mod arrays;
mod arrow;
mod distributed;
mod errors;
mod model;
mod train;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{detach, exceptions, EngineError, FraudError};
use crate::model::PyModel;

/// Loads a model file written by `Model.save` or `fraud-server train`. The
/// file is checked, never trusted: a damaged file raises CorruptModelError,
/// a missing one FraudFileNotFoundError (a FileNotFoundError).
#[pyfunction]
fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<PyModel> {
    let model = detach(py, || fraud_engine::Model::load(&path))?;
    PyModel::new(py, model)
}

/// Reads a model from the bytes `Model.to_bytes` returns, checking them as
/// `load` checks a file.
#[pyfunction]
fn from_bytes(py: Python<'_>, data: &Bound<'_, PyBytes>) -> PyResult<PyModel> {
    let model = fraud_engine::Model::from_bytes(data.as_bytes()).map_err(EngineError)?;
    PyModel::new(py, model)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ENGINE_VERSION", fraud_engine::VERSION)?;
    m.add("FORMAT_VERSION", fraud_engine::FORMAT_VERSION)?;
    // The estimator's signature must spell its defaults out (scikit-learn
    // introspects it); a test holds it to these.
    let defaults = pythonize::pythonize(py, &fraud_engine::TrainParams::default())?;
    m.add("DEFAULT_TRAIN_PARAMS", defaults)?;
    m.add_class::<PyModel>()?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(from_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    m.add_function(wrap_pyfunction!(train::generate, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::summarize, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::fit_encoding, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::split_trees, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::train_part, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::merge_parts, m)?)?;
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

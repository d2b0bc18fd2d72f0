//! The Python exception hierarchy and the one mapping from engine errors to it.
//!
//! ```text
//! FraudError(Exception)
//! ├── InvalidInputError(FraudError, ValueError)    bad values, fields, rows
//! │   └── SchemaError                               missing or mismatched columns
//! ├── InvalidParamsError(FraudError, ValueError)   a parameter out of its domain
//! ├── CorruptModelError(FraudError, ValueError)    a damaged or hostile model file
//! │   └── UnsupportedVersionError                   a model format this build cannot read
//! └── FraudIOError(FraudError, OSError)            reading or writing a file failed
//!     └── FraudFileNotFoundError(FraudIOError, FileNotFoundError)
//! ```
//!
//! `FraudError` comes from `create_exception!`. The others have two bases so
//! that `except ValueError` / `except FileNotFoundError` keep working in code
//! that knows nothing of this package; `create_exception!` takes a single base,
//! so they are made once, on first use, by calling `type(...)`.

use pyo3::exceptions::{PyException, PyFileNotFoundError, PyOSError, PyValueError};
use pyo3::marker::Ungil;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};

use fraud_engine::{Error, Hint, Notice};

pyo3::create_exception!(
    fraud_engine,
    FraudError,
    PyException,
    "Base class of every error raised by fraud_engine."
);

/// The exception classes with two bases, made once per interpreter.
pub struct Exceptions {
    /// A value, field or row was unusable (also a `ValueError`).
    pub invalid_input: Py<PyType>,
    /// The data did not fit the expected columns.
    pub schema: Py<PyType>,
    /// A training or scoring parameter was out of its domain (also a `ValueError`).
    pub invalid_params: Py<PyType>,
    /// A model file or byte string was damaged (also a `ValueError`).
    pub corrupt_model: Py<PyType>,
    /// A model file of a format version this build cannot read.
    pub unsupported_version: Py<PyType>,
    /// A file could not be read or written (also an `OSError`).
    pub io: Py<PyType>,
    /// A file did not exist (also a `FileNotFoundError`).
    pub file_not_found: Py<PyType>,
}

static EXCEPTIONS: PyOnceLock<Exceptions> = PyOnceLock::new();

fn new_type(
    py: Python<'_>,
    name: &str,
    doc: &str,
    bases: &[Bound<'_, PyType>],
) -> PyResult<Py<PyType>> {
    let namespace = PyDict::new(py);
    namespace.set_item("__doc__", doc)?;
    namespace.set_item("__module__", "fraud_engine")?;
    let bases = PyTuple::new(py, bases)?;
    let made = py
        .get_type::<PyType>()
        .call1((name, bases, namespace))?
        .cast_into::<PyType>()?;
    Ok(made.unbind())
}

/// The exception classes, made on first use.
pub fn exceptions(py: Python<'_>) -> PyResult<&'static Exceptions> {
    EXCEPTIONS.get_or_try_init(py, || {
        let root = py.get_type::<FraudError>();
        let value_error = py.get_type::<PyValueError>();
        let invalid_input = new_type(
            py,
            "InvalidInputError",
            "A value, field or row given for scoring or training is unusable.\n\n\
             `problems` lists each one as a dict with `field` and `reason` (and `row`,\n\
             counted from 1, for tables); `total` counts them all when only the first\n\
             100 are listed.",
            &[root.clone(), value_error.clone()],
        )?;
        let schema = new_type(
            py,
            "SchemaError",
            "The data does not have the columns the model or the trainer needs.",
            &[invalid_input.bind(py).clone()],
        )?;
        let invalid_params = new_type(
            py,
            "InvalidParamsError",
            "A training or scoring parameter is out of its domain; `param` names it.",
            &[root.clone(), value_error.clone()],
        )?;
        let corrupt_model = new_type(
            py,
            "CorruptModelError",
            "A model file or byte string is damaged or hostile; `offset` is the byte\n\
             where the problem was found.",
            &[root.clone(), value_error],
        )?;
        let unsupported_version = new_type(
            py,
            "UnsupportedVersionError",
            "The model file was written in a format version this build cannot read\n\
             (`found`, `supported`).",
            &[corrupt_model.bind(py).clone()],
        )?;
        let io = new_type(
            py,
            "FraudIOError",
            "Reading or writing a file failed.",
            &[root, py.get_type::<PyOSError>()],
        )?;
        let file_not_found = new_type(
            py,
            "FraudFileNotFoundError",
            "A model or data file does not exist.",
            &[io.bind(py).clone(), py.get_type::<PyFileNotFoundError>()],
        )?;
        Ok(Exceptions {
            invalid_input,
            schema,
            invalid_params,
            corrupt_model,
            unsupported_version,
            io,
            file_not_found,
        })
    })
}

/// An engine error on its way to Python: `.map_err(EngineError)?` raises it
/// from a function returning `PyResult`.
#[derive(Debug)]
pub struct EngineError(pub Error);

impl From<EngineError> for PyErr {
    fn from(error: EngineError) -> PyErr {
        Python::attach(|py| to_pyerr(py, error.0))
    }
}

/// Runs engine work with the GIL released, so other Python threads run
/// meanwhile, and raises its error as the matching exception.
pub fn detach<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    F: Ungil + FnOnce() -> fraud_engine::Result<T>,
    T: Send,
{
    py.detach(work).map_err(|e| to_pyerr(py, e))
}

/// A remedy in Python's terms: the keyword arguments of `train`.
fn hint_text(hint: &Hint) -> String {
    match hint {
        Hint::LeaveOut { column } => format!("leave it out with drop=['{column}']"),
        Hint::KeepColumn { column } => format!("keep=['{column}'] keeps it"),
        Hint::NameLabel => "name it with label=".into(),
        other => other.to_string(),
    }
}

/// What to log about a column the engine left out, with its remedy.
pub fn notice_text(notice: &Notice) -> String {
    match &notice.hint {
        Some(hint) => format!("{}; {}", notice.message, hint_text(hint)),
        None => notice.message.clone(),
    }
}

/// The `problems` list of an `InvalidInputError`: `(row, field, reason)`
/// as dicts.
fn problems<'py, 'e>(
    py: Python<'py>,
    items: impl Iterator<Item = (Option<u64>, &'e str, &'e str)>,
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for (row, field, reason) in items {
        let dict = PyDict::new(py);
        if let Some(row) = row {
            dict.set_item("row", row)?;
        }
        dict.set_item("field", field)?;
        dict.set_item("reason", reason)?;
        list.append(dict)?;
    }
    Ok(list)
}

/// Maps an engine error to its Python exception, with the details as attributes.
pub fn to_pyerr(py: Python<'_>, error: Error) -> PyErr {
    match build(py, error) {
        Ok(err) | Err(err) => err,
    }
}

fn build(py: Python<'_>, error: Error) -> PyResult<PyErr> {
    let types = exceptions(py)?;
    let message = match error.hint() {
        Some(hint) => format!("{error}; {}", hint_text(hint)),
        None => error.to_string(),
    };
    let raise = |ty: &Py<PyType>, attrs: &[(&str, Bound<'_, PyAny>)]| -> PyResult<PyErr> {
        let instance = ty.bind(py).call1((message.as_str(),))?;
        for (name, value) in attrs {
            instance.setattr(*name, value)?;
        }
        Ok(PyErr::from_value(instance))
    };
    let invalid = |problems: Bound<'_, PyList>, total: usize| -> PyResult<PyErr> {
        let total = total.into_pyobject(py)?.into_any();
        raise(
            &types.invalid_input,
            &[("problems", problems.into_any()), ("total", total)],
        )
    };
    // Every variant is listed; the last arm only exists because the engine's
    // enum is #[non_exhaustive] and maps a future variant to the root class.
    match &error {
        Error::InvalidInput { field, reason } => {
            invalid(problems(py, [(None, &**field, &**reason)].into_iter())?, 1)
        }
        Error::InvalidFields { problems: found } => {
            let items = found.iter().map(|p| (None, &*p.field, &*p.reason));
            invalid(problems(py, items)?, found.len())
        }
        Error::InvalidData {
            rejections, total, ..
        } => {
            let items = rejections
                .iter()
                .map(|r| (Some(r.row), &*r.column, &*r.reason));
            invalid(problems(py, items)?, *total)
        }
        Error::Schema { .. } => {
            let empty = PyList::empty(py).into_any();
            let total = 0usize.into_pyobject(py)?.into_any();
            raise(&types.schema, &[("problems", empty), ("total", total)])
        }
        Error::InvalidParams { name, .. } => {
            let param = name.into_pyobject(py)?.into_any();
            raise(&types.invalid_params, &[("param", param)])
        }
        Error::CorruptModel { offset, .. } => {
            let offset = offset.into_pyobject(py)?.into_any();
            raise(&types.corrupt_model, &[("offset", offset)])
        }
        Error::UnsupportedVersion { found, supported } => {
            let found = found.into_pyobject(py)?.into_any();
            let supported = supported.into_pyobject(py)?.into_any();
            let offset = py.None().into_bound(py);
            raise(
                &types.unsupported_version,
                &[
                    ("offset", offset),
                    ("found", found),
                    ("supported", supported),
                ],
            )
        }
        Error::Io { path, source } => {
            let ty = if source.kind() == std::io::ErrorKind::NotFound {
                &types.file_not_found
            } else {
                &types.io
            };
            // OSError's (errno, strerror, filename) form fills the attributes
            // callers of OSError expect.
            let instance = match source.raw_os_error() {
                Some(errno) => ty
                    .bind(py)
                    .call1((errno, source.to_string(), path.as_os_str()))?,
                None => ty.bind(py).call1((message.as_str(),))?,
            };
            Ok(PyErr::from_value(instance))
        }
        _ => Ok(PyErr::new::<FraudError, _>(message)),
    }
}

/// An `InvalidInputError` raised by the bindings themselves (a container of
/// the wrong shape, say), naming `field`.
pub fn invalid_input(py: Python<'_>, field: &str, reason: impl Into<String>) -> PyErr {
    to_pyerr(
        py,
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        },
    )
}

/// An `InvalidParamsError` for a keyword argument whose name is only known
/// at run time (the engine's variant takes a static name).
pub fn invalid_param(py: Python<'_>, param: &str, reason: &str) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let instance = exceptions(py)?
            .invalid_params
            .bind(py)
            .call1((format!("invalid parameter `{param}`: {reason}"),))?;
        instance.setattr("param", param)?;
        Ok(PyErr::from_value(instance))
    };
    match build() {
        Ok(err) | Err(err) => err,
    }
}

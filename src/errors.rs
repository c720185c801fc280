//! Core errors become instances of the classes in `nova_ft/exceptions.py`, so the whole
//! hierarchy is defined once, in Python, and rooted at `NovaFtError`. Each `NovaError` variant
//! has its own class; AWS codes pick theirs from the one table in `workflow::aws_codes`; a
//! source error becomes the exception's `__cause__`.

use nova_ft_core::aws_codes::kind_of;
use nova_ft_data::error::{BoxError, NovaError};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// Build the Python exception for a core error.
pub fn to_pyerr(py: Python<'_>, err: NovaError) -> PyErr {
    match build(py, err) {
        Ok(err) => err,
        Err(err) => err,
    }
}

/// The Python exception for a source error: an `OSError` subclass for I/O errors, otherwise a
/// `RuntimeError` with the source's own chain in its text.
fn cause(source: BoxError) -> PyErr {
    match source.downcast::<std::io::Error>() {
        Ok(io) => PyErr::from(*io),
        Err(other) => {
            let mut text = other.to_string();
            let mut next = other.source();
            while let Some(e) = next {
                text.push_str(": ");
                text.push_str(&e.to_string());
                next = e.source();
            }
            PyRuntimeError::new_err(text)
        }
    }
}

fn build(py: Python<'_>, err: NovaError) -> PyResult<PyErr> {
    let module = py.import("nova_ft.exceptions")?;
    let class = |name: &str| module.getattr(name);
    let (instance, source): (Bound<'_, PyAny>, Option<PyErr>) = match err {
        NovaError::InvalidParameter(message) => {
            (class("InvalidParameterError")?.call1((message,))?, None)
        }
        NovaError::DatasetValidation {
            summary,
            issues,
            omitted,
        } => {
            let issues = pythonize::pythonize(py, &issues)?;
            let error = class("DatasetValidationError")?.call1((summary, issues, omitted))?;
            (error, None)
        }
        NovaError::Aws {
            operation,
            code,
            message,
            request_id,
            status,
        } => {
            let kind = kind_of(&code);
            let error = module.getattr("aws_error")?.call1((
                operation,
                code,
                message,
                request_id,
                status,
                kind.python_class(),
                kind.hint(),
            ))?;
            (error, None)
        }
        NovaError::Io { path, source } => {
            let message = format!("{}: {source}", path.display());
            let error = class("DataFileError")?.call1((message, path.display().to_string()))?;
            (error, Some(PyErr::from(source)))
        }
        NovaError::DataFile {
            path,
            message,
            source,
        } => {
            let text = match &source {
                Some(source) => format!("{path}: {message}: {source}"),
                None => format!("{path}: {message}"),
            };
            let error = class("DataFileError")?.call1((text, path))?;
            (error, source.map(cause))
        }
        NovaError::Emulator { message, source } => (
            class("EmulatorError")?.call1((message,))?,
            source.map(cause),
        ),
        NovaError::Cancelled(message) => {
            (class("OperationCancelledError")?.call1((message,))?, None)
        }
        NovaError::Internal { message, source } => {
            let text = match &source {
                Some(source) => format!("{message}: {source}"),
                None => message,
            };
            (class("InternalError")?.call1((text,))?, source.map(cause))
        }
    };
    let error = PyErr::from_value(instance);
    if let Some(source) = source {
        error.set_cause(py, Some(source));
    }
    Ok(error)
}

/// Run a core call without the GIL and convert its error.
pub fn detach<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> nova_ft_data::error::Result<T> + Send,
) -> PyResult<T> {
    py.detach(f).map_err(|e| to_pyerr(py, e))
}

/// The exception class name and hint for an AWS error code, from the one code table.
#[pyfunction]
pub fn aws_error_class(code: &str) -> (&'static str, &'static str) {
    let kind = kind_of(code);
    (kind.python_class(), kind.hint())
}

/// Every AWS error code the table knows: (code, class name, worth retrying).
#[pyfunction]
pub fn aws_error_codes() -> Vec<(&'static str, &'static str, bool)> {
    nova_ft_core::aws_codes::AWS_ERROR_CODES
        .iter()
        .map(|&(code, kind, retry)| (code, kind.python_class(), retry))
        .collect()
}

//! Core errors become instances of the classes in `nova_ft/exceptions.py`, so the whole
//! hierarchy is defined once, in Python, and rooted at `NovaFtError`.

use crate::workflow::error::NovaError;
use pyo3::prelude::*;

/// Build the Python exception for a core error.
pub fn to_pyerr(py: Python<'_>, err: NovaError) -> PyErr {
    match build(py, err) {
        Ok(err) => err,
        Err(err) => err,
    }
}

fn build(py: Python<'_>, err: NovaError) -> PyResult<PyErr> {
    let module = py.import("nova_ft.exceptions")?;
    let instance = match err {
        NovaError::InvalidParameter(message) => {
            module.getattr("InvalidParameterError")?.call1((message,))?
        }
        NovaError::DatasetValidation {
            summary,
            issues,
            omitted,
        } => {
            let issues = pythonize::pythonize(py, &issues)?;
            module
                .getattr("DatasetValidationError")?
                .call1((summary, issues, omitted))?
        }
        NovaError::Aws {
            operation,
            code,
            message,
            request_id,
            status,
        } => module
            .getattr("aws_error")?
            .call1((operation, code, message, request_id, status))?,
        NovaError::Io { path, source } => {
            let message = format!("{}: {source}", path.display());
            module
                .getattr("DataFileError")?
                .call1((message, path.display().to_string()))?
        }
    };
    Ok(PyErr::from_value(instance))
}

/// Run a core call without the GIL and convert its error.
pub fn detach<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> crate::workflow::error::Result<T> + Send,
) -> PyResult<T> {
    py.detach(f).map_err(|e| to_pyerr(py, e))
}

//! A workflow call not yet run: what every `SessionCore` method returns.
//!
//! The same object is driven blocking (`wait()`: the GIL is released and Ctrl-C interrupts
//! it) or awaited (`await pending`: a real future on the shared tokio runtime, no polling), so
//! each workflow step is written once and runs either way. Rust futures do nothing until
//! polled, so creating a `Pending` sends nothing.

use super::errors::to_pyerr;
use super::tokio_runtime::wait_for;
use nova_ft_data::error::NovaError;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

type CallFuture = Pin<Box<dyn Future<Output = Result<Py<PyAny>, NovaError>> + Send>>;

#[pyclass(name = "Pending", module = "nova_ft._nova_ft", frozen, generic)]
pub struct PyPending {
    operation: &'static str,
    future: Mutex<Option<CallFuture>>,
}

/// A `Pending` for `future`, whose output becomes a Python object.
pub fn pending<T, F>(operation: &'static str, future: F) -> PyPending
where
    F: Future<Output = Result<T, NovaError>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    let future = async move {
        let value = future.await?;
        Python::attach(|py| {
            value.into_py_any(py).map_err(|e| {
                NovaError::unexpected(format!("{operation}: could not convert the result: {e}"))
            })
        })
    };
    PyPending {
        operation,
        future: Mutex::new(Some(Box::pin(future))),
    }
}

impl PyPending {
    fn take(&self) -> PyResult<CallFuture> {
        self.future
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| {
                PyRuntimeError::new_err(format!(
                    "{} was already run: a Pending runs once",
                    self.operation
                ))
            })
    }
}

#[pymethods]
impl PyPending {
    /// The operation this call makes (`describe_job`, ...).
    #[getter]
    fn operation(&self) -> &'static str {
        self.operation
    }

    /// Run the call and block until it answers (GIL released; Ctrl-C interrupts it).
    fn wait(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let future = self.take()?;
        wait_for(py, future)?.map_err(|e| to_pyerr(py, e))
    }

    /// Run the call on the shared runtime as an awaitable (`await pending`).
    fn __await__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        super::tokio_runtime::py_runtime(py)?;
        let future = self.take()?;
        let awaitable = pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match future.await {
                Ok(value) => Ok(value),
                Err(e) => Err(Python::attach(|py| to_pyerr(py, e))),
            }
        })?;
        awaitable.call_method0("__await__")
    }

    fn __repr__(&self) -> String {
        let state = if self
            .future
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            "not run"
        } else {
            "run"
        };
        format!("<Pending {} ({state})>", self.operation)
    }
}

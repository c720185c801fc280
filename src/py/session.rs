//! Bindings for a session of AWS clients (wrapped by `nova_ft.Session`). Each call has a
//! blocking form (GIL released, Ctrl-C interrupts it) and an `_async` twin returning an
//! awaitable, both on the one shared tokio runtime.

use super::errors::to_pyerr;
use super::tokio_runtime::{runtime, wait_for};
use crate::workflow::aws::{AwsSession, SessionConfig};
use crate::workflow::calls::Call;
use crate::workflow::error::NovaError;
use pyo3::prelude::*;
use std::sync::Arc;

#[pyclass(name = "SessionCore", module = "nova_ft._nova_ft", frozen)]
pub struct PySession {
    inner: Arc<AwsSession>,
}

fn to_py<T: serde::Serialize>(py: Python<'_>, result: Result<T, NovaError>) -> PyResult<Py<PyAny>> {
    let value = result.map_err(|e| to_pyerr(py, e))?;
    Ok(pythonize::pythonize(py, &value)?.unbind())
}

fn parse_call(args: &Bound<'_, PyAny>) -> PyResult<Call> {
    pythonize::depythonize(args).map_err(|e| {
        to_pyerr(
            args.py(),
            NovaError::invalid(format!("bad arguments for a session call: {e}")),
        )
    })
}

/// Run an async call on the shared runtime as a Python awaitable.
fn awaitable<'py, T, F>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    T: serde::Serialize + Send + 'static,
    F: std::future::Future<Output = Result<T, NovaError>> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        let result = future.await;
        Python::attach(|py| to_py(py, result))
    })
}

impl PySession {
    pub fn inner(&self) -> Arc<AwsSession> {
        Arc::clone(&self.inner)
    }
}

#[pymethods]
impl PySession {
    /// Resolve configuration and build the clients (blocking).
    #[staticmethod]
    #[pyo3(signature = (region=None, profile=None, endpoint_url=None, access_key=None, secret_key=None))]
    fn connect(
        py: Python<'_>,
        region: Option<String>,
        profile: Option<String>,
        endpoint_url: Option<String>,
        access_key: Option<String>,
        secret_key: Option<String>,
    ) -> PyResult<PySession> {
        let credentials = access_key.zip(secret_key);
        let config = SessionConfig {
            region,
            profile,
            endpoint_url,
            credentials,
        };
        let _guard = runtime().enter();
        let session = wait_for(py, AwsSession::connect(config))?.map_err(|e| to_pyerr(py, e))?;
        Ok(PySession {
            inner: Arc::new(session),
        })
    }

    #[getter]
    fn region(&self) -> &str {
        &self.inner.region
    }

    #[getter]
    fn endpoint_url(&self) -> Option<&str> {
        self.inner.endpoint_url.as_deref()
    }

    /// Run one workflow call (`{"op": "ensure_bucket", "name": ...}`, see `workflow::calls`),
    /// blocking: the GIL is released and Ctrl-C interrupts the wait.
    fn call(&self, py: Python<'_>, args: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let call = parse_call(args)?;
        let s = Arc::clone(&self.inner);
        let result = wait_for(py, async move { s.execute(call).await })?;
        to_py(py, result)
    }

    /// The same call as an awaitable on the shared runtime.
    fn call_async<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let call = parse_call(args)?;
        let s = Arc::clone(&self.inner);
        awaitable(py, async move { s.execute(call).await })
    }
}

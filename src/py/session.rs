//! Bindings for a session of AWS clients (wrapped by `nova_ft.Session`). Each call has a
//! blocking form (GIL released, Ctrl-C interrupts it) and an `_async` twin returning an
//! awaitable, both on the one shared tokio runtime.

use super::errors::to_pyerr;
use super::runtime::{runtime, wait_for};
use crate::core::aws::{AwsSession, SessionConfig};
use crate::core::error::NovaError;
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

    fn caller_identity(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let s = Arc::clone(&self.inner);
        let result = wait_for(py, async move { s.caller_identity().await })?;
        to_py(py, result)
    }

    fn caller_identity_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = Arc::clone(&self.inner);
        awaitable(py, async move { s.caller_identity().await })
    }

    #[pyo3(signature = (customization=None))]
    fn foundation_models(
        &self,
        py: Python<'_>,
        customization: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let s = Arc::clone(&self.inner);
        let result = wait_for(py, async move {
            s.foundation_models(customization.as_deref()).await
        })?;
        to_py(py, result)
    }

    #[pyo3(signature = (customization=None))]
    fn foundation_models_async<'py>(
        &self,
        py: Python<'py>,
        customization: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = Arc::clone(&self.inner);
        awaitable(py, async move {
            s.foundation_models(customization.as_deref()).await
        })
    }

    fn foundation_model(&self, py: Python<'_>, model_id: String) -> PyResult<Py<PyAny>> {
        let s = Arc::clone(&self.inner);
        let result = wait_for(py, async move { s.foundation_model(&model_id).await })?;
        to_py(py, result)
    }
}

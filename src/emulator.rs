//! Bindings for the local AWS emulator (wrapped by `nova_ft.LocalEmulator`).

use super::errors::to_pyerr;
use super::tokio_runtime::{py_runtime, wait_for};
use nova_ft_emulator::faults::Faults;
use nova_ft_emulator::server::{start, RunningEmulator};
use nova_ft_emulator::sigv4::Credentials;
use nova_ft_emulator::EmulatorConfig;
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// A running emulator on the shared runtime. `stop()` ends it; so does dropping it.
#[pyclass(name = "EmulatorCore", module = "nova_ft._nova_ft", frozen)]
pub struct PyEmulator {
    running: Mutex<Option<RunningEmulator>>,
    endpoint_url: String,
    data_dir: String,
}

#[pymethods]
impl PyEmulator {
    #[new]
    #[pyo3(signature = (host="127.0.0.1", port=0, data_dir=None, region="us-east-1", latency_ms=0.0, jitter_ms=0.0, throttle_rate=0.0, error_rate=0.0, deployment_delay=2.0, job_step_delay=0.3, allow_remote=false, rate_limit=None, access_key_id="test", secret_access_key="test", verify_signatures=true, strict_credentials=false, account_id=None, models=None, lm_path=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host: &str,
        port: u16,
        data_dir: Option<PathBuf>,
        region: &str,
        latency_ms: f64,
        jitter_ms: f64,
        throttle_rate: f64,
        error_rate: f64,
        deployment_delay: f64,
        job_step_delay: f64,
        allow_remote: bool,
        rate_limit: Option<f64>,
        access_key_id: &str,
        secret_access_key: &str,
        verify_signatures: bool,
        strict_credentials: bool,
        account_id: Option<String>,
        models: Option<String>,
        lm_path: Option<PathBuf>,
    ) -> PyResult<Self> {
        // `per_second`: how many of the argument's units make a second.
        let seconds = |value: f64, per_second: f64, name: &str| {
            Duration::try_from_secs_f64(value / per_second).map_err(|_| {
                to_pyerr(
                    py,
                    nova_ft_data::error::NovaError::invalid(format!(
                        "{name} must be a number of at least 0, not {value}"
                    )),
                )
            })
        };
        let models = py
            .detach(|| nova_ft_emulator::choose_models(models.as_deref(), lm_path.as_deref()))
            .map_err(|e| to_pyerr(py, e))?;
        let config = EmulatorConfig {
            models,
            host: host.to_string(),
            allow_remote,
            credentials: verify_signatures.then(|| Credentials {
                access_key_id: access_key_id.to_string(),
                secret_access_key: secret_access_key.to_string(),
            }),
            strict_credentials,
            port,
            data_dir,
            region: region.to_string(),
            account_id: account_id.unwrap_or_else(|| nova_ft_emulator::DEFAULT_ACCOUNT_ID.into()),
            faults: Faults {
                latency: seconds(latency_ms, 1e3, "latency_ms")?,
                jitter: seconds(jitter_ms, 1e3, "jitter_ms")?,
                throttle_rate,
                error_rate,
            },
            rate_limit,
            deployment_delay: seconds(deployment_delay, 1.0, "deployment_delay")?,
            job_step_delay: seconds(job_step_delay, 1.0, "job_step_delay")?,
            // Lambda handlers run with the interpreter that runs nova_ft (its packages, its
            // version), as a user testing a grader locally would run it.
            python: py
                .import("sys")?
                .getattr("executable")?
                .extract::<Option<std::path::PathBuf>>()?
                .filter(|p| !p.as_os_str().is_empty()),
        };
        config.check().map_err(|e| to_pyerr(py, e))?;
        super::logging::refresh();
        let runtime = py_runtime(py)?;
        let running = py
            .detach(|| runtime.block_on(start(config)))
            .map_err(|e| to_pyerr(py, e))?;
        Ok(PyEmulator {
            endpoint_url: running.endpoint_url(),
            data_dir: running.ctx.store.dir().display().to_string(),
            running: Mutex::new(Some(running)),
        })
    }

    #[getter]
    fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    #[getter]
    fn data_dir(&self) -> &str {
        &self.data_dir
    }

    /// Write a custom model's artifact and manifest under `s3://bucket/prefix/` (the local
    /// counterpart of exporting a model trained elsewhere); returns the S3 URI to import.
    fn export_model(
        &self,
        py: Python<'_>,
        model_arn: &str,
        bucket: &str,
        prefix: &str,
    ) -> PyResult<String> {
        let ctx = self
            .running
            .lock()
            .ok()
            .and_then(|r| r.as_ref().map(|r| std::sync::Arc::clone(&r.ctx)))
            .ok_or_else(|| {
                to_pyerr(
                    py,
                    nova_ft_data::error::NovaError::invalid("the emulator is stopped"),
                )
            })?;
        py.detach(|| nova_ft_emulator::bedrock::export_model(&ctx, model_arn, bucket, prefix))
            .map_err(|e| {
                to_pyerr(
                    py,
                    nova_ft_data::error::NovaError::invalid(format!("{}: {}", e.code, e.message)),
                )
            })
    }

    #[getter]
    fn running(&self) -> bool {
        self.running.lock().map(|r| r.is_some()).unwrap_or(false)
    }

    /// Stop the server (idempotent). Everything it stored is already on disk.
    fn stop(&self, py: Python<'_>) {
        let taken = self.running.lock().ok().and_then(|mut r| r.take());
        if let (Some(mut running), Ok(runtime)) = (taken, py_runtime(py)) {
            py.detach(|| runtime.block_on(running.stop()));
        }
    }

    /// Block until interrupted (Ctrl-C, or a signal handler that raises), then stop.
    fn serve_forever(&self, py: Python<'_>) -> PyResult<()> {
        let result = wait_for(py, std::future::pending::<()>());
        self.stop(py);
        result
    }
}

/// Every service the emulator speaks, with the operations it serves.
#[pyfunction]
pub fn emulator_coverage() -> Vec<(&'static str, Vec<&'static str>)> {
    nova_ft_emulator::operations::coverage()
}

/// [`emulator_coverage`] as the README's Markdown table.
#[pyfunction]
pub fn emulator_coverage_markdown() -> String {
    nova_ft_emulator::operations::coverage_markdown()
}

/// Write a tiny randomly initialised language model (SmolLM2's architecture and chat tokens,
/// a byte-level vocabulary) as a GGUF file at `path`: for tests of `models="lm"` without the
/// 98 MB model. `seed` draws its weights.
#[pyfunction]
#[pyo3(signature = (path, seed=1))]
pub fn write_tiny_language_model(py: Python<'_>, path: PathBuf, seed: u64) -> PyResult<()> {
    let spec = nova_ft_emulator::TinySpec {
        seed,
        ..Default::default()
    };
    let bytes = nova_ft_emulator::tiny_language_model(spec).map_err(|e| to_pyerr(py, e))?;
    nova_ft_data::fsio::write_atomically(&path, &bytes).map_err(|e| to_pyerr(py, e))
}

//! Bindings for the benchmark loop and its metrics. A run is a task on the shared runtime;
//! Python waits on its end (blocking, or awaiting a real future) in short slices to redraw the
//! progress bar from its counters, and can cancel it, so Ctrl-C stops a run within a slice
//! and keeps every result already written.

use super::errors::to_pyerr;
use super::results::{ProgressCounts, PyBenchmarkProgress};
use super::session::PySession;
use super::tokio_runtime::{py_runtime, wait_for};
use nova_ft_core::aws::AwsSession;
use nova_ft_core::batch::{self, BatchOptions};
use nova_ft_core::benchmark::{self, BenchOptions, BenchRow, Progress, RunSummary};
use nova_ft_core::metrics::{self, MetricsOptions};
use nova_ft_data::error::{NovaError, Result};
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

fn depythonize<T: serde::de::DeserializeOwned>(
    value: &Bound<'_, PyAny>,
    what: &str,
) -> PyResult<T> {
    pythonize::depythonize(value)
        .map_err(|e| to_pyerr(value.py(), NovaError::invalid(format!("bad {what}: {e}"))))
}

fn to_py<T: serde::Serialize>(py: Python<'_>, result: Result<T>) -> PyResult<Py<PyAny>> {
    let value = result.map_err(|e| to_pyerr(py, e))?;
    Ok(pythonize::pythonize(py, &value)?.unbind())
}

#[pyclass(name = "BenchmarkRunCore", module = "nova_ft._nova_ft", frozen)]
pub struct PyBenchmarkRun {
    /// The rows, kept for scoring so they cross from Python once.
    rows: Arc<Vec<BenchRow>>,
    progress: Arc<Progress>,
    handle: Mutex<Option<JoinHandle<Result<RunSummary>>>>,
    /// Turns true when the run ends (or is dropped when it is aborted).
    finished: tokio::sync::watch::Receiver<bool>,
    /// Cancelling only asks the run to stop (it has a cloud job to stop first).
    graceful: bool,
}

impl PyBenchmarkRun {
    /// Run `start(session, rows, progress)` on the shared runtime.
    fn spawn<F>(
        session: &PySession,
        rows: &Bound<'_, PyAny>,
        graceful: bool,
        start: impl FnOnce(Arc<AwsSession>, Arc<Vec<BenchRow>>, Arc<Progress>) -> F,
    ) -> PyResult<PyBenchmarkRun>
    where
        F: std::future::Future<Output = Result<RunSummary>> + Send + 'static,
    {
        let rows_py = rows.py();
        let rows: Arc<Vec<BenchRow>> = Arc::new(depythonize(rows, "benchmark rows")?);
        let progress = Arc::new(Progress::default());
        let (done, finished) = tokio::sync::watch::channel(false);
        let run = start(session.inner(), Arc::clone(&rows), Arc::clone(&progress));
        let handle = py_runtime(rows_py)?.spawn(async move {
            let result = run.await;
            let _ = done.send(true);
            result
        });
        Ok(PyBenchmarkRun {
            rows,
            progress,
            handle: Mutex::new(Some(handle)),
            finished,
            graceful,
        })
    }

    /// Whether the run ends within `seconds`, as a future that owns what it needs.
    fn ended_within(
        &self,
        seconds: f64,
    ) -> impl std::future::Future<Output = bool> + Send + 'static {
        let mut finished = self.finished.clone();
        let limit = std::time::Duration::from_secs_f64(seconds.max(0.0));
        async move {
            tokio::time::timeout(limit, finished.wait_for(|done| *done))
                .await
                .is_ok()
        }
    }
}

#[pymethods]
impl PyBenchmarkRun {
    /// Start a run: `rows` as dicts (`id`, `text`, `system`, `gold`), `options` as
    /// `workflow::benchmark::BenchOptions`.
    #[staticmethod]
    fn start(
        session: &PySession,
        rows: &Bound<'_, PyAny>,
        options: &Bound<'_, PyAny>,
    ) -> PyResult<PyBenchmarkRun> {
        let options: BenchOptions = depythonize(options, "benchmark options")?;
        Self::spawn(session, rows, false, |session, rows, progress| {
            benchmark::run(session, rows, options, progress)
        })
    }

    /// Start a run through Bedrock batch inference jobs (`options` as
    /// `workflow::batch::BatchOptions`). Cancelling stops the running job before the run
    /// ends, instead of dropping the task and leaving the job running.
    #[staticmethod]
    fn start_batch(
        session: &PySession,
        rows: &Bound<'_, PyAny>,
        options: &Bound<'_, PyAny>,
    ) -> PyResult<PyBenchmarkRun> {
        let options: BatchOptions = depythonize(options, "batch options")?;
        Self::spawn(session, rows, true, |session, rows, progress| {
            batch::run(session, rows, options, progress)
        })
    }

    /// The counters so far.
    fn progress(&self) -> PyBenchmarkProgress {
        let p = &self.progress;
        PyBenchmarkProgress::from(ProgressCounts {
            total: p.total.load(Ordering::Relaxed),
            skipped: p.skipped.load(Ordering::Relaxed),
            done: p.done.load(Ordering::Relaxed),
            failed: p.failed.load(Ordering::Relaxed),
            retries: p.retries.load(Ordering::Relaxed),
            throttled: p.throttled.load(Ordering::Relaxed),
            limit: p.limit.load(Ordering::Relaxed),
        })
    }

    fn done(&self) -> bool {
        let guard = self.handle.lock().unwrap_or_else(|e| e.into_inner());
        guard.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Wait up to `seconds` for the run to end (GIL released, Ctrl-C interrupts); whether
    /// it ended.
    fn wait(&self, py: Python<'_>, seconds: f64) -> PyResult<bool> {
        wait_for(py, self.ended_within(seconds))
    }

    /// Await the run's end for up to `seconds`: a future that resolves to whether it ended.
    fn wait_async<'py>(&self, py: Python<'py>, seconds: f64) -> PyResult<Bound<'py, PyAny>> {
        let ended = self.ended_within(seconds);
        pyo3_async_runtimes::tokio::future_into_py(py, async move { Ok(ended.await) })
    }

    /// Stop: in-flight calls are dropped, results already written stay (a batch run stops
    /// its job, then ends: wait for it).
    fn cancel(&self) {
        self.progress.cancelled.store(true, Ordering::Relaxed);
        if self.graceful {
            return;
        }
        if let Some(handle) = self
            .handle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            handle.abort();
        }
    }

    /// Score a results file against this run's rows (`options` as `MetricsOptions`).
    fn report(
        &self,
        py: Python<'_>,
        results: PathBuf,
        options: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let options: MetricsOptions = depythonize(options, "metrics options")?;
        let rows = Arc::clone(&self.rows);
        let report = py.detach(|| metrics::report(&results, &rows, &options));
        to_py(py, report)
    }

    /// The run's summary (blocks until it ends; call once).
    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let handle = self
            .handle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| {
                to_pyerr(
                    py,
                    NovaError::invalid(
                        "the benchmark result was already taken: call result() once",
                    ),
                )
            })?;
        let joined = wait_for(py, handle)?;
        let result = match joined {
            Ok(result) => result,
            Err(e) if e.is_cancelled() => Err(NovaError::Cancelled(
                "the benchmark was cancelled; its results file keeps every answer received, and a new run resumes from it".into(),
            )),
            Err(e) => Err(NovaError::internal("the benchmark task failed", e)),
        };
        to_py(py, result)
    }
}

/// Benchmark rows from a conversation JSONL file.
#[pyfunction]
pub fn bench_rows_from_jsonl(py: Python<'_>, path: PathBuf) -> PyResult<Py<PyAny>> {
    let rows = py.detach(|| benchmark::rows_from_jsonl(&path));
    to_py(py, rows)
}

/// Score a results file against its rows (`options` as `workflow::metrics::MetricsOptions`).
#[pyfunction]
pub fn benchmark_report(
    py: Python<'_>,
    results: PathBuf,
    rows: &Bound<'_, PyAny>,
    options: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let rows: Vec<BenchRow> = depythonize(rows, "benchmark rows")?;
    let options: MetricsOptions = depythonize(options, "metrics options")?;
    let report = py.detach(|| metrics::report(&results, &rows, &options));
    to_py(py, report)
}

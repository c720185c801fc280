//! One tokio runtime (pyo3-async-runtimes') for every sync and async call, and a blocking
//! wait that Ctrl-C can interrupt, in a terminal and in Jupyter.
//!
//! A forked child (multiprocessing's `fork` start method) inherits the runtime's state but
//! not its threads, so anything it ran there would hang forever; as tokenizers and delta-rs
//! do, the child gets a clear error instead.

use super::errors::to_pyerr;
use nova_ft_data::error::NovaError;
use pyo3::prelude::*;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

/// How often a blocking wait looks for Ctrl-C.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// The process that started the runtime's threads.
static RUNTIME_PID: OnceLock<u32> = OnceLock::new();

/// The shared runtime, or an error in a process forked after it started.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime, NovaError> {
    let owner = *RUNTIME_PID.get_or_init(std::process::id);
    if owner != std::process::id() {
        return Err(NovaError::unexpected(format!(
            "nova_ft was started in process {owner} and this process was forked from it: its \
             worker threads did not come along. Use nova_ft in the child only with the 'spawn' \
             or 'forkserver' start method (multiprocessing.get_context(\"spawn\")), or start \
             it in the child first"
        )));
    }
    Ok(pyo3_async_runtimes::tokio::get_runtime())
}

/// [`runtime`], as a Python exception.
pub fn py_runtime(py: Python<'_>) -> PyResult<&'static tokio::runtime::Runtime> {
    runtime().map_err(|e| to_pyerr(py, e))
}

/// Run `future` to completion without the GIL, checking for signals (Ctrl-C) every 100 ms.
/// On a signal the future is dropped and the Python exception (KeyboardInterrupt) is raised.
pub fn wait_for<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let runtime = py_runtime(py)?;
    py.detach(|| {
        runtime.block_on(async {
            tokio::pin!(future);
            loop {
                tokio::select! {
                    output = &mut future => return Ok(output),
                    _ = tokio::time::sleep(SIGNAL_CHECK) => {
                        // `check_signals` only sees signals after the interpreter ran its
                        // handlers, which running a trivial statement makes it do.
                        Python::attach(|py| {
                            py.run(c"pass", None, None)?;
                            py.check_signals()
                        })?;
                    }
                }
            }
        })
    })
}

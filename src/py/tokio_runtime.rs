//! One tokio runtime (pyo3-async-runtimes') for every sync and async call, and a blocking
//! wait that Ctrl-C can interrupt, in a terminal and in Jupyter.

use pyo3::prelude::*;
use std::future::Future;
use std::time::Duration;

/// How often a blocking wait looks for Ctrl-C.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

pub fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Run `future` to completion without the GIL, checking for signals (Ctrl-C) every 100 ms.
/// On a signal the future is dropped and the Python exception (KeyboardInterrupt) is raised.
pub fn wait_for<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    py.detach(|| {
        runtime().block_on(async {
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

//! Rust's `log` records (the emulator's requests and jobs, the benchmark's concurrency) go to
//! Python's `logging`, under the `nova_ft` logger, through pyo3-log.
//!
//! pyo3-log remembers each logger's level so that a record nobody wants is dropped without
//! taking the GIL; the remembered levels are refreshed whenever a session or an emulator
//! starts, so a level set with `logging.getLogger("nova_ft").setLevel(...)` before that takes
//! effect.

use std::sync::OnceLock;

static HANDLE: OnceLock<Option<pyo3_log::ResetHandle>> = OnceLock::new();

/// Install the bridge once (another extension in the process may own `log` already).
pub fn init() {
    HANDLE.get_or_init(|| pyo3_log::try_init().ok());
}

/// Forget the remembered logger levels, so the next record reads them again.
pub fn refresh() {
    if let Some(Some(handle)) = HANDLE.get() {
        handle.reset();
    }
}

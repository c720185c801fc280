//! The PyO3 bindings: thin wrappers over `crate::core`, one file per concern. Every call that
//! does real work releases the GIL; results cross as plain Python data, and the typed
//! façade (dataclasses, reprs, DataFrames) lives in `python/nova_ft`.

mod benchmark;
mod dataset;
mod emulator;
mod errors;
mod logging;
mod pending;
mod results;
mod session;
mod tokio_runtime;

use pyo3::prelude::*;

#[pymodule(gil_used = false)]
pub mod _nova_ft {
    #[pymodule_export]
    use super::benchmark::{bench_rows_from_jsonl, benchmark_report, PyBenchmarkRun};
    #[pymodule_export]
    use super::dataset::{
        convert, estimate_tokens, load_jsonl, price_table, synthetic_dataset, validate_files,
        PyDataset,
    };
    #[pymodule_export]
    use super::emulator::{
        emulator_coverage, emulator_coverage_markdown, write_tiny_language_model, PyEmulator,
    };
    #[pymodule_export]
    use super::errors::{aws_error_class, aws_error_codes};
    #[pymodule_export]
    use super::pending::PyPending;
    #[pymodule_export]
    use super::results::{
        PyBenchmarkProgress, PyBucketInfo, PyCustomModelInfo, PyDeploymentInfo, PyFoundationModel,
        PyGraderInfo, PyIdentity, PyJobInfo, PyReply, PyRoleInfo, PyUploadedObject,
    };
    #[pymodule_export]
    use super::session::PySession;

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        super::logging::init();
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add(
            "SYNTHETIC_SYSTEM_PROMPT",
            nova_ft_data::dataset::synth::SYSTEM_PROMPT,
        )?;
        m.add(
            "SQL_SYSTEM_PROMPT",
            nova_ft_data::dataset::convert::SQL_SYSTEM_PROMPT,
        )?;
        m.add(
            "SCHEMA_VERSION",
            nova_ft_data::dataset::record::SCHEMA_VERSION,
        )?;
        Ok(())
    }
}

// The AWS SDK's request path allocates a great deal per call; mimalloc serves it faster than
// glibc's malloc under threads (as pydantic-core and polars do in their extensions).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

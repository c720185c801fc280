//! The pure-Rust core: no PyO3 here, so it builds, tests and benchmarks without Python.

pub mod adaptive_limit;
pub mod aws;
pub mod aws_codes;
pub mod benchmark;
pub mod converse;
pub mod cost;
pub mod cpython_random;
pub mod dataset;
pub mod deploy;
pub mod error;
pub mod fsio;
pub mod grader;
pub mod iam;
pub mod job;
pub mod json_dumps;
pub mod metrics;
pub mod storage;
pub mod tokens;

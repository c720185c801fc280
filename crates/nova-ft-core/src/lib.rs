//! The workflow in plain Rust: AWS calls through the official AWS SDK for Rust (storage, IAM,
//! customization jobs, deployments, Converse, the reward function's Lambda), the benchmark
//! loop and its metrics. No PyO3 and no emulator here: the bindings and the local AWS are
//! crates of their own, and this one reaches the emulator only over HTTP, like AWS.

pub mod adaptive_limit;
pub mod aws;
pub mod aws_codes;
pub mod batch;
pub mod benchmark;
pub mod converse;
pub mod deploy;
pub mod evaluation;
pub mod grader;
pub mod iam;
pub mod job;
pub mod metrics;
pub mod storage;

//! The pure-Rust core: no PyO3 here, so it builds, tests and benchmarks without Python.

pub mod aws;
pub mod cost;
pub mod dataset;
pub mod error;
pub mod fsio;
pub mod pyjson;
pub mod pyrandom;
pub mod tokens;

//! Bedrock's training data, shared by the client (`nova-ft-core`) and the local AWS
//! (`nova-ft-emulator`), which must agree on it: records and their JSONL formats (SFT and RFT),
//! the validation rules per base model, data-set statistics, the synthetic generator, and the
//! error type both sides report with. Nothing here talks to AWS.

pub mod cost;
pub mod cpython_random;
pub mod dataset;
pub mod error;
pub mod fsio;
pub mod json_dumps;
pub mod tokens;

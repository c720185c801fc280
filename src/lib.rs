//! nova_ft: fine-tune Amazon Nova Micro on Bedrock. `workflow` is plain Rust; `py` holds the
//! PyO3 bindings and is compiled only with the `python` feature.

pub mod emulator;
pub mod workflow;

#[cfg(feature = "python")]
mod py;

//! nova_ft: fine-tune Amazon Nova Micro on Bedrock. `core` is plain Rust; `py` holds the
//! PyO3 bindings and is compiled only with the `python` feature.

pub mod core;
pub mod emulator;

#[cfg(feature = "python")]
mod py;

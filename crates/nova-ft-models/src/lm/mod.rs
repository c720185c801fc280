//! A real small language model behind the emulator's Nova ids: SmolLM2-135M-Instruct
//! (Apache-2.0), read from its GGUF file and run on `candle`.
//!
//! - [`gguf`]: the file (hyperparameters, tokenizer, tensors), refused with a clear error when
//!   malformed or truncated;
//! - [`tokenizer`]: byte-level BPE from the file's own vocabulary and merges;
//! - [`chat`]: SmolLM2's chat template over Converse's system prompt and turns;
//! - [`model`]: the transformer (quantized weights, KV cache, many sequences per pass), with
//!   [`attend`], its attention over the cache, and [`activations`], its softmax and SwiGLU
//!   with `exp` in AVX-512;
//! - [`q4_1`]: products with the file's 4-bit weights, with a SIMD kernel candle lacks;
//! - [`vnni`]: products of many rows with the file's 4- and 8-bit weights (AVX-512 VNNI), its
//!   repacking and dispatch, with the `unsafe` kernels in `vnni/kernels.rs`;
//! - [`generate`]: sampling with Bedrock's inference parameters, stop sequences, streaming;
//! - [`lora`], [`train`], [`passes`]: LoRA adapters and their training (fine-tuning,
//!   distillation), a step in passes with its gradients added up;
//! - [`attention`], [`fused`], [`frozen`]: training's causal attention, RMS norm and rotary
//!   embedding with their backward passes written out, the frozen layers' products;
//! - [`lanes`], [`pool`]: dot products that vectorise; tensors' data borrowed and training's
//!   work run on candle's thread pool;
//! - [`workers`]: decoding's own threads, which wait for each other without spinning through
//!   a shared CPU's scheduler slices;
//! - [`family`]: all of it behind [`crate::ModelFamily`], chosen with `--models lm`.

pub mod activations;
pub mod attend;
pub mod attention;
pub mod chat;
pub mod engine;
pub mod family;
pub mod frozen;
pub mod fused;
pub mod generate;
pub mod gguf;
pub mod grpo;
pub mod lanes;
pub mod lora;
pub mod model;
pub mod passes;
pub mod pool;
pub mod q4_1;
pub mod tiny;
pub mod tokenizer;
pub mod train;
pub mod vnni;
pub mod workers;

pub use family::{LanguageModel, LmFamily};

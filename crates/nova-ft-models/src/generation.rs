//! What a request asks of a generating model and what it gets back, in Bedrock's terms
//! (`maxTokens`, `temperature`, `topP`, `topK`, `stopSequences`; `stopReason` and `usage`).
//! Shared by every model family; only families that generate token by token use them.

use crate::sampling::Sampling;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What a request asks of generation.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationParams {
    pub max_tokens: usize,
    pub sampling: Sampling,
    pub stop_sequences: Vec<String>,
    pub seed: u64,
    /// Set when nobody wants the answer any more (the client went away): generation stops
    /// before its next token and frees its place in the batch.
    pub cancel: Cancel,
}

/// A flag shared by a request and whoever waits for its answer; clones share it.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl PartialEq for Cancel {
    /// The same flag (two requests' flags differ even when neither is set).
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Why generation ended, in Bedrock's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    StopSequence,
}

impl StopReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            StopReason::EndTurn => "end_turn",
            StopReason::MaxTokens => "max_tokens",
            StopReason::StopSequence => "stop_sequence",
        }
    }
}

/// A finished answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub text: String,
    pub input_tokens: usize,
    pub output_tokens: usize,
    pub stop_reason: StopReason,
    /// The stop sequence that ended it, when one did.
    pub stop_sequence: Option<String>,
}

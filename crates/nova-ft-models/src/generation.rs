//! What a request asks of a generating model and what it gets back, in Bedrock's terms
//! (`maxTokens`, `temperature`, `topP`, `topK`, `stopSequences`; `stopReason` and `usage`).
//! Shared by every model family; only families that generate token by token use them.

use crate::sampling::Sampling;

/// What a request asks of generation.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationParams {
    pub max_tokens: usize,
    pub sampling: Sampling,
    pub stop_sequences: Vec<String>,
    pub seed: u64,
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

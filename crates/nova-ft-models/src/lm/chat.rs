//! SmolLM2's chat template (ChatML), as the GGUF's `tokenizer.chat_template` writes it:
//! `<|im_start|>{role}\n{content}<|im_end|>\n` per message, a default system message when the
//! conversation has none, and `<|im_start|>assistant\n` to prompt the answer.

use super::tokenizer::Tokenizer;

/// The system message SmolLM2's template adds when the request has none.
pub const DEFAULT_SYSTEM: &str =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// Token ids of the chat markers.
#[derive(Debug, Clone, Copy)]
pub struct Markers {
    pub start: u32,
    pub end: u32,
    /// `<|endoftext|>`, which also ends an answer.
    pub end_of_text: Option<u32>,
}

impl Markers {
    pub fn of(tokenizer: &Tokenizer) -> Option<Markers> {
        Some(Markers {
            start: tokenizer.token_id("<|im_start|>")?,
            end: tokenizer.token_id("<|im_end|>")?,
            end_of_text: tokenizer.token_id("<|endoftext|>"),
        })
    }
}

/// Ids of one message, closed (`<|im_start|>role\ntext<|im_end|>\n`).
pub fn message(
    tokenizer: &Tokenizer,
    markers: Markers,
    role: &str,
    text: &str,
    out: &mut Vec<u32>,
) {
    out.push(markers.start);
    out.extend(tokenizer.encode(&format!("{role}\n{text}")));
    out.push(markers.end);
    out.extend(tokenizer.encode("\n"));
}

/// The prompt: system message, the turns, then the assistant's opening.
pub fn prompt(
    tokenizer: &Tokenizer,
    markers: Markers,
    system: &str,
    turns: &[(String, String)],
) -> Vec<u32> {
    let mut ids = system_prefix(tokenizer, markers, system);
    for (role, text) in turns {
        message(tokenizer, markers, role, text, &mut ids);
    }
    ids.extend(assistant_opening(tokenizer, markers));
    ids
}

/// The system message's ids (the default one when `system` is empty): the prefix that
/// requests sharing a system prompt share.
pub fn system_prefix(tokenizer: &Tokenizer, markers: Markers, system: &str) -> Vec<u32> {
    let system = if system.trim().is_empty() {
        DEFAULT_SYSTEM
    } else {
        system
    };
    let mut ids = Vec::new();
    message(tokenizer, markers, "system", system, &mut ids);
    ids
}

pub fn assistant_opening(tokenizer: &Tokenizer, markers: Markers) -> Vec<u32> {
    let mut ids = vec![markers.start];
    ids.extend(tokenizer.encode("assistant\n"));
    ids
}

//! Generating an answer: prefill the prompt, then one token at a time until the end-of-turn
//! token, a stop sequence or the token budget, with every new piece of text handed to a
//! callback as it is produced (ConverseStream's deltas).

use super::lora::Adapters;
use super::model::{KvCache, Llama};
use super::tokenizer::Tokenizer;
pub use crate::generation::{Generation, GenerationParams, StopReason};
use crate::sampling::SplitMix;
use nova_ft_data::error::{NovaError, Result};

/// One sequence being generated: its cache, its tokens so far, the text already handed out.
pub struct Decoding {
    pub cache: KvCache,
    pub params: GenerationParams,
    random: SplitMix,
    pub input_tokens: usize,
    generated: Vec<u32>,
    /// Bytes of the answer so far (tokens may split UTF-8 characters).
    bytes: Vec<u8>,
    /// How much of `bytes` has been released as text.
    released: usize,
    pub next: Option<u32>,
    pub done: Option<StopReason>,
    stop_sequence: Option<String>,
}

impl Decoding {
    pub fn new(cache: KvCache, input_tokens: usize, params: GenerationParams) -> Decoding {
        Decoding {
            cache,
            random: SplitMix::new(params.seed),
            params,
            input_tokens,
            generated: Vec::new(),
            bytes: Vec::new(),
            released: 0,
            next: None,
            done: None,
            stop_sequence: None,
        }
    }

    /// Take the logits after the last token: pick the next one, and return the new text that
    /// can be released (held back while it may still become a stop sequence).
    pub fn step(&mut self, logits: &[f32], tokenizer: &Tokenizer, end_ids: &[u32]) -> String {
        if self.done.is_some() {
            return String::new();
        }
        if self.generated.len() >= self.params.max_tokens {
            self.done = Some(StopReason::MaxTokens);
            return self.flush(self.bytes.len());
        }
        let token = self.params.sampling.pick(logits, &mut self.random);
        if end_ids.contains(&token) {
            self.done = Some(StopReason::EndTurn);
            return self.flush(self.bytes.len());
        }
        self.generated.push(token);
        self.bytes.extend(tokenizer.token_bytes(token));
        // A stop sequence ends the answer before it.
        for stop in &self.params.stop_sequences {
            if stop.is_empty() {
                continue;
            }
            if let Some(at) = find(&self.bytes, stop.as_bytes()) {
                self.bytes.truncate(at);
                self.done = Some(StopReason::StopSequence);
                self.stop_sequence = Some(stop.clone());
                return self.flush(at);
            }
        }
        if self.generated.len() >= self.params.max_tokens {
            self.done = Some(StopReason::MaxTokens);
            return self.flush(self.bytes.len());
        }
        self.next = Some(token);
        // Hold back what could be the start of a stop sequence, and incomplete UTF-8.
        let hold = self
            .params
            .stop_sequences
            .iter()
            .map(|s| partial_suffix(&self.bytes, s.as_bytes()))
            .max()
            .unwrap_or(0);
        let mut upto = self.bytes.len() - hold;
        while upto > self.released && std::str::from_utf8(&self.bytes[self.released..upto]).is_err()
        {
            upto -= 1;
        }
        self.flush(upto)
    }

    fn flush(&mut self, upto: usize) -> String {
        let upto = upto.max(self.released).min(self.bytes.len());
        let text = String::from_utf8_lossy(&self.bytes[self.released..upto]).into_owned();
        self.released = upto;
        text
    }

    pub fn finish(&self) -> Generation {
        Generation {
            text: String::from_utf8_lossy(&self.bytes).into_owned(),
            input_tokens: self.input_tokens,
            output_tokens: self.generated.len(),
            stop_reason: self.done.unwrap_or(StopReason::MaxTokens),
            stop_sequence: self.stop_sequence.clone(),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The longest proper prefix of `stop` that `bytes` ends with.
fn partial_suffix(bytes: &[u8], stop: &[u8]) -> usize {
    (1..stop.len())
        .rev()
        .find(|k| bytes.ends_with(&stop[..*k]))
        .unwrap_or(0)
}

/// Generate one answer to `prompt` (token ids), calling `on_text` with each released piece.
pub fn generate(
    model: &Llama,
    adapters: Option<&Adapters>,
    tokenizer: &Tokenizer,
    end_ids: &[u32],
    prompt: &[u32],
    params: GenerationParams,
    on_text: &mut dyn FnMut(&str),
) -> Result<Generation> {
    if params.cancel.is_cancelled() {
        return Err(cancelled());
    }
    let mut d = Decoding::new(KvCache::new(model.config.layers), prompt.len(), params);
    let mut logits = model.forward(&[prompt], &mut [&mut d.cache], adapters)?;
    loop {
        let text = d.step(&logits[0], tokenizer, end_ids);
        if !text.is_empty() {
            on_text(&text);
        }
        let Some(next) = d.next.take() else { break };
        if d.done.is_some() {
            break;
        }
        if d.params.cancel.is_cancelled() {
            return Err(cancelled());
        }
        if d.cache.len + 1 >= model.max_positions() {
            d.done = Some(StopReason::MaxTokens);
            break;
        }
        logits = model.forward(&[&[next]], &mut [&mut d.cache], adapters)?;
    }
    Ok(d.finish())
}

/// The error a request gets when nobody waits for its answer any more.
pub fn cancelled() -> NovaError {
    NovaError::invalid("language model: the request was cancelled (its client went away)")
}

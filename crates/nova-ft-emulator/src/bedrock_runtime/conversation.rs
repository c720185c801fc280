//! What every runtime call asks, whatever its body's format (Converse, Nova's native
//! `messages-v1`, Anthropic's Messages): the system prompt, the turns and the limits; and
//! what the model answered, cut at stop sequences and the token budget.

use super::super::wire::AwsError;
use nova_ft_data::tokens::estimate_tokens;
use nova_ft_models::generation::{Generation, GenerationParams};
use nova_ft_models::sampling::Sampling;
use serde_json::Value;

/// A request read from any of the runtime's body formats.
pub(super) struct Conversation {
    pub(super) system: String,
    pub(super) turns: Vec<(String, String)>,
    pub(super) max_tokens: Option<usize>,
    pub(super) stop_sequences: Vec<String>,
    /// temperature, topP, topK as the request gave them (absent: the model's defaults).
    pub(super) sampling: Sampling,
}

/// An answer, cut to the request's limits, with its token counts.
pub(super) struct Completion {
    pub(super) text: String,
    /// Converse's and Nova's words: `end_turn`, `max_tokens`, `stop_sequence`.
    pub(super) stop_reason: &'static str,
    /// The stop sequence that ended the answer, if one did.
    pub(super) stop_sequence: Option<String>,
    pub(super) input_tokens: usize,
    pub(super) output_tokens: usize,
    pub(super) latency_ms: u64,
}

/// Nova's sampling when a request sets none: temperature 0.7, topP 0.9, no topK limit
/// ([U]: from Nova's documented defaults, not measured).
pub(super) const DEFAULT_SAMPLING: Sampling = Sampling {
    temperature: 0.7,
    top_p: 0.9,
    top_k: 0,
};

/// The answer budget when a request sets none, for models that generate token by token.
const DEFAULT_MAX_TOKENS: usize = 1024;

/// Sampling from a request's values (each may be absent).
pub(super) fn sampling(
    temperature: Option<&Value>,
    top_p: Option<&Value>,
    top_k: Option<&Value>,
) -> Sampling {
    Sampling {
        temperature: temperature
            .and_then(Value::as_f64)
            .map_or(DEFAULT_SAMPLING.temperature, |t| t as f32),
        top_p: top_p
            .and_then(Value::as_f64)
            .map_or(DEFAULT_SAMPLING.top_p, |p| p as f32),
        top_k: top_k.and_then(Value::as_u64).map_or(0, |k| k as usize),
    }
}

impl Conversation {
    /// What a generating model is asked (seeded afresh per request, as a service samples).
    pub(super) fn generation_params(&self) -> GenerationParams {
        GenerationParams {
            max_tokens: self.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            sampling: self.sampling,
            stop_sequences: self.stop_sequences.clone(),
            seed: fastrand::u64(..),
            cancel: Default::default(),
        }
    }

    /// A generating model's answer, with its real token counts.
    pub(super) fn generated(&self, g: Generation, latency_ms: u64) -> Completion {
        Completion {
            text: g.text,
            stop_reason: g.stop_reason.as_str(),
            stop_sequence: g.stop_sequence,
            input_tokens: g.input_tokens,
            output_tokens: g.output_tokens,
            latency_ms,
        }
    }

    /// The model's raw answer cut to this request's limits, with token counts.
    pub(super) fn complete(&self, raw: &str, latency_ms: u64) -> Completion {
        let (text, stop_reason) = limit(raw, self.max_tokens, &self.stop_sequences);
        let stop_sequence = (stop_reason == "stop_sequence")
            .then(|| {
                self.stop_sequences
                    .iter()
                    .filter(|s| !s.is_empty())
                    .filter_map(|s| raw.find(s.as_str()).map(|at| (at, s)))
                    .min()
                    .map(|(_, s)| s.clone())
            })
            .flatten();
        let input_tokens = estimate_tokens(&self.system)
            + self
                .turns
                .iter()
                .map(|(_, t)| estimate_tokens(t))
                .sum::<usize>();
        let output_tokens = estimate_tokens(&text);
        Completion {
            text,
            stop_reason,
            stop_sequence,
            input_tokens,
            output_tokens,
            latency_ms,
        }
    }
}

fn start_with_user() -> AwsError {
    AwsError::validation("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
}

/// The text of a content list: blocks `{"text": ...}` (Converse, Nova) or, with `typed`,
/// `{"type": "text", "text": ...}` (Anthropic); a plain string is one text block. A prompt
/// cache marker (`{"cachePoint": ...}`, Converse's and Nova's) carries no text and is passed
/// over: the local models compute each prompt anyway.
fn content_text(content: Option<&Value>, typed: bool) -> Result<String, AwsError> {
    let only_text = || {
        AwsError::validation("The nova_ft emulator's local models read text content blocks only.")
    };
    match content {
        Some(Value::String(text)) if typed => Ok(text.clone()),
        Some(Value::Array(blocks)) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for block in blocks {
                let cache_marker = block
                    .as_object()
                    .is_some_and(|b| b.len() == 1 && b.contains_key("cachePoint"));
                if !typed && cache_marker {
                    continue;
                }
                if typed && block.get("type").and_then(Value::as_str) != Some("text") {
                    return Err(only_text());
                }
                texts.push(
                    block
                        .get("text")
                        .and_then(Value::as_str)
                        .ok_or_else(only_text)?,
                );
            }
            Ok(texts.join("\n"))
        }
        _ => Err(only_text()),
    }
}

/// The turns of a `messages` list: they start with the user and alternate.
pub(super) fn turns(
    messages: Option<&Value>,
    typed: bool,
) -> Result<Vec<(String, String)>, AwsError> {
    let messages = messages
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(start_with_user)?;
    let mut turns = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        let expected = if i % 2 == 0 { "user" } else { "assistant" };
        if i == 0 && role != "user" {
            return Err(start_with_user());
        }
        if role != expected {
            return Err(AwsError::validation("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."));
        }
        turns.push((
            role.to_string(),
            content_text(message.get("content"), typed)?,
        ));
    }
    Ok(turns)
}

/// `system` as text blocks (Converse, Nova), or a string or typed blocks (Anthropic).
pub(super) fn system(value: Option<&Value>, typed: bool) -> Result<String, AwsError> {
    match value {
        None | Some(Value::Null) => Ok(String::new()),
        Some(value) => content_text(Some(value), typed),
    }
}

/// A token budget: a positive integer, or absent.
pub(super) fn max_tokens(value: Option<&Value>, field: &str) -> Result<Option<usize>, AwsError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Ok(Some(v.as_u64().filter(|n| *n >= 1).ok_or_else(|| AwsError::validation(format!("1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have value greater than or equal to 1")))? as usize)),
    }
}

/// A sampling temperature, which must lie in [0, 1] when given.
pub(super) fn check_temperature(value: Option<&Value>, field: &str) -> Result<(), AwsError> {
    match value {
        None | Some(Value::Null) => Ok(()),
        Some(t) if t.as_f64().is_some_and(|t| (0.0..=1.0).contains(&t)) => Ok(()),
        Some(_) => Err(AwsError::validation(format!("1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have value between 0 and 1"))),
    }
}

/// A list of strings (stop sequences), or none.
pub(super) fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The body as JSON, or the runtime's `SerializationException`.
pub(super) fn json_body(bytes: &[u8]) -> Result<Value, AwsError> {
    serde_json::from_slice(bytes).map_err(|_| {
        AwsError::new(
            400,
            "SerializationException",
            "The request body is not valid JSON.",
        )
    })
}

/// A request in the Converse shape (`messages`, `system` and `inferenceConfig`), which Nova's
/// native body shares; `budget` and `stops` name the `inferenceConfig` keys each reads, the
/// first of each being the one errors name.
pub(super) fn from_message_list(
    body: &Value,
    budget: &[&str],
    stops: &[&str],
) -> Result<Conversation, AwsError> {
    let config = body.get("inferenceConfig");
    let first = |keys: &[&str]| config.and_then(|c| keys.iter().find_map(|k| c.get(*k)));
    check_temperature(first(&["temperature"]), "inferenceConfig.temperature")?;
    // Converse passes Nova's topK through additionalModelRequestFields.
    let extra = body
        .get("additionalModelRequestFields")
        .and_then(|f| f.get("inferenceConfig").or(Some(f)));
    let top_k =
        first(&["topK", "top_k"]).or_else(|| extra.and_then(|e| e.get("topK").or(e.get("top_k"))));
    Ok(Conversation {
        turns: turns(body.get("messages"), false)?,
        system: system(body.get("system"), false)?,
        max_tokens: max_tokens(first(budget), &format!("inferenceConfig.{}", budget[0]))?,
        stop_sequences: strings(first(stops)),
        sampling: sampling(first(&["temperature"]), first(&["topP", "top_p"]), top_k),
    })
}

/// A Converse (or ConverseStream) request.
pub(super) fn from_converse(body: &Value) -> Result<Conversation, AwsError> {
    from_message_list(body, &["maxTokens"], &["stopSequences"])
}

/// Cut `text` at the first stop sequence, then to at most `max_tokens` estimated tokens.
/// Token estimates add up word by word, so truncation keeps whole words.
pub(super) fn limit(
    text: &str,
    max_tokens: Option<usize>,
    stops: &[String],
) -> (String, &'static str) {
    let mut reason = "end_turn";
    let mut text = text.to_string();
    if let Some(at) = stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()))
        .min()
    {
        text.truncate(at);
        reason = "stop_sequence";
    }
    if let Some(max) = max_tokens {
        if estimate_tokens(&text) > max {
            let mut used = 0;
            let mut end = 0;
            for (start, word) in text
                .split_whitespace()
                .map(|w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
            {
                let cost = estimate_tokens(word);
                if used + cost > max {
                    break;
                }
                used += cost;
                end = start + word.len();
            }
            text.truncate(end);
            reason = "max_tokens";
        }
    }
    (text, reason)
}

/// The answer split into deltas of a word each (with its leading space), as a model streams
/// tokens.
pub(super) fn deltas(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = rest
            .char_indices()
            .skip(1)
            .find(|(_, c)| c.is_whitespace())
            .map_or(rest.len(), |(i, _)| i);
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cache_points_are_passed_over_and_other_blocks_refused() {
        let content = json!([{"text": "Summarise:"}, {"cachePoint": {"type": "default"}}, {"text": "the article"}]);
        assert_eq!(
            content_text(Some(&content), false).unwrap(),
            "Summarise:\nthe article"
        );
        let blocks = json!([{"text": "You are terse."}, {"cachePoint": {"type": "default"}}]);
        assert_eq!(system(Some(&blocks), false).unwrap(), "You are terse.");
        for refused in [
            json!([{"image": {"format": "png", "source": {"bytes": ""}}}]),
            json!([{"toolUse": {"toolUseId": "t", "name": "f", "input": {}}}]),
            json!([{"cachePoint": {"type": "default"}, "image": {}}]),
        ] {
            assert!(content_text(Some(&refused), false).is_err(), "{refused}");
        }
    }

    #[test]
    fn limit_cuts_at_stop_sequences_and_token_budgets() {
        assert_eq!(
            limit("flight", Some(8), &[]),
            ("flight".to_string(), "end_turn")
        );
        assert_eq!(
            limit("one two three", None, &["two".into()]),
            ("one ".to_string(), "stop_sequence")
        );
        let (text, reason) = limit("alpha beta gamma delta", Some(4), &[]);
        assert_eq!((text.as_str(), reason), ("alpha beta", "max_tokens"));
        assert_eq!(deltas("a bc  d").concat(), "a bc  d");
    }

    #[test]
    fn anthropic_content_may_be_a_string_or_typed_blocks() {
        let messages = json!([
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": [{"type": "text", "text": "hi"}]},
            {"role": "user", "content": [{"type": "image", "source": {}}]},
        ]);
        assert!(turns(Some(&messages), true).is_err());
        let ok = json!([{"role": "user", "content": "hello"}]);
        assert_eq!(turns(Some(&ok), true).unwrap()[0].1, "hello");
        assert!(turns(Some(&ok), false).is_err());
    }
}

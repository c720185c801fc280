//! InvokeModel and InvokeModelWithResponseStream: each model family's own body. Nova reads
//! `{"schemaVersion": "messages-v1", "system", "messages", "inferenceConfig"}` and answers
//! Converse's shape; Claude ids read Anthropic's Messages body (`anthropic_version`,
//! `max_tokens`, `messages`, `system`) and answer Anthropic's. Streams send each event as a
//! `chunk` whose `bytes` are that event's JSON; the last carries
//! `amazon-bedrock-invocationMetrics`, as Bedrock's do.

use super::super::eventstream;
use super::super::wire::{random_id, response, AwsError, HttpResponse, Outcome};
use super::conversation::{
    check_temperature, deltas, from_message_list, max_tokens, strings, system, turns, Completion,
    Conversation,
};
use super::live::{Frame, LiveFormat};
use axum::http::{HeaderName, HeaderValue};
use base64::Engine;
use serde_json::{json, Value};

/// The body formats InvokeModel reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    /// Amazon Nova (`messages-v1`); also custom models and deployments built on Nova.
    Nova,
    /// Anthropic's Messages API, for Claude ids; the model name goes in the answer.
    Anthropic(&'static str),
}

fn malformed(what: &str) -> AwsError {
    AwsError::validation(format!(
        "Malformed input request: {what}, please reformat your input and try again."
    ))
}

/// The request a body asks, in the family's format.
pub(super) fn read(family: Family, body: &Value) -> Result<Conversation, AwsError> {
    if !body.is_object() {
        return Err(malformed("#: expected type: JSONObject"));
    }
    match family {
        Family::Nova => {
            if let Some(version) = body.get("schemaVersion") {
                if version.as_str() != Some("messages-v1") {
                    return Err(malformed(
                        "#/schemaVersion: messages-v1 is the only version",
                    ));
                }
            }
            from_message_list(
                body,
                &["max_new_tokens", "maxTokens"],
                &["stopSequences", "stop_sequences"],
            )
        }
        Family::Anthropic(_) => {
            for key in ["anthropic_version", "max_tokens"] {
                if body.get(key).is_none() {
                    return Err(malformed(&format!("#: required key [{key}] not found")));
                }
            }
            check_temperature(body.get("temperature"), "temperature")?;
            Ok(Conversation {
                turns: turns(body.get("messages"), true)?,
                system: system(body.get("system"), true)?,
                max_tokens: max_tokens(body.get("max_tokens"), "max_tokens")?,
                stop_sequences: strings(body.get("stop_sequences")),
                sampling: super::conversation::sampling(
                    body.get("temperature"),
                    body.get("top_p"),
                    body.get("top_k"),
                ),
            })
        }
    }
}

/// InvokeModelWithResponseStream's events in a family's format, each sent as a `chunk` whose
/// `bytes` are the event's JSON.
pub(super) struct InvokeEvents {
    pub(super) family: Family,
    pub(super) message_id: String,
}

impl InvokeEvents {
    fn start(&self, input_tokens: usize) -> Vec<Value> {
        match self.family {
            Family::Nova => vec![json!({"messageStart": {"role": "assistant"}})],
            Family::Anthropic(model) => vec![
                json!({"type": "message_start", "message": {
                    "id": self.message_id, "type": "message", "role": "assistant", "model": model,
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": input_tokens, "output_tokens": 1},
                }}),
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ],
        }
    }

    fn text(&self, text: &str) -> Value {
        match self.family {
            Family::Nova => {
                json!({"contentBlockDelta": {"delta": {"text": text}, "contentBlockIndex": 0}})
            }
            Family::Anthropic(_) => {
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})
            }
        }
    }

    fn end(&self, done: &Completion) -> Vec<Value> {
        let mut events = match self.family {
            Family::Nova => vec![
                json!({"contentBlockStop": {"contentBlockIndex": 0}}),
                json!({"messageStop": {"stopReason": done.stop_reason}}),
                json!({"metadata": {
                    "usage": {"inputTokens": done.input_tokens, "outputTokens": done.output_tokens},
                    "metrics": {}, "trace": {},
                }}),
            ],
            Family::Anthropic(_) => vec![
                json!({"type": "content_block_stop", "index": 0}),
                json!({"type": "message_delta",
                    "delta": {"stop_reason": done.stop_reason, "stop_sequence": done.stop_sequence},
                    "usage": {"output_tokens": done.output_tokens}}),
                json!({"type": "message_stop"}),
            ],
        };
        if let Some(Value::Object(last)) = events.last_mut() {
            last.insert(
                "amazon-bedrock-invocationMetrics".into(),
                json!({
                    "inputTokenCount": done.input_tokens,
                    "outputTokenCount": done.output_tokens,
                    "invocationLatency": done.latency_ms,
                    "firstByteLatency": done.latency_ms,
                }),
            );
        }
        events
    }
}

fn chunk(event: &Value) -> Frame {
    let bytes = base64::engine::general_purpose::STANDARD.encode(event.to_string());
    eventstream::event("chunk", json!({ "bytes": bytes }).to_string().as_bytes())
}

/// Live streams come from the language model, which answers Nova bodies only (Claude ids are
/// the judge stand-in, answered whole), so `message_start`'s input count is never needed
/// before the prompt is read.
impl LiveFormat for InvokeEvents {
    fn opening(&self) -> Vec<Frame> {
        self.start(0).iter().map(chunk).collect()
    }

    fn delta(&self, text: &str) -> Frame {
        chunk(&self.text(text))
    }

    fn closing(&self, done: &Completion) -> Vec<Frame> {
        self.end(done).iter().map(chunk).collect()
    }
}

fn header(response: &mut HttpResponse, name: &'static str, value: impl ToString) {
    if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// InvokeModel's answer body, in the family's format (also a batch record's `modelOutput`).
pub(super) fn body(family: Family, done: &Completion, message_id: &str) -> Value {
    match family {
        Family::Nova => json!({
            "output": {"message": {"role": "assistant", "content": [{"text": done.text}]}},
            "stopReason": done.stop_reason,
            "usage": {
                "inputTokens": done.input_tokens,
                "outputTokens": done.output_tokens,
                "totalTokens": done.input_tokens + done.output_tokens,
                "cacheReadInputTokenCount": 0,
                "cacheWriteInputTokenCount": 0,
            },
        }),
        Family::Anthropic(model) => json!({
            "id": message_id, "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": done.text}],
            "stop_reason": done.stop_reason,
            "stop_sequence": done.stop_sequence,
            "usage": {"input_tokens": done.input_tokens, "output_tokens": done.output_tokens},
        }),
    }
}

/// The response headers of InvokeModelWithResponseStream.
pub(super) fn stream_headers(mut resp: HttpResponse) -> HttpResponse {
    header(&mut resp, "x-amzn-bedrock-content-type", "application/json");
    resp
}

/// The answer to InvokeModel (one JSON body) or InvokeModelWithResponseStream (chunks).
pub(super) fn respond(family: Family, done: &Completion, stream: bool) -> Outcome {
    let message_id = format!("msg_bdrk_{}", random_id(24));
    if stream {
        let events = InvokeEvents { family, message_id };
        let mut body = Vec::new();
        let texts = deltas(&done.text).into_iter().map(|d| events.text(d));
        for event in events
            .start(done.input_tokens)
            .into_iter()
            .chain(texts)
            .chain(events.end(done))
        {
            body.extend(chunk(&event)?);
        }
        return Ok(stream_headers(response(
            200,
            "application/vnd.amazon.eventstream",
            body,
        )));
    }
    let body = body(family, done, &message_id);
    let mut resp = response(200, "application/json", body.to_string());
    header(
        &mut resp,
        "x-amzn-bedrock-input-token-count",
        done.input_tokens,
    );
    header(
        &mut resp,
        "x-amzn-bedrock-output-token-count",
        done.output_tokens,
    );
    header(
        &mut resp,
        "x-amzn-bedrock-invocation-latency",
        done.latency_ms,
    );
    Ok(resp)
}

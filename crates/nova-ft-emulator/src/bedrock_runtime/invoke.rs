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

/// The events of a streamed answer, in the family's format.
fn events(family: Family, done: &Completion, message_id: &str) -> Vec<Value> {
    let mut events = Vec::new();
    match family {
        Family::Nova => {
            events.push(json!({"messageStart": {"role": "assistant"}}));
            for delta in deltas(&done.text) {
                events.push(json!({"contentBlockDelta": {"delta": {"text": delta}, "contentBlockIndex": 0}}));
            }
            events.push(json!({"contentBlockStop": {"contentBlockIndex": 0}}));
            events.push(json!({"messageStop": {"stopReason": done.stop_reason}}));
            events.push(json!({"metadata": {
                "usage": {"inputTokens": done.input_tokens, "outputTokens": done.output_tokens},
                "metrics": {}, "trace": {},
            }}));
        }
        Family::Anthropic(model) => {
            events.push(json!({"type": "message_start", "message": {
                "id": message_id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": done.input_tokens, "output_tokens": 1},
            }}));
            events.push(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}));
            for delta in deltas(&done.text) {
                events.push(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": delta}}));
            }
            events.push(json!({"type": "content_block_stop", "index": 0}));
            events.push(json!({"type": "message_delta",
                "delta": {"stop_reason": done.stop_reason, "stop_sequence": done.stop_sequence},
                "usage": {"output_tokens": done.output_tokens}}));
            events.push(json!({"type": "message_stop"}));
        }
    }
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

/// The answer to InvokeModel (one JSON body) or InvokeModelWithResponseStream (chunks).
pub(super) fn respond(family: Family, done: &Completion, stream: bool) -> Outcome {
    let message_id = format!("msg_bdrk_{}", random_id(24));
    if stream {
        let mut body = Vec::new();
        for event in events(family, done, &message_id) {
            let bytes = base64::engine::general_purpose::STANDARD.encode(event.to_string());
            let chunk = json!({ "bytes": bytes }).to_string();
            body.extend(eventstream::event("chunk", chunk.as_bytes())?);
        }
        let mut resp = response(200, "application/vnd.amazon.eventstream", body);
        header(&mut resp, "x-amzn-bedrock-content-type", "application/json");
        return Ok(resp);
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

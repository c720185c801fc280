//! Converse and ConverseStream answers: one JSON document, or `messageStart`,
//! `contentBlockDelta`s, `contentBlockStop`, `messageStop` and `metadata` events.

use super::super::eventstream;
use super::super::wire::{json, response, Outcome};
use super::conversation::{deltas, Completion};
use serde_json::{json, Value};

fn usage(done: &Completion) -> Value {
    json!({
        "inputTokens": done.input_tokens,
        "outputTokens": done.output_tokens,
        "totalTokens": done.input_tokens + done.output_tokens,
    })
}

/// Converse's answer document (also a batch record's `modelOutput` for Converse jobs).
pub(super) fn body(done: &Completion) -> Value {
    json!({
        "output": {"message": {"role": "assistant", "content": [{"text": done.text}]}},
        "stopReason": done.stop_reason,
        "usage": usage(done),
        "metrics": {"latencyMs": done.latency_ms},
    })
}

pub(super) fn respond(done: &Completion, stream: bool) -> Outcome {
    if !stream {
        return Ok(json(200, &body(done)));
    }
    let usage = usage(done);
    let metrics = json!({"latencyMs": done.latency_ms});
    let mut body = eventstream::event("messageStart", br#"{"role":"assistant"}"#)?;
    for delta in deltas(&done.text) {
        let event = json!({"contentBlockIndex": 0, "delta": {"text": delta}});
        body.extend(eventstream::event(
            "contentBlockDelta",
            event.to_string().as_bytes(),
        )?);
    }
    body.extend(eventstream::event(
        "contentBlockStop",
        br#"{"contentBlockIndex":0}"#,
    )?);
    body.extend(eventstream::event(
        "messageStop",
        json!({"stopReason": done.stop_reason})
            .to_string()
            .as_bytes(),
    )?);
    body.extend(eventstream::event(
        "metadata",
        json!({"usage": usage, "metrics": metrics})
            .to_string()
            .as_bytes(),
    )?);
    Ok(response(200, "application/vnd.amazon.eventstream", body))
}

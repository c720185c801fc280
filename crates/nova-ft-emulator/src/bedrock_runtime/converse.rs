//! Converse and ConverseStream answers: one JSON document, or `messageStart`,
//! `contentBlockDelta`s, `contentBlockStop`, `messageStop` and `metadata` events.

use super::super::eventstream;
use super::super::wire::{json, response, Outcome};
use super::conversation::{deltas, Completion};
use super::live::{Frame, LiveFormat};
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

/// ConverseStream's events: typed event-stream messages.
pub(super) struct ConverseEvents;

impl LiveFormat for ConverseEvents {
    fn opening(&self) -> Vec<Frame> {
        vec![eventstream::event(
            "messageStart",
            br#"{"role":"assistant"}"#,
        )]
    }

    fn delta(&self, text: &str) -> Frame {
        let event = json!({"contentBlockIndex": 0, "delta": {"text": text}});
        eventstream::event("contentBlockDelta", event.to_string().as_bytes())
    }

    fn closing(&self, done: &Completion) -> Vec<Frame> {
        let stop = json!({"stopReason": done.stop_reason});
        let meta = json!({"usage": usage(done), "metrics": {"latencyMs": done.latency_ms}});
        vec![
            eventstream::event("contentBlockStop", br#"{"contentBlockIndex":0}"#),
            eventstream::event("messageStop", stop.to_string().as_bytes()),
            eventstream::event("metadata", meta.to_string().as_bytes()),
        ]
    }
}

/// Converse's answer, or ConverseStream's events for an answer made whole (the stand-ins).
pub(super) fn respond(done: &Completion, stream: bool) -> Outcome {
    if !stream {
        return Ok(json(200, &body(done)));
    }
    let format = ConverseEvents;
    let mut body = Vec::new();
    let deltas = deltas(&done.text).into_iter().map(|d| format.delta(d));
    for frame in format
        .opening()
        .into_iter()
        .chain(deltas)
        .chain(format.closing(done))
    {
        body.extend(frame?);
    }
    Ok(response(200, "application/vnd.amazon.eventstream", body))
}

//! Converse and ConverseStream answers: one JSON document, or `messageStart`,
//! `contentBlockDelta`s, `contentBlockStop`, `messageStop` and `metadata` events.

use super::super::eventstream;
use super::super::wire::{json, response, AwsError, Outcome};
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

/// ConverseStream from a model that generates token by token: the answer's events go out as
/// `run` produces its text (a real time to first token), on a thread of their own; an error
/// after the stream started ends it with a `validationException` event, as Bedrock's streams
/// report errors mid-stream.
pub(super) fn live(
    run: impl FnOnce(&mut dyn FnMut(&str)) -> Result<Completion, AwsError> + Send + 'static,
) -> Outcome {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let first = eventstream::event("messageStart", br#"{"role":"assistant"}"#)?;
    let _ = tx.send(first);
    std::thread::spawn(move || {
        let send = |frame: Result<Vec<u8>, AwsError>| {
            if let Ok(frame) = frame {
                let _ = tx.send(frame);
            }
        };
        let mut on_text = |text: &str| {
            let event = json!({"contentBlockIndex": 0, "delta": {"text": text}});
            send(eventstream::event(
                "contentBlockDelta",
                event.to_string().as_bytes(),
            ));
        };
        match run(&mut on_text) {
            Ok(done) => {
                send(eventstream::event(
                    "contentBlockStop",
                    br#"{"contentBlockIndex":0}"#,
                ));
                let stop = json!({"stopReason": done.stop_reason});
                send(eventstream::event(
                    "messageStop",
                    stop.to_string().as_bytes(),
                ));
                let meta =
                    json!({"usage": usage(&done), "metrics": {"latencyMs": done.latency_ms}});
                send(eventstream::event("metadata", meta.to_string().as_bytes()));
            }
            Err(e) => {
                let body = json!({"message": e.message});
                send(eventstream::exception(
                    "validationException",
                    body.to_string().as_bytes(),
                ));
            }
        }
    });
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|frame| (Ok::<_, std::io::Error>(frame), rx))
    });
    Ok(response(
        200,
        "application/vnd.amazon.eventstream",
        axum::body::Body::from_stream(frames),
    ))
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

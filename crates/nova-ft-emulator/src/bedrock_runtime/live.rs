//! Streams from a model that generates token by token: the answer's events go out as the
//! model produces its text (a real time to first token), on a thread of their own. Each
//! operation frames its events its own way ([`LiveFormat`]): ConverseStream as typed events,
//! InvokeModelWithResponseStream as `chunk`s. An error after the stream started ends it with a
//! `validationException` event, as Bedrock's streams report errors mid-stream.

use super::super::eventstream;
use super::super::wire::{response, AwsError, HttpResponse};
use super::conversation::Completion;
use nova_ft_models::generation::Cancel;
use serde_json::json;

/// Frames: `Err` when an event could not be encoded (it is left out).
pub(super) type Frame = Result<Vec<u8>, AwsError>;

/// How one streaming operation writes its events.
pub(super) trait LiveFormat: Send + 'static {
    /// The events before any text (`messageStart`).
    fn opening(&self) -> Vec<Frame>;
    /// One piece of text as it was generated.
    fn delta(&self, text: &str) -> Frame;
    /// The events after the text: stop reason, usage.
    fn closing(&self, done: &Completion) -> Vec<Frame>;
}

/// The streaming response: `run` generates, calling its argument with each piece of text.
pub(super) fn stream(
    format: impl LiveFormat,
    run: impl FnOnce(&mut dyn FnMut(&str), Cancel) -> Result<Completion, AwsError> + Send + 'static,
) -> HttpResponse {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    // A client that disconnects drops the response body and with it the receiver: the
    // model stops generating for it.
    let client_gone = Cancel::default();
    let watch = (tx.clone(), client_gone.clone());
    let send = move |frame: Frame| {
        if let Ok(frame) = frame {
            // A client that went away has dropped the receiver; the frame has nowhere to go.
            let _ = tx.send(frame);
        }
    };
    format.opening().into_iter().for_each(&send);
    std::thread::spawn(move || {
        let mut on_text = |text: &str| {
            if watch.0.is_closed() {
                watch.1.cancel();
            }
            send(format.delta(text))
        };
        match run(&mut on_text, client_gone) {
            Ok(done) => format.closing(&done).into_iter().for_each(&send),
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
    response(
        200,
        "application/vnd.amazon.eventstream",
        axum::body::Body::from_stream(frames),
    )
}

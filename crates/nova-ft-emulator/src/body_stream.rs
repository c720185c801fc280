//! Request bodies too large to hold in memory (S3 objects and parts) reach their handler as a
//! blocking [`std::io::Read`]: the async side pumps the connection's frames into a small
//! bounded channel, the handler (on a blocking thread) reads them as they come and writes them
//! to disk, so memory stays a few frames whatever the object's size.

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use std::io::Read;
use tokio::sync::mpsc;

/// Frames in flight between the connection and the handler.
const FRAMES_IN_FLIGHT: usize = 4;

/// Why a streamed body ended early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than the {0} bytes this operation accepts")]
    TooLarge(usize),
    #[error("the connection failed while the body was read: {0}")]
    Broken(String),
}

/// What the pump sends. A body ends only with [`Frame::End`]: a channel closed without it
/// means the connection went away, and the body is incomplete, never silently short.
#[derive(Debug)]
enum Frame {
    Data(Bytes),
    End,
    Failed(BodyError),
}

/// The handler's end: a blocking reader over the frames the pump sends.
#[derive(Debug)]
pub struct BodyReader {
    frames: mpsc::Receiver<Frame>,
    current: Bytes,
    ended: bool,
}

/// The connection's end; see [`pump`].
#[derive(Debug)]
pub struct BodySender(mpsc::Sender<Frame>);

pub fn channel() -> (BodySender, BodyReader) {
    let (tx, rx) = mpsc::channel(FRAMES_IN_FLIGHT);
    (
        BodySender(tx),
        BodyReader {
            frames: rx,
            current: Bytes::new(),
            ended: false,
        },
    )
}

impl Read for BodyReader {
    /// Blocks for the next frame: call it from a blocking thread, never from async code.
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            if self.ended {
                return Ok(0);
            }
            match self.frames.blocking_recv() {
                Some(Frame::Data(frame)) => self.current = frame,
                Some(Frame::End) => self.ended = true,
                Some(Frame::Failed(e)) => return Err(std::io::Error::other(e)),
                None => {
                    let closed = BodyError::Broken("the connection closed".into());
                    return Err(std::io::Error::other(closed));
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Move the body's frames to the reader until the body ends, the reader is dropped (the
/// handler answered without reading it all), or more than `limit` bytes arrive.
pub async fn pump(body: Body, sender: BodySender, limit: usize) {
    let mut frames = body.into_data_stream();
    let mut received = 0usize;
    loop {
        let frame = match frames.next().await {
            None => Frame::End,
            Some(Err(e)) => Frame::Failed(BodyError::Broken(e.to_string())),
            Some(Ok(bytes)) => {
                received = received.saturating_add(bytes.len());
                if received > limit {
                    Frame::Failed(BodyError::TooLarge(limit))
                } else {
                    Frame::Data(bytes)
                }
            }
        };
        let last = !matches!(frame, Frame::Data(_));
        if sender.0.send(frame).await.is_err() || last {
            return;
        }
    }
}

/// The reason a read from a [`BodyReader`] failed, if it was the body's.
pub fn body_error(error: &std::io::Error) -> Option<&BodyError> {
    error.get_ref().and_then(|e| e.downcast_ref::<BodyError>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_arrive_in_order_and_a_limit_ends_the_body() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let chunks = || {
            let frames: Vec<Result<Bytes, std::io::Error>> =
                vec![Ok(Bytes::from("hello ")), Ok(Bytes::from("world"))];
            futures_util::stream::iter(frames)
        };
        let body = Body::from_stream(chunks());
        let (sender, mut reader) = channel();
        let pumping = std::thread::spawn(move || runtime.block_on(pump(body, sender, 100)));
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        pumping.join().unwrap();
        assert_eq!(text, "hello world");

        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let body = Body::from_stream(chunks());
        let (sender, mut reader) = channel();
        let pumping = std::thread::spawn(move || runtime.block_on(pump(body, sender, 8)));
        let error = reader.read_to_end(&mut Vec::new()).unwrap_err();
        pumping.join().unwrap();
        assert_eq!(body_error(&error), Some(&BodyError::TooLarge(8)));

        // A pump that goes away mid-body (the connection dropped) is an error, not an end.
        let (sender, mut reader) = channel();
        drop(sender);
        let error = reader.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(matches!(body_error(&error), Some(BodyError::Broken(_))));
    }
}

//! The AWS event-stream framing ConverseStream answers with (`application/vnd.amazon.eventstream`),
//! written by `aws-smithy-eventstream`, the crate the AWS SDKs read it with: lengths and
//! CRCs come out right, and a header or payload too long for the format is an error, not a
//! truncated length.

use super::wire::AwsError;
use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};

/// One event frame with string headers `:message-type`, `:event-type`, `:content-type`.
pub fn event(event_type: &str, payload: &[u8]) -> Result<Vec<u8>, AwsError> {
    frame("event", ":event-type", event_type, payload)
}

/// A modelled exception frame (`:exception-type`), e.g. `throttlingException`.
pub fn exception(exception_type: &str, payload: &[u8]) -> Result<Vec<u8>, AwsError> {
    frame("exception", ":exception-type", exception_type, payload)
}

fn frame(
    message_type: &'static str,
    type_header: &'static str,
    type_value: &str,
    payload: &[u8],
) -> Result<Vec<u8>, AwsError> {
    let string = |value: &str| HeaderValue::String(value.to_string().into());
    let message = Message::new(payload.to_vec())
        .add_header(Header::new(":message-type", string(message_type)))
        .add_header(Header::new(type_header, string(type_value)))
        .add_header(Header::new(":content-type", string("application/json")));
    let mut out = Vec::with_capacity(payload.len() + 128);
    write_message_to(&message, &mut out).map_err(|e| {
        AwsError::new(
            500,
            "InternalServerException",
            format!("the emulator could not frame a {type_value} event: {e}"),
        )
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::read_message_from;

    #[test]
    fn frames_carry_lengths_and_checksums() {
        let f = event("messageStart", br#"{"role":"assistant"}"#).unwrap();
        let total = u32::from_be_bytes(f[0..4].try_into().unwrap()) as usize;
        assert_eq!(total, f.len());
        assert_eq!(
            u32::from_be_bytes(f[8..12].try_into().unwrap()),
            crc32fast::hash(&f[0..8])
        );
        assert_eq!(
            u32::from_be_bytes(f[total - 4..].try_into().unwrap()),
            crc32fast::hash(&f[..total - 4])
        );
        let message = read_message_from(&f[..]).unwrap();
        let header = |name: &str| {
            message
                .headers()
                .iter()
                .find(|h| h.name().as_str() == name)
                .and_then(|h| h.value().as_string().ok())
                .map(|s| s.as_str().to_string())
        };
        assert_eq!(header(":event-type").as_deref(), Some("messageStart"));
        assert_eq!(header(":message-type").as_deref(), Some("event"));
        assert_eq!(&message.payload()[..], br#"{"role":"assistant"}"#);
    }

    #[test]
    fn a_header_too_long_for_the_format_is_an_error_not_a_truncated_length() {
        let long = "x".repeat(70_000);
        assert!(event(&long, b"{}").is_err());
        let exception = exception("throttlingException", b"{}").unwrap();
        assert!(read_message_from(&exception[..]).is_ok());
    }
}

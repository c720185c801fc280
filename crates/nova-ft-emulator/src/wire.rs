//! Response shapes of the three AWS protocols the emulator speaks, and their error forms.
//!
//! - restJson1 (Bedrock, bedrock-runtime): JSON bodies; errors carry `x-amzn-ErrorType` and
//!   `{"message": ...}`.
//! - awsQuery (IAM, STS): `<OpResponse><OpResult>...</OpResult><ResponseMetadata>`; errors are
//!   `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
//! - restXml (S3): bare `<Error><Code/><Message/>...</Error>`; HEAD errors have no body.

use super::xml_writer::Xml;
use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode};
use chrono::{DateTime, SecondsFormat, Utc};

pub type HttpResponse = Response<Body>;

/// A failed call: the error code and HTTP status the real service uses, and a message.
#[derive(Debug, Clone)]
pub struct AwsError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra XML children for S3 errors (`<Key>`, `<BucketName>`, ...).
    pub s3_extra: Vec<(&'static str, String)>,
}

impl AwsError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        AwsError {
            status: StatusCode::from_u16(status).expect("valid status"),
            code,
            message: message.into(),
            s3_extra: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.s3_extra.push((name, value.into()));
        self
    }

    /// AWS's message, then one sentence of the emulator's own (what it accepts, say).
    pub fn with_hint(mut self, hint: &str) -> Self {
        self.message = format!("{} {hint}", self.message);
        self
    }

    // The restJson1 shapes Bedrock uses.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationException", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "ResourceNotFoundException", message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(400, "ConflictException", message)
    }
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(403, "AccessDeniedException", message)
    }
}

pub type Outcome = Result<HttpResponse, AwsError>;

/// A fresh request id: a UUID v4, as AWS's request ids are.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A random id of `len` lowercase letters and digits (Bedrock resource ids use 12).
pub fn random_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

/// ISO-8601 with milliseconds and `Z`, as Bedrock and S3 bodies use.
pub fn iso_millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// ISO-8601 to the second, as IAM and STS use.
pub fn iso_seconds(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An HTTP date (`Last-Modified`).
pub fn http_date(t: DateTime<Utc>) -> String {
    httpdate::fmt_http_date(t.into())
}

pub fn response(status: u16, content_type: &str, body: impl Into<Body>) -> HttpResponse {
    let mut response = Response::new(body.into());
    *response.status_mut() = StatusCode::from_u16(status).expect("valid status");
    if !content_type.is_empty() {
        response.headers_mut().insert(
            "content-type",
            HeaderValue::from_str(content_type).expect("ascii"),
        );
    }
    response
}

pub fn json(status: u16, value: &serde_json::Value) -> HttpResponse {
    response(status, "application/json", value.to_string())
}

pub fn json_error(error: &AwsError) -> HttpResponse {
    let mut response = json(
        error.status.as_u16(),
        &serde_json::json!({ "message": error.message }),
    );
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(error.code));
    response
}

/// A successful awsQuery response. `result` is the inner XML of `<OpResult>`; `None` for
/// operations without output (no `<OpResult>` element at all).
pub fn query_ok(
    operation: &str,
    namespace: &str,
    result: Option<Xml>,
    request_id: &str,
) -> HttpResponse {
    let response_name = format!("{operation}Response");
    let mut xml = Xml::fragment();
    xml.start_ns(&response_name, namespace);
    if let Some(result) = result {
        let result_name = format!("{operation}Result");
        xml.start(&result_name).append(result).end(&result_name);
    }
    xml.element("ResponseMetadata", |m| {
        m.leaf("RequestId", request_id);
    })
    .end(&response_name);
    response(200, "text/xml", xml.into_string())
}

pub fn query_error(error: &AwsError, namespace: &str, request_id: &str) -> HttpResponse {
    let kind = if error.status.is_server_error() {
        "Receiver"
    } else {
        "Sender"
    };
    let mut xml = Xml::fragment();
    xml.start_ns("ErrorResponse", namespace)
        .element("Error", |e| {
            e.leaf("Type", kind)
                .leaf("Code", error.code)
                .leaf("Message", &error.message);
        })
        .leaf("RequestId", request_id)
        .end("ErrorResponse");
    response(error.status.as_u16(), "text/xml", xml.into_string())
}

pub fn s3_error(error: &AwsError, request_id: &str, head: bool) -> HttpResponse {
    if head {
        return response(error.status.as_u16(), "", Body::empty());
    }
    let mut xml = Xml::document();
    xml.element("Error", |e| {
        e.leaf("Code", error.code).leaf("Message", &error.message);
        for (name, value) in &error.s3_extra {
            e.leaf(name, value);
        }
        e.leaf("RequestId", request_id).leaf("HostId", request_id);
    });
    response(error.status.as_u16(), "application/xml", xml.into_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_expected_shapes() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        let short = random_id(12);
        assert!(
            short.len() == 12
                && short
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }

    #[test]
    fn timestamps_use_aws_formats() {
        let t = DateTime::parse_from_rfc3339("2025-07-20T12:34:56.789Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(iso_millis(t), "2025-07-20T12:34:56.789Z");
        assert_eq!(iso_seconds(t), "2025-07-20T12:34:56Z");
        assert_eq!(http_date(t), "Sun, 20 Jul 2025 12:34:56 GMT");
    }
}

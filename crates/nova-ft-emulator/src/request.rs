//! One incoming AWS call, and which service it is for.
//!
//! Services are told apart the way LocalStack does it: by the SigV4 credential scope's service
//! name (`Credential=AKID/20250101/us-east-1/s3/aws4_request`), then by the path. Bedrock and
//! bedrock-runtime share the signing name `bedrock`; runtime paths start with `/model/`.
//! Bedrock API keys (`Authorization: Bearer ...`) carry no scope, so paths decide there too.

use super::body_stream::BodyReader;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use percent_encoding::percent_decode_str;
use std::io::Read;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    S3,
    Iam,
    Sts,
    Bedrock,
    BedrockRuntime,
    Lambda,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Iam => "iam",
            Service::Sts => "sts",
            Service::Bedrock => "bedrock",
            Service::BedrockRuntime => "bedrock-runtime",
            Service::Lambda => "lambda",
        }
    }
}

/// A request as the service handlers see it: method, decoded path segments, query, headers, body.
#[derive(Debug)]
pub struct AwsRequest {
    pub method: Method,
    /// The raw (still percent-encoded) path, e.g. `/model-customization-jobs/arn%3Aaws...`.
    pub raw_path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    /// The body, read whole; empty when it is streamed (see [`AwsRequest::body_reader`]).
    pub body: Bytes,
    /// An S3 object's or part's body, still arriving.
    pub stream: Mutex<Option<BodyReader>>,
    /// What the body must still satisfy for the request's signature (signed chunks).
    pub payload_check: super::sigv4::PayloadCheck,
    pub service: Service,
    /// The region of the SigV4 scope, or the emulator's default.
    pub region: String,
    /// The access key id the caller signed with, when it signed.
    pub access_key: Option<String>,
    /// When the request arrived (for `metrics.latencyMs`).
    pub received: std::time::Instant,
    /// The latency injected into this call (`--latency-ms`, with jitter): the answer is sent
    /// no sooner than this after `received`.
    pub injected_latency: std::time::Duration,
    /// Set when the client goes away before its answer was sent: a model generating it stops.
    pub client_gone: nova_ft_models::generation::Cancel,
}

impl AwsRequest {
    /// The body as a reader: the stream as it arrives, or the bytes read already. A stream
    /// can be taken once.
    pub fn body_reader(&self) -> Box<dyn Read + Send + '_> {
        match self.take_stream() {
            Some(stream) => Box::new(stream),
            None => Box::new(&self.body[..]),
        }
    }

    /// Take the streamed body (dropping it tells the connection to stop sending it).
    pub fn take_stream(&self) -> Option<BodyReader> {
        self.stream
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// The path split on `/` with each segment percent-decoded (labels such as ARNs arrive
    /// with `:` and `/` encoded, so splitting must come first).
    pub fn segments(&self) -> Vec<String> {
        self.raw_path
            .trim_start_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            // A segment that is not UTF-8 stays encoded: it names nothing, so lookups fail.
            .map(|s| decode(s).unwrap_or_else(|| s.to_string()))
            .collect()
    }

    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has_query(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The form fields of an awsQuery (IAM, STS) request: body, else query string.
    pub fn form(&self) -> Vec<(String, String)> {
        let source: &[u8] = if self.body.is_empty() {
            &[]
        } else {
            &self.body
        };
        let mut fields: Vec<(String, String)> = form_urlencoded::parse(source)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if fields.is_empty() {
            fields = self.query.clone();
        }
        fields
    }
}

/// A percent-encoded path segment, or `None` when its bytes are not UTF-8: two such names
/// must never decode to the same text (S3 refuses them).
pub fn decode(segment: &str) -> Option<String> {
    percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

/// The credential scope of a SigV4-signed request: (access key, region, service).
pub fn credential_scope(
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Option<(String, String, String)> {
    let credential = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .map(|rest| {
            rest.split([',', ' '])
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .or_else(|| {
            query
                .iter()
                .find(|(k, _)| k == "X-Amz-Credential")
                .map(|(_, v)| v.clone())
        })?;
    let mut parts = credential.split('/');
    let key = parts.next()?.to_string();
    let _date = parts.next()?;
    let region = parts.next()?.to_string();
    let service = parts.next()?.to_string();
    Some((key, region, service))
}

/// Which service a request is for, from its signing scope and its path.
pub fn route(scope_service: Option<&str>, method: &Method, raw_path: &str, body: &[u8]) -> Service {
    let bedrock_path = |p: &str| {
        p.starts_with("/foundation-models")
            || p.starts_with("/inference-profiles")
            || p.starts_with("/provisioned-model-throughput")
            || p.starts_with("/model-customization")
            || p.starts_with("/custom-models")
    };
    match scope_service {
        Some("s3") => Service::S3,
        Some("iam") => Service::Iam,
        Some("sts") => Service::Sts,
        Some("lambda") => Service::Lambda,
        Some("bedrock") if raw_path.starts_with("/model/") => Service::BedrockRuntime,
        Some("bedrock") => Service::Bedrock,
        _ if raw_path.starts_with("/model/") => Service::BedrockRuntime,
        _ if raw_path.starts_with(super::lambda::PREFIX) => Service::Lambda,
        _ if bedrock_path(raw_path) => Service::Bedrock,
        _ if *method == Method::POST && raw_path == "/" && body.starts_with(b"Action=") => {
            if body.starts_with(b"Action=GetCallerIdentity") {
                Service::Sts
            } else {
                Service::Iam
            }
        }
        _ => Service::S3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn scope_names_the_service_and_region() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=AKID/20250720/us-west-2/bedrock/aws4_request, SignedHeaders=host, Signature=abc"),
        );
        let scope = credential_scope(&headers, &[]).unwrap();
        assert_eq!(scope, ("AKID".into(), "us-west-2".into(), "bedrock".into()));
    }

    #[test]
    fn bedrock_runtime_shares_the_signing_name_and_splits_by_path() {
        let post = Method::POST;
        assert_eq!(
            route(Some("bedrock"), &post, "/model/x/converse", b""),
            Service::BedrockRuntime
        );
        assert_eq!(
            route(Some("bedrock"), &post, "/model-customization-jobs", b""),
            Service::Bedrock
        );
        assert_eq!(
            route(
                None,
                &post,
                "/",
                b"Action=GetCallerIdentity&Version=2011-06-15"
            ),
            Service::Sts
        );
        assert_eq!(route(None, &Method::GET, "/bucket/key", b""), Service::S3);
    }
}

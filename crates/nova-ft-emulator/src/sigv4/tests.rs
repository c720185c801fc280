//! Verification against signatures made by the SDK's own signer, as clients make them.

use super::*;
use crate::wire::AwsError;
use aws_credential_types::Credentials as SdkCredentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use std::time::{Duration, SystemTime};

/// Sign with the SDK's own signer, as a client would, and return the request's parts.
fn signed(
    secret: &str,
    service: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    location: SignatureLocation,
    time: SystemTime,
) -> (String, String, HeaderMap) {
    signed_by("test", secret, service, method, uri, body, location, time)
}

/// [`signed`] with another access key id.
#[allow(clippy::too_many_arguments)]
fn signed_by(
    key: &str,
    secret: &str,
    service: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    location: SignatureLocation,
    time: SystemTime,
) -> (String, String, HeaderMap) {
    let identity = SdkCredentials::new(key, secret, None, None, "t").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = location;
    settings.expires_in = Some(Duration::from_secs(300));
    if service == "s3" {
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
        settings.uri_path_normalization_mode =
            aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let headers = [("host", "127.0.0.1:4566")];
    let request = SignableRequest::new(
        method,
        uri,
        headers.into_iter(),
        // Presigned S3 URLs sign no payload, as the SDKs presign them.
        match location {
            SignatureLocation::QueryParams => SignableBody::UnsignedPayload,
            _ => SignableBody::Bytes(body),
        },
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:4566")
        .body(())
        .unwrap();
    instructions.apply_to_request_http1x(&mut req);
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    (path, query, req.headers().clone())
}

fn check_with(
    parts: &(String, String, HeaderMap),
    method: &Method,
    service: Service,
    body: Option<&[u8]>,
    now: DateTime<Utc>,
) -> Result<PayloadCheck, AwsError> {
    check_as(false, parts, method, service, body, now)
}

/// [`check_with`], refusing unknown keys when `strict`.
fn check_as(
    strict: bool,
    parts: &(String, String, HeaderMap),
    method: &Method,
    service: Service,
    body: Option<&[u8]>,
    now: DateTime<Utc>,
) -> Result<PayloadCheck, AwsError> {
    let request = SignedRequest {
        method,
        raw_path: &parts.0,
        raw_query: &parts.1,
        headers: &parts.2,
        body,
    };
    verify(&Credentials::default(), strict, &request, service, now)
}

#[test]
fn the_sdks_signatures_verify_and_a_wrong_secret_does_not() {
    let now = Utc::now();
    let uri = "http://127.0.0.1:4566/bucket/a%20b/c.jsonl?x-id=PutObject";
    let body = b"hello";
    let good = signed(
        "test",
        "s3",
        "PUT",
        uri,
        body,
        SignatureLocation::Headers,
        now.into(),
    );
    let check = check_with(&good, &Method::PUT, Service::S3, None, now).unwrap();
    assert_eq!(check, PayloadCheck::Sha256(sha256_hex(body)));
    let bad = signed(
        "nope",
        "s3",
        "PUT",
        uri,
        body,
        SignatureLocation::Headers,
        now.into(),
    );
    let error = check_with(&bad, &Method::PUT, Service::S3, None, now).unwrap_err();
    assert_eq!(error.code, "SignatureDoesNotMatch");
    let uri = "http://127.0.0.1:4566/model-customization-jobs/arn%3Aaws%3Abedrock%3Ajob%2Fx";
    let bedrock = signed(
        "test",
        "bedrock",
        "GET",
        uri,
        b"",
        SignatureLocation::Headers,
        now.into(),
    );
    check_with(&bedrock, &Method::GET, Service::Bedrock, Some(b""), now).unwrap();
    let error = check_with(&bedrock, &Method::GET, Service::Bedrock, Some(b"x"), now).unwrap_err();
    assert_eq!(error.code, "InvalidSignatureException");
}

#[test]
fn presigned_urls_verify_until_they_expire() {
    let signed_at = Utc::now();
    let url = signed(
        "test",
        "s3",
        "GET",
        "http://127.0.0.1:4566/bucket/key",
        b"",
        SignatureLocation::QueryParams,
        signed_at.into(),
    );
    check_with(&url, &Method::GET, Service::S3, None, signed_at).unwrap();
    let later = signed_at + chrono::Duration::seconds(301);
    let error = check_with(&url, &Method::GET, Service::S3, None, later).unwrap_err();
    assert_eq!(
        (error.code, error.message.as_str()),
        ("AccessDenied", "Request has expired")
    );
}

#[test]
fn unsigned_unknown_and_stale_requests_are_refused_in_each_services_shape() {
    let now = Utc::now();
    let empty = (String::from("/"), String::new(), HeaderMap::new());
    let codes: Vec<_> = [Service::S3, Service::Iam, Service::Bedrock]
        .into_iter()
        .map(|s| {
            check_with(&empty, &Method::GET, s, Some(b""), now)
                .unwrap_err()
                .code
        })
        .collect();
    assert_eq!(
        codes,
        [
            "AccessDenied",
            "MissingAuthenticationToken",
            "MissingAuthenticationTokenException"
        ]
    );
    let old = now - chrono::Duration::minutes(20);
    let stale = signed(
        "test",
        "s3",
        "GET",
        "http://127.0.0.1:4566/b",
        b"",
        SignatureLocation::Headers,
        old.into(),
    );
    let error = check_with(&stale, &Method::GET, Service::S3, None, now).unwrap_err();
    assert_eq!(error.code, "RequestTimeTooSkewed");
    let mut unknown = stale.clone();
    let auth = unknown.2["authorization"]
        .to_str()
        .unwrap()
        .replace("test/", "other/");
    unknown.2.insert("authorization", auth.parse().unwrap());
    let error = check_as(true, &unknown, &Method::GET, Service::S3, None, old).unwrap_err();
    assert_eq!(error.code, "InvalidAccessKeyId");
    assert!(error
        .message
        .ends_with("because it was started with --strict-credentials."));
}

#[test]
fn other_keys_are_checked_for_form_and_accepted_unless_strict() {
    let now = Utc::now();
    let uri = "http://127.0.0.1:4566/bucket/key.jsonl";
    let body = b"hello";
    let by_other = |location| {
        signed_by(
            "AKIAREALUSERKEY",
            "their real secret",
            "s3",
            "PUT",
            uri,
            body,
            location,
            now.into(),
        )
    };
    let header_signed = by_other(SignatureLocation::Headers);
    // The body's hash is still held to what was signed.
    let check = check_with(&header_signed, &Method::PUT, Service::S3, None, now).unwrap();
    assert_eq!(check, PayloadCheck::Sha256(sha256_hex(body)));
    check_with(
        &by_other(SignatureLocation::QueryParams),
        &Method::PUT,
        Service::S3,
        None,
        now,
    )
    .unwrap();
    let error = check_as(true, &header_signed, &Method::PUT, Service::S3, None, now).unwrap_err();
    assert_eq!(error.code, "InvalidAccessKeyId");
    // Form still counts: a signature that signs no host, or is not a signature, is refused.
    let auth = header_signed.2["authorization"]
        .to_str()
        .unwrap()
        .to_string();
    for broken in [
        auth.replace("SignedHeaders=host;", "SignedHeaders="),
        format!("{}zz", &auth[..auth.len() - 2]),
    ] {
        let mut parts = header_signed.clone();
        parts.2.insert("authorization", broken.parse().unwrap());
        let error = check_with(&parts, &Method::PUT, Service::S3, None, now).unwrap_err();
        assert_eq!(error.code, "AuthorizationHeaderMalformed", "{broken}");
    }
    // A stale request is stale whoever signed it.
    let old = now - chrono::Duration::minutes(20);
    let stale = signed_by(
        "AKIAREALUSERKEY",
        "x",
        "bedrock",
        "GET",
        "http://127.0.0.1:4566/custom-models",
        b"",
        SignatureLocation::Headers,
        old.into(),
    );
    let error = check_with(&stale, &Method::GET, Service::Bedrock, Some(b""), now).unwrap_err();
    assert_eq!(error.code, "InvalidSignatureException");
    // The known key with a wrong secret is refused, saying which secret to use.
    let wrong = signed(
        "nope",
        "bedrock",
        "GET",
        "http://127.0.0.1:4566/custom-models",
        b"",
        SignatureLocation::Headers,
        now.into(),
    );
    let error = check_with(&wrong, &Method::GET, Service::Bedrock, Some(b""), now).unwrap_err();
    assert_eq!(error.code, "InvalidSignatureException");
    assert!(error
        .message
        .contains("sign with the secret access key it was started with"));
}

#[test]
fn chunk_signatures_chain_from_the_seed() {
    let now = Utc::now();
    let key = generate_signing_key("test", now.into(), "us-east-1", "s3");
    let mut client = ChunkSigner {
        key: key.as_ref().to_vec(),
        datetime: amz_date(now),
        scope: "x/us-east-1/s3/aws4_request".into(),
        previous: "seed".into(),
    };
    let mut server = client.clone();
    let first = client.sign(
        "AWS4-HMAC-SHA256-PAYLOAD",
        &format!("{EMPTY_SHA256}\n{}", sha256_hex(b"abc")),
    );
    assert!(server.chunk(b"abc", &first));
    let last = client.sign(
        "AWS4-HMAC-SHA256-PAYLOAD",
        &format!("{EMPTY_SHA256}\n{EMPTY_SHA256}"),
    );
    assert!(!server.clone().chunk(b"x", &last));
    assert!(server.chunk(b"", &last));
}

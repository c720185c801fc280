//! Each service's answer to a request whose signature does not hold: S3's `<Error>` with its
//! extra elements, awsQuery's codes (IAM, STS), restJson1's exception names (Bedrock).

use super::MAX_SKEW_SECONDS;
use crate::request::Service;
use crate::wire::{iso_seconds, AwsError};
use chrono::{DateTime, Utc};

/// Why a request is refused; [`Failure::error`] gives each service's own shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    Missing,
    Malformed(String),
    UnknownKey(String),
    Mismatch {
        key: String,
        string_to_sign: String,
        canonical_request: String,
        provided: String,
    },
    Skewed(DateTime<Utc>),
    Expired {
        expires: DateTime<Utc>,
        /// A SigV4 URL's lifetime (SigV2 URLs give only the end).
        seconds: Option<i64>,
    },
    MissingContentSha256,
    BadContentSha256,
}

const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const BAD_TOKEN: &str = "The security token included in the request is invalid.";

pub(super) fn amz_date(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

impl Failure {
    pub(super) fn error(self, service: Service, now: DateTime<Utc>) -> AwsError {
        let server_time = iso_seconds(now);
        match (self, service) {
            (Failure::Missing, Service::S3) => AwsError::new(403, "AccessDenied", "Access Denied"),
            (Failure::Missing, Service::Iam | Service::Sts) => AwsError::new(
                403,
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            ),
            (Failure::Missing, _) => AwsError::new(
                403,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ),
            (Failure::Malformed(why), Service::S3) => AwsError::new(
                400,
                "AuthorizationHeaderMalformed",
                format!("The authorization header is malformed; {why}"),
            ),
            (Failure::Malformed(why), Service::Iam | Service::Sts) => {
                AwsError::new(400, "IncompleteSignature", why)
            }
            (Failure::Malformed(why), _) => {
                AwsError::new(403, "IncompleteSignatureException", why)
            }
            (Failure::UnknownKey(key), Service::S3) => AwsError::new(
                403,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            )
            .with("AWSAccessKeyId", key),
            (Failure::UnknownKey(_), Service::Iam | Service::Sts) => {
                AwsError::new(403, "InvalidClientTokenId", BAD_TOKEN)
            }
            (Failure::UnknownKey(_), _) => {
                AwsError::new(403, "UnrecognizedClientException", BAD_TOKEN)
            }
            (
                Failure::Mismatch {
                    key,
                    string_to_sign,
                    canonical_request,
                    provided,
                },
                Service::S3,
            ) => AwsError::new(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            )
            .with("AWSAccessKeyId", key)
            .with("StringToSign", string_to_sign)
            .with("SignatureProvided", provided)
            .with("CanonicalRequest", canonical_request),
            (Failure::Mismatch { .. }, Service::Iam | Service::Sts) => {
                AwsError::new(403, "SignatureDoesNotMatch", MISMATCH)
            }
            (Failure::Mismatch { .. }, _) => {
                AwsError::new(403, "InvalidSignatureException", MISMATCH)
            }
            (Failure::Skewed(time), Service::S3) => AwsError::new(
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            )
            .with("RequestTime", amz_date(time))
            .with("ServerTime", server_time)
            .with("MaxAllowedSkewMilliseconds", "900000"),
            (Failure::Skewed(time), service) => {
                let message = format!(
                    "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                    amz_date(time),
                    amz_date(now - chrono::Duration::seconds(MAX_SKEW_SECONDS)),
                    amz_date(now)
                );
                match service {
                    Service::Iam | Service::Sts => {
                        AwsError::new(403, "SignatureDoesNotMatch", message)
                    }
                    _ => AwsError::new(403, "InvalidSignatureException", message),
                }
            }
            (Failure::Expired { expires, seconds }, Service::S3) => {
                let error = AwsError::new(403, "AccessDenied", "Request has expired");
                match seconds {
                    Some(seconds) => error.with("X-Amz-Expires", seconds.to_string()),
                    None => error,
                }
                .with("Expires", iso_seconds(expires))
                .with("ServerTime", server_time)
            }
            (Failure::Expired { .. }, Service::Iam | Service::Sts) => {
                AwsError::new(403, "AccessDenied", "Request has expired")
            }
            (Failure::Expired { .. }, _) => {
                AwsError::new(403, "AccessDeniedException", "Request has expired")
            }
            (Failure::MissingContentSha256, _) => AwsError::new(
                400,
                "InvalidRequest",
                "Missing required header for this request: x-amz-content-sha256",
            ),
            (Failure::BadContentSha256, _) => AwsError::new(
                400,
                "InvalidArgument",
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
            ),
        }
    }
}

/// The S3 answer for a body that does not hash to its `x-amz-content-sha256`.
pub fn content_sha256_mismatch(claimed: &str, computed: &str) -> AwsError {
    AwsError::new(
        400,
        "XAmzContentSHA256Mismatch",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )
    .with("ClientComputedContentSHA256", claimed)
    .with("S3ComputedContentSHA256", computed)
}

/// The S3 answer for a chunk whose signature does not continue the chain.
pub fn chunk_signature_mismatch() -> AwsError {
    AwsError::new(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
}

//! The one table of AWS error codes: what kind of failure each is, whether another attempt
//! can succeed, and what to tell the user. The benchmark's retries and the Python exception
//! classes both read it, so the two cannot disagree.

/// What an AWS error code means for the caller. Each kind is one Python exception class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AwsErrorKind {
    /// Credentials missing, wrong or expired, or not allowed to do this.
    Auth,
    /// The named resource does not exist.
    NotFound,
    /// The resource exists, is busy, or is in the wrong state for the call.
    Conflict,
    /// Slow down: the same call succeeds later.
    Throttling,
    /// An account quota or limit was reached.
    Quota,
    /// The request's parameters or body were refused.
    Validation,
    /// The service (or the local emulator) does not serve this operation.
    Unsupported,
    /// The service or the connection to it failed.
    Service,
    /// A code this table does not know.
    Other,
}

impl AwsErrorKind {
    /// The class in `nova_ft.exceptions` for this kind.
    pub fn python_class(self) -> &'static str {
        match self {
            AwsErrorKind::Auth => "AuthError",
            AwsErrorKind::NotFound => "ResourceNotFoundError",
            AwsErrorKind::Conflict => "ConflictError",
            AwsErrorKind::Throttling => "ThrottlingError",
            AwsErrorKind::Quota => "QuotaExceededError",
            AwsErrorKind::Validation => "ServiceValidationError",
            AwsErrorKind::Unsupported => "UnsupportedOperationError",
            AwsErrorKind::Service => "ServiceError",
            AwsErrorKind::Other => "AwsError",
        }
    }

    /// What to do about it, shown under the message.
    pub fn hint(self) -> &'static str {
        match self {
            AwsErrorKind::Auth => {
                "check your credentials (aws sts get-caller-identity) and the role's policies"
            }
            AwsErrorKind::NotFound => "check the name or ARN, and the region",
            AwsErrorKind::Conflict => "the resource exists or is busy: reuse it, or wait and retry",
            AwsErrorKind::Throttling => "retry with exponential backoff, or lower the request rate",
            AwsErrorKind::Quota => "raise the quota in Service Quotas, or delete unused resources",
            AwsErrorKind::Validation => "fix the named parameter and call again",
            AwsErrorKind::Unsupported => {
                "this operation is not served here; on the local emulator, see the coverage table in docs/guide/emulator.md"
            }
            AwsErrorKind::Service => {
                "retry; if it persists, check the endpoint and the AWS Health Dashboard"
            }
            AwsErrorKind::Other => "see the AWS documentation for this error code",
        }
    }
}

use AwsErrorKind::*;

/// (code, kind, worth retrying). Codes from the services nova_ft calls, the emulator's among
/// them (a test checks that every code the emulator emits is here), and the SDK's own.
pub const AWS_ERROR_CODES: &[(&str, AwsErrorKind, bool)] = &[
    ("AccessDenied", Auth, false),
    ("AccessDeniedException", Auth, false),
    ("AccessForbidden", Auth, false),
    ("UnrecognizedClientException", Auth, false),
    ("InvalidClientTokenId", Auth, false),
    ("SignatureDoesNotMatch", Auth, false),
    ("IncompleteSignature", Auth, false),
    ("MissingAuthenticationToken", Auth, false),
    ("MissingAuthenticationTokenException", Auth, false),
    ("InvalidSignatureException", Auth, false),
    ("IncompleteSignatureException", Auth, false),
    ("AuthorizationHeaderMalformed", Auth, false),
    ("RequestTimeTooSkewed", Auth, false),
    ("ExpiredToken", Auth, false),
    ("ExpiredTokenException", Auth, false),
    ("InvalidAccessKeyId", Auth, false),
    ("Forbidden", Auth, false),
    ("NoCredentials", Auth, false),
    ("ResourceNotFoundException", NotFound, false),
    ("NoSuchEntity", NotFound, false),
    ("NoSuchBucket", NotFound, false),
    ("NoSuchKey", NotFound, false),
    ("NoSuchUpload", NotFound, false),
    ("NoSuchPublicAccessBlockConfiguration", NotFound, false),
    ("NoSuchVersion", NotFound, false),
    ("NotFound", NotFound, false),
    ("ConflictException", Conflict, false),
    ("EntityAlreadyExists", Conflict, false),
    ("BucketAlreadyOwnedByYou", Conflict, false),
    ("BucketAlreadyExists", Conflict, false),
    ("BucketNotEmpty", Conflict, false),
    ("ResourceInUseException", Conflict, false),
    ("ResourceConflictException", Conflict, false),
    ("PreconditionFailedException", Conflict, false),
    ("DeleteConflict", Conflict, false),
    ("ThrottlingException", Throttling, true),
    ("TooManyRequestsException", Throttling, true),
    ("Throttling", Throttling, true),
    ("RequestLimitExceeded", Throttling, true),
    ("SlowDown", Throttling, true),
    ("ModelNotReadyException", Throttling, true),
    ("ServiceQuotaExceededException", Quota, false),
    ("LimitExceeded", Quota, false),
    ("LimitExceededException", Quota, false),
    ("TooManyTagsException", Quota, false),
    ("ValidationException", Validation, false),
    ("ValidationError", Validation, false),
    ("InvalidInput", Validation, false),
    ("InvalidParameterValue", Validation, false),
    ("InvalidParameterValueException", Validation, false),
    ("InvalidRequestContentException", Validation, false),
    ("RequestTooLargeException", Validation, false),
    ("RequestEntityTooLargeException", Validation, false),
    ("InvalidArgument", Validation, false),
    ("InvalidRequest", Validation, false),
    ("InvalidURI", Validation, false),
    ("SerializationException", Validation, false),
    ("MalformedPolicyDocument", Validation, false),
    ("MalformedXML", Validation, false),
    ("InvalidBucketName", Validation, false),
    ("InvalidLocationConstraint", Validation, false),
    ("KeyTooLongError", Validation, false),
    ("InvalidRange", Validation, false),
    ("InvalidPart", Validation, false),
    ("InvalidPartOrder", Validation, false),
    ("EntityTooSmall", Validation, false),
    ("EntityTooLarge", Validation, false),
    ("BadDigest", Validation, false),
    ("XAmzContentSHA256Mismatch", Validation, false),
    ("InvalidDigest", Validation, false),
    ("IncompleteBody", Validation, false),
    ("InvalidAction", Unsupported, false),
    ("UnknownOperationException", Unsupported, false),
    ("NotImplemented", Unsupported, false),
    ("MethodNotAllowed", Unsupported, false),
    ("InternalServerException", Service, true),
    ("InternalFailure", Service, true),
    ("InternalError", Service, true),
    ("ServiceFailure", Service, true),
    ("ServiceUnavailable", Service, true),
    ("ServiceUnavailableException", Service, true),
    ("ServiceException", Service, true),
    ("ModelTimeoutException", Service, true),
    ("RequestTimeout", Service, true),
    ("Timeout", Service, true),
    ("ConnectionError", Service, true),
    // The model itself failed on this input: the same call fails again.
    ("ModelErrorException", Service, false),
];

/// The table's entry for `code`: (kind, worth retrying).
fn entry(code: &str) -> Option<(AwsErrorKind, bool)> {
    AWS_ERROR_CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|&(_, kind, retry)| (kind, retry))
}

/// What kind of failure `code` is.
pub fn kind_of(code: &str) -> AwsErrorKind {
    entry(code).map_or(Other, |(kind, _)| kind)
}

/// Whether another attempt of the same call can succeed: throttling, capacity, server faults,
/// timeouts. An unknown code is retried only when the service answered 5xx.
pub fn is_retryable(code: &str, status: Option<u16>) -> bool {
    match entry(code) {
        Some((_, retry)) => retry,
        None => status.is_some_and(|s| s >= 500),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::Path;

    /// Every `AwsError::new(status, "Code", ...)` in the emulator's source.
    fn emulator_codes() -> BTreeMap<String, String> {
        fn walk(dir: &Path, out: &mut BTreeMap<String, String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    // `AwsError::new(status, "Code", ...)`, and `Self::new` inside AwsError's impl.
                    let in_wire = path.ends_with("wire.rs");
                    for start in ["AwsError::new(", "Self::new("] {
                        if start == "Self::new(" && !in_wire {
                            continue;
                        }
                        for (at, _) in text.match_indices(start) {
                            let rest = &text[at + start.len()..];
                            let rest = rest[rest.find(',').unwrap() + 1..].trim_start();
                            let code = rest.strip_prefix('"').unwrap_or_else(|| {
                                panic!("{}: an error code that is not a literal", path.display())
                            });
                            let code = &code[..code.find('"').unwrap()];
                            out.insert(code.to_string(), path.display().to_string());
                        }
                    }
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../nova-ft-emulator/src"),
            &mut out,
        );
        out
    }

    #[test]
    fn every_code_the_emulator_emits_has_its_class() {
        let expected: BTreeMap<&str, &str> = [
            ("AccessDenied", "AuthError"),
            ("AccessDeniedException", "AuthError"),
            ("AccessForbidden", "AuthError"),
            ("AuthorizationHeaderMalformed", "AuthError"),
            ("IncompleteSignature", "AuthError"),
            ("IncompleteSignatureException", "AuthError"),
            ("InvalidAccessKeyId", "AuthError"),
            ("InvalidClientTokenId", "AuthError"),
            ("InvalidRequest", "ServiceValidationError"),
            ("InvalidSignatureException", "AuthError"),
            ("MissingAuthenticationToken", "AuthError"),
            ("MissingAuthenticationTokenException", "AuthError"),
            ("RequestTimeTooSkewed", "AuthError"),
            ("SignatureDoesNotMatch", "AuthError"),
            ("UnrecognizedClientException", "AuthError"),
            ("XAmzContentSHA256Mismatch", "ServiceValidationError"),
            ("BadDigest", "ServiceValidationError"),
            ("BucketAlreadyOwnedByYou", "ConflictError"),
            ("BucketNotEmpty", "ConflictError"),
            ("ConflictException", "ConflictError"),
            ("DeleteConflict", "ConflictError"),
            ("EntityAlreadyExists", "ConflictError"),
            ("LimitExceeded", "QuotaExceededError"),
            ("ResourceInUseException", "ConflictError"),
            ("ResourceConflictException", "ConflictError"),
            ("PreconditionFailedException", "ConflictError"),
            ("InvalidParameterValueException", "ServiceValidationError"),
            ("InvalidRequestContentException", "ServiceValidationError"),
            ("RequestTooLargeException", "ServiceValidationError"),
            ("RequestEntityTooLargeException", "ServiceValidationError"),
            ("ServiceException", "ServiceError"),
            ("TooManyRequestsException", "ThrottlingError"),
            ("EntityTooLarge", "ServiceValidationError"),
            ("EntityTooSmall", "ServiceValidationError"),
            ("IncompleteBody", "ServiceValidationError"),
            ("InternalError", "ServiceError"),
            ("InternalFailure", "ServiceError"),
            ("InternalServerException", "ServiceError"),
            ("InvalidAction", "UnsupportedOperationError"),
            ("InvalidArgument", "ServiceValidationError"),
            ("InvalidBucketName", "ServiceValidationError"),
            ("InvalidLocationConstraint", "ServiceValidationError"),
            ("InvalidPart", "ServiceValidationError"),
            ("InvalidPartOrder", "ServiceValidationError"),
            ("InvalidRange", "ServiceValidationError"),
            ("InvalidURI", "ServiceValidationError"),
            ("KeyTooLongError", "ServiceValidationError"),
            ("MalformedPolicyDocument", "ServiceValidationError"),
            ("MalformedXML", "ServiceValidationError"),
            ("MethodNotAllowed", "UnsupportedOperationError"),
            ("ModelErrorException", "ServiceError"),
            ("ModelNotReadyException", "ThrottlingError"),
            ("NoSuchBucket", "ResourceNotFoundError"),
            ("NoSuchEntity", "ResourceNotFoundError"),
            ("NoSuchKey", "ResourceNotFoundError"),
            (
                "NoSuchPublicAccessBlockConfiguration",
                "ResourceNotFoundError",
            ),
            ("NoSuchUpload", "ResourceNotFoundError"),
            ("NoSuchVersion", "ResourceNotFoundError"),
            ("NotImplemented", "UnsupportedOperationError"),
            ("ResourceNotFoundException", "ResourceNotFoundError"),
            ("SerializationException", "ServiceValidationError"),
            ("ServiceFailure", "ServiceError"),
            ("ServiceUnavailableException", "ServiceError"),
            ("ThrottlingException", "ThrottlingError"),
            ("UnknownOperationException", "UnsupportedOperationError"),
            ("ValidationError", "ServiceValidationError"),
            ("ValidationException", "ServiceValidationError"),
        ]
        .into_iter()
        .collect();
        let emitted = emulator_codes();
        assert!(
            emitted.len() >= 30,
            "the scan found too few codes: {emitted:?}"
        );
        for (code, file) in &emitted {
            let want = expected.get(code.as_str()).unwrap_or_else(|| {
                panic!("{file} emits {code}: add it to AWS_ERROR_CODES and to this test")
            });
            assert_eq!(kind_of(code).python_class(), *want, "{code}");
        }
    }

    #[test]
    fn retries_follow_the_kind_and_unknown_codes_follow_the_status() {
        assert!(is_retryable("ThrottlingException", Some(429)));
        assert!(is_retryable("ServiceUnavailableException", Some(503)));
        assert!(!is_retryable("ModelErrorException", Some(424)));
        assert!(!is_retryable("ValidationException", Some(400)));
        assert!(is_retryable("SomethingNew", Some(502)));
        assert!(!is_retryable("SomethingNew", Some(400)));
        assert_eq!(kind_of("SomethingNew"), AwsErrorKind::Other);
        let mut seen = std::collections::HashSet::new();
        for (code, kind, retry) in AWS_ERROR_CODES {
            assert!(seen.insert(code), "{code} is listed twice");
            assert!(!retry || matches!(kind, Throttling | Service), "{code}");
        }
    }
}

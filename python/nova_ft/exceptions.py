"""Every error nova_ft raises derives from :class:`NovaFtError`.

Catch ``NovaFtError`` to handle anything from nova_ft; catch a subclass to handle one kind.
Subclasses also derive from the matching built-in (``ValueError``, ``OSError``) so code that
already catches those keeps working.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._issue import Issue

__all__ = [
    "AuthError",
    "AwsError",
    "ConflictError",
    "DataFileError",
    "DatasetValidationError",
    "DeploymentFailedError",
    "InvalidParameterError",
    "Issue",
    "JobFailedError",
    "NovaFtError",
    "QuotaExceededError",
    "ResourceNotFoundError",
    "ServiceError",
    "ServiceValidationError",
    "ThrottlingError",
]


class NovaFtError(Exception):
    """Root of nova_ft's errors.

    Attributes:
        message: what went wrong and what to do.
        code: the AWS error code, when the error came from an AWS (or emulator) call.
        request_id: the AWS request id, to quote to AWS support.
        hint: a suggestion for fixing it, when there is one beyond the message.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id
        self.hint = hint

    def __str__(self) -> str:
        text = self.message
        if self.code:
            text += f" [{self.code}]"
        if self.request_id:
            text += f" (request id {self.request_id})"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class InvalidParameterError(NovaFtError, ValueError):
    """An argument cannot work: an unknown option, a ratio out of range, a bad name."""


class DatasetValidationError(NovaFtError, ValueError):
    """Training data breaks Bedrock's rules. Nothing was uploaded or written.

    Attributes:
        issues: every problem found (up to the cap), each with file, line, field and message.
        omitted: how many more problems were counted but not listed.
    """

    def __init__(
        self, message: str, issues: Iterable[Issue | dict[str, Any]] = (), omitted: int = 0
    ) -> None:
        super().__init__(message)
        self.issues: list[Issue] = [
            i if isinstance(i, Issue) else Issue.from_dict(i) for i in issues
        ]
        self.omitted = omitted


class DataFileError(NovaFtError, OSError):
    """A data file could not be read or written (missing, unreadable, no permission)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        NovaFtError.__init__(self, message)
        self.path = path


class AwsError(NovaFtError):
    """An AWS call (or the local emulator's answer to one) failed.

    Attributes:
        operation: the API operation, e.g. ``CreateModelCustomizationJob``.
        status: the HTTP status, when a response arrived.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        hint: str | None = None,
        operation: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, request_id=request_id, hint=hint)
        self.operation = operation
        self.status = status


class AuthError(AwsError):
    """Credentials are missing, wrong or expired, or not allowed to do this."""


class ResourceNotFoundError(AwsError):
    """The named resource does not exist (job, model, deployment, role, bucket, key)."""


class ConflictError(AwsError):
    """The resource exists already, is in use, or is in the wrong state for this call."""


class ThrottlingError(AwsError):
    """AWS asked to slow down; retry later with backoff."""


class QuotaExceededError(AwsError):
    """An account quota or limit was reached."""


class ServiceValidationError(AwsError, ValueError):
    """AWS rejected the request's parameters."""


class ServiceError(AwsError):
    """AWS (or the connection to it) failed; the request may succeed if retried."""


class JobFailedError(NovaFtError):
    """A customization job ended Failed or Stopped.

    Attributes:
        job_name: the job.
        status: ``Failed`` or ``Stopped``.
        failure_message: Bedrock's own explanation (for example the data file and line).
    """

    def __init__(
        self,
        message: str,
        *,
        job_name: str,
        status: str,
        failure_message: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.job_name = job_name
        self.status = status
        self.failure_message = failure_message


class DeploymentFailedError(NovaFtError):
    """A custom model deployment ended Failed instead of Active."""


#: (error class, codes, what to do) - the one place AWS codes meet nova_ft's errors.
_AWS_CODES: list[tuple[type[AwsError], set[str], str]] = [
    (
        AuthError,
        {
            "AccessDenied",
            "AccessDeniedException",
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidAccessKeyId",
            "Forbidden",
            "NoCredentials",
        },
        "check your credentials (aws sts get-caller-identity) and the role's policies",
    ),
    (
        ResourceNotFoundError,
        {
            "ResourceNotFoundException",
            "NoSuchEntity",
            "NoSuchBucket",
            "NoSuchKey",
            "NotFound",
            "NoSuchUpload",
        },
        "check the name or ARN, and the region",
    ),
    (
        ConflictError,
        {
            "ConflictException",
            "EntityAlreadyExists",
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
            "ResourceInUseException",
            "DeleteConflict",
        },
        "the resource exists or is busy: reuse it, or wait and retry",
    ),
    (
        ThrottlingError,
        {
            "ThrottlingException",
            "TooManyRequestsException",
            "Throttling",
            "SlowDown",
            "ModelNotReadyException",
        },
        "retry with exponential backoff, or lower the request rate",
    ),
    (
        QuotaExceededError,
        {"ServiceQuotaExceededException", "LimitExceeded", "TooManyTagsException"},
        "raise the quota in Service Quotas, or delete unused resources",
    ),
    (
        ServiceValidationError,
        {
            "ValidationException",
            "ValidationError",
            "InvalidInput",
            "MalformedPolicyDocument",
            "InvalidBucketName",
            "SerializationException",
            "InvalidParameterValue",
        },
        "fix the named parameter and call again",
    ),
    (
        ServiceError,
        {
            "InternalServerException",
            "ServiceUnavailableException",
            "InternalError",
            "ServiceFailure",
            "ConnectionError",
            "ModelTimeoutException",
        },
        "retry; if it persists, check the endpoint and the AWS Health Dashboard",
    ),
]


def aws_error(
    operation: str, code: str, message: str, request_id: str | None, status: int | None
) -> AwsError:
    """The exception for an AWS error code (used by the native module)."""
    cls, hint = next(
        ((cls, hint) for cls, codes, hint in _AWS_CODES if code in codes),
        (AwsError, "see the AWS documentation for this error code"),
    )
    return cls(
        f"{operation} failed: {message}",
        code=code,
        request_id=request_id,
        hint=hint,
        operation=operation,
        status=status,
    )

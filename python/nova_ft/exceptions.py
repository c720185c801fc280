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
    "DatasetUnavailableError",
    "DatasetValidationError",
    "DeploymentFailedError",
    "EmulatorError",
    "InternalError",
    "InvalidParameterError",
    "Issue",
    "JobFailedError",
    "NovaFtError",
    "OperationCancelledError",
    "QuotaExceededError",
    "ResourceNotFoundError",
    "RewardFunctionError",
    "ServiceError",
    "ServiceValidationError",
    "ThrottlingError",
    "UnsupportedOperationError",
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


class DatasetUnavailableError(NovaFtError, OSError):
    """A data set of :mod:`nova_ft.datasets` could not be had: not in ``NOVA_FT_DATA``, the
    download failed (offline?), or what arrived does not match its pinned checksum. Nothing
    partial was cached."""


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
        operation: str | None = None,
        status: int | None = None,
        **details: str | None,
    ) -> None:
        """``details``: ``code``, ``request_id`` and ``hint``, as for :class:`NovaFtError`."""
        super().__init__(message, **details)
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


class UnsupportedOperationError(ServiceValidationError):
    """The service (or the local emulator) does not serve this operation."""


class RewardFunctionError(NovaFtError, ValueError):
    """A reward function cannot grade: it does not load, raises, returns the wrong shape, or
    does not tell right answers from wrong ones. Found by ``RewardFunction.test`` before any
    job is paid for."""


class DeploymentFailedError(NovaFtError):
    """A custom model deployment ended Failed instead of Active."""


class EmulatorError(NovaFtError):
    """The local emulator cannot start (its port is taken, for example) or cannot use its data
    directory (an unreadable state file or model artifact). ``__cause__`` holds the reason."""


class OperationCancelledError(NovaFtError):
    """The work was cancelled before it finished (what it had done is kept where it says)."""


class InternalError(NovaFtError):
    """nova_ft reached a state it cannot work in: a bug (please report it with the message and
    ``__cause__``), or use from a process forked after nova_ft started its worker threads."""


#: Class names the Rust core's AWS code table uses, to their classes.
_AWS_CLASSES: dict[str, type[AwsError]] = {
    cls.__name__: cls
    for cls in (
        AwsError,
        AuthError,
        ResourceNotFoundError,
        ConflictError,
        ThrottlingError,
        QuotaExceededError,
        ServiceValidationError,
        UnsupportedOperationError,
        ServiceError,
    )
}


def aws_error(
    operation: str,
    code: str,
    message: str,
    request_id: str | None,
    status: int | None,
    class_name: str | None = None,
    hint: str | None = None,
) -> AwsError:
    """The exception for an AWS error code.

    The code's class and hint come from the one table of AWS codes in the Rust core
    (``crates/nova-ft-core/src/aws_codes.rs``), which the benchmark's retries read too.

    Examples:
        >>> type(aws_error("Converse", "ThrottlingException", "slow down", None, 429)).__name__
        'ThrottlingError'
    """
    if class_name is None or hint is None:
        from . import _nova_ft

        class_name, hint = _nova_ft.aws_error_class(code)
    cls = _AWS_CLASSES.get(class_name, AwsError)
    return cls(
        f"{operation} failed: {message}",
        code=code,
        request_id=request_id,
        hint=hint,
        operation=operation,
        status=status,
    )

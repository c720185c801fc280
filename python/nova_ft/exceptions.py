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
    "DataFileError",
    "DatasetValidationError",
    "InvalidParameterError",
    "Issue",
    "NovaFtError",
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

"""The one record of a data problem, shared by reports and exceptions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Issue:
    """A problem in a data file: where it is, which field, and what to do about it.

    ``str(issue)`` gives the ``file:line: field: message`` form that editors and CI logs link.
    """

    file: str
    line: int | None
    field: str
    message: str
    severity: str = "error"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Issue:
        return cls(
            file=str(data["file"]),
            line=data.get("line"),
            field=str(data["field"]),
            message=str(data["message"]),
            severity=str(data.get("severity", "error")),
        )

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}"

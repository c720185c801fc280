"""The one record of a data problem, shared by reports and exceptions."""

from __future__ import annotations

from typing import Any


class Issue:
    """A problem in a data file: where it is, which field, and what to do about it.

    ``str(issue)`` gives the ``file:line: field: message`` form that editors and CI logs link.
    Immutable, compared and hashed by value. (A plain class rather than a dataclass: every
    ``nova-ft`` command imports this through the exceptions, and ``dataclasses`` costs ~8 ms
    of start-up.)
    """

    __slots__ = ("field", "file", "line", "message", "severity")

    file: str
    line: int | None
    field: str
    message: str
    severity: str

    def __init__(
        self, file: str, line: int | None, field: str, message: str, severity: str = "error"
    ) -> None:
        # Set past __setattr__, which refuses every change once built.
        object.__setattr__(self, "file", file)
        object.__setattr__(self, "line", line)
        object.__setattr__(self, "field", field)
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "severity", severity)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Issue is immutable: cannot set {name!r}")

    def _key(self) -> tuple[str, int | None, str, str, str]:
        return (self.file, self.line, self.field, self.message, self.severity)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Issue) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Issue(file={self.file!r}, line={self.line!r}, field={self.field!r}, "
            f"message={self.message!r}, severity={self.severity!r})"
        )

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

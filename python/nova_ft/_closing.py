"""``with`` support for objects that hold something to release (an emulator, a session)."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

_C = TypeVar("_C", bound="Closing")


class Closing:
    """Leaving a ``with`` block calls :meth:`close`, whatever ended the block."""

    def close(self) -> None:
        """Release what this object holds (idempotent)."""
        raise NotImplementedError

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

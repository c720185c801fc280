"""One implementation of every workflow step, run sync or async.

Each step is written once, as a generator that yields what it needs done (a core call such as
``{"op": "describe_job", "job": name}``, or a :class:`Sleep`) and receives the result. The
sync driver runs the calls with the GIL released (Ctrl-C interrupts them) and sleeps with
``time.sleep``; the async driver awaits the same calls on the shared tokio runtime and sleeps
with ``asyncio.sleep``. So the two APIs cannot drift apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from . import _nova_ft

T = TypeVar("T")


@dataclass(frozen=True)
class Sleep:
    """Wait this long before the next call."""

    seconds: float


Need = dict[str, Any] | Sleep
Steps = Generator[Need, Any, T]


def call(op: str, **args: Any) -> dict[str, Any]:
    """A core call as data (see ``src/workflow/calls.rs`` for the operations)."""
    return {"op": op, **args}


def run(core: _nova_ft.SessionCore, steps: Steps[T]) -> T:
    """Drive ``steps`` to completion, blocking."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            need = steps.throw(error) if error is not None else steps.send(result)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        result, error = None, None
        try:
            if isinstance(need, Sleep):
                time.sleep(need.seconds)
            else:
                result = core.call(need)
        except KeyboardInterrupt:
            steps.close()
            raise
        except Exception as exc:
            error = exc


async def run_async(core: _nova_ft.SessionCore, steps: Steps[T]) -> T:
    """Drive ``steps`` to completion on the running event loop."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            need = steps.throw(error) if error is not None else steps.send(result)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        result, error = None, None
        try:
            if isinstance(need, Sleep):
                await asyncio.sleep(need.seconds)
            else:
                result = await core.call_async(need)
        except asyncio.CancelledError:
            steps.close()
            raise
        except Exception as exc:
            error = exc

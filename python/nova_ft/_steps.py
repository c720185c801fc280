"""One implementation of every workflow step, run sync or async.

Each step is written once, as a generator that yields what it needs done (a
:class:`~nova_ft._nova_ft.Pending` call from the session's core, such as
``core.describe_job(name)``, or a :class:`Sleep`) and receives the result. The sync driver
waits on each call with the GIL released (Ctrl-C interrupts it) and sleeps with ``time.sleep``;
the async driver awaits the same call as a real future on the shared tokio runtime and sleeps
with ``asyncio.sleep``. So the two APIs cannot drift apart.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from ._nova_ft import Pending

T = TypeVar("T")


@dataclass(frozen=True)
class Sleep:
    """Wait this long before the next call."""

    seconds: float


Need = Pending[Any] | Sleep
#: A step: yields calls and sleeps, receives their results, returns a ``T``. The values
#: sent back are the results of the ``Pending`` calls, typed where they are received.
Steps = Generator[Need, Any, T]


async def _drive(steps: Steps[T], execute: Callable[[Need], Awaitable[Any]]) -> T:
    """The one driver: feed each need's result (or error) back into the step until it returns.

    ``run`` executes needs blocking, so this coroutine never suspends and completes on its
    first ``send``; ``run_async`` awaits them on the event loop.
    """
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            need = steps.throw(error) if error is not None else steps.send(result)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        result, error = None, None
        try:
            result = await execute(need)
        except (KeyboardInterrupt, _cancelled_error()):
            steps.close()
            raise
        except Exception as exc:
            error = exc


def _cancelled_error() -> type[BaseException]:
    """asyncio's CancelledError once asyncio is loaded (only the async driver loads it, so
    sync use never imports asyncio); before that nothing can raise it."""
    asyncio = sys.modules.get("asyncio")
    return asyncio.CancelledError if asyncio is not None else KeyboardInterrupt


async def _blocking(need: Need) -> Any:
    if isinstance(need, Sleep):
        time.sleep(need.seconds)
        return None
    return need.wait()


async def _awaiting(need: Need) -> Any:
    import asyncio

    if isinstance(need, Sleep):
        await asyncio.sleep(need.seconds)
        return None
    return await need


def run(steps: Steps[T]) -> T:
    """Drive ``steps`` to completion, blocking (Ctrl-C interrupts a call or a sleep)."""
    driver = _drive(steps, _blocking)
    try:
        driver.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    driver.close()
    raise RuntimeError("a blocking workflow step suspended")  # _blocking never awaits


async def run_async(steps: Steps[T]) -> T:
    """Drive ``steps`` to completion on the running event loop."""
    return await _drive(steps, _awaiting)

"""One implementation of every workflow step, run sync or async.

Each step is written once, as a generator that yields what it needs done (a
:class:`~nova_ft._nova_ft.Pending` call from the session's core, such as
``core.describe_job(name)``, or a :class:`Sleep`) and receives the result. The sync driver
waits on each call with the GIL released (Ctrl-C interrupts it) and sleeps with ``time.sleep``;
the async driver awaits the same call as a real future on the shared tokio runtime and sleeps
with ``asyncio.sleep``. So the two APIs cannot drift apart.

A public step is written once, as a generator method decorated with :func:`step`, and offered
twice: ``name(...)`` runs it and returns its result, and ``name_async = async_twin(name)``
awaits it (``tests/test_architecture.py`` checks that no step lacks its twin).
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from ._nova_ft import Pending

T = TypeVar("T")
S = TypeVar("S")
P = ParamSpec("P")


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


def step(steps: Callable[Concatenate[S, P], Steps[T]]) -> Callable[Concatenate[S, P], T]:
    """A workflow step method, from its one definition as a generator: calling it drives the
    steps to their result, blocking (Ctrl-C interrupts). Pair it with :func:`async_twin`.

    Type checkers see the method return the steps' result; so do the docs
    (``docs/griffe_steps.py``). ``help()`` shows the generator's own signature.
    """

    @functools.wraps(steps)
    def sync(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return run(steps(self, *args, **kwargs))

    sync.__steps__ = steps  # type: ignore[attr-defined]
    return sync


def async_twin(
    sync: Callable[Concatenate[S, P], T],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """The coroutine twin of a :func:`step` method: the same steps, awaited on the running
    event loop (``name_async = async_twin(name)`` in the class body)."""
    steps: Callable[..., Steps[T]] = sync.__steps__  # type: ignore[attr-defined]

    @functools.wraps(steps)
    async def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await run_async(steps(self, *args, **kwargs))

    twin.__name__ = f"{steps.__name__}_async"
    twin.__qualname__ = f"{steps.__qualname__}_async"
    twin.__doc__ = f"Async twin of :meth:`{steps.__name__}`."
    twin.__twin_of__ = sync  # type: ignore[attr-defined]
    return twin

"""LoopOps for trio: its public low-level API, with trio's resource errors mapped to anyio's."""

from __future__ import annotations

import contextlib
import logging
import math
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import anyio
import trio
import trio.lowlevel

from ._choose import make_backend

__all__ = ["backend"]

T = TypeVar("T")
logger = logging.getLogger("anysubprocess")
_locals: trio.lowlevel.RunVar[dict[str, Any]] = trio.lowlevel.RunVar("anysubprocess_locals")


@contextlib.contextmanager
def _anyio_errors(action: str) -> Iterator[None]:
    """trio's resource errors as anyio's, which the rest of the package expects."""
    try:
        yield
    except trio.ClosedResourceError as exc:
        raise anyio.ClosedResourceError from exc
    except trio.BusyResourceError as exc:
        raise anyio.BusyResourceError(action) from exc


def _watcher() -> Any:
    # Imported here: the module is POSIX-only (epoll), used by the POSIX implementation.
    if sys.platform == "win32":  # pragma: no cover - the thread backend watches no fd
        raise RuntimeError("no fd watches on Windows")
    else:
        from ._trio_watcher import watcher

        return watcher()


def watcher_tasks() -> int:
    """How many exit-watcher system tasks of ours live in this run (0 or 1). The leak checks
    (anysubprocess.testing) do not count it as a task left behind: it is ours, one per run,
    and ends by itself 0.25 s after its last watch."""
    try:
        watcher = _locals.get().get("watcher")
    except LookupError:
        return 0
    return 0 if getattr(watcher, "epoll", None) is None else 1


_current_task = trio.lowlevel.current_task
# What trio.lowlevel.current_task() reads, without its Python frame: the cancel point of
# every ready call reads it (one Python call per readline() instead of two). Private: the
# cancel-point tests in tests/test_cancellation.py fail loudly if trio moves it.
_run_context: Any = getattr(getattr(trio._core, "_run", None), "GLOBAL_RUN_CONTEXT", None)


class TrioOps:
    new_event = staticmethod(trio.Event)
    checkpoint = staticmethod(trio.lowlevel.checkpoint)
    current_task = staticmethod(_current_task)

    @staticmethod
    def cancel_pending() -> bool:
        # What trio.lowlevel.checkpoint_if_cancelled() checks, without the await: 0.09 us
        # against 0.3 us (private attributes: the cancel-point tests in
        # tests/test_cancellation.py fail loudly if they change). A pending KeyboardInterrupt
        # is not looked at: it arrives at the next yield, at most YIELD_EVERY calls on.
        try:
            return bool(_run_context.task._cancel_status.effectively_cancelled)
        except AttributeError:
            # Not in trio.run (trio's public call then raises trio's RuntimeError), or trio
            # renamed its private attributes: its public answer, slower (tests/test_costs.py
            # shows it) but correct.
            return trio.current_effective_deadline() == -math.inf

    @staticmethod
    def notify_closing(fd: int) -> None:
        try:
            _watcher().remove(fd)
            trio.lowlevel.notify_closing(fd)
        except RuntimeError:  # closed outside trio.run: nobody can be waiting
            pass

    @staticmethod
    async def wait_readable(fd: int) -> None:
        with _anyio_errors("reading from"):
            await trio.lowlevel.wait_readable(fd)

    @staticmethod
    async def wait_writable(fd: int) -> None:
        with _anyio_errors("writing to"):
            await trio.lowlevel.wait_writable(fd)

    @staticmethod
    def call_when_readable(fd: int, callback: Callable[[], None]) -> None:
        _watcher().add(fd, callback)

    @staticmethod
    def claim_watch(fd: int) -> bool:
        # The watch would wake the waiter one scheduling round after the exit (the watcher
        # task runs first): let the waiter watch the fd itself.
        return bool(_watcher().remove(fd))

    @staticmethod
    def loop_local(key: str, factory: Callable[[], T]) -> T:
        try:
            values = _locals.get()
        except LookupError:
            values = {}
            _locals.set(values)
        try:
            value: T = values[key]
        except KeyError:
            value = values[key] = factory()
        return value

    @staticmethod
    def threadsafe_caller() -> Callable[[Callable[[], None]], object]:
        return trio.lowlevel.current_trio_token().run_sync_soon

    @staticmethod
    def start_background(fn: Callable[[], Awaitable[None]]) -> None:
        # A system task: not tied to the caller's nursery or cancel scope, like asyncio's
        # transports flushing after the writer's coroutine has moved on.
        trio.lowlevel.spawn_system_task(fn)


backend = make_backend("trio", TrioOps())

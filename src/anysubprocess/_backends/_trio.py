"""LoopOps for trio: its public low-level API, with trio's resource errors mapped to anyio's."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import anyio
import trio
import trio.lowlevel

from ._posix import PosixBackend

__all__ = ["backend"]

T = TypeVar("T")
logger = logging.getLogger("anysubprocess")
_locals: trio.lowlevel.RunVar[dict[str, Any]] = trio.lowlevel.RunVar("anysubprocess_locals")


def _watches() -> dict[int, object]:
    """This run's live fd watches: fd -> the token of the watch task that owns it."""
    return TrioOps.loop_local("watches", dict)


@contextlib.contextmanager
def _anyio_errors(action: str) -> Iterator[None]:
    """trio's resource errors as anyio's, which the rest of the package expects."""
    try:
        yield
    except trio.ClosedResourceError as exc:
        raise anyio.ClosedResourceError from exc
    except trio.BusyResourceError as exc:
        raise anyio.BusyResourceError(action) from exc


class TrioOps:
    new_event = staticmethod(trio.Event)
    checkpoint = staticmethod(trio.lowlevel.checkpoint)

    @staticmethod
    def notify_closing(fd: int) -> None:
        try:
            _watches().pop(fd, None)
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
        watches = _watches()
        token = watches[fd] = object()

        async def watch() -> None:
            # The task starts later: the watch may have been cancelled, the fd closed, first.
            if watches.get(fd) is not token:
                return
            try:
                await trio.lowlevel.wait_readable(fd)
            except trio.ClosedResourceError:
                return  # notify_closing: the watch was cancelled
            except Exception:  # pragma: no cover - a bug; a system task must never raise
                logger.exception("anysubprocess: the watch of fd %d failed", fd)
                return
            if watches.get(fd) is token:
                del watches[fd]
                try:
                    callback()
                except Exception:  # pragma: no cover - a bug; a system task must not raise
                    logger.exception("anysubprocess: error in the callback for fd %d", fd)

        # A system task: it outlives the caller's nursery, and trio.run cancels it at exit.
        trio.lowlevel.spawn_system_task(watch, name=f"anysubprocess watch fd {fd}")

    @staticmethod
    def claim_watch(fd: int) -> bool:
        # The watch task would wake the waiter one scheduling round later than waiting on
        # the fd directly: let the waiter watch it (a spawn-and-wait loop saves a round).
        if _watches().pop(fd, None) is None:
            return False
        trio.lowlevel.notify_closing(fd)  # wake the watch task, if it is already waiting
        return True

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
    def start_background(fn: Callable[[], Awaitable[None]]) -> None:
        # A system task: not tied to the caller's nursery or cancel scope, like asyncio's
        # transports flushing after the writer's coroutine has moved on.
        trio.lowlevel.spawn_system_task(fn)


backend = PosixBackend("trio", TrioOps())

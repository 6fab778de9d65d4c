"""LoopOps for trio: its public low-level API, with trio's resource errors mapped to anyio's."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator

import anyio
import trio
import trio.lowlevel

from ._posix import PosixBackend

__all__ = ["backend"]


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
        # Closed outside trio.run: nobody can be waiting.
        with contextlib.suppress(RuntimeError):
            trio.lowlevel.notify_closing(fd)

    @staticmethod
    async def wait_readable(fd: int) -> None:
        with _anyio_errors("reading from"):
            await trio.lowlevel.wait_readable(fd)

    @staticmethod
    async def wait_writable(fd: int) -> None:
        with _anyio_errors("writing to"):
            await trio.lowlevel.wait_writable(fd)

    @staticmethod
    def start_background(fn: Callable[[], Awaitable[None]]) -> None:
        # A system task: not tied to the caller's nursery or cancel scope, like asyncio's
        # transports flushing after the writer's coroutine has moved on.
        trio.lowlevel.spawn_system_task(fn)


backend = PosixBackend("trio", TrioOps())

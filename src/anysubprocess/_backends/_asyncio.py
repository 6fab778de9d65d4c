"""LoopOps for asyncio, and so for uvloop (any ``asyncio.AbstractEventLoop`` with add_reader)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import anyio

from ._posix import PosixBackend

__all__ = ["backend"]


class AsyncioOps:
    # anyio's fd waiters: add_reader/add_writer with a future, and notify_closing that wakes
    # a blocked waiter with ClosedResourceError. Bound once here instead of dispatching
    # through sniffio on every call.
    wait_readable = staticmethod(anyio.wait_readable)
    wait_writable = staticmethod(anyio.wait_writable)
    notify_closing = staticmethod(anyio.notify_closing)
    new_event = staticmethod(asyncio.Event)

    def __init__(self) -> None:
        # The loop keeps only weak references to tasks; hold background tasks until done.
        self._tasks: set[asyncio.Task[None]] = set()

    async def checkpoint(self) -> None:
        await asyncio.sleep(0)

    def start_background(self, fn: Callable[[], Awaitable[None]]) -> None:
        async def runner() -> None:
            await fn()

        task = asyncio.get_running_loop().create_task(runner())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


backend = PosixBackend("asyncio", AsyncioOps())

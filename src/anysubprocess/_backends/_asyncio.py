"""LoopOps for asyncio, and so for uvloop (any ``asyncio.AbstractEventLoop`` with add_reader)."""

from __future__ import annotations

import asyncio
import types
import weakref
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

import anyio

from ._choose import make_backend

__all__ = ["backend"]

_READ, _WRITE = 0, 1
T = TypeVar("T")


@types.coroutine
def _yield() -> Generator[None, None, None]:
    # What asyncio.sleep(0) does, one call less: the task reschedules itself, and a pending
    # cancellation is thrown in here.
    yield


class _LoopState:
    """What we keep per event loop: fd waits, fd watches, loop-local values."""

    __slots__ = ("locals", "waits", "watches")

    def __init__(self) -> None:
        self.waits: dict[tuple[int, int], asyncio.Future[bool]] = {}
        self.watches: dict[int, Callable[[], None]] = {}
        self.locals: dict[str, Any] = {}


def _wake(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(True)


class AsyncioOps:
    """fd readiness through ``loop.add_reader``/``add_writer``, one future per wait.

    Why not ``anyio.wait_readable``: anyio keeps its fd -> waiter table in a context
    variable, so ``notify_closing`` from another task (a Process closing a pipe that its
    background flusher waits on) does not find the waiter. The fd then closes while still
    registered with the loop; once the number is reused, asyncio's selector silently moves
    the registration and uvloop never reports the new fd (a pidfd wait that hangs was seen).
    Here the table belongs to the loop.
    """

    new_event = staticmethod(asyncio.Event)

    def __init__(self) -> None:
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        # The loop keeps only weak references to tasks; hold background tasks until done.
        # Shared by every asyncio loop in the process: under free threading these two
        # containers need a lock (docs/design.md); with the GIL each operation is atomic.
        self._tasks: set[asyncio.Task[None]] = set()

    def _state(self, loop: asyncio.AbstractEventLoop) -> _LoopState:
        state = self._states.get(loop)
        if state is None:
            state = self._states[loop] = _LoopState()
        return state

    async def _wait(self, fd: int, kind: int) -> None:
        loop = asyncio.get_running_loop()
        table = self._state(loop).waits
        key = (fd, kind)
        if key in table:
            raise anyio.BusyResourceError("reading from" if kind == _READ else "writing to")
        fut: asyncio.Future[bool] = loop.create_future()
        if kind == _READ:
            loop.add_reader(fd, _wake, fut)
        else:
            loop.add_writer(fd, _wake, fut)
        table[key] = fut  # only once registered: a failed add leaves no entry behind
        try:
            ready = await fut
        finally:
            if table.get(key) is fut:  # else notify_closing already unregistered it
                del table[key]
                if kind == _READ:
                    loop.remove_reader(fd)
                else:
                    loop.remove_writer(fd)
        if not ready:
            raise anyio.ClosedResourceError

    def wait_readable(self, fd: int) -> Awaitable[None]:
        return self._wait(fd, _READ)

    def wait_writable(self, fd: int) -> Awaitable[None]:
        return self._wait(fd, _WRITE)

    def notify_closing(self, fd: int) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # closed outside the loop: nobody can be waiting
            return
        state = self._state(loop)
        if state.watches.pop(fd, None) is not None:
            loop.remove_reader(fd)
        table = state.waits
        for kind in (_READ, _WRITE):
            fut = table.pop((fd, kind), None)
            if fut is not None:
                if kind == _READ:
                    loop.remove_reader(fd)
                else:
                    loop.remove_writer(fd)
                if not fut.done():
                    fut.set_result(False)

    def call_when_readable(self, fd: int, callback: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        watches = self._state(loop).watches

        def fire() -> None:
            if watches.pop(fd, None) is not None:
                loop.remove_reader(fd)
                callback()

        loop.add_reader(fd, fire)
        watches[fd] = fire

    def claim_watch(self, fd: int) -> bool:
        # The watch's callback wakes a waiter in the same loop iteration as its own wait
        # would: nothing to save.
        return False

    def loop_local(self, key: str, factory: Callable[[], T]) -> T:
        values = self._state(asyncio.get_running_loop()).locals
        try:
            value: T = values[key]
        except KeyError:
            value = values[key] = factory()
        return value

    async def checkpoint(self) -> None:
        await _yield()

    def threadsafe_caller(self) -> Callable[[Callable[[], None]], object]:
        return asyncio.get_running_loop().call_soon_threadsafe

    def start_background(self, fn: Callable[[], Awaitable[None]]) -> None:
        async def runner() -> None:
            await fn()

        task = asyncio.get_running_loop().create_task(runner())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


backend = make_backend("asyncio", AsyncioOps())

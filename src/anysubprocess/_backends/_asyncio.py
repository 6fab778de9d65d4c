"""LoopOps for asyncio, and so for uvloop (any ``asyncio.AbstractEventLoop`` with add_reader)."""

from __future__ import annotations

import asyncio
import math
import sys
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


if sys.version_info >= (3, 12):
    _current_task = asyncio.current_task  # in C
else:
    # asyncio.current_task() is a Python function before 3.12 (~0.4 us here): the table it
    # reads, by the C function it calls. (A private name; tests/test_cancellation.py's
    # cancel-point tests fail if it goes.)
    from asyncio.events import _get_running_loop

    _current_tasks: dict[Any, asyncio.Task[Any]] = asyncio.tasks._current_tasks  # type: ignore[attr-defined]

    def _current_task() -> asyncio.Task[Any] | None:
        return _current_tasks.get(_get_running_loop())


_modules = sys.modules
_ANYIO_ASYNCIO = "anyio._backends._asyncio"


def _no_task() -> None:
    return None


# The last task whose anyio TaskState was looked up (a weak reference to it) and that state:
# a run of ready calls comes from one task, and the WeakKeyDictionary lookup costs ~0.15 us.
# One tuple, replaced whole, so threads running loops of their own never see a torn pair.
_last_state: tuple[Callable[[], object], Any] = (_no_task, None)


def cancel_pending() -> bool:
    """Whether the current task is in a cancelled anyio cancel scope.

    asyncio itself cancels a task only while it is suspended (asyncio.timeout(), cancel()
    from elsewhere), so its ready calls need no check: asyncio's own return without one.
    anyio's scopes are the exception: a task that cancels its own scope, or enters one whose
    deadline has passed, runs on, and anyio delivers the cancellation (task.cancel()) at
    its next yield. anyio.lowlevel.checkpoint_if_cancelled() answers this, but awaited it
    costs 2.3 us, twice asyncio's whole readline(); so we read anyio's task states here,
    as its checkpoint_if_cancelled does (private names of anyio's asyncio backend: the
    cancel-point tests in tests/test_cancellation.py fail loudly if they change).
    Without anyio's asyncio backend loaded no anyio scope exists: one dict lookup.
    """
    global _last_state
    anyio_asyncio = _modules.get(_ANYIO_ASYNCIO)
    if anyio_asyncio is None:
        return False
    task = _current_task()
    if task is None:
        return False
    try:
        ref, state = _last_state
        if ref() is not task:
            state = anyio_asyncio._task_states.get(task)
            if state is None:  # not cached: anyio adds one when the task enters a scope
                return False
            _last_state = (weakref.ref(task), state)
        scope = state.cancel_scope
        while scope is not None:
            if scope._cancel_called:
                return True
            if scope._shield:
                return False
            scope = scope._parent_scope
        return False
    except AttributeError:  # pragma: no cover - anyio renamed them: its public answer
        # (slower: tests/test_costs.py's call counts show it; still correct).
        return bool(anyio.current_effective_deadline() == -math.inf)


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
        # Registered for this wait only (not kept, as asyncio's transports keep theirs):
        # the waiter holds the pipe, so its finalizer cannot close an fd the loop still
        # watches (a kept registration saved ~5% of an echo round trip, and reopened that
        # trap for a pipe dropped unclosed).
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

    cancel_pending = staticmethod(cancel_pending)
    current_task = staticmethod(_current_task)

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

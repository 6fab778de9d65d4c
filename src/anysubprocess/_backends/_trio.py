"""LoopOps for trio: its public low-level API, with trio's resource errors mapped to anyio's."""

from __future__ import annotations

import contextlib
import logging
import math
import select
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


#: How long the watcher task stays after its last watch (a loop of spawns reuses it).
_LINGER = 0.25


_HAVE_EPOLL = hasattr(select, "epoll")


class _Watcher:
    """One system task per run watches every fd given to ``call_when_readable`` through an
    epoll fd of its own: a task per child would cost a task spawn per child (the
    spawn-and-wait benchmark paid ~15% for it). Where there is no epoll, a task per fd.
    The epoll fd exists only while the task does: no fd is held between bursts of work."""

    def __init__(self) -> None:
        self.epoll: select.epoll | None = None
        self.callbacks: dict[int, Callable[[], None]] = {}
        self._scope: trio.CancelScope | None = None  # the task's wait, while it waits

    def _linger_if_idle(self) -> None:
        if self._scope is not None:
            idle = not self.callbacks
            self._scope.deadline = trio.current_time() + _LINGER if idle else math.inf

    def add(self, fd: int, callback: Callable[[], None]) -> None:
        if not _HAVE_EPOLL:  # pragma: no cover - not Linux
            self.callbacks[fd] = callback
            trio.lowlevel.spawn_system_task(self._watch_one, fd, callback)
            return
        if self.epoll is None:
            self.epoll = select.epoll()  # may raise (EMFILE): nothing registered yet
            trio.lowlevel.spawn_system_task(self._run, self.epoll, name="anysubprocess watcher")
        self.epoll.register(fd, select.EPOLLIN)
        self.callbacks[fd] = callback
        self._linger_if_idle()

    def remove(self, fd: int) -> bool:
        if self.callbacks.pop(fd, None) is None:
            return False
        if self.epoll is not None:
            self.epoll.unregister(fd)
            self._linger_if_idle()
        else:  # pragma: no cover - not Linux
            trio.lowlevel.notify_closing(fd)  # wakes _watch_one, which then returns
        return True

    def _fire(self, fd: int) -> None:
        callback = self.callbacks.pop(fd, None)
        if callback is None:
            return
        if self.epoll is not None:
            self.epoll.unregister(fd)
        try:
            callback()
        except Exception:  # pragma: no cover - a bug; a system task must never raise
            logger.exception("anysubprocess: error in the callback for fd %d", fd)

    async def _run(self, epoll: select.epoll) -> None:
        try:
            while True:
                # No deadline while anything is watched; _LINGER after the last watch went
                # (add/remove move the deadline of the wait in progress).
                with trio.CancelScope() as scope:
                    self._scope = scope
                    self._linger_if_idle()
                    await trio.lowlevel.wait_readable(epoll.fileno())
                self._scope = None
                if scope.cancelled_caught and not self.callbacks:
                    return  # nothing watched for _LINGER seconds
                for fd, _ in epoll.poll(0):
                    self._fire(fd)
        except Exception:  # pragma: no cover - a bug; a system task must never raise
            logger.exception("anysubprocess: the exit watcher failed")
        finally:
            self._scope = None
            self.epoll = None
            self.callbacks.clear()  # the run is ending (or idle: then it is empty)
            with contextlib.suppress(RuntimeError):  # outside trio.run: nobody waits on it
                trio.lowlevel.notify_closing(epoll.fileno())
            epoll.close()

    async def _watch_one(
        self, fd: int, callback: Callable[[], None]
    ) -> None:  # pragma: no cover - not Linux
        try:
            await trio.lowlevel.wait_readable(fd)
        except Exception:  # closed (remove, notify_closing), or a bug: never raise
            return
        if self.callbacks.get(fd) is callback:
            self._fire(fd)


def _watcher() -> _Watcher:
    return TrioOps.loop_local("watcher", _Watcher)


@contextlib.contextmanager
def _anyio_errors(action: str) -> Iterator[None]:
    """trio's resource errors as anyio's, which the rest of the package expects."""
    try:
        yield
    except trio.ClosedResourceError as exc:
        raise anyio.ClosedResourceError from exc
    except trio.BusyResourceError as exc:
        raise anyio.BusyResourceError(action) from exc


_current_task = trio.lowlevel.current_task
# What trio.lowlevel.current_task() reads, without its Python frame: the cancel point of
# every ready call reads it (one Python call per readline() instead of two). Private: the
# cancel-point tests in tests/test_cancellation.py fail loudly if trio moves it.
_run_context = trio._core._run.GLOBAL_RUN_CONTEXT


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
            task = _run_context.task
        except AttributeError:  # not in trio.run: current_task() raises trio's error
            task = _current_task()
        return task._cancel_status.effectively_cancelled

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
        return _watcher().remove(fd)

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

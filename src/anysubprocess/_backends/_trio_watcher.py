"""trio's side of ``LoopOps.call_when_readable``: one system task per run watches fds
through an epoll fd of its own. Used by the POSIX implementation only (the thread one
watches no fd), so imported only by it: ``select.epoll`` is no module-level name elsewhere."""

from __future__ import annotations

import contextlib
import logging
import math
import select
import sys
from collections.abc import Callable

import trio
import trio.lowlevel

# POSIX only: the thread backend (_threadchild.py) serves Windows, and _choose.py never
# imports the POSIX modules there. Type checkers skip the rest of the module for win32.
assert sys.platform != "win32"

__all__ = ["watcher"]

logger = logging.getLogger("anysubprocess")

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


def watcher() -> _Watcher:
    """The running trio run's watcher."""
    from ._trio import TrioOps

    return TrioOps.loop_local("watcher", _Watcher)

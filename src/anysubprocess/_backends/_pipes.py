"""Our ends of a child's pipes: non-blocking fds read and written on the loop's readiness."""

from __future__ import annotations

import fcntl
import os
import select
import sys
from collections.abc import Callable
from typing import IO

import anyio

from ._base import LoopOps

# POSIX only: the thread backend (_threadchild.py) serves Windows, and _choose.py never
# imports this module there. Type checkers skip the rest of the module for win32.
assert sys.platform != "win32"

__all__ = ["FdReceivePipe", "FdSendPipe"]


_BIG_PIPE = 2**20  # what grow() asks for: Linux's default /proc/sys/fs/pipe-max-size
_PIPE = 2**16  # a default Linux pipe's capacity


def _grow_pipe(fd: int) -> int:
    """Ask for a 1 MiB pipe buffer (Linux, best effort); return the pipe's capacity."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:  # pragma: no cover - not Linux
        return _PIPE
    try:
        size: int = fcntl.fcntl(fd, set_size, _BIG_PIPE)
    except OSError:  # over the per-user pipe memory limit: keep what we have
        return _PIPE
    return size


class _FdPipe:
    """Our end of a child's pipe: a non-blocking fd, owned by its ``Popen`` file object."""

    __slots__ = ("_capacity", "_fd", "_file", "_ops")

    def __init__(self, file: IO[bytes], ops: LoopOps) -> None:
        self._file = file
        self._fd = file.fileno()
        self._ops = ops
        self._capacity = 0
        os.set_blocking(self._fd, False)

    @property
    def fileobj(self) -> IO[bytes]:
        return self._file

    def grow(self) -> int:
        if not self._capacity and self._fd >= 0:
            self._capacity = _grow_pipe(self._fd)
        return self._capacity or _PIPE

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            self._ops.notify_closing(fd)  # no waiter, no registration may outlive the fd
            self._file.close()

    def __del__(self) -> None:
        # Nobody can be waiting on the fd (a waiter holds a reference to us): just close it,
        # without the "unclosed file" warning of the file object (no loop calls here).
        if self._fd >= 0:
            self._fd = -1
            self._file.close()


class FdReceivePipe(_FdPipe):
    """Read end: read first, wait for readiness only when the pipe is empty."""

    __slots__ = ()

    def receive_nowait(self, max_bytes: int) -> bytes | None:
        if self._fd < 0:
            raise anyio.ClosedResourceError
        try:
            return os.read(self._fd, max_bytes)
        except BlockingIOError:
            return None

    async def receive(self, max_bytes: int) -> bytes:
        # No yield when data is there: the reader decides when to yield (its checkpoints).
        while True:
            fd = self._fd
            if fd < 0:
                raise anyio.ClosedResourceError
            try:
                return os.read(fd, max_bytes)
            except BlockingIOError:
                await self._ops.wait_readable(fd)


class FdSendPipe(_FdPipe):
    """Write end."""

    __slots__ = ()

    def send_nowait(self, data: bytes | bytearray | memoryview) -> int:
        if self._fd < 0:
            raise anyio.ClosedResourceError
        try:
            return os.write(self._fd, data)
        except BlockingIOError:
            return 0

    async def wait_writable(self) -> None:
        if self._fd < 0:
            raise anyio.ClosedResourceError
        await self._ops.wait_writable(self._fd)

    def on_broken(self, callback: Callable[[], None]) -> None:
        pass  # writes are synchronous here: the next send_nowait() raises

    def peer_closed(self) -> bool:
        if self._fd < 0:
            return True
        poller = select.poll()
        poller.register(self._fd, 0)  # POLLERR/POLLHUP are always reported
        return bool(poller.poll(0))

"""A started child: its ``Popen``, how we learn that it exited, and signals."""

from __future__ import annotations

import os
import subprocess

import anyio
import anyio.to_thread

from ._base import EventLike, LoopOps
from ._pipes import FdReceivePipe, FdSendPipe

__all__ = ["PopenChild"]


def _wait_exited_nowait(pid: int) -> None:
    """Block (in a worker thread) until ``pid`` has exited, without reaping it.

    ``WNOWAIT`` leaves the zombie for ``Popen.poll`` on the loop thread, so a cancelled,
    abandoned thread cannot swallow the exit status.
    """
    while True:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for safety
            continue
        except ChildProcessError:
            return  # already reaped: poll() will report it
        return


def _open_pidfd(pid: int) -> int:
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:  # pragma: no cover - not Linux
        return -1
    try:
        fd: int = pidfd_open(pid)
    except OSError:  # pragma: no cover - kernel < 5.3, or seccomp
        return -1
    return fd


class PopenChild:
    """A ``subprocess.Popen`` watched through a pidfd (Linux) or a ``WNOWAIT`` thread."""

    __slots__ = ("_ops", "_pidfd", "_watching", "pid", "popen", "stderr", "stdin", "stdout")

    def __init__(self, popen: subprocess.Popen[bytes], ops: LoopOps) -> None:
        self.popen = popen
        self.pid = popen.pid
        self._ops = ops
        self._pidfd = _open_pidfd(popen.pid)
        self._watching: EventLike | None = None
        self.stdin = FdSendPipe(popen.stdin, ops) if popen.stdin is not None else None
        self.stdout = FdReceivePipe(popen.stdout, ops) if popen.stdout is not None else None
        self.stderr = FdReceivePipe(popen.stderr, ops) if popen.stderr is not None else None

    def poll(self) -> int | None:
        popen = self.popen
        rc = popen.returncode
        if rc is None:
            rc = popen.poll()
            if rc is not None and self._watching is None:
                self._close_pidfd()
        return rc

    async def wait(self) -> int:
        while (rc := self.poll()) is None:
            watching = self._watching
            if watching is not None:
                # Another task watches the pidfd (two tasks cannot wait on one fd); it sets
                # the event when it stops, exited or cancelled, and we look again.
                await watching.wait()
                continue
            event = self._watching = self._ops.new_event()
            try:
                if self._pidfd >= 0:
                    await self._ops.wait_readable(self._pidfd)
                else:  # pragma: no cover - not Linux
                    await anyio.to_thread.run_sync(
                        _wait_exited_nowait, self.pid, abandon_on_cancel=True
                    )
            finally:
                self._watching = None
                event.set()
        self._close_pidfd()
        return rc

    def send_signal(self, sig: int) -> None:
        # Popen.send_signal silently ignores a reaped child; asyncio raises.
        if self.popen.returncode is not None:
            raise ProcessLookupError  # bare, as asyncio raises it
        os.kill(self.pid, sig)

    def signal_group(self, sig: int) -> None:
        # The group outlives its reaped leader while any member lives; its id cannot be
        # reused until then, so this stays safe after the leader's exit.
        os.killpg(self.pid, sig)

    def _close_pidfd(self) -> None:
        fd, self._pidfd = self._pidfd, -1
        if fd >= 0:
            os.close(fd)

    def close(self) -> None:
        if self._watching is None:
            self._close_pidfd()

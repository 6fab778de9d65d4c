"""A started child: its ``Popen``, how its exit is noticed and reaped, and signals."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable

import anyio

from ._base import EventLike, LoopOps
from ._pipes import FdReceivePipe, FdSendPipe

__all__ = ["PopenChild", "use_pidfd"]

logger = logging.getLogger("anysubprocess")

#: asyncio's exit status for a child whose status something else took (its child watchers
#: log a warning and report 255; ``Popen.poll`` would report 0, a success that never was).
LOST_STATUS = 255

#: A test-only switch: ``ANYSUBPROCESS_NO_PIDFD=1`` makes every child use the path that
#: macOS, the BSDs, Linux < 5.3 and some sandboxes take (no ``os.pidfd_open``), so the test
#: suite can run it here too.
_FORCE_NO_PIDFD = os.environ.get("ANYSUBPROCESS_NO_PIDFD", "") not in ("", "0")


def use_pidfd() -> bool:
    """Whether children are watched through a pidfd (else: a thread each, as asyncio's
    ``ThreadedChildWatcher`` does where it has nothing better)."""
    return not _FORCE_NO_PIDFD and hasattr(os, "pidfd_open")


def _open_pidfd(pid: int) -> int:
    if not use_pidfd():
        return -1
    try:
        fd: int = os.pidfd_open(pid)
    except OSError:  # pragma: no cover - kernel < 5.3, or seccomp
        return -1
    return fd


def _status_of(info: os.waitid_result) -> int:
    # CLD_EXITED: si_status is the exit code; CLD_KILLED/CLD_DUMPED: the signal.
    if info.si_code == os.CLD_EXITED:
        return info.si_status
    return -info.si_status


def _watch_in_thread(pid: int, done_fd: int) -> None:
    """Thread body of the no-pidfd path: block until ``pid`` has exited, without reaping it
    (``WNOWAIT`` leaves the status for the loop's thread), then close ``done_fd`` so the
    loop sees the other end of the pipe readable (EOF). The thread owns ``done_fd``."""
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:
        pass  # reaped already (by us, or by something else: the loop finds out)
    finally:
        os.close(done_fd)


class PopenChild:
    """A ``subprocess.Popen`` watched from the spawn on, and reaped as soon as it exits.

    The loop watches a pidfd (Linux >= 5.3); elsewhere a thread per child waits for the exit
    without reaping and wakes the loop through a pipe. Either way the reaping itself happens
    on the loop's thread, with ``waitid``/``waitpid`` of exactly this child.
    """

    __slots__ = (
        "__weakref__",
        "_exit_callback",
        "_exited",
        "_ops",
        "_pidfd",
        "_watch_fd",
        "pid",
        "popen",
        "stderr",
        "stdin",
        "stdout",
    )

    def __init__(self, popen: subprocess.Popen[bytes], ops: LoopOps) -> None:
        self.popen = popen
        self.pid = popen.pid
        self._ops = ops
        self._exited: EventLike | None = None
        self._exit_callback: Callable[[], None] | None = None
        self.stdin = FdSendPipe(popen.stdin, ops) if popen.stdin is not None else None
        self.stdout = FdReceivePipe(popen.stdout, ops) if popen.stdout is not None else None
        self.stderr = FdReceivePipe(popen.stderr, ops) if popen.stderr is not None else None
        # The fd whose readability says "exited": the pidfd, or the read end of a pipe
        # whose write end the watcher thread closes.
        self._pidfd = self._watch_fd = _open_pidfd(popen.pid)
        if self._watch_fd < 0:
            self._watch_fd, done_fd = os.pipe()
            threading.Thread(
                target=_watch_in_thread,
                args=(self.pid, done_fd),
                name=f"anysubprocess-watch-{self.pid}",
                daemon=True,
            ).start()
        ops.call_when_readable(self._watch_fd, self._on_watch_fd)

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def _on_watch_fd(self) -> None:
        if self.poll() is None:  # pragma: no cover - a pidfd is readable only at exit
            self._ops.call_when_readable(self._watch_fd, self._on_watch_fd)

    def poll(self) -> int | None:
        popen = self.popen
        if popen.returncode is not None:
            return popen.returncode
        # Not Popen.poll(): it reports 0 for a child whose status something else reaped
        # (os.wait(), a SIGCHLD handler), and by pid it could reap a reused pid's process.
        try:
            if self._pidfd >= 0:
                info = os.waitid(os.P_PIDFD, self._pidfd, os.WEXITED | os.WNOHANG)
                if info is None:
                    return None
                rc = _status_of(info)
            else:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid == 0:
                    return None
                rc = os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            rc = LOST_STATUS
            logger.warning(
                "child process pid %d exit status already read: will report returncode 255",
                self.pid,
            )
        popen.returncode = rc
        self._finish()
        return rc

    def _finish(self) -> None:
        """The child has been reaped: stop watching, wake the waiters, run the callback."""
        fd, self._watch_fd = self._watch_fd, -1
        self._pidfd = -1
        if fd >= 0:
            self._ops.notify_closing(fd)
            os.close(fd)
        event, self._exited = self._exited, None
        if event is not None:
            event.set()
        callback, self._exit_callback = self._exit_callback, None
        if callback is not None:
            callback()

    async def wait(self) -> int:
        while (rc := self.popen.returncode) is None:
            fd = self._watch_fd
            if self._exited is None and fd >= 0 and self._ops.claim_watch(fd):
                # This task watches the fd itself; if it stops before the exit, the
                # background watch is set up again.
                try:
                    await self._ops.wait_readable(fd)
                except anyio.ClosedResourceError:
                    pass  # _finish() closed it: reaped meanwhile
                finally:
                    if self._watch_fd == fd and self.poll() is None:
                        self._ops.call_when_readable(fd, self._on_watch_fd)
                continue
            event = self._exited
            if event is None:
                event = self._exited = self._ops.new_event()
            await event.wait()
        return rc

    def set_exit_callback(self, fn: Callable[[], None]) -> None:
        if self.popen.returncode is not None:
            fn()
        else:
            self._exit_callback = fn

    def send_signal(self, sig: int) -> None:
        # Popen.send_signal silently ignores a reaped child; asyncio raises.
        if self.popen.returncode is not None:
            raise ProcessLookupError  # bare, as asyncio raises it
        os.kill(self.pid, sig)

    def signal_group(self, sig: int) -> None:
        # The group outlives its reaped leader while any member lives; its id cannot be
        # reused until then, so this stays safe after the leader's exit.
        os.killpg(self.pid, sig)

    def kill_and_forget(self) -> None:
        for pipe in (self.stdin, self.stdout, self.stderr):
            if pipe is not None:
                pipe.close()
        if self.popen.returncode is None:
            os.kill(self.pid, signal.SIGKILL)

    def __del__(self) -> None:
        # The loop is gone (or never ran the watcher): free the fd, no loop calls here. An
        # unreaped child goes to subprocess's own list of children to reap later.
        fd = getattr(self, "_watch_fd", -1)
        if fd >= 0:
            self._watch_fd = self._pidfd = -1
            os.close(fd)

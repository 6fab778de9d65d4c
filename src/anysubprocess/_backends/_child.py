"""A started child: its ``Popen``, how its exit is noticed and reaped, and signals."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

import anyio

from ._base import EventLike, LoopOps

# POSIX only: the thread backend (_threadchild.py) serves Windows, and _choose.py never
# imports this module there. Type checkers skip the rest of the module for win32.
assert sys.platform != "win32"

from ._pipes import FdReceivePipe, FdSendPipe  # noqa: E402

__all__ = ["PopenChild", "use_pidfd"]

logger = logging.getLogger("anysubprocess")

#: waitid(P_PIDFD) needs Linux 5.4; pidfd_open came in 5.3. Cleared on the first EINVAL.
_waitid_pidfd = True

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


_FOREIGN = -1_000  # "the exit status was not there to take": reported as LOST_STATUS


def _reap_in_thread(pid: int, status: list[int], done_fd: int) -> None:
    """Thread body of the no-pidfd path (as asyncio's ThreadedChildWatcher): reap ``pid``
    with a blocking ``waitpid`` (portable: macOS has no ``os.waitid``), put its exit status
    in ``status``, then close ``done_fd`` so that the loop sees the other end of the pipe
    readable (EOF) and takes the status. The thread owns ``done_fd``; in this mode only the
    thread reaps, so no one can take the status from under it but foreign code."""
    try:
        _, raw = os.waitpid(pid, 0)
        # Free-threading note: the loop reads `status` only after it saw `done_fd` closed,
        # and the close orders this append before that read (no GIL needed).
        status.append(os.waitstatus_to_exitcode(raw))
    except ChildProcessError:
        status.append(_FOREIGN)  # reaped by something else: the loop logs it, reports 255
    finally:
        os.close(done_fd)  # after the append: the loop reads the status once it sees EOF


class PopenChild:
    """A ``subprocess.Popen`` watched from the spawn on, and reaped as soon as it exits.

    The loop watches a pidfd (Linux >= 5.3) and reaps on its own thread with ``waitid`` of
    exactly this child; elsewhere a thread per child reaps it with a blocking ``waitpid`` and
    wakes the loop through a pipe (asyncio's ThreadedChildWatcher). A Process belongs to the
    loop that started it: reaping, and so ``wait()``, happen there.
    """

    __slots__ = (
        "__weakref__",
        "_exit_callback",
        "_exited",
        "_loop_thread",
        "_loop_token",
        "_ops",
        "_pidfd",
        "_thread_status",
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
        # Reaping touches loop state (fd registrations, events): only the loop's thread does
        # it; poll() from any other thread just reports what is known.
        self._loop_thread = threading.get_ident()
        self._loop_token = ops.loop_local("loop", object)
        self._thread_status: list[int] | None = None
        self._pidfd = self._watch_fd = -1
        try:
            self._watch()
        except BaseException:
            # No watch (EMFILE, say): nobody could ever reap this child. Undo the spawn, so
            # the error leaves no child and no fd behind.
            fd, self._watch_fd = self._watch_fd, -1
            self._pidfd = -1
            if fd >= 0:
                os.close(fd)
            self.kill_and_forget()
            popen.wait()  # SIGKILLed: at once (a no-pidfd thread then finds it reaped)
            raise

    def _watch(self) -> None:
        # The fd whose readability says "exited": the pidfd, or the read end of a pipe
        # whose write end the watcher thread closes.
        self._pidfd = self._watch_fd = _open_pidfd(self.pid)
        if self._watch_fd < 0:
            self._watch_fd, done_fd = os.pipe()
            status: list[int] = []
            self._thread_status = status
            threading.Thread(
                target=_reap_in_thread,
                args=(self.pid, status, done_fd),
                name=f"anysubprocess-watch-{self.pid}",
                daemon=True,
            ).start()
        self._ops.call_when_readable(self._watch_fd, self._on_watch_fd)

    @property
    def returncode(self) -> int | None:
        rc = self.popen.returncode
        if rc is None and self._thread_status:  # reaped by the thread, news not yet taken
            rc = LOST_STATUS if self._thread_status[0] == _FOREIGN else self._thread_status[0]
        return rc

    def _on_watch_fd(self) -> None:
        if self.poll() is None:  # pragma: no cover - readable only at exit
            # Never watch again an fd that stays readable (a busy loop): a pidfd or the
            # thread's pipe is readable only once the child has exited, so this is a bug.
            logger.error("anysubprocess: exit watch of pid %d fired early", self.pid)

    def poll(self) -> int | None:
        popen = self.popen
        if popen.returncode is not None or threading.get_ident() != self._loop_thread:
            return popen.returncode
        rc = self._reap_nowait()
        if rc is None:
            return None
        if rc == _FOREIGN:
            rc = LOST_STATUS
            logger.warning(
                "child process pid %d exit status already read: will report returncode 255",
                self.pid,
            )
        popen.returncode = rc
        self._finish()
        return rc

    def _reap_nowait(self) -> int | None:
        """The exit status if the child has exited (reaping it), else None; _FOREIGN if
        something else took the status. Not Popen.poll(): it reports 0 for a status that
        something else reaped (os.wait(), a SIGCHLD handler), a success that never was."""
        global _waitid_pidfd
        if self._thread_status is not None:  # the no-pidfd path: the thread reaps
            return self._thread_status[0] if self._thread_status else None
        try:
            if self._pidfd >= 0 and _waitid_pidfd:
                try:
                    info = os.waitid(os.P_PIDFD, self._pidfd, os.WEXITED | os.WNOHANG)
                except OSError as exc:  # pragma: no cover - Linux 5.3: pidfd_open, no P_PIDFD
                    if exc.errno != errno.EINVAL:
                        raise
                    _waitid_pidfd = False
                else:
                    return None if info is None else _status_of(info)
            # By pid: safe, a pid cannot be reused before its parent (we) reaped it.
            pid, raw = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return _FOREIGN
        return None if pid == 0 else os.waitstatus_to_exitcode(raw)

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
        if self.popen.returncode is None and self._ops.loop_local("loop", object) is not (
            self._loop_token
        ):
            # The exit watch lives in the loop that started the child: waiting here would
            # wait for a wake-up that never comes.
            raise RuntimeError(
                f"process {self.pid} was started in another event loop; wait for it there"
            )
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
        # Popen.send_signal silently ignores a reaped child; asyncio raises. (self.returncode:
        # without pidfd the thread may have reaped it already: its pid may be reused.)
        if self.returncode is not None:
            raise ProcessLookupError  # bare, as asyncio raises it
        os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate_group(self) -> None:
        self.signal_group(signal.SIGTERM)

    def kill_group(self) -> None:
        self.signal_group(signal.SIGKILL)

    def signal_group(self, sig: int) -> None:
        # The group outlives its reaped leader while any member lives; its id cannot be
        # reused until then, so this stays safe after the leader's exit.
        os.killpg(self.pid, sig)

    def kill_and_forget(self) -> None:
        for pipe in (self.stdin, self.stdout, self.stderr):
            if pipe is not None:
                pipe.close()
        if self.returncode is None:
            # Without pidfd the watcher thread reaps: it may have done so just now (its
            # status not yet taken), and the child is gone: nothing left to kill.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def __del__(self) -> None:
        # The loop is gone (or never ran the watcher): free the fd, no loop calls here. An
        # unreaped child goes to subprocess's own list of children to reap later.
        fd = getattr(self, "_watch_fd", -1)
        if fd >= 0:
            self._watch_fd = self._pidfd = -1
            os.close(fd)

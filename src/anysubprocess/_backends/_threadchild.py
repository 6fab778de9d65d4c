"""The thread backend: a ``Popen`` whose pipes block in worker threads, its exit waited for
by one (``WaitForSingleObject`` on Windows, a blocking ``waitpid`` elsewhere).

The implementation of the contract for Windows (on every loop: Proactor, Selector, trio),
and on POSIX when ``ANYSUBPROCESS_IO=threads`` is set (so it is tested where the fd path
runs). Nothing here needs fd readiness, a pidfd or a POSIX-only module.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from ._base import EventLike, LoopOps
from ._popenbackend import PopenBackend
from ._threadpipes import Post, ThreadReceivePipe, ThreadSendPipe
from ._workers import submit

__all__ = ["ThreadBackend", "ThreadChild"]

logger = logging.getLogger("anysubprocess")

#: asyncio's exit status for a child whose status something else took (see _child.py).
LOST_STATUS = 255
_FOREIGN = -1_000


def _wait_for_exit(popen: subprocess.Popen[bytes]) -> int:
    """In a worker thread: block until the child exits; its exit status."""
    if sys.platform == "win32":
        return popen.wait()  # WaitForSingleObject on the process handle
    else:
        # Not Popen.wait(): it reports a status something else took as 0, a success.
        try:
            _, raw = os.waitpid(popen.pid, 0)
        except ChildProcessError:
            return _FOREIGN
        return os.waitstatus_to_exitcode(raw)


#: How long the report of an exit waits at most for the child's output pipes to give what
#: the child left (a grandchild holding a pipe keeps a thread's read from returning).
DRAIN_GRACE = 0.1


class ThreadChild:
    """A ``subprocess.Popen`` whose exit a worker thread waits for from the spawn on; the
    loop learns of it through its thread-safe call. A Process belongs to the loop that
    started it.

    As on the fd path, the exit is reported (``returncode``, ``wait()``) once what the child
    left in its output pipes has been taken into the readers (up to the exit callback's
    bound) and its pipes are closed at EOF: here that needs a thread's read per chunk, so
    the report waits for those reads, or ``DRAIN_GRACE`` seconds after the exit at most
    (a grandchild that holds a pipe and is silent keeps a read blocked).
    """

    __slots__ = (
        "__weakref__",
        "_drained",
        "_exit_callback",
        "_exited",
        "_finished",
        "_in_hook",
        "_loop_token",
        "_ops",
        "_post",
        "_reported",
        "_rerun",
        "_status",
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
        self._post: Post = ops.threadsafe_caller()
        self._loop_token = ops.loop_local("loop", object)
        self._exited: EventLike | None = None
        self._exit_callback: Callable[[], None] | None = None
        self._status: int | None = None  # set by the exit thread, before it posts
        self._finished = False  # the loop knows of the exit: the pipes are being drained
        self._reported = False  # ... and reports it: returncode, wait()
        self._drained = threading.Event()  # set with _reported: the exit thread may go
        self._in_hook = self._rerun = False
        new_event = ops.new_event
        self.stdin = (
            ThreadSendPipe(popen.stdin, self._post, new_event) if popen.stdin is not None else None
        )
        self.stdout = self._receive_pipe(popen.stdout)
        self.stderr = self._receive_pipe(popen.stderr)
        try:
            submit(self._wait_in_thread)
        except BaseException:
            # No thread to watch it: nobody could ever reap this child. Undo the spawn.
            self._close_pipes()
            popen.kill()
            popen.wait()
            raise

    def _receive_pipe(self, file: Any) -> ThreadReceivePipe | None:
        if file is None:
            return None
        return ThreadReceivePipe(file, self._post, self._ops.new_event, self._settled)

    def _wait_in_thread(self) -> None:
        self._status = _wait_for_exit(self.popen)
        try:
            self._post(self._finish)
        except Exception:  # the loop is gone: returncode reports the status
            self._reported = True
            return
        if not self._drained.wait(DRAIN_GRACE):
            try:
                self._post(self._report)
            except Exception:  # the loop is gone: returncode reports the status
                self._reported = True

    @property
    def returncode(self) -> int | None:
        # Reaped by the thread (what a finalizer asks), reported to the loop or not yet.
        rc = self._status
        return LOST_STATUS if rc == _FOREIGN else rc

    def poll(self) -> int | None:
        # What the loop reports: the exit, once the pipes have given what the child left.
        if self._status is not None and not self._finished:
            try:
                current = self._ops.loop_local("loop", object)
            except Exception:  # no loop running in this thread: report only
                current = None
            if current is self._loop_token:
                self._finish()
        return self.returncode if self._reported else None

    def _finish(self) -> None:
        """On the loop: the child has exited; take what it left, then report it."""
        if self._finished:
            return
        self._finished = True
        self._settled()

    def _report(self) -> None:
        """On the loop: make the exit known (idempotent)."""
        # Not popen.returncode as the flag: on Windows Popen.wait() in the exit thread sets it.
        if self._reported:
            return
        rc = self._status
        assert rc is not None
        if rc == _FOREIGN:
            logger.warning(
                "child process pid %d exit status already read: will report returncode 255",
                self.pid,
            )
            rc = LOST_STATUS
        if self.popen.returncode is None:
            self.popen.returncode = rc
        self._reported = True
        self._drained.set()
        event, self._exited = self._exited, None
        if event is not None:
            event.set()

    def _settled(self) -> None:
        """On the loop: the child exited, or one of its output pipes had a read end or
        closed after that. The exit callback runs again (it takes what the child left):
        the pipes learn of the child's last bytes and EOF only as the threads read them.
        Once no read is under way, the exit is reported."""
        if not self._finished:
            return
        if self._in_hook:
            self._rerun = True
            return
        self._in_hook = True
        try:
            while True:
                self._rerun = False
                if self.stdin is not None and all(
                    pipe is None or pipe.at_eof() for pipe in (self.stdout, self.stderr)
                ):
                    # asyncio closes the transport, stdin with it, once the child exited and
                    # its output pipes are at EOF: no grandchild holds them.
                    self.stdin.presume_peer_closed()
                if self._exit_callback is not None:
                    self._exit_callback()
                if not self._rerun:
                    break
        finally:
            self._in_hook = False
        for pipe in (self.stdout, self.stderr):
            if pipe is not None:
                pipe.read_ahead()
        if not any(pipe is not None and pipe.reading() for pipe in (self.stdout, self.stderr)):
            self._report()

    async def wait(self) -> int:
        while not self._reported:
            if self._ops.loop_local("loop", object) is not self._loop_token:
                raise RuntimeError(
                    f"process {self.pid} was started in another event loop; wait for it there"
                )
            event = self._exited
            if event is None:
                event = self._exited = self._ops.new_event()
            await event.wait()
        rc = self.returncode
        assert rc is not None
        return rc

    def set_exit_callback(self, fn: Callable[[], None]) -> None:
        self._exit_callback = fn
        if self._finished:
            self._settled()

    # -- signals: the platform's (the thread path is an I/O strategy, not a platform) -------

    def _check_alive(self) -> None:
        # _status, not returncode: once the thread has reaped it, the pid may be reused.
        if self._status is not None:
            raise ProcessLookupError  # bare, as asyncio raises it

    def send_signal(self, sig: int) -> None:
        self._check_alive()
        if sys.platform == "win32":
            # As Popen.send_signal on Windows, and so asyncio's Windows transport.
            if sig == signal.SIGTERM:
                self.popen.terminate()
            elif sig in (signal.CTRL_C_EVENT, signal.CTRL_BREAK_EVENT):
                os.kill(self.pid, sig)
            else:
                raise ValueError(f"Unsupported signal: {sig}")
        else:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self._check_alive()
        if sys.platform == "win32":
            self.popen.terminate()  # TerminateProcess
        else:
            os.kill(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        self._check_alive()
        self._kill_now()

    def _kill_now(self) -> None:
        if sys.platform == "win32":
            self.popen.kill()  # TerminateProcess, as terminate()
        else:
            # Not Popen.kill(): its poll() could reap the child under the exit thread.
            os.kill(self.pid, signal.SIGKILL)

    def signal_group(self, sig: int) -> None:
        if sys.platform == "win32":
            # A console process group (CREATE_NEW_PROCESS_GROUP): only CTRL_BREAK_EVENT
            # reaches one (GenerateConsoleCtrlEvent ignores CTRL_C_EVENT for a group).
            if sig != signal.CTRL_BREAK_EVENT:
                raise ValueError(f"Unsupported signal for a process group: {sig}")
            try:
                os.kill(self.pid, sig)
            except OSError as exc:
                raise ProcessLookupError(str(exc)) from exc
        else:
            os.killpg(self.pid, sig)

    def terminate_group(self) -> None:
        if sys.platform == "win32":
            self.signal_group(signal.CTRL_BREAK_EVENT)
        else:
            os.killpg(self.pid, signal.SIGTERM)

    def kill_group(self) -> None:
        if sys.platform == "win32":
            # TerminateProcess reaches the leader only: its children live on (a job object
            # would reach them; docs/windows.md).
            if self._status is None:
                self._kill_now()
        else:
            os.killpg(self.pid, signal.SIGKILL)

    def _close_pipes(self) -> None:
        for pipe in (self.stdin, self.stdout, self.stderr):
            if pipe is not None:
                pipe.close()

    def kill_and_forget(self) -> None:
        self._close_pipes()
        if self._status is None:
            # The exit thread reaps it; it may have just now (closing the pipes can end a
            # child blocked on them): then there is nothing left to kill.
            with contextlib.suppress(ProcessLookupError):
                self._kill_now()


class ThreadBackend(PopenBackend[ThreadChild]):
    """The backend: :class:`ThreadChild` on one loop's :class:`LoopOps`."""

    def __init__(self, name: str, ops: LoopOps) -> None:
        super().__init__(name, ops, ThreadChild)

"""The POSIX implementation shared by every loop: we own the ``Popen`` and its pipe fds.

A loop module supplies only a :class:`LoopOps` (how to wait on an fd, yield, and start a
background task); everything here is written once. We do not use the loops' own subprocess
support: asyncio's forks on the loop thread and holds output twice, uvloop's rejects Popen
keywords and passes socketpairs as stdio, trio's has different semantics.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import IO, Any, Protocol

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar

from ._base import EventLike

__all__ = ["FdReceivePipe", "FdSendPipe", "LoopOps", "PopenChild", "PosixBackend"]


class LoopOps(Protocol):
    """What differs between event loops, and nothing else."""

    def wait_readable(self, fd: int, /) -> Awaitable[None]: ...
    def wait_writable(self, fd: int, /) -> Awaitable[None]: ...
    def notify_closing(self, fd: int, /) -> None: ...
    def checkpoint(self) -> Awaitable[None]: ...
    def start_background(self, fn: Callable[[], Awaitable[None]]) -> None: ...
    def new_event(self) -> EventLike: ...


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

    __slots__ = ("_yield_next",)

    def __init__(self, file: IO[bytes], ops: LoopOps) -> None:
        super().__init__(file, ops)
        # A read that found data without waiting did not yield to the loop. Yield before the
        # next one, so a child that writes forever cannot starve other tasks (or a timeout).
        self._yield_next = False

    def receive_nowait(self, max_bytes: int) -> bytes | None:
        if self._fd < 0:
            raise anyio.ClosedResourceError
        try:
            return os.read(self._fd, max_bytes)
        except BlockingIOError:
            return None

    async def receive(self, max_bytes: int) -> bytes:
        ops = self._ops
        if self._yield_next:
            self._yield_next = False
            await ops.checkpoint()  # before the read: a cancellation here loses nothing
        else:
            self._yield_next = True
        while True:
            fd = self._fd
            if fd < 0:
                raise anyio.ClosedResourceError
            try:
                return os.read(fd, max_bytes)
            except BlockingIOError:
                await ops.wait_readable(fd)
                self._yield_next = False


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

    def peer_closed(self) -> bool:
        if self._fd < 0:
            return True
        poller = select.poll()
        poller.register(self._fd, 0)  # POLLERR/POLLHUP are always reported
        return bool(poller.poll(0))


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


class PosixBackend:
    """The backend: :class:`PopenChild` on one loop's :class:`LoopOps`."""

    def __init__(self, name: str, ops: LoopOps) -> None:
        self.name = name
        self._ops = ops
        self.start_background = ops.start_background
        self.new_event = ops.new_event
        self.checkpoint = ops.checkpoint

    async def spawn(
        self,
        args: str | bytes | Sequence[Any],
        *,
        shell: bool,
        stdin: Any,
        stdout: Any,
        stderr: Any,
        popen_kwargs: Mapping[str, Any],
    ) -> PopenChild:
        def popen() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                args,
                shell=shell,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                bufsize=0,
                universal_newlines=False,
                **popen_kwargs,
            )

        # asyncio forks on the loop thread: a burst of spawns stalls its loop for as long as
        # all of them take. We fork inline only when no other spawn is under way and the
        # last one ended a while ago (a sequential spawn costs no thread hand-off), and
        # hand bursts to a few worker threads (see _SPAWN_THREADS).
        state = _spawn_state()
        if state.threaded == 0 and time.perf_counter() - state.last_end > _BURST_GAP:
            try:
                return PopenChild(popen(), self._ops)
            finally:
                state.last_end = time.perf_counter()
        state.threaded += 1
        try:
            return PopenChild(await _popen_in_thread(popen, state, self._ops), self._ops)
        finally:
            state.threaded -= 1
            state.last_end = time.perf_counter()


#: Spawns closer together than this (seconds) are a burst: they go to worker threads.
_BURST_GAP = 0.0002
#: Worker threads a burst may use, and spawns one thread job takes at a time. Measured with
#: 200 concurrent `true` children, pinned to one CPU (asyncio: 0.122 s, its loop stalled
#: 60 ms): 4 threads x 1 spawn 0.126 s / 3.0 ms worst stall; 4 x 2: 0.121 s / 4.3-5.1 ms;
#: 2 x 4: 0.117 s / 4.2-5.3 ms; 2 x 2: 0.121 s / 2.4-2.8 ms (chosen); 4 x 8: 17 ms stall.
#: More work per GIL-holding thread stalls the loop; batches amortise the hand-off.
_SPAWN_THREADS = 2
_SPAWN_BATCH = 2


class _SpawnJob:
    """One spawn queued for the worker threads; ``lock`` orders abandonment and hand-over."""

    __slots__ = ("abandoned", "done", "error", "popen", "start")

    def __init__(self, start: Callable[[], subprocess.Popen[bytes]], done: EventLike) -> None:
        self.start = start
        self.done = done
        self.abandoned = False
        self.popen: subprocess.Popen[bytes] | None = None
        self.error: BaseException | None = None


class _LoopSpawnState:
    """Per event loop: how spawns are going, and the queue the spawn threads work through."""

    __slots__ = ("last_end", "queue", "runners", "threaded")

    def __init__(self) -> None:
        self.last_end = 0.0
        self.threaded = 0
        self.queue: deque[_SpawnJob] = deque()
        self.runners = 0


_spawn_states: RunVar[_LoopSpawnState] = RunVar("anysubprocess_spawn_state")
_spawn_lock = threading.Lock()


def _spawn_state() -> _LoopSpawnState:
    try:
        return _spawn_states.get()
    except LookupError:
        state = _LoopSpawnState()
        _spawn_states.set(state)
        return state


async def _popen_in_thread(
    popen: Callable[[], subprocess.Popen[bytes]], state: _LoopSpawnState, ops: LoopOps
) -> subprocess.Popen[bytes]:
    """Have a spawn thread run ``popen``; if we are cancelled meanwhile, the child is killed
    and reaped (by whichever side comes second), never leaked."""
    job = _SpawnJob(popen, ops.new_event())
    state.queue.append(job)
    if state.runners < _SPAWN_THREADS:
        state.runners += 1
        ops.start_background(lambda: _run_spawn_queue(state))
    try:
        await job.done.wait()
    except BaseException:
        with _spawn_lock:
            job.abandoned = True
            orphan, job.popen = job.popen, None
        if orphan is not None:  # spawned, but the news came too late
            _kill_and_reap(orphan)
        raise
    if job.error is not None:
        raise job.error
    child, job.popen = job.popen, None
    assert child is not None
    return child


async def _run_spawn_queue(state: _LoopSpawnState) -> None:
    """A background task: hand queued spawns to a worker thread, a batch at a time."""
    batch: list[_SpawnJob] = []
    try:
        while state.queue:
            batch = [state.queue.popleft() for _ in range(min(_SPAWN_BATCH, len(state.queue)))]
            # Not abandonable: the batch's children must be handed over (or reaped).
            await anyio.to_thread.run_sync(_spawn_batch, batch)
            for job in batch:
                job.done.set()
            batch = []
    except BaseException as exc:  # the loop is shutting down: fail what is left
        for job in [*batch, *state.queue]:
            if job.popen is None and job.error is None:
                job.error = RuntimeError(f"the event loop stopped while spawning: {exc!r}")
            job.done.set()
        state.queue.clear()
        if not isinstance(exc, Exception):
            raise  # a cancellation: let the loop see it
    finally:
        state.runners -= 1


def _spawn_batch(batch: list[_SpawnJob]) -> None:
    """In a worker thread: start each job's child, unless its caller has gone."""
    for job in batch:
        with _spawn_lock:
            if job.abandoned:
                continue
        try:
            child = job.start()
        except BaseException as exc:  # FileNotFoundError & co: raised in the caller
            job.error = exc
            continue
        if not _hand_over(job, child):
            _kill_and_reap(child)  # the caller was cancelled while we forked


def _hand_over(job: _SpawnJob, child: subprocess.Popen[bytes]) -> bool:
    """Give ``child`` to the job's caller, unless it has gone (then: False)."""
    with _spawn_lock:
        if job.abandoned:
            return False
        job.popen = child
        return True


def _kill_and_reap(popen: subprocess.Popen[bytes]) -> None:
    """Dispose of a child nobody will own. SIGKILL ends it within milliseconds."""
    for pipe in (popen.stdin, popen.stdout, popen.stderr):
        if pipe is not None:
            pipe.close()
    popen.kill()
    # If it is stuck in the kernel (D state), Popen.__del__ puts it on subprocess's list
    # of children to reap later.
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(timeout=1.0)


if sys.platform == "win32":  # pragma: no cover
    raise ImportError("anysubprocess supports POSIX only for now (see docs/design.md)")

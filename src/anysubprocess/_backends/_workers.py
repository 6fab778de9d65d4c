"""Worker threads for the thread backend: one blocking call per job, a small parked pool.

A blocking read of a pipe, a blocking write, or a wait for a child's exit each holds a thread
for as long as it blocks: anonymous pipes cannot be multiplexed without fd readiness (POSIX)
or overlapped I/O (Windows, which anonymous pipes do not support). So the number of busy
threads is the number of blocked calls, and it cannot be bounded below that without
deadlock: 1,000 children each with a blocked exit wait need 1,000 threads. anyio's
``to_thread`` limiter (40 by default) would make the 41st child's exit wait behind the
first 40 exits: not usable for calls that block until a child does something.

What the pool bounds is the threads that do nothing: a worker whose job is done parks for
up to ``_LINGER`` seconds for the next job (a readline loop would otherwise pay for a thread
start per read), and at most ``MAX_IDLE`` park; the others exit at once. Daemon threads: a
worker blocked on a pipe a grandchild holds must not keep the interpreter from exiting.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

__all__ = ["MAX_IDLE", "busy_workers", "submit", "worker_threads"]

#: Idle workers kept parked at most; more than this exit as soon as their job is done.
MAX_IDLE = 8
#: Seconds an idle worker stays parked before it exits.
_LINGER = 5.0
#: Worker threads' name prefix (the test suite's leak check looks for it).
THREAD_NAME = "anysubprocess-worker"

_lock = threading.Lock()
_idle: list[_Worker] = []
_busy = 0
_count = 0


class _Worker:
    """One daemon thread: runs the job it was given, then parks (or exits)."""

    __slots__ = ("job", "wake")

    def __init__(self, job: Callable[[], None]) -> None:
        self.job: Callable[[], None] | None = job
        self.wake = threading.Event()

    def run(self) -> None:
        global _busy, _count
        while True:
            job, self.job = self.job, None
            assert job is not None
            with contextlib.suppress(BaseException):  # a job reports its own errors
                job()
            # Not kept while parked: a job holds its pipe (or child), and a pipe a dropped
            # Process leaves at EOF is closed when it goes, not 5 s later.
            job = None
            with _lock:
                _busy -= 1
                if len(_idle) >= MAX_IDLE:
                    _count -= 1
                    return
                self.wake.clear()
                _idle.append(self)
            if not self.wake.wait(_LINGER):
                with _lock:
                    if self in _idle:  # nobody picked us meanwhile: leave
                        _idle.remove(self)
                        _count -= 1
                        return
                self.wake.wait()  # picked just as we timed out: the job is being set


def submit(job: Callable[[], None]) -> None:
    """Run ``job()`` in a worker thread (a parked one, else a new one). ``job`` must not raise.

    Raises ``RuntimeError`` if no thread can be started (nothing was queued then)."""
    global _busy, _count
    with _lock:
        if _idle:
            worker = _idle.pop()
            worker.job = job
            _busy += 1
            worker.wake.set()
            return
        _busy += 1
        _count += 1
    worker = _Worker(job)
    try:
        threading.Thread(target=worker.run, name=THREAD_NAME, daemon=True).start()
    except BaseException:
        with _lock:
            _busy -= 1
            _count -= 1
        raise


def busy_workers() -> int:
    """Workers running a job now (a blocked read, write or exit wait each)."""
    return _busy


def worker_threads() -> int:
    """Worker threads alive now, busy or parked."""
    return _count

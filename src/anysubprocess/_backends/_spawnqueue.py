"""Bursts of spawns: a per-loop queue worked by background tasks in a few worker threads."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from ._base import EventLike, LoopOps

__all__ = ["SpawnState", "popen_in_thread", "spawn_state", "start_popen"]

#: What a backend does with a child whose caller was cancelled while a thread spawned it:
#: wrap it as its own child and kill it (it is then reaped in the background).
Adopt = Callable[[subprocess.Popen[bytes]], None]


#: Spawns closer together than this (seconds) are a burst: they go to worker threads.
BURST_GAP = 0.0002
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


class SpawnState:
    """Per event loop: how spawns are going, and the queue the spawn threads work through."""

    __slots__ = ("last_end", "last_task", "queue", "runners", "threaded")

    def __init__(self) -> None:
        self.last_end = 0.0
        # The task of the last spawn made inline (weakly): its next spawn is no burst.
        self.last_task: weakref.ref[Any] | None = None
        self.threaded = 0
        self.queue: deque[_SpawnJob] = deque()
        self.runners = 0


# The only state shared with the worker threads is each job's `abandoned`/`popen`, and only
# under this lock (docs/design.md, "what relies on the GIL": correct without one).
_spawn_lock = threading.Lock()


def spawn_state(ops: LoopOps) -> SpawnState:
    """The running loop's spawn state."""
    return ops.loop_local("spawn", SpawnState)


async def start_popen(
    popen: Callable[[], subprocess.Popen[bytes]], ops: LoopOps, adopt: Adopt
) -> subprocess.Popen[bytes]:
    """Run ``popen()``: inline, or during a burst of spawns in a spawn thread.

    asyncio forks on the loop thread: a burst of spawns stalls its loop for as long as all
    of them take. We fork inline only when no other spawn is under way and the last one
    ended a while ago (a sequential spawn costs no thread hand-off), and hand bursts to a
    few worker threads (see _SPAWN_THREADS). Both implementations (POSIX, threads) use it.

    One task's spawns are sequential by construction: the task that made the last inline
    spawn spawns inline again, however soon (a `true` child pinned to the loop's CPU exits
    within BURST_GAP, and 14-28% of spawn_seq's spawns went to a thread: issue #14). The
    gap only tells bursts of other tasks' spawns apart.
    """
    state = spawn_state(ops)
    task = ops.current_task()
    last = state.last_task
    same_task = task is not None and last is not None and last() is task
    if state.threaded == 0 and (same_task or time.perf_counter() - state.last_end > BURST_GAP):
        try:
            return popen()
        finally:
            state.last_end = time.perf_counter()
            state.last_task = weakref.ref(task) if task is not None else None
    state.threaded += 1
    try:
        return await popen_in_thread(popen, state, ops, adopt)
    finally:
        state.threaded -= 1
        state.last_end = time.perf_counter()


async def popen_in_thread(
    popen: Callable[[], subprocess.Popen[bytes]], state: SpawnState, ops: LoopOps, adopt: Adopt
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
        if orphan is not None:  # spawned, but the news came too late: reaped in the background
            adopt(orphan)
        raise
    if job.error is not None:
        raise job.error
    child, job.popen = job.popen, None
    assert child is not None
    return child


async def _run_spawn_queue(state: SpawnState) -> None:
    """A background task: hand queued spawns to a worker thread, a batch at a time."""
    batch: list[_SpawnJob] = []
    try:
        while state.queue:
            batch = [state.queue.popleft() for _ in range(min(_SPAWN_BATCH, len(state.queue)))]
            # Not abandonable: the batch's children must be handed over (or reaped).
            import anyio.to_thread  # here: a first spawn that is no burst does not need it

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

"""The POSIX implementation shared by every loop: we own the ``Popen`` and its pipe fds.

A loop module supplies only a :class:`LoopOps` (how to wait on an fd, yield, and start a
background task); everything here is written once. We do not use the loops' own subprocess
support: asyncio's forks on the loop thread and holds output twice, uvloop's rejects Popen
keywords and passes socketpairs as stdio, trio's has different semantics.
"""

from __future__ import annotations

import subprocess
import sys
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from ._base import LoopOps
from ._child import PopenChild
from ._spawnqueue import BURST_GAP, popen_in_thread, spawn_state

__all__ = ["PosixBackend"]


class PosixBackend:
    """The backend: :class:`PopenChild` on one loop's :class:`LoopOps`."""

    def __init__(self, name: str, ops: LoopOps) -> None:
        self.name = name
        self._ops = ops
        self.start_background = ops.start_background
        self.new_event = ops.new_event
        self.checkpoint = ops.checkpoint
        self.cancel_pending = ops.cancel_pending

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
                universal_newlines=False,
                # bufsize is 0 unless the caller gave a 0 that is no int (0.0): then Popen
                # raises its TypeError, after its own keyword checks, as under asyncio.
                **{"bufsize": 0, **popen_kwargs},
            )

        # asyncio forks on the loop thread: a burst of spawns stalls its loop for as long as
        # all of them take. We fork inline only when no other spawn is under way and the
        # last one ended a while ago (a sequential spawn costs no thread hand-off), and
        # hand bursts to a few worker threads (see _SPAWN_THREADS).
        # One task's spawns are sequential by construction: the task that made the last
        # inline spawn spawns inline again, however soon (a `true` child pinned to the
        # loop's CPU exits within BURST_GAP, and 14-28% of spawn_seq's spawns went to a
        # thread: issue #14). The gap only tells bursts of other tasks' spawns apart.
        state = spawn_state(self._ops)
        task = self._ops.current_task()
        last = state.last_task
        same_task = task is not None and last is not None and last() is task
        if state.threaded == 0 and (same_task or time.perf_counter() - state.last_end > BURST_GAP):
            try:
                return PopenChild(popen(), self._ops)
            finally:
                state.last_end = time.perf_counter()
                state.last_task = weakref.ref(task) if task is not None else None
        state.threaded += 1
        try:
            return PopenChild(await popen_in_thread(popen, state, self._ops), self._ops)
        finally:
            state.threaded -= 1
            state.last_end = time.perf_counter()


if sys.platform == "win32":  # pragma: no cover
    raise ImportError("anysubprocess supports POSIX only for now (see docs/design.md)")

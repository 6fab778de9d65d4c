"""The hot paths' cost, guarded by counts (not times): Python function calls per operation.

A ``sys.setprofile`` hook counts "call" events (a Python function, coroutine or generator
entered or resumed; C functions are not counted) around one operation. The ready paths do not
yield, so nothing but the operation runs while it is counted: the count is exact and does not
move with the machine's load. A spawn-and-wait does yield (the loop runs its own code and
other tasks meanwhile), so for it only the calls into anysubprocess's own modules count.

The limits are this work's figures (issue #14) plus a little slack; if a change makes a hot
path do more, this fails. Where a figure differs between Pythons or loops, the table says
why. Measured with ``-s``: each test prints its count.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import sniffio

import anysubprocess
from anysubprocess import PIPE, Process
from anysubprocess._backends._choose import IO

from .conftest import PY

_PACKAGE = str(Path(anysubprocess.__file__).parent)


async def _count_calls(op: Callable[[], Awaitable[Any]], *, ours_only: bool = False) -> int:
    """Python "call" events while ``op()`` runs (only anysubprocess's frames if ours_only)."""
    calls = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call" and (not ours_only or frame.f_code.co_filename.startswith(_PACKAGE)):
            calls += 1

    awaitable = op()
    sys.setprofile(profile)
    try:
        await awaitable
    finally:
        sys.setprofile(None)
    return calls


def _loop() -> str:
    return sniffio.current_async_library()


#: K: the most Python calls each operation may make, by loop: the figure measured after
#: issue #14's work on Python 3.11 plus one or two of slack. On asyncio the cancel point
#: (cancel_pending) looks up the current task: before 3.12 a Python function of ours
#: (asyncio.current_task is C from 3.12: one call less), and for a task anyio has no state
#: for (pytest's runner task) anyio's WeakKeyDictionary.get on top. On trio it reads the run
#: context directly (no call). Popen's and the loop's own calls are not in the spawn figure
#: (see the module docstring).
K: dict[str, dict[str, int]] = {
    # readline, cancel_pending (+ on asyncio: _current_task, WeakKeyDictionary.get, and
    # its helper): measured 5 (asyncio), 2 (trio)
    "readline": {"asyncio": 6, "trio": 3},
    # the test's op, write, send_nowait, drain, cancel_pending (+ the lookup as above):
    # measured 8 (asyncio), 5 (trio)
    "write+drain": {"asyncio": 9, "trio": 6},
    # wait, _wait, _enter, cancel_pending (+ lookup), poll: measured 8 (asyncio), 5 (trio)
    "wait": {"asyncio": 9, "trio": 6},
    # create_subprocess_exec ... Process, wait: measured 44-60 (asyncio, uvloop), 57-61
    # (trio): fewer when the child has exited before wait() starts, more when a spawn
    # by another task closer than BURST_GAP to the last goes to a worker thread.
    "spawn+wait": {"asyncio": 64, "trio": 66},
}


#: The thread path (ANYSUBPROCESS_IO=threads, Windows' path) where it costs more: write()
#: hands the bytes to a writer thread (the queue, the pool's submit and its hand-off):
#: measured 16-17 (asyncio), 14 (trio) on 3.11. Its other rows are within K.
K_THREADS: dict[str, dict[str, int]] = {
    "write+drain": {"asyncio": 19, "trio": 16},
}


def _limit(op: str) -> int:
    table = K_THREADS if IO == "threads" and op in K_THREADS else K
    return table[op][sniffio.current_async_library()]


async def _exited_with_lines() -> Process:
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", "print('one'); print('two')", stdout=PIPE
    )
    await proc.wait()  # its output is buffered at exit
    return proc


async def test_readline_of_a_buffered_line() -> None:
    """readline() with the line in the buffer: readline itself and the cancel point."""
    proc = await _exited_with_lines()
    assert proc.stdout is not None
    try:
        calls = await _count_calls(proc.stdout.readline)
        assert await proc.stdout.readline() == b"two\n"
    finally:
        await proc.aclose()
    print(f"readline (buffered), {_loop()}: {calls} calls")
    assert calls <= _limit("readline")


async def test_write_and_drain_with_room_in_the_pipe() -> None:
    """write() that the pipe takes at once, then drain() with nothing pending."""
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", "import sys; sys.stdin.buffer.read()", stdin=PIPE
    )
    stdin = proc.stdin
    assert stdin is not None

    async def op() -> None:
        stdin.write(b"line\n")
        await stdin.drain()

    try:
        # The fewest of a few tries: on the thread path a write that finds no parked worker
        # thread starts one (threading's Python calls), which is no cost of the hot path.
        counts = []
        for _ in range(3):
            counts.append(await _count_calls(op))
            await anyio.sleep(0.05)  # the writer thread's write ends, the thread parks
        calls = min(counts)
    finally:
        stdin.close()
        await proc.wait()
    print(f"write + drain, {_loop()}: {counts} calls")
    assert calls <= _limit("write+drain")


async def test_wait_on_an_exited_child() -> None:
    proc = await _exited_with_lines()
    try:
        calls = await _count_calls(proc.wait)
    finally:
        await proc.aclose()
    print(f"wait (exited), {_loop()}: {calls} calls")
    assert calls <= _limit("wait")


async def test_one_spawn_and_wait() -> None:
    """create_subprocess_exec + wait(): anysubprocess's own calls (Popen's and the loop's
    vary by Python and by how the loop iterates, so they are not counted here)."""
    procs: list[Process] = []

    async def op() -> None:
        proc = await anysubprocess.create_subprocess_exec("true")
        procs.append(proc)
        await proc.wait()

    await op()  # the loop's first spawn sets up per-loop state (its watcher): not counted
    calls = await _count_calls(op, ours_only=True)
    print(f"spawn + wait (anysubprocess's calls), {_loop()}: {calls} calls")
    assert calls <= _limit("spawn+wait")
    assert [proc.returncode for proc in procs] == [0, 0]

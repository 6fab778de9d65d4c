"""Watching children (_backends/_child.py): background reaping, pipes closed at exit, a foreign
reaper, creation as a checkpoint, and the path without pidfd."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from types import ModuleType
from typing import Any

import anyio
import pytest
import sniffio

import anysubprocess
import anysubprocess.subprocess
from anysubprocess import PIPE
from anysubprocess._backends._child import use_pidfd

from .conftest import FD_PATH_ONLY, PY, THREADS, _children, _our_fds, assert_yields, stop
from .oracle import assert_same


def _state(pid: int) -> str | None:
    """The kernel's view of ``pid`` (``None`` once reaped), read without reaping it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):  # reaped before or during the read
        return None


async def _until(predicate: Any, what: str, timeout: float = 10.0) -> None:
    """Poll ``predicate()`` while the loop runs (the background work happens meanwhile)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        await anyio.sleep(0.005)


# -- background reaping ---------------------------------------------------------------------


async def test_exited_child_is_reaped_without_wait() -> None:
    """asyncio's child watchers reap in the background; so do we: no zombie waits for wait()."""
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", "import sys; sys.exit(5)")
    pid = proc.pid
    # Neither wait() nor returncode (which would reap): only the kernel's table is read.
    await _until(lambda: _state(pid) is None, "the child is reaped")
    # Set in the background, not by a poll (without pidfd the loop learns it a moment after
    # the watcher thread reaped).
    await _until(lambda: proc._child.popen.returncode is not None, "the loop has the status")
    assert proc._child.returncode == 5
    assert proc.returncode == 5
    assert await proc.wait() == 5


async def test_many_forgotten_children_leave_no_zombie() -> None:
    procs = [await anysubprocess.create_subprocess_exec("true") for _ in range(20)]
    await _until(lambda: all(_state(p.pid) is None for p in procs), "all are reaped")
    await _until(
        lambda: all(p._child.popen.returncode is not None for p in procs), "the loop knows"
    )
    assert all(p._child.returncode == 0 for p in procs)


async def test_returncode_after_kill_without_wait() -> None:
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", "import time; time.sleep(30)")
    proc.kill()
    await _until(lambda: proc._child.returncode is not None, "the kill is noticed")
    assert proc.returncode == -signal.SIGKILL
    with pytest.raises(ProcessLookupError):
        proc.kill()


async def test_dropped_process_still_reaped_with_a_warning() -> None:
    """A Process dropped while its child runs warns (naming pid and args); the child is still
    reaped when it exits, and its pipes are closed."""
    fds_before = _our_fds()
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", "import sys; sys.stdin.read()", stdin=PIPE, stdout=PIPE
    )
    pid = proc.pid
    assert proc.stdin is not None
    stdin = proc.stdin
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del proc
        gc.collect()
        messages = [str(w.message) for w in caught if w.category is ResourceWarning]
        caught.clear()  # a warning's `source` keeps the Process alive; let it go too
    assert any(f"process {pid} " in m and "still running" in m for m in messages), messages
    stdin.close()  # the child reads EOF and exits
    await _until(lambda: _state(pid) is None, "the dropped child is reaped")
    await _until(lambda: _our_fds() == fds_before, "its pipes are closed")


# -- pipes of an exited child ----------------------------------------------------------------


async def test_pipes_of_exited_child_are_closed_without_reading() -> None:
    """What the child left is taken into the readers and each pipe is closed at EOF, without
    anyone reading (as asyncio's transports do): kill, see returncode, skip wait()."""
    fds_before = _our_fds()
    proc = await anysubprocess.create_subprocess_exec(
        PY,
        "-c",
        # stdout first: stderr is line-buffered, so "err" must not reach us (and the kill
        # follow) before "out" was written (seen on 3.15 in the provisioned root).
        "import sys, time; print('out', flush=True); print('err', file=sys.stderr, flush=True); "
        "time.sleep(30)",
        stdin=PIPE,
        stdout=PIPE,
        stderr=PIPE,
    )
    assert proc.stderr is not None
    assert proc.stdout is not None
    assert await proc.stderr.readline() == b"err\n"
    proc.kill()
    await _until(lambda: proc.returncode is not None, "the kill is noticed")
    # Every pipe fd is closed at once (the reaping callback did it), nobody having read.
    assert _our_fds() == fds_before
    assert proc.stdin is not None
    assert proc.stdin.is_closing()
    assert await proc.stdout.read() == b"out\n"  # nothing lost
    assert await proc.stderr.read() == b""
    assert proc.stdout.at_eof()


async def test_exit_takes_at_most_twice_limit() -> None:
    """The background read stops where asyncio's transport pauses (2 * limit): the rest
    stays in the pipe for the reader, and no byte is lost."""
    data = bytes(range(256)) * 600  # 150 KiB: fits a pipe only once grown; written in one go
    proc = await anysubprocess.create_subprocess_exec(
        PY,
        "-c",
        "import sys, fcntl; fcntl.fcntl(1, 1031, 1 << 20); "
        "sys.stdout.buffer.write(bytes(range(256)) * 600)",
        stdout=PIPE,
        limit=1024,
    )
    assert proc.stdout is not None
    await _until(lambda: proc.returncode is not None, "the child exits")
    assert proc.stdout._buffered() <= 2 * 1024 + 65536  # at most one read past 2 * limit
    assert await proc.stdout.read() == data


async def test_grandchild_keeps_the_pipe_open() -> None:
    """Unless a grandchild still holds the pipe: then it stays open, as with asyncio."""
    proc = await anysubprocess.create_subprocess_shell(
        "sleep 30 & echo $!", stdout=PIPE, start_new_session=True
    )
    try:
        assert proc.stdout is not None
        grandchild = int(await proc.stdout.readline())
        assert await proc.wait() == 0
        assert proc.stdout._source is not None  # still open: the grandchild holds it
        os.kill(grandchild, signal.SIGKILL)
        assert await proc.stdout.read() == b""  # EOF once the grandchild is gone
        assert proc.stdout._source is None
    finally:
        await proc.aclose()


# -- a foreign reaper --------------------------------------------------------------------------


async def test_foreign_reaper_gives_255_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Something else reaped our child (os.waitpid here, before the loop could): the status
    is lost. Popen would say 0, a success that never was; asyncio says 255 and logs it."""
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", "import sys; sys.exit(3)")
    try:
        pid, status = os.waitpid(proc.pid, 0)  # blocks the loop: its watch cannot run first
    except ChildProcessError:
        # Without pidfd (or on the thread backend) a thread per child reaps (as asyncio's
        # ThreadedChildWatcher): it may have won the race. Then the status is ours, and it
        # is the real one.
        assert THREADS or not use_pidfd()
        assert await proc.wait() == 3
        return
    assert pid == proc.pid
    assert os.waitstatus_to_exitcode(status) == 3
    with caplog.at_level(logging.WARNING, logger="anysubprocess"):
        with anyio.fail_after(10):
            assert await proc.wait() == 255
    assert proc.returncode == 255
    assert any(
        f"pid {proc.pid} exit status already read: will report returncode 255" in r.getMessage()
        for r in caplog.records
    )


async def test_returncode_read_from_another_thread() -> None:
    """A thread may read returncode (asyncio: a plain attribute): it sees what the loop's
    thread found and never reaps itself, so no fd registered with the loop is closed under
    it (that hung the next wait() on asyncio, aborted uvloop, crashed trio)."""
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", "import sys; sys.exit(4)")

    def poll_until_set() -> int:
        deadline = time.monotonic() + 10
        while (rc := proc.returncode) is None:
            assert time.monotonic() < deadline, "the loop's thread never reaped the child"
            time.sleep(0.001)
        return rc

    # The loop's thread blocks while the other thread polls: it must not reap meanwhile.
    seen: list[int] = []
    poller = threading.Thread(target=lambda: seen.append(poll_until_set()))
    poller.start()
    poller.join(0.3)
    assert not seen, "a thread other than the loop's reaped the child"
    with anyio.fail_after(10):
        while poller.is_alive():
            await anyio.sleep(0.005)
    assert seen == [4]
    assert repr(proc).endswith(f"returncode=4 args={proc.args!r}>")
    with anyio.fail_after(10):  # the next child's watch works (no stale registration)
        for _ in range(3):
            nxt = await anysubprocess.create_subprocess_exec("true")
            assert await nxt.wait() == 0


def test_wait_in_another_event_loop_is_a_clear_error() -> None:
    """A Process belongs to the loop that started it (its exit watch is there): wait()
    from another loop raises instead of waiting for a wake-up that never comes."""

    async def start() -> anysubprocess.Process:
        return await anysubprocess.create_subprocess_exec("sleep", "30")

    proc = asyncio.run(start())
    try:
        with pytest.raises(RuntimeError, match="started in another event loop"):
            asyncio.run(proc.wait())
    finally:  # its loop has gone: end and reap it through the Popen
        proc._child.popen.kill()
        proc._child.popen.wait()


def test_no_pidfd_path_without_os_waitid() -> None:
    """macOS has no os.waitid (and no pidfd): the watcher thread must not need it."""
    code = (
        "import os\n"
        "del os.waitid\n"
        "import asyncio, anysubprocess as a\n"
        "async def main():\n"
        "    p = await a.create_subprocess_exec('sh', '-c', 'sleep 0.2; exit 3')\n"
        "    print(await p.wait())\n"
        "asyncio.run(main())\n"
    )
    env = dict(os.environ, ANYSUBPROCESS_NO_PIDFD="1")
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "3\n", "")


# -- creation is a checkpoint ------------------------------------------------------------------


async def test_creation_in_a_cancelled_scope_starts_nothing() -> None:
    kids_before = _children()
    fds_before = _our_fds()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await anysubprocess.create_subprocess_exec(PY, "-c", "import time; time.sleep(30)")
        pytest.fail("create_subprocess_exec did not raise the cancellation")
    assert scope.cancelled_caught
    assert _children() == kids_before
    assert _our_fds() == fds_before


async def test_creation_is_a_schedule_point() -> None:
    """It yields to the loop before spawning, on every path."""
    proc = await assert_yields(anysubprocess.create_subprocess_exec("true"))
    await proc.wait()


@pytest.mark.differential
async def test_asyncio_cancel_right_after_create_task() -> None:
    """The issue's scenario: the task is cancelled before it ever yields."""
    if sniffio.current_async_library() != "asyncio":
        pytest.skip("asyncio tasks")

    async def scenario(m: ModuleType) -> Any:
        before = set(_children())
        task = asyncio.ensure_future(
            m.create_subprocess_exec(PY, "-c", "import time; time.sleep(30)")
        )
        asyncio.get_running_loop().call_soon(task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            outcome = "cancelled"
        else:  # pragma: no cover - the bug this guards against
            task.result().kill()
            await task.result().wait()
            outcome = "started"
        await asyncio.sleep(0.05)  # asyncio kills and reaps its half-made child meanwhile
        return outcome, set(_children()) - before

    await assert_same(scenario)


@pytest.mark.differential
async def test_asyncio_timeout_zero_around_create() -> None:
    if sniffio.current_async_library() != "asyncio" or sys.version_info < (3, 11):
        pytest.skip("asyncio.timeout is 3.11+ asyncio")

    async def scenario(m: ModuleType) -> Any:
        before = set(_children())
        try:
            async with asyncio.timeout(0):  # type: ignore[attr-defined]
                await m.create_subprocess_exec(PY, "-c", "import time; time.sleep(30)")
        except TimeoutError:
            outcome = "timeout"
        await asyncio.sleep(0.05)
        return outcome, set(_children()) - before

    await assert_same(scenario)


async def test_cancelled_while_a_burst_spawns_in_threads() -> None:
    """Cancel callers whose spawns are queued for (or running in) the worker threads: every
    child that was started anyway is killed and reaped, and the cancellation propagates."""
    fds_before = _our_fds()
    kids_before = _children()
    started: list[anysubprocess.Process] = []

    async def spawn() -> None:
        started.append(await anysubprocess.create_subprocess_exec("sleep", "30", stdout=PIPE))

    for delay in (0.0, 0.001, 0.003, 0.01):
        with anyio.move_on_after(delay) as scope:
            async with anyio.create_task_group() as tg:
                for _ in range(12):
                    tg.start_soon(spawn)
        if not scope.cancelled_caught:
            continue
        for proc in started:  # those the callers did get are theirs to end
            await stop(proc)
        started.clear()
        await _until(lambda: _children() == kids_before, "every orphan is killed and reaped")
        await _until(lambda: _our_fds() == fds_before, "the orphans' pipes are closed")
    for proc in started:
        await stop(proc)


# -- the path without pidfd --------------------------------------------------------------------


@FD_PATH_ONLY
def test_pidfd_switch_is_honoured() -> None:
    """ANYSUBPROCESS_NO_PIDFD=1 (scripts/test runs the suite a second time with it) makes
    children be watched by a thread each, as on macOS and the BSDs."""
    code = (
        "import anysubprocess._backends._child as c, asyncio, anysubprocess as a\n"
        "async def main():\n"
        "    p = await a.create_subprocess_exec('true')\n"
        "    print(c.use_pidfd(), p._child._pidfd >= 0, await p.wait())\n"
        "asyncio.run(main())\n"
    )
    for value, expected in (("1", "False False 0"), ("", "True True 0")):
        env = dict(os.environ, ANYSUBPROCESS_NO_PIDFD=value)
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout
        assert out.split() == expected.split()


def test_this_run_says_which_path() -> None:
    forced = os.environ.get("ANYSUBPROCESS_NO_PIDFD", "") not in ("", "0")
    assert use_pidfd() is (not forced)

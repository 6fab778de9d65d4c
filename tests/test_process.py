"""Process: wait, returncode, signals, communicate — compared with asyncio where it defines them."""

from __future__ import annotations

import gc
import os
import signal
import sys
import time
import warnings
from types import ModuleType
from typing import Any

import anyio
import pytest

import anysubprocess
import anysubprocess.subprocess
from anysubprocess import PIPE

from .conftest import PY, _alive, stop
from .oracle import assert_same

ECHO_UPPER = "import sys; data = sys.stdin.buffer.read(); sys.stdout.buffer.write(data.upper())"


@pytest.mark.differential
async def test_communicate_roundtrip() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(
            PY,
            "-c",
            ECHO_UPPER + "; print('e', file=sys.stderr); sys.exit(7)",
            stdin=m.PIPE,
            stdout=m.PIPE,
            stderr=m.PIPE,
        )
        out, err = await proc.communicate(b"hello")
        return out, err, proc.returncode

    assert (await assert_same(scenario)).value == (b"HELLO", b"e\n", 7)


@pytest.mark.differential
@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 3 * 2**20 + 17])
async def test_communicate_sizes(size: int) -> None:
    """Both directions at once, past any pipe buffer: no deadlock, no lost byte."""
    data = bytes(range(256)) * (size // 256) + b"z" * (size % 256)

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(
            PY, "-c", ECHO_UPPER, stdin=m.PIPE, stdout=m.PIPE, stderr=m.PIPE
        )
        out, err = await proc.communicate(data)
        return out == data.upper(), len(out), err, proc.returncode

    assert (await assert_same(scenario)).value == (True, size, b"", 0)


@pytest.mark.differential
@pytest.mark.parametrize(
    "pipes", ["", "stdin", "stdout", "stderr", "stdin+stdout", "stdout+stderr", "all"]
)
async def test_communicate_pipe_combinations(pipes: str) -> None:
    code = (
        "import sys\n"
        "data = sys.stdin.read() if not sys.stdin.isatty() else ''\n"
        "print('out', len(data)); print('err', file=sys.stderr)"
    )

    async def scenario(m: ModuleType) -> Any:
        names = {"stdin", "stdout", "stderr"} if pipes == "all" else set(pipes.split("+"))
        kw = {n: (m.PIPE if n in names else m.DEVNULL) for n in ("stdin", "stdout", "stderr")}
        proc = await m.create_subprocess_exec(PY, "-c", code, **kw)
        result = await proc.communicate(b"abc" if "stdin" in names else None)
        return result, proc.returncode

    await assert_same(scenario)


async def test_communicate_closes_stdin_without_input() -> None:
    """asyncio 3.12+ closes stdin even with input=None (3.10/3.11 left it open, and a child
    reading stdin hung): we do it on every Python."""

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(
            PY, "-c", "import sys; print(len(sys.stdin.read()))", stdin=m.PIPE, stdout=m.PIPE
        )
        with anyio.fail_after(10):
            return await proc.communicate()

    if sys.version_info >= (3, 12):
        assert (await assert_same(scenario)).value == (b"0\n", None)
    else:
        assert await scenario(anysubprocess.subprocess) == (b"0\n", None)


@pytest.mark.differential
async def test_communicate_ignores_broken_stdin() -> None:
    """A child that exits without reading its input: communicate() does not raise."""

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(PY, "-c", "print('bye')", stdin=m.PIPE, stdout=m.PIPE)
        out, _ = await proc.communicate(b"x" * (4 * 2**20))
        return out, proc.returncode

    assert (await assert_same(scenario)).value == (b"bye\n", 0)


@pytest.mark.differential
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
async def test_returncode_after_signal(sig: int) -> None:
    # The child puts every signal it can back to the kernel's default action before it says
    # ready, so the signal kills it at once and the exit status is -sig by the kernel's hand.
    # Relying on the interpreter's own SIGINT handler instead is a race: on Python >= 3.14 a
    # SIGINT sent right after the child printed 'ready' was sometimes acted on only when its
    # time.sleep() ended (the signal can land before the sleep starts; the sleep is then not
    # interrupted). SIG_DFL also keeps an inherited SIG_IGN (SIGINT in a background job) from
    # making the child immune. The short sleeps bound the child's life even if that ever fails.
    child = (
        "import signal, time\n"
        "for s in (signal.SIGINT, signal.SIGTERM): signal.signal(s, signal.SIG_DFL)\n"
        "print('ready', flush=True)\n"
        "for _ in range(300): time.sleep(0.1)\n"
    )

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(PY, "-c", child, stdout=m.PIPE)
        await proc.stdout.readline()
        if sig == signal.SIGTERM:
            proc.terminate()
        elif sig == signal.SIGKILL:
            proc.kill()
        else:
            proc.send_signal(sig)
        return await proc.wait(), proc.returncode, await proc.stdout.read()

    assert (await assert_same(scenario)).value == (-sig, -sig, b"")


@pytest.mark.differential
@pytest.mark.parametrize("method", ["kill", "terminate", "send_signal"])
async def test_signal_after_reaped_raises_process_lookup_error(method: str) -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(PY, "-c", "print(1)", stdout=m.PIPE)
        await proc.communicate()
        await anyio.sleep(0.05)  # let asyncio's transport finish closing
        if method == "send_signal":
            proc.send_signal(signal.SIGTERM)
        else:
            getattr(proc, method)()

    assert (await assert_same(scenario)).exc_type is ProcessLookupError


@pytest.mark.differential
async def test_wait_without_pipes_and_repeat() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(PY, "-c", "import sys; sys.exit(5)")
        return await proc.wait(), await proc.wait(), proc.returncode

    assert (await assert_same(scenario)).value == (5, 5, 5)


async def test_wait_returns_while_grandchild_holds_the_pipe() -> None:
    """cpython#119710: wait() is about the process, not about its pipes' other holders."""
    proc = await anysubprocess.create_subprocess_shell(
        "sleep 30 & echo $!", stdout=PIPE, start_new_session=True
    )
    try:
        grandchild = int(await proc.stdout.readline())
        with anyio.fail_after(10):
            assert await proc.wait() == 0
        os.kill(grandchild, 0)  # still there, still holding stdout
    finally:
        await stop(proc)  # kills the group, grandchild included


async def test_returncode_is_current_without_wait() -> None:
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", "import sys; sys.exit(3)")
    assert proc.returncode in (None, 3)
    with anyio.fail_after(10):
        while proc.returncode is None:
            await anyio.sleep(0.01)
    assert proc.returncode == 3
    assert await proc.wait() == 3


async def test_many_concurrent_waiters_and_a_cancelled_one() -> None:
    """Two tasks cannot wait on one fd: the waiters take turns, and a cancelled waiter
    hands over without losing the exit status."""
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", "import sys; sys.stdin.read(); sys.exit(9)", stdin=PIPE
    )
    results: list[int] = []

    async def waiter() -> None:
        results.append(await proc.wait())

    async with anyio.create_task_group() as tg:
        with anyio.move_on_after(0.1):
            await proc.wait()  # the first watcher, cancelled while others wait
        for _ in range(5):
            tg.start_soon(waiter)
        await anyio.sleep(0.05)
        assert proc.stdin is not None
        proc.stdin.close()
    assert results == [9] * 5
    assert proc.returncode == 9


async def test_wait_timeout() -> None:
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", "import time; time.sleep(30)")
    with pytest.raises(anysubprocess.TimeoutExpired) as info:
        await proc.wait(timeout=0.1)
    assert isinstance(info.value, TimeoutError)
    assert info.value.timeout == 0.1
    assert proc.returncode is None  # not killed, as with Popen.wait
    proc.kill()
    assert await proc.wait() == -signal.SIGKILL


async def test_repr_is_informative() -> None:
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", "pass")
    assert f"<Process {proc.pid} running" in repr(proc) or "returncode" in repr(proc)
    await proc.wait()
    assert repr(proc).startswith(f"<Process {proc.pid} returncode=0 args=(")
    assert proc.args == (PY, "-c", "pass")


async def test_dropped_running_process_warns_and_leaks_no_fd() -> None:
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", "import time; time.sleep(30)", stdin=PIPE, stdout=PIPE, stderr=PIPE
    )
    pid = proc.pid
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del proc
        gc.collect()
        messages = [str(w.message) for w in caught]
        caught.clear()  # a warning's `source` keeps the Process alive; let it go too
        gc.collect()
    assert any(f"process {pid} " in m and "never waited" in m for m in messages), messages
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pid):  # reaped in the background, nobody waiting
        assert time.monotonic() < deadline
        await anyio.sleep(0.01)


async def test_cancelled_spawn_leaves_no_child() -> None:
    """A cancellation while the child is being forked: it is killed and reaped."""
    for delay in (0, 0.0005, 0.001, 0.002, 0.005):
        with anyio.move_on_after(delay):
            proc = await anysubprocess.create_subprocess_exec(
                PY, "-c", "import time; time.sleep(30)", stdout=PIPE
            )
            await stop(proc)


async def test_burst_of_spawns_goes_through_threads_and_cancels_cleanly() -> None:
    """Spawns close together are handed to worker threads (the loop keeps ticking); a
    cancellation in the middle of the burst leaves no child and no fd behind."""

    async def burst(started: list[anysubprocess.Process]) -> None:
        async def spawn_one() -> None:
            started.append(
                await anysubprocess.create_subprocess_exec(
                    PY, "-c", "import sys; sys.stdin.read()", stdin=PIPE, stdout=PIPE
                )
            )

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(spawn_one)

    for delay in (0.0, 0.003, 0.01, 0.03):
        started: list[anysubprocess.Process] = []
        with anyio.move_on_after(delay):
            await burst(started)
        for proc in started:
            await proc.aclose()
    started = []
    await burst(started)
    assert len(started) == 20
    for proc in started:
        assert await proc.communicate(b"") == (b"", None)


async def test_burst_of_failing_spawns_raises_in_each_caller() -> None:
    """Errors from a spawn thread (a missing program) reach the caller that asked."""
    errors: list[BaseException] = []

    async def spawn_missing() -> None:
        try:
            await anysubprocess.create_subprocess_exec("/no/such/program-xyz", stdout=PIPE)
        except FileNotFoundError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(12):
            tg.start_soon(spawn_missing)
    assert len(errors) == 12
    assert all(e.filename == "/no/such/program-xyz" for e in errors)  # type: ignore[attr-defined]

"""The structured extras: async with / aclose, timeouts, run(), cancellation policy, trees."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

import anysubprocess
from anysubprocess import PIPE, Process, TimeoutExpired

from .conftest import PY, stop

IGNORE_TERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)
WRITE_FOREVER = "import sys\nwhile True: sys.stdout.buffer.write(b'w' * 65536)"
SLOW_TWO_PARTS = (
    "import sys, time\n"
    "sys.stdout.write('first\\n'); sys.stdout.flush()\n"
    "sys.stderr.write('err1\\n'); sys.stderr.flush()\n"
    "time.sleep(1.5)\n"
    "sys.stdout.write('second\\n'); sys.stdout.flush()\n"
)


def _gone_or_zombie(pid: int) -> bool:
    """True once ``pid`` no longer runs (a zombie of another parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def _wait_gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while not _gone_or_zombie(pid):
        if time.monotonic() > deadline:
            return False
        await anyio.sleep(0.01)
    return True


# -- async with / aclose ---------------------------------------------------------------------


async def test_async_with_normal_exit_closes_stdin_and_waits(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with open(out, "wb") as f:
        async with await anysubprocess.create_subprocess_exec("cat", stdin=PIPE, stdout=f) as proc:
            assert proc.stdin is not None
            proc.stdin.write(b"x" * 300_000)  # more than a pipe holds: flushed on exit
    assert proc.returncode == 0
    assert out.stat().st_size == 300_000


async def test_async_with_shell() -> None:
    async with await anysubprocess.create_subprocess_shell("exit 4") as proc:
        pass
    assert proc.returncode == 4


async def test_exception_terminates_then_kills_and_reaps_before_propagating() -> None:
    proc: Process | None = None
    start = time.monotonic()
    with pytest.raises(KeyError):
        async with await anysubprocess.create_subprocess_exec(
            PY, "-c", IGNORE_TERM, stdout=PIPE
        ) as proc:
            proc.grace_period = 0.3
            assert proc.stdout is not None
            await proc.stdout.readline()
            raise KeyError("boom")
    assert proc is not None
    assert proc.returncode == -signal.SIGKILL  # reaped already, after SIGTERM was ignored
    assert time.monotonic() - start >= 0.3


async def test_cancellation_terminates_and_reaps() -> None:
    with anyio.move_on_after(0.5) as scope:
        async with await anysubprocess.create_subprocess_exec(
            PY, "-c", "import time; time.sleep(60)"
        ) as proc:
            await proc.wait()
    assert scope.cancelled_caught
    assert proc.returncode == -signal.SIGTERM


async def test_cleanup_does_not_deadlock_on_a_full_pipe() -> None:
    """anyio#1166: the child blocks writing to a pipe nobody reads; cleanup closes it."""
    with anyio.fail_after(10), pytest.raises(RuntimeError):
        async with await anysubprocess.create_subprocess_exec(
            PY, "-c", WRITE_FOREVER, stdout=PIPE, stderr=PIPE
        ) as proc:
            await anyio.sleep(0.2)
            raise RuntimeError
    assert proc.returncode is not None


async def test_normal_exit_does_not_deadlock_on_unread_output() -> None:
    """Leaving the block closes our ends of stdout/stderr (as Popen.__exit__ does)."""
    with anyio.fail_after(10):
        async with await anysubprocess.create_subprocess_exec(
            PY, "-c", "import sys; sys.stdout.write('x' * 10**6)", stdout=PIPE
        ) as proc:
            pass
    assert proc.returncode is not None


async def test_aclose_is_explicit_cleanup_and_keeps_read_bytes() -> None:
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", IGNORE_TERM, stdout=PIPE)
    assert proc.stdout is not None
    await proc.stdout.readexactly(2)
    with anyio.fail_after(10):
        while proc.stdout._buffered() < 4:  # the whole line is out: print() has returned
            proc.stdout._pull_nowait(4)
            await anyio.sleep(0.001)
    await stop(proc, grace_period=0.1)  # aclose() whose wait is cancelled: stop the child
    assert proc.returncode == -signal.SIGKILL
    assert await proc.stdout.read() == b"ady\n"
    await proc.aclose()  # idempotent


async def test_aclose_cannot_be_cancelled_midway() -> None:
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", IGNORE_TERM, stdout=PIPE)
    assert proc.stdout is not None
    await proc.stdout.readline()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await proc.aclose(grace_period=0.1)  # shielded: runs to the end regardless
    assert proc.returncode == -signal.SIGKILL


async def test_custom_deliver_cancel() -> None:
    calls: list[int] = []

    async def interrupt(p: Process) -> None:
        calls.append(p.pid)
        p.send_signal(signal.SIGINT)

    code = (
        "import time\ntry:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    raise SystemExit(42)"
    )
    with anyio.move_on_after(0.3):
        async with await anysubprocess.create_subprocess_exec(PY, "-c", code) as proc:
            proc.deliver_cancel = interrupt
            await proc.wait()
    assert calls == [proc.pid]
    assert proc.returncode == 42


async def test_failing_deliver_cancel_still_kills() -> None:
    async def broken(p: Process) -> None:
        raise OSError("no")

    proc = await anysubprocess.create_subprocess_exec(PY, "-c", IGNORE_TERM, stdout=PIPE)
    assert proc.stdout is not None
    await proc.stdout.readline()  # SIGTERM is ignored from here on
    with pytest.warns(RuntimeWarning, match="deliver_cancel raised"):
        await stop(proc, deliver_cancel=broken)
    assert proc.returncode == -signal.SIGKILL


# -- timeouts ----------------------------------------------------------------------------------


async def test_communicate_timeout_keeps_everything_for_the_next_call() -> None:
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-u", "-c", SLOW_TWO_PARTS, stdin=PIPE, stdout=PIPE, stderr=PIPE
    )
    with pytest.raises(TimeoutExpired) as info:
        await proc.communicate(timeout=0.5)
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, subprocess.TimeoutExpired)
    assert info.value.output == b"first\n"
    assert info.value.stderr == b"err1\n"
    assert proc.returncode is None  # not killed
    out, err = await proc.communicate(timeout=10)
    assert (out, err) == (b"first\nsecond\n", b"err1\n")  # nothing lost, nothing twice
    assert proc.returncode == 0


async def test_cancelled_communicate_loses_nothing() -> None:
    """cpython#139373: asyncio drops what a cancelled communicate() had read."""
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-u", "-c", SLOW_TWO_PARTS, stdin=PIPE, stdout=PIPE, stderr=PIPE
    )
    with anyio.move_on_after(0.5):
        await proc.communicate()
    assert await proc.communicate() == (b"first\nsecond\n", b"err1\n")


async def test_communicate_input_is_sent_once() -> None:
    code = "import sys, time; time.sleep(0.3); sys.stdout.write(sys.stdin.read())"
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", code, stdin=PIPE, stdout=PIPE)
    with pytest.raises(TimeoutExpired):
        await proc.communicate(b"data", timeout=0.05)
    out, _ = await proc.communicate(b"data")
    assert out == b"data"


# -- run() -------------------------------------------------------------------------------------


async def test_run_like_subprocess_run() -> None:
    cmd = [PY, "-c", "import sys; print('o'); print('e', file=sys.stderr); sys.exit(3)"]
    ours = await anysubprocess.run(cmd, capture_output=True)
    theirs = subprocess.run(cmd, capture_output=True)
    assert isinstance(ours, subprocess.CompletedProcess)
    assert (ours.args, ours.returncode, ours.stdout, ours.stderr) == (
        theirs.args,
        theirs.returncode,
        theirs.stdout,
        theirs.stderr,
    )


async def test_run_check_raises_called_process_error() -> None:
    cmd = [PY, "-c", "import sys; print('o'); print('e', file=sys.stderr); sys.exit(3)"]
    with pytest.raises(subprocess.CalledProcessError) as info:
        await anysubprocess.run(cmd, capture_output=True, check=True)
    assert (info.value.returncode, info.value.output, info.value.stderr) == (3, b"o\n", b"e\n")
    assert info.value.cmd == cmd


async def test_run_text_and_input() -> None:
    cmd = [PY, "-c", "import sys; sys.stdout.write(sys.stdin.read().upper() + '\\r\\n')"]
    ours = await anysubprocess.run(cmd, input="héllo", stdout=PIPE, text=True, encoding="utf-8")
    theirs = subprocess.run(cmd, input="héllo", stdout=PIPE, text=True, encoding="utf-8")
    assert ours.stdout == theirs.stdout == "HÉLLO\n"
    assert ours.stderr is None


async def test_run_empty_input_is_an_empty_stdin() -> None:
    result = await anysubprocess.run(
        [PY, "-c", "import sys; print(len(sys.stdin.read()))"], input=b"", capture_output=True
    )
    assert result.stdout == b"0\n"


async def test_run_shell_and_argument_errors() -> None:
    assert (await anysubprocess.run("echo $((2+3))", shell=True, stdout=PIPE)).stdout == b"5\n"
    with pytest.raises(ValueError, match="stdin and input"):
        await anysubprocess.run(["true"], input=b"", stdin=PIPE)
    with pytest.raises(ValueError, match="capture_output"):
        await anysubprocess.run(["true"], capture_output=True, stdout=PIPE)
    with pytest.raises(FileNotFoundError):
        await anysubprocess.run(["/no/such/program"])


async def test_run_timeout_kills_reaps_and_reports_partial_output() -> None:
    code = "import sys, time; print('partial', flush=True); time.sleep(60)"
    start = time.monotonic()
    with pytest.raises(TimeoutExpired) as info:
        await anysubprocess.run([PY, "-c", code], capture_output=True, timeout=1.0)
    assert time.monotonic() - start < 5
    assert info.value.output == b"partial\n"
    assert info.value.timeout == 1.0


async def test_run_cancelled_from_outside_reaps_before_propagating() -> None:
    started: list[Process] = []

    async def deliver(p: Process) -> None:
        started.append(p)
        p.terminate()

    with anyio.move_on_after(0.5) as scope:
        await anysubprocess.run(
            [PY, "-c", IGNORE_TERM], stdout=PIPE, grace_period=0.2, deliver_cancel=deliver
        )
    assert scope.cancelled_caught
    assert started
    assert started[0].returncode == -signal.SIGKILL


async def test_run_in_a_task_group_hands_back_the_process() -> None:
    async with anyio.create_task_group() as tg:
        proc = await tg.start(
            functools.partial(
                anysubprocess.run, [PY, "-c", "import sys; sys.stdin.read()"], input=b"x"
            )
        )
        assert isinstance(proc, Process)
        assert proc.pid > 0
    assert proc.returncode == 0


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_run_in_a_trio_nursery() -> None:
    import trio

    async with trio.open_nursery() as nursery:
        proc = await nursery.start(anysubprocess.run, [PY, "-c", "pass"])
        assert isinstance(proc, Process)
    assert proc.returncode == 0


# -- process trees -------------------------------------------------------------------------------

TREE = "sleep 60 & echo $!; wait"


@pytest.mark.parametrize(
    "group_kw",
    [{"start_new_session": True}] + ([{"process_group": 0}] if sys.version_info >= (3, 11) else []),
    ids=lambda kw: next(iter(kw)),
)
async def test_cleanup_kills_the_whole_group(group_kw: dict[str, Any]) -> None:
    with anyio.move_on_after(1.0):
        async with await anysubprocess.create_subprocess_shell(
            TREE, stdout=PIPE, **group_kw
        ) as proc:
            assert proc.stdout is not None
            grandchild = int(await proc.stdout.readline())
            await proc.wait()
    assert proc.returncode is not None
    assert await _wait_gone(grandchild), "the shell's background job survived"


async def test_run_timeout_kills_the_group() -> None:
    with pytest.raises(TimeoutExpired) as info:
        await anysubprocess.run(TREE, shell=True, stdout=PIPE, timeout=0.5, start_new_session=True)
    grandchild = int(info.value.output)
    assert await _wait_gone(grandchild)


async def test_without_a_group_only_the_child_is_signalled() -> None:
    proc = await anysubprocess.create_subprocess_shell(TREE, stdout=PIPE)
    assert proc.stdout is not None
    grandchild = int(await proc.stdout.readline())
    try:
        with pytest.raises(ValueError, match="process group"):
            proc.signal_group(signal.SIGTERM)
        await stop(proc, grace_period=1)
        await anyio.sleep(0.1)
        assert not _gone_or_zombie(grandchild)  # documented: start a group to get it too
    finally:
        os.kill(grandchild, signal.SIGKILL)
        await _wait_gone(grandchild)


async def test_signal_group_on_demand_even_after_the_leader_exited() -> None:
    proc = await anysubprocess.create_subprocess_shell(
        "sleep 60 & echo $!", stdout=PIPE, start_new_session=True
    )
    assert proc.stdout is not None
    grandchild = int(await proc.stdout.readline())
    assert await proc.wait() == 0  # the leader is gone, its group is not
    proc.signal_group(signal.SIGTERM)
    assert await _wait_gone(grandchild)


async def test_communicate_keeps_output_read_before_a_timeout_at_exit() -> None:
    """The streams reach EOF (the child closed them) but the child lives on: the output
    read so far must be in TimeoutExpired and in the next communicate()."""
    proc = await anysubprocess.create_subprocess_exec(
        "sh", "-c", "echo out; echo err >&2; exec >&- 2>&-; sleep 1", stdout=PIPE, stderr=PIPE
    )
    with pytest.raises(TimeoutExpired) as info:
        await proc.communicate(timeout=0.3)
    assert (info.value.output, info.value.stderr) == (b"out\n", b"err\n")
    assert await proc.communicate() == (b"out\n", b"err\n")


async def test_run_timeout_keeps_output_of_closed_streams() -> None:
    with pytest.raises(TimeoutExpired) as info:
        await anysubprocess.run("echo out; exec >&-; sleep 5", shell=True, stdout=PIPE, timeout=0.3)
    assert info.value.output == b"out\n"


async def test_run_shell_with_a_sequence_is_like_popen() -> None:
    cmd = ["echo $0-$1", "zero", "one"]
    ours = await anysubprocess.run(cmd, shell=True, stdout=PIPE)
    theirs = subprocess.run(cmd, shell=True, stdout=PIPE)
    assert ours.stdout == theirs.stdout == b"zero-one\n"

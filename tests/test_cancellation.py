"""Cancellation at every await, systematically, and every public coroutine is a cancel point.

The matrix: for each public coroutine, run a fresh scenario once per suspension point k =
1, 2, ... and cancel the caller's scope at the k-th one, until a run completes uncancelled.
After each cancelled run: nothing leaked (fd, child), no byte already produced is lost, and
the process object still works. How many points each coroutine has is printed (``-s``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import pytest
import sniffio

import anysubprocess
from anysubprocess import PIPE, Process
from anysubprocess._backends import YIELD_EVERY

from .conftest import (
    PY,
    Suspensions,
    _children,
    _our_fds,
    assert_cancel_point,
    assert_no_yield,
    assert_yields,
    stop,
)

T = TypeVar("T")


async def _settled(before_fds: dict[int, str], before_kids: dict[int, str]) -> None:
    """Background cleanup (reaping, killed orphans) gets a moment; then nothing is left."""
    deadline = time.monotonic() + 5
    while _our_fds() != before_fds or _children() != before_kids:
        if time.monotonic() > deadline:
            assert _children() == before_kids, "children left behind"
            assert _our_fds() == before_fds, "fds left open"
        await anyio.sleep(0.005)


@dataclass
class Case:
    """One public coroutine: ``setup()`` makes fresh state, ``op(state)`` is the call under
    test, ``after(state, result, cancelled)`` checks what must hold, ``cleanup(state)``."""

    setup: Callable[[], Awaitable[Any]]
    op: Callable[[Any], Coroutine[Any, Any, Any]]
    after: Callable[[Any, Any, bool], Awaitable[None]]
    cleanup: Callable[[Any], Awaitable[None]] = field(default=lambda state: _aclose(state))


async def _aclose(state: Any) -> None:
    proc = state if isinstance(state, Process) else getattr(state, "proc", None)
    if isinstance(proc, Process):
        await stop(proc)


async def run_matrix(case: Case, name: str, limit: int = 200) -> int:
    """Cancel at each suspension point in turn; return how many points were exercised."""
    fds, kids = _our_fds(), _children()
    for k in range(1, limit):
        state = await case.setup()
        with anyio.CancelScope() as scope:
            stepper = Suspensions(  # the cancellation lands exactly at suspension k
                case.op(state), lambda n, k=k, scope=scope: n == k and scope.cancel()
            )
            result = await stepper
        cancelled = scope.cancelled_caught
        with anyio.fail_after(30):
            await case.after(state, None if cancelled else result, cancelled)
            await case.cleanup(state)
        del state
        await _settled(fds, kids)
        if not cancelled:
            # Done: fewer than k suspensions. Or exactly k, when the k-th was the last and
            # its result was already on its way: on asyncio, anyio does not cancel a task
            # whose awaited future is done, and the operation completes (seen rarely).
            assert stepper.count <= k, f"{name}: completed although cancelled at {k}"
            print(f"cancellation points: {name}: {k - 1}")
            assert k > 1, f"{name} never suspended: not a checkpoint"
            return k - 1
    pytest.fail(f"{name}: still being cancelled after {limit} points")


# -- the children -------------------------------------------------------------------------------

#: Writes its output in pieces with pauses, so reads suspend several times.
PIECES = [b"alpha\nbe", b"ta\ngam", b"ma\n", b"delta-without-newline"]
DRIP = (
    "import sys, time\n"
    f"for piece in {PIECES!r}:\n"
    "    sys.stdout.buffer.write(piece); sys.stdout.flush(); time.sleep(0.01)\n"
)
ALL = b"".join(PIECES)
COUNT_STDIN = "import sys; print(len(sys.stdin.buffer.read()))"
UPPER = (
    "import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d.upper()); "
    "sys.stderr.buffer.write(b'e' * 1000)"
)
INPUT = b"abc" * 100_000


async def _drip() -> Process:
    return await anysubprocess.create_subprocess_exec(PY, "-c", DRIP, stdout=PIPE)


def _read_case(read: Callable[[anysubprocess.StreamReader], Coroutine[Any, Any, bytes]]) -> Case:
    async def after(proc: Process, result: bytes | None, cancelled: bool) -> None:
        assert proc.stdout is not None
        rest = await proc.stdout.read()
        got = (result or b"") + rest
        assert got == ALL, "bytes lost or duplicated by a cancelled read"
        assert await proc.wait() == 0

    return Case(setup=_drip, op=lambda proc: read(proc.stdout), after=after)


async def _anext(reader: anysubprocess.StreamReader) -> bytes:
    return await reader.__anext__()


READS = {
    "readline": _read_case(lambda r: r.readline()),
    "readuntil": _read_case(lambda r: r.readuntil(b"ma\n")),
    "readuntil_tuple": _read_case(lambda r: r.readuntil((b"ta\n", b"ma\n"))),
    "readexactly": _read_case(lambda r: r.readexactly(20)),
    "read_n": _read_case(lambda r: r.read(12)),
    "read_to_eof": _read_case(lambda r: r.read()),
    "anext": _read_case(_anext),
    "receive (anyio)": _read_case(lambda r: r.receive(7)),
}


@pytest.mark.parametrize("name", sorted(READS))
async def test_reads(name: str) -> None:
    await run_matrix(READS[name], name)


CREATE = {
    "create_subprocess_exec": lambda: anysubprocess.create_subprocess_exec(
        PY, "-c", "print('hi')", stdout=PIPE
    ),
    "create_subprocess_shell": lambda: anysubprocess.create_subprocess_shell(
        "echo hi", stdout=PIPE
    ),
}


@pytest.mark.parametrize("name", sorted(CREATE))
async def test_creation(name: str) -> None:
    """Cancelled: no child (run_matrix checks); not cancelled: a working Process."""

    async def setup() -> None:
        return None

    async def after(state: None, proc: Process | None, cancelled: bool) -> None:
        if proc is not None:
            assert await proc.communicate() == (b"hi\n", None)

    await run_matrix(Case(setup, lambda s: CREATE[name](), after, cleanup=lambda s: _noop()), name)


async def _noop() -> None:
    return None


async def test_wait() -> None:
    async def setup() -> Process:
        proc = await anysubprocess.create_subprocess_exec(
            PY, "-c", "import sys; sys.stdin.read(); sys.exit(3)", stdin=PIPE
        )
        assert proc.stdin is not None
        proc.stdin.close()
        return proc

    async def after(proc: Process, result: int | None, cancelled: bool) -> None:
        assert result in (None, 3)
        assert await proc.wait() == 3  # still usable

    await run_matrix(Case(setup, lambda p: p.wait(), after), "wait")


async def test_communicate() -> None:
    async def setup() -> Process:
        return await anysubprocess.create_subprocess_exec(
            PY, "-c", UPPER, stdin=PIPE, stdout=PIPE, stderr=PIPE
        )

    async def after(proc: Process, result: Any, cancelled: bool) -> None:
        # The same call again returns everything (input is written once, never twice).
        out, err = result if result is not None else await proc.communicate(INPUT)
        assert out == INPUT.upper()
        assert err == b"e" * 1000
        assert proc.returncode == 0

    await run_matrix(Case(setup, lambda p: p.communicate(INPUT), after), "communicate")


async def _counting_child(*, close: bool) -> Process:
    """A child that prints how many bytes it read; 1 MiB queued for it (and stdin closed)."""
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", COUNT_STDIN, stdin=PIPE, stdout=PIPE
    )
    assert proc.stdin is not None
    proc.stdin.write(b"x" * 2**20)
    if close:
        proc.stdin.close()
    return proc


async def test_drain() -> None:
    async def setup() -> Process:
        return await _counting_child(close=False)

    async def after(proc: Process, result: None, cancelled: bool) -> None:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.close()
        assert await proc.stdout.read() == b"1048576\n"  # a cancelled drain lost nothing
        assert await proc.wait() == 0

    await run_matrix(Case(setup, lambda p: p.stdin.drain(), after), "drain")


async def test_send() -> None:
    """anyio's send(): cancelled before it took anything, or everything is delivered."""

    async def setup() -> Process:
        return await anysubprocess.create_subprocess_exec(
            PY, "-c", COUNT_STDIN, stdin=PIPE, stdout=PIPE
        )

    async def after(proc: Process, result: None, cancelled: bool) -> None:
        assert proc.stdin is not None
        assert proc.stdout is not None
        await proc.stdin.aclose()
        count = await proc.stdout.read()
        assert count == b"1048576\n" or (cancelled and count == b"0\n")
        assert await proc.wait() == 0

    await run_matrix(Case(setup, lambda p: p.stdin.send(b"x" * 2**20), after), "send (anyio)")


async def test_wait_closed() -> None:
    async def setup() -> Process:
        return await _counting_child(close=True)

    async def after(proc: Process, result: None, cancelled: bool) -> None:
        assert proc.stdin is not None
        assert proc.stdout is not None
        await proc.stdin.wait_closed()  # safe to call again after a cancellation
        assert await proc.stdout.read() == b"1048576\n"
        assert await proc.wait() == 0

    await run_matrix(Case(setup, lambda p: p.stdin.wait_closed(), after), "wait_closed")


async def test_run() -> None:
    async def setup() -> None:
        return None

    async def after(state: None, result: Any, cancelled: bool) -> None:
        if not cancelled:
            assert result.stdout == b"x\n"
            assert result.returncode == 0

    async def op(state: None) -> Any:
        return await anysubprocess.run([PY, "-c", "print('x')"], capture_output=True)

    # A cancelled run() has killed and reaped its child: run_matrix checks nothing is left.
    await run_matrix(Case(setup, op, after, cleanup=lambda s: _noop()), "run")


async def test_async_with_exit() -> None:
    async def setup() -> Process:
        return await anysubprocess.create_subprocess_exec(
            PY, "-c", "import sys; sys.stdin.read()", stdin=PIPE
        )

    async def after(proc: Process, result: Any, cancelled: bool) -> None:
        # Either way the child is gone and reaped when __aexit__ returns or raises.
        assert proc._child.returncode is not None
        assert proc.returncode == (-15 if cancelled else 0)

    await run_matrix(
        Case(setup, lambda p: p.__aexit__(None, None, None), after), "async with (exit)"
    )


async def test_aclose() -> None:
    """anyio's aclose(): close stdin, wait; a cancelled wait stops the child (shielded)."""

    async def setup() -> Process:
        return await anysubprocess.create_subprocess_exec(
            PY,
            "-c",
            "import sys, time; sys.stdin.read(); time.sleep(0.05); sys.exit(3)",
            stdin=PIPE,
        )

    async def after(proc: Process, result: Any, cancelled: bool) -> None:
        # Not cancelled: the child's own status. Cancelled: stopped, unless it exited first.
        assert proc._child.returncode in ((-15, 3) if cancelled else (3,))

    await run_matrix(Case(setup, lambda p: p.aclose(), after), "aclose")


# -- every public coroutine is a cancel point; a ready call does not yield (but a run does) -----
#
# DESIGN semantics 10 (revised, issue #14): in a cancelled scope every public coroutine raises
# before it takes anything; a call whose answer is ready returns without a yield, as asyncio's
# do, except once in YIELD_EVERY calls per object; creation always yields.


async def _exited_with_output() -> Process:
    """A child that has exited, its output already buffered: every read is a fast path."""
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", "print('one'); print('two')", stdin=PIPE, stdout=PIPE
    )
    await proc.wait()
    assert proc.stdout is not None
    assert proc.stdout._buffered() == 8
    return proc


#: Calls whose answer is ready: no yield, and a cancel point.
FAST_PATHS: dict[str, Callable[[Process], Coroutine[Any, Any, Any]]] = {
    "wait (exited)": lambda p: p.wait(),
    "communicate (exited, output buffered)": lambda p: p.communicate(),
    "readline (line buffered)": lambda p: p.stdout.readline(),
    "readuntil (buffered)": lambda p: p.stdout.readuntil(b"\n"),
    "readexactly (buffered)": lambda p: p.stdout.readexactly(3),
    "read(n) (buffered)": lambda p: p.stdout.read(3),
    "read(0)": lambda p: p.stdout.read(0),
    "read() (buffered, EOF)": lambda p: p.stdout.read(),
    "__anext__ (line buffered)": lambda p: p.stdout.__anext__(),
    "receive (anyio, buffered)": lambda p: p.stdout.receive(3),
}


@pytest.mark.parametrize("path", sorted(FAST_PATHS))
async def test_fast_path_is_a_cancel_point_without_a_yield(path: str) -> None:
    """Ready: it returns without yielding to the loop. In a cancelled scope: it raises the
    loop's cancellation and takes nothing."""
    proc = await _exited_with_output()
    await assert_no_yield(FAST_PATHS[path](proc))
    await proc.aclose()
    proc = await _exited_with_output()
    await assert_cancel_point(FAST_PATHS[path](proc))
    assert proc.stdout is not None
    assert await proc.stdout.read() == b"one\ntwo\n"  # the cancelled call took nothing
    await proc.aclose()


async def test_cancel_point_without_the_private_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cheap cancel point reads anyio's (asyncio) or trio's private task state; if an
    upstream release renames it, the public effective-deadline answer takes over: slower,
    still a cancel point that takes nothing."""
    from anysubprocess._backends import _asyncio as asyncio_ops

    if sniffio.current_async_library() == "trio":
        from anysubprocess._backends import _trio as trio_ops

        monkeypatch.setattr(trio_ops, "_run_context", None)
    else:
        # anyio's asyncio backend as a module without the private table.
        renamed = {asyncio_ops._ANYIO_ASYNCIO: object()}
        monkeypatch.setattr(asyncio_ops, "_modules", renamed)
        monkeypatch.setattr(asyncio_ops, "_last_state", (lambda: None, None))
    proc = await _exited_with_output()
    assert proc.stdout is not None
    await assert_no_yield(proc.stdout.readline())
    await assert_cancel_point(proc.stdout.readline())
    await assert_cancel_point(proc.wait())
    assert await proc.stdout.read() == b"two\n"  # the cancelled calls took nothing
    monkeypatch.undo()
    await proc.aclose()


async def test_aclose_is_a_checkpoint() -> None:
    """aclose() is not a ready call: a full checkpoint (trio's and anyio's aclose are)."""
    proc = await _exited_with_output()
    await assert_yields(proc.aclose())
    proc = await _exited_with_output()
    await assert_cancel_point(proc.aclose())


async def test_creation_is_a_checkpoint() -> None:
    proc = await assert_yields(anysubprocess.create_subprocess_exec("true"))
    await proc.wait()
    kids = _children()
    await assert_cancel_point(anysubprocess.create_subprocess_exec("true"))
    assert _children() == kids


async def _close_then(proc: Process, call: Callable[[], Awaitable[None]]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    await call()


WRITER_FAST_PATHS: dict[str, Callable[[Process], Coroutine[Any, Any, Any]]] = {
    "drain (nothing pending)": lambda p: p.stdin.drain(),
    "wait_closed (already closed)": lambda p: _close_then(p, p.stdin.wait_closed),
    "send (anyio, the pipe takes it all)": lambda p: p.stdin.send(b"def"),
}


@pytest.mark.parametrize("path", sorted(WRITER_FAST_PATHS))
async def test_writer_fast_path_is_a_cancel_point_without_a_yield(path: str) -> None:
    for cancelled in (False, True):
        proc = await anysubprocess.create_subprocess_exec(
            PY, "-c", COUNT_STDIN, stdin=PIPE, stdout=PIPE
        )
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(b"abc")
        if cancelled:
            await assert_cancel_point(WRITER_FAST_PATHS[path](proc))
            expected = b"3\n"  # nothing written was lost, and send() sent nothing
        else:
            await assert_no_yield(WRITER_FAST_PATHS[path](proc))
            expected = b"6\n" if path.startswith("send") else b"3\n"
        proc.stdin.close()
        assert await proc.stdout.read() == expected
        await proc.wait()


async def test_wait_on_an_exited_child_takes_one_loop_turn() -> None:
    """CPython's test_create_subprocess_env_exec/_shell (test_asyncio/test_subprocess.py):
    after communicate(), a task running wait() has its result after one sleep(0). The same
    scenario through stdlib asyncio and through us (asyncio loops only: it is asyncio's API)."""
    if sniffio.current_async_library() != "asyncio":
        pytest.skip("asyncio.create_task/sleep(0): an asyncio scenario")
    results = []
    for api in (asyncio, anysubprocess):
        proc = await api.create_subprocess_exec(PY, "-c", "print('x')", stdout=PIPE)
        stdout, _ = await proc.communicate()
        task = asyncio.create_task(proc.wait())
        await asyncio.sleep(0)
        assert task.done(), f"{api.__name__}: wait() needed more than one loop turn"
        results.append((stdout, task.result()))
    assert results[0] == results[1] == (b"x\n", 0)


# -- a run of ready calls yields at least once in YIELD_EVERY calls, and no more often --------

RUN = 100_000


async def _ready_run(name: str) -> tuple[Callable[[], Awaitable[Any]], Process | None]:
    """``(call, proc)``: ``call()`` is a call on one object whose answer is ready; ``proc``
    is to be closed afterwards."""
    if name in ("readline (fed reader)", "__anext__ (fed reader)"):
        reader = anysubprocess.StreamReader()
        reader.feed_data(b"x\n" * RUN)
        reader.feed_eof()
        return (reader.readline if name.startswith("readline") else reader.__anext__), None
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", "import sys; sys.stdin.read()", stdin=PIPE
    )
    assert proc.stdin is not None
    if name == "drain (nothing pending)":
        return proc.stdin.drain, proc
    assert name == "wait (exited)"
    proc.stdin.close()
    await proc.wait()
    return proc.wait, proc


@pytest.mark.parametrize(
    "name",
    ["readline (fed reader)", "__anext__ (fed reader)", "wait (exited)", "drain (nothing pending)"],
)
async def test_a_run_of_ready_calls_lets_other_tasks_run(name: str) -> None:
    """RUN ready calls on one object: a ticker task gets the loop at least RUN / YIELD_EVERY
    times (no starvation), and not much more often (no yield per call). Counts, not times."""
    call, proc = await _ready_run(name)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await anyio.lowlevel.checkpoint()
            # Counted after the wake-up: a tick the run's last yield made ready still counts
            # when the run ends (the cancellation below hits the next checkpoint).
            ticks += 1

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await anyio.lowlevel.checkpoint()  # the ticker starts
        ticks = 0
        for _ in range(RUN):
            await call()
        tg.cancel_scope.cancel()
    if proc is not None:
        await proc.aclose()
    print(f"{name}: {RUN} ready calls, the ticker ran {ticks} times (YIELD_EVERY={YIELD_EVERY})")
    # The run yields RUN // YIELD_EVERY times (195). One wake of the ticker may fall just
    # outside the counted window on trio, whose scheduler shuffles the order of a batch.
    assert ticks >= RUN // YIELD_EVERY - 1
    assert ticks <= RUN // YIELD_EVERY + 3  # and not once per call

"""StreamReader / StreamWriter on real pipes, compared with asyncio's."""

from __future__ import annotations

import asyncio
import fcntl
import gc
import os
import sys
import warnings
from types import ModuleType
from typing import Any

import anyio
import pytest

import anysubprocess
import anysubprocess.subprocess
from anysubprocess import PIPE

from .conftest import FD_PATH_ONLY, PY, _alive, stop
from .oracle import assert_same

ECHO_LINES = (
    "import sys\nfor line in sys.stdin:\n"
    "    sys.stdout.write(line[::-1][1:] + '\\n'); sys.stdout.flush()"
)
DATA = b"alpha\nbeta\r\n\ngamma--delta;;end"
WRITE_DATA = f"import sys; sys.stdout.buffer.write({DATA!r})"


async def _reader_child(m: ModuleType, code: str = WRITE_DATA, **kw: Any) -> Any:
    return await m.create_subprocess_exec(PY, "-c", code, stdout=m.PIPE, **kw)


@pytest.mark.differential
async def test_readline_and_iteration() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await _reader_child(m)
        first = await proc.stdout.readline()
        rest = [line async for line in proc.stdout]
        tail = (await proc.stdout.readline(), proc.stdout.at_eof())
        await proc.wait()
        return first, rest, tail

    value = (await assert_same(scenario)).value
    assert value[0] == b"alpha\n"
    assert value[2] == (b"", True)


@pytest.mark.differential
async def test_read_n_and_read_all() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await _reader_child(m)
        chunks = [await proc.stdout.read(0), await proc.stdout.readexactly(3)]
        chunks.append(await proc.stdout.read())
        chunks.append(await proc.stdout.read())
        chunks.append(await proc.stdout.read(10))
        await proc.wait()
        return chunks

    assert (await assert_same(scenario)).value == [b"", b"alp", DATA[3:], b"", b""]


@pytest.mark.differential
async def test_readexactly_incomplete() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await _reader_child(m)
        try:
            return await proc.stdout.readexactly(len(DATA) + 5)
        finally:
            await proc.wait()

    outcome = await assert_same(scenario)
    assert outcome.exc_type is asyncio.IncompleteReadError
    assert outcome.exc_attrs["partial"] == DATA
    assert outcome.exc_attrs["expected"] == len(DATA) + 5


@pytest.mark.differential
async def test_readexactly_negative() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await _reader_child(m)
        try:
            return await proc.stdout.readexactly(-1)
        finally:
            await proc.communicate()

    assert (await assert_same(scenario)).exc_type is ValueError


async def _readuntil_scenario(m: ModuleType, sep: Any) -> Any:
    proc = await _reader_child(m)
    try:
        return await proc.stdout.readuntil(sep), await proc.stdout.read()
    finally:
        await proc.communicate()


@pytest.mark.differential
@pytest.mark.parametrize("sep", [b"--", b"\r\n", b"end", b"nope", b""])
async def test_readuntil(sep: bytes) -> None:
    await assert_same(lambda m: _readuntil_scenario(m, sep))


TUPLES = [
    ((b";;", b"--"), (b"alpha\nbeta\r\n\ngamma--", b"delta;;end")),
    ((b"\r\n", b"\n"), (b"alpha\n", DATA[6:])),
    ((b"a;;", b"d;;"), (b"alpha\nbeta\r\n\ngamma--delta;;", b"end")),
    ((b"x",), asyncio.IncompleteReadError),
    ((), ValueError),
]


@pytest.mark.parametrize(("sep", "expected"), TUPLES)
async def test_readuntil_tuple_of_separators(sep: tuple[bytes, ...], expected: Any) -> None:
    """Python 3.13 semantics on every Python: the shortest match wins. Compared with asyncio
    where asyncio has them (3.13+); elsewhere checked against what 3.13 documents."""
    if sys.version_info >= (3, 13):
        await assert_same(lambda m: _readuntil_scenario(m, sep))
    if isinstance(expected, type):
        with pytest.raises(expected):
            await _readuntil_scenario(anysubprocess.subprocess, sep)
    else:
        assert await _readuntil_scenario(anysubprocess.subprocess, sep) == expected


@pytest.mark.differential
async def test_readuntil_list_is_not_a_set_of_separators() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await _reader_child(m)
        try:
            return await proc.stdout.readuntil([b"--"])
        finally:
            await proc.communicate()

    assert (await assert_same(scenario)).exc_type is TypeError


LONG = "import sys; sys.stdout.buffer.write(b'x' * 100 + b'\\nshort\\n' + b'y' * 50)"


@pytest.mark.differential
async def test_limit_overrun_readuntil_keeps_the_buffer() -> None:
    async def scenario(m: ModuleType) -> Any:
        # One write of 157 bytes: both read it in one piece, so both see the same buffer.
        proc = await _reader_child(m, LONG, limit=10)
        try:
            await proc.stdout.readuntil(b"\n")
        except asyncio.LimitOverrunError as e:
            return e.args, e.consumed, await proc.stdout.read(), await proc.wait()

    value = (await assert_same(scenario)).value
    assert value[:2] == (("Separator is found, but chunk is longer than limit",), 100)
    assert value[2].startswith(b"x" * 100 + b"\n")


@pytest.mark.differential
async def test_limit_overrun_readline_raises_value_error_and_drops_the_line() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await _reader_child(m, LONG, limit=10)
        try:
            await proc.stdout.readline()
        except ValueError as e:
            return e.args, await proc.stdout.readline(), await proc.stdout.read(), await proc.wait()

    assert (await assert_same(scenario)).value == (
        ("Separator is found, but chunk is longer than limit",),
        b"short\n",
        b"y" * 50,
        0,
    )


async def test_readline_overrun_without_separator_is_bounded() -> None:
    """A child writing an endless line: readline fails fast and we hold only ~limit bytes;
    the rest stays in the pipe (the child blocks), as asyncio's pause_reading does."""
    proc = await anysubprocess.create_subprocess_exec(
        PY,
        "-c",
        "import sys\nwhile True: sys.stdout.buffer.write(b'z' * 65536)",
        stdout=PIPE,
        limit=1000,
    )
    async with proc:
        assert proc.stdout is not None
        with pytest.raises(ValueError, match="Separator is not found, and chunk exceed the limit"):
            await proc.stdout.readline()
        assert proc.stdout._buffered() <= 1000 + 65536
        assert proc.returncode is None
        proc.kill()


@pytest.mark.differential
async def test_child_dies_mid_stream() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(
            PY,
            "-c",
            "import os, sys; sys.stdout.buffer.write(b'part'); sys.stdout.flush();"
            " os.kill(os.getpid(), 9)",
            stdout=m.PIPE,
        )
        try:
            await proc.stdout.readexactly(100)
        except asyncio.IncompleteReadError as e:
            return e.partial, await proc.wait()

    assert (await assert_same(scenario)).value == (b"part", -9)


@pytest.mark.differential
async def test_write_without_drain_reaches_child() -> None:
    """asyncio's transports flush on their own: write() then readline() must not hang."""

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(
            PY, "-u", "-c", ECHO_LINES, stdin=m.PIPE, stdout=m.PIPE
        )
        replies = []
        with anyio.fail_after(10):
            for word in (b"abc", b"hello", b"x" * 60_000):
                proc.stdin.write(word + b"\n")
                replies.append(await proc.stdout.readline())
        proc.stdin.close()
        return replies, await proc.wait()

    value = (await assert_same(scenario)).value
    assert value[0][:2] == [b"cba\n", b"olleh\n"]


@pytest.mark.differential
@pytest.mark.parametrize("size", [10, 2**16 + 1, 5 * 2**20])
async def test_write_close_wait_delivers_every_byte(size: int, tmp_path: Any) -> None:
    async def scenario(m: ModuleType) -> Any:
        out = tmp_path / f"out-{m.__name__}"
        with open(out, "wb") as f:
            proc = await m.create_subprocess_exec("cat", stdin=m.PIPE, stdout=f)
            proc.stdin.write(b"q" * size)
            proc.stdin.write(bytearray(b"r" * 10))
            proc.stdin.writelines([b"s", memoryview(b"tt")])
            proc.stdin.close()
            rc = await proc.wait()
        await anyio.sleep(0.05)
        return rc, out.stat().st_size

    assert (await assert_same(scenario)).value == (0, size + 13)


@pytest.mark.differential
async def test_drain_after_child_exit_raises_connection_error() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(PY, "-c", "pass", stdin=m.PIPE)
        await proc.wait()
        try:
            for _ in range(100):
                proc.stdin.write(b"x" * 65536)
                await proc.stdin.drain()
                await anyio.sleep(0.001)
        except (BrokenPipeError, ConnectionResetError):
            return "connection error"

    assert (await assert_same(scenario)).value == "connection error"


@pytest.mark.differential
async def test_writer_close_states() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec("cat", stdin=m.PIPE, stdout=m.DEVNULL)
        w = proc.stdin
        states = [w.is_closing(), w.can_write_eof(), w.get_extra_info("nope", 7)]
        states.append(w.get_extra_info("pipe") is not None)
        w.write(b"data")
        w.write_eof()
        states.append(w.is_closing())
        await w.wait_closed()
        w.write(b"dropped after close, as asyncio does")
        states.append(await proc.wait())
        return states

    assert (await assert_same(scenario)).value == [False, True, 7, True, True, 0]


async def test_write_rejects_str() -> None:
    proc = await anysubprocess.create_subprocess_exec("cat", stdin=PIPE, stdout=PIPE)
    assert proc.stdin is not None
    with pytest.raises(TypeError, match="bytes-like"):
        proc.stdin.write("text")  # type: ignore[arg-type]
    assert await proc.communicate(b"ok") == (b"ok", None)


async def test_wait_closed_reports_broken_pipe_and_can_be_cancelled() -> None:
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", "import time; time.sleep(0.2)", stdin=PIPE
    )
    assert proc.stdin is not None
    proc.stdin.write(b"x" * 2**22)  # more than even a grown pipe holds; nobody reads it
    proc.stdin.close()
    with anyio.move_on_after(0.05):
        await proc.stdin.wait_closed()  # cancelled: must not poison the next call
    with pytest.raises(BrokenPipeError):
        await proc.stdin.wait_closed()
    assert await proc.wait() == 0


async def _second_reader_errors(reader: Any, first: Any, *args: Any) -> Any:
    """Start ``first(*args)``, let it wait for data, then readline() beside it: the errors."""
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(first, *args)
            await anyio.sleep(0.1)
            await reader.readline()
    except BaseException as e:
        return [(type(x), str(x)) for x in getattr(e, "exceptions", [e])]
    return []


@pytest.mark.differential
async def test_two_concurrent_readers() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(
            PY, "-c", "import sys; sys.stdin.read()", stdin=m.PIPE, stdout=m.PIPE
        )
        try:
            return await _second_reader_errors(proc.stdout, proc.stdout.read, 10)
        finally:
            proc.stdin.close()
            await proc.wait()

    outcome = await assert_same(scenario)
    assert outcome.value == [
        (
            RuntimeError,
            "readuntil() called while another coroutine is already waiting for incoming data",
        )
    ]


async def test_read_is_cancel_safe() -> None:
    """asyncio's read() to EOF collects into a local list, lost on cancel; ours keeps it."""
    proc = await anysubprocess.create_subprocess_exec(
        PY,
        "-u",
        "-c",
        "import sys, time; print('one'); sys.stdin.readline(); print('two')",
        stdin=PIPE,
        stdout=PIPE,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    with anyio.move_on_after(0.5):
        await proc.stdout.read()
    proc.stdin.write(b"go\n")
    assert await proc.stdout.read() == b"one\ntwo\n"
    await proc.wait()


OVERLONG = b"ab\n" + b"x" * 25 + b"\nlast"


async def _overlong_child() -> tuple[anysubprocess.Process, anysubprocess.StreamReader]:
    """A child that writes OVERLONG (a 25-byte line), read with limit=10."""
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", f"import sys; sys.stdout.buffer.write({OVERLONG!r})", stdout=PIPE, limit=10
    )
    assert proc.stdout is not None
    return proc, proc.stdout


async def test_lines_split_policy_loses_nothing() -> None:
    proc, stdout = await _overlong_child()
    pieces = [piece async for piece in stdout.lines(overlong="split")]
    assert pieces == [b"ab\n", b"x" * 10, b"x" * 10, b"x" * 5 + b"\n", b"last"]
    assert b"".join(pieces) == OVERLONG
    await proc.wait()


async def test_lines_raise_policy_keeps_the_data() -> None:
    proc, stdout = await _overlong_child()
    await proc.wait()
    got = []
    with pytest.raises(asyncio.LimitOverrunError):
        async for line in stdout.lines():
            got.append(line)
    assert got == [b"ab\n"]
    assert await stdout.read() == b"x" * 25 + b"\nlast"
    with pytest.raises(ValueError, match="overlong"):
        stdout.lines(overlong="drop")  # type: ignore[arg-type]


async def test_at_eof_without_reading() -> None:
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", "pass", stdout=PIPE)
    assert proc.stdout is not None
    await proc.wait()
    with anyio.fail_after(5):
        while not proc.stdout.at_eof():
            await anyio.sleep(0.01)
    assert await proc.stdout.read() == b""


@pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ"), reason="Linux pipe sizes")
@FD_PATH_ONLY
async def test_bulk_transfers_grow_the_pipes() -> None:
    """A bulk write (more than 64 KiB queued) and a bulk read() to EOF ask the kernel for
    1 MiB pipes: 16x fewer wakeups. Small transfers keep the default pipe."""
    code = "import sys, time; time.sleep(0.2); d = sys.stdin.buffer.read(); print(len(d))"
    proc = await anysubprocess.create_subprocess_exec(
        "sh",
        "-c",
        f"{PY} -c 'import sys; sys.stdout.write(\"y\" * 3000000)'; {PY} -c '{code}'",
        stdin=PIPE,
        stdout=PIPE,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    stdin_fd = proc.stdin.get_extra_info("pipe").fileno()
    assert fcntl.fcntl(stdin_fd, fcntl.F_GETPIPE_SZ) == 2**16
    proc.stdin.write(b"x" * 500_000)
    assert fcntl.fcntl(stdin_fd, fcntl.F_GETPIPE_SZ) == 2**20
    proc.stdin.close()
    out = await proc.stdout.read()
    assert out == b"y" * 3_000_000 + b"500000\n"
    assert await proc.wait() == 0


@pytest.mark.differential
async def test_read_with_a_huge_n() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await _reader_child(m)
        data = await proc.stdout.read(sys.maxsize)
        await proc.communicate()
        return data

    assert (await assert_same(scenario)).value == DATA


@pytest.mark.differential
async def test_large_readexactly_then_lines() -> None:
    """A buffer growing past 256 KiB is appended in place (not re-copied per chunk); what
    comes back is bytes, and line reading resumes normally."""
    code = "import sys; sys.stdout.buffer.write(b'z' * 3_000_000 + b'\\nnext\\nlast')"

    async def scenario(m: ModuleType) -> Any:
        proc = await _reader_child(m, code)
        big = await proc.stdout.readexactly(2_999_999)
        rest = [await proc.stdout.readline() for _ in range(4)]
        await proc.wait()
        return type(big), len(big), big == b"z" * 2_999_999, rest

    assert (await assert_same(scenario)).value == (
        bytes,
        2_999_999,
        True,
        [b"z\n", b"next\n", b"last", b""],
    )


@pytest.mark.differential
async def test_read_to_eof_with_a_second_reader() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await _reader_child(
            m, "import sys, time; print('x', flush=True); time.sleep(0.3); print('y')"
        )
        try:
            return await _second_reader_errors(proc.stdout, proc.stdout.read)
        finally:
            await proc.wait()

    assert (await assert_same(scenario)).value == [
        (
            RuntimeError,
            "readuntil() called while another coroutine is already waiting for incoming data",
        )
    ]


@pytest.mark.differential
async def test_stdin_notices_the_child_is_gone() -> None:
    """asyncio's pipe transport sees the read end close: is_closing(), wait_closed() returns,
    drain() raises ConnectionResetError. We look when wait() returns."""

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(PY, "-c", "pass", stdin=m.PIPE)
        await proc.wait()
        await anyio.sleep(0.05)
        state = [proc.stdin.is_closing()]
        with anyio.fail_after(5):
            await proc.stdin.wait_closed()
        proc.stdin.write(b"late")
        try:
            await proc.stdin.drain()
        except ConnectionError as e:
            state.append(type(e))
        return state

    assert (await assert_same(scenario)).value == [True, ConnectionResetError]


async def test_a_read_blocked_when_the_process_closes_sees_eof() -> None:
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", "import time; time.sleep(30)", stdout=PIPE
    )
    assert proc.stdout is not None
    lines: list[bytes] = []

    async def reader() -> None:
        lines.append(await proc.stdout.readline())  # type: ignore[union-attr]

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await anyio.sleep(0.05)
        await stop(proc, grace_period=1)
    assert lines == [b""]


async def test_streams_outlive_a_dropped_process() -> None:
    """The streams own their fds: dropping the Process does not close them (a read would
    otherwise reach whatever fd reuses the number)."""
    proc = await anysubprocess.create_subprocess_exec(
        PY,
        "-c",
        "import time; print('a', flush=True); time.sleep(0.3); print('b')",
        stdout=PIPE,
    )
    reader, pid = proc.stdout, proc.pid
    assert reader is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        del proc
        gc.collect()
    r, w = os.pipe()  # would take the number of a wrongly closed fd
    try:
        os.write(w, b"UNRELATED\n")
        assert await reader.read() == b"a\nb\n"
    finally:
        os.close(r)
        os.close(w)
    with anyio.fail_after(10):  # reaped in the background, nobody waiting
        while _alive(pid):
            await anyio.sleep(0.005)

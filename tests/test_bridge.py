"""One process object for every vocabulary: anyio's contracts (Process, ByteReceiveStream,
ByteSendStream) over the same buffers as asyncio's methods, asyncio's transport face, and the
``anysubprocess.subprocess`` namespace."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import anyio
import anyio.abc
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from anyio.streams.stapled import StapledByteStream
from anyio.streams.text import TextReceiveStream, TextSendStream

import anysubprocess
from anysubprocess import PIPE, Process

from .conftest import PY, assert_cancel_point, assert_no_yield, stop

CAT = "import sys\nfor line in sys.stdin.buffer: sys.stdout.buffer.write(line); sys.stdout.flush()"
COUNT = "import sys; print(len(sys.stdin.buffer.read()))"


async def _cat() -> Process:
    return await anysubprocess.create_subprocess_exec(PY, "-c", CAT, stdin=PIPE, stdout=PIPE)


async def _printing(data: bytes) -> Process:
    code = f"import sys; sys.stdout.buffer.write({data!r})"
    return await anysubprocess.create_subprocess_exec(PY, "-c", code, stdout=PIPE)


# -- the types --------------------------------------------------------------------------------


async def test_process_is_an_anyio_process() -> None:
    proc = await _cat()
    assert isinstance(proc, anyio.abc.Process)
    assert isinstance(proc.stdin, anyio.abc.ByteSendStream)
    assert isinstance(proc.stdout, anyio.abc.ByteReceiveStream)
    assert proc.stderr is None

    async def anyio_code(p: anyio.abc.Process) -> int:
        """Written against anyio's API only."""
        assert p.stdin is not None
        assert p.stdout is not None
        await p.stdin.send(b"hi\n")
        got = await p.stdout.receive()
        await p.stdin.aclose()
        assert got == b"hi\n"
        return await p.wait()

    assert await anyio_code(proc) == 0
    assert proc.returncode == 0
    await proc.aclose()


# -- ByteReceiveStream ---------------------------------------------------------------------------


async def test_receive_returns_1_to_max_bytes_then_end_of_stream() -> None:
    data = bytes(range(256)) * 40
    proc = await _printing(data)
    assert proc.stdout is not None
    chunks = []
    while True:
        try:
            chunk = await proc.stdout.receive(1000)
        except anyio.EndOfStream:
            break
        assert 1 <= len(chunk) <= 1000
        chunks.append(chunk)
    assert b"".join(chunks) == data
    with pytest.raises(anyio.EndOfStream):  # and again
        await proc.stdout.receive()
    assert await proc.stdout.read() == b""  # asyncio's vocabulary: EOF is b""
    await proc.wait()


async def test_receive_after_aclose_raises_closed_resource_error() -> None:
    proc = await _printing(b"abc\n")
    assert proc.stdout is not None
    await proc.wait()
    await proc.stdout.aclose()
    with pytest.raises(anyio.ClosedResourceError):
        await proc.stdout.receive()
    # asyncio's methods see what was buffered, then EOF (asyncio has no close on a reader)
    assert await proc.stdout.read() == b"abc\n"


async def test_aclose_wakes_a_blocked_receive_with_closed_resource_error() -> None:
    proc = await _cat()
    assert proc.stdout is not None
    stdout = proc.stdout
    errors: list[BaseException] = []

    async def receiver() -> None:
        try:
            await stdout.receive()
        except anyio.ClosedResourceError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(receiver)
        await anyio.sleep(0.05)
        await stdout.aclose()
    assert len(errors) == 1
    await proc.aclose()


async def test_second_concurrent_receiver_gets_busy_resource_error() -> None:
    proc = await _cat()
    assert proc.stdout is not None
    stdout = proc.stdout
    async with anyio.create_task_group() as tg:
        tg.start_soon(stdout.receive)
        await anyio.sleep(0.05)
        with pytest.raises(anyio.BusyResourceError):
            await stdout.receive()
        with pytest.raises(RuntimeError, match="already waiting"):  # asyncio's vocabulary
            await stdout.readline()
        tg.cancel_scope.cancel()
    await proc.aclose()


async def test_receive_and_readline_share_one_buffer() -> None:
    """Bytes taken by one vocabulary are never returned by the other."""
    proc = await _printing(b"one\ntwo\nthree\nfour\n")
    assert proc.stdout is not None
    await proc.wait()  # everything is buffered now
    assert await proc.stdout.readline() == b"one\n"
    assert await proc.stdout.receive(3) == b"two"
    assert await proc.stdout.readline() == b"\n"
    assert await proc.stdout.receive() == b"three\nfour\n"
    assert await proc.stdout.readline() == b""
    with pytest.raises(anyio.EndOfStream):
        await proc.stdout.receive()


async def test_cancelled_receive_loses_nothing() -> None:
    proc = await _cat()
    assert proc.stdin is not None
    assert proc.stdout is not None
    with anyio.move_on_after(0.05):
        await proc.stdout.receive()  # nothing there yet: cancelled while waiting
    await assert_cancel_point(proc.stdout.receive())
    proc.stdin.write(b"kept\n")
    proc.stdin.close()
    assert await proc.stdout.read() == b"kept\n"
    await proc.wait()


async def test_receive_is_a_cancel_point_with_data_buffered() -> None:
    """Its answer ready: no yield (DESIGN semantics 10), but in a cancelled scope it raises."""
    proc = await _printing(b"buffered")
    assert proc.stdout is not None
    await proc.wait()
    assert await assert_no_yield(proc.stdout.receive(3)) == b"buf"
    await assert_cancel_point(proc.stdout.receive(3))
    assert await proc.stdout.read() == b"fered"


async def test_async_for_still_yields_asyncios_lines() -> None:
    proc = await _printing(b"a\nbb\nccc")
    assert proc.stdout is not None
    assert [line async for line in proc.stdout] == [b"a\n", b"bb\n", b"ccc"]
    await proc.wait()


# -- ByteSendStream ------------------------------------------------------------------------------


async def test_send_writes_everything_with_back_pressure() -> None:
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", COUNT, stdin=PIPE, stdout=PIPE)
    assert proc.stdin is not None
    assert proc.stdout is not None
    for _ in range(8):
        await proc.stdin.send(b"x" * 2**18)
        assert proc.stdin._pending_size == 0  # handed to the pipe when send() returns
    await proc.stdin.aclose()
    assert await proc.stdout.read() == b"2097152\n"
    await proc.wait()


async def test_send_after_the_child_left_raises_broken_resource_error() -> None:
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", "pass", stdin=PIPE)
    assert proc.stdin is not None
    await proc.wait()
    with pytest.raises(anyio.BrokenResourceError):
        await proc.stdin.send(b"nobody reads this\n")
    await proc.stdin.aclose()  # no error: there is nothing left to deliver


async def test_send_after_aclose_raises_closed_resource_error() -> None:
    proc = await _cat()
    assert proc.stdin is not None
    await proc.stdin.aclose()
    with pytest.raises(anyio.ClosedResourceError):
        await proc.stdin.send(b"late\n")
    await proc.wait()


async def test_stdin_aclose_delivers_what_was_written() -> None:
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", COUNT, stdin=PIPE, stdout=PIPE)
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(b"y" * 3_000_000)  # asyncio's write(): queued, not yet taken
    await proc.stdin.aclose()
    assert await proc.stdout.read() == b"3000000\n"
    await proc.wait()


async def test_send_is_a_cancel_point() -> None:
    """The pipe takes it all at once: no yield (DESIGN semantics 10), but in a cancelled
    scope it raises before it takes anything."""
    proc = await _cat()
    assert proc.stdin is not None
    assert proc.stdout is not None
    await assert_no_yield(proc.stdin.send(b"1\n"))
    await assert_cancel_point(proc.stdin.send(b"2\n"))  # cancelled before taking anything
    await proc.stdin.aclose()
    assert await proc.stdout.read() == b"1\n"
    await proc.wait()


# -- anyio's stream helpers on our pipes ---------------------------------------------------------


async def test_text_streams() -> None:
    proc = await _cat()
    assert proc.stdin is not None
    assert proc.stdout is not None
    send = TextSendStream(proc.stdin)
    receive = TextReceiveStream(proc.stdout)
    await send.send("grüße\n")
    assert await receive.receive() == "grüße\n"
    await send.aclose()
    with pytest.raises(anyio.EndOfStream):
        await receive.receive()
    await proc.wait()


async def test_buffered_receive_until() -> None:
    proc = await _printing(b"key=value;next=1;")
    assert proc.stdout is not None
    buffered = BufferedByteReceiveStream(proc.stdout)
    assert await buffered.receive_until(b";", 100) == b"key=value"
    assert await buffered.receive_until(b";", 100) == b"next=1"
    await proc.wait()


async def test_stapled_byte_stream() -> None:
    proc = await _cat()
    assert proc.stdin is not None
    assert proc.stdout is not None
    stream = StapledByteStream(proc.stdin, proc.stdout)
    await stream.send(b"ping\n")
    assert await stream.receive() == b"ping\n"
    await stream.send_eof()
    with pytest.raises(anyio.EndOfStream):
        await stream.receive()
    await stream.aclose()
    await proc.wait()


async def test_mixed_vocabularies_on_one_child() -> None:
    """asyncio-style writes and reads interleaved with anyio-style ones, one child."""
    proc = await _cat()
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(b"from asyncio\n")
    await proc.stdin.drain()
    assert await proc.stdout.readline() == b"from asyncio\n"
    await proc.stdin.send(b"from anyio\n")
    buffered = BufferedByteReceiveStream(proc.stdout)
    assert await buffered.receive_until(b"\n", 100) == b"from anyio"
    proc.stdin.write(b"asyncio again\n")
    await proc.stdin.send(b"anyio again\n")
    await proc.stdin.aclose()
    assert await proc.stdout.read() == b"asyncio again\nanyio again\n"
    assert await proc.wait() == 0


# -- asyncio's transport face --------------------------------------------------------------------


async def test_transport_methods() -> None:
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", "import time; time.sleep(30)", stdout=PIPE
    )
    transport = proc._transport
    assert isinstance(transport, asyncio.SubprocessTransport)
    assert transport.get_pid() == proc.pid
    assert transport.get_returncode() is None
    assert not transport.is_closing()
    transport.send_signal(signal.SIGSTOP)  # reaches the child: it stops
    transport.send_signal(signal.SIGCONT)
    transport.close()  # closes our pipe ends and kills the running child
    assert proc._transport.is_closing()
    assert await proc.wait() == -signal.SIGKILL
    assert transport.get_returncode() == -signal.SIGKILL
    transport.close()  # idempotent
    with pytest.raises(ProcessLookupError):  # as asyncio's, once its transport is closed
        transport.kill()


async def test_transport_close_after_a_command_keeps_its_results() -> None:
    """The idiom of a real asyncio command-runner: communicate, then close the transport."""
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", "print('done')", stdout=PIPE, stderr=PIPE
    )
    out, err = await proc.communicate()
    proc._transport.close()
    assert (out, err, proc.returncode) == (b"done\n", b"", 0)
    assert proc._transport.get_returncode() == 0
    with pytest.raises(ProcessLookupError):
        proc._transport.terminate()


async def test_transport_terminate() -> None:
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", "import time; time.sleep(30)")
    proc._transport.terminate()
    assert await proc.wait() == -signal.SIGTERM
    assert proc._transport.get_pipe_transport(1) is None


# -- asyncio's namespace face --------------------------------------------------------------------


def test_subprocess_is_an_attribute_after_import() -> None:
    """After `import anysubprocess` alone, `anysubprocess.subprocess.PIPE` works (a fresh
    interpreter: this one has imported the submodule already)."""
    code = (
        "import anysubprocess\n"
        "m = anysubprocess.subprocess\n"
        "print(m.PIPE, m.STDOUT, m.DEVNULL, m.Process is anysubprocess.Process)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["-1", "-2", "-3", "True"]


# -- trio-asyncio --------------------------------------------------------------------------------

TRIO_ASYNCIO_PROGRAM = """
import sys, trio, trio_asyncio
import anysubprocess as asp

async def asyncio_side():  # asyncio code, run by trio-asyncio's loop
    proc = await asp.create_subprocess_exec(
        sys.executable, "-c", "import sys; print(sys.stdin.read().upper())",
        stdin=asp.PIPE, stdout=asp.PIPE, stderr=asp.PIPE,
    )
    out, err = await proc.communicate(b"hello")
    slow = await asp.create_subprocess_exec("sleep", "30")
    try:
        await slow.wait(timeout=0.1)
    except asp.TimeoutExpired:
        pass
    slow.terminate()
    await slow.aclose()  # waits (anyio's aclose)
    return out, err, proc.returncode, slow.returncode

async def main():
    async with trio_asyncio.open_loop():
        print(await trio_asyncio.aio_as_trio(asyncio_side)())
        proc = await asp.create_subprocess_exec("echo", "trio side", stdout=asp.PIPE)
        print(await proc.communicate())

trio.run(main)
"""


def test_inside_trio_asyncio_loop() -> None:
    """asyncio-side code using anysubprocess inside trio_asyncio.open_loop() works, next to
    trio-side code in the same run."""
    pytest.importorskip("trio_asyncio", reason="trio-asyncio does not import on 3.14+")
    result = subprocess.run(
        # trio-asyncio's own import warns on 3.12+ (it subclasses asyncio's deprecated child
        # watcher): not ours to fix; every other warning is still an error.
        [
            sys.executable,
            "-W",
            "error",
            "-W",
            "ignore::DeprecationWarning:trio_asyncio._loop",
            "-c",
            TRIO_ASYNCIO_PROGRAM,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "(b'HELLO\\n', b'', 0, -15)",
        "(b'trio side\\n', None)",
    ]


async def test_cancelled_stdin_aclose_still_closes() -> None:
    """trio's rule for aclose(): cancelled, it still closes. The child never reads, so
    delivering what write() queued would take forever: the timeout drops it and closes."""
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", "import time; time.sleep(30)", stdin=PIPE
    )
    assert proc.stdin is not None
    proc.stdin.write(b"z" * 4_000_000)
    with anyio.move_on_after(0.1) as scope:
        await proc.stdin.aclose()
    assert scope.cancelled_caught
    assert proc.stdin._closed  # the fd is closed
    with pytest.raises(anyio.ClosedResourceError):  # closed by us: not "broken"
        await proc.stdin.send(b"more")
    await proc.stdin.wait_closed()  # no BrokenPipeError: nothing broke
    await stop(proc)


async def test_send_after_process_aclose_is_closed_not_broken() -> None:
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", "import time; time.sleep(30)", stdin=PIPE
    )
    assert proc.stdin is not None
    proc.stdin.write(b"z" * 4_000_000)  # the flusher is waiting on the full pipe
    await anyio.sleep(0.05)
    await stop(proc)
    with pytest.raises(anyio.ClosedResourceError):
        await proc.stdin.send(b"more")
    await proc.stdin.wait_closed()


# -- anyio's contract where it differs from asyncio's (issue #15, from anyio's own suite) ------


@pytest.mark.parametrize("max_bytes", [0, -1])
async def test_receive_rejects_max_bytes_below_1_in_anyios_words(max_bytes: int) -> None:
    proc = await _printing(b"x")
    assert proc.stdout is not None
    with pytest.raises(ValueError, match=r"^max_bytes must be a positive integer$"):
        await proc.stdout.receive(max_bytes)
    assert await proc.stdout.read() == b"x"  # nothing taken
    await proc.wait()


async def test_receive_after_the_process_was_closed_raises_closed_resource_error() -> None:
    proc = await _printing(b"left over")
    async with proc:
        await proc.wait()
    assert proc.stdout is not None
    with pytest.raises(anyio.ClosedResourceError):  # anyio's contract: not EndOfStream
        await proc.stdout.receive(1)
    assert await proc.stdout.read() == b"left over"  # asyncio's methods: the buffer, then EOF


async def test_send_after_we_closed_stdin_is_closed_even_when_the_child_left() -> None:
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", "", stdin=PIPE)
    assert proc.stdin is not None
    await proc.wait()
    with pytest.raises(anyio.BrokenResourceError):  # the child left; we did not close
        for _ in range(3):
            await proc.stdin.send(b"x")
    proc.stdin.close()
    with pytest.raises(anyio.ClosedResourceError):  # closed by us is checked first
        await proc.stdin.send(b"x")
    await proc.aclose()


async def test_aclose_waits_and_keeps_the_exit_status() -> None:
    """anyio's and trio's aclose(): close the pipes and wait; no signal."""
    proc = await anysubprocess.create_subprocess_exec(
        PY,
        "-c",
        "import sys, time; sys.stdin.read(); time.sleep(0.2); sys.exit(3)",
        stdin=PIPE,
        stdout=PIPE,
    )
    with anyio.fail_after(10):
        await proc.aclose()
    assert proc.returncode == 3
    assert proc.stdout is not None
    with pytest.raises(anyio.ClosedResourceError):
        await proc.stdout.receive()


async def test_aclose_whose_wait_is_cancelled_stops_the_child() -> None:
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", "import time; time.sleep(30)")
    with anyio.move_on_after(0.2) as scope:
        await proc.aclose(grace_period=0.5)
    assert scope.cancelled_caught
    assert proc.returncode == -signal.SIGTERM  # the cleanup ran, shielded, before it raised


async def test_anyio_typed_code_gets_anyios_aclose() -> None:
    async def anyio_code(p: anyio.abc.Process) -> int | None:
        await p.aclose()
        return p.returncode

    proc = await anysubprocess.create_subprocess_exec(PY, "-c", "raise SystemExit(3)")
    assert await anyio_code(proc) == 3


# -- async for: asyncio's lines on our reader; anyio's chunks through chunks() -----------------


async def _drain_anyio_style(stream: anyio.abc.ByteReceiveStream) -> bytes:
    """A helper typed for anyio: iterating a byte stream yields chunks."""
    return b"".join([chunk async for chunk in stream])


async def test_anyio_style_iteration_of_an_overlong_line_loses_nothing() -> None:
    data = b"x" * 100_000 + b"\n" + b"tail"  # one line over the 64 KiB limit
    proc = await _printing(data)
    assert proc.stdout is not None
    # Our reader iterates asyncio's lines: the overlong one raises asyncio's ValueError...
    with pytest.raises(ValueError, match="limit"):
        await _drain_anyio_style(proc.stdout)
    # ...and its bytes are still there, for anyio's iteration: chunks(), or any anyio wrapper.
    assert b"".join([chunk async for chunk in proc.stdout.chunks()]) == data
    assert await proc.wait() == 0


async def test_anyio_wrappers_iterate_chunks() -> None:
    data = b"y" * 100_000 + b"\n" + b"tail"
    proc = await _printing(data)
    assert proc.stdout is not None
    assert await _drain_anyio_style(BufferedByteReceiveStream(proc.stdout)) == data
    assert await proc.wait() == 0


async def test_send_whose_bytes_are_thrown_away_is_not_a_success() -> None:
    """A send() still waiting for the child to read when stdin is closed under it (an abort:
    transport.abort(), the Process's cleanup) did not happen: ClosedResourceError, as
    anyio's; returning normally would say the bytes were delivered."""
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", "import time; time.sleep(30)", stdin=PIPE
    )
    assert proc.stdin is not None
    stdin = proc.stdin
    outcome: list[str] = []

    async def sender() -> None:
        try:
            await stdin.send(b"x" * 10_000_000)  # more than any pipe takes: it waits
        except anyio.ClosedResourceError:
            outcome.append("closed")
        else:
            outcome.append("returned")

    async with anyio.create_task_group() as tg:
        tg.start_soon(sender)
        with anyio.fail_after(10):
            while not stdin._pending_size:
                await anyio.sleep(0.01)
        stdin.transport.abort()
    assert outcome == ["closed"]
    await stop(proc)

"""Type tests: what a type checker infers from the public API, and what it must reject.

Not run by pytest: ``mypy`` checks this file (scripts/test). ``warn_unused_ignores`` (part of
``--strict``) turns every ``# type: ignore[...]`` below into an assertion that the line is
rejected, with that error code; ``assert_type`` lines assert what is inferred.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

from typing_extensions import assert_type

import anysubprocess as asp
from anysubprocess import subprocess as asp_subprocess


async def factories() -> None:
    proc = await asp.create_subprocess_exec("ls", "-l", stdout=asp.PIPE)
    assert_type(proc, asp.Process)
    assert_type(await asp.create_subprocess_shell("ls", stdout=asp.DEVNULL), asp.Process)
    assert_type(await asp_subprocess.create_subprocess_exec(b"ls"), asp.Process)

    # Everything asyncio's stubs accept is accepted.
    with open("/dev/null", "wb") as sink:
        await asp.create_subprocess_exec(
            "ls",
            stdin=asp.DEVNULL,
            stdout=sink,
            stderr=asp.STDOUT,
            limit=1024,
            cwd="/",
            env={"A": "1"},
            pass_fds=(3,),
            close_fds=True,
            start_new_session=True,
            umask=0o22,
            preexec_fn=None,
            restore_signals=True,
            pipesize=65536,
            executable=None,
            user=None,
            group=None,
            extra_groups=None,
            shell=False,
            text=False,
            bufsize=0,
            encoding=None,
            errors=None,
            universal_newlines=False,
        )
    if sys.version_info >= (3, 11):
        await asp.create_subprocess_exec("ls", process_group=0)
    await asp.create_subprocess_shell("ls", shell=True, text=None)

    # What asyncio rejects at run time is a type error too (as in typeshed's stubs).
    await asp.create_subprocess_exec("ls", text=True)  # type: ignore[arg-type]
    await asp.create_subprocess_exec("ls", bufsize=1)  # type: ignore[arg-type]
    await asp.create_subprocess_exec("ls", encoding="utf-8")  # type: ignore[arg-type]
    await asp.create_subprocess_exec("ls", universal_newlines=True)  # type: ignore[arg-type]
    await asp.create_subprocess_exec("ls", shell=True)  # type: ignore[arg-type]
    await asp.create_subprocess_shell("ls", shell=False)  # type: ignore[arg-type]
    await asp.create_subprocess_shell(["ls"])  # type: ignore[arg-type]
    await asp.create_subprocess_exec("ls", cwd=1.5)  # type: ignore[arg-type]
    await asp.create_subprocess_exec("ls", no_such_keyword=1)  # type: ignore[call-arg]
    await asp.create_subprocess_exec("ls", stdout="PIPE")  # type: ignore[arg-type]
    await asp.create_subprocess_exec(42)  # type: ignore[arg-type]


async def process(proc: asp.Process) -> None:
    assert_type(proc.pid, int)
    assert_type(proc.returncode, int | None)
    assert_type(proc.stdin, asp.StreamWriter | None)
    assert_type(proc.stdout, asp.StreamReader | None)
    assert_type(proc.stderr, asp.StreamReader | None)
    assert_type(await proc.wait(), int)
    assert_type(await proc.wait(timeout=1.0), int)
    assert_type(await proc.communicate(b"in"), tuple[bytes | None, bytes | None])
    assert_type(await proc.communicate(timeout=2), tuple[bytes | None, bytes | None])
    assert_type(proc.send_signal(15), None)
    assert_type(proc.terminate(), None)
    assert_type(proc.kill(), None)
    await proc.communicate("text")  # type: ignore[arg-type]
    await proc.wait(1.0)  # type: ignore[call-arg]
    async with proc as same:
        assert_type(same, asp.Process)


async def streams(reader: asp.StreamReader, writer: asp.StreamWriter) -> None:
    assert_type(await reader.readline(), bytes)
    assert_type(await reader.read(), bytes)
    assert_type(await reader.readexactly(4), bytes)
    assert_type(await reader.readuntil(b";"), bytes)
    assert_type(await reader.readuntil((b";", b"\n")), bytes)
    assert_type(reader.at_eof(), bool)
    async for line in reader:
        assert_type(line, bytes)
    async for piece in reader.lines(overlong="split"):
        assert_type(piece, bytes)
    reader.lines(overlong="drop")  # type: ignore[arg-type]
    await reader.readuntil([b";"])  # type: ignore[arg-type]

    writer.write(b"x")
    writer.write(bytearray(b"x"))
    writer.write("text")  # type: ignore[arg-type]
    assert_type(await writer.drain(), None)
    assert_type(writer.is_closing(), bool)
    writer.close()
    assert_type(await writer.wait_closed(), None)


async def structured(proc: asp.Process) -> None:
    async def interrupt(p: asp.Process) -> None:
        p.send_signal(2)

    proc.deliver_cancel = interrupt
    proc.deliver_cancel = None
    proc.grace_period = 1.5
    assert_type(asp.DEFAULT_GRACE_PERIOD, float)
    assert_type(await proc.aclose(grace_period=0, deliver_cancel=interrupt), None)
    proc.signal_group(15)
    proc.grace_period = "5"  # type: ignore[assignment]
    proc.deliver_cancel = print  # type: ignore[assignment]


def reader_without_a_pipe() -> None:
    reader = asp.StreamReader(limit=10)
    reader.feed_data(b"x")
    reader.feed_data(memoryview(b"y"))
    reader.feed_eof()
    reader.feed_data("text")  # type: ignore[arg-type]


async def run_and_errors() -> None:
    result = await asp.run(["ls"], capture_output=True, check=True, timeout=5)
    assert_type(result, subprocess.CompletedProcess[Any])
    await asp.run("ls", shell=True, cwd="/", env={"A": "1"}, text=True, input="x", grace_period=1)
    await asp.run(["ls"], timeout="5")  # type: ignore[arg-type]
    try:
        await asp.run("ls", shell=True)
    except asp.TimeoutExpired as exc:
        assert_type(exc.args, tuple[Any, ...])
        assert_type(exc.timeout, float)
        # Both views of the exception hold.
        _: subprocess.TimeoutExpired = exc
        __: TimeoutError = exc
    # asyncio's own exception classes, not look-alikes.
    assert asp.IncompleteReadError is asyncio.IncompleteReadError
    assert asp.LimitOverrunError is asyncio.LimitOverrunError


# Our classes are asyncio's (subclasses): they pass where asyncio's types are expected.
async def typed_for_asyncio(
    proc: asyncio.subprocess.Process, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bytes:
    writer.write(b"x")
    assert_type(writer.transport, asyncio.WriteTransport)
    return await reader.readline() + (await proc.communicate())[0]


async def asyncio_types_take_ours(proc: asp.Process) -> None:
    assert proc.stdout is not None
    assert proc.stdin is not None
    await typed_for_asyncio(proc, proc.stdout, proc.stdin)
    as_asyncio: asyncio.subprocess.Process = proc
    assert as_asyncio.pid == proc.pid
    proc.stdin = None
    proc.pid = "1"  # type: ignore[assignment]

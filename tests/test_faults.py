"""Faults: children that die, close their end, flood a pipe, or leave a grandchild behind;
spawns that fail. Compared with stdlib asyncio wherever asyncio defines the behaviour."""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest

import anysubprocess
from anysubprocess import PIPE
from anysubprocess.testing import Snapshot

from .conftest import PY, stop
from .oracle import assert_same

pytestmark = pytest.mark.differential

MiB = 2**20


# -- a child that dies mid-stream ------------------------------------------------------------


async def test_sigkill_mid_stream_keeps_what_was_written() -> None:
    """Everything the child wrote before SIGKILL is read, then EOF; returncode -9."""
    code = (
        "import sys, time\n"
        "sys.stdout.buffer.write(bytes(range(256)) * 200); sys.stdout.flush()\n"
        "print('written', file=sys.stderr, flush=True)\n"
        "time.sleep(60)"
    )

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(PY, "-c", code, stdout=m.PIPE, stderr=m.PIPE)
        assert await proc.stderr.readline() == b"written\n"
        proc.kill()
        returncode = await proc.wait()
        out = await proc.stdout.read()
        return (
            returncode,
            out == bytes(range(256)) * 200,
            await proc.stdout.read(),
            proc.stdout.at_eof(),
        )

    assert (await assert_same(scenario)).value == (-signal.SIGKILL, True, b"", True)


async def test_sigkill_while_streaming() -> None:
    """A child writing without pause is killed while we read: what we get is an unbroken
    prefix of its output, then EOF."""
    code = "import sys\nblock = bytes(range(256)) * 256\nwhile True: sys.stdout.buffer.write(block)"

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(PY, "-c", code, stdout=m.PIPE)
        head = await proc.stdout.readexactly(MiB)
        proc.kill()
        rest = await proc.stdout.read()
        data = head + rest
        pattern = bytes(range(256)) * (len(data) // 256 + 1)
        return await proc.wait(), data == pattern[: len(data)], proc.stdout.at_eof()

    assert (await assert_same(scenario)).value == (-signal.SIGKILL, True, True)


# -- a child that closes its stdin -----------------------------------------------------------

CLOSE_STDIN_THEN_WAIT = (
    "import os, sys, time\nos.close(0)\nprint('closed', flush=True)\ntime.sleep(60)"
)


async def test_drain_after_the_child_closed_stdin_raises() -> None:
    """A write fails (EPIPE) once the child closed its stdin; a drain() after that raises
    ConnectionResetError('Connection lost') in asyncio (its transport has lost the
    connection), so must it here, on every loop."""

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(
            PY, "-c", CLOSE_STDIN_THEN_WAIT, stdin=m.PIPE, stdout=m.PIPE
        )
        try:
            assert await proc.stdout.readline() == b"closed\n"
            proc.stdin.write(b"x" * MiB)  # never raises by itself
            await anyio.sleep(0.1)  # the failed write has been noticed
            try:
                await proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError) as exc:
                return type(exc).__name__, exc.args
            return "no error", ()
        finally:
            proc.kill()
            await proc.wait()

    assert (await assert_same(scenario)).value == ("ConnectionResetError", ("Connection lost",))


async def test_communicate_ignores_a_stdin_closed_early() -> None:
    """communicate(input=big) does not raise when the child closed stdin without reading."""

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(
            PY,
            "-c",
            "import os, time; os.close(0); time.sleep(0.2); print('bye')",
            stdin=m.PIPE,
            stdout=m.PIPE,
        )
        out, err = await proc.communicate(b"x" * (8 * MiB))
        return out, err, proc.returncode

    assert (await assert_same(scenario)).value == (b"bye\n", None, 0)


# -- spawns that fail ------------------------------------------------------------------------


@pytest.fixture
def restore_nofile() -> Iterator[tuple[int, int]]:
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        yield limits
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, limits)


def _open_fd_numbers() -> set[int]:
    found = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            os.fstat(int(name))
        except OSError:
            continue  # listdir's own fd, closed by now
        found.add(int(name))
    return found


@contextlib.contextmanager
def _room_for(free: int) -> Iterator[None]:
    """Lower the soft RLIMIT_NOFILE so that exactly ``free`` more fds can be opened (the gaps
    below the highest open fd are filled with /dev/null first); restore it after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    top = max(_open_fd_numbers())
    fillers = []
    try:
        while (fd := os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)) < top:
            fillers.append(fd)
        os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (top + 1 + free, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    finally:
        for fd in fillers:
            os.close(fd)


@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="CPython 3.10's Popen leaks the pipes it made when it fails with EMFILE (asyncio on"
    " 3.10 too); fixed in 3.11",
)
async def test_emfile_while_spawning_leaves_no_half_made_pipes(
    restore_nofile: tuple[int, int],
) -> None:
    """With room for only 0, 1, 2, ... more fds, spawning with three pipes fails at each step
    in turn (the pipes, Popen's own error pipe, the pidfd): OSError(EMFILE), or a process
    that works, and never a pipe left open. (Not compared with asyncio: its loop needs fds
    of its own under the same limit.)"""
    outcomes: list[str] = []
    for free in range(16):
        snapshot = Snapshot.take()
        fds_before = _open_fd_numbers()
        proc = None
        error: OSError | None = None
        try:
            with _room_for(free):
                proc = await anysubprocess.create_subprocess_exec(
                    PY,
                    "-c",
                    "import sys; print(sys.stdin.read())",
                    stdin=PIPE,
                    stdout=PIPE,
                    stderr=PIPE,
                )
        except OSError as exc:
            error = exc
        if error is not None:
            assert error.errno == errno.EMFILE, error
            outcomes.append("EMFILE")
        else:
            assert proc is not None
            assert await proc.communicate(b"hi") == (b"hi\n", b"")
            outcomes.append("ran")
        await snapshot.wait_clean(timeout=5)
        with anyio.move_on_after(2):  # background cleanup: trio's exit watcher lingers 0.25 s
            while _open_fd_numbers() != fds_before:
                await anyio.sleep(0.01)
        assert _open_fd_numbers() == fds_before, outcomes
    assert outcomes[0] == "EMFILE", outcomes
    first_ran = outcomes.index("ran")  # enough room from some point on, and from then on
    assert set(outcomes[first_ran:]) == {"ran"}, outcomes


async def test_missing_program_on_path() -> None:
    async def scenario(m: ModuleType) -> Any:
        return await m.create_subprocess_exec(
            "no-such-program-xyz", "arg", stdin=m.PIPE, stdout=m.PIPE, stderr=m.PIPE
        )

    outcome = await assert_same(scenario)
    assert outcome.exc_type is FileNotFoundError
    assert outcome.exc_attrs["filename"] == "no-such-program-xyz"


@pytest.mark.parametrize("what", ["directory", "no x bit", "no x bit, via PATH"])
async def test_not_executable_with_pipes(
    what: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "tool"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    program = str(tmp_path) if what == "directory" else str(script)
    if what.endswith("via PATH"):
        monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
        program = "tool"

    async def scenario(m: ModuleType) -> Any:
        return await m.create_subprocess_exec(program, stdin=m.PIPE, stdout=m.PIPE, stderr=m.PIPE)

    outcome = await assert_same(scenario)
    assert outcome.exc_type is PermissionError
    assert outcome.exc_attrs["filename"] == program


@pytest.mark.parametrize("factory", ["exec", "shell"])
async def test_missing_cwd_with_pipes(factory: str) -> None:
    async def scenario(m: ModuleType) -> Any:
        pipes = {"stdin": m.PIPE, "stdout": m.PIPE, "stderr": m.PIPE, "cwd": "/no/such/dir-xyz"}
        if factory == "exec":
            return await m.create_subprocess_exec(PY, "-c", "pass", **pipes)
        return await m.create_subprocess_shell("echo hi", **pipes)

    outcome = await assert_same(scenario)
    assert outcome.exc_type is FileNotFoundError
    assert outcome.exc_attrs["filename"] == "/no/such/dir-xyz"


# -- a child that floods the pipe nobody reads ------------------------------------------------

FLOOD_STDERR = (
    "import sys\n"
    "sys.stderr.buffer.write(b'e' * (8 * 2**20)); sys.stderr.flush()\n"
    "sys.stdout.buffer.write(b'done')"
)


async def test_stderr_flood_while_reading_only_stdout_blocks_as_asyncio() -> None:
    """asyncio stops reading a pipe whose reader holds more than 2 * limit bytes, so a child
    writing megabytes to an unread stderr blocks, and ``stdout.read()`` waits for it: a
    deadlock in asyncio, and the same here (the read buffer is bounded). Reading stderr
    unblocks it."""

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(PY, "-c", FLOOD_STDERR, stdout=m.PIPE, stderr=m.PIPE)
        out = None
        with anyio.move_on_after(1):
            out = await proc.stdout.read()
        blocked = out is None and proc.returncode is None
        err = await proc.stderr.read()  # unblocks the child
        out = await proc.stdout.read()
        return blocked, len(err), out, await proc.wait()

    assert (await assert_same(scenario)).value == (True, 8 * MiB, b"done", 0)


async def test_stderr_flood_with_communicate() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(PY, "-c", FLOOD_STDERR, stdout=m.PIPE, stderr=m.PIPE)
        out, err = await proc.communicate()
        return out, len(err), proc.returncode

    assert (await assert_same(scenario)).value == (b"done", 8 * MiB, 0)


async def test_stderr_flood_to_devnull_while_reading_stdout() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(
            PY, "-c", FLOOD_STDERR, stdout=m.PIPE, stderr=m.DEVNULL
        )
        return await proc.stdout.read(), await proc.wait()

    assert (await assert_same(scenario)).value == (b"done", 0)


# -- a grandchild that holds the pipe --------------------------------------------------------

# The child (a shell) starts a background grandchild that holds stdout until it reads a line
# from the pipe given as stdin (through fd 3: a background job's own stdin is /dev/null),
# prints "early" and exits.
GRANDCHILD = "exec 3<&0; (read line <&3; echo late) & echo early"


async def test_reading_to_eof_waits_for_the_grandchild() -> None:
    """stdout's EOF comes when the last holder (the grandchild) closes it, as in asyncio."""

    async def scenario(m: ModuleType) -> Any:
        r, w = os.pipe()
        try:
            try:
                proc = await m.create_subprocess_shell(
                    GRANDCHILD, stdin=r, stdout=m.PIPE, start_new_session=True
                )
            finally:
                os.close(r)
            early = await proc.stdout.readline()
            os.write(w, b"go\n")
            return early, await proc.stdout.read(), await proc.wait()
        finally:
            os.close(w)

    assert (await assert_same(scenario)).value == (b"early\n", b"late\n", 0)


async def test_wait_returns_at_the_childs_exit_while_a_grandchild_holds_stdout() -> None:
    """wait() does not wait for the pipe (cpython#119710, asyncio 3.13+); a read to EOF does."""
    r, w = os.pipe()
    try:
        proc = await anysubprocess.create_subprocess_shell(
            GRANDCHILD, stdin=r, stdout=PIPE, start_new_session=True
        )
    finally:
        os.close(r)
    try:
        assert proc.stdout is not None
        with anyio.fail_after(10):
            assert await proc.wait() == 0
        assert await proc.stdout.readline() == b"early\n"
        with anyio.move_on_after(0.2) as scope:
            await proc.stdout.read()  # the grandchild still holds the pipe: no EOF yet
        assert scope.cancelled_caught
        os.write(w, b"go\n")
        with anyio.fail_after(10):
            assert await proc.stdout.read() == b"late\n"
    finally:
        os.close(w)
        await stop(proc)


async def test_a_write_the_closed_stdin_refused_breaks_the_pipe_without_another_write() -> None:
    """The child closed its stdin and goes on running; one write() to it fails (at once on
    the fd path, in the writer thread on the thread path). From then on drain() raises
    ConnectionResetError as asyncio's does, with no further write() needed to find out."""
    proc = await anysubprocess.create_subprocess_exec(
        PY,
        "-c",
        "import os, time; os.close(0); print('closed', flush=True); time.sleep(30)",
        stdin=PIPE,
        stdout=PIPE,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert await proc.stdout.readline() == b"closed\n"
    proc.stdin.write(b"hello\n")
    with anyio.fail_after(5):
        while not proc.stdin.is_closing():  # the thread path learns it a moment later
            await anyio.sleep(0.01)
    with pytest.raises(ConnectionResetError):
        await proc.stdin.drain()
    await stop(proc)

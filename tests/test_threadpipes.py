"""The thread backend's pipes and workers (_backends/_threadpipes.py, _workers.py), through
a ThreadBackend made here, so they run on every variant of the suite, not only the threads one."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
import sniffio

from anysubprocess import PIPE
from anysubprocess._backends import _workers
from anysubprocess._backends._threadchild import ThreadBackend, ThreadChild
from anysubprocess._backends._threadpipes import SEND_ROOM

from .conftest import PY, _our_fds


def _backend() -> ThreadBackend:
    if sniffio.current_async_library() == "trio":
        from anysubprocess._backends._trio import TrioOps

        return ThreadBackend("trio", TrioOps())
    from anysubprocess._backends._asyncio import AsyncioOps

    return ThreadBackend("asyncio", AsyncioOps())


async def _spawn(code: str, **stdio: Any) -> ThreadChild:
    return await _backend().spawn(
        [PY, "-c", code],
        shell=False,
        stdin=stdio.get("stdin"),
        stdout=stdio.get("stdout"),
        stderr=None,
        popen_kwargs={},
    )


async def _until(predicate: Any, what: str) -> None:
    with anyio.fail_after(10, shield=False):
        while not predicate():
            await anyio.sleep(0.005)
    assert predicate(), what


async def _finish(child: ThreadChild) -> None:
    child.kill_and_forget()
    with anyio.fail_after(10):
        await child.wait()


async def test_a_cancelled_receive_loses_nothing() -> None:
    """The thread's read ends after its caller was cancelled: the bytes wait for the next."""
    child = await _spawn(
        "import sys, time; time.sleep(0.3); sys.stdout.buffer.write(b'late'); "
        "sys.stdout.flush(); time.sleep(30)",
        stdout=PIPE,
    )
    pipe = child.stdout
    assert pipe is not None
    with anyio.move_on_after(0.05) as scope:
        await pipe.receive(100)
    assert scope.cancelled_caught
    await _until(lambda: not pipe.reading(), "the thread's read returned")
    assert pipe.receive_nowait(100) == b"late"
    await _finish(child)


async def test_a_thread_reads_one_chunk_ahead_at_most() -> None:
    """A child writing 4 MiB to a reader that stops asking: one chunk is read, not more; the
    pipe back-pressures the child."""
    child = await _spawn("import sys; sys.stdout.buffer.write(b'x' * (4 << 20))", stdout=PIPE)
    pipe = child.stdout
    assert pipe is not None
    assert pipe.receive_nowait(65536) is None  # asks: one read starts
    await _until(lambda: not pipe.reading(), "the first chunk is in")
    await anyio.sleep(0.2)  # time to read more, if it did
    assert not pipe.reading()
    first = pipe.receive_nowait(1 << 20)
    assert first is not None
    assert 0 < len(first) <= 65536
    assert child.poll() is None  # blocked writing: nobody reads
    await _finish(child)


async def test_send_takes_a_bounded_amount_ahead() -> None:
    """A child that never reads: the pipe takes the OS pipe's worth and SEND_ROOM more, then
    0, and wait_writable() waits."""
    child = await _spawn("import time; time.sleep(30)", stdin=PIPE)
    pipe = child.stdin
    assert pipe is not None
    taken = 0
    with anyio.fail_after(10):
        while True:
            n = pipe.send_nowait(b"y" * 65536)
            taken += n
            if n == 0:
                if not pipe._working:  # the thread's write returned: the pipe has room
                    await anyio.sleep(0.01)
                    continue
                await anyio.sleep(0.1)
                if pipe.send_nowait(b"y") == 0:
                    break
                taken += 1
    assert taken <= (1 << 20) + SEND_ROOM  # at most a (grown) pipe and one chunk ahead
    with anyio.move_on_after(0.1) as scope:
        await pipe.wait_writable()
    assert scope.cancelled_caught
    await _finish(child)


async def test_close_under_a_blocked_read_frees_the_fd_when_the_read_ends() -> None:
    fds = _our_fds()
    child = await _spawn("import time; time.sleep(30)", stdout=PIPE)
    pipe = child.stdout
    assert pipe is not None
    assert pipe.receive_nowait(10) is None
    assert pipe.reading()
    pipe.close()
    with pytest.raises(anyio.ClosedResourceError):
        pipe.receive_nowait(10)
    await anyio.sleep(0.05)
    assert len(_our_fds()) > len(fds)  # the thread still reads it: not closed under it
    await _finish(child)  # the kill ends the read: the loop closes the fd
    await _until(lambda: _our_fds() == fds, "the fd is closed")


async def test_idle_workers_are_bounded() -> None:
    """Twenty blocked reads need twenty threads; once they return, at most MAX_IDLE stay."""
    children = [await _spawn("import time; time.sleep(30)", stdout=PIPE) for _ in range(20)]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.receive_nowait(10) is None
    assert _workers.busy_workers() >= 40  # a read and an exit wait each
    for child in children:
        await _finish(child)
    await _until(lambda: _workers.busy_workers() == 0, "every call returned")
    assert _workers.worker_threads() <= _workers.MAX_IDLE


async def test_exit_through_popen_wait_as_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """On Windows the exit thread runs Popen.wait(), which sets popen.returncode itself,
    from the thread: the loop must still report the exit and wake its waiters."""
    from anysubprocess._backends import _threadchild

    monkeypatch.setattr(_threadchild, "_wait_for_exit", lambda popen: popen.wait())
    child = await _spawn("import sys; sys.stdout.write('bye'); sys.exit(3)", stdout=PIPE)
    with anyio.fail_after(10):
        assert await child.wait() == 3
    assert child.poll() == 3
    await _finish(child)

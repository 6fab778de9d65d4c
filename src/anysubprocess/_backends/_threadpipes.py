"""Our ends of a child's pipes, in blocking mode, read and written by worker threads.

The loop never touches the fd while a thread may: a thread owns each blocking call, hands its
result to the loop (``post``, the loop's thread-safe call), and only the loop's thread changes
the pipe's state or closes the file. A pipe closed while a thread is blocked on it is closed
by the loop when that call returns: closing an fd under a blocked ``read``/``write`` does not
wake it on Linux, and the fd number could be reused under the thread. So a close takes effect
once the child reads, writes, exits or is killed (or, for a pipe a grandchild inherited, once
the grandchild lets go of it) -- the bound of this design; the fd path has none.
"""

from __future__ import annotations

import errno
import os
import sys
import weakref
from collections import deque
from collections.abc import Callable
from typing import IO

import anyio

from ._base import EventLike
from ._workers import submit

__all__ = ["Post", "ThreadReceivePipe", "ThreadSendPipe"]

#: The loop's thread-safe call (``loop.call_soon_threadsafe``, trio's ``run_sync_soon``).
Post = Callable[[Callable[[], None]], object]

_PIPE = 2**16  # what grow() reports: the thread reads what a default pipe holds
#: Bytes a send pipe takes ahead of its writer thread, as a kernel pipe buffer would.
SEND_ROOM = 2**16


class _ThreadPipe:
    __slots__ = ("_closed", "_fd", "_file", "_new_event", "_post", "_waiter", "_working")

    def __init__(self, file: IO[bytes], post: Post, new_event: Callable[[], EventLike]) -> None:
        self._file = file
        self._fd = file.fileno()
        self._post = post
        self._new_event = new_event
        self._closed = False
        self._working = False  # a worker thread is in a blocking call on the fd
        self._waiter: EventLike | None = None

    @property
    def fileobj(self) -> IO[bytes]:
        return self._file

    def grow(self) -> int:
        return _PIPE  # nothing to grow: the reads block in threads, not on the loop

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.set()

    async def _wait(self) -> None:
        waiter = self._waiter
        if waiter is None:
            waiter = self._waiter = self._new_event()
        await waiter.wait()

    def _start(self, job: Callable[[], None]) -> None:
        self._working = True
        try:
            submit(job)
        except BaseException:
            self._working = False
            raise

    def _hand_back(self, deliver: Callable[[], None]) -> None:
        """In the worker thread: give the result to the loop; if the loop is gone, nobody can
        close the file any more: close it here (no thread touches it after this one)."""
        try:
            self._post(deliver)
        except Exception:  # the loop closed (asyncio: RuntimeError, trio: RunFinishedError)
            self._closed = True
            self._file.close()

    def _close_file(self) -> None:
        if not self._working:
            self._file.close()

    def __del__(self) -> None:
        # No thread holds a reference-less pipe (a job holds the pipe): just close the file,
        # without the "unclosed file" warning (no loop calls here).
        if not getattr(self, "_closed", True):
            self._closed = True
            self._file.close()


class ThreadReceivePipe(_ThreadPipe):
    """Read end. A thread reads one chunk, and only when a read asks for one: ``limit``
    back-pressure holds (nothing is read ahead without bound). What a thread read stays
    here until a receive takes it, so a cancelled ``receive`` loses nothing."""

    __slots__ = ("_draining", "_eof", "_error", "_on_settle", "_ready")
    _on_settle: weakref.WeakMethod[Callable[[], object]]

    def __init__(
        self,
        file: IO[bytes],
        post: Post,
        new_event: Callable[[], EventLike],
        on_settle: Callable[[], object],
    ) -> None:
        super().__init__(file, post, new_event)
        self._ready = b""  # read by a thread, not taken yet
        self._draining = False  # the child has exited: read ahead (see read_ahead)
        self._eof = False
        self._error: OSError | None = None
        # Told of every read's end, and of the close. Held weakly: the child holds the pipe,
        # and a cycle would keep a dropped Process's fds open until the next gc run.
        self._on_settle = weakref.WeakMethod(on_settle)

    def receive_nowait(self, max_bytes: int) -> bytes | None:
        if self._closed:
            raise anyio.ClosedResourceError
        ready = self._ready
        if ready:
            if len(ready) > max_bytes:
                self._ready = ready[max_bytes:]
                return ready[:max_bytes]
            self._ready = b""
            if self._draining:
                self.read_ahead()
            return ready
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if self._eof:
            return b""
        if not self._working:
            self._start(lambda: self._read(max_bytes))
        return None

    async def receive(self, max_bytes: int) -> bytes:
        while True:
            data = self.receive_nowait(max_bytes)
            if data is not None:
                return data
            await self._wait()  # cancelled: the thread's bytes stay in _ready

    def _read(self, max_bytes: int) -> None:
        """In a worker thread: one blocking read."""
        data = b""
        error: OSError | None = None
        try:
            data = os.read(self._fd, max_bytes)
        except BrokenPipeError:  # Windows: the writer closed; that is EOF
            pass
        except OSError as exc:
            error = exc
        self._hand_back(lambda: self._done(data, error))

    def _done(self, data: bytes, error: OSError | None) -> None:
        """On the loop: a thread's read has ended."""
        self._working = False
        if self._closed:
            self._file.close()
        elif error is not None:
            self._error = error
        elif data:
            self._ready = data
        else:
            self._eof = True
        self._wake()
        self._settle()

    def _settle(self) -> None:
        on_settle = self._on_settle()
        if on_settle is not None:
            on_settle()

    def read_ahead(self) -> None:
        """The child has exited: from now on read its next chunk (or EOF) without being
        asked whenever nothing waits to be taken, so the exit callback can take it and the
        pipe closes at EOF, as on the fd path. One chunk ahead at most."""
        self._draining = True
        if not (self._working or self._closed or self._eof or self._ready or self._error):
            self._start(lambda: self._read(_PIPE))

    def reading(self) -> bool:
        """Whether a thread's read is under way."""
        return self._working and not self._closed

    def at_eof(self) -> bool:
        """Whether the pipe is closed or its end was read (nothing more will come)."""
        return self._closed or (self._eof and not self._ready)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._ready = b""
        self._close_file()  # else the thread's read returns and _done closes it
        self._wake()
        self._settle()


def _send_error(exc: OSError) -> OSError:
    if sys.platform == "win32" and exc.errno == errno.EINVAL:
        # Windows reports a write to a pipe nobody reads as EINVAL (bpo-19612, as
        # subprocess's own _stdin_write): the child closed its stdin or exited.
        return BrokenPipeError(errno.EPIPE, "the child closed its stdin")
    return exc


class ThreadSendPipe(_ThreadPipe):
    """Write end. ``send_nowait`` takes up to ``SEND_ROOM`` bytes ahead of the writer thread,
    as a kernel pipe buffer would; bytes taken are written even if the pipe is closed after
    (as a pipe's buffered bytes stay readable after its writer closed it)."""

    __slots__ = ("_error", "_on_broken", "_peer_gone", "_queue", "_queued")

    def __init__(self, file: IO[bytes], post: Post, new_event: Callable[[], EventLike]) -> None:
        super().__init__(file, post, new_event)
        self._queue: deque[bytes] = deque()
        self._queued = 0  # bytes taken and not yet written (the writer's current chunk too)
        self._error: OSError | None = None
        self._peer_gone = False
        self._on_broken: Callable[[], None] | None = None

    def send_nowait(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise anyio.ClosedResourceError
        if self._error is not None:
            raise self._error
        n = min(len(data), SEND_ROOM - self._queued)
        if n <= 0:
            return 0
        # A copy: the caller's buffer may change once we return (only bytes are immutable).
        chunk = data if type(data) is bytes and n == len(data) else bytes(data[:n])
        self._queue.append(chunk)
        self._queued += n
        if not self._working:
            self._start_writing()
        return n

    def _start_writing(self) -> None:
        chunk = self._queue.popleft()
        self._start(lambda: self._write(chunk))

    def _write(self, chunk: bytes) -> None:
        """In a worker thread: write one chunk, blocking until the pipe took all of it."""
        error: OSError | None = None
        try:
            view = memoryview(chunk)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            error = _send_error(exc)
        self._hand_back(lambda: self._written(len(chunk), error))

    def _written(self, n: int, error: OSError | None) -> None:
        """On the loop: a thread's write has ended."""
        self._working = False
        self._queued -= n
        if error is not None:
            self._error = error
            self._peer_gone = isinstance(error, (BrokenPipeError, ConnectionResetError))
            self._queue.clear()
            self._queued = 0
            # Nobody may write again to find out (asyncio's transport reports it at once).
            callback, self._on_broken = self._on_broken, None
            if callback is not None:
                callback()
        if self._queue and self._error is None:
            try:
                self._start_writing()
            except RuntimeError as exc:  # no thread to be had: what is queued is lost
                self._error = BrokenPipeError(errno.EPIPE, f"no writer thread: {exc}")
                self._queue.clear()
                self._queued = 0
        if self._closed and not self._working:
            self._file.close()
        self._wake()

    async def wait_writable(self) -> None:
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            if self._error is not None or self._queued < SEND_ROOM:
                return
            await self._wait()

    def peer_closed(self) -> bool:
        return self._closed or self._peer_gone

    def on_broken(self, callback: Callable[[], None]) -> None:
        self._on_broken = callback

    def presume_peer_closed(self) -> None:
        """The child has exited and its output pipes are done: as asyncio closes the
        transport (stdin with it) then, treat the pipe as unread (no readiness to ask)."""
        self._peer_gone = True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # What was taken is still written (the writer thread goes on through the queue);
        # the last write's end closes the file.
        self._close_file()
        self._wake()

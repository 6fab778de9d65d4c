"""StreamWriter: a child's stdin, mirroring asyncio's (with a background flusher), and an
anyio ``ByteSendStream`` over the same queue."""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NoReturn

import anyio
import anyio.abc

from ._backends import YIELD_EVERY, Backend, EventLike, SendPipe
from ._inherit import Absent
from ._transport import PipeWriteTransport

if TYPE_CHECKING:
    import ssl

__all__ = ["StreamWriter"]

_HIGH_WATER = 2**16  # asyncio's default write-buffer limits for pipe transports
_LOW_WATER = 2**14
_COALESCE = 2**12  # pending writes smaller than this are merged into one buffer


class StreamWriter(asyncio.StreamWriter, anyio.abc.ByteSendStream):
    """Mirrors :class:`asyncio.StreamWriter` for a child's stdin, and is one (``isinstance``
    holds, on every loop); also an
    :class:`anyio.abc.ByteSendStream` (:meth:`send`, :meth:`aclose`) over the same queue.

    ``write()`` hands bytes to the pipe at once; what the pipe cannot take yet is flushed by a
    background task, so data flows without ``drain()`` and ``close()`` delivers every byte,
    as with asyncio's transports. ``drain()`` is the back-pressure point: it waits while more
    than 64 KiB are buffered, until 16 KiB or less remain.
    """

    __slots__ = (
        "_backend",
        "_budget",
        "_cancel_pending",
        "_closed",
        "_closed_by_us",
        "_closed_event",
        "_closing",
        "_drain_waiter",
        "_dropped",
        "_exc",
        "_flushing",
        "_peer_gone",
        "_pending",
        "_pending_size",
        "_pipe",
    )

    # asyncio.StreamWriter's __init__ sets these; nothing here has them (see _inherit.py).
    _loop = Absent()
    _protocol = Absent()
    _reader = Absent()
    _complete_fut = Absent()

    def __init__(self, pipe: SendPipe, backend: Backend) -> None:
        self._pipe = pipe
        self._backend = backend
        # A write that failed in a worker thread (the thread path) breaks the pipe at once,
        # as asyncio's transport does, not only at the next write().
        pipe.on_broken(self._check_peer)
        # Bytes the pipe has not taken yet, oldest first. A `bytes` argument is kept by
        # reference (no copy of a large input); mutable buffers are copied, as asyncio does.
        self._pending: deque[memoryview] = deque()
        self._pending_size = 0
        self._flushing = False
        self._closing = False  # close() or write_eof() was called
        self._closed = False  # the pipe is closed
        self._closed_by_us = False  # close()/aclose()/the Process closed it (anyio: "closed")
        self._dropped = 0  # bytes _abort() threw away: a send() waiting for them fails
        self._peer_gone = False  # closed because the child closed its end
        self._exc: BaseException | None = None  # the error that broke the pipe
        self._drain_waiter: EventLike | None = None
        self._closed_event: EventLike | None = None
        # The cancel point of every public coroutine, and the yield once in YIELD_EVERY
        # calls that did not have to wait (DESIGN semantics 10; see StreamReader).
        self._cancel_pending = backend.cancel_pending
        self._budget = YIELD_EVERY - 1

    def __repr__(self) -> str:
        info = ["StreamWriter"]
        if self._pending_size:
            info.append(f"{self._pending_size} bytes pending")
        if self._closed:
            info.append("closed")
        elif self._closing:
            info.append("closing")
        if self._exc is not None:
            info.append(f"exception={self._exc!r}")
        return "<{}>".format(" ".join(info))

    def __del__(self, warnings: Any = None) -> None:
        """Nothing: asyncio's ``__del__`` (3.11+) calls its transport and loop, which a
        finalizer must not do (and there are none here); the pipe closes its own fd."""

    @property
    def transport(self) -> asyncio.WriteTransport:
        """Mirrors :attr:`asyncio.StreamWriter.transport`: an :class:`asyncio.WriteTransport`
        face of this writer (``write``, ``close``, ``abort``, ``is_closing``,
        ``get_write_buffer_size``, ``get_extra_info("pipe")``), over the same queue."""
        return PipeWriteTransport(self)

    @property
    def _transport(self) -> asyncio.WriteTransport:
        """asyncio's private name for :attr:`transport`, for code that reaches for it."""
        return PipeWriteTransport(self)

    async def start_tls(self, sslcontext: ssl.SSLContext, **kwargs: Any) -> NoReturn:
        """Not for a pipe: raises ``RuntimeError`` (asyncio's has no TLS for pipes either)."""
        raise RuntimeError("start_tls() is not supported on a subprocess pipe")

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Mirrors :meth:`asyncio.StreamWriter.get_extra_info`: ``"pipe"`` is the pipe's file
        object, as in asyncio; other names give ``default``."""
        if name == "pipe":
            return self._pipe.fileobj
        return default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Mirrors :meth:`asyncio.StreamWriter.write`: never blocks, never raises on a broken
        pipe (``drain()`` reports it); after ``close()`` the bytes are dropped, as in asyncio.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"data argument must be a bytes-like object, not {type(data).__name__!r}"
            )
        if isinstance(data, memoryview) and data.itemsize != 1:
            data = data.cast("B")
        if not data or self._closing or self._exc is not None:
            return
        n = 0
        if not self._pending_size:
            try:
                n = self._pipe.send_nowait(data)
            except (OSError, anyio.ClosedResourceError) as exc:
                self._fail(exc)
                return
            if n == len(data):
                return
        rest = memoryview(data)[n:] if type(data) is bytes else memoryview(bytes(data[n:]))
        pending = self._pending
        if pending and len(rest) < _COALESCE and len(pending[-1]) < _COALESCE:
            pending[-1] = memoryview(b"".join((pending[-1], rest)))  # no syscall per tiny write
        else:
            pending.append(rest)
        self._pending_size += len(rest)
        if self._pending_size > _HIGH_WATER:
            self._pipe.grow()  # a bulk write: fewer, larger writes as the child drains it
        if not self._flushing:
            self._flushing = True
            self._backend.start_background(self._flush)

    def writelines(self, data: Iterable[bytes | bytearray | memoryview]) -> None:
        """Mirrors :meth:`asyncio.StreamWriter.writelines`: :meth:`write` each item."""
        for chunk in data:
            self.write(chunk)

    async def _flush(self) -> None:
        pipe = self._pipe
        pending = self._pending
        try:
            while pending and self._exc is None and not self._closed:
                try:
                    await pipe.wait_writable()
                    while pending:  # as much as the pipe takes now, then wait again
                        chunk = pending[0]
                        n = pipe.send_nowait(chunk)
                        self._pending_size -= n
                        if n < len(chunk):
                            pending[0] = chunk[n:]
                            break
                        pending.popleft()
                except (OSError, anyio.ClosedResourceError) as exc:
                    if not self._closed:  # closed by us (_abort, aclose): nothing broke
                        self._fail(exc)
                    break
                if self._pending_size <= _LOW_WATER:
                    self._wake_drain()
        except Exception as exc:  # pragma: no cover - a bug; never crash the loop
            self._fail(exc)
        finally:
            self._flushing = False
            self._wake_drain()
            if self._closing and not self._closed:
                self._close_pipe()

    async def _enter(self) -> None:
        """The cancel point at the start of every public coroutine: no yield unless its
        scope is cancelled or YIELD_EVERY calls ran without one."""
        budget = self._budget
        if budget and not self._cancel_pending():
            self._budget = budget - 1
            return
        await self._backend.checkpoint()
        self._budget = YIELD_EVERY - 1

    def _wake_drain(self) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None:
            waiter.set()

    def _fail(self, exc: BaseException) -> None:
        if isinstance(exc, anyio.ClosedResourceError):
            exc = BrokenPipeError("the pipe was closed")
        if self._exc is None:
            self._exc = exc
        self._pending.clear()
        self._pending_size = 0
        self._close_pipe()

    def _close_pipe(self) -> None:
        self._closing = True
        if not self._closed:
            self._closed = True
            self._pipe.close()
        self._wake_drain()
        event = self._closed_event
        if event is not None:
            event.set()

    def _check_peer(self) -> None:
        """If nobody can read the pipe any more, lose the connection as asyncio does: with
        bytes still queued that is a BrokenPipeError, else a plain close."""
        if self._closed or not self._pipe.peer_closed():
            return
        self._peer_gone = True
        if self._pending_size:
            self._fail(BrokenPipeError(errno.EPIPE, "the child closed its stdin"))
        else:
            self._close_pipe()

    def _abort(self) -> None:
        """Drop unsent bytes and close now (the child is gone, or the Process is closing)."""
        self._closed_by_us = True
        self._dropped += self._pending_size
        self._pending.clear()
        self._pending_size = 0
        self._close_pipe()

    async def drain(self) -> None:
        """Mirrors :meth:`asyncio.StreamWriter.drain`.

        Waits while more than 64 KiB wait to be written. A cancelled ``drain()`` loses no
        bytes. As asyncio's: once the pipe is closed (the child closed its stdin, a write
        failed, or ``close()`` completed), a ``drain()`` raises ``ConnectionResetError``;
        one that was waiting when the pipe broke raises the error that broke it
        (``BrokenPipeError``). A cancel point, also when nothing needs to wait; it yields
        when it waits (and once in a long run of calls that did not).
        """
        # _enter() inline: drain() after each write() is the hot path of streaming input.
        budget = self._budget
        if budget and not self._cancel_pending():
            self._budget = budget - 1
        else:
            await self._enter()
        if self._closed:
            raise ConnectionResetError("Connection lost")
        while self._pending_size > _HIGH_WATER and self._flushing:
            waiter = self._drain_waiter
            if waiter is None:
                waiter = self._drain_waiter = self._backend.new_event()
            await waiter.wait()  # set at <= 16 KiB left, or when flushing stops
            if self._exc is not None:
                raise self._exc
            if self._closed:
                raise ConnectionResetError("Connection lost")

    def close(self) -> None:
        """Mirrors :meth:`asyncio.StreamWriter.close`: the pipe closes once buffered bytes
        are written (or the child is gone)."""
        self._closed_by_us = True
        if self._closing:
            return
        self._closing = True
        if not self._flushing:
            self._close_pipe()

    def is_closing(self) -> bool:
        """Mirrors :meth:`asyncio.StreamWriter.is_closing`: true once :meth:`close` was called
        or the pipe broke."""
        return self._closing or self._exc is not None

    async def wait_closed(self) -> None:
        """Mirrors :meth:`asyncio.StreamWriter.wait_closed`; raises the error that broke the
        pipe, if any. Safe to cancel and call again."""
        await self._enter()
        while not self._closed:
            event = self._closed_event
            if event is None:
                event = self._closed_event = self._backend.new_event()
            await event.wait()
        if self._exc is not None:
            raise self._exc

    def write_eof(self) -> None:
        """Mirrors :meth:`asyncio.StreamWriter.write_eof`: for a pipe, the same as
        :meth:`close`."""
        self.close()

    def can_write_eof(self) -> bool:
        """Mirrors :meth:`asyncio.StreamWriter.can_write_eof`: always true for a pipe."""
        return True

    # -- anyio's ByteSendStream --------------------------------------------------------------

    async def send(self, item: bytes) -> None:
        """anyio's :meth:`~anyio.abc.ByteSendStream.send`: returns once the pipe has taken all
        of ``item`` (back-pressure: it waits for the child to read).

        Raises :exc:`anyio.ClosedResourceError` once we closed stdin (:meth:`aclose`,
        ``close()``, the Process's cleanup), else :exc:`anyio.BrokenResourceError` once the
        child has closed its stdin (or exited): anyio's order.
        Cancelled: the bytes not yet taken stay queued and are still delivered.
        """
        await self._enter()
        self._check_sendable()
        dropped = self._dropped
        self.write(item)
        while self._pending_size and self._exc is None and not self._closed:
            waiter = self._drain_waiter
            if waiter is None:
                waiter = self._drain_waiter = self._backend.new_event()
            await waiter.wait()  # set as the queue shrinks, and when flushing stops
        if self._exc is not None or self._peer_gone or self._dropped != dropped:
            # Broken, or closed by us (transport.abort(), the Process's cleanup) with bytes
            # still queued: they were thrown away, so this send did not happen.
            self._check_sendable()

    def _check_sendable(self) -> None:
        # anyio's order: closed by us first, then broken (by the child or a failed write).
        if self._closed_by_us:
            raise anyio.ClosedResourceError
        if self._exc is not None:
            raise anyio.BrokenResourceError from self._exc
        if self._peer_gone:
            raise anyio.BrokenResourceError
        if self._closing:
            raise anyio.ClosedResourceError

    async def aclose(self) -> None:
        """anyio's :meth:`~anyio.abc.AsyncResource.aclose`: close stdin once what was written
        has been delivered (as ``close()`` + ``wait_closed()``; bytes given to :meth:`send`
        are in the pipe already, only ``write()``'s may wait). A child that went away first
        is not an error here. Cancelled (say, by a timeout around a child that does not
        read), it drops what is left and closes at once: stdin is closed either way."""
        self.close()
        try:
            with contextlib.suppress(OSError):  # broken: nothing more can be delivered
                await self.wait_closed()
        finally:
            if not self._closed:  # cancelled while delivering: close now all the same
                self._abort()

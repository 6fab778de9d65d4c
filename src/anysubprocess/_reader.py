"""StreamReader: the one read buffer of a child's stdout or stderr, mirroring asyncio's, and
an anyio ``ByteReceiveStream`` over that same buffer."""

from __future__ import annotations

import asyncio
import io
import math
import sys
from asyncio import IncompleteReadError, LimitOverrunError
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, NoReturn, SupportsIndex

import anyio
import anyio.abc
import anyio.lowlevel

from ._backends import YIELD_EVERY, EventLike, ReceivePipe
from ._inherit import Absent

if TYPE_CHECKING:
    if sys.version_info >= (3, 12):
        from collections.abc import Buffer
    else:
        from typing_extensions import Buffer

__all__ = ["StreamReader"]

_DEFAULT_LIMIT = 2**16  # asyncio.streams._DEFAULT_LIMIT
_CHUNK = 2**16  # one pipe's worth: the most a read from a default Linux pipe returns
_MAX_READ = 2**18  # read(n) reads at most this much at once (asyncio's transports: 256 KiB)
_MAX_NOWAIT_READS = 32  # reads one _pull_nowait() makes at most (it runs in callbacks)
_BIG_BUFFER = 2**18  # a buffer this large grows in a bytearray (see StreamReader._append)


def _anyio_cancel_pending() -> bool:
    """The cancel check of a reader fed by feed_data() (no Process, so no backend: tests and
    tools): anyio's public answer, on whichever loop runs it."""
    return anyio.current_effective_deadline() == -math.inf


def _busy(func_name: str) -> RuntimeError:
    return RuntimeError(
        f"{func_name}() called while another coroutine is already waiting for incoming data"
    )


class StreamReader(asyncio.StreamReader, anyio.abc.ByteReceiveStream):
    """Mirrors :class:`asyncio.StreamReader`, and is one (``isinstance`` holds, on every loop);
    also an :class:`anyio.abc.ByteReceiveStream`
    (:meth:`receive`, :meth:`aclose`) reading from the same buffer, so bytes taken by one
    vocabulary are never returned by the other. ``async for`` yields asyncio's lines (an
    overlong line raises ``ValueError`` but stays buffered); :meth:`chunks` yields anyio's
    chunks.

    Data is pulled from the pipe only when a read needs it, so the buffer never holds more
    than about ``limit`` plus one pipe read unless asked to (``readexactly(n)``, ``read()``),
    and the pipe back-pressures the child. Every read keeps what it has taken in the reader
    until it returns, so a cancelled read loses nothing: the next read sees the same bytes.
    Without a pipe (``StreamReader()``) it is fed by :meth:`feed_data` / :meth:`feed_eof`,
    as asyncio's is in tests.
    """

    __slots__ = (
        "_acc",
        "_budget",
        "_buf",
        "_cancel_pending",
        "_checkpoint",
        "_closed",
        "_eof",
        "_exception",
        "_limit",
        "_maxline",
        "_plain",
        "_pos",
        "_reading",
        "_source",
        "_waiter",
        "_waiter_exc",
        "_yield_next",
    )

    # asyncio's helpers for its transport-fed reader: no transport here (see _inherit.py).
    _maybe_resume_transport = Absent()
    _replace_transport = Absent()  # 3.14+ (start_tls's helper)

    def __init__(
        self,
        limit: int = _DEFAULT_LIMIT,
        *,
        _source: ReceivePipe | None = None,
        _checkpoint: Callable[[], Awaitable[None]] | None = None,
        _cancel_pending: Callable[[], bool] | None = None,
    ) -> None:
        if limit <= 0:
            raise ValueError("Limit cannot be <= 0")
        self._limit = limit
        self._maxline = limit + 1  # the longest line readline() returns, with its b"\n"
        # Unread bytes are self._buf[self._pos:]; lines are sliced out without moving the rest.
        # A `bytes` normally; a `bytearray` while a large buffer grows (amortised appends).
        self._buf: bytes | bytearray = b""
        self._pos = 0
        # Bytes collected by a read() to EOF that has not returned yet (cancelled, say).
        self._acc: io.BytesIO | None = None
        self._eof = False
        self._exception: Exception | None = None
        # True while _exception and _acc are None and _buf is a `bytes`: one check on
        # readline's fast path (see _update_plain).
        self._plain = True
        self._source = _source
        self._closed = False  # aclose() was called (anyio's receive() then refuses)
        # Every public read is a cancel point (DESIGN semantics 10): in a cancelled scope it
        # raises before it looks at the buffer, so it takes nothing. It yields when it waits
        # for the pipe; a read the buffer answers does not (asyncio's does not either),
        # except once in YIELD_EVERY calls (_budget counts down), so a loop over buffered
        # lines cannot starve the loop. The backend's two functions for a pipe; anyio's
        # public ones for a fed reader (no Process, no backend: only _create.py asks).
        self._checkpoint = _checkpoint or anyio.lowlevel.checkpoint
        self._cancel_pending = _cancel_pending or _anyio_cancel_pending
        self._budget = YIELD_EVERY - 1
        # Set when a pull found data without waiting: the next pull of the same read yields
        # first, so a read to EOF of a child that writes forever cannot starve the loop.
        # Each public read starts with it clear: a run of reads is bounded by _budget (a
        # flag left over from the last read made every echo round trip yield once).
        self._yield_next = False
        self._reading = False
        self._waiter: EventLike | None = None
        self._waiter_exc: BaseException | None = None

    def __repr__(self) -> str:
        info = ["StreamReader"]
        n = self._buffered()
        if n:
            info.append(f"{n} bytes")
        if self._eof:
            info.append("eof")
        if self._limit != _DEFAULT_LIMIT:
            info.append(f"limit={self._limit}")
        if self._reading:
            info.append("reading")
        if self._exception is not None:
            info.append(f"exception={self._exception!r}")
        return "<{}>".format(" ".join(info))

    # -- state ---------------------------------------------------------------------------

    def _buffered(self) -> int:
        n = len(self._buf) - self._pos
        if self._acc is not None:
            n += self._acc.tell()
        return n

    def _update_plain(self) -> None:
        self._plain = self._exception is None and self._acc is None and type(self._buf) is bytes

    def _set_buffer(self, data: bytes) -> None:
        self._buf = data
        self._pos = 0
        self._update_plain()

    def _fold(self, func_name: str) -> None:
        """Put what a cancelled read() collected back in front of the buffer.

        While a read() to EOF is still collecting (it waits on the pipe), the bytes are its:
        another read is a second concurrent reader, as in asyncio."""
        acc = self._acc
        if acc is not None:
            if self._reading:
                raise _busy(func_name)
            self._acc = None
            self._set_buffer(acc.getvalue() + self._buf[self._pos :])

    def _peek(self) -> bytes:
        """Everything buffered, without consuming it (for ``TimeoutExpired.output``)."""
        rest = bytes(self._buf[self._pos :])
        if self._acc is not None:
            return self._acc.getvalue() + rest
        return rest

    def _unread(self, data: bytes) -> None:
        """Put bytes a read had returned back in front (its caller was cancelled)."""
        if data:
            self._set_buffer(data + self._peek())
            self._acc = None
            self._update_plain()

    def _append(self, data: bytes) -> None:
        buf = self._buf
        pos = self._pos
        if pos == len(buf):
            self._set_buffer(data)
        elif len(buf) - pos < _BIG_BUFFER:
            self._set_buffer(bytes(buf[pos:]) + data)  # bytes(bytes) is no copy
        else:
            # A large buffer still growing (readexactly(n), a big limit): append in place,
            # or re-copying it per chunk would be quadratic.
            if isinstance(buf, bytes):
                grown = bytearray(memoryview(buf)[pos:])
            else:
                grown = buf
                if pos:
                    del grown[:pos]
            grown += data
            self._buf = grown
            self._pos = 0
            self._plain = False

    def _set_eof(self) -> None:
        self._eof = True
        source, self._source = self._source, None
        if source is not None:
            source.close()  # free the fd as soon as it has nothing more to give

    def _close(self) -> None:
        """Close the pipe (Process cleanup): asyncio's methods still return what is buffered,
        then EOF; anyio's :meth:`receive` raises ``ClosedResourceError``, as anyio's own
        process streams do once the process was closed."""
        self._closed = True
        self._set_eof()

    # -- asyncio's feeding API -----------------------------------------------------------

    def exception(self) -> Exception | None:
        """The exception given to :meth:`set_exception`, or ``None`` (as in asyncio)."""
        return self._exception

    def set_exception(self, exc: Exception) -> None:
        """Make the waiting and the next reads raise ``exc`` (as in asyncio)."""
        self._exception = exc
        self._plain = False
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._waiter_exc = exc
            waiter.set()

    def _wakeup_waiter(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.set()

    def set_transport(self, transport: asyncio.BaseTransport) -> NoReturn:
        """asyncio's reader is fed by a transport; ours reads its pipe itself (or is fed by
        :meth:`feed_data`), so this raises ``RuntimeError``."""
        raise RuntimeError(
            "anysubprocess's StreamReader reads its pipe itself; it takes no transport"
        )

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:
        """Append ``data`` to the buffer, as asyncio's (undocumented) ``feed_data`` does: for a
        ``StreamReader()`` without a pipe, e.g. in tests."""
        assert not self._eof, "feed_data after feed_eof"
        if not data:
            return
        self._append(bytes(data))
        self._wakeup_waiter()

    def feed_eof(self) -> None:
        """Mirrors :meth:`asyncio.StreamReader.feed_eof`: mark the end of the data."""
        self._eof = True
        self._wakeup_waiter()

    def at_eof(self) -> bool:
        """Mirrors :meth:`asyncio.StreamReader.at_eof`: True if the buffer is empty and EOF was
        reached."""
        if self._buffered() == 0:
            # asyncio learns of EOF in the background; we look now, without blocking.
            self._pull_nowait(1)
        return self._eof and self._buffered() == 0

    def _pull_nowait(self, until: int) -> None:
        """Take what the pipe holds now, without waiting, until ``until`` bytes are buffered;
        close the pipe at EOF. Not while a read is using the pipe: it will see EOF itself."""
        source = self._source
        if source is None or self._reading or self._eof:
            return
        for _ in range(_MAX_NOWAIT_READS):
            if self._buffered() >= until:
                return
            data = source.receive_nowait(_CHUNK)
            if data is None:
                return
            if not data:
                self._set_eof()
                return
            self._append(data)

    def _take_leftovers(self) -> None:
        """The child has exited: take what it left in the pipe, as asyncio's transport reads
        in the background (up to twice ``limit``, where asyncio's pauses reading), and close
        the pipe at EOF, unless a grandchild still holds its write end."""
        self._pull_nowait(2 * self._limit)

    def _must_yield(self) -> bool:
        """The cancel point at the start of every public read, without a yield: true if the
        read must yield first (its scope is cancelled, or YIELD_EVERY ready reads ran)."""
        budget = self._budget
        if budget and not self._cancel_pending():
            self._budget = budget - 1
            return False
        return True

    async def _yield(self) -> None:
        """Yield to the loop (raising a pending cancellation) and start a new budget."""
        await self._checkpoint()
        self._budget = YIELD_EVERY - 1
        self._yield_next = False

    async def _enter(self) -> None:
        """The cancel point at the start of a public read that is not on a hot path."""
        if self._must_yield():
            await self._yield()
        self._yield_next = False

    async def _pull(self, source: ReceivePipe, size: int, func_name: str) -> bytes:
        """One read from the pipe, as its only reader; ``b""`` (EOF) closes it."""
        if self._reading:
            raise _busy(func_name)
        self._reading = True
        try:
            if self._yield_next:
                await self._yield()  # before the read: a cancellation here loses nothing
            data = source.receive_nowait(size)
            if data is None:
                data = await source.receive(size)  # waits for the pipe: a yield
            else:
                self._yield_next = True
        except anyio.ClosedResourceError:
            if self._source is source:
                raise
            data = b""  # the Process closed the pipe under us: EOF, as asyncio's transport
        finally:
            self._reading = False
        if not data:
            self._set_eof()
        return data

    async def _wait_for_data(self, func_name: str) -> None:
        """Get more bytes into the buffer (or reach EOF): pull from the pipe, or await a feed."""
        assert not self._eof, "_wait_for_data after EOF"
        source = self._source
        if source is not None:
            data = await self._pull(source, _CHUNK, func_name)
            if data:
                self._append(data)
            return
        if self._reading:
            raise _busy(func_name)
        self._reading = True
        try:
            waiter = self._waiter = anyio.Event()
            try:
                await waiter.wait()
            finally:
                self._waiter = None
        finally:
            self._reading = False
        exc, self._waiter_exc = self._waiter_exc, None
        if exc is not None:
            raise exc

    # -- reads -----------------------------------------------------------------------------

    async def readline(self) -> bytes:
        """Mirrors :meth:`asyncio.StreamReader.readline`."""
        # The hot path inline (each nested coroutine costs ~0.06 us, a line ~0.3 us):
        # _must_yield(), then the line sliced here.
        budget = self._budget
        if budget and not self._cancel_pending():
            self._budget = budget - 1
        else:
            await self._yield()
        buf = self._buf
        pos = self._pos
        end = buf.find(b"\n", pos) + 1
        if end and end - pos <= self._maxline and self._plain:
            self._pos = end  # a whole line is buffered
            return buf[pos:end]  # type: ignore[return-value]  # _plain: buf is a bytes
        return await self._readline()

    async def _readline(self, *, keep_overlong: bool = False) -> bytes:
        """readline() after its cancel point. ``keep_overlong`` (``async for``): a line over
        ``limit`` raises the same ValueError but stays in the buffer."""
        self._yield_next = False  # a new read (readline's and __anext__'s slow path)
        buf = self._buf
        pos = self._pos
        end = buf.find(b"\n", pos) + 1
        if end and end - pos <= self._maxline and self._plain:
            self._pos = end  # fast path: a whole line is buffered
            return buf[pos:end]  # type: ignore[return-value]  # _plain: buf is a bytes
        try:
            return await self._readuntil(b"\n")
        except IncompleteReadError as e:
            return e.partial
        except LimitOverrunError as e:
            if keep_overlong:
                # asyncio's iteration (readline) drops the line here; code that iterates a
                # byte stream for chunks (anyio's vocabulary) would lose it without knowing.
                raise ValueError(e.args[0]) from None
            # asyncio drops the overlong line (or the whole buffer) and raises ValueError.
            start = self._pos
            if self._buf.startswith(b"\n", start + e.consumed):
                self._pos = start + e.consumed + 1
            else:
                self._set_buffer(b"")
            raise ValueError(e.args[0]) from None

    async def readuntil(self, separator: Buffer | tuple[Buffer, ...] = b"\n") -> bytes:
        """Mirrors :meth:`asyncio.StreamReader.readuntil` of Python 3.13 on every Python.

        Only a ``tuple`` is a set of separators (as in asyncio).
        """
        await self._enter()
        return await self._readuntil(separator)

    async def _readuntil(self, separator: Buffer | tuple[Buffer, ...]) -> bytes:
        seps: list[Any]
        seps = sorted(separator, key=len) if isinstance(separator, tuple) else [separator]
        if not seps:
            raise ValueError("Separator should contain at least one element")
        min_seplen = len(seps[0])
        max_seplen = len(seps[-1])
        if min_seplen == 0:
            raise ValueError("Separator should be at least one-byte string")
        if self._exception is not None:
            raise self._exception
        self._fold("readuntil")

        # `offset` bytes from self._pos on are known to hold no separator.
        offset = 0
        while True:
            buf = self._buf
            pos = self._pos
            buflen = len(buf) - pos
            if buflen - offset >= min_seplen:
                match_start = match_end = -1
                for sep in seps:
                    isep = buf.find(sep, pos + offset)
                    if isep != -1:
                        end = isep + len(sep)
                        if match_end == -1 or end < match_end:
                            match_end = end
                            match_start = isep
                if match_end != -1:
                    break
                offset = max(0, buflen + 1 - max_seplen)
                if offset > self._limit:
                    raise LimitOverrunError(
                        "Separator is not found, and chunk exceed the limit", offset
                    )
            if self._eof:
                chunk = bytes(buf[pos:])
                self._set_buffer(b"")
                raise IncompleteReadError(chunk, None)
            await self._wait_for_data("readuntil")

        if match_start - pos > self._limit:
            raise LimitOverrunError(
                "Separator is found, but chunk is longer than limit", match_start - pos
            )
        self._pos = match_end
        return bytes(buf[pos:match_end])  # no copy when buf is a bytes

    async def read(self, n: int = -1) -> bytes:
        """Mirrors :meth:`asyncio.StreamReader.read`."""
        await self._enter()
        return await self._read(n)

    async def _read(self, n: int) -> bytes:
        if self._exception is not None:
            raise self._exception
        if n == 0:
            return b""
        if n < 0:
            return await self._read_to_eof()
        if type(n) is not int:
            b""[:n]  # a float (even inf) raises asyncio's TypeError, before anything is read
        self._fold("read")
        if self._pos == len(self._buf) and not self._eof:
            source = self._source
            if source is not None:
                # Nothing buffered: hand the pipe's bytes straight to the caller, no copy.
                return await self._pull(source, min(n, _MAX_READ), "read")
            await self._wait_for_data("read")
        buf = self._buf
        pos = self._pos
        end = min(pos + n, len(buf))
        data = bytes(buf[pos:end])  # before _pos moves: a bad n must not lose the buffer
        self._pos = end
        return data

    async def _read_to_eof(self) -> bytes:
        # Collect into a BytesIO kept on the reader: getvalue() hands over its buffer without
        # a copy, so collecting N bytes costs about N of memory (asyncio's list + join: 2N),
        # and a cancellation leaves the bytes here for the next read.
        if self._reading:
            raise _busy("read")  # before touching the buffer another read is scanning
        acc = self._acc
        if acc is None:
            acc = self._acc = io.BytesIO()
        if self._pos < len(self._buf):
            acc.write(memoryview(self._buf)[self._pos :])
        self._set_buffer(b"")
        size = _CHUNK
        while not self._eof:
            source = self._source
            if source is not None:
                data = await self._pull(source, size, "read")
                if len(data) == size:
                    # A bulk transfer: everything ends up here anyway, so let the kernel
                    # buffer 1 MiB and take it in one read (16x fewer wakeups than 64 KiB).
                    size = max(size, source.grow())
                acc.write(data)
            else:
                await self._wait_for_data("read")
                acc.write(memoryview(self._buf)[self._pos :])
                self._set_buffer(b"")
        self._acc = None
        self._update_plain()
        return acc.getvalue()

    async def readexactly(self, n: int) -> bytes:
        """Mirrors :meth:`asyncio.StreamReader.readexactly`."""
        await self._enter()
        return await self._readexactly(n)

    async def _readexactly(self, n: int) -> bytes:
        if n < 0:
            raise ValueError("readexactly size can not be less than zero")
        if self._exception is not None:
            raise self._exception
        if n == 0:
            return b""
        self._fold("readexactly")
        while len(self._buf) - self._pos < n:
            if self._eof:
                incomplete = bytes(self._buf[self._pos :])
                self._set_buffer(b"")
                raise IncompleteReadError(incomplete, n)
            await self._wait_for_data("readexactly")
        pos = self._pos
        data = bytes(self._buf[pos : pos + n])  # raises for a float n before _pos moves
        self._pos = pos + n
        return data

    def __aiter__(self) -> StreamReader:
        return self

    async def __anext__(self) -> bytes:
        """``async for`` yields asyncio's lines (asyncio code is the migration target), but
        loses nothing: a line longer than ``limit`` raises asyncio's ``ValueError`` with its
        bytes still buffered (``read()``, ``receive()``, :meth:`chunks` return them;
        ``readline()`` throws them away, as asyncio's does). anyio's chunks: :meth:`chunks`."""
        # readline()'s hot path, inline (see there).
        budget = self._budget
        if budget and not self._cancel_pending():
            self._budget = budget - 1
        else:
            await self._yield()
        buf = self._buf
        pos = self._pos
        end = buf.find(b"\n", pos) + 1
        if end and end - pos <= self._maxline and self._plain:
            self._pos = end
            return buf[pos:end]  # type: ignore[return-value]  # _plain: buf is a bytes
        line = await self._readline(keep_overlong=True)
        if line == b"":
            raise StopAsyncIteration
        return line

    def chunks(self, max_bytes: int = 65536) -> AsyncIterator[bytes]:
        """*Beyond asyncio.* anyio's iteration of a byte stream: ``async for chunk in
        reader.chunks()`` yields what :meth:`receive` returns (1 to ``max_bytes`` bytes, no
        line rules) until EOF. ``async for`` on the reader itself yields asyncio's lines."""
        if max_bytes < 1:
            raise ValueError("max_bytes must be a positive integer")
        return _ChunkIterator(self, max_bytes)

    # -- extension ---------------------------------------------------------------------------

    def lines(self, *, overlong: Literal["raise", "split"] = "raise") -> AsyncIterator[bytes]:
        """*Beyond asyncio.* Iterate over lines without ever discarding data (unlike
        :meth:`readline`).

        A line longer than ``limit`` (not counting its ``\\n``) is handled by ``overlong``:

        * ``"raise"``: raise :exc:`asyncio.LimitOverrunError` and leave the bytes in the
          buffer, so the caller can still ``read()`` them (``readline`` throws them away).
        * ``"split"``: yield it in pieces of ``limit`` bytes; the last piece holds the rest
          and the ``b"\\n"``.

        The last line may lack its newline; iteration ends at EOF.
        """
        if overlong not in ("raise", "split"):
            raise ValueError(f"overlong must be 'raise' or 'split', not {overlong!r}")
        return _LineIterator(self, overlong == "split")

    # -- anyio's ByteReceiveStream -----------------------------------------------------------

    async def receive(self, max_bytes: int = 65536) -> bytes:
        """anyio's :meth:`~anyio.abc.ByteReceiveStream.receive`: 1 to ``max_bytes`` bytes from
        the same buffer as the asyncio methods (the buffer first, then the pipe).

        Raises :exc:`anyio.EndOfStream` at EOF, :exc:`anyio.ClosedResourceError` after
        :meth:`aclose` or once the Process was closed (``async with`` exit, its
        :meth:`~Process.aclose`), :exc:`anyio.BusyResourceError` while another task reads (asyncio's
        methods raise ``RuntimeError`` there, as asyncio does). Cancel-safe.
        """
        await self._enter()
        if self._closed:
            raise anyio.ClosedResourceError
        if max_bytes < 1:
            raise ValueError("max_bytes must be a positive integer")  # anyio's words
        if self._reading:
            raise anyio.BusyResourceError("receiving from")
        data = await self._read(max_bytes)
        if not data:
            if self._closed:  # closed by aclose() while we waited
                raise anyio.ClosedResourceError
            raise anyio.EndOfStream
        return data

    async def aclose(self) -> None:
        """anyio's :meth:`~anyio.abc.AsyncResource.aclose`: close the pipe now. Afterwards
        :meth:`receive` raises :exc:`anyio.ClosedResourceError`; asyncio's methods return
        what is still buffered, then EOF. A checkpoint."""
        self._closed = True
        self._close()
        await self._checkpoint()


class _LineIterator:
    """The iterator behind :meth:`StreamReader.lines` (a class, so nothing needs aclose())."""

    __slots__ = ("_reader", "_split")

    def __init__(self, reader: StreamReader, split: bool) -> None:
        self._reader = reader
        self._split = split

    def __aiter__(self) -> _LineIterator:
        return self

    async def __anext__(self) -> bytes:
        reader = self._reader
        try:
            return await reader.readuntil(b"\n")
        except IncompleteReadError as e:
            if e.partial:
                return e.partial
            raise StopAsyncIteration from None
        except LimitOverrunError:
            if not self._split:
                raise
        return await reader.readexactly(reader._limit)


class _ChunkIterator:
    """The iterator behind :meth:`StreamReader.chunks`."""

    __slots__ = ("_max_bytes", "_reader")

    def __init__(self, reader: StreamReader, max_bytes: int) -> None:
        self._reader = reader
        self._max_bytes = max_bytes

    def __aiter__(self) -> _ChunkIterator:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._reader.receive(self._max_bytes)
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

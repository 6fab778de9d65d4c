"""asyncio's SubprocessTransport face of a Process, for code that reaches for ``_transport``."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._process import Process
    from ._writer import StreamWriter

__all__ = ["PipeWriteTransport", "SubprocessTransport"]


class SubprocessTransport(asyncio.SubprocessTransport):
    """The documented methods of :class:`asyncio.SubprocessTransport`, on a Process.

    It exists for compatibility: asyncio code calls ``proc._transport.close()`` after a
    command (against "unclosed transport" warnings) or ``get_pid()``/``get_returncode()``.
    There are no pipe transports (``get_pipe_transport`` returns ``None``); use the streams.
    """

    def __init__(self, process: Process) -> None:
        super().__init__()
        self._process = process

    def get_pid(self) -> int:
        return self._process.pid

    def get_returncode(self) -> int | None:
        return self._process.returncode

    def get_pipe_transport(self, fd: int) -> None:
        return None

    def send_signal(self, signal: int) -> None:
        self._process.send_signal(signal)

    def terminate(self) -> None:
        self._process.terminate()

    def kill(self) -> None:
        self._process.kill()

    def close(self) -> None:
        """As asyncio's: close our ends of the pipes, and kill the child if it still runs
        (it is reaped in the background). Buffered output stays readable."""
        process = self._process
        if process._transport_closed:
            return
        process._transport_closed = True
        process._close_pipes()
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # reaped just now
                process._child.kill()

    def is_closing(self) -> bool:
        return self._process._transport_closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class PipeWriteTransport(asyncio.WriteTransport):
    """asyncio's :class:`~asyncio.WriteTransport` face of a :class:`StreamWriter` (its
    ``transport``), for code that reaches for ``writer.transport``: every call goes to the
    writer and its one queue. Write-buffer limits are fixed (64 KiB / 16 KiB)."""

    def __init__(self, writer: StreamWriter) -> None:
        super().__init__()
        self._writer = writer

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._writer.write(data)

    def write_eof(self) -> None:
        self._writer.write_eof()

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        self._writer.close()

    def abort(self) -> None:
        self._writer._abort()

    def is_closing(self) -> bool:
        return self._writer.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._writer._pending_size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        from ._writer import _HIGH_WATER, _LOW_WATER

        return (_LOW_WATER, _HIGH_WATER)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._writer.get_extra_info(name, default)

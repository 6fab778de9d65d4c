"""asyncio's SubprocessTransport face of a Process, for code that reaches for ``_transport``."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._process import Process

__all__ = ["SubprocessTransport"]


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

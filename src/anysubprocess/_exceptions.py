"""Exceptions: asyncio's own stream errors, plus TimeoutExpired for the timeout extensions."""

from __future__ import annotations

import subprocess
from asyncio import IncompleteReadError, LimitOverrunError
from typing import Any

__all__ = ["IncompleteReadError", "LimitOverrunError", "TimeoutExpired"]


class TimeoutExpired(subprocess.TimeoutExpired, TimeoutError):
    """A ``timeout=`` ran out. Both a :exc:`subprocess.TimeoutExpired` and a
    :exc:`TimeoutError`, so ``except`` clauses written for either catch it.

    ``output`` / ``stderr`` hold what was read before the timeout. From ``Process.wait()`` and
    ``Process.communicate()`` the child keeps running and a later ``communicate()`` returns
    all of its output, including these bytes; from :func:`anysubprocess.run` the child has
    been killed and reaped.
    """

    #: ``(cmd, timeout)``, as :exc:`subprocess.TimeoutExpired` has them.
    args: tuple[Any, ...]

    def __init__(
        self,
        cmd: Any,
        timeout: float,
        output: bytes | str | None = None,
        stderr: bytes | str | None = None,
    ) -> None:
        subprocess.TimeoutExpired.__init__(self, cmd, timeout, output, stderr)
        self.args = (cmd, timeout)

    def __str__(self) -> str:
        return subprocess.TimeoutExpired.__str__(self)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.cmd, self.timeout, self.output, self.stderr))


TimeoutExpired.__module__ = "anysubprocess"

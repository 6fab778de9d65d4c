"""The POSIX implementation shared by every loop: we own the ``Popen`` and its pipe fds.

A loop module supplies only a :class:`LoopOps` (how to wait on an fd, yield, and start a
background task); everything here is written once. We do not use the loops' own subprocess
support: asyncio's forks on the loop thread and holds output twice, uvloop's rejects Popen
keywords and passes socketpairs as stdio, trio's has different semantics.
"""

from __future__ import annotations

import sys

from ._base import LoopOps

# POSIX only: the thread backend (_threadchild.py) serves Windows, and _choose.py never
# imports this module there. Type checkers skip the rest of the module for win32.
assert sys.platform != "win32"

from ._child import PopenChild  # noqa: E402
from ._popenbackend import PopenBackend  # noqa: E402

__all__ = ["PosixBackend"]


class PosixBackend(PopenBackend[PopenChild]):
    """The backend: :class:`PopenChild` on one loop's :class:`LoopOps`."""

    def __init__(self, name: str, ops: LoopOps) -> None:
        super().__init__(name, ops, PopenChild)

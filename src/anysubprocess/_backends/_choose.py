"""Which implementation of the contract serves this process: fd readiness, or threads.

Threads on Windows (no fd readiness for pipes there), and on POSIX when the environment says
``ANYSUBPROCESS_IO=threads`` when the package is imported (read once: every child of the
process takes the same path), so the Windows path runs, and is tested, here too.
"""

from __future__ import annotations

import os
import sys
from typing import Literal

from ._base import Backend, LoopOps

__all__ = ["IO", "make_backend"]

#: ``"threads"`` (blocking pipes and exit waits in worker threads) or ``"fds"`` (POSIX).
IO: Literal["threads", "fds"] = (
    "threads"
    if sys.platform == "win32" or os.environ.get("ANYSUBPROCESS_IO", "") == "threads"
    else "fds"
)


def make_backend(name: str, ops: LoopOps) -> Backend:
    """The backend for one loop kind: the chosen implementation over the loop's ``ops``."""
    if sys.platform == "win32" or IO == "threads":
        from ._threadchild import ThreadBackend

        return ThreadBackend(name, ops)
    else:
        from ._posix import PosixBackend  # POSIX-only modules: never imported on Windows

        return PosixBackend(name, ops)

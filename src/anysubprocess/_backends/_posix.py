"""The POSIX implementation shared by every loop: we own the ``Popen`` and its pipe fds.

A loop module supplies only a :class:`LoopOps` (how to wait on an fd, yield, and start a
background task); everything here is written once. We do not use the loops' own subprocess
support: asyncio's forks on the loop thread and holds output twice, uvloop's rejects Popen
keywords and passes socketpairs as stdio, trio's has different semantics.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ._base import LoopOps

# POSIX only: the thread backend (_threadchild.py) serves Windows, and _choose.py never
# imports this module there. Type checkers skip the rest of the module for win32.
assert sys.platform != "win32"

from ._child import PopenChild  # noqa: E402
from ._spawnqueue import start_popen  # noqa: E402

__all__ = ["PosixBackend"]


class PosixBackend:
    """The backend: :class:`PopenChild` on one loop's :class:`LoopOps`."""

    def __init__(self, name: str, ops: LoopOps) -> None:
        self.name = name
        self._ops = ops
        self.start_background = ops.start_background
        self.new_event = ops.new_event
        self.checkpoint = ops.checkpoint
        self.cancel_pending = ops.cancel_pending

    async def spawn(
        self,
        args: str | bytes | Sequence[Any],
        *,
        shell: bool,
        stdin: Any,
        stdout: Any,
        stderr: Any,
        popen_kwargs: Mapping[str, Any],
    ) -> PopenChild:
        def popen() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                args,
                shell=shell,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                universal_newlines=False,
                # bufsize is 0 unless the caller gave a 0 that is no int (0.0): then Popen
                # raises its TypeError, after its own keyword checks, as under asyncio.
                **{"bufsize": 0, **popen_kwargs},
            )

        # Inline, or in a spawn thread during a burst (_spawnqueue.py).
        return PopenChild(await start_popen(popen, self._ops, self._adopt), self._ops)

    def _adopt(self, orphan: subprocess.Popen[bytes]) -> None:
        PopenChild(orphan, self._ops).kill_and_forget()

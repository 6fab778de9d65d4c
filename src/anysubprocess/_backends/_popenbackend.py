"""What every implementation's backend does alike: start ``subprocess.Popen`` (inline, or in
a spawn thread during a burst: _spawnqueue.py) and wrap it in the implementation's child
type, over one loop's :class:`LoopOps`. Not POSIX-only: the thread backend uses it on Windows.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from ._base import ChildProcess, LoopOps
from ._spawnqueue import start_popen

__all__ = ["PopenBackend"]

C = TypeVar("C", bound=ChildProcess)


class PopenBackend(Generic[C]):
    """The backend: ``child_type(popen, ops)`` for every child, on one loop's ``ops``."""

    def __init__(
        self, name: str, ops: LoopOps, child_type: Callable[[subprocess.Popen[bytes], LoopOps], C]
    ) -> None:
        self.name = name
        self._ops = ops
        self._child_type = child_type
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
    ) -> C:
        def popen() -> subprocess.Popen[bytes]:
            child: subprocess.Popen[bytes] = subprocess.Popen(  # pyright: ignore[reportAssignmentType]
                # (the ** below hides the text-mode keywords from pyright's overload choice;
                # asyncio's are rejected by _create.py, so the pipes are binary)
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
            return child

        return self._child_type(await start_popen(popen, self._ops, self._adopt), self._ops)

    def _adopt(self, orphan: subprocess.Popen[bytes]) -> None:
        """A child whose caller was cancelled while a thread spawned it: killed, reaped in
        the background."""
        self._child_type(orphan, self._ops).kill_and_forget()

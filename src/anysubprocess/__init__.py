"""asyncio's subprocess API, with asyncio's semantics, on asyncio, uvloop and trio.

Change ``asyncio.create_subprocess_exec`` to ``anysubprocess.create_subprocess_exec`` and the
same code runs under any event loop anyio supports.
"""

from __future__ import annotations

from subprocess import DEVNULL as DEVNULL
from subprocess import PIPE as PIPE
from subprocess import STDOUT as STDOUT

# As asyncio's: after `import anysubprocess`, `anysubprocess.subprocess.PIPE` works.
from . import subprocess as subprocess
from ._create import create_subprocess_exec as create_subprocess_exec
from ._create import create_subprocess_shell as create_subprocess_shell
from ._exceptions import IncompleteReadError as IncompleteReadError
from ._exceptions import LimitOverrunError as LimitOverrunError
from ._exceptions import TimeoutExpired as TimeoutExpired
from ._process import DEFAULT_GRACE_PERIOD as DEFAULT_GRACE_PERIOD
from ._process import DeliverCancel as DeliverCancel
from ._process import Process as Process
from ._reader import StreamReader as StreamReader
from ._run import run as run
from ._writer import StreamWriter as StreamWriter

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "DEVNULL",
    "PIPE",
    "STDOUT",
    "DeliverCancel",
    "IncompleteReadError",
    "LimitOverrunError",
    "Process",
    "StreamReader",
    "StreamWriter",
    "TimeoutExpired",
    "create_subprocess_exec",
    "create_subprocess_shell",
    "run",
]

for _obj in (
    Process,
    StreamReader,
    StreamWriter,
    create_subprocess_exec,
    create_subprocess_shell,
    run,
):
    _obj.__module__ = __name__
del _obj

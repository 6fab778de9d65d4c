"""Choosing the implementation (_backends/_choose.py): threads on Windows and with
ANYSUBPROCESS_IO=threads, and no POSIX-only module needed on that path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from .conftest import PY

_BLOCK = """
import sys, os, select, signal
# What the package's dependencies import at their own import time, before we pretend.
import asyncio, subprocess, anyio, sniffio, trio, trio.lowlevel, threading
def block(modules, names):
    for name in modules:
        sys.modules[name] = None  # "import fcntl" raises ImportError from here on
    for module, attrs in names:
        for name in attrs:
            if hasattr(module, name):
                delattr(module, name)
"""
#: What Windows lacks, all of it: for an import (the loops need epoll to run here).
_WINDOWS_LACKS = """
block(("fcntl", "resource", "termios", "pty", "grp", "pwd"), (
    (select, ("epoll", "poll", "kqueue", "EPOLLIN")),
    (os, ("waitid", "pidfd_open", "P_PIDFD", "killpg", "WNOHANG", "CLD_EXITED")),
    (signal, ("SIGKILL", "SIGCHLD")),
))
"""
#: What only the fd path uses, not the loops themselves: for a run.
_FD_PATH_USES = """
block(("fcntl",), (
    (select, ("poll",)),
    (os, ("waitid", "pidfd_open", "P_PIDFD")),
))
"""


def _run(block: str, code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "ANYSUBPROCESS_IO"}
    result = subprocess.run(
        [PY, "-c", _BLOCK + block + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**environ, **env},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_win32_imports_the_thread_path_only() -> None:
    """With sys.platform "win32" and the POSIX-only modules and names gone, the package
    imports, picks threads, and loads none of the POSIX implementation's modules."""
    out = _run(
        _WINDOWS_LACKS,
        """
        sys.platform = "win32"
        import anysubprocess, anysubprocess.subprocess
        from anysubprocess._backends import _choose, _asyncio, _trio
        posix = sorted(m for m in sys.modules if m.startswith("anysubprocess._backends.")
                       and m.rsplit(".", 1)[1] in ("_posix", "_child", "_pipes",
                                                    "_trio_watcher"))
        print(_choose.IO, type(_asyncio.backend).__name__, type(_trio.backend).__name__, posix)
        """,
    )
    assert out.split() == ["threads", "ThreadBackend", "ThreadBackend", "[]"]


@pytest.mark.parametrize("loop", ["asyncio", "trio"])
def test_thread_path_runs_without_posix_modules(loop: str) -> None:
    """On this machine's real platform, with ANYSUBPROCESS_IO=threads and what the fd path
    uses gone (fcntl, select.poll, pidfds, waitid), a child is spawned, fed, read and
    reaped. (POSIX signals stay: the thread path is an I/O strategy, not a platform.)"""
    out = _run(
        _FD_PATH_USES,
        f"""
        import anysubprocess
        from anysubprocess import PIPE
        async def main():
            proc = await anysubprocess.create_subprocess_exec(
                sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read().upper())",
                stdin=PIPE, stdout=PIPE)
            out, _ = await proc.communicate(b"over threads")
            print(out.decode(), proc.returncode)
        anyio.run(main, backend={loop!r})
        posix = [m for m in sys.modules if m.endswith(("._posix", "._child", "._pipes"))]
        print(posix)
        """,
        ANYSUBPROCESS_IO="threads",
    )
    assert out.split("\n")[:2] == ["OVER THREADS 0", "[]"]


def test_fd_path_is_the_posix_default() -> None:
    result = subprocess.run(
        [PY, "-c", "from anysubprocess._backends import _choose; print(_choose.IO)"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "ANYSUBPROCESS_IO"},
        check=True,
    )
    assert result.stdout.strip() == ("threads" if sys.platform == "win32" else "fds")

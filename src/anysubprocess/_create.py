"""The two factories: validate in asyncio's words, make one backend call, wrap a Process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import IO, Any, Union

from ._backends import current_backend
from ._process import Process
from ._reader import _DEFAULT_LIMIT

__all__ = ["create_subprocess_exec", "create_subprocess_shell"]

StrOrBytesPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
#: What ``stdin=``/``stdout=``/``stderr=`` take: PIPE, DEVNULL, STDOUT, an fd, a file, None.
StdioTarget = Union[int, IO[Any], None]  # noqa: UP007


def _reject(kwds: dict[str, Any], *, shell: bool) -> None:
    """Raise the ``ValueError`` asyncio's ``loop.subprocess_exec/_shell`` raises, in its order.

    The keywords are removed: Popen gets asyncio's fixed values for them.
    """
    if kwds.pop("universal_newlines", False):
        raise ValueError("universal_newlines must be False")
    if bool(kwds.pop("shell", shell)) != shell:
        raise ValueError("shell must be True" if shell else "shell must be False")
    bufsize = kwds.pop("bufsize", 0)
    if bufsize != 0:
        raise ValueError("bufsize must be 0")
    if kwds.pop("text", None):
        raise ValueError("text must be False")
    if kwds.pop("encoding", None) is not None:
        raise ValueError("encoding must be None")
    if kwds.pop("errors", None) is not None:
        raise ValueError("errors must be None")
    if not isinstance(bufsize, int):  # 0.0 passes asyncio's check; Popen then rejects it
        kwds["bufsize"] = bufsize


async def _start(
    args: Any,
    *,
    shell: bool,
    stdin: StdioTarget,
    stdout: StdioTarget,
    stderr: StdioTarget,
    limit: int,
    kwds: Mapping[str, Any],
) -> Process:
    # asyncio checks limit when it makes a reader, after the child has started; we check
    # first, so a bad limit costs no process.
    if (stdout == subprocess.PIPE or stderr == subprocess.PIPE) and limit <= 0:
        raise ValueError("Limit cannot be <= 0")
    backend = current_backend()
    # A checkpoint before anything is spawned: a caller whose scope is cancelled gets the
    # loop's cancellation exception and no child (as asyncio, and as trio requires).
    await backend.checkpoint()
    child = await backend.spawn(
        args, shell=shell, stdin=stdin, stdout=stdout, stderr=stderr, popen_kwargs=kwds
    )
    own_group = bool(kwds.get("start_new_session")) or kwds.get("process_group") == 0
    return Process(child, backend, limit=limit, args=args, own_group=own_group)


async def create_subprocess_exec(
    program: StrOrBytesPath,
    *args: StrOrBytesPath,
    stdin: StdioTarget = None,
    stdout: StdioTarget = None,
    stderr: StdioTarget = None,
    limit: int = _DEFAULT_LIMIT,
    **kwds: Any,
) -> Process:
    """Mirrors :func:`asyncio.create_subprocess_exec` on any loop anyio supports.

    Every other keyword goes to :class:`subprocess.Popen` (``cwd``, ``env``, ``pass_fds``,
    ``start_new_session``, ``process_group``, ``user``, ``umask``, ...), on every loop.
    """
    _reject(kwds, shell=False)
    return await _start(
        (program, *args),
        shell=False,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        limit=limit,
        kwds=kwds,
    )


async def create_subprocess_shell(
    cmd: str | bytes,
    stdin: StdioTarget = None,
    stdout: StdioTarget = None,
    stderr: StdioTarget = None,
    limit: int = _DEFAULT_LIMIT,
    **kwds: Any,
) -> Process:
    """Mirrors :func:`asyncio.create_subprocess_shell` (runs ``cmd`` with ``/bin/sh``).

    Quote untrusted input with :func:`shlex.quote`, or use :func:`create_subprocess_exec`.
    """
    if not isinstance(cmd, (bytes, str)):
        raise ValueError("cmd must be a string")
    _reject(kwds, shell=True)
    return await _start(
        cmd, shell=True, stdin=stdin, stdout=stdout, stderr=stderr, limit=limit, kwds=kwds
    )

"""The two factories: validate in asyncio's words, make one backend call, wrap a Process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Collection, Mapping
from typing import IO, TYPE_CHECKING, Any, Literal, TypedDict, Union, cast

from ._backends import check_popen_keywords, current_backend, leads_group
from ._process import Process
from ._reader import _DEFAULT_LIMIT

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from typing import Unpack
    else:
        from typing_extensions import Unpack

__all__ = ["create_subprocess_exec", "create_subprocess_shell"]

StrOrBytesPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
#: What ``stdin=``/``stdout=``/``stderr=`` take: PIPE, DEVNULL, STDOUT, an fd, a file, None.
StdioTarget = Union[int, IO[Any], None]  # noqa: UP007
_Env = Union[Mapping[bytes, StrOrBytesPath], Mapping[str, StrOrBytesPath]]  # noqa: UP007


# The keywords the factories take beyond stdio and limit, typed as typeshed types asyncio's
# (stdlib/asyncio/subprocess.pyi): the ones asyncio forces to a fixed value accept only that
# value, so ``text=True`` is a type error as well as asyncio's ValueError at run time; the rest
# are subprocess.Popen's.
class _PopenKeywords310(TypedDict, total=False):
    """The keywords of both factories beyond stdio and ``limit``, as of Python 3.10."""

    # Forced by asyncio's BaseEventLoop.subprocess_exec/_shell.
    universal_newlines: Literal[False]
    bufsize: Literal[0]
    encoding: None
    errors: None
    text: Literal[False] | None
    # Taken by subprocess.Popen.
    executable: StrOrBytesPath | None
    preexec_fn: Callable[[], Any] | None
    close_fds: bool
    cwd: StrOrBytesPath | None
    env: _Env | None
    startupinfo: Any | None
    creationflags: int
    restore_signals: bool
    start_new_session: bool
    pass_fds: Collection[int]
    group: str | int | None
    extra_groups: Collection[str | int] | None
    user: str | int | None
    umask: int
    pipesize: int


if sys.version_info >= (3, 11):

    class _PopenKeywords(_PopenKeywords310, total=False):
        """3.11 added ``process_group``."""

        process_group: int | None

else:
    _PopenKeywords = _PopenKeywords310


class _ExecKeywords(_PopenKeywords, total=False):
    """The keywords of :func:`create_subprocess_exec`: ``shell`` can only be False."""

    shell: Literal[False]


class _ShellKeywords(_PopenKeywords, total=False):
    """The keywords of :func:`create_subprocess_shell`: ``shell`` can only be True."""

    shell: Literal[True]


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
    check_popen_keywords(kwds)  # Windows: the POSIX-only keywords, before anything spawns
    backend = current_backend()
    # A checkpoint before anything is spawned: a caller whose scope is cancelled gets the
    # loop's cancellation exception and no child (as asyncio, and as trio requires).
    await backend.checkpoint()
    child = await backend.spawn(
        args, shell=shell, stdin=stdin, stdout=stdout, stderr=stderr, popen_kwargs=kwds
    )
    own_group = leads_group(kwds)
    return Process(child, backend, limit=limit, args=args, own_group=own_group)


async def create_subprocess_exec(
    program: StrOrBytesPath,
    *args: StrOrBytesPath,
    stdin: StdioTarget = None,
    stdout: StdioTarget = None,
    stderr: StdioTarget = None,
    limit: int = _DEFAULT_LIMIT,
    **kwds: Unpack[_ExecKeywords],
) -> Process:
    """Mirrors :func:`asyncio.create_subprocess_exec` on any loop anyio supports.

    Every other keyword goes to :class:`subprocess.Popen` (``cwd``, ``env``, ``pass_fds``,
    ``start_new_session``, ``process_group``, ``user``, ``umask``, ...), on every loop.
    """
    _reject(cast("dict[str, Any]", kwds), shell=False)
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
    **kwds: Unpack[_ShellKeywords],
) -> Process:
    """Mirrors :func:`asyncio.create_subprocess_shell` (runs ``cmd`` with ``/bin/sh``).

    Quote untrusted input with :func:`shlex.quote`, or use :func:`create_subprocess_exec`.
    """
    if not isinstance(cmd, (bytes, str)):
        raise ValueError("cmd must be a string")
    _reject(cast("dict[str, Any]", kwds), shell=True)
    return await _start(
        cmd, shell=True, stdin=stdin, stdout=stdout, stderr=stderr, limit=limit, kwds=kwds
    )

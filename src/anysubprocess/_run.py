"""run(): ``subprocess.run`` for async code, with structured cancellation."""

from __future__ import annotations

import inspect
import locale
import os
import subprocess
from collections.abc import Sequence
from typing import Any

import anyio
from anyio.abc import TaskStatus

from ._create import StdioTarget, StrOrBytesPath, create_subprocess_exec, create_subprocess_shell
from ._exceptions import TimeoutExpired
from ._process import DEFAULT_GRACE_PERIOD, DeliverCancel, Process

__all__ = ["run"]

_POPEN_KEYWORDS = frozenset(inspect.signature(subprocess.Popen).parameters)


async def _no_request(proc: Process) -> None:
    """The timeout path's deliver_cancel: none; _terminate(grace_period=0) sends SIGKILL."""


def _decode(data: bytes | None, encoding: str, errors: str) -> str | None:
    if data is None:
        return None
    # subprocess.run(text=True) reads through TextIOWrapper: universal newlines.
    return data.decode(encoding, errors).replace("\r\n", "\n").replace("\r", "\n")


async def run(
    args: StrOrBytesPath | Sequence[StrOrBytesPath],
    *,
    stdin: StdioTarget = None,
    input: bytes | str | None = None,
    stdout: StdioTarget = None,
    stderr: StdioTarget = None,
    capture_output: bool = False,
    shell: bool = False,
    cwd: StrOrBytesPath | None = None,
    timeout: float | None = None,
    check: bool = False,
    env: Any = None,
    text: bool | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    universal_newlines: bool | None = None,
    limit: int = 2**16,
    grace_period: float = DEFAULT_GRACE_PERIOD,
    deliver_cancel: DeliverCancel | None = None,
    task_status: TaskStatus[Process] = anyio.TASK_STATUS_IGNORED,
    **popen_kwargs: Any,
) -> subprocess.CompletedProcess[Any]:
    """Run a command to completion, like :func:`subprocess.run`, without blocking the loop.

    Same arguments, defaults and results as ``subprocess.run``: ``capture_output``,
    ``input`` (``input=b""`` gives the child an empty stdin, not ours), ``check`` raising
    :exc:`subprocess.CalledProcessError`, ``text``/``encoding``/``errors`` decoding.

    * ``timeout``: the child is killed (SIGKILL, to its group too if it leads one) and
      reaped, then :exc:`anysubprocess.TimeoutExpired` is raised with the output so far.
    * Cancellation from outside: ``deliver_cancel(proc)`` (default SIGTERM), up to
      ``grace_period`` seconds to exit, then SIGKILL; the child is reaped before the
      cancellation propagates.
    * ``await task_group.start(run, ...)`` (or ``nursery.start``) returns the started
      :class:`Process` once it exists, while ``run`` goes on in the task group.
    """
    if input is not None:
        if stdin is not None:
            raise ValueError("stdin and input arguments may not both be used.")
        stdin = subprocess.PIPE
    if capture_output:
        if stdout is not None or stderr is not None:
            raise ValueError("stdout and stderr arguments may not be used with capture_output.")
        stdout = stderr = subprocess.PIPE
    text_mode = bool(encoding or errors or text or universal_newlines)
    enc = encoding or locale.getpreferredencoding(False)
    errs = errors or "strict"
    if text_mode and input is not None:
        if not isinstance(input, str):  # what subprocess.run's text-mode stdin raises
            raise TypeError(f"write() argument must be str, not {type(input).__name__}")
        input = input.encode(enc, errs)
    if isinstance(input, str):
        raise TypeError("input must be bytes unless text=True (or encoding/errors) is given")

    for name in popen_kwargs:  # Popen rejects these before it looks at args
        if name not in _POPEN_KEYWORDS:
            raise TypeError(f"Popen.__init__() got an unexpected keyword argument {name!r}")
    kwds: dict[str, Any] = dict(popen_kwargs, cwd=cwd, env=env)
    if shell and isinstance(args, (str, bytes)):
        proc = await create_subprocess_shell(
            args, stdin=stdin, stdout=stdout, stderr=stderr, limit=limit, **kwds
        )
    elif shell:  # a sequence with shell=True: what subprocess.Popen runs
        # (str and bytes went to the branch above; named here for the type checkers.)
        shell_args = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
        proc = await create_subprocess_exec(
            "/bin/sh",
            "-c",
            *shell_args,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            limit=limit,
            **kwds,
        )
    else:
        argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
        if not argv:
            raise IndexError("list index out of range")  # what subprocess.run raises
        proc = await create_subprocess_exec(
            *argv, stdin=stdin, stdout=stdout, stderr=stderr, limit=limit, **kwds
        )
    proc.grace_period = grace_period
    proc.deliver_cancel = deliver_cancel

    out: bytes | None = None  # set below on every path (named here for the type checkers)
    err: bytes | None = None
    try:
        task_status.started(proc)
        with anyio.move_on_after(timeout if timeout is not None else float("inf")) as scope:
            out, err = await proc.communicate(input)
        if scope.cancelled_caught:
            out = proc.stdout._peek() if proc.stdout is not None else None
            err = proc.stderr._peek() if proc.stderr is not None else None
            # subprocess.run kills at once on a timeout: no polite request, no grace.
            await proc._terminate(grace_period=0, deliver_cancel=_no_request)
    except BaseException:
        await proc._terminate()
        raise

    stdout_value: Any = _decode(out, enc, errs) if text_mode else out
    stderr_value: Any = _decode(err, enc, errs) if text_mode else err
    if scope.cancelled_caught:
        assert timeout is not None
        raise TimeoutExpired(args, timeout, stdout_value, stderr_value)
    returncode = proc.returncode
    assert returncode is not None
    if check and returncode:
        raise subprocess.CalledProcessError(returncode, args, stdout_value, stderr_value)
    return subprocess.CompletedProcess(args, returncode, stdout_value, stderr_value)

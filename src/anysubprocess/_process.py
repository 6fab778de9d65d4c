"""Process: asyncio's subprocess handle, plus structured cleanup (``async with``, timeouts)."""

from __future__ import annotations

import asyncio.subprocess
import sys
import warnings
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import anyio
import anyio.abc

from ._backends import YIELD_EVERY, Backend, ChildProcess, ReceivePipe
from ._exceptions import TimeoutExpired
from ._inherit import Absent
from ._reader import StreamReader
from ._transport import SubprocessTransport
from ._writer import StreamWriter

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

__all__ = ["DEFAULT_GRACE_PERIOD", "DeliverCancel", "Process"]

DEFAULT_GRACE_PERIOD = 5.0
#: How long cleanup waits for a SIGKILLed child to be reaped before giving up (with a warning).
_REAP_TIMEOUT = 5.0

DeliverCancel = Callable[["Process"], Awaitable[object]]


class Process(asyncio.subprocess.Process, anyio.abc.Process):
    """Mirrors :class:`asyncio.subprocess.Process`, and is one (``isinstance`` holds, on every
    loop; so are its streams); made by ``create_subprocess_exec/_shell``.

    Also an :class:`anyio.abc.Process`, its pipes anyio byte streams, with anyio's contracts
    (``aclose()`` waits; ``receive()``/``send()`` raise anyio's exceptions). asyncio's methods
    keep asyncio's exceptions. One difference to know: ``async for`` on a stream yields
    asyncio's lines, not anyio's chunks (see :meth:`StreamReader.chunks`).

    Beyond asyncio: ``wait(timeout=)`` and ``communicate(timeout=)``, ``async with`` (and
    :meth:`aclose`, its anyio/trio equivalent) for cleanup that never leaves a child behind,
    :meth:`signal_group`.
    """

    # Plain attributes, as asyncio's (typeshed: mutable attributes; anyio: properties).
    __slots__ = {
        "pid": "Mirrors :attr:`asyncio.subprocess.Process.pid`: the child's process id.",
        "stderr": "Mirrors :attr:`asyncio.subprocess.Process.stderr`: the child's stderr (with "
        "``stderr=PIPE``), as :attr:`stdout`.",
        "stdin": "Mirrors :attr:`asyncio.subprocess.Process.stdin`: the child's stdin (with "
        "``stdin=PIPE``, else ``None``), asyncio's writer and anyio's send stream.",
        "stdout": "Mirrors :attr:`asyncio.subprocess.Process.stdout`: the child's stdout (with "
        "``stdout=PIPE``, else ``None``), asyncio's reader and anyio's receive stream, over "
        "one buffer.",
    }
    # Plain attributes, as asyncio's Process has them (typeshed too); anyio.abc.Process
    # declares read-only properties, which an attribute serves as well (pyright's standard
    # mode, as in the win32 check, cannot see that both bases are met: the assignments in
    # __init__ say so).
    pid: int
    stdin: StreamWriter | None
    stdout: StreamReader | None
    stderr: StreamReader | None

    # asyncio's helpers for its own communicate() (see _inherit.py).
    _feed_stdin = Absent()
    _noop = Absent()
    _read_stream = Absent()
    _loop = Absent()
    _protocol = Absent()

    #: Seconds between the polite request to stop and SIGKILL, in structured cleanup.
    grace_period: float
    #: ``async def deliver_cancel(proc)``: how structured cleanup asks the child to stop
    #: (trio's hook). ``None``: SIGTERM, to the whole group if the child leads one.
    deliver_cancel: DeliverCancel | None

    def __init__(
        self,
        child: ChildProcess,
        backend: Backend,
        *,
        limit: int,
        args: Any,
        own_group: bool,
    ) -> None:
        self._child = child
        self._backend = backend
        self._args = args
        self._own_group = own_group
        stdin = StreamWriter(child.stdin, backend) if child.stdin is not None else None
        # (the pyright comments: see the class attributes)
        self.pid = child.pid  # pyright: ignore[reportIncompatibleMethodOverride]
        self.stdin = stdin  # pyright: ignore[reportIncompatibleMethodOverride,reportIncompatibleVariableOverride]
        self.stdout = self._reader(child.stdout, limit)  # pyright: ignore[reportIncompatibleMethodOverride,reportIncompatibleVariableOverride]
        self.stderr = self._reader(child.stderr, limit)  # pyright: ignore[reportIncompatibleMethodOverride,reportIncompatibleVariableOverride]
        self._transport_closed = False
        # wait() and communicate() are cancel points that yield only when they wait, and
        # once in YIELD_EVERY calls that did not (DESIGN semantics 10).
        self._budget = YIELD_EVERY - 1
        self.grace_period = DEFAULT_GRACE_PERIOD
        self.deliver_cancel = None
        # The hook holds the streams, not the Process: a Process dropped while its child
        # runs can still be collected (and warn), and its pipes are still closed at exit.
        child.set_exit_callback(_ExitHook(self.stdin, self.stdout, self.stderr))

    def _reader(self, pipe: ReceivePipe | None, limit: int) -> StreamReader | None:
        if pipe is None:
            return None
        return StreamReader(
            limit,
            _source=pipe,
            _checkpoint=self._backend.checkpoint,
            _cancel_pending=self._backend.cancel_pending,
        )

    def __repr__(self) -> str:
        rc = self._child.poll()
        state = "running" if rc is None else f"returncode={rc}"
        return f"<Process {self.pid} {state} args={self._args!r}>"

    @property
    def _transport(self) -> SubprocessTransport:
        """asyncio's transport face, for libraries that reach for ``proc._transport``
        (``close()`` against unclosed-transport warnings, ``get_pid()``, ...)."""
        return SubprocessTransport(self)

    @property
    def args(self) -> Any:
        """*Beyond asyncio.* The program and arguments (or the shell command) the process was
        started with."""
        return self._args

    @property
    def returncode(self) -> int | None:
        """Mirrors :attr:`asyncio.subprocess.Process.returncode`: the exit status once the
        process has exited (``-N`` for signal N), else ``None``.

        The child is reaped in the background as soon as it exits, as asyncio's child
        watchers do; reading this also looks (a non-blocking ``waitid``), so it is current.
        If something else reaped the child (``os.wait()``, a ``SIGCHLD`` handler), its
        status is lost: 255, with a warning logged, as asyncio reports it.
        """
        return self._child.poll()

    # -- waiting -----------------------------------------------------------------------------

    async def wait(self, *, timeout: float | None = None) -> int:
        """Mirrors :meth:`asyncio.subprocess.Process.wait`: returns when the process exits
        (even if a grandchild still holds its pipes, as fixed upstream in cpython#119710).

        ``timeout`` (an extension shaped like ``Popen.wait``): raise :exc:`TimeoutExpired`
        after that many seconds; the process keeps running.
        """
        if timeout is None:
            return await self._wait()
        with anyio.move_on_after(timeout):
            return await self._wait()
        raise TimeoutExpired(self._args, timeout)

    async def _enter(self) -> None:
        """The cancel point: no yield unless the scope is cancelled or YIELD_EVERY calls
        ran without one."""
        budget = self._budget
        if budget and not self._backend.cancel_pending():
            self._budget = budget - 1
            return
        await self._backend.checkpoint()
        self._budget = YIELD_EVERY - 1

    async def _wait(self) -> int:
        await self._enter()
        rc = self._child.poll()
        if rc is not None:
            # No yield: asyncio's wait() on an exited child completes in one loop turn,
            # and CPython's own tests rely on it (test_create_subprocess_env_exec).
            return rc
        return await self._child.wait()

    # typeshed types asyncio's communicate() as returning (bytes, bytes), but asyncio returns
    # None for a stream that is not a pipe, as we do: our return type says so.
    async def communicate(  # type: ignore[override]
        self, input: bytes | bytearray | memoryview | None = None, *, timeout: float | None = None
    ) -> tuple[bytes | None, bytes | None]:
        """Mirrors :meth:`asyncio.subprocess.Process.communicate`.

        Sends ``input`` and closes stdin (also when ``input`` is None), reads stdout and
        stderr to EOF, waits for exit. A broken stdin pipe is ignored, as in asyncio.

        Cancel-safe, unlike asyncio's (cpython#139373): bytes read before a cancellation or
        timeout stay in the readers and the next ``communicate()`` returns all of them.
        Input is written once: a repeated call does not send it again (stdin is closed).

        ``timeout``: raise :exc:`TimeoutExpired` carrying the output read so far; the
        process keeps running (as with ``Popen.communicate``).
        """
        await self._enter()  # before anything is written or read
        if timeout is None:
            return await self._communicate(input)
        with anyio.move_on_after(timeout):
            return await self._communicate(input)
        raise TimeoutExpired(
            self._args,
            timeout,
            output=self.stdout._peek() if self.stdout is not None else None,
            stderr=self.stderr._peek() if self.stderr is not None else None,
        )

    async def _communicate(
        self, input: bytes | bytearray | memoryview | None
    ) -> tuple[bytes | None, bytes | None]:
        stdin, stdout, stderr = self.stdin, self.stdout, self.stderr
        if stdin is not None:
            # write() hands what the pipe cannot take yet to the background flusher, and
            # close() lets it finish: the same as asyncio's write + drain + close, without
            # holding this task (and without a second copy of a large input).
            if input is not None:
                stdin.write(input)
            stdin.close()
        out: bytes | None = None
        err: list[bytes] = []  # a list: the stderr task fills it
        try:
            if stdout is not None and stderr is not None and not (stdout._eof or stderr._eof):

                async def read_stderr() -> None:
                    err.append(await stderr.read())

                try:
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(read_stderr)
                        out = await stdout.read()
                except BaseExceptionGroup as group:  # pragma: no cover - a read error (rare)
                    raise group.exceptions[0] from None
            else:
                # At most one stream can still have to wait: no second task (a task group
                # always yields, and communicate() after everything was read must not).
                if stderr is not None:
                    err.append(await stderr.read())
                if stdout is not None:
                    out = await stdout.read()
            await self._wait()
        except BaseException:
            # Cancelled (or timed out) after a stream was read to EOF: its bytes go back into
            # the stream, so TimeoutExpired.output and the next communicate() have them.
            if out is not None and stdout is not None:
                stdout._unread(out)
            if err and stderr is not None:
                stderr._unread(err[0])
            raise
        if stdin is not None and not stdin._closed:
            # The child has exited; a grandchild holding stdin is not ours to feed.
            stdin._abort()
        return out, (err[0] if err else None)

    # -- signals -----------------------------------------------------------------------------

    def send_signal(self, signal: int) -> None:
        """Mirrors :meth:`asyncio.subprocess.Process.send_signal`.

        As asyncio's: once the process has exited, the signal is dropped while one of its
        pipes is still open (a grandchild may hold it), and :exc:`ProcessLookupError` is
        raised once they are all closed (asyncio: once its transport has closed).
        """
        self._deliver(self._child.send_signal, signal)

    def terminate(self) -> None:
        """Mirrors :meth:`asyncio.subprocess.Process.terminate`: send SIGTERM (Windows:
        ``TerminateProcess``; see :meth:`send_signal`)."""
        self._deliver(self._child.terminate)

    def kill(self) -> None:
        """Mirrors :meth:`asyncio.subprocess.Process.kill`: send SIGKILL (Windows:
        ``TerminateProcess``; see :meth:`send_signal`)."""
        self._deliver(self._child.kill)

    def _deliver(self, send: Callable[..., None], *args: int) -> None:
        try:
            send(*args)
        except ProcessLookupError:
            if not self._pipes_open():
                raise

    def _pipes_open(self) -> bool:
        """Whether any of our pipe ends is still open (asyncio: its transport is not closed)."""
        return (
            (self.stdin is not None and not self.stdin._closed)
            or (self.stdout is not None and self.stdout._source is not None)
            or (self.stderr is not None and self.stderr._source is not None)
        )

    def signal_group(self, signal: int) -> None:
        """*Beyond asyncio.* Send ``signal`` to the child's whole process group
        (:func:`os.killpg`).

        Only for a child started as a group leader (``start_new_session=True`` or
        ``process_group=0``): then its grandchildren, such as a shell's background jobs, get
        the signal too, even after the child itself has exited. Raises ``ValueError`` for a
        child in our own group, and ``ProcessLookupError`` if no member is left.
        """
        if not self._own_group:
            raise ValueError(
                "the process does not lead its own process group; start it with "
                "start_new_session=True or process_group=0"
            )
        self._child.signal_group(signal)

    def _stop_tree(self, *, force: bool) -> None:
        """SIGTERM (``force``: SIGKILL) to the child, or to its group if it leads one; the
        platform's equivalents on Windows (the backend's child knows them)."""
        child = self._child
        try:
            if self._own_group:
                child.kill_group() if force else child.terminate_group()
            elif child.poll() is None:
                child.kill() if force else child.terminate()
        except ProcessLookupError:
            pass

    # -- structured cleanup ------------------------------------------------------------------

    def _close_gently(self) -> None:
        """Close stdin once its pending bytes are delivered; close stdout and stderr now (as
        ``Popen.__exit__`` does, so unread output cannot deadlock the wait)."""
        if self.stdin is not None:
            self.stdin.close()
        if self.stdout is not None:
            self.stdout._close()
        if self.stderr is not None:
            self.stderr._close()

    def _after_wait(self) -> None:
        if self.stdin is not None and not self.stdin._closed:
            self.stdin._abort()  # the child has exited: only a grandchild could still read it

    def _close_pipes(self) -> None:
        if self.stdin is not None:
            self.stdin._abort()
        if self.stdout is not None:
            self.stdout._close()
        if self.stderr is not None:
            self.stderr._close()

    async def aclose(
        self, *, grace_period: float | None = None, deliver_cancel: DeliverCancel | None = None
    ) -> None:
        """anyio's and trio's :meth:`~anyio.abc.AsyncResource.aclose` (not asyncio API): the
        same as leaving ``async with proc:`` normally. Close the pipes (stdin once what was
        written is delivered; stdout and stderr at once, so a child blocked writing to a full
        pipe cannot hang this) and **wait** for the child: its exit status stays its own
        (a child that exits 3 gives 3).

        Only if that wait is cancelled (or fails) is the child stopped: ``deliver_cancel(proc)``
        (default: SIGTERM to the child, or to its group if it leads one), up to
        ``grace_period`` seconds, SIGKILL, reap -- shielded and bounded; then the cancellation
        propagates. anyio and trio kill at once there; ``grace_period=0`` does the same.
        Bytes already read stay readable to asyncio's methods; anyio's ``receive()`` raises
        ``ClosedResourceError`` afterwards.
        """
        await self._close_and_wait(grace_period, deliver_cancel)
        # A full checkpoint, as trio's and anyio's aclose() are (their wait() always yields;
        # ours does not when the child has exited: DESIGN 10's ready call).
        await self._backend.checkpoint()

    async def _close_and_wait(
        self, grace_period: float | None, deliver_cancel: DeliverCancel | None
    ) -> None:
        try:
            self._close_gently()
            await self._wait()
            self._after_wait()
        except BaseException:
            await self._aclose(grace_period, deliver_cancel)
            raise

    async def _terminate(
        self, grace_period: float | None = None, deliver_cancel: DeliverCancel | None = None
    ) -> None:
        """Stop the child now (``deliver_cancel``, grace, SIGKILL), reap it, close the pipes:
        the structured cleanup, for ``run()``'s timeout and error paths. A checkpoint after
        the cleanup."""
        await self._aclose(grace_period, deliver_cancel)
        await self._backend.checkpoint()

    async def _aclose(
        self, grace_period: float | None, deliver_cancel: DeliverCancel | None
    ) -> None:
        grace = self.grace_period if grace_period is None else grace_period
        deliver = self.deliver_cancel if deliver_cancel is None else deliver_cancel
        with anyio.CancelScope(shield=True):
            self._close_pipes()
            if self._child.poll() is None:
                with anyio.move_on_after(grace):
                    try:
                        if deliver is None:
                            self._stop_tree(force=False)
                        else:
                            await deliver(self)
                    except Exception as exc:
                        warnings.warn(
                            f"deliver_cancel raised {exc!r}; killing process {self.pid}",
                            RuntimeWarning,
                            stacklevel=2,
                        )
                    else:
                        await self._child.wait()
                if self._child.poll() is None:
                    self._stop_tree(force=True)
            if self._own_group:
                # Background grandchildren outlive a leader that exited on SIGTERM.
                self._stop_tree(force=True)
            with anyio.move_on_after(_REAP_TIMEOUT):
                await self._child.wait()
            if self._child.poll() is None:  # pragma: no cover - stuck in the kernel
                warnings.warn(
                    f"process {self.pid} did not exit {_REAP_TIMEOUT}s after SIGKILL",
                    ResourceWarning,
                    stacklevel=2,
                )

    async def __aenter__(self) -> Process:
        # Deliberately not a checkpoint: a cancellation here would skip __aexit__ and leave
        # the child running (trio's nurseries make the same choice).
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Normal exit: :meth:`aclose` (close the pipes, wait; stopped only if that wait is
        cancelled). Exit by an exception or a cancellation: the structured cleanup at once
        (``deliver_cancel``, ``grace_period``, SIGKILL, reap), and the exception goes on.
        """
        if exc_type is None:
            # aclose() without its final checkpoint: the wait's cancel point is the exit's
            # (a cancellation already pending there is an exit by cancellation: the
            # structured cleanup runs, as trio's nursery exit would raise it), but once the
            # child is waited for, nothing is cancelled after the fact.
            await self._close_and_wait(None, None)
            return
        # No checkpoint after the cleanup: it must not replace the exception in flight.
        await self._aclose(None, None)

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        # Finalizers may only close fds: no loop calls here.
        # The pipes are not closed here: the streams may outlive the Process, and they
        # close their fds themselves when they go.
        # The child, if it still runs, is reaped in the background when it exits.
        child = getattr(self, "_child", None)
        if child is not None and child.returncode is None:
            _warn(
                f"process {self.pid} {self._args!r} is still running and was never waited "
                "for; use 'async with' or await wait()",
                ResourceWarning,
                source=self,
            )


class _ExitHook:
    """Runs on the loop when the child has been reaped: what asyncio's transports do in the
    background at that point (take what the child left in its pipes and close them at EOF,
    notice that nobody reads stdin any more), so no fd outlives the child for want of a
    reader."""

    __slots__ = ("stderr", "stdin", "stdout")

    def __init__(
        self, stdin: StreamWriter | None, stdout: StreamReader | None, stderr: StreamReader | None
    ) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr

    def __call__(self) -> None:
        if self.stdout is not None:
            self.stdout._take_leftovers()
        if self.stderr is not None:
            self.stderr._take_leftovers()
        if self.stdin is not None:
            self.stdin._check_peer()

"""Process: asyncio's subprocess handle, plus structured cleanup (``async with``, timeouts)."""

from __future__ import annotations

import signal
import sys
import warnings
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import anyio

from ._backends import Backend, ChildProcess
from ._exceptions import TimeoutExpired
from ._reader import StreamReader
from ._writer import StreamWriter

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

__all__ = ["DEFAULT_GRACE_PERIOD", "DeliverCancel", "Process"]

DEFAULT_GRACE_PERIOD = 5.0
#: How long cleanup waits for a SIGKILLed child to be reaped before giving up (with a warning).
_REAP_TIMEOUT = 5.0

DeliverCancel = Callable[["Process"], Awaitable[object]]


class Process:
    """Mirrors :class:`asyncio.subprocess.Process`; made by ``create_subprocess_exec/_shell``.

    Beyond asyncio: ``wait(timeout=)`` and ``communicate(timeout=)``, ``async with`` (and
    :meth:`aclose`) for cleanup that never leaves a child behind, :meth:`signal_group`.
    """

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
        self.pid: int = child.pid
        self.stdin: StreamWriter | None = (
            StreamWriter(child.stdin, backend) if child.stdin is not None else None
        )
        self.stdout: StreamReader | None = (
            StreamReader(limit, _source=child.stdout) if child.stdout is not None else None
        )
        self.stderr: StreamReader | None = (
            StreamReader(limit, _source=child.stderr) if child.stderr is not None else None
        )
        self.grace_period = DEFAULT_GRACE_PERIOD
        self.deliver_cancel = None

    def __repr__(self) -> str:
        rc = self._child.poll()
        state = "running" if rc is None else f"returncode={rc}"
        return f"<Process {self.pid} {state} args={self._args!r}>"

    @property
    def args(self) -> Any:
        """*Beyond asyncio.* The program and arguments (or the shell command) the process was
        started with."""
        return self._args

    @property
    def returncode(self) -> int | None:
        """Mirrors :attr:`asyncio.subprocess.Process.returncode`: the exit status once the
        process has exited (``-N`` for signal N), else ``None``.

        Looked up when read (a non-blocking ``waitpid``), so it is current even when
        nobody awaits :meth:`wait`.
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

    async def _wait(self) -> int:
        rc = await self._child.wait()
        # Like asyncio's transports, which read pipes in the background and close them at
        # EOF: take what the dead child left in its pipes (at most a pipe's worth each)
        # and free the fds, unless something else still holds the write ends.
        for reader in (self.stdout, self.stderr):
            if reader is not None:
                reader._pull_nowait(16)
        if self.stdin is not None:
            # asyncio's pipe transport notices the read end closing; we look now.
            self.stdin._check_peer()
        return rc

    async def communicate(
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
            if stdout is not None and stderr is not None:

                async def read_stderr() -> None:
                    err.append(await stderr.read())

                try:
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(read_stderr)
                        out = await stdout.read()
                except BaseExceptionGroup as group:  # pragma: no cover - a read error (rare)
                    raise group.exceptions[0] from None
            elif stdout is not None:
                out = await stdout.read()
            elif stderr is not None:
                err.append(await stderr.read())
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
        """Mirrors :meth:`asyncio.subprocess.Process.send_signal`; raises
        :exc:`ProcessLookupError` once the process has exited and been reaped."""
        self._child.send_signal(signal)

    def terminate(self) -> None:
        """Mirrors :meth:`asyncio.subprocess.Process.terminate`: send SIGTERM (see
        :meth:`send_signal`)."""
        self._child.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Mirrors :meth:`asyncio.subprocess.Process.kill`: send SIGKILL (see
        :meth:`send_signal`)."""
        self._child.send_signal(signal.SIGKILL)

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

    def _signal_tree(self, sig: int) -> None:
        try:
            if self._own_group:
                self._child.signal_group(sig)
            elif self._child.poll() is None:
                self._child.send_signal(sig)
        except ProcessLookupError:
            pass

    # -- structured cleanup ------------------------------------------------------------------

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
        """*Beyond asyncio.* Stop the process if it still runs, reap it, and close the pipes.

        Closes our ends of the pipes (so a child blocked writing to a full pipe cannot hang
        this), calls ``deliver_cancel(proc)`` (default: SIGTERM to the child, or to its
        group if it leads one), waits up to ``grace_period`` seconds, then sends SIGKILL
        (to the group too) and reaps. Shielded from cancellation and bounded in time; the
        process is reaped before this returns. Bytes already read stay readable.
        """
        grace = self.grace_period if grace_period is None else grace_period
        deliver = self.deliver_cancel if deliver_cancel is None else deliver_cancel
        with anyio.CancelScope(shield=True):
            self._close_pipes()
            if self._child.poll() is None:
                with anyio.move_on_after(grace):
                    try:
                        if deliver is None:
                            self._signal_tree(signal.SIGTERM)
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
                    self._signal_tree(signal.SIGKILL)
            if self._own_group:
                # Background grandchildren outlive a leader that exited on SIGTERM.
                self._signal_tree(signal.SIGKILL)
            with anyio.move_on_after(_REAP_TIMEOUT):
                await self._child.wait()
            if self._child.poll() is None:  # pragma: no cover - stuck in the kernel
                warnings.warn(
                    f"process {self.pid} did not exit {_REAP_TIMEOUT}s after SIGKILL",
                    ResourceWarning,
                    stacklevel=2,
                )

    async def __aenter__(self) -> Process:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Normal exit: close stdin (pending bytes are still delivered), close stdout and
        stderr (as ``Popen.__exit__`` does, so unread output cannot deadlock us), wait.
        Exit by an exception or a cancellation, or a cancelled wait: :meth:`aclose`.
        """
        if exc_type is None:
            try:
                if self.stdin is not None:
                    self.stdin.close()
                if self.stdout is not None:
                    self.stdout._close()
                if self.stderr is not None:
                    self.stderr._close()
                await self._wait()
                if self.stdin is not None and not self.stdin._closed:
                    self.stdin._abort()  # only a grandchild could still read it
                return
            except BaseException:
                await self.aclose()
                raise
        await self.aclose()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        # Finalizers may only close fds: no loop calls here.
        # The pipes are not closed here: the streams may outlive the Process, and they
        # close their fds themselves when they go.
        child = getattr(self, "_child", None)
        if child is None:
            return
        if child.poll() is None:
            _warn(
                f"process {self.pid} {self._args!r} is still running and was never waited "
                "for; use 'async with' or await wait()",
                ResourceWarning,
                source=self,
            )
        child.close()

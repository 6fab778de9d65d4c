"""The backend contract: what the rest of the package may ask of an event loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

__all__ = [
    "YIELD_EVERY",
    "Backend",
    "ChildProcess",
    "EventLike",
    "LoopOps",
    "ReceivePipe",
    "SendPipe",
]

#: A run of calls whose answer is ready (a buffered line, ``drain()`` with nothing pending,
#: ``wait()`` on an exited child) yields to the loop once every this many calls per object
#: (DESIGN semantics 10): each object counts down a ``_budget`` of YIELD_EVERY - 1 calls
#: that may skip the yield; the call that finds it at 0 yields and starts a new one.
#: A yield costs 3-7 us (asyncio ~3, trio ~7, measured), a ready readline ~0.3 us: at 512
#: the yield adds 2-4% to a ready call, and 512 ready calls take ~0.2 ms of loop time.
YIELD_EVERY = 512


class EventLike(Protocol):
    """The part of ``asyncio.Event`` / ``trio.Event`` we use."""

    def set(self) -> None: ...
    def is_set(self) -> bool: ...
    async def wait(self) -> Any: ...


class ReceivePipe(Protocol):
    """The parent's read end of a child's stdout/stderr pipe."""

    @property
    def fileobj(self) -> Any: ...

    def grow(self) -> int:
        """Make the pipe's buffer large for a bulk transfer (best effort); its capacity."""
        ...

    def receive_nowait(self, max_bytes: int) -> bytes | None:
        """Read what is there without waiting: bytes, ``b""`` at EOF, ``None`` if empty."""
        ...

    async def receive(self, max_bytes: int) -> bytes:
        """Read up to ``max_bytes``, waiting while the pipe is empty; ``b""`` at EOF.

        Atomic: a cancelled call read nothing. Does not yield when data is there."""
        ...

    def close(self) -> None:
        """Close now (waking any task blocked on the pipe with ``ClosedResourceError``)."""
        ...


class SendPipe(Protocol):
    """The parent's write end of a child's stdin pipe."""

    @property
    def fileobj(self) -> Any: ...

    def grow(self) -> int:
        """Make the pipe's buffer large for a bulk transfer (best effort); its capacity."""
        ...

    def send_nowait(self, data: bytes | bytearray | memoryview) -> int:
        """Write without waiting; return how many bytes the pipe took (0 if full).

        Raises ``BrokenPipeError`` (or another ``OSError``) when the child is gone.
        """
        ...

    async def wait_writable(self) -> None:
        """Wait until ``send_nowait`` can take at least one byte (or will fail)."""
        ...

    def peer_closed(self) -> bool:
        """Whether the child's end of the pipe is closed (nobody can read any more)."""
        ...

    def on_broken(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once, on the loop, when the pipe learns by itself that it is
        broken (a write in a worker thread failed: the thread path's way of finding that the
        child closed its stdin). Where writes are synchronous the next ``send_nowait`` says
        so, and this may never call it."""
        ...

    def close(self) -> None:
        """Close now (waking any task blocked on the pipe with ``ClosedResourceError``)."""
        ...


class ChildProcess(Protocol):
    """A started child process and the parent's ends of its pipes.

    The child is watched from the spawn on: once it exits it is reaped in the background
    (as asyncio's child watchers do), whether or not anybody waits.
    """

    # Read-only to the rest of the package (properties here, so an implementation may
    # declare its own pipe types).
    @property
    def pid(self) -> int: ...
    @property
    def stdin(self) -> SendPipe | None: ...
    @property
    def stdout(self) -> ReceivePipe | None: ...
    @property
    def stderr(self) -> ReceivePipe | None: ...

    @property
    def returncode(self) -> int | None:
        """The exit status once the child has been reaped, else ``None`` (no system call)."""
        ...

    def poll(self) -> int | None:
        """Reap the child if it has exited (never blocks); its returncode, or None."""
        ...

    async def wait(self) -> int:
        """Wait until the child has been reaped; any number of tasks may wait at once.

        Not a checkpoint when the child has already been reaped (the caller adds one)."""
        ...

    def set_exit_callback(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` on the loop's thread right after the child is reaped.

        The thread backend calls it again each time one of the child's output pipes has
        news after that (a thread's read brought bytes or EOF, a pipe closed): it learns
        of the child's last bytes only as its threads read them. So ``fn`` must be
        idempotent."""
        ...

    def send_signal(self, sig: int) -> None:
        """Signal the child; ``ProcessLookupError`` once it has been reaped. (Windows:
        ``SIGTERM``, ``CTRL_C_EVENT``, ``CTRL_BREAK_EVENT`` only, else ``ValueError``.)"""
        ...

    def terminate(self) -> None:
        """Ask the child to stop: SIGTERM (Windows: ``TerminateProcess``), as
        ``send_signal``."""
        ...

    def kill(self) -> None:
        """Stop the child now: SIGKILL (Windows: ``TerminateProcess``), as ``send_signal``."""
        ...

    def signal_group(self, sig: int) -> None:
        """Signal the child's process group (``ProcessLookupError`` if it has no member)."""
        ...

    def terminate_group(self) -> None:
        """Ask the child's group to stop: SIGTERM to it (Windows: ``CTRL_BREAK_EVENT``)."""
        ...

    def kill_group(self) -> None:
        """Stop the child's group now: SIGKILL to it (Windows: the leader only)."""
        ...

    def kill_and_forget(self) -> None:
        """Close our pipe ends and kill the child; it is reaped in the background."""
        ...


class Backend(Protocol):
    """One event loop's implementation of the contract; chosen once per loop kind."""

    name: str

    async def spawn(
        self,
        args: str | bytes | Sequence[Any],
        *,
        shell: bool,
        stdin: Any,
        stdout: Any,
        stderr: Any,
        popen_kwargs: Mapping[str, Any],
    ) -> ChildProcess:
        """Start a child (``subprocess.Popen`` semantics; pipes are binary, unbuffered)."""
        ...

    def start_background(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``fn()`` on the loop, outside any caller's cancel scope; it must not raise."""
        ...

    def new_event(self) -> EventLike:
        """A fresh event of the running loop's kind."""
        ...

    def checkpoint(self) -> Awaitable[None]:
        """Yield to the loop once; may raise the loop's cancellation exception."""
        ...

    def cancel_pending(self) -> bool:
        """See :meth:`LoopOps.cancel_pending`."""
        ...


class LoopOps(Protocol):
    """What differs between event loops, and nothing else (the inner contract of the
    implementations: the fd methods serve the POSIX one, ``threadsafe_caller`` the thread one)."""

    def wait_readable(self, fd: int, /) -> Awaitable[None]: ...
    def wait_writable(self, fd: int, /) -> Awaitable[None]: ...
    def notify_closing(self, fd: int, /) -> None: ...
    def call_when_readable(self, fd: int, callback: Callable[[], None], /) -> None:
        """Call ``callback()`` once ``fd`` is readable; ``notify_closing(fd)`` cancels it."""
        ...

    def claim_watch(self, fd: int, /) -> bool:
        """Cancel the watch on ``fd`` so that the calling task can wait on ``fd`` itself,
        if that saves a scheduling round on this loop; ``False``: keep the watch."""
        ...

    def checkpoint(self) -> Awaitable[None]: ...
    def current_task(self) -> object:
        """The running task (asyncio's Task, trio's Task), or None outside one."""
        ...

    def cancel_pending(self) -> bool:
        """Whether the calling task is in a cancelled scope, so that its next yield raises
        the loop's cancellation. Synchronous and cheap (no yield): it is the cancel point of
        every call whose answer is ready, which then awaits ``checkpoint()`` only if true."""
        ...

    def start_background(self, fn: Callable[[], Awaitable[None]]) -> None: ...
    def new_event(self) -> EventLike: ...

    def threadsafe_caller(self) -> Callable[[Callable[[], None]], object]:
        """On the loop's thread: a function that any thread may call to have ``fn()`` run
        soon on this loop (asyncio's ``call_soon_threadsafe``, trio's ``run_sync_soon``).
        Once the loop has closed it raises ``RuntimeError``."""
        ...

    def loop_local(self, key: str, factory: Callable[[], T], /) -> T:
        """State kept per running event loop (made by ``factory()`` on first use).

        Without anyio's ``RunVar``: it imports anyio's loop backend, which made the first
        spawn of a process 20+ ms slower than asyncio's."""
        ...

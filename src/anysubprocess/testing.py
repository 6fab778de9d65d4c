"""Leak checks for test suites: no child process, no pipe fd, no task left behind.

Import it explicitly (it is not re-exported by :mod:`anysubprocess`)::

    from anysubprocess.testing import Snapshot, no_leaks

    async def test_tool() -> None:
        async with no_leaks():          # polls up to 2 s after the block while the loop runs
            await run_my_tool()

or, with pytest, enable the plugin (it is opt-in; nothing loads into pytest by itself)::

    # conftest.py
    pytest_plugins = ["anysubprocess.testing"]

    # then request the fixture, or make it autouse in your conftest
    def test_tool(no_subprocess_leaks): ...

What is checked, relative to a snapshot taken before:

* **fds**: open pipes and pidfds (the kinds a subprocess library makes). Other fds (sockets,
  files, the event loop's own) are not counted, so a loop created or closed in between does
  not look like a leak.
* **children**: processes whose parent is this process, running or zombie (exited but not
  reaped). Nothing is ever reaped by looking: the checks read ``/proc``, never
  ``os.waitpid(-1, ...)``, which would steal other code's exit statuses.
* **tasks** (the async forms only, inside the loop that took the snapshot): tasks left running
  in that loop (``asyncio.all_tasks()``, or trio's ``tasks_living``), not counting
  anysubprocess's own exit watcher on trio (one system task per run, gone once idle).

Where: on Linux everything comes from ``/proc``. On other POSIX systems fds are listed in
``/dev/fd`` and a pipe is an fd whose ``fstat`` says FIFO (there are no pidfds); children
come from ``ps -A -o pid=,ppid=,stat=,command=`` (one short ``ps`` child per look, which
the check runs and reaps itself, and excludes). pytest is imported only by the plugin hook,
so this module works without pytest.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

import anyio
import sniffio

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pytest

__all__ = [
    "DEFAULT_TIMEOUT",
    "LeakError",
    "Leaks",
    "Snapshot",
    "child_processes",
    "no_leaks",
    "open_fds",
    "settle_process_wide_fds",
]

#: How long a check waits, by default, for cleanup that is still under way.
DEFAULT_TIMEOUT = 2.0
_POLL_INTERVAL = 0.01

# A test-only switch: look the way non-Linux systems do (``/dev/fd`` and ``ps``).
_USE_PROC = sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd")


# -- looking --------------------------------------------------------------------------------


def _fd_kind(fd: int) -> str | None:
    """``"pipe:[inode]"``, ``"anon_inode:[pidfd]"`` (Linux) or ``None`` for other kinds."""
    if _USE_PROC:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return None
        if target.startswith("pipe:") or "pidfd" in target:
            return target
        return None
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    if stat.S_ISFIFO(st.st_mode):
        return f"pipe:[{st.st_ino}]"
    return None


def open_fds() -> dict[int, str]:
    """This process's open pipe and pidfd fds: fd -> what it is."""
    directory = "/proc/self/fd" if _USE_PROC else "/dev/fd"
    found = {}
    for name in os.listdir(directory):
        kind = _fd_kind(int(name))
        if kind is not None:
            found[int(name)] = kind
    return found


def _children_proc(me: int) -> dict[int, str]:
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                proc_stat = f.read()
        except OSError:
            continue
        fields = proc_stat.rsplit(b")", 1)[1].split()
        if int(fields[1]) != me:
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = "?"
        kids[int(name)] = f"state={fields[0].decode()} {cmd}"
    return kids


def _children_ps(me: int) -> dict[int, str]:
    out = subprocess.run(
        ["ps", "-A", "-o", "pid=,ppid=,stat=,command="],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    kids = {}
    for line in out.stdout.decode(errors="replace").splitlines():
        parts = line.split(None, 3)
        if len(parts) < 3 or not (parts[0].isdigit() and parts[1].isdigit()):
            continue
        pid, ppid = int(parts[0]), int(parts[1])
        cmd = parts[3] if len(parts) > 3 else ""
        if ppid == me and not cmd.startswith("ps -A -o"):  # not the ps we are running
            kids[pid] = f"state={parts[2][:1]} {cmd}"
    return kids


def child_processes() -> dict[int, str]:
    """This process's children, running or zombie: pid -> state and command line."""
    me = os.getpid()
    return _children_proc(me) if _USE_PROC else _children_ps(me)


_settled = False


def settle_process_wide_fds() -> None:
    """Open, once, the pipes event-loop libraries keep for the life of the process.

    libuv (under uvloop) makes a process-wide pipe when its first loop is created and never
    closes it; a blocking check whose snapshot predates the first uvloop loop would report it.
    This creates and closes one uvloop loop if uvloop is installed. The blocking forms
    (``with no_leaks()``, the pytest fixture) call it before their snapshot.
    """
    global _settled
    if _settled:
        return
    _settled = True
    import importlib.util

    if importlib.util.find_spec("uvloop") is not None:
        import uvloop

        uvloop.new_event_loop().close()


def _loop_token() -> object | None:
    """The running loop (asyncio) or run (trio), or ``None`` outside async code."""
    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None
    if library == "trio":
        import trio

        return trio.lowlevel.current_trio_token()
    if library == "asyncio":
        import asyncio

        return asyncio.get_running_loop()
    return None  # pragma: no cover - another library: tasks are not counted


def _task_count() -> int:
    if sniffio.current_async_library() == "trio":
        import trio

        from ._backends._trio import watcher_tasks

        # Our exit watcher is one system task per run that ends by itself once idle: not a
        # task the code under test left behind (waiting for it cost every check 0.25 s).
        return int(trio.lowlevel.current_statistics().tasks_living) - watcher_tasks()
    import asyncio

    return len(asyncio.all_tasks())


# -- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leaks:
    """What is there now that was not there at the snapshot."""

    #: fd -> kind (``pipe:[inode]`` or ``anon_inode:[pidfd]``), new or reused for another object.
    fds: Mapping[int, str] = field(default_factory=dict)
    #: pid -> ``state=S command line`` (``state=Z`` is an exited, unreaped child).
    children: Mapping[int, str] = field(default_factory=dict)
    #: how many more tasks than at the snapshot are alive in its loop (0 if not counted).
    tasks: int = 0

    def __bool__(self) -> bool:
        return bool(self.fds or self.children or self.tasks > 0)

    def __str__(self) -> str:
        parts = []
        if self.children:
            listed = ", ".join(f"{pid} ({what})" for pid, what in sorted(self.children.items()))
            parts.append(f"children left behind: {listed}")
        if self.fds:
            listed = ", ".join(f"{fd} ({what})" for fd, what in sorted(self.fds.items()))
            parts.append(f"fds leaked: {listed}")
        if self.tasks > 0:
            parts.append(f"{self.tasks} task(s) left running")
        return "; ".join(parts) or "no leaks"


class LeakError(AssertionError):
    """A check found leaks; :attr:`leaks` says which."""

    def __init__(self, leaks: Leaks) -> None:
        super().__init__(str(leaks))
        self.leaks = leaks


# -- snapshots ------------------------------------------------------------------------------


class Snapshot:
    """The pipes, pidfds, children (and, inside a loop, tasks) there are now.

    Take one before the code under test, then :meth:`assert_clean` (blocking) or
    :meth:`wait_clean` (async, lets the loop finish cleanup while it waits) after it.
    """

    __slots__ = ("_loop", "children", "fds", "tasks")

    def __init__(
        self,
        fds: Mapping[int, str],
        children: Mapping[int, str],
        tasks: int | None = None,
        loop: object | None = None,
    ) -> None:
        self.fds: dict[int, str] = dict(fds)
        self.children: dict[int, str] = dict(children)
        #: tasks alive in the running loop when taken (``None`` outside async code)
        self.tasks: int | None = tasks
        self._loop = loop

    @classmethod
    def take(cls) -> Snapshot:
        """Look now. Inside a running asyncio loop or trio run, tasks are counted too."""
        loop = _loop_token()
        tasks = _task_count() if loop is not None else None
        return cls(open_fds(), child_processes(), tasks, loop)

    def __repr__(self) -> str:
        return (
            f"<Snapshot fds={sorted(self.fds)} children={sorted(self.children)} tasks={self.tasks}>"
        )

    def leaks(self) -> Leaks:
        """What is there now that was not there then (looked at once, no waiting).

        Tasks are compared only when called in the loop that took the snapshot.
        """
        fds = {fd: what for fd, what in open_fds().items() if self.fds.get(fd) != what}
        kids = {pid: what for pid, what in child_processes().items() if pid not in self.children}
        tasks = 0
        if self.tasks is not None and self._loop is not None and _loop_token() is self._loop:
            tasks = _task_count() - self.tasks
        return Leaks(fds, kids, tasks)

    def assert_clean(self, timeout: float = DEFAULT_TIMEOUT, *, kill: bool = True) -> None:
        """Raise :exc:`LeakError` unless everything new is gone within ``timeout`` seconds.

        Blocks while it polls (``time.sleep``): cleanup that needs a running loop cannot
        progress meanwhile; from async code use :meth:`wait_clean`. With ``kill`` (the
        default), children left behind are SIGKILLed before raising, so one leak does not
        make later checks fail too; their owners get 0.5 s to reap them, then the check reaps
        what is left (by pid).
        """
        deadline = time.monotonic() + timeout
        while (found := self.leaks()) and time.monotonic() < deadline:
            time.sleep(_POLL_INTERVAL)
        if found and kill:
            _kill_and_reap(found.children)
        if found:
            raise LeakError(found)

    async def wait_clean(self, timeout: float = DEFAULT_TIMEOUT, *, kill: bool = True) -> None:
        """:meth:`assert_clean` for async code: polls with ``anyio.sleep``, so the loop
        keeps running the cleanup (background reaping, flushers, closing) it waits for."""
        deadline = time.monotonic() + timeout
        while (found := self.leaks()) and time.monotonic() < deadline:
            await anyio.sleep(_POLL_INTERVAL)
        if found and kill:
            await _kill_and_reap_async(found.children)
        if found:
            raise LeakError(found)


#: After SIGKILL, how long the children are left to their owners (a ``Popen``, a library's
#: background reaper) to reap, before the check reaps what is left itself.
_OWNER_GRACE = 0.5


# Windows has no SIGKILL; there os.kill(pid, SIGTERM) is TerminateProcess.
_SIGKILL: int = getattr(signal, "SIGKILL", signal.SIGTERM)


def _kill(children: Mapping[int, str]) -> float:
    for pid in children:
        with contextlib.suppress(OSError):
            os.kill(pid, _SIGKILL)
    return time.monotonic() + _OWNER_GRACE


def _still_ours(children: Mapping[int, str]) -> list[int]:
    now = child_processes()
    return [pid for pid in children if pid in now]


def _reap(pids: list[int]) -> None:
    for pid in pids:  # only these pids: never waitpid(-1), which takes others' statuses
        with contextlib.suppress(ChildProcessError):  # reaped meanwhile by its owner
            os.waitpid(pid, 0)


def _kill_and_reap(children: Mapping[int, str]) -> None:
    """SIGKILL these children; reap those their owners have not reaped after a grace."""
    deadline = _kill(children)
    while (left := _still_ours(children)) and time.monotonic() < deadline:
        time.sleep(_POLL_INTERVAL)
    _reap(left)


async def _kill_and_reap_async(children: Mapping[int, str]) -> None:
    deadline = _kill(children)
    while (left := _still_ours(children)) and time.monotonic() < deadline:
        await anyio.sleep(_POLL_INTERVAL)
    _reap(left)


# -- the context manager --------------------------------------------------------------------


class no_leaks:
    """Check that a block leaves no child, pipe/pidfd fd (or, async, task) behind.

    ``async with no_leaks():`` waits up to ``timeout`` seconds after the block, with the loop
    running, for cleanup still under way; ``with no_leaks():`` waits blocking. Raises
    :exc:`LeakError` (an ``AssertionError``). If the block raised, its exception goes on
    unchanged; leftover children are still killed (with ``kill``, the default).
    ``tasks=False`` skips the task count (e.g. when the block starts tasks on purpose).
    """

    def __init__(
        self, timeout: float = DEFAULT_TIMEOUT, *, kill: bool = True, tasks: bool = True
    ) -> None:
        self.timeout = timeout
        self.kill = kill
        self.count_tasks = tasks
        self.snapshot: Snapshot | None = None

    def _take(self) -> Snapshot:
        snapshot = Snapshot.take()
        if not self.count_tasks:
            snapshot.tasks = None
        self.snapshot = snapshot
        return snapshot

    def __enter__(self) -> Snapshot:
        settle_process_wide_fds()
        return self._take()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.snapshot is not None
        if exc_type is None:
            self.snapshot.assert_clean(self.timeout, kill=self.kill)
        elif self.kill:
            _kill_and_reap(self.snapshot.leaks().children)

    async def __aenter__(self) -> Snapshot:
        return self._take()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.snapshot is not None
        if exc_type is None:
            await self.snapshot.wait_clean(self.timeout, kill=self.kill)
        elif self.kill:
            with anyio.CancelScope(shield=True):  # bounded by _OWNER_GRACE; may be cancelled
                await _kill_and_reap_async(self.snapshot.leaks().children)


# -- the pytest plugin (opt-in: ``pytest_plugins = ["anysubprocess.testing"]``) -------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "anysubprocess_leak_timeout",
        "seconds no_subprocess_leaks waits for cleanup after a test (default 2)",
        default=str(DEFAULT_TIMEOUT),
    )


def pytest_configure(config: pytest.Config) -> None:
    # The fixture lives on an object made here, so importing this module never imports pytest.
    import pytest

    class _Fixtures:
        @pytest.fixture
        def no_subprocess_leaks(self, request: pytest.FixtureRequest) -> Iterator[Snapshot]:
            """Fail the test if it leaves a child process or a pipe/pidfd fd behind.

            A blocking check after the test (its event loop, if any, has stopped): children
            must have been waited for, pipes closed. Leftover children are killed and reaped.
            """
            timeout = float(request.config.getini("anysubprocess_leak_timeout"))
            settle_process_wide_fds()
            snapshot = Snapshot.take()
            yield snapshot
            snapshot.assert_clean(timeout)

    config.pluginmanager.register(_Fixtures(), "anysubprocess.testing.fixtures")

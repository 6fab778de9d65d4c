"""The report's codes, and the plain data the tool hands back (no libcst here)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Code:
    """One report code: what it flags, and what to use instead."""

    code: str
    flags: str
    instead: str


# Stable: a code, once released, keeps its meaning; retired codes are not reused.
# ASP0xx: the file itself. ASP1xx: blocks trio later: asyncio-only calls that keep working under
# asyncio but will not run under trio (left as they are: porting them changes the program's
# structure). ASP2xx: left unchanged or informational; still right under asyncio.
# ASP3xx: breaks now: after the migration the program (or its tests, or its type check) behaves
# differently under asyncio itself until a person fixes it.
#
# The release from which anysubprocess's StreamReader, StreamWriter and Process subclass
# asyncio's (issue #15), so that isinstance checks against asyncio's classes hold.
SUBCLASSES_SINCE = "0.1.0"

CODES: dict[str, Code] = {
    c.code: c
    for c in [
        Code("ASP001", "file cannot be read or parsed", "the file is skipped; fix the syntax"),
        Code(
            "ASP002",
            "syntax newer than the Python running the tool: the file is rewritten but not "
            "reported on",
            "run the tool with the Python the code is written for",
        ),
        Code(
            "ASP100",
            "asyncio.run, asyncio.Runner, loop.run_until_complete/run_forever",
            "anyio.run(main) (or trio.run(main)) at the entry point",
        ),
        Code("ASP101", "asyncio.sleep", "anyio.sleep"),
        Code("ASP102", "asyncio.wait_for", "with anyio.fail_after(seconds): ..."),
        Code(
            "ASP103",
            "asyncio.timeout, asyncio.timeout_at",
            "anyio.fail_after / anyio.fail_at (move_on_after to not raise)",
        ),
        Code(
            "ASP104",
            "asyncio.gather, asyncio.wait, asyncio.as_completed",
            "async with anyio.create_task_group() as tg: tg.start_soon(...)",
        ),
        Code(
            "ASP105",
            "asyncio.create_task, ensure_future, TaskGroup, Task, Future",
            "a task group: tg.start_soon(fn) / await tg.start(fn)",
        ),
        Code("ASP106", "asyncio.Event", "anyio.Event"),
        Code(
            "ASP107",
            "asyncio.Lock, Semaphore, BoundedSemaphore, Condition, Barrier",
            "anyio.Lock, anyio.Semaphore, anyio.Condition, anyio.CapacityLimiter",
        ),
        Code(
            "ASP108",
            "asyncio.Queue, LifoQueue, PriorityQueue",
            "anyio.create_memory_object_stream(max_buffer_size)",
        ),
        Code(
            "ASP109",
            "asyncio.get_event_loop, get_running_loop, new_event_loop, set_event_loop, "
            "event loop policies",
            "no loop object: call anyio's functions directly",
        ),
        Code(
            "ASP110",
            "loop.subprocess_exec, loop.subprocess_shell (protocol-based)",
            "anysubprocess.create_subprocess_exec / create_subprocess_shell",
        ),
        Code(
            "ASP111",
            "loop.run_in_executor, asyncio.to_thread",
            "anyio.to_thread.run_sync(fn, *args)",
        ),
        Code(
            "ASP112",
            "loop.call_soon, call_later, call_at, call_soon_threadsafe, create_future, "
            "add_reader, add_writer, add_signal_handler",
            "tg.start_soon + anyio.sleep, anyio.from_thread.run_sync, anyio.Event, "
            "anyio.wait_readable/wait_writable, anyio.open_signal_receiver",
        ),
        Code("ASP113", "asyncio.shield", "with anyio.CancelScope(shield=True): ..."),
        Code(
            "ASP114",
            "asyncio.CancelledError",
            "anyio.get_cancelled_exc_class() (and always re-raise it)",
        ),
        Code(
            "ASP115",
            "asyncio.open_connection, start_server, open_unix_connection, start_unix_server, "
            "asyncio.StreamReader, asyncio.StreamWriter",
            "anyio.connect_tcp, anyio.create_tcp_listener, anyio.connect_unix, "
            "anyio.create_unix_listener; for a subprocess pipe's type: "
            "anysubprocess.StreamReader / StreamWriter",
        ),
        Code(
            "ASP116",
            "asyncio.current_task, asyncio.all_tasks",
            "anyio.get_current_task, anyio.get_running_tasks",
        ),
        Code(
            "ASP117",
            "asyncio.wrap_future, asyncio.run_coroutine_threadsafe",
            "anyio.to_thread.run_sync(future.result) / anyio.from_thread.run(fn) from a thread",
        ),
        Code(
            "ASP118",
            "loop.connect_read_pipe, loop.connect_write_pipe",
            "anyio.wait_readable/wait_writable on the fd, or a child's pipes from anysubprocess",
        ),
        Code(
            "ASP119",
            "asyncio.get_child_watcher, set_child_watcher, the child watcher classes",
            "nothing: anysubprocess reaps its children itself, on every loop",
        ),
        Code(
            "ASP120",
            "loop.set_task_factory, loop.get_task_factory",
            "no task factory: wrap what you start with tg.start_soon yourself",
        ),
        Code(
            "ASP201",
            "an asyncio.subprocess name that anysubprocess does not provide "
            "(e.g. SubprocessStreamProtocol)",
            "left unchanged: rewrite by hand",
        ),
        Code(
            "ASP202",
            "from asyncio import * (or from asyncio.subprocess import *)",
            "import the names you use; subprocess names are imported from anysubprocess "
            "after the star import",
        ),
        Code(
            "ASP203",
            "asyncio.subprocess.Process(transport, protocol, loop) built by hand",
            "left unchanged (anysubprocess.Process is not built from a transport): it stays "
            "asyncio's; port the code around it by hand before running under trio",
        ),
        Code(
            "ASP204",
            "isinstance/issubclass with asyncio.StreamReader or asyncio.StreamWriter (info)",
            f"holds for anysubprocess's pipes from anysubprocess {SUBCLASSES_SINCE} on (its "
            "classes subclass asyncio's): no change needed",
        ),
        Code(
            "ASP301",
            "an assignment to asyncio's subprocess API (asyncio.create_subprocess_exec = fake)",
            "left unchanged: patch the anysubprocess name the migrated code now uses",
        ),
        Code(
            "ASP302",
            "a mock of asyncio's subprocess API (mock.patch('asyncio.create_subprocess_exec'), "
            "monkeypatch.setattr(asyncio, 'create_subprocess_exec', fake)) whose target cannot be "
            "rewritten unambiguously",
            "patch the name the code under test calls: anysubprocess.create_subprocess_exec, or "
            "the module under test's own name",
        ),
        Code(
            "ASP303",
            "a string annotation naming asyncio's subprocess API that cannot be rewritten "
            "(escapes, implicit concatenation)",
            "write it as anysubprocess.Process (or use `from __future__ import annotations`)",
        ),
    ]
}


@dataclass(frozen=True)
class Finding:
    """One report line: ``line`` is 1-based, ``col`` is 1-based (as flake8 and ruff print)."""

    line: int
    col: int
    code: str
    message: str

    def format(self, path: str) -> str:
        """``path:line:col: CODE message``."""
        return f"{path}:{self.line}:{self.col}: {self.code} {self.message}"


@dataclass(frozen=True)
class Result:
    """What migrating one source gave: the new source, and the findings.

    ``migrated`` has the type of the source given (``str`` or ``bytes``); it equals ``original``
    when nothing changes. ``error`` is set (and ``migrated`` is ``original``) when the source
    cannot be parsed.
    """

    original: str | bytes
    migrated: str | bytes
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None

    @property
    def changed(self) -> bool:
        """Whether migrating changes the source."""
        return self.migrated != self.original

"""Every async test runs on asyncio, asyncio+uvloop and trio; every test is checked for leaks."""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Any, TypeVar

import anyio
import pytest
import sniffio

from anysubprocess._backends import _workers
from anysubprocess._backends._choose import IO
from anysubprocess.testing import child_processes, open_fds
from anysubprocess.testing import no_leaks as no_leaks_in

try:
    import uvloop
except ImportError:  # pragma: no cover - e.g. on Windows
    uvloop = None

pytest_plugins = ["pytester"]  # tests/test_testing.py runs pytest sessions of its own

BACKENDS = [
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(
        ("asyncio", {"loop_factory": uvloop.new_event_loop if uvloop else None}),
        id="asyncio+uvloop",
        marks=pytest.mark.skipif(uvloop is None, reason="uvloop is not installed"),
    ),
    pytest.param(("trio", {}), id="trio"),
]


def _eager_loop() -> asyncio.AbstractEventLoop:
    # Not asyncio.new_event_loop(): it asks the event loop policy, and once trio-asyncio was
    # imported (test_bridge.py imports it), that policy makes trio-asyncio's loops.
    loop = asyncio.SelectorEventLoop()
    loop.set_task_factory(asyncio.eager_task_factory)  # type: ignore[attr-defined,unused-ignore]
    return loop


#: asyncio with the eager task factory (new in 3.12; not a param before), a loop configuration
#: users run (anyio's own suite runs on it): a task runs synchronously until it first waits.
EAGER = pytest.param(("asyncio", {"loop_factory": _eager_loop}), id="asyncio+eager")
#: The modules that also run on asyncio+eager (not every module: it would add a third to
#: the suite's time). Task-start order is what eager tasks change: processes, streams and
#: cancellation are where it matters.
EAGER_MODULES = {"test_process", "test_streams", "test_cancellation", "test_inherit"}


@pytest.fixture(params=[*BACKENDS, EAGER] if sys.version_info >= (3, 12) else BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


#: The suite runs on the thread backend (ANYSUBPROCESS_IO=threads: the Windows path).
THREADS = IO == "threads"
#: Why a test that inspects the fd path's internals does not run on the thread backend.
FD_PATH_ONLY = pytest.mark.skipif(THREADS, reason="fd path internals (ANYSUBPROCESS_IO=threads)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """asyncio+eager runs for EAGER_MODULES only: deselect it elsewhere."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("anyio_backend") if callspec is not None else None
        eager = backend is EAGER.values[0]
        module_obj = getattr(item, "module", None)
        module = module_obj.__name__.rpartition(".")[2] if module_obj is not None else ""
        (drop if eager and module not in EAGER_MODULES else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# The leak checks' own views, as the tests use them: pipe/pidfd fds, children (running or zombie).
_our_fds = open_fds
_children = child_processes


def _alive(pid: int) -> bool:
    """Whether ``pid`` is still in the kernel's table (running or a zombie): not reaped yet."""
    return os.path.exists(f"/proc/{pid}")


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> None:
    """Every async test gets the leak check (sync tests only run subprocess.run)."""
    if inspect.iscoroutinefunction(request.function):
        request.getfixturevalue("no_leaks_in_loop")


@pytest.fixture
async def no_leaks_in_loop() -> AsyncIterator[None]:
    """After every test: no new pipe or pidfd fd, no child left running or unreaped, no task
    left behind (anysubprocess.testing.no_leaks). Runs inside the test's event loop, so the
    loop's own fds are not counted and loop-driven cleanup gets up to 2 s to finish; children
    left behind are killed, so one leak does not fail every later test."""
    async with no_leaks_in(timeout=2.0):
        yield
    await _no_busy_workers(timeout=2.0)


async def _no_busy_workers(timeout: float) -> None:
    """No worker thread of the thread backend still in a blocking call (a read, a write, an
    exit wait): every pipe and child it served is done. Idle workers park, at most
    ``MAX_IDLE`` of them (checked too): that is the bounded pool, not a leak."""
    with anyio.move_on_after(timeout):
        while _workers.busy_workers():
            await anyio.sleep(0.01)
    assert _workers.busy_workers() == 0, f"{_workers.busy_workers()} worker threads still busy"
    assert _workers.worker_threads() <= _workers.MAX_IDLE, "more idle workers than the pool keeps"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many documentation code blocks ran on each backend (tests/test_docs.py)."""
    counts: dict[str, int] = {}
    for report in terminalreporter.stats.get("passed", []):
        test, _, params = report.nodeid.partition("[")
        if test.endswith("::test_doc_sample_runs"):
            backend = params.split("-", 1)[0]
            counts[backend] = counts.get(backend, 0) + 1
        elif test.endswith("::test_doc_script_runs"):
            counts["script"] = counts.get("script", 0) + 1
    if counts:
        scripts = counts.pop("script", 0)
        line = ", ".join(f"{n} on {backend}" for backend, n in counts.items())
        terminalreporter.write_line(
            f"documentation samples passed: {line or 'none'}; "
            f"{scripts} script(s) that start asyncio, uvloop and/or trio themselves"
        )


T = TypeVar("T")

# Child programs: portable, via this interpreter.
PY = sys.executable


async def assert_yields(awaitable: Awaitable[T]) -> T:
    """Await it and check that it yielded to the loop on the way (trio: a schedule point, by
    trio.testing's own counters; asyncio: a task started just before got to run)."""
    if sniffio.current_async_library() == "trio":
        import trio.testing

        with trio.testing.assert_checkpoints():
            return await awaitable
    ran: list[bool] = []

    async def mark() -> None:
        ran.append(True)

    task = asyncio.get_running_loop().create_task(mark())
    result = await awaitable
    assert ran, "the call returned without yielding to the event loop"
    await task
    return result


async def stop(proc: Any, **kwargs: Any) -> None:
    """Stop a child that may still run: ``aclose()`` with its wait cancelled at once, which is
    the structured cleanup (``deliver_cancel``, ``grace_period``, SIGKILL, reap). A plain
    ``aclose()`` waits for the child to exit, as anyio's and trio's do."""
    with anyio.CancelScope() as scope:
        scope.cancel()
        await proc.aclose(**kwargs)


async def assert_cancel_point(awaitable: Awaitable[Any]) -> None:
    """Await it in an already-cancelled scope: it must raise the loop's cancellation."""
    with anyio.CancelScope() as scope:
        scope.cancel()
        await awaitable
    assert scope.cancelled_caught, "the call completed in a cancelled scope"


class Suspensions:
    """Awaits ``awaitable`` and counts the times it yields to the loop: exact on every
    backend (each suspension of the awaited coroutine is one). ``on_suspend(n)`` runs at
    the n-th suspension, before the loop gets control (the cancellation matrix cancels
    there)."""

    def __init__(
        self, awaitable: Awaitable[Any], on_suspend: Callable[[int], object] | None = None
    ) -> None:
        self.awaitable = awaitable
        self.on_suspend = on_suspend
        self.count = 0

    def __await__(self) -> Generator[Any, Any, Any]:
        inner = self.awaitable.__await__()
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                yielded = inner.throw(error) if error is not None else inner.send(value)
            except StopIteration as stop:
                return stop.value
            self.count += 1
            if self.on_suspend is not None:
                self.on_suspend(self.count)
            try:
                value, error = (yield yielded), None
            except BaseException as exc:  # the loop's cancellation, or GeneratorExit
                value, error = None, exc


async def assert_no_yield(awaitable: Awaitable[T]) -> T:
    """Await it and check that it did not yield to the loop: a call whose answer is ready
    (DESIGN semantics 10: no yield, as asyncio's own, but a cancel point)."""
    stepper = Suspensions(awaitable)
    result: T = await stepper
    assert stepper.count == 0, f"the call yielded {stepper.count} time(s) with its answer ready"
    return result

"""Every async test runs on asyncio, asyncio+uvloop and trio; every test is checked for leaks."""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Generator
from typing import Any, TypeVar

import anyio
import pytest
import sniffio

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


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


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


async def assert_cancel_point(awaitable: Awaitable[Any]) -> None:
    """Await it in an already-cancelled scope: it must raise the loop's cancellation."""
    with anyio.CancelScope() as scope:
        scope.cancel()
        await awaitable
    assert scope.cancelled_caught, "the call completed in a cancelled scope"


class _Suspensions:
    """Awaits ``awaitable`` and counts the times it yields to the loop: exact on every
    backend (each suspension of the awaited coroutine is one)."""

    def __init__(self, awaitable: Awaitable[Any]) -> None:
        self.awaitable = awaitable
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
            try:
                value, error = (yield yielded), None
            except BaseException as exc:  # the loop's cancellation, or GeneratorExit
                value, error = None, exc


async def assert_no_yield(awaitable: Awaitable[T]) -> T:
    """Await it and check that it did not yield to the loop: a call whose answer is ready
    (DESIGN semantics 10: no yield, as asyncio's own, but a cancel point)."""
    stepper = _Suspensions(awaitable)
    result: T = await stepper
    assert stepper.count == 0, f"the call yielded {stepper.count} time(s) with its answer ready"
    return result

"""Every async test runs on asyncio, asyncio+uvloop and trio; every test is checked for leaks."""

from __future__ import annotations

import inspect
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

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


# Child programs: portable, via this interpreter.
PY = sys.executable

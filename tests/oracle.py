"""Differential testing: stdlib asyncio is the oracle.

A scenario is ``async def scenario(m)`` written against the ``asyncio.subprocess`` namespace
(``m.create_subprocess_exec``, ``m.PIPE``, ...); it uses anyio for sleeps and timeouts, which
work under plain asyncio too. :func:`assert_same` runs it through stdlib asyncio (in a fresh
``asyncio.run`` on a worker thread, so the oracle runs whichever backend the test is on) and
through anysubprocess on the test's backend, then compares results and exceptions.
"""

from __future__ import annotations

import asyncio
import asyncio.subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import anyio
import anyio.to_thread

import anysubprocess.subprocess

Scenario = Callable[[ModuleType], Awaitable[Any]]

_ATTRS = ("errno", "filename", "partial", "expected", "consumed", "returncode", "output", "stderr")


@dataclass(frozen=True)
class Outcome:
    value: Any = None
    exc_type: type[BaseException] | None = None
    exc_args: tuple[Any, ...] = ()
    exc_attrs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of_exception(cls, exc: BaseException) -> Outcome:
        attrs = {a: getattr(exc, a) for a in _ATTRS if hasattr(exc, a)}
        return cls(exc_type=type(exc), exc_args=exc.args, exc_attrs=attrs)


async def _capture(awaitable: Awaitable[Any]) -> Outcome:
    try:
        return Outcome(value=await awaitable)
    except Exception as exc:
        return Outcome.of_exception(exc)


#: A scenario that hangs fails instead (asyncio's own traps include hangs, e.g. a wait()
#: that waits for pipes before 3.13); the oracle thread could not be interrupted otherwise.
SCENARIO_TIMEOUT = 30.0


def _run_oracle(scenario: Scenario) -> Outcome:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(asyncio.subprocess), SCENARIO_TIMEOUT)

    return asyncio.run(_capture(bounded()))


async def run_both(scenario: Scenario) -> tuple[Outcome, Outcome]:
    expected = await anyio.to_thread.run_sync(_run_oracle, scenario)
    with anyio.fail_after(SCENARIO_TIMEOUT):
        actual = await _capture(scenario(anysubprocess.subprocess))
    return expected, actual


async def assert_same(scenario: Scenario) -> Outcome:
    """Run ``scenario`` through asyncio and through us; they must agree. Returns the outcome."""
    expected, actual = await run_both(scenario)
    assert actual == expected, f"\nasyncio:       {expected}\nanysubprocess: {actual}"
    return actual

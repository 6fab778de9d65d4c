"""Run CPython's test_asyncio/test_subprocess.py (SubprocessMixin) on one mode, in this
process: ``python -m tests.peers.cpython_suite stock|ours OUT.json``.

The module comes from this interpreter's ``test`` package (never vendored). In ``ours`` mode
its two ways of reaching asyncio's factories, the module globals ``asyncio`` and
``subprocess`` (``from asyncio import subprocess``), are replaced by views of those modules in
which ``create_subprocess_exec``/``_shell`` are anysubprocess's; everything else is asyncio's.
The SubprocessMixin tests run on loops we make (asyncio, asyncio+uvloop, asyncio with the eager
task factory on 3.12+); the child-watcher and transport test classes are asyncio internals and
are not run.
"""

from __future__ import annotations

import asyncio
import asyncio.subprocess
import importlib
import json
import sys
import types
import unittest
from collections.abc import Callable
from typing import Any


class _View(types.ModuleType):
    """A module that is ``real`` except for the names given."""

    def __init__(self, real: types.ModuleType, **names: Any) -> None:
        super().__init__(real.__name__, real.__doc__)
        self.__dict__.update(names)
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _loops() -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    loops: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        pass
    else:
        loops["asyncio+uvloop"] = uvloop.new_event_loop
    if sys.version_info >= (3, 12):

        def eager() -> asyncio.AbstractEventLoop:
            loop = asyncio.new_event_loop()
            loop.set_task_factory(asyncio.eager_task_factory)
            return loop

        loops["asyncio+eager"] = eager
    return loops


class _Result(unittest.TestResult):
    def __init__(self) -> None:
        super().__init__()
        self.outcomes: dict[str, str] = {}
        self.details: dict[str, str] = {}

    def _set(self, test: unittest.TestCase, outcome: str, detail: str = "") -> None:
        name = test.id().rsplit(".", 1)[-1]
        if self.outcomes.get(name) in ("failed", "error"):
            return  # a failure in tearDown after a pass (or a subTest) stays a failure
        self.outcomes[name] = outcome
        if detail:
            self.details[name] = detail.strip().splitlines()[-1][:300]

    def addSuccess(self, test: unittest.TestCase) -> None:
        self._set(test, "passed")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        self._set(test, "failed", self._exc_info_to_string(err, test))

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        self._set(test, "failed", self._exc_info_to_string(err, test))

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        self._set(test, "skipped", reason)

    def addExpectedFailure(self, test: unittest.TestCase, err: Any) -> None:
        self._set(test, "xfailed")

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        self._set(test, "failed", "unexpected success")

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        if err is not None:
            self._set(test, "failed", self._exc_info_to_string(err, test))


def main(mode: str, out: str) -> None:
    try:
        mod = importlib.import_module("test.test_asyncio.test_subprocess")
    except ImportError as exc:
        with open(out, "w") as f:
            json.dump({"absent": f"{exc} (install the interpreter's test suite)"}, f)
        return
    if mode == "ours":
        import anysubprocess

        factories = {
            "create_subprocess_exec": anysubprocess.create_subprocess_exec,
            "create_subprocess_shell": anysubprocess.create_subprocess_shell,
        }
        subprocess_view = _View(asyncio.subprocess, **factories)
        mod.asyncio = _View(asyncio, subprocess=subprocess_view, **factories)  # type: ignore[attr-defined]
        mod.subprocess = subprocess_view  # type: ignore[attr-defined]
    base = mod.test_utils.TestCase
    results: dict[str, Any] = {}
    for backend, factory in _loops().items():

        def setUp(self: Any, factory: Callable[[], asyncio.AbstractEventLoop] = factory) -> None:
            base.setUp(self)
            self.loop = factory()
            self.set_event_loop(self.loop)

        def close_loop(loop: asyncio.AbstractEventLoop) -> None:
            # test_utils.TestCase.close_loop reads asyncio's private loop._default_executor,
            # which uvloop's loop lacks: the same cleanup through public calls.
            if not loop.is_closed():
                loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

        namespace = {"setUp": setUp, "close_loop": staticmethod(close_loop)}
        case = type(f"Peer_{backend}", (mod.SubprocessMixin, base), namespace)
        suite = unittest.TestLoader().loadTestsFromTestCase(case)
        result = _Result()
        suite.run(result)
        results[backend] = {"outcomes": result.outcomes, "details": result.details}
    if hasattr(mod, "tearDownModule"):
        mod.tearDownModule()
    with open(out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""What changed in asyncio's subprocess behaviour in Python 3.14 and 3.15 and what we do about
it (docs/pythons.md), and a guard that keeps asyncio's policy system out of the tree."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest

from .oracle import assert_same

REPO = Path(__file__).resolve().parent.parent

# A shell whose background job inherits its stdout and outlives it: the child exits at once,
# the pipe stays open until the test kills the grandchild (whose pid the shell prints).
GRANDCHILD_HOLDS_STDOUT = "sleep 30 & echo $!"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.differential
@pytest.mark.skipif(
    sys.version_info < (3, 14),
    reason="before 3.14 asyncio's own wait() waits for the pipes (cpython#119710)",
)
async def test_wait_returns_at_exit_as_asyncio_does_from_3_14() -> None:
    """cpython#119710, in 3.14: asyncio's wait() returns when the process exits, even while a
    grandchild holds its stdout. Ours always did (on every Python); here the two agree."""

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_shell(GRANDCHILD_HOLDS_STDOUT, stdout=m.PIPE)
        grandchild = int(await proc.stdout.readline())
        try:
            with anyio.fail_after(10):
                rc = await proc.wait()
            still_held = _alive(grandchild)
        finally:
            os.kill(grandchild, signal.SIGKILL)
        return rc, proc.returncode, still_held, await proc.stdout.read()

    assert (await assert_same(scenario)).value == (0, 0, True, b"")


@pytest.mark.differential
@pytest.mark.parametrize("method", ["kill", "terminate", "send_signal"])
async def test_signal_after_exit_while_a_pipe_is_still_held(method: str) -> None:
    """asyncio raises ProcessLookupError only once the transport is closed (the process has
    exited *and* every pipe is closed); before that a signal is silently dropped (3.10-3.13
    through Popen.send_signal or a swallowed ProcessLookupError, 3.14+ by an explicit
    returncode check). Since 3.14 ``await proc.wait(); proc.kill()`` lands in that window
    whenever a grandchild holds a pipe, because wait() no longer waits for the pipes."""

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_shell(GRANDCHILD_HOLDS_STDOUT, stdout=m.PIPE)
        grandchild = int(await proc.stdout.readline())
        try:
            with anyio.fail_after(10):
                while proc.returncode is None:  # the exit has been seen; the pipe is held
                    await anyio.sleep(0.01)
            try:
                if method == "send_signal":
                    proc.send_signal(signal.SIGTERM)
                else:
                    getattr(proc, method)()
                outcome = "ignored"
            except ProcessLookupError:
                outcome = "ProcessLookupError"
        finally:
            os.kill(grandchild, signal.SIGKILL)
        await proc.stdout.read()
        return outcome, await proc.wait()

    assert (await assert_same(scenario)).value == ("ignored", 0)


# asyncio's policy system is deprecated in 3.14 and goes in 3.16; uvloop is used through
# loop_factory / asyncio.Runner / uvloop.run. The names are split so this file does not match.
_POLICY_API = re.compile(
    "|".join(
        [
            r"\b[sg]et_event_loop" + r"_policy\b",
            r"\bEventLoop" + r"Policy\b",
            r"\buvloop\.install" + r"\b",
            r"\b(?:get|set)_child" + r"_watcher\b",
            r"\bChild" + r"Watcher\b",
            r"\basyncio\.get_event" + r"_loop\(",  # needs a current loop from the policy
        ]
    )
)
_SCANNED = ["src", "tests", "examples", "bench", "scripts", ".ci", "pyproject.toml"]


def _scanned_files() -> list[Path]:
    files: list[Path] = []
    for name in _SCANNED:
        top = REPO / name
        candidates = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in candidates:
            rel = path.relative_to(REPO).as_posix()
            if "__pycache__" in rel or rel.startswith("bench/results/"):
                continue
            if rel.startswith("src/anysubprocess/migrate/"):
                continue  # the migration tool names these calls to find them in user code

            files.append(path)
    return files


def test_no_asyncio_policy_api_in_the_tree() -> None:
    files = _scanned_files()
    assert any(p.name == "conftest.py" for p in files)  # the scan does see the tree
    hits = [
        f"{path.relative_to(REPO)}:{lineno}: {line.strip()}"
        for path in files
        for lineno, line in enumerate(
            path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
        )
        if _POLICY_API.search(line)
    ]
    assert not hits, "asyncio's policy system (deprecated in 3.14):\n" + "\n".join(hits)


def test_the_policy_guard_matches_what_it_must() -> None:
    for line in [
        "asyncio.set_event_loop" + "_policy(uvloop.EventLoop" + "Policy())",
        "policy = asyncio.get_event_loop" + "_policy()",
        "uvloop.inst" + "all()",
        "asyncio.get_child" + "_watcher()",
        "loop = asyncio.get_event" + "_loop()",
    ]:
        assert _POLICY_API.search(line), line
    for line in [
        "asyncio.Runner(loop_factory=uvloop.new_event_loop)",
        "uvloop.run(main())",
        "loop = asyncio.get_running_loop()",
    ]:
        assert not _POLICY_API.search(line), line


def test_supported_versions_agree_everywhere() -> None:
    """pyproject's classifiers, the versions scripts/test runs, the README's Status line and
    docs/pythons.md name the same range."""
    script = (REPO / "scripts" / "test").read_text()
    lo, hi = (int(m) for m in re.search(r"MIN_MINOR=(\d+) MAX_MINOR=(\d+)", script).groups())  # type: ignore[union-attr]
    pyproject = (REPO / "pyproject.toml").read_text()
    classified = [
        int(m) for m in re.findall(r'"Programming Language :: Python :: 3\.(\d+)"', pyproject)
    ]
    assert classified == list(range(lo, hi + 1))
    assert f'requires-python = ">=3.{lo}"' in pyproject
    status = (REPO / "README.md").read_text().split("## Status", 1)[1]
    assert f"CPython 3.{lo}\N{EN DASH}3.{hi}" in status
    assert f"CPython 3.{lo} to 3.{hi}" in (REPO / "docs" / "pythons.md").read_text()

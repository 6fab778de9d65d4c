"""Security: what a child inherits (fds, environment) and that exec never goes through a shell."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest

import anysubprocess
from anysubprocess import DEVNULL, PIPE

from .conftest import PY
from .oracle import assert_same

pytestmark = pytest.mark.differential

# The child's open fds (not counting the one it lists /proc/self/fd with).
LIST_FDS = (
    "import os\n"
    "fds = []\n"
    "for name in os.listdir('/proc/self/fd'):\n"
    "    try: os.fstat(int(name))\n"
    "    except OSError: continue\n"
    "    fds.append(int(name))\n"
    "print(sorted(fds))"
)
ENV = shutil.which("env") or "/usr/bin/env"


@pytest.fixture
def extra_fds(tmp_path: Path) -> Any:
    """Fds the parent holds while it spawns: a pipe, a file, a socket, and an inheritable
    fd (which Popen's close_fds must still keep from the child)."""
    import socket

    r, w = os.pipe()
    f = os.open(tmp_path / "secret", os.O_CREAT | os.O_RDWR)
    inheritable = os.dup(f)
    os.set_inheritable(inheritable, True)
    s1, s2 = socket.socketpair()
    try:
        yield {"pipe": (r, w), "file": f, "inheritable": inheritable}
    finally:
        for fd in (r, w, f, inheritable):
            os.close(fd)
        s1.close()
        s2.close()


async def _child_fds(m: ModuleType, **kwds: Any) -> Any:
    proc = await m.create_subprocess_exec(
        PY, "-c", LIST_FDS, stdin=DEVNULL, stdout=m.PIPE, stderr=DEVNULL, **kwds
    )
    out, _ = await proc.communicate()
    return json.loads(out)


async def test_child_inherits_only_stdio(extra_fds: Any) -> None:
    async def scenario(m: ModuleType) -> Any:
        return await _child_fds(m)

    assert (await assert_same(scenario)).value == [0, 1, 2]


async def test_child_inherits_stdio_and_pass_fds(extra_fds: Any) -> None:
    passed = extra_fds["pipe"][1]

    async def scenario(m: ModuleType) -> Any:
        return await _child_fds(m, pass_fds=(passed,))

    assert (await assert_same(scenario)).value == [0, 1, 2, passed]


async def test_no_pipe_or_pidfd_of_another_child_leaks_into_a_child(extra_fds: Any) -> None:
    """Our own fds (another child's pipes, pidfds) stay out of children, also when spawns
    run concurrently (through the spawn threads)."""
    holder = await anysubprocess.create_subprocess_exec(
        PY, "-c", "import sys; sys.stdin.read()", stdin=PIPE, stdout=PIPE, stderr=PIPE
    )
    try:
        results: list[Any] = []

        async def one() -> None:
            results.append(await _child_fds(anysubprocess.subprocess))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for _ in range(12):
                    tg.start_soon(one)
        assert results == [[0, 1, 2]] * 12
    finally:
        await holder.communicate(b"")


# -- exec never involves a shell ----------------------------------------------------------


def _metacharacter_args(tmp_path: Path) -> list[str]:
    marker = tmp_path / "touched"
    return [
        f"; touch {marker}",
        f"&& touch {marker}",
        f"| touch {marker}",
        f"$(touch {marker})",
        f"`touch {marker}`",
        f"> {marker}",
        "*",
        "?",
        "~",
        "$HOME",
        "${PATH}",
        "'",
        '"',
        "\\",
        "a b",
        "\n",
        "#",
        "",
        "-c",
        "é €",
    ]


async def test_exec_passes_metacharacters_literally(tmp_path: Path) -> None:
    args = _metacharacter_args(tmp_path)
    code = "import json, os, sys; print(json.dumps([sys.argv[1:], os.getppid()]))"

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(PY, "-c", code, *args, stdout=m.PIPE)
        out, _ = await proc.communicate()
        argv, ppid = json.loads(out)
        return argv, ppid == os.getpid()

    assert (await assert_same(scenario)).value == (args, True)  # our child, not a shell's
    assert os.listdir(tmp_path) == []  # nothing ran any of the commands


async def test_exec_program_name_with_metacharacters(tmp_path: Path) -> None:
    """A program whose path holds shell syntax is run as that file, not parsed."""
    program = tmp_path / "py; touch x $(touch y)"
    program.symlink_to(PY)

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(
            program, "-c", "print('ran')", stdout=m.PIPE, cwd=tmp_path
        )
        return await proc.communicate()

    assert (await assert_same(scenario)).value == (b"ran\n", None)
    assert os.listdir(tmp_path) == [program.name]


async def test_the_same_string_through_the_shell_is_interpreted(tmp_path: Path) -> None:
    """The contrast that shows the exec test would catch a shell: create_subprocess_shell
    does run the embedded command (hence shlex.quote, docs/security.md)."""
    marker = tmp_path / "touched"
    proc = await anysubprocess.create_subprocess_shell(f"echo x; touch {marker}", stdout=DEVNULL)
    assert await proc.wait() == 0
    assert marker.exists()


# -- env= replaces the environment ----------------------------------------------------------


def _parse_env0(out: bytes) -> dict[bytes, bytes]:
    return dict(item.split(b"=", 1) for item in out.split(b"\0") if item)


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"ONLY": "1"},
        {"A": "1", "SPACES": "two words", "EMPTY": "", "EQ": "a=b", "NL": "x\ny", "U": "é"},
        {b"BYTES_KEY": b"\xff\xfe value"},
    ],
    ids=["empty", "one", "tricky-values", "bytes"],
)
async def test_env_replaces_the_environment_exactly(env: dict[Any, Any]) -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(ENV, "-0", stdout=m.PIPE, env=env)
        out, _ = await proc.communicate()
        return _parse_env0(out)

    expected = {
        (k if isinstance(k, bytes) else os.fsencode(k)): (
            v if isinstance(v, bytes) else os.fsencode(v)
        )
        for k, v in env.items()
    }
    assert (await assert_same(scenario)).value == expected


async def test_no_env_inherits_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANYSUBPROCESS_MARKER", "inherited")

    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(ENV, "-0", stdout=m.PIPE)
        out, _ = await proc.communicate()
        return _parse_env0(out)

    child_env = (await assert_same(scenario)).value
    assert child_env[b"ANYSUBPROCESS_MARKER"] == b"inherited"
    # The C-level environment is passed (it may hold more than os.environ saw at startup,
    # e.g. COLUMNS/LINES set by a terminal library).
    assert child_env.items() >= os.environb.items()

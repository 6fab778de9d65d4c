"""The factories: arguments accepted and rejected exactly as asyncio does, on every loop."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import anysubprocess
from anysubprocess import PIPE

from .conftest import PY
from .oracle import assert_same

pytestmark = pytest.mark.differential

REJECTED = [
    ({"universal_newlines": True}, "universal_newlines must be False"),
    ({"bufsize": 1}, "bufsize must be 0"),
    ({"text": True}, "text must be False"),
    ({"encoding": "utf-8"}, "encoding must be None"),
    ({"errors": "strict"}, "errors must be None"),
]


@pytest.mark.parametrize(("kwds", "message"), REJECTED)
async def test_exec_rejects_like_asyncio(kwds: dict[str, Any], message: str) -> None:
    async def scenario(m: ModuleType) -> Any:
        return await m.create_subprocess_exec(PY, "-c", "pass", stdout=m.PIPE, **kwds)

    outcome = await assert_same(scenario)
    assert outcome.exc_type is ValueError
    assert outcome.exc_args == (message,)


@pytest.mark.parametrize(("kwds", "message"), REJECTED)
async def test_shell_rejects_like_asyncio(kwds: dict[str, Any], message: str) -> None:
    async def scenario(m: ModuleType) -> Any:
        return await m.create_subprocess_shell("true", stdout=m.PIPE, **kwds)

    outcome = await assert_same(scenario)
    assert outcome.exc_args == (message,)


async def test_shell_keyword_mismatch() -> None:
    async def exec_shell(m: ModuleType) -> Any:
        return await m.create_subprocess_exec("true", shell=True)

    async def shell_not_shell(m: ModuleType) -> Any:
        return await m.create_subprocess_shell("true", shell=False)

    assert (await assert_same(exec_shell)).exc_args == ("shell must be False",)
    assert (await assert_same(shell_not_shell)).exc_args == ("shell must be True",)


@pytest.mark.parametrize("cmd", [["true"], 42, None])
async def test_shell_needs_a_string(cmd: Any) -> None:
    async def scenario(m: ModuleType) -> Any:
        return await m.create_subprocess_shell(cmd)

    outcome = await assert_same(scenario)
    assert outcome.exc_args == ("cmd must be a string",)


async def test_unknown_keyword_is_a_type_error() -> None:
    async def scenario(m: ModuleType) -> Any:
        return await m.create_subprocess_exec(PY, "-c", "pass", no_such_keyword=1)

    outcome = await assert_same(scenario)
    assert outcome.exc_type is TypeError


async def test_bad_argument_type() -> None:
    async def scenario(m: ModuleType) -> Any:
        return await m.create_subprocess_exec(PY, "-c", 42)

    assert (await assert_same(scenario)).exc_type is TypeError


async def test_missing_program() -> None:
    async def scenario(m: ModuleType) -> Any:
        return await m.create_subprocess_exec("/no/such/program-xyz", stdout=m.PIPE)

    outcome = await assert_same(scenario)
    assert outcome.exc_type is FileNotFoundError
    assert outcome.exc_attrs["filename"] == "/no/such/program-xyz"


async def test_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)

    async def scenario(m: ModuleType) -> Any:
        return await m.create_subprocess_exec(str(script), stdin=m.PIPE, stdout=m.PIPE)

    assert (await assert_same(scenario)).exc_type is PermissionError


async def test_missing_cwd() -> None:
    async def scenario(m: ModuleType) -> Any:
        return await m.create_subprocess_exec(PY, "-c", "pass", cwd="/no/such/dir-xyz")

    assert (await assert_same(scenario)).exc_type is FileNotFoundError


async def test_nonpositive_limit_with_a_pipe() -> None:
    """asyncio raises this inside a callback after the child started (logged, child leaked,
    Process returned without readers); we raise it first, with asyncio's message."""
    with pytest.raises(ValueError, match=r"^Limit cannot be <= 0$"):
        await anysubprocess.create_subprocess_exec(PY, "-c", "pass", stdout=PIPE, limit=0)
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", "pass", limit=0)
    assert await proc.wait() == 0  # no pipe, no reader, no limit to check: as asyncio


async def _child_report(m: ModuleType, code: str, **kwds: Any) -> tuple[int, bytes]:
    proc = await m.create_subprocess_exec(PY, "-c", code, stdout=m.PIPE, **kwds)
    out, _ = await proc.communicate()
    return proc.returncode, out


POPEN_KEYWORDS: list[tuple[str, str, dict[str, Any]]] = [
    ("cwd", "import os; print(os.getcwd())", {"cwd": "/"}),
    ("env", "import os; print(os.environ.get('ASP_X'))", {"env": {"ASP_X": "42"}}),
    ("close_fds", "print(1)", {"close_fds": False}),
    (
        "start_new_session",
        "import os; print(os.getsid(0) == os.getpid())",
        {"start_new_session": True},
    ),
    ("umask", "import os; print(oct(os.umask(0)))", {"umask": 0o077}),
    ("executable", "import sys; print(sys.argv[0])", {"executable": PY}),
    (
        "preexec_fn",
        "import os; print(os.environ.get('ASP_PRE'))",
        {"preexec_fn": lambda: os.environ.__setitem__("ASP_PRE", "yes")},
    ),
    (
        "restore_signals",
        "import signal; print(signal.getsignal(signal.SIGPIPE))",
        {"restore_signals": False},
    ),
    ("user", "import os; print(os.getuid())", {"user": os.getuid()}),
    ("group", "import os; print(os.getgid())", {"group": os.getgid()}),
    ("extra_groups", "import os; print(sorted(os.getgroups()))", {"extra_groups": [os.getgid()]}),
    ("pipesize", "print(1)", {"pipesize": 2**17}),
]
if sys.version_info >= (3, 11):
    POPEN_KEYWORDS.append(
        ("process_group", "import os; print(os.getpgid(0) == os.getpid())", {"process_group": 0})
    )


@pytest.mark.parametrize(("code", "kwds"), [pytest.param(c, k, id=n) for n, c, k in POPEN_KEYWORDS])
async def test_popen_keywords_work_on_every_loop(code: str, kwds: dict[str, Any]) -> None:
    """uvloop rejects several of these; we must not, on any loop."""
    if {"user", "group", "extra_groups"} & kwds.keys() and os.geteuid() != 0:
        pytest.skip("setting user/group needs root")

    async def scenario(m: ModuleType) -> Any:
        return await _child_report(m, code, **kwds)

    outcome = await assert_same(scenario)
    assert outcome.exc_type is None, outcome
    assert outcome.value[0] == 0


async def test_pass_fds() -> None:
    r, w = os.pipe()
    try:
        code = f"import os; os.write({w}, b'via-fd'); print('ok')"

        async def scenario(m: ModuleType) -> Any:
            result = await _child_report(m, code, pass_fds=(w,))
            return result, os.read(r, 100)

        outcome = await assert_same(scenario)
        assert outcome.value == ((0, b"ok\n"), b"via-fd")
    finally:
        os.close(r)
        os.close(w)


async def test_stdio_targets(tmp_path: Path) -> None:
    """DEVNULL, STDOUT into stdout, an fd, a file object, and inherited stdio."""
    code = (
        "import sys; print('out', flush=True); print('err', file=sys.stderr, flush=True);"
        " print(repr(sys.stdin.read()))"
    )

    async def scenario(m: ModuleType) -> Any:
        results = []
        proc = await m.create_subprocess_exec(
            PY, "-c", code, stdin=m.DEVNULL, stdout=m.PIPE, stderr=m.STDOUT
        )
        results.append(await proc.communicate())
        path = tmp_path / f"out-{m.__name__}"
        with open(path, "wb") as f:
            proc = await m.create_subprocess_exec(
                PY, "-c", code, stdin=m.DEVNULL, stdout=f.fileno(), stderr=f
            )
            results.append(await proc.communicate())
        results.append(sorted(path.read_bytes().splitlines()))
        return results

    outcome = await assert_same(scenario)
    assert outcome.value[0] == (b"out\nerr\n''\n", None)
    assert outcome.value[2] == [b"''", b"err", b"out"]


async def test_pathlike_program_and_bytes_args() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(
            Path(PY), b"-c", "import sys; print(sys.argv[1:])", b"x", stdout=m.PIPE
        )
        return await proc.communicate()

    assert (await assert_same(scenario)).value == (b"['x']\n", None)


async def test_shell_command() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_shell(
            "echo $((6*7)); ls /zzz-no-such; exit 3", stdout=m.PIPE, stderr=m.PIPE
        )
        out, err = await proc.communicate()
        return out, bool(err), proc.returncode

    assert (await assert_same(scenario)).value == (b"42\n", True, 3)


async def test_constants_are_subprocess_constants() -> None:
    assert (anysubprocess.PIPE, anysubprocess.STDOUT, anysubprocess.DEVNULL) == (
        subprocess.PIPE,
        subprocess.STDOUT,
        subprocess.DEVNULL,
    )
    proc = await anysubprocess.create_subprocess_exec(
        PY, "-c", "print(1)", stdout=subprocess.PIPE, stderr=PIPE
    )
    assert await proc.communicate() == (b"1\n", b"")


async def test_signal_returncode() -> None:
    async def scenario(m: ModuleType) -> Any:
        proc = await m.create_subprocess_exec(PY, "-c", "import time; time.sleep(30)")
        proc.send_signal(signal.SIGUSR1)
        return await proc.wait(), proc.returncode

    assert (await assert_same(scenario)).value == (-signal.SIGUSR1, -signal.SIGUSR1)

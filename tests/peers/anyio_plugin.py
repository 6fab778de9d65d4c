"""pytest plugin for anyio's tests/test_subprocesses.py: the backends anyio's conftest
parametrises, and (ANYSUBPROCESS_PEER_MODE=ours) ``anyio.open_process`` returning our Process.

Loaded with ``-p tests.peers.anyio_plugin`` by ``python -m tests.peers anyio``; anyio's own
conftest is not used (it imports trustme and blockbuster for tests we do not run).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from typing import IO, Any

import pytest

import anysubprocess

PIPE = anysubprocess.PIPE


async def open_process(
    command: Any,
    *,
    stdin: int | IO[Any] | None = PIPE,
    stdout: int | IO[Any] | None = PIPE,
    stderr: int | IO[Any] | None = PIPE,
    cwd: Any = None,
    env: Mapping[str, str] | None = None,
    startupinfo: Any = None,
    creationflags: int = 0,
    start_new_session: bool = False,
    pass_fds: Sequence[int] = (),
    user: str | int | None = None,
    group: str | int | None = None,
    extra_groups: Any = None,
    umask: int = -1,
) -> anysubprocess.Process:
    """anyio.open_process's signature and defaults (every pipe a PIPE), on anysubprocess: what
    a user moving from anyio writes."""
    kwargs: dict[str, Any] = {
        "stdin": stdin,
        "stdout": stdout,
        "stderr": stderr,
        "cwd": cwd,
        "env": env,
        "start_new_session": start_new_session,
        "pass_fds": pass_fds,
        "user": user,
        "group": group,
        "extra_groups": extra_groups,
        "umask": umask,
    }
    if startupinfo is not None or creationflags:  # Windows-only Popen keywords
        kwargs.update(startupinfo=startupinfo, creationflags=creationflags)
    if isinstance(command, (str, bytes)):
        return await anysubprocess.create_subprocess_shell(command, **kwargs)
    return await anysubprocess.create_subprocess_exec(*command, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    # Before the test module is imported: it binds `from anyio import open_process`.
    if os.environ.get("ANYSUBPROCESS_PEER_MODE", "ours") == "ours":
        import anyio
        import anyio._core._subprocesses

        anyio.open_process = open_process  # type: ignore[assignment]
        anyio._core._subprocesses.open_process = open_process  # type: ignore[assignment]  # run_process's


def _eager_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    loop.set_task_factory(asyncio.eager_task_factory)  # type: ignore[attr-defined,unused-ignore]
    return loop


def _backends() -> list[Any]:
    """anyio's conftest's backend_params, as of anyio 4.16 (debug mode on asyncio)."""
    import uvloop

    params = [
        pytest.param(("asyncio", {"debug": True}), id="asyncio"),
        pytest.param(
            ("asyncio", {"debug": True, "loop_factory": uvloop.new_event_loop}),
            id="asyncio+uvloop",
        ),
    ]
    if sys.version_info >= (3, 12):
        params.append(
            pytest.param(
                ("asyncio", {"debug": True, "loop_factory": _eager_loop}), id="asyncio+eager"
            )
        )
    params.append(pytest.param("trio", id="trio"))
    return params


@pytest.fixture(params=_backends())
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture
async def event_loop_implementation_name() -> str | None:
    """anyio's conftest fixture of that name."""
    import sniffio

    if (name := sniffio.current_async_library()) == "asyncio":
        return asyncio.get_running_loop().__module__
    return name

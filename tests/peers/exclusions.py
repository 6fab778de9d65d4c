"""The peer tests that may fail on our objects, each with its reason: the one list.

Keys are test names: ``"test_x"`` for every backend, ``"test_x[backend]"`` for one. A listed
test that passes on ours fails the run (strict), so the list cannot go stale.
"""

from __future__ import annotations

#: anyio's tests/test_subprocesses.py, with anyio.open_process returning our Process.
ANYIO: dict[str, str] = {
    "test_arguments_passed_through": (
        "mocks anyio's private backend call (get_async_backend().open_process) and asserts "
        "it was called; our open_process spawns through anysubprocess, not anyio's backend"
    ),
}

#: CPython's test_asyncio/test_subprocess.py (SubprocessMixin), with asyncio's factories ours.
CPYTHON: dict[str, str] = {
    "test_pause_reading": (
        "mocks asyncio's private transport layer: replaces loop.connect_read_pipe to spy on "
        "the pipe transport's pause_reading()/resume_reading(); we have no pipe transports "
        "(get_pipe_transport() is None). What it guards, reading paused at `limit`, is ours "
        "too: the buffer is bounded and the pipe back-pressures the child (test_streams.py)"
    ),
}

"""Load: many children alive at once, and many round trips one after another; nothing left.

The long soak is ``scripts/soak`` (``python -m tests.soak``); a short one runs here.
"""

from __future__ import annotations

import os
import resource
import shutil
from collections.abc import Iterator

import anyio
import pytest

import anysubprocess
from anysubprocess import DEVNULL, PIPE
from anysubprocess.testing import Snapshot

from .soak import soak

CHILDREN = 1000
CAT = shutil.which("cat") or "/bin/cat"


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def fd_headroom() -> Iterator[None]:
    """Enough fds for CHILDREN children with a pipe and a pidfd each: raise the soft
    RLIMIT_NOFILE if needed (restored after), skip if the hard limit forbids it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = _fd_count() + 3 * CHILDREN + 256
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {needed}")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.usefixtures("fd_headroom")
async def test_a_thousand_children_at_once() -> None:
    """1,000 ``cat`` children spawned concurrently, all alive at once; closing their stdin
    ends them; all are reaped and every fd is given back."""
    fds_before = _fd_count()
    snapshot = Snapshot.take()
    procs: list[anysubprocess.Process] = []

    async def spawn() -> None:
        procs.append(
            await anysubprocess.create_subprocess_exec(
                CAT, stdin=PIPE, stdout=DEVNULL, stderr=DEVNULL
            )
        )

    try:
        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                for _ in range(CHILDREN):
                    tg.start_soon(spawn)
            assert len(procs) == CHILDREN
            running = {
                pid for pid, what in snapshot.leaks().children.items() if "state=Z" not in what
            }
            assert {p.pid for p in procs} <= running  # all alive at the same time
            assert all(p.returncode is None for p in procs)

            codes: list[int] = []

            async def finish(proc: anysubprocess.Process) -> None:
                assert proc.stdin is not None
                proc.stdin.close()
                codes.append(await proc.wait())

            async with anyio.create_task_group() as tg:
                for proc in procs:
                    tg.start_soon(finish, proc)
            assert codes == [0] * CHILDREN
    finally:
        for proc in procs:  # a failure half-way must not leave 1,000 children to the hygiene check
            if proc.returncode is None:
                proc.kill()
            await proc.aclose()  # waits: the child was killed
    await snapshot.wait_clean(timeout=10)
    with anyio.fail_after(10):
        while _fd_count() > fds_before:
            await anyio.sleep(0.01)


async def test_short_soak() -> None:
    """300 sequential spawn + communicate round trips: no fd kept, memory bounded."""
    report = await soak(300, warmup=100)
    assert report.fds_after <= report.fds_before, report
    assert report.rss_after - report.rss_before < 20 * 2**20, report  # generous for a short run

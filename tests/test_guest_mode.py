"""trio in guest mode on top of an asyncio loop: both sides use anysubprocess at once."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import asyncio, sys
import trio
import anysubprocess as asp

CODE = "import sys; print(sys.stdin.read().upper())"

from anysubprocess._backends import current_backend

async def use(tag):
    backend = current_backend().name  # each side must get its own loop's backend
    assert backend == ("trio" if tag.startswith("trio") else "asyncio"), (tag, backend)
    proc = await asp.create_subprocess_exec(
        sys.executable, "-c", CODE, stdin=asp.PIPE, stdout=asp.PIPE)
    out, _ = await proc.communicate(tag.encode())
    return out.decode().strip(), proc.returncode

async def trio_main():
    results = []
    async with trio.open_nursery() as nursery:
        for i in range(3):
            async def one(i=i):
                results.append(await use(f"trio{i}"))
            nursery.start_soon(one)
    return sorted(results)

async def asyncio_main():
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    trio.lowlevel.start_guest_run(
        trio_main,
        run_sync_soon_threadsafe=loop.call_soon_threadsafe,
        done_callback=lambda outcome: done.set_result(outcome),
    )
    host = await asyncio.gather(*(use(f"asyncio{i}") for i in range(3)))
    guest = (await done).unwrap()
    print(sorted(host))
    print(guest)

asyncio.run(asyncio_main())
"""


def test_trio_guest_mode_and_asyncio_host_share_a_thread() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    host, guest = result.stdout.splitlines()
    assert host == str([(f"ASYNCIO{i}", 0) for i in range(3)])
    assert guest == str([(f"TRIO{i}", 0) for i in range(3)])

"""asyncio docs: run several commands at once (a task group instead of asyncio.gather,
so the same code runs on trio too)."""

from __future__ import annotations

import time

import anyio
from _runner import run
from shell_exit_code import run_cmd


async def main() -> None:
    start = time.monotonic()
    async with anyio.create_task_group() as tg:
        tg.start_soon(run_cmd, "ls /zzz")
        tg.start_soon(run_cmd, "sleep 1; echo 'hello'")
    print(f"both done in {time.monotonic() - start:.1f}s (run one after the other: 1s + ls)")


if __name__ == "__main__":
    run(main)

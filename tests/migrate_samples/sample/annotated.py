"""String annotations naming asyncio's Process: rewritten as code is (mypy keeps passing)."""

import asyncio
import sys


class Pool:
    def __init__(self) -> None:
        self.procs: "list[asyncio.subprocess.Process]" = []  # noqa: UP037 - on purpose

    async def start(self, code: str) -> "asyncio.subprocess.Process":
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
        )
        self.procs.append(proc)
        return proc

    async def outputs(self) -> "list[bytes]":
        return [(await proc.communicate())[0] for proc in self.procs]

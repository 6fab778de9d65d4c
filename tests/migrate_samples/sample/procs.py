"""Run child processes with asyncio.create_subprocess_exec (this docstring must stay as it is)."""

from __future__ import annotations

import asyncio
import sys
from asyncio import create_subprocess_shell as shell
from asyncio.subprocess import PIPE, Process

UPPER = "import sys; sys.stdout.write(sys.stdin.read().upper())"


async def echo_upper(text: str) -> str:
    """Send ``text`` through a child that upper-cases it."""
    # asyncio.subprocess.PIPE in a comment stays too
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        UPPER,
        stdin=PIPE,
        stdout=asyncio.subprocess.PIPE,  # the attribute chain
    )
    out, _ = await proc.communicate(text.encode())
    return out.decode()


async def shell_status(cmd: str) -> int:
    proc: Process = await shell(cmd, stdout=asyncio.subprocess.DEVNULL)
    return await proc.wait()


async def merged() -> list[str]:
    code = "import sys; print('out'); sys.stdout.flush(); print('err', file=sys.stderr)"
    proc: asyncio.subprocess.Process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert proc.stdout is not None
    lines = [line.decode().strip() async for line in proc.stdout]
    await proc.wait()
    return lines


async def main() -> None:
    # asyncio-only orchestration: reported by the tool, left for a human to port
    results = await asyncio.gather(echo_upper("a"), shell_status("exit 3"))
    await asyncio.sleep(0)
    print(results)


if __name__ == "__main__":
    asyncio.run(main())

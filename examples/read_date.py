"""asyncio docs: read one line of a child's output (the current date) with readline()."""

from __future__ import annotations

import sys

from _runner import run

import anysubprocess as asp


async def get_date() -> str:
    code = "import datetime; print(datetime.datetime.now())"
    proc = await asp.create_subprocess_exec(sys.executable, "-c", code, stdout=asp.PIPE)

    assert proc.stdout is not None
    data = await proc.stdout.readline()
    line = data.decode("ascii").rstrip()

    await proc.wait()
    return line


async def main() -> None:
    print(f"Current date: {await get_date()}")


if __name__ == "__main__":
    run(main)

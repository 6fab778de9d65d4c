"""Aliases: the module under another name, the factory passed around as a value."""

from __future__ import annotations

import asyncio as aio
import asyncio.subprocess as sp
import functools
import sys
from asyncio import subprocess as aio_subprocess

spawn = aio.create_subprocess_exec  # a value, not a call
python = functools.partial(spawn, sys.executable, "-c")


async def count_lines(n: int) -> int:
    proc = await python(f"print('x\\n' * {n}, end='')", stdout=aio_subprocess.PIPE)
    out, _ = await proc.communicate()
    return out.count(b"\n")


async def exit_code(code: int) -> int:
    proc = await aio.create_subprocess_shell(f"exit {code}", stdin=sp.DEVNULL)
    return await proc.wait()


async def read_exactly() -> bytes:
    proc = await aio.subprocess.create_subprocess_exec(
        sys.executable, "-c", "print('abcdef')", stdout=sp.PIPE
    )
    assert proc.stdout is not None
    try:
        return await proc.stdout.readexactly(100)
    except aio.IncompleteReadError as exc:  # asyncio's exception class: still right
        return exc.partial
    finally:
        await proc.wait()

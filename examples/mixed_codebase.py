"""One child, two halves of a codebase: an asyncio-style module and an anyio-style library
share a Process, each in its own vocabulary, on asyncio, uvloop and trio."""

from __future__ import annotations

import sys

import anyio
import anyio.abc
import sniffio
from _runner import run
from anyio.streams.buffered import BufferedByteReceiveStream
from anyio.streams.text import TextSendStream

import anysubprocess as asp

# A tiny line-oriented server: answers each "add A B" with the sum.
SERVER = """
import sys
for line in sys.stdin:
    _, a, b = line.split()
    print(int(a) + int(b), flush=True)
"""


# --- the asyncio half (as it was written for asyncio, one import changed) ---------------------
async def ask_asyncio_style(proc: asp.Process, a: int, b: int) -> int:
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(f"add {a} {b}\n".encode())
    await proc.stdin.drain()
    return int(await proc.stdout.readline())


# --- the anyio half (a library typed for anyio.abc.Process) ----------------------------------
async def ask_anyio_style(proc: anyio.abc.Process, a: int, b: int) -> int:
    assert proc.stdin is not None
    assert proc.stdout is not None
    await TextSendStream(proc.stdin).send(f"add {a} {b}\n")
    return int(await BufferedByteReceiveStream(proc.stdout).receive_until(b"\n", 100))


async def main() -> None:
    async with await asp.create_subprocess_exec(
        sys.executable, "-c", SERVER, stdin=asp.PIPE, stdout=asp.PIPE
    ) as proc:
        print("asyncio-style half:", await ask_asyncio_style(proc, 2, 3))
        print("anyio-style half:  ", await ask_anyio_style(proc, 40, 2))  # the same child
        print("asyncio-style again:", await ask_asyncio_style(proc, 1, 1))
        assert proc.stdin is not None
        await proc.stdin.aclose()  # anyio's close; asyncio's close() would do as well
    print(f"server exited with {proc.returncode} (under {sniffio.current_async_library()})")


if __name__ == "__main__":
    run(main)

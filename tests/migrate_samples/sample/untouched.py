"""Code the tool must leave byte-identical: asyncio without its subprocess API.

It mentions asyncio.create_subprocess_exec and asyncio.subprocess.PIPE in strings and comments,
and uses a parameter named ``asyncio``.
"""

import asyncio

HELP = "call asyncio.create_subprocess_exec(..., stdout=asyncio.subprocess.PIPE)"


def not_the_module(asyncio: object) -> object:
    # a parameter shadows the module: this is not asyncio's factory
    return asyncio.create_subprocess_exec  # type: ignore[attr-defined]


async def producer(queue: asyncio.Queue[int]) -> None:
    await queue.put(1)

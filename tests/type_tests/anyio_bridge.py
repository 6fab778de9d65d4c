"""Type test (checked by mypy, not run): a Process passes where anyio's types are expected."""

from __future__ import annotations

import anyio.abc
from typing_extensions import assert_type

import anysubprocess


async def typed_for_anyio(proc: anyio.abc.Process) -> int:
    return await proc.wait()


async def receive_from(stream: anyio.abc.ByteReceiveStream) -> bytes:
    return await stream.receive()


async def send_to(stream: anyio.abc.ByteSendStream) -> None:
    await stream.send(b"x")


async def check() -> None:
    proc = await anysubprocess.create_subprocess_exec("true", stdin=anysubprocess.PIPE)
    assert_type(proc, anysubprocess.Process)
    assert_type(await typed_for_anyio(proc), int)
    assert proc.stdout is not None
    assert proc.stdin is not None
    assert_type(proc.stdout, anysubprocess.StreamReader)
    assert_type(proc.stdin, anysubprocess.StreamWriter)
    assert_type(await receive_from(proc.stdout), bytes)
    await send_to(proc.stdin)
    assert_type(await proc.stdout.readline(), bytes)  # asyncio's vocabulary, same object
    assert_type(proc._transport.get_pid(), int)
    await send_to(proc.stdout)  # type: ignore[arg-type]  # a reader is no send stream
    await receive_from(proc.stdin)  # type: ignore[arg-type]  # nor a writer a receive stream

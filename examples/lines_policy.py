"""Reading lines without losing data: readline() raises ValueError on a line longer than
`limit` and throws it away (as asyncio does); lines(overlong="split") hands it over in pieces."""

from __future__ import annotations

import sys

from _runner import run

import anysubprocess as asp

CODE = "print('short'); print('x' * 25); print('end')"


async def main() -> None:
    proc = await asp.create_subprocess_exec(sys.executable, "-c", CODE, stdout=asp.PIPE, limit=10)
    assert proc.stdout is not None
    async for piece in proc.stdout.lines(overlong="split"):
        print(f"piece: {piece!r}")
    await proc.wait()

    proc = await asp.create_subprocess_exec(sys.executable, "-c", CODE, stdout=asp.PIPE, limit=10)
    assert proc.stdout is not None
    print(await proc.stdout.readline())
    try:
        await proc.stdout.readline()
    except ValueError as e:
        print(
            f"readline: ValueError({e}); the long line is gone, next: "
            f"{await proc.stdout.readline()!r}"
        )
    await proc.wait()


if __name__ == "__main__":
    run(main)

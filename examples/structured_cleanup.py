"""`async with` a process: leaving the block by an error or a cancellation stops the child
(SIGTERM, a grace period, SIGKILL) and reaps it before the exception goes on."""

from __future__ import annotations

import sys

import anyio
from _runner import run

import anysubprocess as asp

STUBBORN = (
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)  # ignores the polite request\n"
    "print('started', flush=True)\n"
    "time.sleep(60)\n"
)


async def main() -> None:
    with anyio.move_on_after(1):  # a timeout anywhere around the block
        async with await asp.create_subprocess_exec(
            sys.executable, "-c", STUBBORN, stdout=asp.PIPE
        ) as proc:
            proc.grace_period = 0.5  # default 5 s
            assert proc.stdout is not None
            print("child says:", (await proc.stdout.readline()).decode().strip())
            await proc.wait()  # would take 60 s
    print(f"cancelled; child {proc.pid} was reaped with returncode {proc.returncode}")

    # communicate() with a timeout: the child keeps running and nothing read is lost.
    proc = await asp.create_subprocess_exec(
        sys.executable,
        "-u",
        "-c",
        "import time; print('one'); time.sleep(1); print('two')",
        stdout=asp.PIPE,
    )
    try:
        await proc.communicate(timeout=0.3)
    except asp.TimeoutExpired as e:
        print(f"timeout; so far: {e.output!r}")
    out, _ = await proc.communicate()
    print(f"then everything: {out!r}")


if __name__ == "__main__":
    run(main)

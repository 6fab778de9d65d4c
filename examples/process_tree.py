"""A shell's background jobs survive a kill of the shell. Start the child as a process group
leader and the cleanup (and signal_group) reaches the whole tree."""

from __future__ import annotations

import os

import anyio
from _runner import run

import anysubprocess as asp


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # not Linux: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


async def main() -> None:
    with anyio.move_on_after(1):
        async with await asp.create_subprocess_shell(
            "sleep 60 & echo $!; wait", stdout=asp.PIPE, start_new_session=True
        ) as proc:
            assert proc.stdout is not None
            grandchild = int(await proc.stdout.readline())
            print(f"shell {proc.pid} started background job {grandchild}")
            await proc.wait()
    await anyio.sleep(0.1)
    print(
        f"after cleanup: shell returncode {proc.returncode}, "
        f"background job {'ALIVE' if alive(grandchild) else 'gone'}"
    )


if __name__ == "__main__":
    run(main)

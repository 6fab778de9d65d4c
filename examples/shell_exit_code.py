"""asyncio docs, "Subprocesses" first example: run a shell command, report how it went."""

from __future__ import annotations

from _runner import run

import anysubprocess as asp


async def run_cmd(cmd: str) -> None:
    proc = await asp.create_subprocess_shell(cmd, stdout=asp.PIPE, stderr=asp.PIPE)
    stdout, stderr = await proc.communicate()

    print(f"[{cmd!r} exited with {proc.returncode}]")
    if stdout:
        print(f"[stdout]\n{stdout.decode()}")
    if stderr:
        print(f"[stderr]\n{stderr.decode()}")


async def main() -> None:
    await run_cmd("ls /zzz")


if __name__ == "__main__":
    run(main)

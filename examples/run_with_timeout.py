"""run(): subprocess.run for async code. A timeout kills and reaps the child, and the
exception carries what it printed so far."""

from __future__ import annotations

import subprocess
import sys

from _runner import run

import anysubprocess as asp

SLOW = "import time; print('working...', flush=True); time.sleep(30); print('done')"


async def main() -> None:
    result = await asp.run([sys.executable, "-c", "print('hello')"], capture_output=True, text=True)
    print(f"{result.args[-1]!r} -> returncode={result.returncode} stdout={result.stdout!r}")

    try:
        await asp.run([sys.executable, "-c", SLOW], capture_output=True, timeout=0.5)
    except asp.TimeoutExpired as e:  # also a TimeoutError and a subprocess.TimeoutExpired
        print(f"timed out after {e.timeout}s; output so far: {e.output!r}")

    try:
        await asp.run("exit 3", shell=True, check=True)
    except subprocess.CalledProcessError as e:
        print(f"check=True: {e}")


if __name__ == "__main__":
    run(main)

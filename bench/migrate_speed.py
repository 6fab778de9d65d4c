"""How many files per second ``python -m anysubprocess.migrate`` gets through.

    python bench/migrate_speed.py [--files N] [--mix realistic|all-asyncio] [--jobs 1,2]

Generates a tree of N modules in a temporary directory (nothing is kept), then times the
command (in a fresh interpreter, so start-up and imports count) with each --jobs value, in
diff mode. The realistic mix: a third of the modules use asyncio's subprocess API (rewritten),
a third use asyncio without it (analysed, reported), a third never mention asyncio (skipped
unparsed). all-asyncio: every module is of the first kind.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUBPROCESS_MODULE = '''\
"""Module {i}: runs tools with asyncio's subprocess API."""

from __future__ import annotations

import asyncio
import logging
import sys
from asyncio.subprocess import PIPE, Process

log = logging.getLogger(__name__)


class Runner{i}:
    """Runs a child and collects its output."""

    def __init__(self, argv: list[str], timeout: float = 10.0) -> None:
        self.argv = argv
        self.timeout = timeout
        self.proc: Process | None = None

    async def run(self) -> tuple[int, bytes]:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdout=PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await asyncio.wait_for(self.proc.communicate(), self.timeout)
        log.info("%s exited with %s", self.argv, self.proc.returncode)
        return self.proc.returncode or 0, out

    async def lines(self) -> list[str]:
        code, out = await self.run()
        if code:
            raise RuntimeError(f"{{self.argv}} failed: {{code}}")
        return [line.strip() for line in out.decode().splitlines() if line.strip()]


async def shell_{i}(cmd: str) -> int:
    proc = await asyncio.create_subprocess_shell(cmd, stdout=asyncio.subprocess.DEVNULL)
    return await proc.wait()


def main() -> None:
    print(asyncio.run(Runner{i}([sys.executable, "-c", "print({i})"]).lines()))
'''

ASYNCIO_MODULE = '''\
"""Module {i}: asyncio without subprocesses."""

import asyncio
import dataclasses


@dataclasses.dataclass
class Job{i}:
    name: str
    delay: float = 0.0

    async def run(self, queue: asyncio.Queue[str]) -> None:
        await asyncio.sleep(self.delay)
        await queue.put(self.name)


async def run_all(jobs: list[Job{i}]) -> list[str]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    await asyncio.gather(*(job.run(queue) for job in jobs))
    return [queue.get_nowait() for _ in jobs]
'''

PLAIN_MODULE = '''\
"""Module {i}: no asyncio at all."""

import json
import os
from pathlib import Path


def load_{i}(path: Path) -> dict[str, object]:
    with open(path) as f:
        data = json.load(f)
    data["cwd"] = os.getcwd()
    return data


class Config{i}:
    def __init__(self, values: dict[str, object]) -> None:
        self.values = dict(values)

    def get(self, key: str, default: object = None) -> object:
        return self.values.get(key, default)

    def __repr__(self) -> str:
        return f"Config{i}({{self.values!r}})"
'''


def make_tree(root: Path, n: int, mix: str) -> None:
    kinds = (
        [SUBPROCESS_MODULE]
        if mix == "all-asyncio"
        else [
            SUBPROCESS_MODULE,
            ASYNCIO_MODULE,
            PLAIN_MODULE,
        ]
    )
    for i in range(n):
        package = root / f"pkg{i // 100}"
        package.mkdir(exist_ok=True)
        (package / f"mod{i}.py").write_text(kinds[i % len(kinds)].format(i=i))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--mix", choices=["realistic", "all-asyncio"], default="realistic")
    parser.add_argument("--jobs", default="1,2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        make_tree(Path(tmp), args.files, args.mix)
        for jobs in args.jobs.split(","):
            command = [sys.executable, "-m", "anysubprocess.migrate", "-j", jobs, tmp]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            summary = done.stderr.strip().splitlines()[-1]
            # Pool workers are the forkserver's children, not ours: their CPU time is not
            # counted, so CPU time is shown for -j 1 only.
            per_cpu = f", {args.files / cpu:.0f} per CPU-second" if jobs == "1" else ""
            print(
                f"{args.files} files ({args.mix}), -j {jobs}: {elapsed:.2f} s, "
                f"{args.files / elapsed:.0f} files/s{per_cpu}  [{summary}]"
                f"  load average {os.getloadavg()[0]:.1f}"
            )


if __name__ == "__main__":
    main()

"""How fast ``python -m anysubprocess.migrate`` is, beside ruff on the same tree.

    python bench/migrate_speed.py --tree /usr/lib/python3.13 [--mode report|check] [--jobs 1,2]
    python bench/migrate_speed.py --files 200 --mix client --mode check
    python bench/migrate_speed.py --files 3000 --mix realistic|all-asyncio

Each run is a fresh interpreter (start-up and imports count), repeated (--repeat, default 5):
the median is shown, with the fastest and slowest. ruff (``ruff check --isolated --no-cache``,
its default rules) runs on the same tree the same number of times, and the ratio of the medians
is printed: the machine is shared, so the ratio means more than the seconds.

--tree: an existing tree (CPython's Lib/, a project). Otherwise a tree of N modules is generated
in a temporary directory (nothing is kept). The mixes: realistic, a third each using asyncio's
subprocess API (rewritten), asyncio without it (reported), neither (skipped unparsed);
all-asyncio, every module of the first kind; client, a project as one would run a pre-commit
hook on: 2 % subprocess API, 20 % asyncio, the rest plain.

--mode report: the diff and the report (the default run); check: --check (what CI and
pre-commit run).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
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
    if mix == "all-asyncio":
        kinds = [SUBPROCESS_MODULE]
    elif mix == "client":  # 1 in 50 uses asyncio's subprocess API, 1 in 5 asyncio
        kinds = [SUBPROCESS_MODULE, *[ASYNCIO_MODULE] * 9, *[PLAIN_MODULE] * 40]
    else:
        kinds = [SUBPROCESS_MODULE, ASYNCIO_MODULE, PLAIN_MODULE]
    for i in range(n):
        package = root / f"pkg{i // 100}"
        package.mkdir(exist_ok=True)
        (package / f"mod{i}.py").write_text(kinds[i % len(kinds)].format(i=i))


def timed(command: list[str], repeat: int) -> tuple[list[float], list[float], str]:
    """Wall-clock and CPU seconds of each run, and the last run's stderr summary line.

    CPU time is the child's own (pool workers are a forkserver's children, not ours, so it is
    only complete with -j 1): on a shared machine it moves less than wall-clock time.
    """
    times = []
    cpu = []
    summary = ""
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        lines = done.stderr.strip().splitlines()
        summary = lines[-1] if lines else ""
    return times, cpu, summary


def ruff_command(tree: str) -> list[str] | None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not os.path.exists(ruff):
        return None
    return [ruff, "check", "--isolated", "--no-cache", "--exit-zero", "--quiet", tree]


def bench(tree: str, label: str, args: argparse.Namespace) -> None:
    mode = ["--check"] if args.mode == "check" else []
    ruff = ruff_command(tree)
    ruff_times, ruff_cpu, _ = timed(ruff, args.repeat) if ruff else ([], [], "")
    ruff_median = statistics.median(ruff_times) if ruff_times else float("nan")
    for jobs in args.jobs.split(","):
        command = [sys.executable, "-m", "anysubprocess.migrate", "-j", jobs, *mode, tree]
        times, cpu, summary = timed(command, args.repeat)
        median = statistics.median(times)
        cpu_text = f"CPU median {statistics.median(cpu):.2f} s" if jobs == "1" else "CPU n/a"
        files = int(summary.split()[0]) if summary[:1].isdigit() else 0
        print(
            f"{label} | {args.mode} -j {jobs} | {files} files | median {median:.2f} s "
            f"(min {min(times):.2f}, max {max(times):.2f}, n={len(times)}) | "
            f"{files / median:.0f} files/s | {cpu_text} | ruff median {ruff_median:.2f} s "
            f"(CPU {statistics.median(ruff_cpu) if ruff_cpu else float('nan'):.2f} s) | "
            f"ratio {median / ruff_median:.1f}x | load {os.getloadavg()[0]:.1f}\n"
            f"    [{summary}]"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tree", help="an existing tree to run on (else one is generated)")
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument(
        "--mix", choices=["realistic", "all-asyncio", "client"], default="realistic"
    )
    parser.add_argument("--mode", choices=["report", "check"], default="report")
    parser.add_argument("--jobs", default="1,2")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.tree:
        bench(args.tree, args.tree, args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        make_tree(Path(tmp), args.files, args.mix)
        bench(tmp, f"generated {args.files} ({args.mix})", args)


if __name__ == "__main__":
    main()

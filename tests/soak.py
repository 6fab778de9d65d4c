"""Soak: N sequential spawn + ``communicate()`` round trips on each backend.

Reports the fd count and the RSS (``VmRSS`` in ``/proc/self/status``) after a warm-up and at
the end; fails if the fds grew, or the RSS grew by more than ``--rss-slack`` (5 MiB).

    python -m tests.soak                       # 20,000 round trips on asyncio, uvloop, trio
    python -m tests.soak -n 2000 trio          # fewer, one backend

(``scripts/soak`` runs this; ``tests/test_load.py`` runs a short one.)
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import shutil
import sys
import time
from dataclasses import dataclass

import anyio

import anysubprocess
from anysubprocess import PIPE

CAT = shutil.which("cat") or "/bin/cat"
BACKENDS = {
    "asyncio": ("asyncio", {}),
    "uvloop": ("asyncio", {"use_uvloop": True}),
    "trio": ("trio", {}),
}


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")  # pragma: no cover


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass(frozen=True)
class Report:
    n: int
    fds_before: int
    fds_after: int
    rss_before: int
    rss_after: int
    seconds: float

    def __str__(self) -> str:
        mib = 2**20
        return (
            f"{self.n} round trips in {self.seconds:.1f} s:"
            f" fds {self.fds_before} -> {self.fds_after},"
            f" RSS {self.rss_before / mib:.1f} -> {self.rss_after / mib:.1f} MiB"
            f" ({(self.rss_after - self.rss_before) / mib:+.2f})"
        )


async def _round_trip(payload: bytes) -> None:
    proc = await anysubprocess.create_subprocess_exec(CAT, stdin=PIPE, stdout=PIPE)
    out, _ = await proc.communicate(payload)
    if out != payload or proc.returncode != 0:
        raise AssertionError(f"round trip failed: {out[:50]!r}, returncode {proc.returncode}")


async def soak(n: int, *, warmup: int = 1000) -> Report:
    """Run ``warmup`` round trips, measure, run ``n`` more, measure again."""
    payload = b"x" * 1000 + b"\n"
    for _ in range(warmup):
        await _round_trip(payload)
    gc.collect()
    fds_before, rss_before = fd_count(), rss_bytes()
    start = time.perf_counter()
    for _ in range(n):
        await _round_trip(payload)
    seconds = time.perf_counter() - start
    gc.collect()
    await anyio.sleep(0.05)  # background cleanup, if any, gets a turn
    return Report(n, fds_before, fd_count(), rss_before, rss_bytes(), seconds)


def main(argv: list[str] | None = None) -> int:
    doc = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=doc)
    parser.add_argument("-n", type=int, default=20_000, help="round trips per backend")
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--rss-slack", type=float, default=5.0, help="MiB of RSS growth allowed")
    parser.add_argument("backends", nargs="*", help=f"any of {', '.join(BACKENDS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.backends) - BACKENDS.keys()
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    failed = False
    for name in args.backends or BACKENDS:
        backend, options = BACKENDS[name]
        run = functools.partial(soak, args.n, warmup=args.warmup)
        report = anyio.run(run, backend=backend, backend_options=options)
        grew = report.rss_after - report.rss_before
        ok = report.fds_after <= report.fds_before and grew <= args.rss_slack * 2**20
        failed |= not ok
        print(f"{name:8} {'ok  ' if ok else 'FAIL'} {report}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

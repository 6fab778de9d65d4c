"""Take one benchmark sample in a fresh process and print it as JSON.

    python bench/_worker.py IMPL WORKLOAD SIZE [--cpu N] [--no-warmup] [--count]

Prints ``{"impl": ..., "workload": ..., "size": ..., "value": ...}`` on stdout, where value
is seconds (timed workloads), peak RSS increase / N (peak_memory) or milliseconds
(loop_stall). With ``--count`` the measured run is not timed but counted: ``value`` is
``{"calls": ..., "syscr": ..., "syscw": ..., "calls_method": ...}`` (see _impls.Counter). ``--cpu N`` pins this process, and so every child it starts, to CPU N
(``-1``: no pinning). Before the measured run, the workload runs once at a tiny size on the
same loop (``--no-warmup``: not). A failure exits non-zero with the traceback on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# Run as a script: Python puts bench/ first on sys.path, so the sibling module imports.
from _impls import IMPLEMENTATIONS, WORKLOADS


def pin_to_cpu(cpu: int) -> bool:
    """Pin this process (children inherit the mask) to ``cpu``; False where unsupported."""
    setaffinity = getattr(os, "sched_setaffinity", None)
    if cpu < 0 or setaffinity is None:
        return False
    setaffinity(0, {cpu})
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("impl", choices=sorted(IMPLEMENTATIONS))
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("size", type=int)
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to; -1: do not pin")
    parser.add_argument("--no-warmup", action="store_true", help="skip the warm-up run")
    parser.add_argument(
        "--count",
        action="store_true",
        help="count Python calls and read/write system calls of the run instead of timing it",
    )
    args = parser.parse_args(argv)

    impl = IMPLEMENTATIONS[args.impl]
    workload = WORKLOADS[args.workload]
    if not impl.supports(workload.name):
        parser.error(f"{impl.name} has no {workload.name} workload")
    pinned = pin_to_cpu(args.cpu)
    value: object
    if args.count:
        value = impl.count(workload, args.size, warmup=not args.no_warmup)
    else:
        value = impl.measure(workload, args.size, warmup=not args.no_warmup)
    result = {
        "impl": impl.name,
        "workload": workload.name,
        "size": args.size,
        "value": value,
        "pinned": pinned,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Drive the sample's subprocess code: ``python runner.py asyncio|trio SAMPLE_PARENT_DIR``."""

from __future__ import annotations

import sys

sys.path.insert(0, sys.argv[2])

from sample import aliased, annotated, procs


async def scenario() -> None:
    print("upper:", await procs.echo_upper("hello"))
    print("shell:", await procs.shell_status("exit 3"))
    print("merged:", await procs.merged())
    print("lines:", await aliased.count_lines(4))
    print("exit:", await aliased.exit_code(5))
    print("partial:", await aliased.read_exactly())
    pool = annotated.Pool()
    for n in (1, 2):
        await pool.start(f"print({n})")
    print("pool:", await pool.outputs())


if sys.argv[1] == "trio":
    import trio

    trio.run(scenario)
else:
    import asyncio

    asyncio.run(scenario())

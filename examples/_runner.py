"""Run an example's ``main()`` under the event loop named on the command line."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

BACKENDS: dict[str, tuple[str, dict[str, Any]]] = {
    "asyncio": ("asyncio", {}),
    "uvloop": ("asyncio", {"use_uvloop": True}),
    "trio": ("trio", {}),
}


def run(main: Callable[[], Awaitable[object]]) -> None:
    """``python examples/NAME.py asyncio|uvloop|trio`` (default: asyncio)."""
    name = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
    if name not in BACKENDS:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(BACKENDS)}")
    backend, options = BACKENDS[name]
    anyio.run(main, backend=backend, backend_options=options)

"""The backend adapter: picks the implementation for the running event loop, once per kind."""

from __future__ import annotations

import importlib

import sniffio

# The implementation (POSIX or threads: _choose.py) and the asyncio backend (asyncio is
# imported anyway: its exceptions are ours) load with the package, not on the first spawn.
# trio's loads on first use.
from . import _asyncio  # noqa: F401
from ._base import YIELD_EVERY, Backend, ChildProcess, EventLike, ReceivePipe, SendPipe
from ._keywords import check_popen_keywords, leads_group

__all__ = [
    "YIELD_EVERY",
    "Backend",
    "ChildProcess",
    "EventLike",
    "ReceivePipe",
    "SendPipe",
    "check_popen_keywords",
    "current_backend",
    "leads_group",
]

_MODULES = {"asyncio": "._asyncio", "trio": "._trio"}
_cache: dict[str, Backend] = {}


def current_backend() -> Backend:
    """The backend for the event loop running in this thread (``sniffio`` decides)."""
    name = sniffio.current_async_library()
    try:
        return _cache[name]
    except KeyError:
        pass
    try:
        module_name = _MODULES[name]
    except KeyError:
        raise RuntimeError(
            f"anysubprocess does not support the {name!r} event loop "
            f"(supported: {', '.join(sorted(_MODULES))})"
        ) from None
    backend: Backend = importlib.import_module(module_name, __name__).backend
    _cache[name] = backend
    return backend

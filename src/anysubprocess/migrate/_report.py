"""Find the asyncio-only calls that will not run under trio (ASP1xx): reported, not changed.

Two ways of finding them: names resolved through asyncio imports (``asyncio.sleep``,
``from asyncio import gather``, ``aio.Queue``, and names a star import from asyncio brings), and
event-loop methods by name (``loop.run_in_executor``), since a loop object can come from anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst
from libcst.helpers import get_full_name_for_node

from ._codes import CODES
from ._transform import Issue
from ._uses import Analysis

_BY_CODE: dict[str, tuple[str, ...]] = {
    "ASP100": ("run", "Runner"),
    "ASP101": ("sleep",),
    "ASP102": ("wait_for",),
    "ASP103": ("timeout", "timeout_at"),
    "ASP104": ("gather", "wait", "as_completed"),
    "ASP105": ("create_task", "ensure_future", "TaskGroup", "Task", "Future"),
    "ASP106": ("Event",),
    "ASP107": ("Lock", "Semaphore", "BoundedSemaphore", "Condition", "Barrier"),
    "ASP108": ("Queue", "LifoQueue", "PriorityQueue"),
    "ASP109": (
        "get_event_loop",
        "get_running_loop",
        "new_event_loop",
        "set_event_loop",
        "get_event_loop_policy",
        "set_event_loop_policy",
        "AbstractEventLoop",
    ),
    "ASP111": ("to_thread",),
    "ASP113": ("shield",),
    "ASP114": ("CancelledError",),
    "ASP115": (
        "open_connection",
        "start_server",
        "open_unix_connection",
        "start_unix_server",
        "StreamReader",
        "StreamWriter",
    ),
    "ASP116": ("current_task", "all_tasks"),
}
# asyncio name -> code
BLOCKERS: dict[str, str] = {name: code for code, names in _BY_CODE.items() for name in names}

# Event-loop method -> code. Only names that are unmistakably a loop's.
LOOP_METHODS: dict[str, str] = {
    "run_until_complete": "ASP100",
    "run_forever": "ASP100",
    "subprocess_exec": "ASP110",
    "subprocess_shell": "ASP110",
    "run_in_executor": "ASP111",
    "call_soon": "ASP112",
    "call_soon_threadsafe": "ASP112",
    "call_later": "ASP112",
    "call_at": "ASP112",
    "create_future": "ASP112",
    "add_reader": "ASP112",
    "add_writer": "ASP112",
    "add_signal_handler": "ASP112",
}


def _message(what: str, code: str) -> str:
    return f"{what} does not run under trio; use {CODES[code].instead}"


def blockers(analysis: Analysis) -> Iterator[Issue]:
    """ASP1xx issues: asyncio names used, and event-loop methods called."""
    for binding in analysis.bindings:
        for use in binding.uses:
            if len(use.qualified) >= 1 and binding.kind in ("name", "other"):
                qualified = use.qualified[0]
            elif len(use.qualified) >= 2 and binding.kind == "asyncio":
                qualified = use.qualified[1]
            else:
                continue
            module, _, name = qualified.rpartition(".")
            code = BLOCKERS.get(name)
            if module == "asyncio" and code is not None:
                yield Issue(use.chain[0], code, _message(qualified, code))
    # `from asyncio.subprocess import *` brings only the two factories; `from asyncio import *`
    # brings everything asyncio exports.
    stars = [get_full_name_for_node(star.module) for star in analysis.stars if star.module]
    if "asyncio" in stars:
        for name, nodes in analysis.unresolved.items():
            code = BLOCKERS.get(name)
            if code is not None:
                for node in nodes:
                    yield Issue(node, code, _message(f"asyncio.{name} (star import)", code))
    for child in analysis.parents:
        if isinstance(child, cst.Attribute) and child.attr.value in LOOP_METHODS:
            code = LOOP_METHODS[child.attr.value]
            yield Issue(child.attr, code, _message(f"loop.{child.attr.value}", code))

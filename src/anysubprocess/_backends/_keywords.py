"""Popen keywords the platform cannot honour, rejected before anything is spawned."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["check_popen_keywords", "leads_group"]

#: The POSIX-only keywords and their defaults. On Windows ``subprocess.Popen`` rejects some
#: (``ValueError`` for preexec_fn/user/group/extra_groups, an assertion for pass_fds) and
#: silently ignores the rest (start_new_session, process_group, umask, restore_signals):
#: a child the caller meant to put in a session of its own would not be in one, and the
#: structured cleanup's group kill would miss. So all of them are a ``ValueError`` here.
_POSIX_ONLY: dict[str, Any] = {
    "preexec_fn": None,
    "group": None,
    "extra_groups": None,
    "user": None,
    "pass_fds": (),
    "start_new_session": False,
    "process_group": None,
    "umask": -1,
    "restore_signals": True,
}
#: subprocess.Popen's own words where it has them.
_MESSAGES = {
    "preexec_fn": "preexec_fn is not supported on Windows platforms",
    "group": "The 'group' parameter is not supported on the current platform",
    "extra_groups": "The 'extra_groups' parameter is not supported on the current platform",
    "user": "The 'user' parameter is not supported on the current platform",
    "pass_fds": "pass_fds not supported on Windows.",
}

#: subprocess.CREATE_NEW_PROCESS_GROUP (defined only on Windows).
CREATE_NEW_PROCESS_GROUP = 0x200


def check_popen_keywords(kwds: Mapping[str, Any], platform: str = sys.platform) -> None:
    """Raise ``ValueError`` for a keyword ``platform`` cannot honour (win32: the POSIX ones)."""
    if platform != "win32":
        return
    for name, default in _POSIX_ONLY.items():
        if name in kwds and _given(kwds[name], default):
            raise ValueError(_MESSAGES.get(name, f"{name} is not supported on Windows"))


def _given(value: Any, default: Any) -> bool:
    if isinstance(default, tuple):  # pass_fds: any empty collection is the default
        return bool(value)
    return value is not default and bool(value != default)


def leads_group(kwds: Mapping[str, Any], platform: str = sys.platform) -> bool:
    """Whether the child will lead a process group of its own (structured cleanup then
    signals the group): POSIX ``start_new_session``/``process_group=0``; Windows
    ``creationflags`` with ``CREATE_NEW_PROCESS_GROUP`` (a console group: CTRL_BREAK_EVENT)."""
    if platform == "win32":
        return bool(kwds.get("creationflags", 0) & CREATE_NEW_PROCESS_GROUP)
    return bool(kwds.get("start_new_session")) or kwds.get("process_group") == 0

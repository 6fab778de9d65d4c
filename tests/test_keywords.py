"""Popen keywords a platform cannot honour (_backends/_keywords.py): on Windows the POSIX
ones are a ValueError, in Popen's words where it has them, before anything is spawned."""

from __future__ import annotations

import functools
from typing import Any

import pytest

import anysubprocess
import anysubprocess._create
from anysubprocess._backends._keywords import (
    CREATE_NEW_PROCESS_GROUP,
    check_popen_keywords,
    leads_group,
)

from .conftest import PY, _children

REJECTED_ON_WINDOWS = [
    ("preexec_fn", lambda: None, "preexec_fn is not supported on Windows platforms"),
    ("user", 0, "The 'user' parameter is not supported on the current platform"),
    ("group", 0, "The 'group' parameter is not supported on the current platform"),
    ("extra_groups", [0], "The 'extra_groups' parameter is not supported on the current platform"),
    ("pass_fds", (3,), "pass_fds not supported on Windows."),
    ("start_new_session", True, "start_new_session is not supported on Windows"),
    ("process_group", 0, "process_group is not supported on Windows"),
    ("umask", 0o22, "umask is not supported on Windows"),
    ("restore_signals", False, "restore_signals is not supported on Windows"),
]


@pytest.mark.parametrize(("name", "value", "message"), REJECTED_ON_WINDOWS)
def test_posix_keywords_are_rejected_on_windows(name: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$".replace("(", r"\(").replace(")", r"\)")):
        check_popen_keywords({name: value}, platform="win32")
    check_popen_keywords({name: value}, platform="linux")  # POSIX: they work


@pytest.mark.parametrize(
    "kwds",
    [
        {"preexec_fn": None, "user": None, "group": None, "extra_groups": None},
        {"pass_fds": (), "start_new_session": False, "process_group": None},
        {"umask": -1, "restore_signals": True, "cwd": ".", "creationflags": 0},
    ],
)
def test_default_values_pass_on_windows(kwds: dict[str, Any]) -> None:
    check_popen_keywords(kwds, platform="win32")


def test_group_leaders() -> None:
    assert leads_group({"start_new_session": True}, platform="linux")
    assert leads_group({"process_group": 0}, platform="linux")
    assert not leads_group({"process_group": 5}, platform="linux")
    assert leads_group({"creationflags": CREATE_NEW_PROCESS_GROUP}, platform="win32")
    assert not leads_group({"creationflags": 0x10}, platform="win32")
    assert not leads_group({}, platform="win32")


async def test_rejected_before_anything_spawns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the factory, as on Windows: the error comes first, and no child is left."""
    monkeypatch.setattr(
        anysubprocess._create,
        "check_popen_keywords",
        functools.partial(check_popen_keywords, platform="win32"),
    )
    kids = _children()
    with pytest.raises(ValueError, match="start_new_session is not supported on Windows"):
        await anysubprocess.create_subprocess_exec(PY, "-c", "pass", start_new_session=True)
    assert _children() == kids

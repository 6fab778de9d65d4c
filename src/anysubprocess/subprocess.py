"""Mirrors the :mod:`asyncio.subprocess` namespace."""

from __future__ import annotations

from subprocess import DEVNULL, PIPE, STDOUT

from ._create import create_subprocess_exec, create_subprocess_shell
from ._process import Process

__all__ = [
    "DEVNULL",
    "PIPE",
    "STDOUT",
    "Process",
    "create_subprocess_exec",
    "create_subprocess_shell",
]

"""Which files a run looks at: the paths given, and the ``*.py`` files under the directories.

Skips what the ecosystem's tools skip (ruff's default ``exclude``, plus build outputs and
virtualenvs found by their ``pyvenv.cfg``) and, inside a git checkout, what git ignores. A path
named on the command line is always processed (as ruff does); the rules apply to what a walk
finds under it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field

# ruff's default `exclude` (docs.astral.sh/ruff/settings/#exclude), with build outputs and
# caches that other tools leave behind.
SKIP_DIRS = frozenset(
    {
        ".bzr",
        ".direnv",
        ".eggs",
        ".git",
        ".git-rewrite",
        ".hg",
        ".hypothesis",
        ".ipynb_checkpoints",
        ".mypy_cache",
        ".nox",
        ".pants.d",
        ".pyenv",
        ".pytest_cache",
        ".pytype",
        ".ruff_cache",
        ".svn",
        ".tox",
        ".venv",
        ".vscode",
        "__pycache__",
        "__pypackages__",
        "_build",
        "buck-out",
        "build",
        "dist",
        "dist-packages",
        "node_modules",
        "site-packages",
        "venv",
    }
)
_VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr", "__pycache__"})
_VENV_DIRS = frozenset({".venv", "venv", "site-packages", "dist-packages", "__pypackages__"})


def skip_reason(parent: str, name: str) -> str | None:
    """Why the directory ``name`` in ``parent`` is not walked into, or None."""
    if name in _VENV_DIRS or name.startswith(".venv"):
        return "virtualenv"
    if name in SKIP_DIRS or name.endswith(".egg-info"):
        return "excluded by default"
    if os.path.exists(os.path.join(parent, name, "pyvenv.cfg")):
        return "virtualenv"
    return None


def git_ignored(directory: str) -> set[str] | None:
    """The paths git ignores under ``directory`` (absolute, normalised), or None outside git.

    Asks git itself (``ls-files --ignored --directory``), so every rule of gitignore, nested
    ``.gitignore`` files, ``.git/info/exclude`` and the global excludes file apply as git applies
    them. An ignored directory is listed once, not file by file.
    """
    try:
        done = subprocess.run(
            ["git", "ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z"],
            cwd=directory,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # no git, or it hung
        return None
    if done.returncode != 0:  # not a checkout
        return None
    return {
        os.path.normpath(os.path.join(directory, os.fsdecode(p)))
        for p in done.stdout.split(b"\0")
        if p
    }


@dataclass
class Walk:
    """The files found, and what was skipped (directory -> reason)."""

    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def summary(self, limit: int = 5) -> str | None:
        """One line naming what was skipped, or None when nothing was."""
        if not self.skipped:
            return None
        shown = ", ".join(f"{path} ({why})" for path, why in list(self.skipped.items())[:limit])
        more = len(self.skipped) - limit
        return (
            f"skipped {len(self.skipped)} path{'s' if len(self.skipped) > 1 else ''}: {shown}"
            + (f" and {more} more" if more > 0 else "")
            + "; name a path to migrate it anyway"
        )


def walk(paths: Iterable[str]) -> Walk:
    """The files to migrate, in a stable order: files named as given, directories walked."""
    found = Walk()
    for path in paths:
        if not os.path.isdir(path):
            found.files.append(path)
            continue
        ignored = git_ignored(path) or set()
        for root, dirs, files in os.walk(path):
            kept = []
            for d in sorted(dirs):
                full = os.path.join(root, d)
                why = skip_reason(root, d) or (
                    "git-ignored" if os.path.normpath(full) in ignored else None
                )
                if why is None:
                    kept.append(d)
                elif d not in _VCS_DIRS:  # never anyone's code (VCS, bytecode): not worth a mention
                    found.skipped[full] = why
            dirs[:] = kept
            for f in sorted(files):
                if not f.endswith(".py"):
                    continue
                full = os.path.join(root, f)
                if ignored and os.path.normpath(full) in ignored:
                    found.skipped[full] = "git-ignored"
                else:
                    found.files.append(full)
    return found

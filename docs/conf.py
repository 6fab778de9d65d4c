"""Sphinx configuration: ``scripts/docs`` (``sphinx-build -W -n docs ...``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version as _version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import offline_inventories  # noqa: E402

project = "anysubprocess"
author = "anysubprocess developers"
copyright = "2026, anysubprocess developers"
release = _version("anysubprocess")
version = ".".join(release.split(".")[:2])

REPO = "https://github.com/anysubprocess/anysubprocess"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.extlinks",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_ext", "README.md"]
root_doc = "index"
nitpicky = True

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- API reference -----------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True}

# -- Links -------------------------------------------------------------------------
# Inventories come from disk (offline_inventories lists the upstream targets we
# use); ANYSUBPROCESS_DOCS_ONLINE=1 uses the real ones, which checks that list.
_inventories = offline_inventories.write(HERE / "_build" / ".inventories")
if os.environ.get("ANYSUBPROCESS_DOCS_ONLINE"):
    intersphinx_mapping = {
        name: (base, None) for name, (base, _) in _inventories.items()
    }
else:
    intersphinx_mapping = dict(_inventories)

extlinks = {
    "cpython": ("https://github.com/python/cpython/issues/%s", "cpython#%s"),
    "cpython-pr": ("https://github.com/python/cpython/pull/%s", "cpython PR #%s"),
    "trio-issue": ("https://github.com/python-trio/trio/issues/%s", "trio#%s"),
    "trio-asyncio-issue": (
        "https://github.com/python-trio/trio-asyncio/issues/%s",
        "trio-asyncio#%s",
    ),
    "uvloop-issue": ("https://github.com/MagicStack/uvloop/issues/%s", "uvloop#%s"),
    "anyio-issue": ("https://github.com/agronholm/anyio/issues/%s", "anyio#%s"),
    "source": (f"{REPO}/blob/main/%s", "%s"),
}

# -- Changelog ---------------------------------------------------------------------
# changelog.md includes the unreleased entries, as towncrier would write them now.
_draft = subprocess.run(
    [
        sys.executable,
        "-m",
        "towncrier",
        "build",
        "--draft",
        "--version",
        "Unreleased",
    ],
    cwd=HERE.parent,
    capture_output=True,
    text=True,
    check=True,
).stdout
_draft = _draft.split("What is seen below is what would be written.\n", 1)[
    -1
].strip()
_draft = re.sub(r"^## Unreleased \(.*?\)$", "## Unreleased", _draft, flags=re.M)
(HERE / "_build").mkdir(exist_ok=True)
(HERE / "_build" / ".unreleased.md").write_text(_draft + "\n")

# -- HTML --------------------------------------------------------------------------
html_theme = "furo"
html_title = f"anysubprocess {release}"
html_static_path = ["_static"]
html_theme_options = {
    "source_repository": REPO,
    "source_branch": "main",
    "source_directory": "docs/",
}

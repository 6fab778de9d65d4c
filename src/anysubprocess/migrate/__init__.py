"""Migrate code from asyncio's subprocess API to anysubprocess: ``python -m anysubprocess.migrate``.

Needs the ``migrate`` extra (libcst): ``pip install 'anysubprocess[migrate]'``. Importing this
package does not import libcst; :func:`migrate_source` does.
"""

from __future__ import annotations

from typing import overload

from ._cli import main as main
from ._codes import CODES as CODES
from ._codes import Code as Code
from ._codes import Finding as Finding
from ._codes import Result as Result

__all__ = ["CODES", "Code", "Finding", "Result", "main", "migrate_source"]


@overload
def migrate_source(source: str) -> Result: ...
@overload
def migrate_source(source: bytes) -> Result: ...
def migrate_source(source: str | bytes) -> Result:
    """Migrate one module's source; ``Result.migrated`` has the type of ``source``.

    Bytes are decoded by their encoding declaration and written back in it; line endings
    (``\\n``, ``\\r\\n``) are kept. A source that cannot be parsed gives ``Result.error`` and an
    ``ASP001`` finding, not an exception. Raises ``ImportError`` without libcst.
    """
    from ._migrate import migrate

    return migrate(source)

"""Migrate one source: the report from ``ast``, the rewrite from libcst. Never raises on bad input.

libcst is imported only for a module the scan says has something to rewrite.
"""

from __future__ import annotations

from typing import overload

from ._codes import Finding, Result
from ._scan import needs_rewrite, scan


@overload
def migrate(source: str, *, report: bool = True) -> Result: ...
@overload
def migrate(source: bytes, *, report: bool = True) -> Result: ...
def migrate(source: str | bytes, *, report: bool = True) -> Result:
    """Migrate ``source`` (text, or bytes with their encoding declaration honoured).

    ``report=False`` leaves out the ASP1xx-ASP3xx findings (ASP001 stays).
    """
    scanned = scan(source)
    if scanned.error is not None and scanned.findings[0].code == "ASP001":
        from ._rewrite import parses

        if not parses(source):
            return Result(source, source, scanned.findings, error=scanned.error)
        # Valid for libcst, not for this Python's ast: newer syntax. Rewrite, do not report.
        note = Finding(1, 1, "ASP002", f"not reported on: {scanned.error}")
        scanned.findings = [note] if report else []
        scanned.rewrite = needs_rewrite(source)
    if not scanned.rewrite:
        return Result(source, source, scanned.findings if report else [])
    from ._rewrite import rewrite

    result = rewrite(source, report=report)
    if result.error is not None:  # pragma: no cover - ast parsed what libcst could not
        return result
    findings = sorted(
        {*(scanned.findings if report else []), *result.findings},
        key=lambda f: (f.line, f.col, f.code),
    )
    return Result(source, result.migrated, findings)

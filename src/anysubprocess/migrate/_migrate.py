"""Migrate one source: the report from ``ast``, the rewrite from libcst. Never raises on bad input.

libcst is imported only for a module the scan says has something to rewrite.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from typing import overload

from ._codes import Finding, Result
from ._scan import needs_rewrite, scan


@dataclass
class Facts:
    """What the command line needs to decide mocks across modules (see ``_mocks``)."""

    called: set[str] = field(default_factory=set)  # factories called as asyncio.<factory>
    imports: set[str] = field(default_factory=set)  # absolute modules imported
    mocked: set[str] = field(default_factory=set)  # factories whose mocks were left (ASP302)


@overload
def migrate(source: str, *, report: bool = True) -> Result: ...
@overload
def migrate(source: bytes, *, report: bool = True) -> Result: ...
def migrate(source: str | bytes, *, report: bool = True) -> Result:
    """Migrate ``source`` (text, or bytes with their encoding declaration honoured).

    ``report=False`` leaves out the ASP1xx-ASP3xx findings (ASP001 stays).
    """
    return migrate_with_facts(source, report=report)[0]


def migrate_with_facts(
    source: str | bytes,
    *,
    report: bool = True,
    patchable: Set[str] = frozenset(),
    local: Set[str] = frozenset(),
) -> tuple[Result, Facts]:
    """:func:`migrate`, with the facts about the module that other modules' mocks depend on.

    ``patchable``: factories that modules this one imports call as asyncio's attributes.
    ``local``: the project's own top-level modules (for the import sections).
    """
    scanned = scan(source)
    facts = Facts(scanned.called, scanned.imports)
    if scanned.error is not None and scanned.findings[0].code == "ASP001":
        from ._rewrite import parses

        if not parses(source):
            return Result(source, source, scanned.findings, error=scanned.error), facts
        # Valid for libcst, not for this Python's ast: newer syntax. Rewrite, do not report.
        note = Finding(1, 1, "ASP002", f"not reported on: {scanned.error}")
        scanned.findings = [note] if report else []
        scanned.rewrite = needs_rewrite(source)
    if not scanned.rewrite:
        return Result(source, source, scanned.findings if report else []), facts
    from ._rewrite import rewrite

    result, facts.mocked = rewrite(
        source, report=report, patchable=patchable, simple=scanned.simple, local=local
    )
    if result.error is not None:  # pragma: no cover - ast parsed what libcst could not
        return result, facts
    unique: set[Finding] = {*(scanned.findings if report else []), *result.findings}
    findings = sorted(unique, key=lambda f: (f.line, f.col, f.code))
    return Result(source, result.migrated, findings), facts

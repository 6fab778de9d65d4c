"""Migrate one source: parse, analyse, rewrite, report. Never raises on bad input."""

from __future__ import annotations

from typing import overload

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from ._codes import Finding, Result
from ._report import LOOP_METHODS, blockers
from ._transform import Issue, Rewriter, plan
from ._uses import analyse

# A source none of these occur in has nothing to migrate or report: skip parsing it.
_NEEDLES = ("asyncio", *LOOP_METHODS)
_BYTE_NEEDLES = tuple(n.encode() for n in _NEEDLES)


def _relevant(source: str | bytes) -> bool:
    if isinstance(source, bytes):
        return any(n in source for n in _BYTE_NEEDLES)
    return any(n in source for n in _NEEDLES)


@overload
def migrate(source: str, *, report: bool = True) -> Result: ...
@overload
def migrate(source: bytes, *, report: bool = True) -> Result: ...
def migrate(source: str | bytes, *, report: bool = True) -> Result:
    """Migrate ``source`` (text, or bytes with their encoding declaration honoured).

    ``report=False`` skips the ASP1xx/ASP2xx findings (and the position pass they need).
    """
    if not _relevant(source):
        return Result(source, source)
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        message = str(exc).replace("\n", " ").strip()
        return Result(source, source, [Finding(1, 1, "ASP001", message)], error=message)
    except (SyntaxError, UnicodeDecodeError, RecursionError) as exc:  # encoding, nesting
        message = f"{type(exc).__name__}: {exc}"
        return Result(source, source, [Finding(1, 1, "ASP001", message)], error=message)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    analysis = analyse(wrapper)
    edits = plan(analysis)
    issues: list[Issue] = [*edits.issues, *blockers(analysis)] if report else []
    findings: list[Finding] = []
    if issues:
        positions = wrapper.resolve(PositionProvider)
        unique: dict[
            Finding, None
        ] = {}  # a use bound by two imports (import asyncio; import asyncio.subprocess)
        for issue in issues:
            start = positions[issue.node].start
            finding = Finding(start.line, start.column + 1, issue.code, issue.message)
            unique[finding] = None
        findings = sorted(unique, key=lambda f: (f.line, f.col, f.code))
    if edits.empty:
        return Result(source, source, findings)
    new = module.visit(Rewriter(edits, analysis.parents))
    return Result(source, new.bytes if isinstance(source, bytes) else new.code, findings)

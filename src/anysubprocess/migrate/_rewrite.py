"""The rewrite, on libcst's concrete tree: parse, analyse, plan, edit (ASP2xx/ASP3xx findings)."""

from __future__ import annotations

from collections.abc import Set

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from ._codes import Finding, Result
from ._sort import sort_imports
from ._transform import Rewriter, plan
from ._uses import analyse, analyse_simple


def parses(source: str | bytes) -> bool:
    """Whether libcst can parse ``source``."""
    try:
        cst.parse_module(source)
    except Exception:  # any failure means "no"
        return False
    return True


def rewrite(
    source: str | bytes,
    *,
    report: bool = True,
    patchable: Set[str] = frozenset(),
    simple: bool = False,
    local: Set[str] = frozenset(),
) -> tuple[Result, set[str]]:
    """Rewrite ``source``; the findings are what was left unchanged (ASP2xx, ASP3xx).

    Also returns the factories whose mocks were left unchanged (see ``_mocks``). ``simple``:
    the scan found no shadowing of asyncio's names, so libcst's scope analysis (three quarters of
    the cost) is skipped.
    """
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        message = str(exc).replace("\n", " ").strip()
        finding = Finding(exc.raw_line, exc.raw_column + 1, "ASP001", message)
        return Result(source, source, [finding], error=message), set()
    except (SyntaxError, UnicodeDecodeError, RecursionError) as exc:  # encoding, nesting
        message = f"{type(exc).__name__}: {exc}"
        return Result(source, source, [Finding(1, 1, "ASP001", message)], error=message), set()
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    analysis = analyse_simple(module) if simple else analyse(wrapper)
    edits = plan(analysis, patchable)
    findings: list[Finding] = []
    if edits.issues and report:
        positions = wrapper.resolve(PositionProvider)
        unique: dict[Finding, None] = {}  # a use bound twice (import asyncio, asyncio.subprocess)
        for issue in edits.issues:
            start = positions[issue.node].start
            unique[Finding(start.line, start.column + 1, issue.code, issue.message)] = None
        findings = list(unique)
    if edits.empty:
        return Result(source, source, findings), edits.mocked
    new = module.visit(Rewriter(edits, analysis.parents))
    original = source.decode(module.encoding) if isinstance(source, bytes) else source
    code = sort_imports(new.code, original, local)
    migrated = code.encode(new.encoding) if isinstance(source, bytes) else code
    return Result(source, migrated, findings), edits.mocked

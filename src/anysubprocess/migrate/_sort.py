"""Put the imports the rewrite added or changed where an import sorter (ruff's ``I``, isort) wants.

Deliberately narrow: only the module's first block of top-level imports, and only when the
imports of that block that the migration did not touch are already in the order this module
would give them (ruff's and isort's defaults: sections future / standard library / third party /
first party / local, a blank line between; ``import x`` before ``from x import y`` in a section;
modules case-insensitively; names constants, then classes, then the rest). Then the block is
written in that order, ``anysubprocess`` in the third-party section and its from-imports merged.
Any other block (comments inside, statements over several lines, a custom order) is left as the
rewrite left it.

Which section a non-standard-library module is in: first party if it is one of the project's own
modules (the command line knows them from the files given) or if its group follows another
group of such imports; else third party (ruff decides from the project's layout).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Set
from dataclasses import dataclass

_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__"}
_OURS = "anysubprocess"


@dataclass
class _Line:
    straight: bool  # import x (not from x import y)
    module: str
    level: int
    names: list[tuple[str, str | None]]
    comment: str  # a trailing comment, with its leading spaces, or ""
    group: int  # the blank-line-separated group it was in
    text: str


def _section(line: _Line, first_party_groups: set[int], local: Set[str]) -> int:
    if line.level:
        return 4
    top = line.module.split(".")[0]
    if top == "__future__":
        return 0
    if top in _STDLIB:
        return 1
    if top == _OURS:
        return 2
    return 3 if line.group in first_party_groups or top in local else 2


def _name_key(name: tuple[str, str | None]) -> tuple[int, str, str]:
    text = name[0]
    kind = 0 if text.isupper() and len(text) > 1 else 1 if text[:1].isupper() else 2
    return kind, text.lower(), text


def _render(line: _Line) -> str:
    names = ", ".join(
        n if a is None else f"{n} as {a}"
        for n, a in (line.names if line.straight else sorted(line.names, key=_name_key))
    )
    if line.straight:
        return f"import {names}{line.comment}"
    return f"from {'.' * line.level}{line.module} import {names}{line.comment}"


def _ordered(lines: list[_Line], first_party_groups: set[int], local: Set[str]) -> list[list[str]]:
    sections: dict[int, list[_Line]] = {}
    for line in lines:
        sections.setdefault(_section(line, first_party_groups, local), []).append(line)
    out: list[list[str]] = []
    for number in sorted(sections):
        members = sections[number]
        straight = sorted(
            (m for m in members if m.straight),
            key=lambda m: (m.module.lower(), m.module, m.names[0][1] or ""),
        )
        froms = sorted(
            (m for m in members if not m.straight),
            key=lambda m: (m.level, m.module.lower(), m.module, any(a for _, a in m.names)),
        )
        out.append([_render(m) for m in straight] + [_render(m) for m in froms])
    return out


def _merge_ours(lines: list[_Line], ours: list[bool]) -> list[_Line] | None:
    """The new anysubprocess from-imports (no ``as``) merged into one, names in sorter order."""
    plain = [
        x
        for x, new in zip(lines, ours, strict=True)
        if new and x.module == _OURS and not x.straight and all(a is None for _, a in x.names)
    ]
    if len(plain) > 1 and len({x.comment for x in plain}) > 1:
        return None  # different trailing comments: keep the lines as they are
    rest = [x for x in lines if x not in plain]
    if plain:
        names = sorted({n for x in plain for n in x.names}, key=_name_key)
        rest.append(_Line(False, _OURS, 0, names, plain[0].comment, plain[0].group, ""))
    return rest


def sort_imports(code: str, original: str, local: Set[str] = frozenset()) -> str:
    """``code`` (``original`` migrated) with its first import block in sorter order.

    Only the lines the migration wrote move; if the user's own lines are not already in sorter
    order, nothing does. ``local``: top-level modules known to be the project's own (first
    party), as the command line knows them from the files it was given.
    """
    before = {line.strip() for line in original.splitlines()}
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):  # pragma: no cover - libcst just printed it
        return code
    body = tree.body
    start = 0
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        start = 1
    block: list[ast.Import | ast.ImportFrom] = []
    for statement in body[start:]:
        if not isinstance(statement, (ast.Import, ast.ImportFrom)):
            break
        block.append(statement)
    if not block:
        return code
    source = code.splitlines(keepends=True) if "\f" not in code and "\v" not in code else None
    if source is None or len(source) < block[-1].lineno:
        return code
    first, last = block[0].lineno, block[-1].lineno
    lines: list[_Line] = []
    group = 0
    previous = first
    for statement in block:
        if statement.end_lineno != statement.lineno or statement.col_offset != 0:
            return code  # over several lines, or after a semicolon
        between = source[previous : statement.lineno - 1] if statement.lineno > previous else []
        if any(x.strip() for x in between):
            return code  # a comment between imports
        if between:
            group += 1
        previous = statement.lineno
        text = source[statement.lineno - 1].rstrip("\r\n")
        code_part = text[: statement.end_col_offset]
        comment = text[len(code_part) :]
        if comment.strip() and not comment.lstrip().startswith("#"):
            return code  # `import x; y = 1`
        names = [(a.name, a.asname) for a in statement.names]
        if isinstance(statement, ast.Import):
            if len(names) > 1:
                return code  # `import os, sys`: sorters split it; so do not we
            lines.append(_Line(True, names[0][0], 0, names, comment, group, text))
        else:
            module = statement.module or ""
            lines.append(_Line(False, module, statement.level, names, comment, group, text))
    ours = [x.text.strip() not in before for x in lines]
    if not any(ours):
        return code
    # Which groups hold first-party modules: a non-stdlib group after another one.
    third_party_seen = False
    first_party: set[int] = set()
    for number in sorted({x.group for x in lines}):
        members = [x for x in lines if x.group == number and x.module.split(".")[0] != _OURS]
        if members and all(not x.level and x.module.split(".")[0] not in _STDLIB for x in members):
            if third_party_seen:
                first_party.add(number)
            third_party_seen = True
    # The untouched imports must already be in this order: else the user sorts otherwise.
    theirs = [x for x, new in zip(lines, ours, strict=True) if not new]
    expected = ["\n".join(section) for section in _ordered(theirs, first_party, local)]
    actual = [
        "\n".join(x.text for x in theirs if x.group == g) for g in sorted({x.group for x in theirs})
    ]
    if expected != actual:
        return code
    merged = _merge_ours(lines, ours)
    if merged is None:
        return code
    newline = re.search(r"\r\n|\r|\n", source[first - 1])
    end = newline.group() if newline else "\n"
    sections = _ordered(merged, first_party, local)
    text = (end * 2).join(end.join(section) for section in sections) + end
    return "".join(source[: first - 1]) + text + "".join(source[last:])

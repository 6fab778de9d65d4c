"""Rewrite asyncio's subprocess API to anysubprocess: decide from the analysis, then edit the tree.

Only three kinds of edit are made, so formatting, comments and strings elsewhere are untouched:

- an attribute chain on the asyncio package (``aio.subprocess.PIPE``) becomes one on
  ``anysubprocess`` (``anysubprocess.PIPE``);
- an import alias changes its module (``from asyncio import create_subprocess_exec as spawn`` ->
  ``from anysubprocess import create_subprocess_exec as spawn``), and is split off into an import
  of its own when the statement also imports names that stay asyncio's;
- ``import asyncio`` becomes ``import anysubprocess`` once nothing else uses it, and otherwise
  stays, with ``import anysubprocess`` added after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field

import libcst as cst

from ._mocks import FACTORIES, message, object_target, string_target
from ._uses import MIRRORED, STAR_NAMES, Analysis, Binding, Use

# Qualified asyncio name -> its name in anysubprocess.
REWRITES: dict[str, str] = {
    "asyncio.create_subprocess_exec": "create_subprocess_exec",
    "asyncio.create_subprocess_shell": "create_subprocess_shell",
    "asyncio.subprocess": "subprocess",
    **{f"asyncio.subprocess.{name}": name for name in MIRRORED},
}


@dataclass
class Issue:
    """A finding before positions are known: the node to point at, the code, the message."""

    node: cst.CSTNode
    code: str
    message: str


@dataclass
class Plan:
    """The edits to make, keyed by the original nodes."""

    replace: dict[int, str] = field(default_factory=dict)  # Attribute -> dotted replacement
    strings: dict[int, str] = field(default_factory=dict)  # string annotation -> new literal
    rename: dict[int, str] = field(default_factory=dict)  # Import alias -> new dotted name
    unalias: set[int] = field(default_factory=set)  # renamed aliases that lose their `as`
    drop: set[int] = field(default_factory=set)  # aliases to remove from their statement
    move: dict[int, list[cst.ImportAlias]] = field(default_factory=dict)  # ImportFrom -> aliases
    to_anysubprocess: set[int] = field(default_factory=set)  # ImportFrom: whole module changes
    after: dict[int, list[cst.BaseSmallStatement]] = field(default_factory=dict)  # stmt -> new
    issues: list[Issue] = field(default_factory=list)
    mocked: set[str] = field(default_factory=set)  # factories whose mocks were left (ASP302)

    def add_after(self, stmt: cst.CSTNode, new: cst.BaseSmallStatement) -> None:
        self.after.setdefault(id(stmt), []).append(new)

    @property
    def empty(self) -> bool:
        return not (
            self.replace
            or self.strings
            or self.rename
            or self.move
            or self.to_anysubprocess
            or self.after
        )


def _dotted(name: str) -> cst.Attribute | cst.Name:
    node: cst.Attribute | cst.Name = cst.Name(name.split(".")[0])
    for part in name.split(".")[1:]:
        node = cst.Attribute(value=node, attr=cst.Name(part))
    return node


def _import(name: str) -> cst.Import:
    return cst.Import(names=[cst.ImportAlias(name=_dotted(name))])


def _unmirrored(use: Use, index: int, plan: Plan) -> bool:
    """Whether ``use`` reaches into asyncio.subprocess for a name we do not provide (and say so)."""
    if len(use.chain) > index and use.qualified[index - 1] == "asyncio.subprocess":
        name = use.qualified[index].rsplit(".", 1)[1]
        if name not in MIRRORED:
            plan.issues.append(
                Issue(
                    use.chain[0],
                    "ASP201",
                    f"asyncio.subprocess.{name} has no anysubprocess equivalent; left unchanged",
                )
            )
            return True
    return False


_BY_HAND = (
    "asyncio.subprocess.Process built by hand (from a transport and a protocol) left unchanged: "
    "anysubprocess.Process is not built that way; it stays asyncio's"
)


def _built_by_hand(
    use: Use, index: int, plan: Plan, parents: Mapping[cst.CSTNode, cst.CSTNode]
) -> bool:
    """Whether ``use`` calls ``asyncio.subprocess.Process(...)`` itself (and say so)."""
    if len(use.chain) <= index or use.qualified[index] != "asyncio.subprocess.Process":
        return False
    node = use.chain[index]
    parent = parents.get(node)
    if isinstance(parent, cst.Call) and parent.func is node:
        plan.issues.append(Issue(use.chain[0], "ASP203", _BY_HAND))
        return True
    return False


def _bound_name(binding: Binding) -> str:
    if binding.alias.asname is not None:
        name = binding.alias.asname.name
        assert isinstance(name, cst.Name)
        return name.value
    return "asyncio"


def _plan_string(node: cst.CSTNode, bound: str, plan: Plan) -> tuple[bool, bool]:
    """Rewrite asyncio's subprocess names inside a string annotation, as in code.

    Returns (rewritten, something of asyncio's left). ``"asyncio.subprocess.Process | None"``
    becomes ``"anysubprocess.Process | None"``; a string the tool cannot rewrite safely (a
    prefix, an escape, a concatenation) is reported (ASP303), since mypy would fail on it.
    """
    text = node.evaluated_value if isinstance(node, cst.SimpleString) else None
    if not isinstance(node, cst.SimpleString) or not isinstance(text, str):
        if "subprocess" in cst.Module([]).code_for_node(node):
            plan.issues.append(Issue(node, "ASP303", _UNREWRITABLE))
        return False, True
    quote = node.quote
    body = node.value[len(node.prefix) + len(quote) : -len(quote)]
    try:
        expression = cst.parse_expression(text)
    except cst.ParserSyntaxError:
        return False, True
    found = _StringChains(bound)
    expression.visit(found)
    if not found.edits:
        return False, found.left
    if node.prefix or body != text:
        plan.issues.append(Issue(node, "ASP303", _UNREWRITABLE))
        return False, True
    new = expression.visit(_ReplaceChains(found.edits))
    assert isinstance(new, cst.BaseExpression)
    plan.strings[id(node)] = f"{quote}{cst.Module([]).code_for_node(new)}{quote}"
    return True, found.left


_UNREWRITABLE = (
    "string annotation names asyncio's subprocess API and cannot be rewritten safely; "
    "write it as anysubprocess.Process (mypy fails on the migrated code until then)"
)


class _StringChains(cst.CSTVisitor):
    """The attribute chains headed by ``bound`` in a string annotation's expression."""

    def __init__(self, bound: str) -> None:
        super().__init__()
        self.bound = bound
        self.edits: dict[int, str] = {}
        self.left = False  # a chain of asyncio's that stays

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        chain: list[cst.BaseExpression] = [node]
        while isinstance(chain[-1], cst.Attribute):
            chain.append(chain[-1].value)
        head = chain[-1]
        if not isinstance(head, cst.Name) or head.value != self.bound:
            return True
        chain.reverse()  # head first
        names = ["asyncio"]
        for link in chain[1:]:
            assert isinstance(link, cst.Attribute)
            names.append(f"{names[-1]}.{link.attr.value}")
        for k in range(len(chain) - 1, 0, -1):
            new = REWRITES.get(names[k])
            unmirrored = names[k] == "asyncio.subprocess" and k + 1 < len(chain)
            if new is not None and not unmirrored:
                self.edits[id(chain[k])] = f"anysubprocess.{new}"
                return False
        self.left = True
        return False

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.bound:
            self.left = True


class _ReplaceChains(cst.CSTTransformer):
    def __init__(self, edits: Mapping[int, str]) -> None:
        super().__init__()
        self.edits = edits

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        new = self.edits.get(id(original_node))
        return updated_node if new is None else _dotted(new)


def _plan_package(
    binding: Binding,
    plan: Plan,
    provided: set[tuple[int, str]],
    parents: Mapping[cst.CSTNode, cst.CSTNode],
    patchable: Set[str],
) -> None:
    """``import asyncio [as aio]``: rewrite the uses that are subprocess API."""
    rewritten = remaining = 0
    submodule = False
    bound = _bound_name(binding)
    for use in binding.uses:
        mocked = object_target(use.chain[-1], parents) if use.chain else None
        if mocked is not None and use.qualified[-1] in ("asyncio", "asyncio.subprocess"):
            if mocked in patchable:  # patch.object(asyncio, "create_subprocess_exec", ...)
                plan.replace[id(use.chain[-1])] = "anysubprocess"
                rewritten += 1
            else:
                plan.issues.append(Issue(use.chain[0], "ASP302", message(mocked)))
                plan.mocked.add(mocked)
                remaining += 1
            continue
        if not use.chain:  # a use inside a string annotation
            done, left = _plan_string(use.node, bound, plan)
            rewritten += done
            remaining += left
            continue
        target = next(
            (k for k in range(len(use.chain) - 1, -1, -1) if use.qualified[k] in REWRITES), None
        )
        if (
            target is None
            or _unmirrored(use, target + 1, plan)
            or _built_by_hand(use, target, plan, parents)
        ):
            remaining += 1
            continue
        if use.is_store and target == len(use.chain) - 1:
            name = use.qualified[target]
            plan.issues.append(
                Issue(
                    use.chain[0],
                    "ASP301",
                    f"assignment to {name} left unchanged; code migrated to anysubprocess "
                    f"will not see it (patch anysubprocess.{REWRITES[name]})",
                )
            )
            remaining += 1
            continue
        new = REWRITES[use.qualified[target]]
        plan.replace[id(use.chain[target])] = f"anysubprocess.{new}"
        submodule |= new == "subprocess"
        rewritten += 1
    if not rewritten:
        return
    module = "anysubprocess.subprocess" if submodule else "anysubprocess"
    # `import anysubprocess` alone may not load the .subprocess submodule: import it by name.
    key = (id(binding.scope), module)
    have = key in provided or (not submodule and binding.has_anysubprocess)
    provided.add(key)
    stmt = binding.stmt
    assert isinstance(stmt, cst.Import)
    if remaining:
        if not have:
            plan.add_after(stmt, _import(module))
    elif have:  # `import asyncio` + `import asyncio.subprocess`: one `import anysubprocess`
        plan.drop.add(id(binding.alias))
    else:
        plan.rename[id(binding.alias)] = module
        plan.unalias.add(id(binding.alias))


def _called_on_the_module(analysis: Analysis) -> set[str]:
    """The factories this module calls as attributes of asyncio (``asyncio.create_...``)."""
    called = set()
    for binding in analysis.bindings:
        if binding.kind in ("asyncio", "subprocess"):
            for use in binding.uses:
                for name in use.qualified[1:]:
                    factory = name.rsplit(".", 1)[1]
                    if factory in FACTORIES and name.startswith("asyncio."):
                        called.add(factory)
    return called


def plan(analysis: Analysis, patchable: Set[str] = frozenset()) -> Plan:
    """Decide every edit, and the ASP2xx/ASP3xx findings for what is left unchanged.

    ``patchable``: factories that code elsewhere in the run (in modules this one imports) calls
    as asyncio's attributes, so that a mock of them here moves with it.
    """
    result = Plan()
    patchable = {*patchable, *_called_on_the_module(analysis)}
    for node in analysis.parents:
        if isinstance(node, cst.SimpleString):
            factory = string_target(node, analysis.parents)
            if factory is None:
                continue
            if factory in patchable:  # mock.patch("asyncio.create_subprocess_exec")
                result.strings[id(node)] = f"{node.quote}anysubprocess.{factory}{node.quote}"
            else:
                result.issues.append(Issue(node, "ASP302", message(factory)))
                result.mocked.add(factory)
    # (scope, module): scopes that have (or will have) `import anysubprocess[.subprocess]`
    provided: set[tuple[int, str]] = set()
    for binding in analysis.bindings:
        if binding.kind == "asyncio":
            _plan_package(binding, result, provided, analysis.parents, patchable)
        elif binding.kind == "subprocess":
            blocked = [
                u
                for u in binding.uses
                if _unmirrored(u, 1, result) or _built_by_hand(u, 1, result, analysis.parents)
            ]
            if not blocked:
                _plan_move(binding, result)
        elif binding.kind == "name":
            by_hand = [u for u in binding.uses if _built_by_hand(u, 0, result, analysis.parents)]
            if not by_hand:
                _plan_move(binding, result)
        elif binding.target.startswith("asyncio.subprocess."):
            name = binding.target.rsplit(".", 1)[1]
            result.issues.append(
                Issue(
                    binding.alias,
                    "ASP201",
                    f"asyncio.subprocess.{name} has no anysubprocess equivalent; left unchanged",
                )
            )
    added: set[str] = set()  # names already imported from anysubprocess after a star import
    for star in analysis.stars:
        used = sorted(n for n in STAR_NAMES if n in analysis.unresolved)
        new = [n for n in used if n not in added]
        added.update(used)
        result.issues.append(
            Issue(
                star,
                "ASP202",
                "star import from asyncio: import the names you use"
                + (f"; {', '.join(used)} now imported from anysubprocess" if used else ""),
            )
        )
        if new:
            result.add_after(
                star,
                cst.ImportFrom(
                    module=cst.Name("anysubprocess"),
                    names=[cst.ImportAlias(name=cst.Name(n)) for n in new],
                ),
            )
    return result


def _plan_move(binding: Binding, plan: Plan) -> None:
    stmt = binding.stmt
    if isinstance(stmt, cst.Import):  # import asyncio.subprocess as sp
        plan.rename[id(binding.alias)] = "anysubprocess.subprocess"
        return
    assert not isinstance(stmt.names, cst.ImportStar)
    moved = plan.move.setdefault(id(stmt), [])
    moved.append(binding.alias)
    if len(moved) == len(stmt.names):
        plan.to_anysubprocess.add(id(stmt))


def _without(
    aliases: Sequence[cst.ImportAlias], keep: Sequence[bool], parenthesized: bool
) -> list[cst.ImportAlias]:
    kept = [a for a, k in zip(aliases, keep, strict=True) if k]
    if kept and not parenthesized:  # a trailing comma is only allowed inside parentheses
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    elif kept and not keep[-1]:
        # The last line of a parenthesized list was removed: its new last alias takes over the
        # indentation before the closing parenthesis, and keeps its own comment.
        last, gone = kept[-1].comma, aliases[-1].comma
        if (
            isinstance(last, cst.Comma)
            and isinstance(gone, cst.Comma)
            and isinstance(last.whitespace_after, cst.ParenthesizedWhitespace)
            and isinstance(gone.whitespace_after, cst.ParenthesizedWhitespace)
        ):
            after = last.whitespace_after.with_changes(
                indent=gone.whitespace_after.indent, last_line=gone.whitespace_after.last_line
            )
            kept[-1] = kept[-1].with_changes(comma=last.with_changes(whitespace_after=after))
    return kept


class Rewriter(cst.CSTTransformer):
    """Carries out a :class:`Plan` on the tree it was made from."""

    def __init__(self, plan: Plan, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> None:
        super().__init__()
        self.plan = plan
        self.inherits: set[int] = set()  # new statements that keep their line's noqa comment
        # Only the nodes to edit and their ancestors are visited: libcst rebuilds every node it
        # visits, and most of a module has nothing to change.
        targets = {*plan.replace, *plan.strings, *plan.rename, *plan.drop, *plan.move, *plan.after}
        targets |= plan.to_anysubprocess
        self.wanted: set[int] = set()
        for node in parents:
            if id(node) in targets:
                while id(node) not in self.wanted:
                    self.wanted.add(id(node))
                    parent = parents.get(node)
                    if parent is None:
                        break
                    node = parent

    def on_visit(self, node: cst.CSTNode) -> bool:
        return id(node) in self.wanted

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        new = self.plan.replace.get(id(original_node))
        if new is None:
            return updated_node
        return _dotted(new).with_changes(lpar=updated_node.lpar, rpar=updated_node.rpar)

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        new = self.plan.replace.get(id(original_node))
        return updated_node if new is None else updated_node.with_changes(value=new)

    def leave_SimpleString(
        self, original_node: cst.SimpleString, updated_node: cst.SimpleString
    ) -> cst.SimpleString:
        new = self.plan.strings.get(id(original_node))
        return updated_node if new is None else updated_node.with_changes(value=new)

    def leave_Import(
        self, original_node: cst.Import, updated_node: cst.Import
    ) -> cst.Import | cst.RemovalSentinel:
        names = []
        for orig, alias in zip(original_node.names, updated_node.names, strict=True):
            new = self.plan.rename.get(id(orig))
            if new is not None:
                alias = alias.with_changes(name=_dotted(new))
                if id(orig) in self.plan.unalias:
                    alias = alias.with_changes(asname=None)
            names.append(alias)
        keep = [id(a) not in self.plan.drop for a in original_node.names]
        if not any(keep):  # the scope imports anysubprocess elsewhere already
            return cst.RemoveFromParent()
        return updated_node.with_changes(names=_without(names, keep, parenthesized=False))

    def leave_ImportFrom(
        self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom
    ) -> cst.ImportFrom:
        if id(original_node) in self.plan.to_anysubprocess:
            return updated_node.with_changes(module=cst.Name("anysubprocess"))
        moved = self.plan.move.get(id(original_node))
        if not moved:
            return updated_node
        assert not isinstance(original_node.names, cst.ImportStar)
        assert not isinstance(updated_node.names, cst.ImportStar)
        gone = {id(a) for a in moved}
        keep = [id(a) not in gone for a in original_node.names]
        split = cst.ImportFrom(
            module=cst.Name("anysubprocess"),
            names=[a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in moved],
        )
        self.plan.add_after(original_node, split)
        self.inherits.add(id(split))
        return updated_node.with_changes(
            names=_without(updated_node.names, keep, parenthesized=updated_node.lpar is not None)
        )

    def _added(self, body: Sequence[cst.BaseSmallStatement]) -> list[cst.BaseSmallStatement]:
        return [new for small in body for new in self.plan.after.get(id(small), [])]

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        added = self._added(original_node.body)
        if not added:
            return updated_node
        # Names split off a `from asyncio import ...` keep that line's noqa comment.
        trailing = updated_node.trailing_whitespace
        noqa = trailing.comment is not None and "noqa" in trailing.comment.value
        return cst.FlattenSentinel(
            [
                updated_node,
                *(
                    cst.SimpleStatementLine(body=[new], trailing_whitespace=trailing)
                    if noqa and id(new) in self.inherits
                    else cst.SimpleStatementLine(body=[new])
                    for new in added
                ),
            ]
        )

    def leave_SimpleStatementSuite(
        self, original_node: cst.SimpleStatementSuite, updated_node: cst.SimpleStatementSuite
    ) -> cst.BaseSuite:
        added = self._added(original_node.body)
        if not added:
            return updated_node
        return updated_node.with_changes(body=[*updated_node.body, *added])

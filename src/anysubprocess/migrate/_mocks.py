"""Mocks of asyncio's factories in tests: find them, and decide whether their target moves.

``mock.patch("asyncio.create_subprocess_exec")``,
``patch.object(asyncio, "create_subprocess_exec")``,
``monkeypatch.setattr(asyncio, "create_subprocess_exec", fake)`` and
``monkeypatch.setattr("asyncio.create_subprocess_exec", fake)`` replace an attribute of the
asyncio module. They reach code that looks the factory up on the module at call time
(``asyncio.create_subprocess_exec(...)``), which the migration turns into
``anysubprocess.create_subprocess_exec(...)``: the mock must follow, or the real program runs in
the test. The target is rewritten when that is unambiguous: code in the same module, or in a
module it imports among the files migrated, calls the factory that way. Otherwise it is reported
(ASP302): the code under test may be outside the run, or import the name directly, which the
mock never reached.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import libcst as cst

_TARGET = re.compile(r"^asyncio(?:\.subprocess)?\.(create_subprocess_(?:exec|shell))$")
FACTORIES = frozenset({"create_subprocess_exec", "create_subprocess_shell"})
_BY_STRING = frozenset({"patch", "setattr"})  # mock.patch("..."), monkeypatch.setattr("...", x)
_BY_OBJECT = frozenset({"object", "setattr"})  # patch.object(m, "..."), monkeypatch.setattr(m, ..)


def _tail(call: cst.Call) -> str | None:
    func = call.func
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return None


def _first_arg_of(node: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> cst.Call | None:
    arg = parents.get(node)
    call = parents.get(arg) if isinstance(arg, cst.Arg) else None
    if not isinstance(call, cst.Call) or not isinstance(arg, cst.Arg):
        return None
    if arg.keyword is None and call.args[0] is arg:
        return call
    if arg.keyword is not None and arg.keyword.value == "target":  # patch(target="...")
        return call
    return None


def string_target(node: cst.SimpleString, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> str | None:
    """The factory a ``patch("asyncio.create_subprocess_exec")``-style mock names, or None."""
    value = node.evaluated_value
    match = _TARGET.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    call = _first_arg_of(node, parents)
    if call is None or _tail(call) not in _BY_STRING:
        return None
    return match.group(1)


def object_target(
    module: cst.BaseExpression, parents: Mapping[cst.CSTNode, cst.CSTNode]
) -> str | None:
    """The factory a ``patch.object(asyncio, "create_subprocess_exec")``-style mock names."""
    call = _first_arg_of(module, parents)
    if call is None or _tail(call) not in _BY_OBJECT or len(call.args) < 2:
        return None
    name = call.args[1].value
    value = name.evaluated_value if isinstance(name, cst.SimpleString) else None
    return value if value in FACTORIES else None


def message(factory: str) -> str:
    return (
        f"mock of asyncio.{factory} left unchanged: nothing in this module or the modules it "
        f"imports (among the files migrated) calls asyncio.{factory}, so it is not known which "
        f"name the code under test will call; after the migration, code that called "
        f"asyncio.{factory} calls anysubprocess.{factory}: patch that"
    )

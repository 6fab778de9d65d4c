"""The report, from the stdlib's ``ast`` (no libcst): what blocks trio, and whether to rewrite.

A byte-level prefilter first: a module that does not import asyncio (and names none of its
subprocess factories, say in a mock's target) has nothing to report or rewrite, and is not
parsed. Then one ``ast`` parse and two passes: the first builds the scopes (what each name is
bound to, per function, class and comprehension, as Python resolves them: flow-insensitive, class
bodies not seen from their methods), the second resolves every name and attribute chain through
them. Event-loop methods are reported only on a value the code shows to be a loop:
``asyncio.get_running_loop()`` (or ``get_event_loop``/``new_event_loop``), a name or
``self.attribute`` assigned one, or a name annotated ``AbstractEventLoop``.

libcst (a full concrete tree and its scope analysis, 20-50 times the cost of ``ast``) is left to
the modules this scan says have something to rewrite.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field

from ._codes import CODES, SUBCLASSES_SINCE, Finding

_BY_CODE: dict[str, tuple[str, ...]] = {
    "ASP100": ("run", "Runner"),
    "ASP101": ("sleep",),
    "ASP102": ("wait_for",),
    "ASP103": ("timeout", "timeout_at"),
    "ASP104": ("gather", "wait", "as_completed"),
    "ASP105": ("create_task", "ensure_future", "TaskGroup", "Task", "Future"),
    "ASP106": ("Event",),
    "ASP107": ("Lock", "Semaphore", "BoundedSemaphore", "Condition", "Barrier"),
    "ASP108": ("Queue", "LifoQueue", "PriorityQueue"),
    "ASP109": (
        "get_event_loop",
        "get_running_loop",
        "new_event_loop",
        "set_event_loop",
        "get_event_loop_policy",
        "set_event_loop_policy",
        "AbstractEventLoop",
    ),
    "ASP111": ("to_thread",),
    "ASP113": ("shield",),
    "ASP114": ("CancelledError",),
    "ASP115": (
        "open_connection",
        "start_server",
        "open_unix_connection",
        "start_unix_server",
        "StreamReader",
        "StreamWriter",
    ),
    "ASP116": ("current_task", "all_tasks"),
    "ASP117": ("wrap_future", "run_coroutine_threadsafe"),
    "ASP119": (
        "get_child_watcher",
        "set_child_watcher",
        "AbstractChildWatcher",
        "ThreadedChildWatcher",
        "PidfdChildWatcher",
        "SafeChildWatcher",
        "FastChildWatcher",
        "MultiLoopChildWatcher",
    ),
}
# asyncio name -> code
BLOCKERS: dict[str, str] = {name: code for code, names in _BY_CODE.items() for name in names}

# Event-loop method -> code: reported on a value the code shows to be a loop.
LOOP_METHODS: dict[str, str] = {
    "run_until_complete": "ASP100",
    "run_forever": "ASP100",
    "subprocess_exec": "ASP110",
    "subprocess_shell": "ASP110",
    "run_in_executor": "ASP111",
    "call_soon": "ASP112",
    "call_soon_threadsafe": "ASP112",
    "call_later": "ASP112",
    "call_at": "ASP112",
    "create_future": "ASP112",
    "add_reader": "ASP112",
    "add_writer": "ASP112",
    "add_signal_handler": "ASP112",
    "connect_read_pipe": "ASP118",
    "connect_write_pipe": "ASP118",
    "set_task_factory": "ASP120",
    "get_task_factory": "ASP120",
}

# asyncio's submodules: `asyncio.events.get_event_loop` is `asyncio.get_event_loop`.
_SUBMODULES = frozenset(
    {
        "base_events",
        "coroutines",
        "events",
        "exceptions",
        "futures",
        "locks",
        "protocols",
        "queues",
        "runners",
        "streams",
        "tasks",
        "taskgroups",
        "timeouts",
        "threads",
        "unix_events",
    }
)
_LOOP_FACTORIES = frozenset({"get_running_loop", "get_event_loop", "new_event_loop"})
_LOOP_TYPES = frozenset({"AbstractEventLoop", "BaseEventLoop", "SelectorEventLoop"})
# What the rewrite (libcst) acts on: asyncio's subprocess API, by any of its names.
_REWRITTEN = frozenset({"asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell"})
_MOCK_STRING = re.compile(r"^asyncio(\.subprocess)?\.create_subprocess_(exec|shell)$")
_FACTORY_NAMES = frozenset({"create_subprocess_exec", "create_subprocess_shell"})
_HELD_BY_SUBCLASSING = frozenset({"StreamReader", "StreamWriter"})

# An absolute import of asyncio, in any form. Without one, no name can be asyncio's.
_IMPORTS_ASYNCIO = re.compile(rb"\bimport[ \t]+[^\n;#]*\basyncio\b|\bfrom[ \t]+asyncio\b")
# A string naming asyncio's factories (a mock's target) is worth a look too.
_NAMES_FACTORY = re.compile(rb"create_subprocess_")


def prefilter(source: bytes) -> bool:
    """Whether ``source`` can hold anything to report or rewrite (a cheap byte search)."""
    if b"asyncio" not in source:
        return False
    return bool(_IMPORTS_ASYNCIO.search(source) or _NAMES_FACTORY.search(source))


def needs_rewrite(source: str | bytes) -> bool:
    """Without a parse: whether ``source`` names asyncio's subprocess API at all."""
    raw = source.encode() if isinstance(source, str) else source
    return b"asyncio" in raw and (b"asyncio.subprocess" in raw or b"create_subprocess_" in raw)


class _Scope:
    __slots__ = ("is_class", "names", "parent", "star")

    def __init__(self, parent: _Scope | None, is_class: bool = False) -> None:
        self.parent = parent
        self.is_class = is_class
        # name -> what an asyncio import binds it to (e.g. "asyncio", "asyncio.sleep"), or
        # None when something else binds it
        self.names: dict[str, str | None] = {}
        self.star = False  # `from asyncio import *` (the module scope's only)

    def bind(self, name: str, target: str | None = None) -> None:
        if target is not None or self.names.get(name) is None:  # an asyncio import wins
            self.names[name] = target


@dataclass
class _Chain:
    """A name, or an attribute chain headed by one: ``aio.subprocess.PIPE``."""

    head: ast.Name
    parts: list[str]
    outer: ast.expr
    scope: _Scope


@dataclass
class Scan:
    """What the scan found: findings, and whether libcst has work to do."""

    findings: list[Finding] = field(default_factory=list)
    rewrite: bool = False
    # The file cannot be parsed (an ASP001 finding is in findings).
    error: str | None = None
    # For mocks in other modules (the command line's second look, see _mocks.py): the factories
    # called as asyncio.<factory>, and the absolute modules imported.
    called: set[str] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)
    # No shadowing of asyncio's names: the rewrite can do without libcst's scope analysis.
    simple: bool = False


class _Collector(ast.NodeVisitor):
    """Pass 1: scopes and bindings; the chains, loop-method calls and assignments to resolve."""

    def __init__(self) -> None:
        self.module = _Scope(None)
        self.scope = self.module
        self.chains: list[_Chain] = []
        self.methods: list[tuple[ast.Attribute, _Scope]] = []
        self.assigned: list[tuple[ast.expr, ast.expr | None, ast.expr | None, _Scope]] = []
        self.isinstance_args: set[int] = set()
        # What libcst rewrites in strings: a mock's target, a string annotation naming asyncio's
        # subprocess API. (Other strings, docstrings included, it leaves alone.)
        self.string_work = False
        self.factory_imports = False
        self.imports: set[str] = set()
        self.any_star = False  # a star import from asyncio or asyncio.subprocess
        self.other_bound: set[str] = set()  # names bound by anything but an asyncio import
        self.import_bound: dict[str, bool] = {}  # names asyncio imports bind -> module-level?

    def _bind(self, name: str, target: str | None = None) -> None:
        self.scope.bind(name, target)
        if target is None:
            self.other_bound.add(name)
        else:
            self.import_bound[name] = self.import_bound.get(name, True) and (
                self.scope is self.module
            )

    @property
    def simple(self) -> bool:
        """Whether every name an asyncio import binds is bound by module-level imports only.

        Then every load of such a name is a use of the import, and the rewrite can do without
        libcst's scope analysis (most of its cost).
        """
        return not self.any_star and not any(
            name in self.other_bound or not module_level
            for name, module_level in self.import_bound.items()
        )

    # -- scopes --------------------------------------------------------------------------
    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d)]:
            self.visit(default)
        if not isinstance(node, ast.Lambda):
            self._bind(node.name)
            for decorator in node.decorator_list:
                self.visit(decorator)
            if node.returns is not None:
                self._annotation(node.returns)
        outer, self.scope = self.scope, _Scope(self.scope)
        arguments = node.args
        for arg in [
            *arguments.posonlyargs,
            *arguments.args,
            *([arguments.vararg] if arguments.vararg else []),
            *arguments.kwonlyargs,
            *([arguments.kwarg] if arguments.kwarg else []),
        ]:
            self._bind(arg.arg)
            if arg.annotation is not None:
                outer_scope, self.scope = self.scope, outer
                self._annotation(arg.annotation)
                self.scope = outer_scope
                target = ast.Name(arg.arg, ast.Store())
                self.assigned.append((target, None, arg.annotation, self.scope))
        if isinstance(node, ast.Lambda):
            self.visit(node.body)
        else:
            for statement in node.body:
                self.visit(statement)
        self.scope = outer

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._bind(node.name)
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expr)
        outer, self.scope = self.scope, _Scope(self.scope, is_class=True)
        for statement in node.body:
            self.visit(statement)
        self.scope = outer

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
    ) -> None:
        self.visit(node.generators[0].iter)  # evaluated in the enclosing scope
        outer, self.scope = self.scope, _Scope(self.scope)
        for i, generator in enumerate(node.generators):
            self.visit(generator.target)
            if i:
                self.visit(generator.iter)
            for condition in generator.ifs:
                self.visit(condition)
        if isinstance(node, ast.DictComp):
            self.visit(node.key)
            self.visit(node.value)
        else:
            self.visit(node.elt)
        self.scope = outer

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension

    # -- bindings ------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imports.add(alias.name)
            if alias.name == "asyncio" or alias.name.startswith("asyncio."):
                if alias.asname is None:
                    self._bind("asyncio", "asyncio")
                else:
                    self._bind(alias.asname, alias.name)
                self.factory_imports |= alias.name == "asyncio.subprocess"
            else:
                self._bind(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        is_asyncio = not node.level and (module == "asyncio" or module.startswith("asyncio."))
        if not node.level:
            self.imports.add(module)
            self.imports.update(f"{module}.{alias.name}" for alias in node.names)
        for alias in node.names:
            if alias.name == "*":
                if is_asyncio and module in ("asyncio", "asyncio.subprocess"):
                    self.module.star |= module == "asyncio"
                    self.any_star = True
                    self.factory_imports = True
                continue
            target = f"{module}.{alias.name}" if is_asyncio else None
            self._bind(alias.asname or alias.name, target)
            if target is not None and (
                module == "asyncio.subprocess"
                or alias.name in _FACTORY_NAMES
                or alias.name == "subprocess"
            ):
                self.factory_imports = True

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            self.scope.names.pop(name, None)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self._bind(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self._bind(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self._bind(node.rest)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self.assigned.append((target, node.value, None, self.scope))
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.assigned.append((node.target, node.value, node.annotation, self.scope))
        self.visit(node.target)
        self._annotation(node.annotation)
        if node.value is not None:
            self.visit(node.value)

    # -- uses ----------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self._bind(node.id)
        else:
            self.chains.append(_Chain(node, [node.id], node, self.scope))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in LOOP_METHODS:
            self.methods.append((node, self.scope))
        parts = [node.attr]
        value = node.value
        while isinstance(value, ast.Attribute):
            parts.append(value.attr)
            value = value.value
        if isinstance(value, ast.Name) and isinstance(value.ctx, ast.Load):
            parts.append(value.id)
            self.chains.append(_Chain(value, parts[::-1], node, self.scope))
        else:
            self.visit(value)

    def visit_Call(self, node: ast.Call) -> None:
        self.string_work |= _is_mock(node)
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in ("isinstance", "issubclass")
            and len(node.args) == 2
        ):
            classes = node.args[1]
            elements = classes.elts if isinstance(classes, ast.Tuple) else [classes]
            self.isinstance_args.update(id(e) for e in elements)
        self.generic_visit(node)

    def _annotation(self, annotation: ast.expr) -> None:
        for node in ast.walk(annotation):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                self.string_work |= "subprocess" in node.value or "Process" in node.value
        self.visit(annotation)


def _is_mock(call: ast.Call) -> bool:
    """Whether ``call`` mocks asyncio's factories as ``_mocks`` sees it (there, with libcst).

    ``patch("asyncio.create_subprocess_exec")``, ``patch.object(m, "create_subprocess_exec")``,
    and both ``monkeypatch.setattr`` forms.
    """
    func = call.func
    tail = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    targets = [*call.args[:1], *(k.value for k in call.keywords if k.arg == "target")]
    if tail in ("patch", "setattr") and any(
        isinstance(t, ast.Constant) and isinstance(t.value, str) and _MOCK_STRING.match(t.value)
        for t in targets
    ):
        return True
    return (
        tail in ("object", "setattr")
        and len(call.args) >= 2
        and isinstance(call.args[1], ast.Constant)
        and call.args[1].value in _FACTORY_NAMES
    )


class _Resolver:
    """Pass 2: what each chain stands for, and which values are event loops."""

    def __init__(self, collector: _Collector) -> None:
        self.c = collector
        self.loop_names: set[tuple[int, str]] = set()
        self.loop_attrs: set[str] = set()
        for _ in range(2):  # `loop2 = loop` after `loop = asyncio.get_running_loop()`
            for target, value, annotation, scope in collector.assigned:
                if (value is not None and self.is_loop(value, scope)) or (
                    annotation is not None and self.is_loop_type(annotation, scope)
                ):
                    self._mark(target, scope)

    def lookup(self, name: str, scope: _Scope) -> tuple[str | None, _Scope | None]:
        """What ``name`` used in ``scope`` is bound to by an asyncio import, and where."""
        owner = self._binder(name, scope)
        if owner is not None:
            return owner.names[name], owner
        if self.c.module.star:  # `from asyncio import *` (only allowed at module level)
            return f"asyncio.{name}", None
        return None, None

    def qualify(self, expr: ast.expr, scope: _Scope) -> str | None:
        dotted = _dotted(expr)
        if dotted is None:
            return None
        head, dot, rest = dotted.partition(".")
        target, _ = self.lookup(head, scope)
        if target is None:
            return None
        return target + dot + rest

    def is_loop(self, expr: ast.expr, scope: _Scope) -> bool:
        if isinstance(expr, ast.Call):
            return _asyncio_name(self.qualify(expr.func, scope)) in _LOOP_FACTORIES
        if isinstance(expr, ast.Name):
            owner = self._binder(expr.id, scope)
            return owner is not None and (id(owner), expr.id) in self.loop_names
        dotted = _dotted(expr)
        return dotted is not None and dotted in self.loop_attrs

    def _binder(self, name: str, scope: _Scope) -> _Scope | None:
        current: _Scope | None = scope
        first = True
        while current is not None:
            if (first or not current.is_class) and name in current.names:
                return current
            first = False
            current = current.parent
        return None

    def is_loop_type(self, annotation: ast.expr, scope: _Scope) -> bool:
        for node in ast.walk(annotation):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                try:
                    inner = ast.parse(node.value.strip(), mode="eval").body
                except SyntaxError:
                    continue
                if self.is_loop_type(inner, scope):
                    return True
            elif (
                isinstance(node, (ast.Name, ast.Attribute))
                and _asyncio_name(self.qualify(node, scope)) in _LOOP_TYPES
            ):
                return True
        return False

    def _mark(self, target: ast.expr, scope: _Scope) -> None:
        if isinstance(target, ast.Name):
            owner = self._binder(target.id, scope) or scope
            self.loop_names.add((id(owner), target.id))
            if scope.is_class:  # `_loop: AbstractEventLoop` in a class body
                self.loop_attrs.add(f"self.{target.id}")
        else:
            dotted = _dotted(target)
            if dotted is not None:  # self._loop = asyncio.get_running_loop()
                self.loop_attrs.add(dotted)


def _dotted(expr: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    return ".".join([expr.id, *reversed(parts)])


def _asyncio_name(qualified: str | None) -> str | None:
    """``asyncio.X`` or ``asyncio.<submodule>.X`` -> ``X``; anything else -> None."""
    if qualified is None:
        return None
    parts = qualified.split(".")
    if parts[0] != "asyncio" or len(parts) < 2:
        return None
    if len(parts) == 2:
        return parts[1]
    if len(parts) == 3 and parts[1] in _SUBMODULES:
        return parts[2]
    return None


def _message(what: str, code: str) -> str:
    return f"{what} does not run under trio; use {CODES[code].instead}"


class _Columns:
    """ast's columns are UTF-8 byte offsets; findings count characters (as libcst, ruff)."""

    def __init__(self, text: str) -> None:
        self.lines = re.split(r"\r\n|\r|\n", text)  # ast's lines: not str.splitlines's

    def __call__(self, line: int, offset: int) -> int:
        text = self.lines[line - 1] if line - 1 < len(self.lines) else ""
        if text.isascii():
            return offset + 1
        return len(text.encode()[:offset].decode(errors="replace")) + 1


def _decode(source: bytes) -> str:
    encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    return source.decode(encoding)


def _parse(source: str | bytes) -> ast.Module | Finding:
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        text = (exc.msg or "invalid syntax").replace("\n", " ")
        line, col = max(exc.lineno or 1, 1), max(exc.offset or 1, 1)
        return Finding(line, col, "ASP001", f"SyntaxError: {text}")
    except (ValueError, UnicodeDecodeError, RecursionError, MemoryError) as exc:
        return Finding(1, 1, "ASP001", f"{type(exc).__name__}: {exc}")


def scan(source: str | bytes) -> Scan:
    """Report what in ``source`` blocks trio, and say whether there is anything to rewrite."""
    raw = source.encode() if isinstance(source, str) else source
    if not prefilter(raw):
        return Scan()
    tree = _parse(source)
    if isinstance(tree, Finding):
        return Scan([tree], error=tree.message)
    collector = _Collector()
    collector.visit(tree)
    resolver = _Resolver(collector)
    try:
        text = source if isinstance(source, str) else _decode(source)
    except (SyntaxError, UnicodeDecodeError):  # pragma: no cover - ast decoded it already
        text = ""
    columns = _Columns(text)
    result = Scan(
        rewrite=collector.factory_imports, imports=collector.imports, simple=collector.simple
    )
    findings: dict[Finding, None] = {}
    for finding in _findings(collector, resolver, columns, result):
        findings[finding] = None
    result.findings = sorted(findings, key=lambda f: (f.line, f.col, f.code))
    result.rewrite |= collector.string_work  # libcst decides
    return result


def _findings(
    collector: _Collector, resolver: _Resolver, columns: _Columns, result: Scan
) -> Iterator[Finding]:
    for chain in collector.chains:
        target, where = resolver.lookup(chain.head.id, chain.scope)
        if target is None:
            continue
        star = where is None
        qualified = [target]
        for part in chain.parts[1:]:
            qualified.append(f"{qualified[-1]}.{part}")
        if any(q in _REWRITTEN or q.startswith("asyncio.subprocess") for q in qualified):
            result.rewrite = True
            for q in qualified[1:]:  # an attribute of the module, looked up at call time
                if q.rsplit(".", 1)[1] in _FACTORY_NAMES:
                    result.called.add(q.rsplit(".", 1)[1])
        for q in qualified:
            name = _asyncio_name(q)
            code = BLOCKERS.get(name or "")
            if code is None:
                continue
            line, col = chain.head.lineno, columns(chain.head.lineno, chain.head.col_offset)
            if name in _HELD_BY_SUBCLASSING and id(chain.outer) in collector.isinstance_args:
                yield Finding(
                    line,
                    col,
                    "ASP204",
                    f"isinstance(..., {q}) holds for anysubprocess's pipes from anysubprocess "
                    f"{SUBCLASSES_SINCE} on (its {name} subclasses asyncio's): no change needed",
                )
                break
            shown = f"asyncio.{name} (star import)" if star else q
            yield Finding(line, col, code, _message(shown, code))
            break
    for attribute, scope in collector.methods:
        if not resolver.is_loop(attribute.value, scope):
            continue
        code = LOOP_METHODS[attribute.attr]
        line = attribute.end_lineno or attribute.lineno
        offset = (attribute.end_col_offset or 0) - len(attribute.attr.encode())
        yield Finding(line, columns(line, offset), code, _message(f"loop.{attribute.attr}", code))

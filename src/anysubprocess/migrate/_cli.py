"""``python -m anysubprocess.migrate``: walk the paths, migrate each file, print diff and report.

Nothing here imports libcst at import time, so ``--help`` and the "install the extra" message
work without it.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import importlib.util
import io
import multiprocessing
import os
import re
import sys
import tokenize
from collections.abc import Iterator, Mapping, Sequence, Set
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from ._codes import CODES, Finding
from ._scan import prefilter
from ._walk import walk

INSTALL_HINT = "anysubprocess.migrate needs libcst: pip install 'anysubprocess[migrate]'"

# Starting a pool costs 0.3-0.7 s (each worker imports the tool, libcst where it rewrites), and
# the scan takes about a second per megabyte of modules that import asyncio: below this much of
# them the pool saves nothing (measured: see docs/migrate.md). Other files are not parsed.
POOL_BYTES = 1_000_000

_EPILOG = "\n".join(
    [
        "report codes (printed as PATH:LINE:COL: CODE message, on stderr):",
        *(f"  {c.code}  {c.flags}\n          -> {c.instead}" for c in CODES.values()),
        "",
        "exit status: 0 nothing to migrate (or migrated with --write); 1 with --check when a file",
        "would change, or when a file could not be read or parsed (ASP001); 2 usage error or",
        "libcst missing. ASP002 and ASP1xx-ASP3xx findings do not change the exit status.",
    ]
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m anysubprocess.migrate",
        description=(
            "Rewrite asyncio's subprocess API (asyncio.create_subprocess_exec/_shell, "
            "asyncio.subprocess.PIPE/STDOUT/DEVNULL/Process, in any import style) to "
            "anysubprocess, and report the asyncio-only calls that will not run under trio. "
            "By default prints a unified diff and changes nothing."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="files and directories; directories are searched for *.py, skipping virtualenvs "
        "(a pyvenv.cfg, site-packages), .git, node_modules, build outputs and caches, and what "
        "git ignores; a file named explicitly is always processed",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--write", action="store_true", help="rewrite the files in place instead of printing a diff"
    )
    mode.add_argument(
        "--check",
        action="store_true",
        help="print no diff; list the files that would change and exit 1 if there are any (CI)",
    )
    parser.add_argument(
        "--no-report",
        action="store_true",
        help="do not print the ASP1xx-ASP3xx findings (ASP001, unparsable files, still is)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="worker processes (default: one per CPU when the files that import asyncio come to "
        f"{POOL_BYTES // 1_000_000} MB or more, else 1)",
    )
    return parser


@dataclass(frozen=True)
class Outcome:
    """What migrating one file gave, in a form cheap to send back from a worker."""

    path: str
    migrated: bytes | None  # None when unchanged
    diff: bytes
    findings: list[Finding]
    error: bool
    called: frozenset[str] = frozenset()  # factories called as asyncio.<factory>
    imports: frozenset[str] = frozenset()  # absolute modules imported
    mocked: frozenset[str] = frozenset()  # factories whose mocks were left (ASP302)


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def _lines(text: str) -> list[str]:
    """Lines as Python and ``patch`` see them, ends kept.

    Not ``str.splitlines``: it also splits on form feed, vertical tab, \\x1c-\\x1e, \\x85,
    \\u2028 and \\u2029, which are ordinary characters inside a line for ``patch``.
    """
    return _LINE.findall(text)


def _diff(path: str, old: bytes, new: bytes) -> bytes:
    """A unified diff that ``patch`` and ``git apply`` take: in the file's own encoding."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(old).readline)
    except SyntaxError:  # pragma: no cover - the file parsed, so the declaration is fine
        encoding = "utf-8"
    if encoding == "utf-8-sig":  # the BOM is part of the first line's bytes
        encoding = "utf-8"
    lines = difflib.unified_diff(
        _lines(old.decode(encoding)),
        _lines(new.decode(encoding)),
        fromfile=path,
        tofile=path,
        lineterm="\n",
    )
    text = "".join(
        line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n"
        for line in lines
    )
    # The paths in the headers are bytes of the file system's encoding; the lines, the file's.
    head, _, body = text.partition("\n@@")
    return os.fsencode(head) + b"\n@@" + body.encode(encoding, "surrogateescape")


def _moved(findings: list[Finding], old: bytes, new: bytes) -> list[Finding]:
    """``findings`` about ``old``, at their lines in ``new`` (what a user of --write opens)."""
    before, after = _lines(old.decode("latin-1")), _lines(new.decode("latin-1"))
    where: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for i in range(i1, i2):
            if tag == "equal":
                where[i + 1] = j1 + (i - i1) + 1
            elif j2 > j1:  # a rewritten line: where its replacement starts
                where[i + 1] = j1 + min(i - i1, j2 - j1 - 1) + 1
            else:  # pragma: no cover - the tool removes only import lines, never reported
                where[i + 1] = j1 + 1
    return [replace(f, line=where.get(f.line, f.line)) for f in findings]


def process(
    path: str,
    report: bool = True,
    write: bool = False,
    patchable: Set[str] = frozenset(),
    local: Set[str] = frozenset(),
) -> Outcome:
    """Migrate one file (in a worker process, or not).

    ``local``: the top-level modules of the files given (first party, for sorting imports).
    """
    from ._migrate import migrate_with_facts

    try:
        with open(path, "rb") as f:
            old = f.read()
    except OSError as exc:
        finding = Finding(1, 1, "ASP001", f"cannot read: {exc.strerror or exc}")
        return Outcome(path, None, b"", [finding], True)
    result, facts = migrate_with_facts(old, report=report, patchable=patchable, local=local)
    new = result.migrated
    assert isinstance(new, bytes)
    known = (frozenset(facts.called), frozenset(facts.imports), frozenset(facts.mocked))
    if new == old:
        return Outcome(path, None, b"", result.findings, result.error is not None, *known)
    findings = _moved(result.findings, old, new) if write else result.findings
    return Outcome(path, new, _diff(path, old, new), findings, False, *known)


def _worth_parsing(files: list[str]) -> dict[str, int]:
    """The files the byte prefilter lets through (and unreadable ones, to report), with sizes.

    Done here, before any pool: most files of a project never import asyncio, and reading them
    costs microseconds where sending them to a worker costs more.
    """
    work: dict[str, int] = {}
    for path in files:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            work[path] = 0  # process() reports it
            continue
        if prefilter(data):
            work[path] = len(data)
    return work


def _module_names(path: str) -> Iterator[str]:
    """The dotted names ``path`` may be imported as: ``a/b/c.py`` -> ``c``, ``b.c``, ``a.b.c``."""
    parts = os.path.normpath(path)[: -len(".py")].split(os.sep)
    if parts[-1] == "__init__":
        parts.pop()
    for i in range(len(parts) - 1, -1, -1):
        if parts[i].isidentifier():
            yield ".".join(parts[i:])
        else:
            break


def _patchable(outcome: Outcome, called: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The factories that modules ``outcome``'s module imports (in this run) call on asyncio."""
    found: set[str] = set()
    for name in outcome.imports:
        found |= called.get(name, frozenset())
    return frozenset(found & outcome.mocked)


def _outcomes(
    files: Mapping[str, int], jobs: int, report: bool, write: bool, local: Set[str]
) -> Iterator[Outcome]:
    """Each file's outcome, in the order given; ``files`` maps each to its size."""
    work = functools.partial(process, report=report, write=write, local=local)
    if jobs <= 1 or len(files) < 2:
        yield from map(work, files)
        return
    # forkserver, not fork: the caller may have threads (a test runner, an IDE).
    context = multiprocessing.get_context(
        "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    )
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        # The largest first, so that no worker is left with a big module at the end (the cost of
        # a module is roughly its size), in chunks (a task costs a round trip); the outcomes are
        # still given in the files' order.
        order = sorted(files, key=lambda p: files[p], reverse=True)
        chunk = max(1, min(64, len(order) // (jobs * 8)))
        done = zip(order, pool.map(work, order, chunksize=chunk), strict=True)
        ready: dict[str, Outcome] = {}
        for path in files:
            while path not in ready:
                finished, outcome = next(done)
                ready[finished] = outcome
            yield ready.pop(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    # Found, not imported: importing libcst costs 0.3 s, and most runs rewrite nothing.
    if importlib.util.find_spec("libcst") is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    if args.jobs is not None and args.jobs < 1:
        parser.print_usage(sys.stderr)
        print("error: --jobs must be at least 1", file=sys.stderr)
        return 2
    found = walk(args.paths)
    files = found.files
    skipped = found.summary()
    if skipped:
        print(skipped, file=sys.stderr)
    work = _worth_parsing(files)
    jobs = args.jobs or ((os.cpu_count() or 1) if sum(work.values()) >= POOL_BYTES else 1)
    changed = failed = reported = 0

    def emit(outcome: Outcome) -> None:
        nonlocal changed, failed, reported
        for finding in outcome.findings:
            if finding.code == "ASP001" or not args.no_report:
                print(finding.format(outcome.path), file=sys.stderr)
                reported += 1
        failed += outcome.error
        if outcome.migrated is None:
            return
        changed += 1
        if args.write:
            with open(outcome.path, "wb") as f:
                f.write(outcome.migrated)
            print(f"migrated {outcome.path}", file=sys.stderr)
        elif args.check:
            print(f"would migrate {outcome.path}", file=sys.stderr)
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(outcome.diff)
            sys.stdout.buffer.flush()

    # A mock left unchanged may name a factory that a module it imports calls on asyncio: those
    # files get a second pass, once every module's facts are known (see _mocks.py).
    called: dict[str, frozenset[str]] = {}
    pending: list[Outcome] = []
    # The project's own top-level modules, for the sections of sorted imports: what the files
    # given can be imported as (a/b/c.py: c, b, a).
    local = frozenset(name.split(".")[0] for path in files for name in _module_names(path))
    for outcome in _outcomes(work, jobs, not args.no_report, args.write, local):
        if outcome.called:
            for name in _module_names(outcome.path):
                called[name] = called.get(name, frozenset()) | outcome.called
        if outcome.mocked:
            pending.append(outcome)
        else:
            emit(outcome)
    for outcome in pending:
        patchable = _patchable(outcome, called)
        if patchable:
            outcome = process(outcome.path, not args.no_report, args.write, patchable, local)
        emit(outcome)
    verb = "migrated" if args.write else "to migrate"
    print(
        f"{len(files)} files checked, {changed} {verb}, {failed} unparsable, {reported} findings",
        file=sys.stderr,
    )
    return 1 if failed or (args.check and changed) else 0

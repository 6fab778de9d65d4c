"""``python -m anysubprocess.migrate``: walk the paths, migrate each file, print diff and report.

Nothing here imports libcst at import time, so ``--help`` and the "install the extra" message
work without it.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import io
import multiprocessing
import os
import sys
import tokenize
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from ._codes import CODES, Finding
from ._walk import walk

INSTALL_HINT = "anysubprocess.migrate needs libcst: pip install 'anysubprocess[migrate]'"

# Starting a pool costs about 0.3 s, and a module that uses asyncio 15-40 ms of CPU: below this
# many files the pool saves little or nothing (measured: see docs/migrate.md).
POOL_THRESHOLD = 100

_EPILOG = "\n".join(
    [
        "report codes (printed as PATH:LINE:COL: CODE message, on stderr):",
        *(f"  {c.code}  {c.flags}\n          -> {c.instead}" for c in CODES.values()),
        "",
        "exit status: 0 nothing to migrate (or migrated with --write); 1 with --check when a file",
        "would change, or when a file could not be read or parsed (ASP001); 2 usage error or",
        "libcst missing. ASP1xx/ASP2xx findings do not change the exit status.",
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
        help="do not print the ASP1xx/ASP2xx findings (ASP001, unparsable files, still is)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help=f"worker processes (default: one per CPU when there are at least {POOL_THRESHOLD} "
        "files, else 1)",
    )
    return parser


@dataclass(frozen=True)
class Outcome:
    """What migrating one file gave, in a form cheap to send back from a worker."""

    path: str
    migrated: bytes | None  # None when unchanged
    diff: str
    findings: list[Finding]
    error: bool


def _diff(path: str, old: bytes, new: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(old).readline)
    except SyntaxError:  # pragma: no cover - libcst parsed it, so the declaration is fine
        encoding = "utf-8"
    lines = difflib.unified_diff(
        old.decode(encoding).splitlines(keepends=True),
        new.decode(encoding).splitlines(keepends=True),
        fromfile=path,
        tofile=path,
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def process(path: str, report: bool = True) -> Outcome:
    """Migrate one file (in a worker process, or not)."""
    from ._migrate import migrate

    try:
        with open(path, "rb") as f:
            old = f.read()
    except OSError as exc:
        finding = Finding(1, 1, "ASP001", f"cannot read: {exc.strerror or exc}")
        return Outcome(path, None, "", [finding], True)
    result = migrate(old, report=report)
    new = result.migrated
    assert isinstance(new, bytes)
    if new == old:
        return Outcome(path, None, "", result.findings, result.error is not None)
    return Outcome(path, new, _diff(path, old, new), result.findings, False)


def _outcomes(files: list[str], jobs: int, report: bool) -> Iterator[Outcome]:
    work = functools.partial(process, report=report)
    if jobs <= 1 or len(files) < 2:
        yield from map(work, files)
        return
    # forkserver, not fork: the caller may have threads (a test runner, an IDE).
    context = multiprocessing.get_context(
        "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    )
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        yield from pool.map(work, files, chunksize=max(1, min(64, len(files) // (jobs * 8))))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        import libcst  # noqa: F401
    except ImportError:
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
    jobs = args.jobs or ((os.cpu_count() or 1) if len(files) >= POOL_THRESHOLD else 1)
    changed = failed = reported = 0
    for outcome in _outcomes(files, jobs, report=not args.no_report):
        for finding in outcome.findings:
            if finding.code == "ASP001" or not args.no_report:
                print(finding.format(outcome.path), file=sys.stderr)
                reported += 1
        failed += outcome.error
        if outcome.migrated is None:
            continue
        changed += 1
        if args.write:
            with open(outcome.path, "wb") as f:
                f.write(outcome.migrated)
            print(f"migrated {outcome.path}", file=sys.stderr)
        elif args.check:
            print(f"would migrate {outcome.path}", file=sys.stderr)
        else:
            sys.stdout.write(outcome.diff)
    verb = "migrated" if args.write else "to migrate"
    print(
        f"{len(files)} files checked, {changed} {verb}, {failed} unparsable, {reported} findings",
        file=sys.stderr,
    )
    return 1 if failed or (args.check and changed) else 0

"""Benchmark anysubprocess against stdlib asyncio, uvloop, anyio, trio and a blocking floor.

    python bench/run.py [--quick] [--repeats N] [--workloads a,b] [--impls x,y]
                        [--json PATH] [--markdown] [--cpu N] [--chart FILE.svg]
                        [--no-counts] [--compare-src LABEL=PATH]
    python bench/run.py --from-json results/latest.json [--markdown] [--chart FILE.svg]

Every sample runs in a fresh worker process (bench/_worker.py) pinned to one CPU. Within
each repeat the implementations take turns on a workload (round-robin, in a rotated order),
so slow drifts in machine load hit all of them alike. The report gives, per workload and
implementation, the median over repeats, the min-max spread and the ratio to stdlib asyncio
measured in the same run (asyncio's median time / the implementation's: higher is faster).
Beside the times, one counted run per (workload, implementation) gives deterministic costs:
Python function calls and read/write system calls per operation. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

# Run as a script: Python puts bench/ first on sys.path, so the sibling modules import.
from _chart import ratio_chart
from _impls import IMPLEMENTATIONS, WORKLOADS, MiB, Workload

BENCH_DIR = Path(__file__).resolve().parent

WORKER = BENCH_DIR / "_worker.py"
BASELINE = "asyncio"
QUICK_REPEATS = 3
DEFAULT_REPEATS = 5

# Short column names for the summary table.
SHORT = {
    "asyncio": "asyncio",
    "uvloop": "uvloop",
    "anyio_asyncio": "anyio/aio",
    "anyio_trio": "anyio/trio",
    "trio": "trio",
    "floor": "floor",
    "asp_asyncio": "asp/aio",
    "asp_uvloop": "asp/uvloop",
    "asp_trio": "asp/trio",
    "asp_threads_asyncio": "asp-thr/aio",
    "asp_threads_trio": "asp-thr/trio",
}


@dataclass
class Sample:
    repeat: int
    workload: str
    impl: str
    size: int
    value: float | None  # None: the worker failed
    wall: float  # seconds the worker process took, start to exit
    error: str | None = None


@dataclass
class Count:
    """One counted run (``_worker.py --count``): costs that do not depend on the load."""

    workload: str
    impl: str
    size: int
    ops: float  # operations in the run: spawns, lines, round trips, or MiB
    calls: int | None  # Python function calls in the run (None: the worker failed)
    syscr: int | None  # read-family system calls of the worker process
    syscw: int | None  # write-family system calls
    method: str = ""
    error: str | None = None


@dataclass
class Stats:
    n: int  # successful samples; 0: every sample failed, and the values are None
    median: float | None
    min: float | None
    max: float | None
    ratio: float | None  # time workloads: baseline median / this median
    ratio_min: float | None  # min and max of the per-repeat paired ratios
    ratio_max: float | None
    errors: int


# -- running ---------------------------------------------------------------------------------

#: ``--compare-src LABEL=PATH``: an implementation ``asp_x@LABEL`` runs ``asp_x`` with the
#: anysubprocess sources under PATH first on ``sys.path`` (another checkout's ``src``, e.g.
#: ``git worktree add ../base main``): before and after, measured in one interleaved run.
COMPARE_SRC: dict[str, str] = {}


def base_impl(impl: str) -> str:
    return impl.split("@", 1)[0]


def short_name(impl: str) -> str:
    base, _, label = impl.partition("@")
    return SHORT.get(base, base) + (f"@{label}" if label else "")


def _worker(
    impl: str, workload: str, size: int, cpu: int, warmup: bool, timeout: float, *extra: str
) -> tuple[object, str | None]:
    """Run one worker; return (its JSON value, None) or (None, error message)."""
    cmd = [sys.executable, str(WORKER), base_impl(impl), workload, str(size), "--cpu", str(cpu)]
    if not warmup:
        cmd.append("--no-warmup")
    cmd += extra
    env = None
    _, _, label = impl.partition("@")
    if label:
        env = {**os.environ, "PYTHONPATH": COMPARE_SRC[label]}
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:g} s"
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"]
        return None, lines[-1]
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])["value"], None
    except (ValueError, KeyError, IndexError) as exc:
        return None, f"bad worker output {proc.stdout!r}: {exc}"


def run_sample(
    impl: str, workload: str, size: int, cpu: int, warmup: bool, timeout: float
) -> tuple[float, str | None]:
    """Run one worker; return (value, None) or (nan, error message)."""
    value, error = _worker(impl, workload, size, cpu, warmup, timeout)
    if error is not None:
        return float("nan"), error
    try:
        return float(value), None  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        return float("nan"), f"bad worker value {value!r}: {exc}"


def ops_in(workload: Workload, size: int) -> float:
    """How many operations a run of ``size`` is, for the per-op costs (bytes: MiB)."""
    return size / MiB if workload.unit == "bytes" else float(size)


def run_count(impl: str, workload: Workload, size: int, config: Config) -> Count:
    value, error = _worker(
        impl, workload.name, size, config.cpu, config.warmup, config.timeout, "--count"
    )
    ops = ops_in(workload, size)
    if error is not None or not isinstance(value, dict):
        return Count(workload.name, impl, size, ops, None, None, None, "", error or "no value")
    return Count(
        workload.name,
        impl,
        size,
        ops,
        int(value["calls"]),
        int(value["syscr"]),
        int(value["syscw"]),
        str(value["calls_method"]),
    )


def rotated(items: Sequence[str], k: int) -> list[str]:
    k %= max(len(items), 1)
    return [*items[k:], *items[:k]]


@dataclass(frozen=True)
class Config:
    repeats: int
    cpu: int  # -1: no pinning
    warmup: bool
    timeout: float


def collect(
    workloads: Sequence[Workload],
    impls: Sequence[str],
    sizes: dict[str, int],
    config: Config,
) -> list[Sample]:
    """Take every sample: per repeat, per workload, each implementation in turn."""
    plan = [
        (r, w, impl)
        for r in range(config.repeats)
        for w in workloads
        for impl in rotated(impls, r)
        if IMPLEMENTATIONS[base_impl(impl)].supports(w.name)
    ]
    samples: list[Sample] = []
    started = time.monotonic()
    for i, (r, w, impl) in enumerate(plan, 1):
        t0 = time.monotonic()
        value, error = run_sample(
            impl, w.name, sizes[w.name], config.cpu, config.warmup, config.timeout
        )
        wall = time.monotonic() - t0
        samples.append(
            Sample(r, w.name, impl, sizes[w.name], None if error else value, wall, error)
        )
        elapsed = time.monotonic() - started
        eta = elapsed / i * (len(plan) - i)
        shown = f"ERROR {error}" if error else format_value(w, value)
        print(
            f"[{i:>4}/{len(plan)} r{r + 1} eta {eta:4.0f}s] {w.name:<16} {impl:<13} {shown}",
            file=sys.stderr,
            flush=True,
        )
    return samples


def collect_counts(
    workloads: Sequence[Workload], impls: Sequence[str], config: Config
) -> list[Count]:
    """One counted run per (workload, implementation), at the --quick size: the counts are
    per operation, and the instrumentation slows the run down."""
    counts = []
    for w in workloads:
        for impl in impls:
            if not IMPLEMENTATIONS[base_impl(impl)].supports(w.name):
                continue
            c = run_count(impl, w, w.quick_size, config)
            counts.append(c)
            shown = (
                f"ERROR {c.error}"
                if c.calls is None
                else f"{c.calls / c.ops:.1f} calls/op, {(c.syscr or 0) / c.ops:.2f} "
                f"reads/op, {(c.syscw or 0) / c.ops:.2f} writes/op"
            )
            print(f"[count] {w.name:<16} {impl:<13} {shown}", file=sys.stderr, flush=True)
    return counts


# -- statistics ------------------------------------------------------------------------------


def summarize(samples: Sequence[Sample], workload: Workload, impl: str) -> Stats | None:
    mine = {s.repeat: s for s in samples if s.workload == workload.name and s.impl == impl}
    values = [s.value for s in mine.values() if s.value is not None]
    errors = sum(1 for s in mine.values() if s.value is None)
    if not values:
        return Stats(0, None, None, None, None, None, None, errors) if errors else None
    median = statistics.median(values)
    ratio = ratio_min = ratio_max = None
    if workload.kind == "time":
        base = {
            s.repeat: s.value
            for s in samples
            if s.workload == workload.name and s.impl == BASELINE and s.value is not None
        }
        if base:
            ratio = statistics.median(base.values()) / median
            paired = [base[r] / s.value for r, s in mine.items() if r in base and s.value]
            if paired:
                ratio_min, ratio_max = min(paired), max(paired)
    return Stats(len(values), median, min(values), max(values), ratio, ratio_min, ratio_max, errors)


# -- formatting ------------------------------------------------------------------------------


def format_size(workload: Workload, size: int) -> str:
    if workload.unit == "bytes":
        return f"{size / MiB:g} MiB"
    return f"{size:,} {workload.unit}"


def format_value(workload: Workload, value: float) -> str:
    if workload.kind == "time":
        return f"{value:.4f} s"
    if workload.kind == "memory":
        return f"{value:.3f} N"
    return f"{value:.1f} ms"


def kind_legend(workload: Workload) -> str:
    return {
        "time": "Seconds, lower is better; ratio = asyncio's median / this median, higher is faster.",
        "memory": "Peak RSS increase of the worker / N, lower is better.",
        "stall": "Worst lateness of the ticker in ms, lower is better.",
    }[workload.kind]


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool, *, text_columns: int = 1
) -> str:
    """A markdown or plain-text table; the first ``text_columns`` are left-aligned text,
    the rest right-aligned numbers."""
    left = [i < text_columns for i in range(len(headers))]
    if markdown:
        lines = [
            "| " + " | ".join(headers) + " |",
            "|" + "|".join(":---" if lft else "---:" for lft in left) + "|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(c) for c in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.ljust(w) if lft else c.rjust(w) for c, w, lft in zip(cells, widths, left, strict=True)
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def heading(text: str, markdown: bool, level: int = 2) -> str:
    if markdown:
        return "#" * level + " " + text
    return f"{text}\n{'=' * len(text)}" if level == 1 else f"{text}\n{'-' * len(text)}"


def workload_table(
    samples: Sequence[Sample], workload: Workload, impls: Sequence[str], markdown: bool
) -> str:
    timed = workload.kind == "time"
    unit = {"time": "s", "memory": "N", "stall": "ms"}[workload.kind]
    headers = ["implementation", f"median {unit}", f"min-max {unit}"]
    if timed:
        headers += ["ratio vs asyncio", "paired ratio min-max"]
    digits = {"time": 4, "memory": 3, "stall": 1}[workload.kind]
    rows = []
    for impl in impls:
        st = summarize(samples, workload, impl)
        if st is None:
            rows.append([impl, "-", "-", *(["-", "-"] if timed else [])])
            continue
        if st.n == 0:
            rows.append([impl, "error", "-", *(["-", "-"] if timed else [])])
            continue
        assert st.median is not None
        assert st.min is not None
        assert st.max is not None
        row = [impl, f"{st.median:.{digits}f}", f"{st.min:.{digits}f}-{st.max:.{digits}f}"]
        if timed:
            row.append(f"{st.ratio:.2f}" if st.ratio is not None else "-")
            row.append(
                f"{st.ratio_min:.2f}-{st.ratio_max:.2f}" if st.ratio_min is not None else "-"
            )
        if st.errors:
            row[0] += f" ({st.errors} failed)"
        rows.append(row)
    return render_table(headers, rows, markdown)


def summary_table(
    samples: Sequence[Sample], workloads: Sequence[Workload], impls: Sequence[str], markdown: bool
) -> str:
    headers = ["workload", *(short_name(i) for i in impls)]
    rows = []
    for w in workloads:
        label = {"time": w.name, "memory": f"{w.name} (peak/N)", "stall": f"{w.name} (ms)"}[w.kind]
        row = [label]
        for impl in impls:
            st = summarize(samples, w, impl)
            if st is None:
                row.append("-")
            elif st.n == 0:
                row.append("error")
            elif w.kind == "time":
                row.append(f"{st.ratio:.2f}" if st.ratio is not None else "-")
            elif w.kind == "memory":
                row.append(f"{st.median:.2f}")
            else:
                row.append(f"{st.median:.1f}")
        rows.append(row)
    return render_table(headers, rows, markdown)


def counts_table(
    counts: Sequence[Count],
    workloads: Sequence[Workload],
    impls: Sequence[str],
    markdown: bool,
    what: str,
) -> str:
    """Per-op costs: ``what`` is "calls" (Python calls) or "syscalls" (reads + writes)."""
    by_key = {(c.workload, c.impl): c for c in counts}
    headers = ["workload (per op)", *(short_name(i) for i in impls)]
    rows = []
    for w in workloads:
        unit = {"bytes": "MiB"}.get(w.unit, w.unit.rstrip("s").replace("round trip", "trip"))
        row = [f"{w.name} (/{unit})"]
        for impl in impls:
            c = by_key.get((w.name, impl))
            if c is None:
                row.append("-")
            elif c.calls is None:
                row.append("error")
            elif what == "calls":
                row.append(f"{c.calls / c.ops:.1f}")
            else:
                r, wr = (c.syscr or 0) / c.ops, (c.syscw or 0) / c.ops
                row.append(f"{r:.1f}+{wr:.1f}")
        rows.append(row)
    return render_table(headers, rows, markdown)


# -- machine description ---------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_revision(where: str | Path = BENCH_DIR) -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=where,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def _source_digest() -> str:
    """A short hash of the anysubprocess sources measured (the tree may be uncommitted)."""
    spec = importlib.util.find_spec("anysubprocess")
    if spec is None or not spec.submodule_search_locations:
        return "not installed"
    return _digest(*spec.submodule_search_locations)


def _digest(*locations: str) -> str:
    digest = hashlib.sha256()
    for location in locations:
        if Path(location, "anysubprocess").is_dir():  # a src dir (--compare-src)
            location = str(Path(location, "anysubprocess"))
        for path in sorted(Path(location).rglob("*.py")):
            digest.update(path.relative_to(location).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine_info() -> dict[str, str]:
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "nproc": str(os.cpu_count()),
        "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        "anysubprocess": (
            f"{_version('anysubprocess')} (git {_git_revision()}, sources {_source_digest()})"
        ),
        "anyio": _version("anyio"),
        "trio": _version("trio"),
        "uvloop": _version("uvloop"),
        "loadavg_start": _loadavg(),
    }


# -- main ------------------------------------------------------------------------------------


def _names(value: str, valid: Mapping[str, object], what: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(unknown)} (choose from {', '.join(valid)})"
        )
    return names


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark anysubprocess against asyncio, uvloop, anyio, trio and a blocking floor.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small sizes and {QUICK_REPEATS} repeats (CI smoke test, development)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help=f"samples per (implementation, workload); default {DEFAULT_REPEATS}, "
        f"{QUICK_REPEATS} with --quick",
    )
    parser.add_argument(
        "--workloads",
        type=lambda v: _names(v, WORKLOADS, "workload"),
        default=list(WORKLOADS),
        help=f"comma-separated subset of: {', '.join(WORKLOADS)}",
    )
    parser.add_argument(
        "--impls",
        type=lambda v: _names(v, IMPLEMENTATIONS, "implementation"),
        default=list(IMPLEMENTATIONS),
        help=f"comma-separated subset of: {', '.join(IMPLEMENTATIONS)} "
        f"({BASELINE} is always added: it is the baseline)",
    )
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="also save raw samples and statistics as JSON"
    )
    parser.add_argument("--markdown", action="store_true", help="print the tables as markdown")
    parser.add_argument(
        "--chart",
        type=Path,
        metavar="FILE.svg",
        help="also write an SVG bar chart of the speed ratios (the summary's time rows)",
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="PATH",
        help="run nothing: report (and chart) the results saved by an earlier --json PATH",
    )
    parser.add_argument(
        "--cpu",
        type=int,
        default=0,
        help="pin each worker and its children to this CPU; -1 disables pinning (default 0)",
    )
    parser.add_argument(
        "--no-warmup",
        action="store_true",
        help="measure cold: no untimed warm-up run of the workload in the worker",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds before a sample is abandoned"
    )
    parser.add_argument(
        "--no-counts",
        action="store_true",
        help="skip the counted runs (Python calls and system calls per operation)",
    )
    parser.add_argument(
        "--compare-src",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="also run every asp_* implementation as asp_*@LABEL with the anysubprocess "
        "package under PATH (e.g. another worktree's src) first on sys.path",
    )
    args = parser.parse_args(argv)
    for item in args.compare_src:
        label, sep, path = item.partition("=")
        if not sep or not label or not Path(path, "anysubprocess").is_dir():
            parser.error(f"--compare-src {item!r}: want LABEL=PATH, PATH/anysubprocess a dir")
        COMPARE_SRC[label] = str(Path(path).resolve())
        extra = [f"{i}@{label}" for i in args.impls if i.startswith("asp_")]
        args.impls += extra
    if args.repeats is None:
        args.repeats = QUICK_REPEATS if args.quick else DEFAULT_REPEATS
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if BASELINE not in args.impls:
        args.impls.insert(0, BASELINE)
    return args


@dataclass
class Run:
    """Everything a report is made from: measured now, or loaded from a --json file."""

    info: dict[str, str]
    repeats: int
    quick: bool
    warmup: bool
    cpu: int | None  # None: not pinned
    impls: list[str]
    workloads: list[Workload]
    sizes: dict[str, int]
    samples: list[Sample]
    counts: list[Count]


def measure(args: argparse.Namespace) -> Run:
    workloads = [WORKLOADS[name] for name in args.workloads]
    sizes = {w.name: w.quick_size if args.quick else w.size for w in workloads}
    pinned = args.cpu >= 0 and hasattr(os, "sched_setaffinity")
    info = machine_info()
    started = time.monotonic()
    config = Config(args.repeats, args.cpu, not args.no_warmup, args.timeout)
    for label, path in COMPARE_SRC.items():
        info[f"compare {label}"] = f"{path} (git {_git_revision(path)}, sources {_digest(path)})"
    samples = collect(workloads, args.impls, sizes, config)
    counts = [] if args.no_counts else collect_counts(workloads, args.impls, config)
    info["duration"] = f"{time.monotonic() - started:.0f} s"
    info["loadavg_end"] = _loadavg()
    sources_end = _source_digest()
    if sources_end not in info["anysubprocess"]:
        info["anysubprocess"] += f" -> {sources_end}: THE SOURCES CHANGED DURING THE RUN"
        print("warning: the anysubprocess sources changed during the run", file=sys.stderr)
    return Run(
        info,
        args.repeats,
        args.quick,
        config.warmup,
        args.cpu if pinned else None,
        list(args.impls),
        workloads,
        sizes,
        samples,
        counts,
    )


def load(path: Path) -> Run:
    """A Run from the JSON that ``--json`` wrote."""
    data = json.loads(path.read_text())
    config = data["config"]
    return Run(
        data["machine"],
        config["repeats"],
        config["quick"],
        config["warmup"],
        config["cpu"],
        config["impls"],
        [WORKLOADS[name] for name in data["workloads"]],
        {name: w["size"] for name, w in data["workloads"].items()},
        [Sample(**s) for s in data["samples"]],
        [Count(**c) for c in data.get("counts", [])],
    )


def report(run: Run, md: bool) -> str:
    info, impls, samples = run.info, run.impls, run.samples
    out: list[str] = [heading("anysubprocess benchmarks", md, level=1), ""]
    method = (
        f"{run.repeats} repeats{' (--quick sizes)' if run.quick else ''}, implementations "
        f"interleaved round-robin within each repeat, one fresh worker process per sample "
        + ("(after an untimed warm-up run), " if run.warmup else "(no warm-up), ")
        + (
            f"worker and its children pinned to CPU {run.cpu}"
            if run.cpu is not None
            else "not pinned"
        )
        + "; median and min-max over repeats; ratio = asyncio's median time / the "
        "implementation's (higher is faster), paired ratios = the same per repeat"
    )
    facts = [
        ("date", info["date"]),
        ("machine", f"{info['platform']}, {info['cpu']}, nproc {info['nproc']}"),
        ("load average", f"{info['loadavg_start']} at start, {info['loadavg_end']} at end"),
        ("python", info["python"]),
        (
            "packages",
            f"anysubprocess {info['anysubprocess']}, anyio {info['anyio']}, "
            f"trio {info['trio']}, uvloop {info['uvloop']}",
        ),
        ("method", method),
        ("duration", info["duration"]),
    ]
    facts += [(k, v) for k, v in info.items() if k.startswith("compare ")]
    for key, value in facts:
        out.append(f"- **{key}**: {value}" if md else f"{key + ':':<14}{value}")
    out.append("")
    out.append(heading("Implementations", md))
    out.append("")
    out.append(
        render_table(
            ["name", "what"],
            [[i, IMPLEMENTATIONS[base_impl(i)].description + _compare_note(i)] for i in impls],
            md,
            text_columns=2,
        )
    )
    out.append("")

    for w in run.workloads:
        out.append(heading(f"{w.name}: {format_size(w, run.sizes[w.name])}", md))
        out.append("")
        out.append(f"{w.description}. {kind_legend(w)}")
        out.append("")
        out.append(workload_table(samples, w, impls, md))
        out.append("")

    out.append(heading("Summary", md))
    out.append("")
    out.append(
        "Time workloads: speed ratio vs stdlib asyncio (higher is faster). peak_memory: peak "
        "RSS increase / N (lower is better). loop_stall: worst stall in ms (lower is better). "
        "`-`: the implementation cannot do the workload."
    )
    out.append("")
    out.append(summary_table(samples, run.workloads, impls, md))
    if run.counts:
        method = next((c.method for c in run.counts if c.method), "?")
        out += [
            "",
            heading("Deterministic costs per operation", md),
            "",
            "One counted run per cell at the --quick size, after the warm-up: Python function "
            f"calls ({method}) and read+write system calls (/proc/self/io syscr+syscw) of the "
            "worker process per operation (a spawn, a line, a round trip, a MiB). Children "
            "are not counted. Lower is cheaper; these do not move with the machine's load.",
            "",
            counts_table(run.counts, run.workloads, impls, md, "calls"),
            "",
            counts_table(run.counts, run.workloads, impls, md, "syscalls"),
        ]
    return "\n".join(out)


def _compare_note(impl: str) -> str:
    _, _, label = impl.partition("@")
    return f" (sources: --compare-src {label})" if label else ""


def chart(run: Run) -> str:
    """The summary's time rows as an SVG bar chart (see _chart.py)."""
    ratios = {
        w.name: {
            impl: (st.ratio if (st := summarize(run.samples, w, impl)) is not None else None)
            for impl in run.impls
        }
        for w in run.workloads
        if w.kind == "time"
    }
    python = run.info["python"].split(" (")[0]
    subtitle = (
        f"{python}, {run.info['nproc']} cores, {run.repeats} repeats, {run.info['date'][:10]}; "
        "median ratio to stdlib asyncio in the same run"
    )
    # asyncio is the baseline: the 1x line, not a bar.
    impls = [impl for impl in run.impls if impl != BASELINE]
    names = {impl: short_name(impl) for impl in impls}
    return ratio_chart(ratios, impls, names, "anysubprocess benchmarks", subtitle)


def save_json(run: Run, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "machine": run.info,
        "config": {
            "repeats": run.repeats,
            "quick": run.quick,
            "warmup": run.warmup,
            "cpu": run.cpu,
            "baseline": BASELINE,
            "impls": run.impls,
        },
        "workloads": {
            w.name: {
                "kind": w.kind,
                "size": run.sizes[w.name],
                "unit": w.unit,
                "description": w.description,
            }
            for w in run.workloads
        },
        "stats": {
            w.name: {
                impl: asdict(st)
                for impl in run.impls
                if (st := summarize(run.samples, w, impl)) is not None
            }
            for w in run.workloads
        },
        "samples": [asdict(s) for s in run.samples],
        "counts": [asdict(c) for c in run.counts],
        "costs_per_op": {
            c.workload: {
                c2.impl: {
                    "calls": c2.calls / c2.ops if c2.calls is not None else None,
                    "syscr": c2.syscr / c2.ops if c2.syscr is not None else None,
                    "syscw": c2.syscw / c2.ops if c2.syscw is not None else None,
                }
                for c2 in run.counts
                if c2.workload == c.workload
            }
            for c in run.counts
        },
    }
    path.write_text(json.dumps(data, indent=1, allow_nan=False, default=str) + "\n")
    print(f"raw results written to {path}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    run = load(args.from_json) if args.from_json is not None else measure(args)
    print(report(run, args.markdown))
    if args.json is not None:
        save_json(run, args.json)
    if args.chart is not None:
        args.chart.parent.mkdir(parents=True, exist_ok=True)
        args.chart.write_text(chart(run))
        print(f"chart written to {args.chart}", file=sys.stderr)
    failed = any(s.error for s in run.samples) or any(c.error for c in run.counts)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m tests.peers [anyio] [cpython]``: run the peers' subprocess suites stock and on
ours, print the counts per backend, and fail unless every test that passes stock passes on
ours (except the listed ones, which must fail: strict). See ``__init__.py``."""

from __future__ import annotations

import collections
import fcntl
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from .exclusions import ANYIO, CPYTHON

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(
    os.environ.get("ANYSUBPROCESS_PEERS_CACHE", Path.home() / ".cache" / "anysubprocess" / "peers")
)
ANYIO_BACKENDS = ("asyncio", "asyncio+uvloop", "asyncio+eager", "trio")

#: {backend: {test: outcome}}, outcome one of passed/failed/skipped/xfailed
Outcomes = dict[str, dict[str, str]]


def _listed(table: dict[str, str], test: str, backend: str) -> str | None:
    base = test.split("[", 1)[0]
    return table.get(f"{base}[{backend}]") or table.get(base)


def compare(suite: str, stock: Outcomes, ours: Outcomes, table: dict[str, str]) -> list[str]:
    """Print the counts; return the violations."""
    problems: list[str] = []
    print(f"--- {suite} ({platform.python_implementation()} {platform.python_version()})")
    order = [*ANYIO_BACKENDS, "no loop"]
    for backend in sorted(set(stock) | set(ours), key=lambda b: [*order, b].index(b)):
        s, o = stock.get(backend, {}), ours.get(backend, {})
        listed = regressions = 0
        for test, outcome in sorted(s.items()):
            mine = o.get(test, "missing")
            reason = _listed(table, test, backend)
            if reason is not None and mine == "passed":
                problems.append(f"{backend}: {test} passes on ours but is listed: {reason}")
            elif outcome == "passed" and mine != "passed":
                if reason is None:
                    regressions += 1
                    problems.append(f"{backend}: {test} passes stock, {mine} on ours")
                else:
                    listed += 1
        only_ours = sum(1 for t, v in o.items() if v == "passed" and s.get(t) != "passed")
        sc = collections.Counter(s.values())
        oc = collections.Counter(o.values())
        print(
            f"{backend:15} stock: {sc['passed']} passed, {sc['failed']} failed, "
            f"{sc['skipped']} skipped | ours: {oc['passed']} passed, {oc['failed']} failed "
            f"({listed} listed, {regressions} not), {oc['skipped']} skipped; "
            f"{only_ours} pass on ours only (not stock)"
        )
    return problems


# -- CPython's test_asyncio/test_subprocess.py --------------------------------------------------


def run_cpython() -> list[str]:
    results: dict[str, Outcomes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("stock", "ours"):
            out = Path(tmp) / f"{mode}.json"
            subprocess.run(
                [sys.executable, "-m", "tests.peers.cpython_suite", mode, str(out)],
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,  # the suite's own chatter (logged warnings)
            )
            data = json.loads(out.read_text())
            if "absent" in data:
                print(
                    f"--- CPython test_asyncio/test_subprocess.py: SKIPPED on Python "
                    f"{platform.python_version()}: no `test` package ({data['absent']})"
                )
                return []
            results[mode] = {b: r["outcomes"] for b, r in data.items()}
    return compare(
        "CPython test_asyncio/test_subprocess.py", results["stock"], results["ours"], CPYTHON
    )


# -- anyio's tests/test_subprocesses.py ---------------------------------------------------------


def anyio_test_file(run_dir: Path) -> Path:
    """anyio's tests/test_subprocesses.py at the installed version, from its sdist (downloaded
    once into the cache), written with its pytest settings into ``run_dir``: a directory of
    this run's own, since scripts/test runs the peers' suites of two Pythons at once."""
    version = importlib.metadata.version("anyio")
    CACHE.mkdir(parents=True, exist_ok=True)
    sdist = CACHE / f"anyio-{version}.tar.gz"
    with open(CACHE / "download.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one download, even when two runs start together
        if not sdist.exists():  # downloaded once, then reused
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "-q",
                    "--disable-pip-version-check",
                    "--no-binary",
                    ":all:",
                    "--no-deps",
                    f"anyio=={version}",
                    "-d",
                    str(CACHE),
                ],
                check=True,
            )
    target = run_dir / "test_subprocesses.py"
    with tarfile.open(sdist) as tar:
        member = tar.getmember(f"anyio-{version}/tests/test_subprocesses.py")
        source = tar.extractfile(member)
        assert source is not None
        target.write_bytes(source.read())
    # anyio's own pytest settings (its pyproject.toml), without its conftest: our plugin
    # gives the backends its conftest parametrises.
    (run_dir / "pytest.ini").write_text(
        "[pytest]\n"
        "addopts = -rsfE --tb=short --strict-config --strict-markers -p no:cacheprovider\n"
        "  -p tests.peers.anyio_plugin -p no:asyncio -p no:trio\n"
        "anyio_mode = auto\ntimeout = 20\nxfail_strict = true\n"
        "filterwarnings = error\n"
    )
    # A conftest's fixtures override every plugin's (anyio's plugin has an anyio_backend too).
    (run_dir / "conftest.py").write_text(
        "from tests.peers.anyio_plugin import anyio_backend, event_loop_implementation_name\n"
        "\n__all__ = ['anyio_backend', 'event_loop_implementation_name']\n"
    )
    return target


def _junit_outcomes(xml: Path) -> Outcomes:
    outcomes: Outcomes = collections.defaultdict(dict)
    for case in ET.parse(xml).iter("testcase"):
        name = case.get("name", "")
        base, _, params = name.partition("[")
        parts = params.rstrip("]").split("-") if params else []
        backend = next((p for p in parts if p in ANYIO_BACKENDS), "no loop")
        rest = [p for p in parts if p != backend]
        test = f"{base}[{'-'.join(rest)}]" if rest else base
        kinds = {child.tag: child for child in case}
        if "failure" in kinds or "error" in kinds:
            outcome = "failed"
        elif "skipped" in kinds:
            outcome = "xfailed" if kinds["skipped"].get("type") == "pytest.xfail" else "skipped"
        else:
            outcome = "passed"
        if outcomes[backend].get(test) != "failed":  # a teardown error after a pass
            outcomes[backend][test] = outcome
    return outcomes


def run_anyio() -> list[str]:
    results: dict[str, Outcomes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        test_file = anyio_test_file(Path(tmp))
        for mode in ("stock", "ours"):
            xml = Path(tmp) / f"{mode}.xml"
            env = dict(os.environ, ANYSUBPROCESS_PEER_MODE=mode)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "--tb=line",
                    "-c",
                    str(test_file.parent / "pytest.ini"),
                    "--rootdir",
                    str(test_file.parent),
                    f"--junitxml={xml}",
                    str(test_file),
                ],
                cwd=test_file.parent,
                env=env,
                stdout=subprocess.DEVNULL if mode == "stock" else None,
            )
            results[mode] = _junit_outcomes(xml)
    version = importlib.metadata.version("anyio")
    return compare(
        f"anyio {version} tests/test_subprocesses.py", results["stock"], results["ours"], ANYIO
    )


def main(argv: list[str]) -> int:
    suites = argv or ["anyio", "cpython"]
    problems: list[str] = []
    for suite in suites:
        problems += {"anyio": run_anyio, "cpython": run_cpython}[suite]()
    if problems:
        print("peer suites: FAILED (see tests/peers/exclusions.py)")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print("peer suites: every test that passes stock passes on ours, except the listed ones")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

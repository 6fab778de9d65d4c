"""The documentation's code runs: every example file and every ``python`` code block of the
README and docs/*.md, on every backend.

A code block runs as one of:

* a sample (the default): its code is executed in a fresh namespace, inside an async test, on
  asyncio, asyncio+uvloop and trio. Top-level ``await`` is allowed; if the block defines
  ``async def main()``, main() is awaited too.
* a script, marked by a line ``<!-- docs-test: script -->`` right above the fence: it runs as
  ``python -c`` once (it starts its event loops itself, e.g. ``asyncio.run`` then ``trio.run``).
* skipped, marked by ``<!-- docs-test: skip (why) -->``: a fragment, or code for a loop-specific
  API; the marker says why.

The terminal summary reports how many samples ran on each backend (see conftest.py).
"""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.py") if not p.stem.startswith("_"))
LOOPS = ["asyncio", "uvloop", "trio"]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"<!-- docs-test: (?P<mode>skip|script)\b.*-->")


@dataclass(frozen=True)
class CodeBlock:
    path: str  # relative to the repository root
    line: int  # of the opening fence, 1-based
    code: str
    mode: str  # "sample", "script" or "skip"

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"


def code_blocks(path: Path) -> list[CodeBlock]:
    """The ```python blocks of a Markdown file, with the marker above each, if any."""
    lines = path.read_text().splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        fence = lines[i].strip()
        if fence.startswith("```") and fence[3:].strip() in ("python", "py", "{code-block} python"):
            indent = len(lines[i]) - len(lines[i].lstrip())
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            code = "\n".join(line[indent:] for line in lines[i + 1 : end]) + "\n"
            marker = MARKER.search(lines[i - 1]) if i else None
            mode = marker.group("mode") if marker else "sample"
            blocks.append(CodeBlock(str(path.relative_to(ROOT)), i + 1, code, mode))
            i = end
        i += 1
    return blocks


BLOCKS = [block for path in DOC_FILES for block in code_blocks(path)]
SAMPLES = [b for b in BLOCKS if b.mode == "sample"]
SCRIPTS = [b for b in BLOCKS if b.mode == "script"]


@pytest.mark.parametrize("block", SAMPLES, ids=[b.id for b in SAMPLES])
async def test_doc_sample_runs(block: CodeBlock) -> None:
    code = compile(
        block.code, block.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    namespace: dict[str, object] = {"__name__": "docs_sample"}
    result = eval(code, namespace)
    if inspect.iscoroutine(result):
        await result
    main = namespace.get("main")
    if inspect.iscoroutinefunction(main):
        await main()


@pytest.mark.parametrize("block", SCRIPTS, ids=[b.id for b in SCRIPTS])
def test_doc_script_runs(block: CodeBlock) -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", block.code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_doc_code_blocks_are_found() -> None:
    """Guard the collector itself: the README's quickstart and the guides are picked up."""
    assert any(b.path == "README.md" and b.mode == "script" for b in BLOCKS)
    assert len(SAMPLES) >= 20
    for block in BLOCKS:
        if block.mode == "skip":
            assert (
                "docs-test: skip ("
                in Path(ROOT / block.path).read_text().splitlines()[block.line - 2]
            ), f"{block.id}: a skip marker says why: <!-- docs-test: skip (reason) -->"


DIRECTIVE = re.compile(r"^(?P<indent> *)\.\. (?:auto)?\w+:: (?P<name>[\w.]+)")


def documented_names() -> set[str]:
    """The names docs/api.md documents, qualified (``Process.pid``, ``run``)."""
    names, cls = set(), ""
    for line in (ROOT / "docs" / "api.md").read_text().splitlines():
        m = DIRECTIVE.match(line)
        if m is None or m.group("name") == "currentmodule":
            continue
        name = m.group("name").removeprefix("anysubprocess.")
        if not m.group("indent"):
            cls = name
        elif "." not in name:
            name = f"{cls}.{name}"
        names.add(name)
    return names


def test_api_reference_lists_every_public_name() -> None:
    """docs/api.md names its entries one by one (to keep asyncio's order), so a public name
    added to the package must be added there too."""
    import anysubprocess as asp
    import anysubprocess.migrate
    import anysubprocess.testing

    public = set(asp.__all__)
    public |= {f"testing.{n}" for n in anysubprocess.testing.__all__}
    public |= {f"migrate.{n}" for n in anysubprocess.migrate.__all__}
    for cls in (asp.Process, asp.StreamReader, asp.StreamWriter, asp.TimeoutExpired):
        own = {*vars(cls), *getattr(cls, "__annotations__", {})}
        public |= {f"{cls.__name__}.{n}" for n in own if not n.startswith("_")}
    missing = public - documented_names()
    assert not missing, f"not in docs/api.md: {sorted(missing)}"


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("example", EXAMPLES)
def test_example_runs(example: str, loop: str) -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", str(ROOT / "examples" / f"{example}.py"), loop],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT / "examples",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_every_example_is_in_the_demo() -> None:
    demo = (ROOT / "scripts" / "demo").read_text()
    assert sorted(re.search(r"examples=\((.*?)\)", demo).group(1).split()) == EXAMPLES  # type: ignore[union-attr]


def test_bench_chart_is_drawn_from_latest_json(tmp_path: Path) -> None:
    """docs/_static/bench.svg is what bench/run.py draws from bench/results/latest.json."""
    chart = tmp_path / "bench.svg"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--from-json",
            str(ROOT / "bench" / "results" / "latest.json"),
            "--chart",
            str(chart),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert chart.read_text() == (ROOT / "docs" / "_static" / "bench.svg").read_text(), (
        "redraw it: python bench/run.py --from-json bench/results/latest.json "
        "--chart docs/_static/bench.svg"
    )

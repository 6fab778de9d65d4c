"""The documentation's code runs: every example under every backend, and the README's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.py") if not p.stem.startswith("_"))
LOOPS = ["asyncio", "uvloop", "trio"]


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


def test_readme_example_runs_on_asyncio_and_trio() -> None:
    readme = (ROOT / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)[0]
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    dates = result.stdout.splitlines()
    assert len(dates) == 2
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+", d) for d in dates)


def test_every_example_is_in_the_demo() -> None:
    demo = (ROOT / "scripts" / "demo").read_text()
    assert sorted(re.search(r"examples=\((.*?)\)", demo).group(1).split()) == EXAMPLES  # type: ignore[union-attr]

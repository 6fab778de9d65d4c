"""``python -m anysubprocess.migrate``: rewrites, leave-alones, the report, the command line."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("libcst", reason="the migrate tool needs libcst (anysubprocess[migrate])")

from hypothesis import given, settings
from hypothesis import strategies as st

from anysubprocess.migrate import CODES, main, migrate_source
from anysubprocess.migrate._rewrite import rewrite
from anysubprocess.migrate._scan import scan
from anysubprocess.migrate._walk import walk

SAMPLES = Path(__file__).parent / "migrate_samples"


def migrated(source: str) -> str:
    result = migrate_source(source)
    assert isinstance(result.migrated, str)
    if scan(source).simple:  # without libcst's scope analysis: the same rewrite, findings
        fast, _ = rewrite(source, simple=True)
        slow, _ = rewrite(source, simple=False)
        assert fast == slow
    again = migrate_source(result.migrated)
    assert not again.changed, "not idempotent"
    compile(result.migrated, "<migrated>", "exec")
    return result.migrated


def codes(source: str) -> list[tuple[int, int, str]]:
    return [(f.line, f.col, f.code) for f in migrate_source(source).findings]


# (before, after): every import style the tool rewrites.
REWRITTEN = [
    pytest.param(
        "import asyncio\n\nasync def f():\n    return await asyncio.create_subprocess_exec('ls')\n",
        "import anysubprocess\n\n"
        "async def f():\n    return await anysubprocess.create_subprocess_exec('ls')\n",
        id="import-asyncio-only-subprocess",
    ),
    pytest.param(
        "import asyncio\n\nasync def f():\n    await asyncio.sleep(1)\n"
        "    return await asyncio.create_subprocess_shell('ls', stdout=asyncio.subprocess.PIPE)\n",
        "import asyncio\n\nimport anysubprocess\n\nasync def f():\n    await asyncio.sleep(1)\n"
        "    return await anysubprocess.create_subprocess_shell('ls', stdout=anysubprocess.PIPE)\n",
        id="import-asyncio-still-needed",
    ),
    pytest.param(
        "import asyncio as aio\nx = aio.subprocess.STDOUT\n",
        "import anysubprocess\nx = anysubprocess.STDOUT\n",
        id="import-asyncio-as",
    ),
    pytest.param(
        "import asyncio.subprocess\nx = asyncio.subprocess.DEVNULL\n",
        "import anysubprocess\nx = anysubprocess.DEVNULL\n",
        id="import-asyncio.subprocess",
    ),
    pytest.param(
        "import asyncio.subprocess as sp\nx = sp.PIPE\ny: sp.Process\n",
        "import anysubprocess.subprocess as sp\nx = sp.PIPE\ny: sp.Process\n",
        id="import-asyncio.subprocess-as",
    ),
    pytest.param(
        "import asyncio\nsp = asyncio.subprocess\n",
        "import anysubprocess.subprocess\nsp = anysubprocess.subprocess\n",
        id="module-as-a-value",
    ),
    pytest.param(
        "from asyncio import create_subprocess_exec as spawn, create_subprocess_shell\n",
        "from anysubprocess import create_subprocess_exec as spawn, create_subprocess_shell\n",
        id="from-asyncio-import-as",
    ),
    pytest.param(
        "from asyncio import sleep, create_subprocess_exec\n",
        "from asyncio import sleep\n\nfrom anysubprocess import create_subprocess_exec\n",
        id="from-asyncio-import-split",
    ),
    pytest.param(
        "from asyncio import (\n    gather,  # keep me\n    create_subprocess_exec,\n)\n",
        "from asyncio import (\n    gather,  # keep me\n)\n"
        "from anysubprocess import create_subprocess_exec\n",
        id="from-asyncio-import-parenthesized-split",
    ),
    pytest.param(
        "from asyncio import subprocess as aio_sp\nx = aio_sp.PIPE\n",
        "from anysubprocess import subprocess as aio_sp\nx = aio_sp.PIPE\n",
        id="from-asyncio-import-subprocess",
    ),
    pytest.param(
        "from asyncio.subprocess import (\n"
        "    PIPE,\n    STDOUT,  # merged\n    DEVNULL,\n    Process,\n)\n",
        "from anysubprocess import (\n"
        "    PIPE,\n    STDOUT,  # merged\n    DEVNULL,\n    Process,\n)\n",
        id="from-asyncio.subprocess-import",
    ),
    pytest.param(
        "import os, asyncio\nx = asyncio.create_subprocess_exec\n",
        "import os, anysubprocess\nx = anysubprocess.create_subprocess_exec\n",
        id="multi-alias-import",
    ),
    pytest.param(
        "import anysubprocess\nimport os, asyncio\nx = asyncio.create_subprocess_exec\n",
        "import os\n\nimport anysubprocess\nx = anysubprocess.create_subprocess_exec\n",
        id="anysubprocess-already-imported",
    ),
    pytest.param(
        "import anysubprocess\nimport asyncio, asyncio.subprocess\n"
        "x = asyncio.create_subprocess_exec\ny = asyncio.subprocess.PIPE\n",
        "import anysubprocess\nx = anysubprocess.create_subprocess_exec\ny = anysubprocess.PIPE\n",
        id="every-alias-replaced-the-statement-goes",
    ),
    pytest.param(
        "import asyncio\nclass A:\n    spawn = asyncio.create_subprocess_exec\n"
        "    f = staticmethod(asyncio.create_subprocess_shell)\n",
        "import anysubprocess\nclass A:\n    spawn = anysubprocess.create_subprocess_exec\n"
        "    f = staticmethod(anysubprocess.create_subprocess_shell)\n",
        id="passed-as-a-value",
    ),
    pytest.param(
        "import asyncio\ndef f(x: 'asyncio.subprocess.Process'):\n"
        "    return asyncio.create_subprocess_exec\n",
        "import anysubprocess\ndef f(x: 'anysubprocess.Process'):\n"
        "    return anysubprocess.create_subprocess_exec\n",
        id="string-annotation-rewritten",
    ),
    pytest.param(
        "def f():\n    import asyncio\n    return asyncio.create_subprocess_exec\n",
        "def f():\n    import anysubprocess\n    return anysubprocess.create_subprocess_exec\n",
        id="function-local-import",
    ),
    pytest.param(
        "if True: import asyncio\nx = asyncio.create_subprocess_exec\ny = asyncio.Event\n",
        "if True: import asyncio; import anysubprocess\n"
        "x = anysubprocess.create_subprocess_exec\ny = asyncio.Event\n",
        id="one-line-suite",
    ),
    pytest.param(
        "from asyncio import *  # noqa: F403\n"
        "async def f():\n    await create_subprocess_shell('ls')\n",
        "from asyncio import *  # noqa: F403\n\nfrom anysubprocess import create_subprocess_shell\n"
        "async def f():\n    await create_subprocess_shell('ls')\n",
        id="star-import",
    ),
    pytest.param(
        "import asyncio\n\n\nasync def f():\n"
        "    asyncio.create_subprocess_exec  # comment about asyncio.subprocess.PIPE\n"
        "    return 'asyncio.create_subprocess_exec'\n",
        "import anysubprocess\n\n\nasync def f():\n"
        "    anysubprocess.create_subprocess_exec  # comment about asyncio.subprocess.PIPE\n"
        "    return 'asyncio.create_subprocess_exec'\n",
        id="comments-and-strings-kept",
    ),
]


@pytest.mark.parametrize(("before", "after"), REWRITTEN)
def test_rewrites(before: str, after: str) -> None:
    assert migrated(before) == after


# Sources the tool must return byte-identical.
UNCHANGED = [
    pytest.param("x = 1\n", id="no-asyncio"),
    pytest.param("import asyncio\n\nasyncio.run(main())\n", id="asyncio-without-subprocess"),
    pytest.param(
        "'''Call asyncio.create_subprocess_exec(stdout=asyncio.subprocess.PIPE).'''\n"
        "# import asyncio; asyncio.create_subprocess_exec\n"
        "HELP = 'from asyncio import create_subprocess_exec'\n",
        id="strings-and-comments",
    ),
    pytest.param(
        "import asyncio\n\ndef f(asyncio):\n    return asyncio.create_subprocess_exec\n",
        id="shadowed-by-parameter",
    ),
    pytest.param(
        "from asyncio import sleep\n\ndef f():\n    create_subprocess_exec = 1\n"
        "    return create_subprocess_exec\n",
        id="local-name-not-imported",
    ),
    pytest.param(
        "import asyncio\nx = asyncio.subprocess.SubprocessStreamProtocol\n",
        id="unmirrored-name",
    ),
    pytest.param(
        "from asyncio import subprocess as s\nx = s.SubprocessStreamProtocol\ny = s.PIPE\n",
        id="unmirrored-module-use",
    ),
    pytest.param("import asyncio\nasyncio.create_subprocess_exec = None\n", id="monkeypatch"),
    pytest.param("from .asyncio import create_subprocess_exec\n", id="relative-import"),
    pytest.param("import asyncio_extras\nasyncio_extras.create_subprocess_exec\n", id="prefix"),
    pytest.param("def broken(:\n    asyncio\n", id="syntax-error"),
]


@pytest.mark.parametrize("source", UNCHANGED)
def test_leaves_alone(source: str) -> None:
    result = migrate_source(source)
    assert result.migrated == source
    assert not result.changed
    raw = migrate_source(source.encode())
    assert raw.migrated == source.encode()


def test_left_alone_is_reported() -> None:
    assert codes("import asyncio\nx = asyncio.subprocess.SubprocessStreamProtocol\n") == [
        (2, 5, "ASP201")
    ]
    assert codes("from asyncio.subprocess import PIPE, SubprocessStreamProtocol\n") == [
        (1, 38, "ASP201")
    ]
    assert codes("import asyncio\nasyncio.create_subprocess_exec = None\n") == [(2, 1, "ASP301")]
    assert codes("from asyncio import *  # noqa\n") == [(1, 1, "ASP202")]


BLOCKERS = """\
import asyncio
import asyncio as aio
from asyncio import gather, Queue as Q


async def work(loop):
    await asyncio.sleep(1)
    await asyncio.wait_for(f(), 1)
    async with asyncio.timeout(1):
        await gather(f(), f())
    t = aio.create_task(f())
    e, l, q = asyncio.Event(), asyncio.Lock(), Q()
    loop = asyncio.get_running_loop()
    await loop.subprocess_exec(Protocol, "ls")
    await loop.run_in_executor(None, print)
    loop.call_soon(print)
    await asyncio.shield(t)
    try:
        await asyncio.to_thread(print)
    except asyncio.CancelledError:
        raise
    r, w = await asyncio.open_connection("localhost", 80)
    return asyncio.current_task()


asyncio.run(work(None))
"""


def test_report_codes_and_positions() -> None:
    result = migrate_source(BLOCKERS)
    assert not result.changed
    assert [(f.line, f.col, f.code) for f in result.findings] == [
        (7, 11, "ASP101"),
        (8, 11, "ASP102"),
        (9, 16, "ASP103"),
        (10, 15, "ASP104"),
        (11, 9, "ASP105"),
        (12, 15, "ASP106"),
        (12, 32, "ASP107"),
        (12, 48, "ASP108"),
        (13, 12, "ASP109"),
        (14, 16, "ASP110"),
        (15, 16, "ASP111"),
        (16, 10, "ASP112"),
        (17, 11, "ASP113"),
        (19, 15, "ASP111"),
        (20, 12, "ASP114"),
        (22, 18, "ASP115"),
        (23, 12, "ASP116"),
        (26, 1, "ASP100"),
    ]
    first = result.findings[0]
    assert first.format("x.py") == (
        "x.py:7:11: ASP101 asyncio.sleep does not run under trio; use anyio.sleep"
    )
    assert all(f.code in CODES for f in result.findings)


def test_star_import_blockers_are_reported() -> None:
    source = "from asyncio import *  # noqa\n\nasync def f():\n    await sleep(1)\n"
    assert codes(source) == [(1, 1, "ASP202"), (4, 11, "ASP101")]


def test_star_import_from_asyncio_subprocess_brings_only_the_factories() -> None:
    source = "from asyncio.subprocess import *  # noqa\n\nasync def f():\n    await sleep(1)\n"
    assert codes(source) == [(1, 1, "ASP202")]


def test_module_as_a_value_imports_the_submodule_by_name() -> None:
    source = "import anysubprocess\nimport asyncio\nsp = asyncio.subprocess\nasyncio.run(f())\n"
    assert migrated(source) == (
        "import anysubprocess\nimport asyncio\nimport anysubprocess.subprocess\n"
        "sp = anysubprocess.subprocess\nasyncio.run(f())\n"
    )


def test_parse_error_is_a_finding() -> None:
    result = migrate_source("import asyncio\ndef broken(:\n")
    assert result.error is not None
    assert [f.code for f in result.findings] == ["ASP001"]


def test_crlf_and_encoding_are_kept() -> None:
    source = (
        "# -*- coding: latin-1 -*-\r\n"
        "import asyncio\r\n"
        "NAME = 'caf\xe9'\r\n"
        "x = asyncio.create_subprocess_exec\r\n"
        "asyncio.run(f())\r\n"
    ).encode("latin-1")
    result = migrate_source(source)
    assert result.migrated == (
        "# -*- coding: latin-1 -*-\r\n"
        "import asyncio\r\n"
        "\r\n"
        "import anysubprocess\r\n"
        "NAME = 'caf\xe9'\r\n"
        "x = anysubprocess.create_subprocess_exec\r\n"
        "asyncio.run(f())\r\n"
    ).encode("latin-1")


def test_bom_and_missing_final_newline_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = b"\xef\xbb\xbfimport asyncio\nx = asyncio.create_subprocess_exec"
    result = migrate_source(source)
    assert (
        result.migrated
        == b"\xef\xbb\xbfimport anysubprocess\nx = anysubprocess.create_subprocess_exec"
    )
    path = tmp_path / "m.py"
    path.write_bytes(source)
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert out.endswith("+x = anysubprocess.create_subprocess_exec\n\\ No newline at end of file\n")


def test_importing_anysubprocess_does_not_import_libcst() -> None:
    code = (
        "import sys, anysubprocess, anysubprocess.migrate\n"
        "assert 'libcst' not in sys.modules, 'libcst imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


# A random module: some asyncio imports, then uses of the names they bind, in any order.
IMPORTS = [
    ("import asyncio\n", "asyncio"),
    ("import asyncio as aio\n", "aio"),
    ("import asyncio.subprocess as sp\n", "sp"),
    ("from asyncio import create_subprocess_exec as spawn, sleep\n", "spawn"),
    ("from asyncio.subprocess import PIPE, Process\n", "PIPE"),
    ("from asyncio import subprocess\n", "subprocess"),
]
USES = [
    ("x = asyncio.create_subprocess_exec\n", "asyncio"),
    ("w = 'asyncio.create_subprocess_shell'  # asyncio.subprocess.PIPE\n", "asyncio"),
    ("def f(asyncio):\n    return asyncio.create_subprocess_exec  # shadowed\n", "asyncio"),
    ("async def g():\n    await asyncio.sleep(0)\n", "asyncio"),
    ("y = aio.subprocess.PIPE\n", "aio"),
    ("v = aio.gather\n", "aio"),
    ("z = sp.STDOUT\n", "sp"),
    ("t = spawn\n", "spawn"),
    ("p: Process = PIPE\n", "PIPE"),
    ("u = subprocess.DEVNULL\n", "subprocess"),
]


def _code(text: str) -> str:
    """``text`` without its strings and comments (the fragments keep those simple)."""
    return "\n".join(line.split("#")[0].split("'")[0] for line in text.splitlines())


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.sampled_from(IMPORTS), min_size=1, unique=True),
    st.lists(st.sampled_from(USES), max_size=6),
)
def test_any_mix_migrates_idempotently(
    imports: list[tuple[str, str]], uses: list[tuple[str, str]]
) -> None:
    bound = {name for _, name in imports}
    parts = [text for text, _ in imports] + [text for text, name in uses if name in bound]
    source = "".join(parts)
    out = migrated(source)  # compiles, and a second run changes nothing
    for line in out.splitlines():
        if "# shadowed" in line:
            assert line == "    return asyncio.create_subprocess_exec  # shadowed"
            continue
        code = _code(line)
        for gone in ("asyncio.create_subprocess", "asyncio.subprocess", "aio.create", "aio.sub"):
            assert gone not in code, line
    assert "w = 'asyncio.create_subprocess_shell'  # asyncio.subprocess.PIPE" in out or (
        "w = " not in source
    )
    rewritable = [p for p in parts if "subprocess" in _code(p) and "# shadowed" not in p]
    assert (out != source) == bool(rewritable)


# --- the command line ---------------------------------------------------------------------


def write_tree(root: Path) -> dict[str, bytes]:
    files = {
        "pkg/a.py": b"import asyncio\nx = asyncio.create_subprocess_exec\n",
        "pkg/b.py": b"import asyncio\nasyncio.run(main())\n",
        "pkg/__pycache__/c.py": b"import asyncio\nx = asyncio.create_subprocess_exec\n",
        ".venv-test/d.py": b"import asyncio\nx = asyncio.create_subprocess_exec\n",
        ".git/e.py": b"import asyncio\nx = asyncio.create_subprocess_exec\n",
        "pkg/notes.txt": b"import asyncio\nx = asyncio.create_subprocess_exec\n",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def read_tree(root: Path, files: dict[str, bytes]) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in files}


def test_cli_diff_by_default_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = write_tree(tmp_path)
    assert main([str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    a = tmp_path / "pkg" / "a.py"
    assert out == (
        f"--- {a}\n+++ {a}\n@@ -1,2 +1,2 @@\n"
        "-import asyncio\n-x = asyncio.create_subprocess_exec\n"
        "+import anysubprocess\n+x = anysubprocess.create_subprocess_exec\n"
    )
    assert f"{tmp_path / 'pkg' / 'b.py'}:2:1: ASP100 asyncio.run" in err
    assert "2 files checked, 1 to migrate, 0 unparsable, 1 findings" in err
    assert read_tree(tmp_path, files) == files


def test_cli_check_and_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = write_tree(tmp_path)
    assert main(["--check", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"would migrate {tmp_path / 'pkg' / 'a.py'}" in err
    assert read_tree(tmp_path, files) == files

    assert main(["--write", "--no-report", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "ASP100" not in err
    after = read_tree(tmp_path, files)
    assert after["pkg/a.py"] == b"import anysubprocess\nx = anysubprocess.create_subprocess_exec\n"
    assert {k: v for k, v in after.items() if k != "pkg/a.py"} == {
        k: v for k, v in files.items() if k != "pkg/a.py"
    }

    assert main(["--check", str(tmp_path)]) == 0  # idempotent: nothing left to do
    assert main([str(tmp_path / "pkg" / "notes.txt"), "--check"]) == 1  # explicit files count


def test_cli_parse_errors_are_reported_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.py").write_text("import asyncio\ndef broken(:\n")
    (tmp_path / "good.py").write_text("import asyncio\nx = asyncio.create_subprocess_exec\n")
    (tmp_path / "latin.py").write_bytes(b"# -*- coding: nonsense -*-\nimport asyncio\n")
    assert main(["--write", str(tmp_path)]) == 1
    _, err = capsys.readouterr()
    assert f"{tmp_path / 'bad.py'}:2:12: ASP001 SyntaxError: " in err  # where it is
    assert f"{tmp_path / 'latin.py'}:1:1: ASP001 SyntaxError: unknown encoding" in err
    assert "3 files checked, 1 migrated, 2 unparsable" in err
    assert "anysubprocess" in (tmp_path / "good.py").read_text()
    assert main([str(tmp_path / "missing.py")]) == 1
    assert "ASP001 cannot read" in capsys.readouterr().err


def test_cli_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--write", "--check", "--no-report", "--jobs"):
        assert flag in out
    for code in CODES:
        assert code in out
    assert main([]) == 2
    assert main(["--write", "--check", "x"]) == 2
    assert main(["-j", "0", "x"]) == 2


def test_cli_without_libcst(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "libcst", None)
    assert main(["."]) == 2
    assert capsys.readouterr().err == (
        "anysubprocess.migrate needs libcst: pip install 'anysubprocess[migrate]'\n"
    )


def test_cli_pool_gives_the_same_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(12):
        (tmp_path / f"m{i}.py").write_text(
            f"import asyncio\nx{i} = asyncio.create_subprocess_exec\nasyncio.run(f())\n"
        )
    assert main(["-j", "1", str(tmp_path)]) == 0
    one = capsys.readouterr()
    assert main(["-j", "2", str(tmp_path)]) == 0  # a process pool
    two = capsys.readouterr()
    assert one == two
    assert one.out.count("+import anysubprocess\n") == 12
    assert one.err.count("ASP100") == 12


def test_cli_as_a_module(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("from asyncio import create_subprocess_exec\n")
    done = subprocess.run(
        [sys.executable, "-m", "anysubprocess.migrate", "--check", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert f"would migrate {tmp_path / 'm.py'}" in done.stderr


# --- the sample project, migrated, runs under asyncio and trio ------------------------------


def run_sample(root: Path, loop: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / "runner.py"), loop, str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


EXPECTED = (
    "upper: HELLO\nshell: 3\nmerged: ['out', 'err']\nlines: 4\nexit: 5\npartial: b'abcdef\\n'\n"
    "pool: [b'1\\n', b'2\\n']\n"
)


def test_migrated_sample_runs_under_asyncio_and_trio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "project"
    shutil.copytree(SAMPLES, root)
    before = {p.name: p.read_bytes() for p in root.rglob("*.py")}

    # The original runs on asyncio only.
    original = run_sample(root, "asyncio")
    assert original.returncode == 0, original.stderr
    assert original.stdout == EXPECTED
    assert run_sample(root, "trio").returncode != 0

    assert main(["--write", str(root)]) == 0
    _, err = capsys.readouterr()
    after = {p.name: p.read_bytes() for p in root.rglob("*.py")}
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"procs.py", "aliased.py", "annotated.py"}
    assert b'self.procs: "list[anysubprocess.Process]" = []  # noqa' in after["annotated.py"]
    # gather, run stay; the new import is where ruff's isort rules put it
    assert b"import asyncio\nimport sys\n\nimport anysubprocess\n" in after["procs.py"]
    assert b"asyncio.gather(" in after["procs.py"]
    assert b'"""Run child processes with asyncio.create_subprocess_exec' in after["procs.py"]
    procs = root / "sample" / "procs.py"
    # At their lines in the written file (an import and a blank line were added above them).
    assert f"{procs}:47:21: ASP104 asyncio.gather" in err
    assert f"{procs}:48:11: ASP101 asyncio.sleep" in err
    assert f"{procs}:53:5: ASP100 asyncio.run" in err
    ruff = Path(sys.executable).parent / "ruff"
    if ruff.exists():  # the imports are sorted as ruff's isort rules want (I001)
        done = subprocess.run(
            [str(ruff), "check", "--isolated", "--no-cache", "--select", "I,F", "."],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout

    for loop in ("asyncio", "trio"):
        result = run_sample(root, loop)
        assert result.returncode == 0, f"{loop}: {result.stderr}"
        assert result.stdout == EXPECTED, loop

    assert main(["--check", str(root)]) == 0


def test_every_code_is_documented() -> None:
    page = (Path(__file__).parent.parent / "docs" / "migrate.md").read_text()
    documented = re.findall(r"^\| `(ASP\d{3})` \|", page, re.MULTILINE)
    assert documented == sorted(CODES)


# --- what a walk skips (issue #17, item 1) ------------------------------------------------

SUBPROCESS_USE = b"import asyncio\nx = asyncio.create_subprocess_exec\n"


def test_walk_skips_virtualenvs_build_outputs_and_git_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("git") is None:
        pytest.skip("needs git")
    files = {
        "src/app.py": SUBPROCESS_USE,
        "env/pyvenv.cfg": b"home = /usr/bin\n",  # a virtualenv under any name
        "env/lib/python3.13/site-packages/anyio/_backends/_asyncio.py": SUBPROCESS_USE,
        "vendor/site-packages/lib.py": SUBPROCESS_USE,
        "node_modules/pkg/x.py": SUBPROCESS_USE,
        "build/lib/app.py": SUBPROCESS_USE,
        "dist/app.py": SUBPROCESS_USE,
        "app.egg-info/x.py": SUBPROCESS_USE,
        ".mypy_cache/x.py": SUBPROCESS_USE,
        "generated/out.py": SUBPROCESS_USE,  # git-ignored directory
        "src/secret_gen.py": SUBPROCESS_USE,  # git-ignored file
        ".gitignore": b"generated/\n*_gen.py\n",
    }
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=30)
    assert main(["--write", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    after = {name: (tmp_path / name).read_bytes() for name in files}
    changed = sorted(name for name in files if after[name] != files[name])
    assert changed == ["src/app.py"]
    assert "1 files checked, 1 migrated" in err
    summary = next(line for line in err.splitlines() if line.startswith("skipped "))
    assert summary.startswith("skipped 9 paths: ")
    assert summary.endswith(" and 4 more; name a path to migrate it anyway")
    assert walk([str(tmp_path)]).skipped == {
        str(tmp_path / name): why
        for name, why in [
            (".mypy_cache", "excluded by default"),
            ("app.egg-info", "excluded by default"),
            ("build", "excluded by default"),
            ("dist", "excluded by default"),
            ("env", "virtualenv"),
            ("generated", "git-ignored"),
            ("node_modules", "excluded by default"),
            ("src/secret_gen.py", "git-ignored"),
            ("vendor/site-packages", "virtualenv"),
        ]
    }

    # Named explicitly, a skipped file is processed (as ruff does).
    ignored = tmp_path / "src" / "secret_gen.py"
    assert main(["--check", str(ignored)]) == 1
    assert f"would migrate {ignored}" in capsys.readouterr().err


def test_walk_outside_git_and_explicit_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "venv" / "lib").mkdir(parents=True)
    (tmp_path / "venv" / "lib" / "a.py").write_bytes(SUBPROCESS_USE)
    (tmp_path / "b.py").write_bytes(SUBPROCESS_USE)
    assert main(["--check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "1 files checked, 1 to migrate" in err
    assert f"skipped 1 path: {tmp_path / 'venv'} (virtualenv)" in err
    # A directory named explicitly is walked, whatever its name.
    assert main(["--check", str(tmp_path / "venv")]) == 1
    assert "1 files checked, 1 to migrate" in capsys.readouterr().err


# --- trio blockers the report had missed, and loop methods tied to a loop (item 6) ---------

LOOPS = """\
import asyncio
from asyncio import AbstractEventLoop


class Timer:
    def call_later(self, delay, fn):
        return fn


class Server:
    _loop: AbstractEventLoop

    def __init__(self) -> None:
        self.timer = Timer()
        self.timer.call_later(1, print)
        self.loop2 = asyncio.new_event_loop()

    def start(self):
        self._loop.call_soon(print)
        self.loop2.set_task_factory(None)


def helper(loop: "asyncio.AbstractEventLoop", other, timer: Timer):
    loop.connect_read_pipe(None, None)
    other.call_soon(print)
    timer.call_later(1, print)


async def main(fut):
    loop = asyncio.get_running_loop()
    await loop.connect_write_pipe(None, None)
    asyncio.get_running_loop().call_later(1, print)
    await asyncio.wrap_future(fut)
    asyncio.run_coroutine_threadsafe(main(fut), loop)
    asyncio.get_child_WATCHER()
""".replace("_WATCHER", "_watch" + "er")  # split: tests/test_pythons.py scans for the name


def test_missed_blockers_and_loop_methods_tied_to_a_loop() -> None:
    assert codes(LOOPS) == [
        (11, 12, "ASP109"),  # AbstractEventLoop
        (16, 22, "ASP109"),  # new_event_loop
        (19, 20, "ASP112"),  # self._loop: annotated in the class body
        (20, 20, "ASP120"),  # self.loop2 = asyncio.new_event_loop()
        (24, 10, "ASP118"),  # loop: "asyncio.AbstractEventLoop"
        (30, 12, "ASP109"),
        (31, 16, "ASP118"),  # loop = asyncio.get_running_loop()
        (32, 5, "ASP109"),
        (32, 32, "ASP112"),  # asyncio.get_running_loop().call_later
        (33, 11, "ASP117"),
        (34, 5, "ASP117"),
        (35, 5, "ASP119"),
    ]
    # Not reported: timer.call_later (twice), other.call_soon: nothing shows they are loops.


def test_report_on_non_ascii_lines_counts_characters() -> None:
    source = "import asyncio\nx = 'été'; asyncio.sleep(1)\n"
    assert codes(source) == [(2, 12, "ASP101")]
    assert [(f.line, f.col) for f in migrate_source(source.encode()).findings] == [(2, 12)]


# --- a Process built by hand is left as it is, and reported (item 2) -----------------------

BY_HAND = """\
import asyncio
import asyncio.subprocess as sp
from asyncio.subprocess import PIPE, Process


def wrap(transport, protocol, loop):
    return asyncio.subprocess.Process(transport, protocol, loop)


def wrap2(transport, protocol, loop):
    return Process(transport, protocol, loop)


def wrap3(transport, protocol, loop) -> sp.Process:
    return sp.Process(transport, protocol, loop)


async def spawn() -> Process:
    return await asyncio.create_subprocess_exec("true", stdout=PIPE)
"""


def test_process_built_by_hand_is_left_and_reported(tmp_path: Path) -> None:
    out = migrated(BY_HAND)
    assert "return asyncio.subprocess.Process(transport, protocol, loop)" in out
    assert "return Process(transport, protocol, loop)" in out
    assert "return sp.Process(transport, protocol, loop)" in out
    assert "import asyncio.subprocess as sp\n" in out
    assert (
        "from asyncio.subprocess import Process\n\n"
        "import anysubprocess\nfrom anysubprocess import PIPE\n" in out
    )
    assert 'await anysubprocess.create_subprocess_exec("true", stdout=PIPE)' in out
    assert [c for c in codes(BY_HAND) if c[2] == "ASP203"] == [
        (7, 12, "ASP203"),
        (11, 12, "ASP203"),
        (15, 12, "ASP203"),
    ]
    # The migrated module still builds asyncio's Process under asyncio (as anyio does), and
    # its factory call is anysubprocess's.
    (tmp_path / "byhand.py").write_text(out)
    driver = """
import asyncio, sys, byhand

async def main():
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.subprocess_exec(
        lambda: asyncio.subprocess.SubprocessStreamProtocol(limit=2**16, loop=loop),
        sys.executable, "-c", "print('by hand')", stdout=asyncio.subprocess.PIPE,
    )
    for wrap in (byhand.wrap, byhand.wrap2, byhand.wrap3):
        proc = wrap(transport, protocol, loop)
        assert type(proc) is asyncio.subprocess.Process
    out, _ = await proc.communicate()
    print(out.decode().strip(), type(await byhand.spawn()).__module__)

asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", driver],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "by hand anysubprocess\n"


# --- output that patch, git apply and ruff take (item 5) -----------------------------------

FORM_FEED = (
    b"import asyncio\n"
    b"\x0c\n"  # a page break line, as in CPython's own sources
    b"x = asyncio.create_subprocess_exec  # a\x0cb\x0bc\x1cd\n"
    b"y = 1\n"
)
LATIN_1 = (
    "# -*- coding: latin-1 -*-\n"
    "import asyncio\n"
    "CAF\xc9 = 'caf\xe9'\n"
    "x = asyncio.create_subprocess_exec  # \xe9t\xe9\n"
    "asyncio.run(f())\n"
).encode("latin-1")


def _apply_with(
    tool: str, tmp_path: Path, files: dict[str, bytes], diff: bytes
) -> dict[str, bytes]:
    copy = tmp_path / f"applied-{tool}"
    for name, data in files.items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    command = ["patch", "-p1", "--batch"] if tool == "patch" else ["git", "apply", "-p1", "-"]
    # -p1: the diff names proj/ff.py; applied inside proj/, as a patch from a checkout is.
    done = subprocess.run(command, cwd=copy / "proj", input=diff, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return {name: (copy / name).read_bytes() for name in files}


@pytest.mark.parametrize("tool", ["patch", "git"])
def test_diff_applies_with_form_feeds_and_latin_1(
    tool: str,
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"needs {tool}")
    files = {"proj/ff.py": FORM_FEED, "proj/latin.py": LATIN_1}
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    assert main(["proj"]) == 0
    diff = capsysbinary.readouterr().out
    assert "+x = anysubprocess.create_subprocess_exec  # \xe9t\xe9\n".encode("latin-1") in diff
    assert b"\x0cb\x0bc\x1cd\n" in diff
    applied = _apply_with(tool, tmp_path, files, diff)
    assert main(["--write", "proj"]) == 0
    written = {name: (tmp_path / name).read_bytes() for name in files}
    assert applied == written
    assert written["proj/latin.py"] == LATIN_1.replace(
        b"import asyncio\n", b"import asyncio\n\nimport anysubprocess\n"
    ).replace(b"asyncio.create", b"anysubprocess.create")
    for data in written.values():
        compile(data, "<migrated>", "exec")


IMPORT_STYLES = {
    "both.py": "import asyncio\nimport asyncio.subprocess\n\n"
    "x = asyncio.create_subprocess_exec\ny = asyncio.subprocess.PIPE\n",
    "stars.py": "from asyncio import *  # noqa: F403\n"
    "from asyncio.subprocess import *  # noqa: F403\n\n"
    "x = create_subprocess_exec\n",
    "noqa.py": "from asyncio import sleep, create_subprocess_exec  # noqa: F401\n",
}


def test_import_styles_give_one_import_and_keep_noqa(tmp_path: Path) -> None:
    outs = {name: migrated(source) for name, source in IMPORT_STYLES.items()}
    assert outs["both.py"] == (
        "import anysubprocess\n\nx = anysubprocess.create_subprocess_exec\ny = anysubprocess.PIPE\n"
    )
    assert outs["stars.py"].count("from anysubprocess import create_subprocess_exec\n") == 1
    assert outs["noqa.py"] == (
        "from asyncio import sleep  # noqa: F401\n\n"
        "from anysubprocess import create_subprocess_exec  # noqa: F401\n"
    )
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("needs ruff (the lint group)")
    for name, out in outs.items():
        (tmp_path / name).write_text(out)
    done = subprocess.run(
        [
            str(ruff),
            "check",
            "--isolated",
            "--no-cache",
            "--select",
            "F,I",
            "--ignore",
            "F405",
            ".",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout  # no F811 (a second import), no F401 without noqa


def test_write_reports_at_the_lines_after_the_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "from asyncio import sleep, create_subprocess_exec\n\n"
        "async def f():\n    await sleep(1)\n    await create_subprocess_exec('true')\n"
    )
    assert main([str(path)]) == 0
    assert f"{path}:4:11: ASP101" in capsys.readouterr().err  # the file as it is
    assert main(["--write", str(path)]) == 0
    assert f"{path}:6:11: ASP101" in capsys.readouterr().err  # the file as written
    assert path.read_text().splitlines()[5] == "    await sleep(1)"


# --- string annotations are rewritten as code is (item 4) ----------------------------------

STRING_ANNOTATIONS = """\
import asyncio
import sys


class Runner:
    proc: "asyncio.subprocess.Process | None" = None
    task: "asyncio.Task[None] | None" = None

    async def start(self) -> "asyncio.subprocess.Process":
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "pass", stdout=asyncio.subprocess.PIPE
        )
        return self.proc


def pids(procs: "list[asyncio.subprocess.Process]") -> "list[int]":
    return [p.pid for p in procs]


def escaped(p: "asyncio.subprocess.\\x50rocess") -> None:
    pass
"""


def test_string_annotations_are_rewritten_or_reported(tmp_path: Path) -> None:
    out = migrated(STRING_ANNOTATIONS)
    assert 'proc: "anysubprocess.Process | None" = None' in out
    assert 'task: "asyncio.Task[None] | None" = None' in out  # asyncio's own: kept
    assert 'async def start(self) -> "anysubprocess.Process":' in out
    assert 'def pids(procs: "list[anysubprocess.Process]") -> "list[int]":' in out
    assert out.startswith("import asyncio\nimport sys\n\nimport anysubprocess\n")  # Task needs it
    assert [c for c in codes(STRING_ANNOTATIONS) if c[2].startswith("ASP3")] == [
        (20, 16, "ASP303")  # an escape: reported, not rewritten
    ]
    mypy = Path(sys.executable).parent / "mypy"
    if not mypy.exists():
        pytest.skip("needs mypy (the lint group)")
    source = out.replace(
        'def escaped(p: "asyncio.subprocess.\\x50rocess") -> None:', "def x() -> None:"
    )
    (tmp_path / "annotated.py").write_text(source)
    done = subprocess.run(
        [str(mypy), "--strict", "--no-incremental", "--cache-dir", os.devnull, "annotated.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout


# --- mocks of asyncio's factories follow the code they mock, or are reported (item 3) -------

MOCKED_PROJECT = {
    "app/__init__.py": "",
    "app/runner.py": "import asyncio\nimport sys\n\n\nasync def run():\n"
    "    return await asyncio.create_subprocess_exec(sys.executable, '-c', 'pass')\n",
    "app/direct.py": "from asyncio import create_subprocess_shell\n\n\nasync def run():\n"
    "    return await create_subprocess_shell('exit 0')\n",
    "tests/test_runner.py": """\
import asyncio
from unittest import mock

from app import runner


async def fake(*args, **kwargs):
    return "fake"


def test_patch():
    with mock.patch("asyncio.create_subprocess_exec", fake):
        assert asyncio.run(runner.run()) == "fake"


def test_patch_object():
    with mock.patch.object(asyncio, "create_subprocess_exec", fake):
        assert asyncio.run(runner.run()) == "fake"


def test_monkeypatch(monkeypatch):
    monkeypatch.setattr(asyncio, "create_subprocess_exec", fake)
    assert asyncio.run(runner.run()) == "fake"


def test_monkeypatch_string(monkeypatch):
    monkeypatch.setattr("asyncio.create_subprocess_exec", fake)
    assert asyncio.run(runner.run()) == "fake"
""",
    "tests/test_direct.py": """\
from unittest import mock

from app import direct


def test_never_reached_by_the_mock():
    with mock.patch("asyncio.create_subprocess_shell") as fake:
        assert fake is not None
""",
}


def _pytest(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:anyio", "tests"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"},
    )


def test_mocks_follow_the_code_under_test_or_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "proj"
    for name, text in MOCKED_PROJECT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    before = _pytest(root)
    assert before.returncode == 0, before.stdout
    assert "5 passed" in before.stdout

    assert main(["--write", str(root)]) == 0
    err = capsys.readouterr().err
    tests = (root / "tests" / "test_runner.py").read_text()
    assert 'mock.patch("anysubprocess.create_subprocess_exec", fake)' in tests
    assert 'mock.patch.object(anysubprocess, "create_subprocess_exec", fake)' in tests
    assert 'monkeypatch.setattr(anysubprocess, "create_subprocess_exec", fake)' in tests
    assert 'monkeypatch.setattr("anysubprocess.create_subprocess_exec", fake)' in tests
    assert tests.startswith(
        "import asyncio\nfrom unittest import mock\n\n"
        "import anysubprocess\n\nfrom app import runner\n"
    )
    # direct.py imports the name: the mock never reached it, before or after. Reported.
    direct = root / "tests" / "test_direct.py"
    assert 'mock.patch("asyncio.create_subprocess_shell")' in direct.read_text()
    assert f"{direct}:7:21: ASP302 mock of asyncio.create_subprocess_shell left unchanged" in err

    after = _pytest(root)  # the mocks still replace what the migrated code calls
    assert after.returncode == 0, after.stdout
    assert "5 passed" in after.stdout


def test_mock_in_the_module_that_calls_the_factory() -> None:
    source = (
        "import asyncio\nfrom unittest import mock\n\n"
        "async def run():\n    return await asyncio.create_subprocess_exec('true')\n\n"
        "patcher = mock.patch('asyncio.create_subprocess_exec')\n"
    )
    assert "mock.patch('anysubprocess.create_subprocess_exec')" in migrated(source)
    alone = "from unittest import mock\npatcher = mock.patch('asyncio.create_subprocess_exec')\n"
    assert migrate_source(alone).migrated == alone
    assert codes(alone) == [(2, 22, "ASP302")]
    keyword = "from unittest import mock\np = mock.patch(target='asyncio.create_subprocess_exec')\n"
    assert codes(keyword) == [(2, 23, "ASP302")]  # never silent


def test_pre_commit_hook_runs_the_check(tmp_path: Path) -> None:
    hooks = (Path(__file__).parent.parent / ".pre-commit-hooks.yaml").read_text()
    assert "- id: anysubprocess-migrate\n" in hooks
    entry = re.search(r"^  entry: (.+)$", hooks, re.MULTILINE)
    assert entry is not None
    assert re.search(r"^  language: python$", hooks, re.MULTILINE)
    assert re.search(r"^  types: \[python\]$", hooks, re.MULTILINE)
    # As pre-commit runs it: the entry, then the staged files' names.
    (tmp_path / "a.py").write_bytes(SUBPROCESS_USE)
    (tmp_path / "b.py").write_text("import asyncio\nasyncio.run(main())\n")
    command = [sys.executable if w == "python" else w for w in entry.group(1).split()]
    done = subprocess.run(
        [*command, "a.py", "b.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "would migrate a.py" in done.stderr
    assert "b.py:2:1: ASP100" in done.stderr
    (tmp_path / "a.py").write_text("import os\n")
    done = subprocess.run(
        [*command, "a.py", "b.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="needs syntax newer than the Python")
def test_syntax_newer_than_the_running_python_is_rewritten_not_reported() -> None:
    source = "import asyncio\n\n\nclass A[T]:\n    x = asyncio.create_subprocess_exec\n"
    result = migrate_source(source)
    assert result.error is None
    assert [f.code for f in result.findings] == ["ASP002"]
    assert result.migrated == source.replace("asyncio", "anysubprocess")
    broken = "import asyncio\n\n\nclass A[T:\n    pass\n"
    assert [(f.line, f.code) for f in migrate_source(broken).findings] == [(4, "ASP001")]


def test_isinstance_with_asyncio_stream_classes_is_information() -> None:
    source = (
        "import asyncio\n\n\n"
        "def check(proc):\n"
        "    assert isinstance(proc.stdout, asyncio.StreamReader)\n"
        "    assert isinstance(proc.stdin, (asyncio.StreamWriter, bytes))\n"
        "    assert issubclass(type(proc.stderr), asyncio.StreamReader)\n"
        "    reader: asyncio.StreamReader = proc.stdout\n"
        "    return reader\n"
    )
    findings = migrate_source(source).findings
    assert [(f.line, f.col, f.code) for f in findings] == [
        (5, 36, "ASP204"),
        (6, 36, "ASP204"),
        (7, 42, "ASP204"),
        (8, 13, "ASP115"),  # an annotation is not a check: still a trio blocker
    ]
    assert "from anysubprocess 0.1.0 on" in findings[0].message
    assert "no change needed" in findings[0].message

"""anysubprocess.testing: the leak checks users put in their suites (and this suite is built on).

Each check must fail on a leak and pass when clean: in-process here, and through pytest
sessions in a subprocess (pytester) for the opt-in plugin and its fixture.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time

import anyio
import pytest
import sniffio

import anysubprocess
from anysubprocess import PIPE, testing
from anysubprocess.testing import LeakError, Leaks, Snapshot, no_leaks

from .conftest import PY


@pytest.fixture(params=["proc", "portable"])
def looking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each in-process check twice: through /proc, and the way non-Linux systems look
    (/dev/fd and ps)."""
    if request.param == "portable":
        if shutil.which("ps") is None:  # e.g. the minimal Debian root that provides 3.14/3.15
            pytest.skip("the portable way needs `ps`, which this system lacks")
        monkeypatch.setattr(testing, "_USE_PROC", False)
    return str(request.param)


def test_a_pipe_left_open_is_a_leak(looking: str) -> None:
    snapshot = Snapshot.take()
    r, w = os.pipe()
    try:
        found = snapshot.leaks()
        assert set(found.fds) == {r, w}
        assert all(kind.startswith("pipe:") for kind in found.fds.values())
        with pytest.raises(LeakError, match=rf"fds leaked: {r} \(pipe:") as info:
            snapshot.assert_clean(timeout=0.05)
        assert info.value.leaks == found
    finally:
        os.close(r)
        os.close(w)
    snapshot.assert_clean(timeout=0)
    assert not snapshot.leaks()
    assert str(snapshot.leaks()) == "no leaks"


def test_a_child_left_behind_is_killed_and_reaped(looking: str) -> None:
    snapshot = Snapshot.take()
    popen = subprocess.Popen(["sleep", "30"])
    try:
        assert snapshot.leaks().children.keys() == {popen.pid}
        with pytest.raises(LeakError, match=rf"children left behind: {popen.pid} \(state=") as e:
            snapshot.assert_clean(timeout=0.05)
        assert "sleep 30" in e.value.leaks.children[popen.pid]
        assert not snapshot.leaks()  # killed and reaped by the check
    finally:
        popen.kill()
        popen.wait()  # ChildProcessError inside: Popen takes it as reaped


def test_a_zombie_is_a_leak(looking: str) -> None:
    snapshot = Snapshot.take()
    popen = subprocess.Popen(["true"])
    try:
        deadline = time.monotonic() + 10
        while "state=Z" not in snapshot.leaks().children.get(popen.pid, ""):
            assert time.monotonic() < deadline, snapshot.leaks()
            time.sleep(0.005)
        with pytest.raises(LeakError, match="state=Z"):
            snapshot.assert_clean(timeout=0)
    finally:
        popen.wait()


def test_a_child_started_before_is_not_a_leak(looking: str) -> None:
    popen = subprocess.Popen(["sleep", "30"])
    try:
        snapshot = Snapshot.take()
        assert popen.pid in snapshot.children
        snapshot.assert_clean(timeout=0)
    finally:
        popen.kill()
        popen.wait()


def test_kill_false_leaves_the_child_to_its_owner() -> None:
    snapshot = Snapshot.take()
    popen = subprocess.Popen(["sleep", "30"])
    try:
        with pytest.raises(LeakError):
            snapshot.assert_clean(timeout=0, kill=False)
        assert popen.poll() is None
    finally:
        popen.kill()
        popen.wait()


def test_the_context_manager_lets_the_block_error_through() -> None:
    popen = None
    with pytest.raises(KeyError), no_leaks():
        popen = subprocess.Popen(["sleep", "30"])
        raise KeyError("the test's own failure")
    assert popen is not None
    assert popen.pid not in testing.child_processes()  # killed and reaped all the same
    popen.wait()


def test_leaks_message_lists_everything() -> None:
    leaks = Leaks(fds={7: "pipe:[1]"}, children={42: "state=S sleep 30"}, tasks=2)
    assert str(leaks) == (
        "children left behind: 42 (state=S sleep 30); fds leaked: 7 (pipe:[1]);"
        " 2 task(s) left running"
    )
    assert bool(Leaks(tasks=-1)) is False


# -- async, in the loop ---------------------------------------------------------------------


async def test_async_clean_block_passes() -> None:
    async with no_leaks(timeout=5) as snapshot:
        proc = await anysubprocess.create_subprocess_exec(
            PY, "-c", "print('hi')", stdout=PIPE, stdin=PIPE
        )
        assert await proc.communicate(b"") == (b"hi\n", None)
    assert snapshot.tasks is not None  # counted inside a loop


async def test_async_waits_for_cleanup_the_loop_finishes() -> None:
    """Pipes a task closes a little after the block, and a pipe opened before the
    snapshot and still open after it: not leaks."""
    before = os.pipe()

    async def close_after(delay: float, *fds: int) -> None:
        await anyio.sleep(delay)
        for fd in fds:
            os.close(fd)

    async with anyio.create_task_group() as tg:
        tg.start_soon(close_after, 0.2, *before)
        async with no_leaks(timeout=5, tasks=False):
            tg.start_soon(close_after, 0.1, *os.pipe())


async def test_async_unwaited_process_is_a_leak() -> None:
    """A process nobody waits for and whose pipes stay open: the child and the fds are
    reported. (kill=False: the Process cleans up its own child, nobody else reaps it.)"""
    proc = None
    with pytest.raises(LeakError) as info:
        async with no_leaks(timeout=0.2, kill=False):
            proc = await anysubprocess.create_subprocess_exec(
                PY, "-c", "import sys; sys.stdin.read()", stdin=PIPE, stdout=PIPE
            )
    assert proc is not None
    assert proc.pid in info.value.leaks.children
    assert len(info.value.leaks.fds) >= 2  # stdin and stdout (and a pidfd on Linux)
    assert proc.returncode is None  # not killed
    await proc.aclose()


async def test_async_check_kills_and_leaves_reaping_to_the_owner() -> None:
    """With kill (the default), a leftover child is SIGKILLed and its owner, here a task in
    wait(), reaps it and sees -9 (not a status stolen by the check)."""
    codes: list[int] = []

    async def waiter(proc: anysubprocess.Process) -> None:
        codes.append(await proc.wait())

    async with anyio.create_task_group() as tg:
        with pytest.raises(LeakError, match="children left behind"):
            async with no_leaks(timeout=0.1, tasks=False):
                proc = await anysubprocess.create_subprocess_exec(
                    PY, "-c", "import time; time.sleep(30)"
                )
                tg.start_soon(waiter, proc)
    assert codes == [-9]


async def test_async_cancelled_block_still_kills_its_leftovers() -> None:
    """A cancellation goes on unchanged; the cleanup runs shielded (and bounded)."""
    proc = None
    with anyio.move_on_after(0.2) as scope:
        async with no_leaks():
            proc = await anysubprocess.create_subprocess_exec(
                PY, "-c", "import time; time.sleep(30)"
            )
            await anyio.sleep(30)
    assert scope.cancelled_caught
    assert proc is not None
    assert proc.pid not in testing.child_processes()  # killed and reaped


async def test_async_task_left_running_is_a_leak() -> None:
    done = anyio.Event()
    leaked: list[object] = []
    with pytest.raises(LeakError, match=r"1 task\(s\) left running"):
        async with no_leaks(timeout=0.1):
            if sniffio.current_async_library() == "trio":
                import trio

                trio.lowlevel.spawn_system_task(done.wait)
            else:
                import asyncio

                leaked.append(asyncio.get_running_loop().create_task(done.wait()))
    done.set()  # the hygiene fixture then sees it end


async def test_our_exit_watcher_is_not_a_leak_but_a_task_beside_it_is() -> None:
    """trio: the exit watcher (one system task per run, lingering 0.25 s once idle) is ours,
    not a task the code under test left behind; a task leaked while it lives still counts."""
    from anysubprocess._backends._choose import IO

    if sniffio.current_async_library() != "trio" or IO != "fds":
        pytest.skip("the exit watcher is a task on trio's fd path only (asyncio: a reader)")
    import trio

    from anysubprocess._backends._trio import watcher_tasks

    async with no_leaks(timeout=0):  # no polling: the watcher is still there at the check
        proc = await anysubprocess.create_subprocess_exec(PY, "-c", "pass")
        await proc.wait()
        assert watcher_tasks() == 1
    done = trio.Event()
    with pytest.raises(LeakError, match=r"1 task\(s\) left running"):
        async with no_leaks(timeout=0):
            proc = await anysubprocess.create_subprocess_exec(PY, "-c", "pass")
            await proc.wait()
            trio.lowlevel.spawn_system_task(done.wait)
    done.set()


# -- without pytest -------------------------------------------------------------------------


def test_works_without_pytest() -> None:
    code = textwrap.dedent(
        """
        import os, subprocess, sys
        sys.modules["pytest"] = None  # import pytest fails from here on
        from anysubprocess.testing import LeakError, Snapshot, no_leaks
        with no_leaks():
            subprocess.run(["true"], check=True)
        s = Snapshot.take()
        r, w = os.pipe()
        try:
            s.assert_clean(timeout=0)
        except LeakError as e:
            print("leak:", sorted(e.leaks.fds) == sorted((r, w)))
        """
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, check=True, timeout=60)
    assert out.stdout == b"leak: True\n", out


# -- the pytest plugin, in pytest sessions of their own -------------------------------------

PLUGIN_TESTS = """
import os, subprocess, sys
import pytest

pytest_plugins = ["anysubprocess.testing"]


def test_clean(no_subprocess_leaks):
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_leaks_a_child(no_subprocess_leaks):
    pytest.leaked = subprocess.Popen(["sleep", "30"])


def test_leaks_a_pipe(no_subprocess_leaks):
    pytest.pipe = os.pipe()


def test_after_the_leaks(no_subprocess_leaks):
    pass
"""


def test_plugin_fixture_fails_a_leaking_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PLUGIN_TESTS)
    pytester.makeini("[pytest]\nanysubprocess_leak_timeout = 0.2\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks_a_child*",
            "*LeakError: children left behind: * (state=* sleep 30)*",
            "*ERROR at teardown of test_leaks_a_pipe*",
            "*LeakError: fds leaked: * (pipe:*",
        ]
    )


ASYNC_TESTS = """
import sys
import anyio
import pytest
import anysubprocess
from anysubprocess.testing import no_leaks

pytest_plugins = ["anysubprocess.testing"]


@pytest.fixture(params=["asyncio", ("asyncio", {"use_uvloop": True}), "trio"])
def anyio_backend(request):
    return request.param


@pytest.fixture
async def in_loop_leak_check():
    async with no_leaks(timeout=0.5):
        yield


@pytest.mark.anyio
async def test_clean(no_subprocess_leaks, in_loop_leak_check):
    proc = await anysubprocess.create_subprocess_exec(
        sys.executable, "-c", "print(1)", stdout=anysubprocess.PIPE
    )
    assert await proc.communicate() == (b"1\\n", None)


@pytest.mark.anyio
async def test_leaky(in_loop_leak_check):
    pytest.keep = getattr(pytest, "keep", [])
    pytest.keep.append(await anysubprocess.create_subprocess_exec(
        sys.executable, "-c", "import sys; sys.stdin.read()", stdin=anysubprocess.PIPE
    ))
"""


def test_async_fixture_under_anyio_fails_a_leaking_test(pytester: pytest.Pytester) -> None:
    """The in-loop check a user writes with anyio's plugin, beside the blocking fixture:
    clean on asyncio, uvloop and trio (no loop fd counted), a leak reported on each."""
    pytester.makepyfile(ASYNC_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore")
    result.assert_outcomes(passed=6, errors=3)
    result.stdout.fnmatch_lines(["*LeakError: children left behind: *import sys; sys.stdin*"])
    assert sys.executable  # the inner session ran with this interpreter


def test_plugin_fixture_in_process(pytester: pytest.Pytester) -> None:
    """The same plugin in this process (a clean test and one that leaves a child, which the
    fixture kills and reaps), so coverage sees the plugin code."""
    pytester.makepyfile(
        """
        import subprocess, sys
        pytest_plugins = ["anysubprocess.testing"]

        def test_clean(no_subprocess_leaks):
            assert not no_subprocess_leaks.leaks()
            subprocess.run([sys.executable, "-c", "pass"], check=True)

        def test_leaks_a_child(no_subprocess_leaks):
            import pytest
            pytest.leaked_by_inner_test = subprocess.Popen(["sleep", "30"])
        """
    )
    pytester.makeini("[pytest]\nanysubprocess_leak_timeout = 0.1\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "ignore")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*LeakError: children left behind: * (state=* sleep 30)*"])
    leaked = pytest.leaked_by_inner_test  # type: ignore[attr-defined]
    assert leaked.pid not in testing.child_processes()  # killed and reaped by the fixture
    leaked.wait()
    del pytest.leaked_by_inner_test  # type: ignore[attr-defined]

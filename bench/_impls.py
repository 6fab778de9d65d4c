"""Workload definitions: what each benchmark does, once per implementation.

An *implementation* is an API family (stdlib asyncio's subprocess API, anyio's, trio's, or
plain synchronous ``subprocess.Popen``) on a particular event loop. Each API family is one
class below with one method per workload; a method missing from a class means that
implementation cannot do the workload (the report prints ``-``).

Workload methods take a :class:`Job` and return ``None`` for timed workloads (the caller
times them) or the measured value for the ``memory`` and ``stall`` workloads. Every method
checks its result (byte and line counts), so a fast but wrong implementation fails loudly.

The asyncio-API workloads are written once, against a module exposing asyncio's subprocess
API: ``asyncio`` itself (stdlib) or ``anysubprocess`` (the same code with ``asp.``).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal, Protocol, TypeVar

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL

MiB = 1 << 20
CHUNK = 1 << 16  # read size and write chunk size used by every implementation
LINE = b"x" * 20 + b"\n"  # the line of the readline and echo workloads
TICK = 0.001  # the loop_stall ticker's sleep


def _which(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"the benchmark needs {name!r} on PATH")
    return path


TRUE = _which("true")
ECHO = _which("echo")
CAT = _which("cat")

# Children written in Python run with -I -S (isolated, no site): a faster start, no
# dependence on the environment.
_PY = [sys.executable, "-I", "-S", "-c"]
_WRITE_MIB = (
    "import sys\n"
    "w = sys.stdout.buffer.write\n"
    "b = bytes(1 << 20)\n"
    "for _ in range(int(sys.argv[1])): w(b)"
)
_WRITE_LINES = "import sys\nsys.stdout.buffer.write((b'x' * 20 + b'\\n') * int(sys.argv[1]))"


def writer_cmd(nbytes: int) -> list[str]:
    """A child that writes ``nbytes`` (a multiple of 1 MiB) of zeros to stdout, 1 MiB per write."""
    return [*_PY, _WRITE_MIB, str(nbytes // MiB)]


def lines_cmd(nlines: int) -> list[str]:
    """A child that writes ``nlines`` copies of :data:`LINE` to stdout in one big write."""
    return [*_PY, _WRITE_LINES, str(nlines)]


class BenchmarkError(RuntimeError):
    """A workload produced a wrong result."""


def check(ok: bool, what: str) -> None:
    if not ok:
        raise BenchmarkError(what)


T = TypeVar("T")


def piped(stream: T | None) -> T:
    """A stdio pipe of a child (the process APIs type them as optional)."""
    if stream is None:
        raise BenchmarkError("the child has no such pipe")
    return stream


# -- memory ----------------------------------------------------------------------------------


def _status_kib(field_name: str) -> int:
    with open("/proc/self/status") as f:
        match = re.search(rf"^{field_name}:\s+(\d+) kB", f.read(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {field_name} in /proc/self/status")
    return int(match.group(1))


class MemoryProbe:
    """Peak-RSS increase of this process over a stretch of code.

    On Linux, writing ``5`` to ``/proc/self/clear_refs`` resets the peak (VmHWM) to the
    current RSS, so the increase is exact. Elsewhere ``ru_maxrss`` is used, which cannot be
    reset: the result is then a lower bound if the process peaked higher earlier.
    """

    def __init__(self) -> None:
        self._linux = os.path.exists("/proc/self/clear_refs")
        self._start = 0

    def start(self) -> None:
        if self._linux:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self._start = _status_kib("VmRSS") * 1024
        else:
            self._start = _maxrss_bytes()

    def peak_increase(self) -> int:
        if self._linux:
            return _status_kib("VmHWM") * 1024 - self._start
        return _maxrss_bytes() - self._start


def _maxrss_bytes() -> int:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def prefault(nbytes: int) -> None:
    """Touch ``nbytes`` of fresh memory and free it again.

    On a VM whose hypervisor reclaims the guest's free pages (free page reporting, as on
    Firecracker), the first touch of a page freed more than a moment ago costs a trip to the
    host: about 2 ms per MiB measured here, three times the rest of the ``read_all`` sample.
    The kernel hands recently freed pages out first, so touching the memory a workload is
    about to allocate, just before the clock starts, keeps that cost out of the timed region.
    On bare metal this changes nothing: the timed code still takes its own page faults.
    """
    if nbytes > 0:
        block = b"\x01" * nbytes  # a memset: every page is touched
        del block


# -- deterministic costs ---------------------------------------------------------------------


def _proc_io() -> tuple[int, int]:
    """This process's read and write system calls so far (all threads, exited ones too)."""
    with open("/proc/self/io") as f:
        fields = dict(line.split(": ") for line in f.read().splitlines())
    return int(fields["syscr"]), int(fields["syscw"])


class Counter:
    """Counts, over a stretch of code, the Python function calls and the read/write family
    system calls of this process: costs that do not depend on the machine's load.

    Calls: ``sys.monitoring`` PY_START events on 3.12+ (each Python function, coroutine or
    generator started; resumes not counted), else ``sys.setprofile`` "call" events (which
    also count each resume of a coroutine). System calls: ``syscr``/``syscw`` of
    ``/proc/self/io`` (read(2), write(2) and their kin, pipes included; not select/epoll,
    fork or waitid); ``-1`` where there is no /proc. The child processes' own costs are not
    counted: they run the same programs for every implementation.
    """

    TOOL = 4  # a sys.monitoring tool id free for us (0-2 and 5 are taken by debuggers etc.)

    def __init__(self) -> None:
        self.calls = 0
        self.method = "sys.monitoring PY_START" if sys.version_info >= (3, 12) else "setprofile"
        self._io = (0, 0)
        self.syscr = self.syscw = -1

    def _count(self, *args: object) -> None:
        self.calls += 1

    def _profile(self, frame: object, event: str, arg: object) -> None:
        if event == "call":
            self.calls += 1

    def start(self) -> None:
        has_io = os.path.exists("/proc/self/io")
        self._io = _proc_io() if has_io else (-1, -1)
        if sys.version_info >= (3, 12):
            mon = sys.monitoring
            mon.use_tool_id(self.TOOL, "bench-counter")
            mon.register_callback(self.TOOL, mon.events.PY_START, self._count)
            mon.set_events(self.TOOL, mon.events.PY_START)
        else:
            sys.setprofile(self._profile)
            threading.setprofile(self._profile)

    def stop(self) -> None:
        if sys.version_info >= (3, 12):
            mon = sys.monitoring
            mon.set_events(self.TOOL, 0)
            mon.register_callback(self.TOOL, mon.events.PY_START, None)
            mon.free_tool_id(self.TOOL)
        else:
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]
        if self._io[0] >= 0:
            r, w = _proc_io()
            # Minus the one read of /proc/self/io that start() made after its snapshot.
            self.syscr, self.syscw = r - self._io[0] - 1, w - self._io[1]

    def result(self) -> dict[str, object]:
        return {
            "calls": self.calls,
            "syscr": self.syscr,
            "syscw": self.syscw,
            "calls_method": self.method,
        }


# -- workloads -------------------------------------------------------------------------------

Kind = Literal["time", "memory", "stall"]


@dataclass(frozen=True)
class Job:
    """One workload's parameters, prepared before the clock starts."""

    size: int
    data: bytes = b""  # input bytes to send (a chunk, or the whole input)


@dataclass(frozen=True)
class Workload:
    name: str
    kind: Kind
    size: int  # full-run size
    quick_size: int  # --quick size
    warmup_size: int  # the untimed warm-up run's size
    unit: str  # what size counts
    description: str
    input: Callable[[int], bytes] = field(default=lambda size: b"")
    # Bytes to touch and free before the clock starts, as a multiple of the size (see
    # prefault()): enough for the hungriest implementation's collected output.
    prefault: float = 0.0
    # False: never warmed up, the sample is the first run in a fresh worker (cold start).
    warm: bool = True

    def job(self, size: int) -> Job:
        return Job(size, self.input(size))


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in [
        Workload(
            name="spawn_seq",
            kind="time",
            size=300,
            quick_size=30,
            warmup_size=3,
            unit="spawns",
            description="N sequential spawn-and-wait of `true` (no pipes)",
        ),
        Workload(
            name="cold_start",
            kind="time",
            size=1,
            quick_size=1,
            warmup_size=0,
            unit="spawns",
            description="the first spawn-and-wait of `true` in a fresh process, after import: "
            "first-use imports and setup",
            warm=False,
        ),
        Workload(
            name="spawn_pipes",
            kind="time",
            size=200,
            quick_size=20,
            warmup_size=3,
            unit="spawns",
            description="N sequential `echo hi` with stdout+stderr pipes, communicate()",
        ),
        Workload(
            name="spawn_concurrent",
            kind="time",
            size=200,
            quick_size=20,
            warmup_size=5,
            unit="spawns",
            description="N `true` children spawned concurrently, all waited",
        ),
        Workload(
            name="read_bulk",
            kind="time",
            size=512 * MiB,
            quick_size=32 * MiB,
            warmup_size=MiB,
            unit="bytes",
            description="child writes N bytes; parent loops read(65536) until EOF",
        ),
        Workload(
            name="read_all",
            kind="time",
            size=256 * MiB,
            quick_size=32 * MiB,
            warmup_size=MiB,
            unit="bytes",
            description="child writes N bytes; parent reads them with one read() to EOF",
            prefault=2.5,
        ),
        Workload(
            name="readline",
            kind="time",
            size=1_000_000,
            quick_size=50_000,
            warmup_size=1_000,
            unit="lines",
            description="child writes N 21-byte lines in one write; parent loops readline() until EOF",
        ),
        Workload(
            name="write_bulk",
            kind="time",
            size=1024 * MiB,
            quick_size=64 * MiB,
            warmup_size=MiB,
            unit="bytes",
            description="parent writes N bytes to `cat >/dev/null` in 64 KiB chunks, drain() after each",
            input=lambda size: bytes(CHUNK),
        ),
        Workload(
            name="echo",
            kind="time",
            size=20_000,
            quick_size=1_000,
            warmup_size=20,
            unit="round trips",
            description="N one-line round trips through `cat`: write, drain, readline",
        ),
        Workload(
            name="communicate_64m",
            kind="time",
            size=64 * MiB,
            quick_size=8 * MiB,
            warmup_size=MiB,
            unit="bytes",
            description="communicate(N bytes of input) through `cat`, N bytes of output",
            input=bytes,
            prefault=2.5,
        ),
        Workload(
            name="peak_memory",
            kind="memory",
            size=128 * MiB,
            quick_size=16 * MiB,
            warmup_size=MiB,
            unit="bytes",
            description="child writes N bytes, parent collects them with communicate(); peak RSS increase / N",
        ),
        Workload(
            name="loop_stall",
            kind="stall",
            size=100,
            quick_size=20,
            warmup_size=5,
            unit="spawns",
            description="worst lateness (ms) of a 1 ms ticker while N `true` children spawn concurrently",
        ),
    ]
}


# -- loop-specific helpers -------------------------------------------------------------------

Thunk = Callable[[], Coroutine[Any, Any, object]]


class LoopTools(Protocol):
    """The two things the workloads need from a loop besides processes."""

    async def sleep(self, seconds: float) -> None: ...
    async def concurrently(self, fns: Sequence[Thunk]) -> None: ...


class AsyncioTools:
    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def concurrently(self, fns: Sequence[Thunk]) -> None:
        await asyncio.gather(*(fn() for fn in fns))


class TrioTools:
    def __init__(self) -> None:
        import trio

        self.trio = trio

    async def sleep(self, seconds: float) -> None:
        await self.trio.sleep(seconds)

    async def concurrently(self, fns: Sequence[Thunk]) -> None:
        async with self.trio.open_nursery() as nursery:
            for fn in fns:
                nursery.start_soon(fn)


class AnyioTools:
    def __init__(self) -> None:
        import anyio

        self.anyio = anyio

    async def sleep(self, seconds: float) -> None:
        await self.anyio.sleep(seconds)

    async def concurrently(self, fns: Sequence[Thunk]) -> None:
        async with self.anyio.create_task_group() as tg:
            for fn in fns:
                tg.start_soon(fn)


async def _stall_while(tools: LoopTools, work: Thunk) -> float:
    """Run ``work`` beside a ticker sleeping :data:`TICK`; return the worst lateness in ms."""
    worst = 0.0
    done = False

    async def ticker() -> None:
        nonlocal worst
        while not done:
            t0 = time.perf_counter()
            await tools.sleep(TICK)
            worst = max(worst, time.perf_counter() - t0 - TICK)

    async def worker() -> None:
        nonlocal done
        await tools.sleep(0.01)  # let the ticker settle
        try:
            await work()
        finally:
            done = True

    await tools.concurrently([ticker, worker])
    return worst * 1000.0


# -- stdlib asyncio's API (and anysubprocess's, the same code) --------------------------------


class AsyncioAPI:
    """asyncio's subprocess API, from ``api`` (the ``asyncio`` module or ``anysubprocess``)."""

    def __init__(self, api: ModuleType, tools: LoopTools) -> None:
        self.exec = api.create_subprocess_exec
        self.tools = tools

    async def spawn_seq(self, job: Job) -> None:
        for _ in range(job.size):
            proc = await self.exec(TRUE)
            check(await proc.wait() == 0, "exit status")

    cold_start = spawn_seq  # one spawn (size 1), never warmed up

    async def spawn_pipes(self, job: Job) -> None:
        for _ in range(job.size):
            proc = await self.exec(ECHO, "hi", stdout=PIPE, stderr=PIPE)
            out, err = await proc.communicate()
            check(out == b"hi\n" and err == b"", "echo output")

    async def _true(self) -> None:
        proc = await self.exec(TRUE)
        await proc.wait()

    async def spawn_concurrent(self, job: Job) -> None:
        await self.tools.concurrently([self._true] * job.size)

    async def read_bulk(self, job: Job) -> None:
        proc = await self.exec(*writer_cmd(job.size), stdout=PIPE)
        read = proc.stdout.read
        total = 0
        while chunk := await read(CHUNK):
            total += len(chunk)
        await proc.wait()
        check(total == job.size, "byte count")

    async def read_all(self, job: Job) -> None:
        proc = await self.exec(*writer_cmd(job.size), stdout=PIPE)
        data = await proc.stdout.read()
        await proc.wait()
        check(len(data) == job.size, "byte count")

    async def readline(self, job: Job) -> None:
        proc = await self.exec(*lines_cmd(job.size), stdout=PIPE)
        readline = proc.stdout.readline
        count = 0
        while await readline():
            count += 1
        await proc.wait()
        check(count == job.size, "line count")

    async def write_bulk(self, job: Job) -> None:
        proc = await self.exec(CAT, stdin=PIPE, stdout=DEVNULL)
        stdin = proc.stdin
        chunk = job.data
        for _ in range(job.size // len(chunk)):
            stdin.write(chunk)
            await stdin.drain()
        stdin.close()
        check(await proc.wait() == 0, "exit status")

    async def echo(self, job: Job) -> None:
        proc = await self.exec(CAT, stdin=PIPE, stdout=PIPE)
        stdin, stdout = proc.stdin, proc.stdout
        for _ in range(job.size):
            stdin.write(LINE)
            await stdin.drain()
            check(await stdout.readline() == LINE, "echoed line")
        stdin.close()
        await proc.wait()

    async def communicate_64m(self, job: Job) -> None:
        proc = await self.exec(CAT, stdin=PIPE, stdout=PIPE)
        out, _ = await proc.communicate(job.data)
        check(len(out) == job.size, "byte count")

    async def peak_memory(self, job: Job) -> float:
        probe = MemoryProbe()
        probe.start()
        proc = await self.exec(*writer_cmd(job.size), stdout=PIPE)
        out, _ = await proc.communicate()
        peak = probe.peak_increase()
        check(len(out) == job.size, "byte count")
        return peak / job.size

    async def loop_stall(self, job: Job) -> float:
        return await _stall_while(self.tools, lambda: self.spawn_concurrent(job))


# -- anyio's own process API -----------------------------------------------------------------


class AnyioAPI:
    """``anyio.open_process`` / ``anyio.run_process`` and anyio's byte streams."""

    def __init__(self) -> None:
        import anyio

        self.anyio = anyio
        self.tools = AnyioTools()

    async def spawn_seq(self, job: Job) -> None:
        open_process = self.anyio.open_process
        for _ in range(job.size):
            proc = await open_process([TRUE], stdin=None, stdout=None, stderr=None)
            check(await proc.wait() == 0, "exit status")

    cold_start = spawn_seq  # one spawn (size 1), never warmed up

    async def spawn_pipes(self, job: Job) -> None:
        for _ in range(job.size):
            result = await self.anyio.run_process([ECHO, "hi"], check=False)
            check(result.stdout == b"hi\n" and result.stderr == b"", "echo output")

    async def _true(self) -> None:
        proc = await self.anyio.open_process([TRUE], stdin=None, stdout=None, stderr=None)
        await proc.wait()

    async def spawn_concurrent(self, job: Job) -> None:
        await self.tools.concurrently([self._true] * job.size)

    async def read_bulk(self, job: Job) -> None:
        async with await self.anyio.open_process(
            writer_cmd(job.size), stdin=None, stdout=PIPE, stderr=None
        ) as proc:
            receive = piped(proc.stdout).receive
            total = 0
            try:
                while True:
                    total += len(await receive(CHUNK))
            except self.anyio.EndOfStream:
                pass
            await proc.wait()
        check(total == job.size, "byte count")

    async def read_all(self, job: Job) -> None:
        async with await self.anyio.open_process(
            writer_cmd(job.size), stdin=None, stdout=PIPE, stderr=None
        ) as proc:
            data = b"".join([chunk async for chunk in piped(proc.stdout)])
            await proc.wait()
        check(len(data) == job.size, "byte count")

    async def readline(self, job: Job) -> None:
        from anyio.streams.buffered import BufferedByteReceiveStream

        async with await self.anyio.open_process(
            lines_cmd(job.size), stdin=None, stdout=PIPE, stderr=None
        ) as proc:
            receive_until = BufferedByteReceiveStream(piped(proc.stdout)).receive_until
            count = 0
            try:
                while True:
                    await receive_until(b"\n", CHUNK)
                    count += 1
            except self.anyio.IncompleteRead:
                pass
            await proc.wait()
        check(count == job.size, "line count")

    async def write_bulk(self, job: Job) -> None:
        async with await self.anyio.open_process(
            [CAT], stdin=PIPE, stdout=DEVNULL, stderr=None
        ) as proc:
            send = piped(proc.stdin).send
            chunk = job.data
            for _ in range(job.size // len(chunk)):
                await send(chunk)
            await piped(proc.stdin).aclose()
            check(await proc.wait() == 0, "exit status")

    async def echo(self, job: Job) -> None:
        from anyio.streams.buffered import BufferedByteReceiveStream

        async with await self.anyio.open_process(
            [CAT], stdin=PIPE, stdout=PIPE, stderr=None
        ) as proc:
            send = piped(proc.stdin).send
            receive_until = BufferedByteReceiveStream(piped(proc.stdout)).receive_until
            line = LINE[:-1]
            for _ in range(job.size):
                await send(LINE)
                check(await receive_until(b"\n", CHUNK) == line, "echoed line")
            await piped(proc.stdin).aclose()
            await proc.wait()

    async def communicate_64m(self, job: Job) -> None:
        result = await self.anyio.run_process([CAT], input=job.data, stderr=None)
        check(len(result.stdout) == job.size, "byte count")

    async def peak_memory(self, job: Job) -> float:
        probe = MemoryProbe()
        probe.start()
        result = await self.anyio.run_process(writer_cmd(job.size), stderr=None)
        peak = probe.peak_increase()
        check(len(result.stdout) == job.size, "byte count")
        return peak / job.size

    async def loop_stall(self, job: Job) -> float:
        return await _stall_while(self.tools, lambda: self.spawn_concurrent(job))


# -- trio's own process API ------------------------------------------------------------------


class TrioLineReader:
    """The line splitting a trio user writes on top of ``receive_some`` (trio has none)."""

    def __init__(self, stream: Any) -> None:
        self._receive_some = stream.receive_some
        self._buf = bytearray()

    async def readline(self) -> bytes:
        """One line with its ``\\n``; the unterminated rest at EOF; ``b""`` after that."""
        buf = self._buf
        start = 0
        while (i := buf.find(b"\n", start)) < 0:
            start = len(buf)
            data = await self._receive_some(CHUNK)
            if not data:
                line = bytes(buf)
                buf.clear()
                return line
            buf += data
        line = bytes(buf[: i + 1])
        del buf[: i + 1]
        return line


class TrioAPI:
    """``trio.lowlevel.open_process`` / ``trio.run_process`` and trio's byte streams."""

    def __init__(self) -> None:
        import trio
        import trio.lowlevel

        self.trio = trio
        self.open_process = trio.lowlevel.open_process
        self.tools = TrioTools()

    async def spawn_seq(self, job: Job) -> None:
        for _ in range(job.size):
            proc = await self.open_process([TRUE])
            check(await proc.wait() == 0, "exit status")

    cold_start = spawn_seq  # one spawn (size 1), never warmed up

    async def spawn_pipes(self, job: Job) -> None:
        for _ in range(job.size):
            result = await self.trio.run_process(
                [ECHO, "hi"], capture_stdout=True, capture_stderr=True
            )
            check(result.stdout == b"hi\n" and result.stderr == b"", "echo output")

    async def _true(self) -> None:
        proc = await self.open_process([TRUE])
        await proc.wait()

    async def spawn_concurrent(self, job: Job) -> None:
        await self.tools.concurrently([self._true] * job.size)

    async def read_bulk(self, job: Job) -> None:
        proc = await self.open_process(writer_cmd(job.size), stdout=PIPE)
        stdout = piped(proc.stdout)
        async with stdout:
            receive_some = stdout.receive_some
            total = 0
            while chunk := await receive_some(CHUNK):
                total += len(chunk)
        await proc.wait()
        check(total == job.size, "byte count")

    async def read_all(self, job: Job) -> None:
        proc = await self.open_process(writer_cmd(job.size), stdout=PIPE)
        stdout = piped(proc.stdout)
        async with stdout:
            data = b"".join([chunk async for chunk in stdout])
        await proc.wait()
        check(len(data) == job.size, "byte count")

    async def readline(self, job: Job) -> None:
        proc = await self.open_process(lines_cmd(job.size), stdout=PIPE)
        stdout = piped(proc.stdout)
        async with stdout:
            readline = TrioLineReader(stdout).readline
            count = 0
            while await readline():
                count += 1
        await proc.wait()
        check(count == job.size, "line count")

    async def write_bulk(self, job: Job) -> None:
        proc = await self.open_process([CAT], stdin=PIPE, stdout=DEVNULL)
        stdin = piped(proc.stdin)
        async with stdin:
            send_all = stdin.send_all
            chunk = job.data
            for _ in range(job.size // len(chunk)):
                await send_all(chunk)
        check(await proc.wait() == 0, "exit status")

    async def echo(self, job: Job) -> None:
        proc = await self.open_process([CAT], stdin=PIPE, stdout=PIPE)
        stdin, stdout = piped(proc.stdin), piped(proc.stdout)
        async with stdin, stdout:
            send_all = stdin.send_all
            readline = TrioLineReader(stdout).readline
            for _ in range(job.size):
                await send_all(LINE)
                check(await readline() == LINE, "echoed line")
        await proc.wait()

    async def communicate_64m(self, job: Job) -> None:
        result = await self.trio.run_process([CAT], stdin=job.data, capture_stdout=True)
        check(len(result.stdout) == job.size, "byte count")

    async def peak_memory(self, job: Job) -> float:
        probe = MemoryProbe()
        probe.start()
        result = await self.trio.run_process(writer_cmd(job.size), capture_stdout=True)
        peak = probe.peak_increase()
        check(len(result.stdout) == job.size, "byte count")
        return peak / job.size

    async def loop_stall(self, job: Job) -> float:
        return await _stall_while(self.tools, lambda: self.spawn_concurrent(job))


# -- the synchronous floor -------------------------------------------------------------------


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Floor:
    """Blocking ``subprocess.Popen`` and ``os.read``/``os.write``: no event loop at all.

    What the same work costs without any async machinery; no loop, so no ``loop_stall``.
    """

    def spawn_seq(self, job: Job) -> None:
        for _ in range(job.size):
            check(subprocess.Popen([TRUE]).wait() == 0, "exit status")

    cold_start = spawn_seq  # one spawn (size 1), never warmed up

    def spawn_pipes(self, job: Job) -> None:
        for _ in range(job.size):
            out, err = subprocess.Popen([ECHO, "hi"], stdout=PIPE, stderr=PIPE).communicate()
            check(out == b"hi\n" and err == b"", "echo output")

    def spawn_concurrent(self, job: Job) -> None:
        procs = [subprocess.Popen([TRUE]) for _ in range(job.size)]
        for proc in procs:
            proc.wait()

    def read_bulk(self, job: Job) -> None:
        with subprocess.Popen(writer_cmd(job.size), stdout=PIPE, bufsize=0) as proc:
            fd = piped(proc.stdout).fileno()
            total = 0
            while chunk := os.read(fd, CHUNK):
                total += len(chunk)
        check(total == job.size, "byte count")

    def read_all(self, job: Job) -> None:
        with subprocess.Popen(writer_cmd(job.size), stdout=PIPE, bufsize=0) as proc:
            data = piped(proc.stdout).read()  # FileIO.readall: one growing bytes object
        check(len(data) == job.size, "byte count")

    def readline(self, job: Job) -> None:
        with subprocess.Popen(lines_cmd(job.size), stdout=PIPE, bufsize=0) as proc:
            fd = piped(proc.stdout).fileno()
            count = 0
            rest = b""
            while chunk := os.read(fd, MiB):
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                count += len(lines)
        check(count == job.size and rest == b"", "line count")

    def write_bulk(self, job: Job) -> None:
        with subprocess.Popen([CAT], stdin=PIPE, stdout=DEVNULL, bufsize=0) as proc:
            fd = piped(proc.stdin).fileno()
            chunk = job.data
            for _ in range(job.size // len(chunk)):
                _write_all(fd, chunk)
        check(proc.returncode == 0, "exit status")

    def echo(self, job: Job) -> None:
        with subprocess.Popen([CAT], stdin=PIPE, stdout=PIPE, bufsize=0) as proc:
            wfd, rfd = piped(proc.stdin).fileno(), piped(proc.stdout).fileno()
            for _ in range(job.size):
                _write_all(wfd, LINE)
                got = os.read(rfd, CHUNK)
                while not got.endswith(b"\n"):
                    got += os.read(rfd, CHUNK)
                check(got == LINE, "echoed line")

    def communicate_64m(self, job: Job) -> None:
        # Popen.communicate() writes 4 KiB at a time through a selector: not a floor. Raw
        # blocking I/O instead, the writing side in a thread.
        with subprocess.Popen([CAT], stdin=PIPE, stdout=PIPE, bufsize=0) as proc:
            stdin = piped(proc.stdin)

            def feed() -> None:
                _write_all(stdin.fileno(), job.data)
                stdin.close()

            writer = threading.Thread(target=feed)
            writer.start()
            out = piped(proc.stdout).read()
            writer.join()
        check(len(out) == job.size, "byte count")

    def peak_memory(self, job: Job) -> float:
        probe = MemoryProbe()
        probe.start()
        out, _ = subprocess.Popen(writer_cmd(job.size), stdout=PIPE, bufsize=0).communicate()
        peak = probe.peak_increase()
        check(len(out) == job.size, "byte count")
        return peak / job.size


# -- implementations -------------------------------------------------------------------------

AsyncWorkloadFn = Callable[[Job], Awaitable[float | None]]
SyncWorkloadFn = Callable[[Job], float | None]


@dataclass(frozen=True)
class Trial:
    """What one worker measures: an untimed warm-up run, then the measured run."""

    fn: Callable[[Job], Any]  # a workload method (a coroutine function, except for Floor)
    warmup: Job | None
    job: Job
    timed: bool  # True: the result is the run's seconds; False: what fn returns
    prefault: int  # bytes to prefault() just before the measured run
    counter: Counter | None = None  # set: count the measured run instead of timing it


async def _measure(trial: Trial) -> float:
    """Run one trial inside a running loop; the loop's start and teardown are not timed.

    The warm-up, on the same loop, takes the one-time costs (lazy imports, thread pools,
    first-use caches) out of the measurement.
    """
    fn: AsyncWorkloadFn = trial.fn
    if trial.warmup is not None:
        await fn(trial.warmup)
    prefault(trial.prefault)
    if trial.counter is not None:
        trial.counter.start()
        try:
            await fn(trial.job)
        finally:
            trial.counter.stop()
        return 0.0
    if not trial.timed:
        value = await fn(trial.job)
        assert value is not None
        return value
    t0 = time.perf_counter()
    await fn(trial.job)
    return time.perf_counter() - t0


def _measure_sync(trial: Trial) -> float:
    fn: SyncWorkloadFn = trial.fn
    if trial.warmup is not None:
        fn(trial.warmup)
    prefault(trial.prefault)
    if trial.counter is not None:
        trial.counter.start()
        try:
            fn(trial.job)
        finally:
            trial.counter.stop()
        return 0.0
    if not trial.timed:
        value = fn(trial.job)
        assert value is not None
        return value
    t0 = time.perf_counter()
    fn(trial.job)
    return time.perf_counter() - t0


def _run_asyncio(trial: Trial) -> float:
    return asyncio.run(_measure(trial))


def _run_uvloop(trial: Trial) -> float:
    import uvloop

    return uvloop.run(_measure(trial))


def _run_trio(trial: Trial) -> float:
    import trio

    return trio.run(_measure, trial)


def _run_anyio_asyncio(trial: Trial) -> float:
    import anyio

    return anyio.run(_measure, trial, backend="asyncio")


def _run_anyio_trio(trial: Trial) -> float:
    import anyio

    return anyio.run(_measure, trial, backend="trio")


def _asyncio_api() -> AsyncioAPI:
    return AsyncioAPI(asyncio, AsyncioTools())


def _asp_api(tools: Callable[[], LoopTools], *, threads: bool = False) -> Callable[[], AsyncioAPI]:
    def make() -> AsyncioAPI:
        if threads:
            # The thread backend (Windows' path) on this machine: read once, at import, and
            # each sample runs in a fresh worker process.
            os.environ["ANYSUBPROCESS_IO"] = "threads"
        import anysubprocess

        return AsyncioAPI(anysubprocess, tools())

    return make


@dataclass(frozen=True)
class Implementation:
    name: str
    description: str
    family: type  # the API-family class holding the workload methods
    make: Callable[[], Any]  # builds an instance of ``family``
    run: Callable[[Trial], float]  # runs a trial on this implementation's loop

    def supports(self, workload: str) -> bool:
        return hasattr(self.family, workload)

    def measure(self, workload: Workload, size: int, *, warmup: bool = True) -> float:
        """One sample: seconds, or the memory ratio, or the stall in ms."""
        trial = Trial(
            fn=getattr(self.make(), workload.name),
            warmup=workload.job(workload.warmup_size) if warmup and workload.warm else None,
            job=workload.job(size),
            timed=workload.kind == "time",
            prefault=int(workload.prefault * size),
        )
        return self.run(trial)

    def count(self, workload: Workload, size: int, *, warmup: bool = True) -> dict[str, object]:
        """One counted run (see :class:`Counter`): Python calls and system calls."""
        counter = Counter()
        trial = Trial(
            fn=getattr(self.make(), workload.name),
            warmup=workload.job(workload.warmup_size) if warmup and workload.warm else None,
            job=workload.job(size),
            timed=workload.kind == "time",
            prefault=int(workload.prefault * size),
            counter=counter,
        )
        self.run(trial)
        return counter.result()


IMPLEMENTATIONS: dict[str, Implementation] = {
    i.name: i
    for i in [
        Implementation(
            "asyncio",
            "stdlib asyncio.create_subprocess_exec on asyncio.run (the baseline)",
            AsyncioAPI,
            _asyncio_api,
            _run_asyncio,
        ),
        Implementation(
            "uvloop",
            "stdlib asyncio API on uvloop (uvloop.run)",
            AsyncioAPI,
            _asyncio_api,
            _run_uvloop,
        ),
        Implementation(
            "anyio_asyncio",
            "anyio.open_process/run_process, anyio.run(backend='asyncio')",
            AnyioAPI,
            AnyioAPI,
            _run_anyio_asyncio,
        ),
        Implementation(
            "anyio_trio",
            "anyio.open_process/run_process, anyio.run(backend='trio')",
            AnyioAPI,
            AnyioAPI,
            _run_anyio_trio,
        ),
        Implementation(
            "trio",
            "trio.lowlevel.open_process/trio.run_process, trio.run",
            TrioAPI,
            TrioAPI,
            _run_trio,
        ),
        Implementation(
            "floor",
            "blocking subprocess.Popen + os.read/os.write, no event loop",
            Floor,
            Floor,
            _measure_sync,
        ),
        Implementation(
            "asp_asyncio",
            "anysubprocess on asyncio.run (same code as asyncio, asp. prefix)",
            AsyncioAPI,
            _asp_api(AsyncioTools),
            _run_asyncio,
        ),
        Implementation(
            "asp_uvloop",
            "anysubprocess on uvloop (uvloop.run)",
            AsyncioAPI,
            _asp_api(AsyncioTools),
            _run_uvloop,
        ),
        Implementation(
            "asp_trio",
            "anysubprocess on trio.run",
            AsyncioAPI,
            _asp_api(TrioTools),
            _run_trio,
        ),
        Implementation(
            "asp_threads_asyncio",
            "anysubprocess's thread backend (Windows' path; ANYSUBPROCESS_IO=threads) on asyncio.run",
            AsyncioAPI,
            _asp_api(AsyncioTools, threads=True),
            _run_asyncio,
        ),
        Implementation(
            "asp_threads_trio",
            "anysubprocess's thread backend (ANYSUBPROCESS_IO=threads) on trio.run",
            AsyncioAPI,
            _asp_api(TrioTools, threads=True),
            _run_trio,
        ),
    ]
}

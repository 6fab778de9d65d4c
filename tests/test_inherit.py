"""Our classes are asyncio's (issue #15): ``isinstance`` with asyncio's classes holds on every
backend, and nothing asyncio's classes define can run against our objects."""

from __future__ import annotations

import asyncio
import asyncio.subprocess
import gc
import ssl

import anyio
import anyio.abc
import pytest

import anysubprocess
from anysubprocess import PIPE, Process, StreamReader, StreamWriter

from .conftest import PY

PAIRS = [
    (StreamReader, asyncio.StreamReader),
    (StreamWriter, asyncio.StreamWriter),
    (Process, asyncio.subprocess.Process),
]
#: Names in asyncio's classes that may stay asyncio's: data, not behaviour.
HARMLESS = {
    "__dict__",
    "__weakref__",
    "__module__",
    "__doc__",
    "__firstlineno__",
    "__static_attributes__",
    "_source_traceback",  # StreamReader's class attribute: None
}


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=lambda c: c.__qualname__)
def test_no_asyncio_method_is_inherited(ours: type, theirs: type) -> None:
    """Every name asyncio's class defines (on this Python) resolves to our own code: an
    override or an :class:`~anysubprocess._inherit.Absent` that raises AttributeError."""
    assert issubclass(ours, theirs)
    inherited = []
    for name in vars(theirs):
        if name in HARMLESS:
            continue
        owner = next(klass for klass in ours.__mro__ if name in vars(klass))
        if owner is theirs:
            inherited.append(name)
    assert inherited == [], f"asyncio's code would run on our {ours.__name__}: {inherited}"


def test_asyncio_internals_are_absent() -> None:
    reader = StreamReader()
    assert not hasattr(reader, "_maybe_resume_transport")
    with pytest.raises(AttributeError, match="asyncio internal"):
        reader._maybe_resume_transport()  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="takes no transport"):
        reader.set_transport(asyncio.Transport())


async def _all_pipes() -> Process:
    return await anysubprocess.create_subprocess_exec(
        PY,
        "-c",
        "import sys; sys.stdout.write(sys.stdin.read()); sys.stderr.write('e')",
        stdin=PIPE,
        stdout=PIPE,
        stderr=PIPE,
    )


async def test_isinstance_with_asyncios_and_anyios_classes() -> None:
    proc = await _all_pipes()
    assert isinstance(proc, asyncio.subprocess.Process)
    assert isinstance(proc, anyio.abc.Process)
    assert isinstance(proc.stdin, asyncio.StreamWriter)
    assert isinstance(proc.stdin, anyio.abc.ByteSendStream)
    for stream in (proc.stdout, proc.stderr):
        assert isinstance(stream, asyncio.StreamReader)
        assert isinstance(stream, anyio.abc.ByteReceiveStream)
    assert await proc.communicate(b"in") == (b"in", b"e")


async def _media_library_pipe(source: object) -> bytes:
    """The pattern of a media library's "pipe one child's stdout into another": a stream only
    if it is an asyncio.StreamReader, else bytes (bytearray.extend fails on anything else)."""
    data = bytearray()
    if isinstance(source, asyncio.StreamReader):
        while chunk := await source.read(65536):
            data.extend(chunk)
    else:
        data.extend(source)  # type: ignore[call-overload]
    return bytes(data)


async def test_third_party_isinstance_check_takes_our_reader() -> None:
    producer = await anysubprocess.create_subprocess_exec(
        PY, "-c", "import sys; sys.stdout.buffer.write(b'frame' * 100_000)", stdout=PIPE
    )
    assert await _media_library_pipe(producer.stdout) == b"frame" * 100_000
    assert await producer.wait() == 0


async def test_writer_transport_face() -> None:
    proc = await _all_pipes()
    assert proc.stdin is not None
    transport = proc.stdin.transport
    assert isinstance(transport, asyncio.WriteTransport)
    transport.write(b"via the transport ")
    proc.stdin.write(b"and the writer")
    assert transport.get_write_buffer_size() >= 0
    assert transport.get_write_buffer_limits() == (2**14, 2**16)
    assert transport.get_extra_info("pipe") is proc.stdin.get_extra_info("pipe")
    assert transport.can_write_eof()
    transport.write_eof()
    assert transport.is_closing()
    assert await proc.communicate() == (b"via the transport and the writer", b"e")
    assert proc.stdin._transport.is_closing()
    with pytest.raises(RuntimeError, match="not supported on a subprocess pipe"):
        await proc.stdin.start_tls(ssl.create_default_context())


async def test_asyncio_finalizer_does_not_run() -> None:
    """asyncio's StreamWriter.__del__ (3.11+) calls the transport and the loop; ours does
    nothing (under trio there is no asyncio loop at all). With warnings as errors and pytest's
    unraisable-exception check, anything it did would fail this test."""
    proc = await anysubprocess.create_subprocess_exec(PY, "-c", "", stdin=PIPE)
    await proc.wait()
    assert proc.stdin is not None
    proc.stdin.__del__()
    del proc
    gc.collect()


async def test_no_asyncio_loop_is_touched_under_trio(anyio_backend_name: str) -> None:
    if anyio_backend_name != "trio":
        pytest.skip("about trio")
    proc = await _all_pipes()
    assert asyncio._get_running_loop() is None
    assert await proc.communicate(b"x") == (b"x", b"e")
    async with proc:
        pass
    assert asyncio._get_running_loop() is None

"""Intersphinx inventories for the offline build: the upstream targets we link to.

The build must not fetch ``objects.inv`` from docs.python.org, anyio.readthedocs.io
or trio.readthedocs.io (CI and the sandbox have no network), yet a reader wants each
entry of our API reference to link to the asyncio entry it mirrors. So this module
lists the upstream targets we reference, each with the page and anchor where the
upstream documentation has it, and writes them as Sphinx inventories that
``intersphinx_mapping`` reads from disk. The links in the built pages are the real
upstream URLs.

A target missing here makes ``sphinx-build -n`` fail with "reference target not
found": add it to the table below (the anchor of a Python object is its full name).
With network access, ``ANYSUBPROCESS_DOCS_ONLINE=1`` makes conf.py use the real
inventories instead, which checks that every target we use exists upstream.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

# project -> (base URL, version, {page: [(domain:role, name[, anchor]), ...]})
# An entry's URL is base + page + "#" + name, as Sphinx documents objects (or
# + anchor, for a name autodoc spells differently from the upstream docs).
_PY_OBJECTS: dict[str, list[tuple[str, ...]]] = {
    "library/asyncio-subprocess.html": [
        ("py:module", "asyncio.subprocess"),
        ("py:function", "asyncio.create_subprocess_exec"),
        ("py:function", "asyncio.create_subprocess_shell"),
        ("py:data", "asyncio.subprocess.PIPE"),
        ("py:data", "asyncio.subprocess.STDOUT"),
        ("py:data", "asyncio.subprocess.DEVNULL"),
        ("py:class", "asyncio.subprocess.Process"),
        ("py:method", "asyncio.subprocess.Process.wait"),
        ("py:method", "asyncio.subprocess.Process.communicate"),
        ("py:method", "asyncio.subprocess.Process.send_signal"),
        ("py:method", "asyncio.subprocess.Process.terminate"),
        ("py:method", "asyncio.subprocess.Process.kill"),
        ("py:attribute", "asyncio.subprocess.Process.stdin"),
        ("py:attribute", "asyncio.subprocess.Process.stdout"),
        ("py:attribute", "asyncio.subprocess.Process.stderr"),
        ("py:attribute", "asyncio.subprocess.Process.pid"),
        ("py:attribute", "asyncio.subprocess.Process.returncode"),
    ],
    "library/asyncio-stream.html": [
        ("py:class", "asyncio.StreamReader"),
        ("py:method", "asyncio.StreamReader.read"),
        ("py:method", "asyncio.StreamReader.readline"),
        ("py:method", "asyncio.StreamReader.readexactly"),
        ("py:method", "asyncio.StreamReader.readuntil"),
        ("py:method", "asyncio.StreamReader.at_eof"),
        ("py:method", "asyncio.StreamReader.feed_eof"),
        ("py:class", "asyncio.StreamWriter"),
        ("py:method", "asyncio.StreamWriter.write"),
        ("py:method", "asyncio.StreamWriter.writelines"),
        ("py:method", "asyncio.StreamWriter.close"),
        ("py:method", "asyncio.StreamWriter.can_write_eof"),
        ("py:method", "asyncio.StreamWriter.write_eof"),
        ("py:attribute", "asyncio.StreamWriter.transport"),
        ("py:method", "asyncio.StreamWriter.get_extra_info"),
        ("py:method", "asyncio.StreamWriter.drain"),
        ("py:method", "asyncio.StreamWriter.is_closing"),
        ("py:method", "asyncio.StreamWriter.wait_closed"),
        # Our classes' bases, as autodoc names them (their defining module).
        ("py:class", "asyncio.streams.StreamReader", "asyncio.StreamReader"),
        ("py:class", "asyncio.streams.StreamWriter", "asyncio.StreamWriter"),
    ],
    "library/asyncio-protocol.html": [
        ("py:class", "asyncio.BaseTransport"),
        ("py:class", "asyncio.WriteTransport"),
        ("py:class", "asyncio.transports.BaseTransport", "asyncio.BaseTransport"),
        ("py:class", "asyncio.transports.WriteTransport", "asyncio.WriteTransport"),
    ],
    "library/ssl.html": [("py:class", "ssl.SSLContext")],
    "library/asyncio-exceptions.html": [
        ("py:exception", "asyncio.IncompleteReadError"),
        ("py:attribute", "asyncio.IncompleteReadError.expected"),
        ("py:attribute", "asyncio.IncompleteReadError.partial"),
        ("py:exception", "asyncio.LimitOverrunError"),
        ("py:attribute", "asyncio.LimitOverrunError.consumed"),
        ("py:exception", "asyncio.CancelledError"),
        ("py:exception", "asyncio.TimeoutError"),
    ],
    "library/asyncio-runner.html": [("py:function", "asyncio.run")],
    "library/asyncio-task.html": [
        ("py:function", "asyncio.timeout"),
        ("py:function", "asyncio.wait_for"),
        ("py:function", "asyncio.gather"),
        ("py:class", "asyncio.TaskGroup"),
        ("py:function", "asyncio.sleep"),
    ],
    "library/asyncio.html": [("py:module", "asyncio")],
    "library/subprocess.html": [
        ("py:module", "subprocess"),
        ("py:class", "subprocess.Popen"),
        ("py:method", "subprocess.Popen.communicate"),
        ("py:method", "subprocess.Popen.wait"),
        ("py:function", "subprocess.run"),
        ("py:class", "subprocess.CompletedProcess"),
        ("py:exception", "subprocess.SubprocessError"),
        ("py:exception", "subprocess.TimeoutExpired"),
        ("py:exception", "subprocess.CalledProcessError"),
        ("py:data", "subprocess.PIPE"),
        ("py:data", "subprocess.STDOUT"),
        ("py:data", "subprocess.DEVNULL"),
    ],
    "library/exceptions.html": [
        ("py:exception", name)
        for name in (
            "BaseException",
            "Exception",
            "TimeoutError",
            "ValueError",
            "TypeError",
            "RuntimeError",
            "ProcessLookupError",
            "BrokenPipeError",
            "ConnectionResetError",
            "FileNotFoundError",
            "PermissionError",
            "ResourceWarning",
            "RuntimeWarning",
            "BaseExceptionGroup",
            "ExceptionGroup",
        )
    ],
    "library/functions.html": [
        ("py:class", name) for name in ("int", "float", "bool", "object", "type")
    ],
    "library/stdtypes.html": [
        ("py:class", name)
        for name in (
            "bytes",
            "bytearray",
            "memoryview",
            "str",
            "tuple",
            "list",
            "dict",
        )
    ],
    "library/constants.html": [("py:data", "None")],
    "library/typing.html": [
        ("py:data", "typing.Any"),
        ("py:data", "typing.Literal"),
        ("py:class", "typing.IO"),
        ("py:class", "typing.Protocol"),
        ("py:data", "typing.Unpack"),
        ("py:class", "typing.TypedDict"),
    ],
    "library/collections.abc.html": [
        ("py:class", "collections.abc.AsyncIterator"),
        ("py:class", "collections.abc.Awaitable"),
        ("py:class", "collections.abc.Callable"),
        ("py:class", "collections.abc.Collection"),
        ("py:class", "collections.abc.Mapping"),
        ("py:class", "collections.abc.Sequence"),
        ("py:class", "collections.abc.Iterable"),
        ("py:class", "collections.abc.Buffer"),
        # readuntil()'s separator type, imported for type checkers only (3.11: from
        # typing_extensions), so autodoc names it bare.
        ("py:class", "Buffer", "collections.abc.Buffer"),
    ],
    "library/os.html": [
        ("py:class", "os.PathLike"),
        ("py:function", "os.killpg"),
        ("py:function", "os.setsid"),
        ("py:data", "os.devnull"),
    ],
    "library/signal.html": [
        ("py:data", "signal.SIGTERM"),
        ("py:data", "signal.SIGKILL"),
        ("py:data", "signal.SIGINT"),
    ],
    "library/shlex.html": [("py:function", "shlex.quote")],
    "library/functools.html": [("py:function", "functools.partial")],
    "library/types.html": [("py:class", "types.TracebackType")],
}

_ANYIO_OBJECTS: dict[str, list[tuple[str, ...]]] = {
    "api.html": [
        ("py:function", "anyio.run"),
        ("py:function", "anyio.open_process"),
        ("py:function", "anyio.run_process"),
        ("py:class", "anyio.abc.Process"),
        ("py:class", "anyio.abc.AsyncResource"),
        ("py:method", "anyio.abc.AsyncResource.aclose"),
        ("py:method", "anyio.abc.ByteReceiveStream.receive"),
        ("py:method", "anyio.abc.ByteSendStream.send"),
        ("py:exception", "anyio.EndOfStream"),
        ("py:exception", "anyio.ClosedResourceError"),
        ("py:exception", "anyio.BusyResourceError"),
        ("py:exception", "anyio.BrokenResourceError"),
        ("py:class", "anyio.abc.ByteReceiveStream"),
        ("py:class", "anyio.abc.ByteSendStream"),
        ("py:function", "anyio.create_task_group"),
        ("py:class", "anyio.abc.TaskGroup"),
        ("py:method", "anyio.abc.TaskGroup.start"),
        ("py:class", "anyio.abc.TaskStatus"),
        ("py:function", "anyio.move_on_after"),
        ("py:function", "anyio.fail_after"),
        ("py:function", "anyio.sleep"),
        ("py:class", "anyio.streams.buffered.BufferedByteReceiveStream"),
    ],
}

_TRIO_OBJECTS: dict[str, list[tuple[str, ...]]] = {
    "reference-core.html": [
        ("py:function", "trio.run"),
        ("py:function", "trio.open_nursery"),
        ("py:method", "trio.Nursery.start"),
        ("py:function", "trio.move_on_after"),
        ("py:function", "trio.fail_after"),
        ("py:exception", "trio.Cancelled"),
    ],
    "reference-io.html": [
        ("py:function", "trio.run_process"),
        ("py:function", "trio.lowlevel.open_process"),
        ("py:class", "trio.Process"),
    ],
}

#: name -> (base URL, project, version, objects by page)
INVENTORIES: Mapping[
    str, tuple[str, str, str, Mapping[str, list[tuple[str, str]]]]
] = {
    "python": ("https://docs.python.org/3/", "Python", "3", _PY_OBJECTS),
    "anyio": (
        "https://anyio.readthedocs.io/en/stable/",
        "AnyIO",
        "4",
        _ANYIO_OBJECTS,
    ),
    "trio": ("https://trio.readthedocs.io/en/stable/", "Trio", "0", _TRIO_OBJECTS),
}


def _inventory(
    project: str, version: str, objects: Mapping[str, Iterable[tuple[str, ...]]]
) -> bytes:
    lines = []
    for page, entries in objects.items():
        for role, name, *alias in entries:
            prio = "0" if role == "py:module" else "1"
            anchor = alias[0] if alias else name
            if role == "py:module":
                anchor = "module-" + name
            lines.append(f"{name} {role} {prio} {page}#{anchor} -\n")
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    return header.encode() + zlib.compress("".join(sorted(lines)).encode(), 9)


def write(directory: Path) -> dict[str, tuple[str, str]]:
    """Write one ``NAME.inv`` per project; return their ``intersphinx_mapping``."""
    directory.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for name, (base, project, version, objects) in INVENTORIES.items():
        path = directory / f"{name}.inv"
        data = _inventory(project, version, objects)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        mapping[name] = (base, str(path))
    return mapping

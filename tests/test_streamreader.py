"""StreamReader without a process: fed by feed_data/feed_eof, compared with asyncio's.

The property: for any bytes, any split of them into chunks, any limit and any sequence of
reads, our StreamReader gives the same results and the same exceptions (type, message,
``partial``/``expected``/``consumed``) as ``asyncio.StreamReader``.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import anysubprocess

SEPARATORS: list[Any] = [b"\n", b"ab", b"a", b"\r\n"]
if sys.version_info >= (3, 13):  # tuples of separators are new in 3.13's asyncio
    SEPARATORS += [(b"a", b"bc"), (b"\n", b"\r\n"), (b"b",)]

OPS = st.one_of(
    st.just(("readline",)),
    st.tuples(st.just("readuntil"), st.sampled_from(SEPARATORS)),
    st.tuples(st.just("readexactly"), st.integers(0, 12)),
    st.tuples(st.just("read"), st.integers(-1, 12)),
    st.just(("at_eof",)),
    st.just(("iterate",)),
)


async def _apply(reader: Any, op: tuple[Any, ...]) -> Any:
    name = op[0]
    if name == "at_eof":
        return reader.at_eof()
    if name == "iterate":
        return [line async for line in reader]
    return await getattr(reader, name)(*op[1:])


def _describe(exc: BaseException) -> tuple[Any, ...]:
    return (
        type(exc),
        exc.args,
        getattr(exc, "partial", None),
        getattr(exc, "expected", None),
        getattr(exc, "consumed", None),
    )


async def drive(reader: Any, chunks: list[bytes], ops: list[tuple[Any, ...]]) -> list[Any]:
    """Apply ``ops`` in turn; whenever a read waits for data, feed it the next chunk (then
    EOF). Both readers see the same chunk at the same point of the same read."""
    chunks = list(chunks)
    results: list[Any] = []
    for op in ops:
        outcome: list[Any] = []

        async def run_op(op: tuple[Any, ...] = op, outcome: list[Any] = outcome) -> None:
            try:
                outcome.append(("ok", await _apply(reader, op)))
            except Exception as exc:
                outcome.append(("error", _describe(exc)))

        async with anyio.create_task_group() as tg:
            tg.start_soon(run_op)
            while not outcome:
                await anyio.lowlevel.checkpoint()
                if not outcome and reader._waiter is not None:
                    if chunks:
                        reader.feed_data(chunks.pop(0))
                    else:
                        reader.feed_eof()
        results.append(outcome[0])
        if op == ("iterate",) and outcome[0][0] == "error":
            # The one deliberate difference: an overlong line ends `async for` with the same
            # ValueError, but asyncio has thrown the line away and we keep it (no byte lost;
            # docs/differences.md). The buffers differ from here on: stop both.
            break
    return results


def _oracle(limit: int, chunks: list[bytes], ops: list[tuple[Any, ...]]) -> list[Any]:
    async def main() -> list[Any]:
        return await drive(asyncio.StreamReader(limit=limit), chunks, ops)

    return asyncio.run(main())


_ALPHABET = bytes(b"ab\n\rx"[i % 5] for i in range(256))


@st.composite
def chunked(draw: st.DrawFn) -> list[bytes]:
    # Bytes from a small alphabet, so separators and near-separators are common.
    data = draw(st.binary(max_size=60)).translate(_ALPHABET)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    pieces = [data[i:j] for i, j in itertools.pairwise([0, *cuts, len(data)])]
    return [p for p in pieces if p]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limit=st.integers(1, 10), chunks=chunked(), ops=st.lists(OPS, min_size=1, max_size=8))
async def test_same_results_as_asyncio_for_any_chunking(
    limit: int, chunks: list[bytes], ops: list[tuple[Any, ...]]
) -> None:
    expected = await anyio.to_thread.run_sync(_oracle, limit, chunks, ops)
    actual = await drive(anysubprocess.StreamReader(limit=limit), chunks, ops)
    assert actual == expected


@given(data=st.binary(max_size=200), cuts=st.lists(st.integers(0, 200), max_size=10))
@settings(max_examples=50, deadline=None)
async def test_any_split_reads_back_the_same_lines(data: bytes, cuts: list[int]) -> None:
    reader = anysubprocess.StreamReader(limit=1000)
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    for i, j in itertools.pairwise(bounds):
        reader.feed_data(data[i:j])
    reader.feed_eof()
    *complete, last = data.split(b"\n")
    expected = [line + b"\n" for line in complete] + ([last] if last else [])
    assert [line async for line in reader] == expected


async def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="Limit cannot be <= 0"):
        anysubprocess.StreamReader(limit=0)


async def test_set_exception_wakes_a_waiting_reader() -> None:
    reader = anysubprocess.StreamReader()
    error = ConnectionResetError("gone")

    async def fail_soon() -> None:
        await anyio.sleep(0.01)
        reader.set_exception(error)

    async with anyio.create_task_group() as tg:
        tg.start_soon(fail_soon)
        with pytest.raises(ConnectionResetError):
            await reader.readline()
    assert reader.exception() is error
    with pytest.raises(ConnectionResetError):
        await reader.read(1)


async def test_feed_after_eof_is_an_error() -> None:
    reader = anysubprocess.StreamReader()
    reader.feed_eof()
    with pytest.raises(AssertionError):
        reader.feed_data(b"late")


async def test_repr() -> None:
    reader = anysubprocess.StreamReader(limit=10)
    reader.feed_data(b"abc")
    reader.feed_eof()
    assert repr(reader) == "<StreamReader 3 bytes eof limit=10>"


# -- async for: asyncio's lines, but an overlong line is never lost (issue #15) ----------------


@pytest.mark.parametrize("newline", [b"\n", b""], ids=["separator found", "no separator"])
async def test_async_for_raises_on_an_overlong_line_and_keeps_it(newline: bytes) -> None:
    reader = anysubprocess.StreamReader(limit=4)
    reader.feed_data(b"ok\n" + b"x" * 10 + newline + b"after\n")
    reader.feed_eof()
    lines = []
    with pytest.raises(ValueError, match=r"chunk exceed the limit|longer than limit"):
        async for line in reader:  # asyncio's error, as asyncio's own iteration raises
            lines.append(line)
    assert lines == [b"ok\n"]
    assert await reader.read() == b"x" * 10 + newline + b"after\n"  # nothing was lost


async def test_readline_still_drops_an_overlong_line_as_asyncio_does() -> None:
    reader = anysubprocess.StreamReader(limit=8)
    reader.feed_data(b"x" * 10 + b"\nafter\n")
    reader.feed_eof()
    with pytest.raises(ValueError, match="longer than limit"):
        await reader.readline()
    assert await reader.readline() == b"after\n"


async def test_chunks_iterates_like_anyio_without_line_rules() -> None:
    reader = anysubprocess.StreamReader(limit=4)
    data = b"x" * 10 + b"\n" + b"y" * 7
    reader.feed_data(data)
    reader.feed_eof()
    chunks = [chunk async for chunk in reader.chunks(3)]
    assert all(1 <= len(c) <= 3 for c in chunks)
    assert b"".join(chunks) == data
    with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
        reader.chunks(0)

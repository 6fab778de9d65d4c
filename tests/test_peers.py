"""The peer-suite runner's rule (tests/peers): what passes stock passes on ours, except the
listed tests, which must fail (strict). The suites themselves run from scripts/test."""

from __future__ import annotations

import pytest

from .peers.__main__ import compare

LISTED = {"test_mock": "a mock of the peer's internals", "test_turns[trio]": "one backend only"}


def test_a_test_that_passes_stock_must_pass_on_ours(capsys: pytest.CaptureFixture[str]) -> None:
    stock = {"asyncio": {"test_a": "passed", "test_b": "passed", "test_c": "failed"}}
    ours = {"asyncio": {"test_a": "passed", "test_b": "failed", "test_c": "failed"}}
    assert compare("suite", stock, ours, LISTED) == ["asyncio: test_b passes stock, failed on ours"]
    assert "1 not" in capsys.readouterr().out


def test_listed_tests_may_fail_but_not_pass() -> None:
    stock = {b: {"test_mock": "passed", "test_turns": "passed"} for b in ("asyncio", "trio")}
    failing = {b: {"test_mock": "failed", "test_turns": "failed"} for b in ("asyncio", "trio")}
    assert compare("suite", stock, failing, LISTED) == [
        "asyncio: test_turns passes stock, failed on ours"  # listed for trio only
    ]
    passing = {b: {"test_mock": "passed", "test_turns": "passed"} for b in ("asyncio", "trio")}
    problems = compare("suite", stock, passing, LISTED)
    assert len(problems) == 3  # test_mock on both backends, test_turns on trio: stale entries
    assert all("is listed" in p for p in problems)

"""Checked by pyright, never run: the types of alloy.testing's cassettes (SPEC §15)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, assert_type

from alloy import AlloyError
from alloy.testing import Cassette, CassetteMiss, cassette


def check_context_manager() -> None:
    with cassette("tests/cassettes/x.json") as c:
        assert_type(c, Cassette)
        assert_type(c.path, Path)
        assert_type(c.recording, bool)
        assert_type(c.interactions, list[dict[str, Any]])
    with cassette(Path("x.json"), mode="replay"):
        pass
    cassette("x.json", mode="sometimes")  # pyright: ignore[reportArgumentType]


def check_decorator_keeps_the_signature() -> None:
    @cassette("x.json")
    def sync_test(n: int) -> str:
        return str(n)

    @cassette("x.json")
    async def async_test(n: int) -> str:
        return str(n)

    assert_type(sync_test(1), str)

    async def use() -> None:
        assert_type(await async_test(1), str)

    del use


def check_miss(miss: CassetteMiss) -> None:
    error: AlloyError = miss
    assert_type(miss.path, Path)
    assert_type(miss.request, dict[str, Any])
    assert_type(miss.nearest, dict[str, Any] | None)
    del error

"""Checked by pyright, never run: the types of many-inputs results (SPEC §12)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import assert_type

from alloy import AlloyError, MapResult, Outcome, Usage, command


def check_map_result(result: MapResult[int]) -> None:
    seq: Sequence[Outcome[int]] = result  # a MapResult is a sequence of outcomes
    assert_type(seq[0], Outcome[int])
    assert_type(result[0], Outcome[int])
    assert_type(result[0].output, int | None)
    assert_type(result[0].error, AlloyError | None)
    assert_type(result[0].ok, bool)
    assert_type(result[0].index, int)
    assert_type(result[0].attempts, int)
    assert_type(result[0].usage, Usage)
    assert_type(result.outputs, list[int])
    assert_type(result.failed, list[Outcome[int]])
    assert_type(result.usage, Usage)
    for outcome in result:
        assert_type(outcome, Outcome[int])


def check_outcome_constructors() -> None:
    built: Outcome[str] = Outcome(0, output="x")
    assert_type(MapResult([built]), MapResult[str])
    assert_type(Outcome[str].failure(1, AlloyError("x")), Outcome[str])


@command(output=int)
def count(text: str) -> str:
    return text


@command(output=int)
async def acount(text: str) -> str:
    return text


def check_map() -> None:
    assert_type(count.map(["a", "b"]), MapResult[int])
    assert_type(count.map([("a",)], concurrency=4, checkpoint="run.jsonl", progress=True), MapResult[int])
    assert_type(count.map([{"text": "a"}]).outputs, list[int])
    count.map(["a"], concurrency="4")  # pyright: ignore[reportArgumentType]


async def check_map_async() -> None:
    assert_type(await count.map_async(["a"]), MapResult[int])
    assert_type(await acount.map(["a"]), MapResult[int])  # an async command's map is awaitable
    assert_type(await acount.map_async(["a"], checkpoint=Path("run.jsonl")), MapResult[int])

"""Checked by pyright, never run: the types of many-inputs results (SPEC §12)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_type

from alloy import AlloyError, MapResult, Outcome, Usage


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

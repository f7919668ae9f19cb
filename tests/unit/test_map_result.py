"""MapResult and Outcome: the data every run over many inputs returns (SPEC §12)."""

from __future__ import annotations

import pytest

from alloy import AlloyError, CommandError, MapResult, Outcome, ProviderError, Result, Usage


def test_outcomes_come_back_in_input_order_whatever_order_they_finished_in() -> None:
    result = MapResult([Outcome(2, output="c"), Outcome(0, output="a"), Outcome(1, output="b")])
    assert [o.index for o in result] == [0, 1, 2]
    assert result.outputs == ["a", "b", "c"]
    assert len(result) == 3
    assert result[1].output == "b"
    assert [o.output for o in result[1:]] == ["b", "c"]
    assert result.ok
    assert result.failed == []


def test_outputs_raise_the_first_failure_and_failed_lists_them_all() -> None:
    first = ProviderError("bad key", provider="openai", status_code=401)
    second = CommandError("never validated", attempts=3)
    result = MapResult(
        [Outcome(0, output=1), Outcome.failure(2, second), Outcome.failure(1, first), Outcome(3, output=4)]
    )
    assert not result.ok
    with pytest.raises(ProviderError) as info:
        _ = result.outputs
    assert info.value is first
    assert [o.index for o in result.failed] == [1, 2]
    assert result.failed[1].attempts == 3
    assert not result[1].ok and result[1].output is None and result[1].error is first


def test_usage_is_summed_over_every_item_failures_included() -> None:
    err = CommandError("no", attempts=2)
    err.usage = Usage(input_tokens=5, output_tokens=1, requests=2)  # type: ignore[attr-defined]
    result = MapResult(
        [
            Outcome.of(0, Result(output="x", usage=Usage(10, 2, 1), attempts=1, messages=[])),
            Outcome.failure(1, err),
        ]
    )
    assert result.usage == Usage(input_tokens=15, output_tokens=3, requests=3)
    assert result[0].attempts == 1 and result[0].ok


def test_an_outcome_of_a_command_without_output_is_ok_with_output_none() -> None:
    outcome: Outcome[None] = Outcome(0, output=None, attempts=1)
    assert outcome.ok
    assert MapResult([outcome]).outputs == [None]


def test_failure_error_is_an_alloy_error() -> None:
    outcome: Outcome[int] = Outcome.failure(0, AlloyError("x"), attempts=0)
    assert isinstance(outcome.error, AlloyError)
    assert outcome.usage == Usage()

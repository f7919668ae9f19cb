"""Spent tokens are never hidden (SPEC §17): a call that fails still says what it cost."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from alloy import CommandError, ToolLoopLimitExceeded, Usage, ask, command, override, require, tool
from alloy._messages import Response
from alloy.testing import ScriptedModel, ToolCall


@dataclass
class Point:
    x: int
    y: int


@tool
def lookup(key: str) -> str:
    """Look a key up."""
    return key.upper()


def _answer(text: str, input_tokens: int, output_tokens: int) -> Response:
    return Response(text, usage=Usage(input_tokens, output_tokens), finish_reason="stop")


def _call(input_tokens: int, output_tokens: int) -> Response:
    return Response(
        tool_calls=(ToolCall("lookup", {"key": "a"}),),
        usage=Usage(input_tokens, output_tokens),
        finish_reason="tool_calls",
    )


def test_command_error_carries_usage_of_every_attempt() -> None:
    """Three invalid answers (one try, two re-asks): the error carries all three requests' tokens."""
    model = ScriptedModel([_answer("no", 100, 5), _answer("still no", 120, 6), _answer("never", 140, 7)])
    with override(model=model), pytest.raises(CommandError) as info:
        ask("Where?", output=Point, retry=2)
    assert info.value.usage == Usage(360, 18, 3)
    assert info.value.cost is None  # a scripted model has no price: unknown, not free


def test_tool_loop_limit_carries_usage_of_every_turn() -> None:
    """max_tool_turns=2 ends at the third request; its usage counts all three."""
    model = ScriptedModel([_call(10, 1), _call(20, 2), _call(30, 3)])

    @command(output=str, tools=[lookup], max_tool_turns=2)
    def agent() -> str:
        return "Go."

    with override(model=model), pytest.raises(ToolLoopLimitExceeded) as info:
        agent()
    assert info.value.usage == Usage(60, 6, 3)


def test_async_command_error_carries_usage() -> None:
    """The async path carries it the same way."""
    model = ScriptedModel([_answer("no", 7, 1), _answer("no", 8, 1)])
    with override(model=model), pytest.raises(CommandError) as info:
        asyncio.run(ask.async_("Where?", output=Point, retry=1))
    assert info.value.usage == Usage(15, 2, 2)


def test_failed_precondition_spent_nothing() -> None:
    """A @require failure sends nothing: its usage is zero."""

    @command
    @require(lambda n: n > 0, "n must be positive")
    def count(n: int) -> str:
        return f"Count to {n}."

    with override(model=ScriptedModel([])), pytest.raises(CommandError) as info:
        count(0)
    assert (info.value.usage, info.value.cost) == (Usage(), None)

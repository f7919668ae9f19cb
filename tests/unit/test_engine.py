"""The engine stepped by hand: feed it Responses, read the effects it yields. No driver, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from alloy import CommandError, ToolLoopLimitExceeded
from alloy._engine import Run, RunTools, Send, run
from alloy._messages import Message, Response, Result, ToolCall, Usage
from alloy._plan import OUTPUT_TOOL, Plan, build
from alloy._settings import resolve
from alloy._tools import Tool
from alloy.testing import ScriptedModel


@dataclass
class Invoice:
    number: str
    total: float


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def plan_for(output: Any = str, tools: list[Any] | None = None, **settings: Any) -> Plan:
    model = ScriptedModel([], **settings.pop("model_options", {}))
    return build(output, [Tool(t) for t in tools or []], resolve(call={"model": model, **settings}))


def step(gen: Run, value: Any = None) -> Any:
    """Send *value* into the engine; the next effect, or the Result when it finishes."""
    try:
        return gen.send(value)
    except StopIteration as stop:
        return stop.value


def test_first_effect_is_one_send_with_the_prompt() -> None:
    """The engine starts by sending the prompt as the only user message."""
    gen = run(plan_for(Invoice), [Message.user("Extract: #42, $99.50")])
    effect = step(gen)
    assert isinstance(effect, Send)
    assert effect.request.messages == (Message("user", "Extract: #42, $99.50"),)
    assert effect.request.output is not None
    assert effect.request.output.schema["required"] == ["number", "total"]


def test_valid_answer_finishes_with_result_and_usage() -> None:
    """A valid answer ends the run: typed output, one attempt, usage summed, requests counted."""
    gen = run(plan_for(Invoice), [Message.user("p")])
    step(gen)
    result = step(gen, Response('{"number": "42", "total": "99.5"}', usage=Usage(10, 5)))
    assert isinstance(result, Result)
    assert result.output == Invoice("42", 99.5)
    assert result.attempts == 1
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.requests) == (10, 5, 1)
    assert result.usage.total_tokens == 15


def test_invalid_answer_reasks_with_the_error_and_the_answer() -> None:
    """An invalid answer goes back as an assistant message, the validation error as the next user message."""
    gen = run(plan_for(Invoice), [Message.user("p")])
    step(gen)
    effect = step(gen, Response('{"number": "42"}'))
    assert isinstance(effect, Send)
    assistant, error = effect.request.messages[-2:]
    assert assistant == Message("assistant", '{"number": "42"}')
    assert error.role == "user"
    assert "total" in error.content and "Field required" in error.content


def test_gives_up_after_retry_reasks_with_command_error() -> None:
    """After `retry` re-asks the call fails with CommandError carrying raw, errors and attempts."""
    gen = run(plan_for(Invoice, retry=1), [Message.user("p")])
    step(gen)
    step(gen, Response("not json at all"))
    with pytest.raises(CommandError) as info:
        step(gen, Response('{"number": 1}'))
    err = info.value
    assert err.attempts == 2
    assert err.raw == '{"number": 1}'
    assert "number" in err.errors[0]
    assert '{"number": 1}' in str(err)


def test_usage_sums_over_reasks() -> None:
    """Usage sums every request of the call, re-asks included."""
    gen = run(plan_for(int), [Message.user("p")])
    step(gen)
    step(gen, Response("nope", usage=Usage(3, 1)))
    result = step(gen, Response('{"value": 7}', usage=Usage(4, 2)))
    assert result.output == 7
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.requests) == (7, 3, 2)


def test_tool_calls_become_a_run_tools_effect_then_results_go_back() -> None:
    """Tool calls are handed to the driver; their results follow the assistant turn, in order."""
    gen = run(plan_for(int, [add]), [Message.user("p")])
    step(gen)
    calls = (ToolCall("add", {"a": 1, "b": 2}, id="c1"), ToolCall("add", {"a": 3, "b": 4}, id="c2"))
    effect = step(gen, Response(tool_calls=calls))
    assert effect == RunTools(calls)
    results = [
        Message("tool", "3", tool_call_id="c1", name="add"),
        Message("tool", "7", tool_call_id="c2", name="add"),
    ]
    effect = step(gen, results)
    assert isinstance(effect, Send)
    assert effect.request.messages[1] == Message("assistant", "", tool_calls=calls)
    assert list(effect.request.messages[2:]) == results


def test_tool_loop_limit_raises_after_max_turns_plus_one_requests() -> None:
    """With max_tool_turns=2, asking for tools a third time raises after the third request."""
    gen = run(plan_for(str, [add], max_tool_turns=2), [Message.user("p")])
    step(gen)
    sends = 1
    call = ToolCall("add", {"a": 1, "b": 1})
    for _ in range(2):
        assert isinstance(step(gen, Response("thinking", tool_calls=(call,))), RunTools)
        assert isinstance(step(gen, [Message("tool", "2", tool_call_id=call.id)]), Send)
        sends += 1
    with pytest.raises(ToolLoopLimitExceeded) as info:
        step(gen, Response(tool_calls=(call,)))
    assert sends == 3
    assert (info.value.max_turns, info.value.turns_taken) == (2, 2)
    assert "thinking" in info.value.partial_text


def test_text_instead_of_json_after_tools_gets_one_finalize_turn() -> None:
    """When the last turn has text but no structured output, one finalize turn asks for it."""
    gen = run(plan_for(Invoice, [add]), [Message.user("p")])
    step(gen)
    effect = step(gen, Response("The invoice number is 42 and the total is 99.5."))
    assert isinstance(effect, Send)
    assert effect.request.tool_choice == "none"
    assert "final answer" in effect.request.messages[-1].content
    result = step(gen, Response('{"number": "42", "total": 99.5}'))
    assert result.output == Invoice("42", 99.5)


def test_forced_tool_output_mode_reads_the_output_tool_call() -> None:
    """In forced-tool mode the answer is the output tool's arguments."""
    plan = plan_for(Invoice, model_options={"output_mode": "tool"})
    assert [t.name for t in plan.tools] == [OUTPUT_TOOL]
    gen = run(plan, [Message.user("p")])
    effect = step(gen)
    assert effect.request.tool_choice == OUTPUT_TOOL
    result = step(gen, Response(tool_calls=(ToolCall(OUTPUT_TOOL, {"number": "1", "total": 2}),)))
    assert result.output == Invoice("1", 2.0)


def test_forced_tool_reask_answers_the_tool_call_with_the_error() -> None:
    """An invalid output-tool call is answered as that tool's error result."""
    gen = run(plan_for(Invoice, model_options={"output_mode": "tool"}), [Message.user("p")])
    step(gen)
    call = ToolCall(OUTPUT_TOOL, {"number": "1"}, id="out1")
    effect = step(gen, Response(tool_calls=(call,)))
    tool_msg = effect.request.messages[-1]
    assert (tool_msg.role, tool_msg.tool_call_id, tool_msg.is_error) == ("tool", "out1", True)
    assert "total" in tool_msg.content


def test_react_step_runs_the_tool_and_sends_an_observation() -> None:
    """In ReAct mode a step naming a tool runs it and the result returns as `Observation: …`."""
    gen = run(plan_for(int, [add], tool_mode="react"), [Message.user("p")])
    first = step(gen)
    assert first.request.tools == ()
    assert first.request.system is not None and "add" in first.request.system
    effect = step(gen, Response('{"thought": "t", "action": "add", "action_input": {"a": 2, "b": 3}}'))
    assert isinstance(effect, RunTools)
    assert effect.calls[0].name == "add" and effect.calls[0].arguments == {"a": 2, "b": 3}
    effect = step(gen, [Message("tool", "5", tool_call_id=effect.calls[0].id)])
    assert effect.request.messages[-1] == Message("user", "Observation: 5")
    result = step(gen, Response('{"thought": "done", "action": "final_answer", "action_input": 5}'))
    assert result.output == 5


def test_react_invalid_step_is_answered_with_the_parse_error_and_counts_as_a_turn() -> None:
    """A ReAct turn that is not JSON gets the parse error back and counts against max_tool_turns."""
    gen = run(plan_for(int, [add], tool_mode="react", max_tool_turns=1), [Message.user("p")])
    step(gen)
    effect = step(gen, Response("I think I should add."))
    assert "not a JSON object" in effect.request.messages[-1].content
    with pytest.raises(ToolLoopLimitExceeded):
        step(gen, Response("still not json"))


def test_primitive_answer_may_come_bare_or_wrapped() -> None:
    """A primitive output accepts {"value": x} and a bare x."""
    for text in ('{"value": 12.5}', "12.5", '"12.5"'):
        gen = run(plan_for(float), [Message.user("p")])
        step(gen)
        assert step(gen, Response(text)).output == 12.5


def test_output_none_runs_and_returns_none() -> None:
    """output=None runs the call and returns None whatever the text."""
    gen = run(plan_for(None), [Message.user("p")])
    effect = step(gen)
    assert effect.request.output is None
    assert step(gen, Response("done")).output is None


def test_answer_cut_off_at_max_tokens_says_so() -> None:
    """A failed answer that stopped at the token limit names max_tokens and ALLOY_MAX_TOKENS."""
    gen = run(plan_for(Invoice, retry=0, max_tokens=8), [Message.user("p")])
    step(gen)
    with pytest.raises(CommandError) as info:
        step(gen, Response('{"number": "4', finish_reason="length"))
    assert "cut off at max_tokens (8)" in str(info.value) and "ALLOY_MAX_TOKENS" in str(info.value)
    assert info.value.raw == '{"number": "4'


def test_react_step_cut_off_at_the_token_limit_says_so() -> None:
    """A ReAct step truncated at max_tokens is answered with that reason, not only "not JSON"."""
    gen = run(plan_for(int, [add], tool_mode="react"), [Message.user("p")])
    step(gen)
    effect = step(
        gen, Response('{"thought": "Let me think about this very carefully and', finish_reason="length")
    )
    assert "cut off at the token limit" in effect.request.messages[-1].content

"""SPEC conformance checks found by the audit: each names the SPEC statement it holds Alloy to."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from alloy import ConfigurationError, ask
from alloy.testing import SENTENCE, ScriptedModel


@dataclass
class Invoice:
    number: str
    total: float


def test_ask_stream_takes_output_str_like_ask() -> None:
    """SPEC 2: ask.stream shares ask's signature; output=str is the text it streams anyway."""
    assert "".join(ask.stream("hi", output=str, model="fake")) == SENTENCE

    async def collect() -> list[str]:
        return [d async for d in ask.stream_async("hi", output=str, tools=None, model="fake")]

    assert "".join(asyncio.run(collect())) == SENTENCE


@pytest.mark.parametrize("stream", ["stream", "stream_async"])
def test_ask_stream_of_structured_output_is_refused_before_sending(stream: str) -> None:
    """SPEC 2: streaming is text only; a typed ask.stream is a ConfigurationError pointing at
    stream_partial (not an 'unknown setting output'), and nothing is sent."""
    model = ScriptedModel([])
    with pytest.raises(ConfigurationError, match=r"text only.*stream_partial"):
        getattr(ask, stream)("x", output=Invoice, model=model)
    assert model.requests == []


def test_ask_stream_with_tools_is_refused_before_sending() -> None:
    """SPEC 2: streaming takes no tools; ask.stream(tools=[...]) is refused before any request."""

    def lookup(sku: str) -> str:
        """Find a product."""
        return sku

    model = ScriptedModel([])
    with pytest.raises(ConfigurationError, match="no tools"):
        ask.stream("x", tools=[lookup], model=model)
    assert model.requests == []


@pytest.mark.parametrize("content", [5, ("text", 5), None])
def test_a_message_whose_content_is_not_text_or_parts_is_refused_before_sending(content: object) -> None:
    """SPEC 10: a Message's content is a str or a tuple of parts; anything else in a conversation is
    a ConfigurationError naming the message (not a TypeError from deep inside), nothing sent."""
    from alloy import Message

    model = ScriptedModel([])
    with pytest.raises(ConfigurationError, match=r"message 1 .*content"):
        ask([Message("user", content)], model=model)  # pyright: ignore[reportArgumentType]
    assert model.requests == []


def test_a_conversation_ending_with_an_assistant_message_reads_well() -> None:
    """SPEC 10: a conversation must end with a user message; the error names the role it ended with."""
    from alloy import Message

    with pytest.raises(ConfigurationError, match="ends with an 'assistant' message"):
        ask([Message.user("hi"), Message.assistant("hello")], model="fake")


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        ('{"thought": "t", "action": "add", "action_input": {"a": 1', "Expecting"),
        ("I will add them.", "Expecting value: line 1 column 1"),
        ("[1, 2]", "a JSON array, not an object"),
    ],
)
def test_a_react_turn_that_is_not_json_is_answered_with_the_parse_error(reply: str, said: str) -> None:
    """SPEC 5 (ReAct): a turn that is not valid JSON is answered with the parse error, and counts."""
    from alloy import tool

    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    step = '{"thought": "done", "action": "final_answer", "action_input": 3}'
    model = ScriptedModel([reply, step])
    assert ask("1+2?", output=int, tools=[add], tool_mode="react", model=model) == 3
    feedback = model.requests[1].messages[-1]
    assert feedback.role == "user"
    assert said in feedback.text
    assert '"thought", "action" and "action_input"' in feedback.text


def test_ask_explain_takes_context_like_ask_and_shows_the_block() -> None:
    """SPEC 2: ask.explain(...) plans what ask(...) would send; its context is the Context: block."""
    model = ScriptedModel(["ok"])
    assert ask("What is due?", context={"invoice": 42}, model=model) == "ok"
    plan = ask.explain("What is due?", context={"invoice": 42}, model="fake")
    assert plan.messages == model.requests[0].messages
    assert "Context:" in str(plan)

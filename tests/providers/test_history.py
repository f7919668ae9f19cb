"""A history is portable (SPEC §10): recorded on one provider, it continues on any other.

Each provider answers a turn of two tool calls, then text, through its real SDK; the recorded
``Result.messages`` is then the prompt of a call to every other provider, and the wire shows the
calls and their results paired as that provider wants them (ids and names kept).
"""

from __future__ import annotations

from typing import Any

import pytest

from alloy import Message, ask, command, tool

from .server import FakeServer, Reply
from .test_anthropic import message as anthropic_message
from .test_anthropic import tool_use
from .test_gemini import _cheap_tls, one_certificate  # noqa: F401  # pyright: ignore[reportUnusedImport]
from .test_gemini import answer as gemini_answer
from .test_gemini import call as gemini_call
from .test_inputs_wire import alloy_to, answer
from .test_ollama import call as ollama_call
from .test_ollama import chat as ollama_chat
from .test_openai import chat_body, responses_body

PROVIDERS = ["chat", "responses", "anthropic", "gemini", "ollama"]
ARGS = ('{"sku": "A"}', '{"sku": "B"}')


@tool
def lookup(sku: str) -> float:
    """The price of an item."""
    return {"A": 2.5, "B": 4.0}[sku]


@command(tools=[lookup])
def prices(items: str) -> str:
    return f"Prices of {items}?"


def two_calls(provider: str) -> Reply:
    """One turn asking for lookup(A) and lookup(B), in the provider's shape."""
    if provider == "chat":
        return Reply(200, chat_body(calls=[("call_a", "lookup", ARGS[0]), ("call_b", "lookup", ARGS[1])]))
    if provider == "responses":
        return Reply(
            200, responses_body(calls=[("call_a", "lookup", ARGS[0]), ("call_b", "lookup", ARGS[1])])
        )
    if provider == "anthropic":
        body = anthropic_message(
            tool_use("toolu_01A", "lookup", sku="A"),
            tool_use("toolu_01B", "lookup", sku="B"),
            stop_reason="tool_use",
        )
        return Reply(200, body)
    if provider == "gemini":  # Gemini gives calls no ids: Alloy makes them up, and answers by name
        return Reply(200, gemini_answer(gemini_call("lookup", sku="A"), gemini_call("lookup", sku="B")))
    return Reply(
        200, ollama_chat(tool_calls=[ollama_call("lookup", sku="A"), ollama_call("lookup", sku="B")])
    )


def recorded(provider: str, server: FakeServer) -> list[Message]:
    server.replies += [two_calls(provider), answer(provider)]
    with alloy_to(server, provider):
        result = prices.run("A and B")
    assert [m.role for m in result.messages] == ["user", "assistant", "tool", "tool", "assistant"]
    return result.messages


def pairs(provider: str, body: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(id, name) of each call, and (id, name, result text) of each result, as sent to *provider*;
    also checks the wire's own pairing rules."""
    if provider == "chat":
        msgs = body["messages"]
        i = next(i for i, m in enumerate(msgs) if m.get("tool_calls"))
        calls = [(c["id"], c["function"]["name"]) for c in msgs[i]["tool_calls"]]
        results = [(m["tool_call_id"], "", m["content"]) for m in msgs[i + 1 : i + 3]]
        assert all(m["role"] == "tool" for m in msgs[i + 1 : i + 3])
        return calls, results
    if provider == "responses":
        items = body["input"]
        calls = [(c["call_id"], c["name"]) for c in items if c.get("type") == "function_call"]
        results = [(c["call_id"], "", c["output"]) for c in items if c.get("type") == "function_call_output"]
        return calls, results
    if provider == "anthropic":
        msgs = body["messages"]
        i = next(i for i, m in enumerate(msgs) if any(b["type"] == "tool_use" for b in m["content"]))
        calls = [(b["id"], b["name"]) for b in msgs[i]["content"] if b["type"] == "tool_use"]
        answer_turn = msgs[i + 1]  # every result in ONE user turn, right after the calls
        assert answer_turn["role"] == "user"
        results = [(b["tool_use_id"], "", b["content"]) for b in answer_turn["content"]]
        return calls, results
    if provider == "gemini":
        contents = body["contents"]
        i = next(i for i, c in enumerate(contents) if any("functionCall" in p for p in c["parts"]))
        fcs = [p["functionCall"] for p in contents[i]["parts"] if "functionCall" in p]
        calls = [(fc.get("id", ""), fc["name"]) for fc in fcs]
        answer_turn = contents[i + 1]
        assert answer_turn["role"] == "user"
        frs = [p["functionResponse"] for p in answer_turn["parts"]]
        results = [(fr.get("id", ""), fr["name"], str(fr["response"])) for fr in frs]
        return calls, results
    msgs = body["messages"]
    i = next(i for i, m in enumerate(msgs) if m.get("tool_calls"))
    calls = [("", c["function"]["name"]) for c in msgs[i]["tool_calls"]]
    results = [("", m["tool_name"], m["content"]) for m in msgs[i + 1 : i + 3]]
    return calls, results


@pytest.mark.parametrize("target", PROVIDERS)
@pytest.mark.parametrize("origin", PROVIDERS)
def test_a_tool_history_recorded_on_one_provider_continues_on_another(
    server: FakeServer, origin: str, target: str
) -> None:
    history = recorded(origin, server)
    server.replies.append(answer(target))
    with alloy_to(server, target):
        assert ask([*history, Message.user("And the total?")]) == "ok"
    calls, results = pairs(target, server.requests[-1].json)
    assert [name for _, name in calls] == ["lookup", "lookup"]
    assert [r[0] for r in results] == [c[0] for c in calls]  # each result answers its call, in order
    if target in ("gemini", "ollama"):  # results go by name there
        assert [r[1] for r in results] == ["lookup", "lookup"]
    assert "2.5" in results[0][2] and "4.0" in results[1][2]
    if target in ("chat", "responses", "anthropic") and origin != "gemini":
        assert len({c[0] for c in calls}) == 2 and all(c[0] for c in calls)  # the recorded ids, kept


def test_a_history_built_by_hand_gets_result_names_from_the_calls(server: FakeServer) -> None:
    """A tool message without ``name`` is answered with the name of the call it answers."""
    from alloy.testing import ToolCall

    history = [
        Message.user("Price of A?"),
        Message("assistant", "", tool_calls=(ToolCall("lookup", {"sku": "A"}, "c1"),)),
        Message("tool", "2.5", tool_call_id="c1"),
        Message.user("Thanks. And B?"),
    ]
    server.replies.append(answer("gemini"))
    with alloy_to(server, "gemini"):
        ask(history)
    _, results = pairs("gemini", server.requests[-1].json)
    assert results[0][:2] == ("c1", "lookup")


def test_an_answer_through_the_output_tool_is_recorded_as_text(server: FakeServer) -> None:
    """Forced-tool output leaves no unanswered tool call in Result.messages, so it continues anywhere."""
    from dataclasses import dataclass

    from alloy._plan import OUTPUT_TOOL

    @dataclass
    class Total:
        total: float

    @command(output=Total)
    def total() -> str:
        return "Total?"

    server.replies.append(
        Reply(200, anthropic_message(tool_use("toolu_x", OUTPUT_TOOL, total=6.5), stop_reason="tool_use"))
    )
    with alloy_to(server, "anthropic", model="anthropic:claude-3-5-haiku-20241022"):  # forced tool
        result = total.run()
    assert result.output == Total(6.5)
    assert result.messages[-1] == Message.assistant('{"total": 6.5}')


def test_ids_other_providers_cannot_take_are_mapped_the_same_for_call_and_result() -> None:
    """OpenAI takes ids of at most 40 characters, Anthropic only ``[a-zA-Z0-9_-]``."""
    from alloy._messages import Request
    from alloy.providers import anthropic, openai
    from alloy.testing import ToolCall

    long_id, odd_id = "x" * 64, "call.7:lookup"
    messages = (
        Message.user("Prices?"),
        Message(
            "assistant", "", tool_calls=(ToolCall("lookup", {}, long_id), ToolCall("lookup", {}, odd_id))
        ),
        Message("tool", "1", tool_call_id=long_id, name="lookup"),
        Message("tool", "2", tool_call_id=odd_id, name="lookup"),
        Message.user("Total?"),
    )
    chat = openai.chat_kwargs(Request("gpt-4.1-mini", messages))["messages"]
    ids = [c["id"] for c in chat[1]["tool_calls"]]
    assert len(ids[0]) <= 40 and ids[1] == odd_id
    assert [m["tool_call_id"] for m in chat[2:4]] == ids
    turns = anthropic.wire_messages(messages)
    uses = [b["id"] for b in turns[1]["content"]]
    assert uses[1] == "call_7_lookup"
    assert [b["tool_use_id"] for b in turns[2]["content"][:2]] == uses

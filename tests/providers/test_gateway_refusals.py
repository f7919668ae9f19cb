"""A LiteLLM proxy's refusals, in its real wording (SPEC §16), at the wire.

The bodies are what LiteLLM 1.110.2's proxy answered on loopback for a deployment whose provider
lacks the parameter (recorded with the local tier's proxy, ``scripts/local-llm.sh``): its
``UnsupportedParamsError`` on ``/v1/chat/completions`` (OpenAI's error shape) and on the
Anthropic-style ``/v1/messages`` (Anthropic's error shape). On ``/v1/messages`` it names the
*translated* parameter: Alloy's ``output_config`` is refused as ``['response_format']``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alloy import ask, override
from alloy._plan import OUTPUT_TOOL
from alloy.providers import anthropic as claude_adapter
from alloy.providers import openai as openai_adapter

from . import test_anthropic as claude
from . import test_openai as gpt
from .server import FakeServer, Reply
from .test_compatible import ANSWER, Invoice, lookup, react

GATEWAY_MODEL = "smollm2-gateway"
TAIL = (
    ", for model=some-model. To drop these, set `litellm.drop_params=True` or for proxy:\n\n"
    "`litellm_settings:\n drop_params: true`\n. \n If you want to use these params dynamically send "
    "allowed_openai_params={params} in your request.\n\nLiteLLM: model group 'smollm2-gateway' failed "
    "with the error above. No fallback was attempted."
)


def unsupported(params: list[str]) -> str:
    return f"litellm.UnsupportedParamsError: nlp_cloud does not support parameters: {params}" + TAIL.format(
        params=params
    )


def chat_refusal(params: list[str]) -> Reply:
    error = {"message": unsupported(params), "type": "invalid_request_error", "param": None, "code": "400"}
    return Reply(400, {"error": error})


def messages_refusal(params: list[str]) -> Reply:
    return Reply(
        400, {"type": "error", "error": {"type": "invalid_request_error", "message": unsupported(params)}}
    )


@pytest.fixture
def chat(server: FakeServer) -> Iterator[FakeServer]:
    openai_adapter.ADAPTER.refusals.forget()
    with override(
        model=f"openai:{GATEWAY_MODEL}",
        openai_base_url=server.url + "/v1",
        openai_api_key="sk-local",
        openai_api="chat",
    ):
        yield server
    openai_adapter.ADAPTER.refusals.forget()


@pytest.fixture
def messages(server: FakeServer) -> Iterator[FakeServer]:
    claude_adapter.ADAPTER.forget_refusals()
    with override(
        model=f"anthropic:{GATEWAY_MODEL}", anthropic_base_url=server.url, anthropic_api_key="sk-local"
    ):
        yield server
    claude_adapter.ADAPTER.forget_refusals()


def test_chat_refusal_of_response_format_goes_again_as_json_mode(chat: FakeServer) -> None:
    chat.replies += [chat_refusal(["response_format"]), gpt.reply("chat", ANSWER), gpt.reply("chat", ANSWER)]
    assert ask("Extract.", output=Invoice) == Invoice("42", 9.5)
    assert gpt.sent(chat, 0)["response_format"]["type"] == "json_schema"
    assert gpt.sent(chat, 1)["response_format"] == {"type": "json_object"}
    ask("Extract.", output=Invoice)  # remembered: JSON mode first
    assert len(chat.requests) == 3 and gpt.sent(chat)["response_format"] == {"type": "json_object"}


def test_chat_refusal_of_tools_runs_react(chat: FakeServer) -> None:
    """LiteLLM names every tool parameter Alloy sent, ``parallel_tool_calls`` included."""
    chat.replies += [
        chat_refusal(["tools", "tool_choice", "parallel_tool_calls"]),
        react("lookup", {"sku": "A1"}),
        react("final_answer", "bolt"),
    ]
    assert ask("What is A1?", tools=[lookup]) == "bolt"
    assert "tools" in gpt.sent(chat, 0) and "tools" not in gpt.sent(chat, 1)
    assert gpt.sent(chat, 2)["messages"][-1]["content"].startswith("Observation: ")


def test_messages_refusal_of_output_config_worded_as_response_format_uses_a_forced_tool(
    messages: FakeServer,
) -> None:
    """On ``/v1/messages`` the proxy refuses ``output_config`` by the name it translated it to."""
    answer = claude.message(
        claude.tool_use("toolu_01", OUTPUT_TOOL, number="42", total=9.5), stop_reason="tool_use"
    )
    messages.replies += [messages_refusal(["response_format"]), Reply(200, answer), Reply(200, answer)]
    assert ask("Extract.", output=Invoice) == Invoice("42", 9.5)
    assert "output_config" in claude.sent(messages, 0)
    retried = claude.sent(messages, 1)
    assert "output_config" not in retried and retried["tool_choice"] == {"type": "tool", "name": OUTPUT_TOOL}
    ask("Extract.", output=Invoice)  # remembered: the forced tool first
    assert len(messages.requests) == 3 and "output_config" not in claude.sent(messages)

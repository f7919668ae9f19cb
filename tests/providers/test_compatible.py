"""OpenAI-compatible servers that refuse a field (SPEC §16), at the wire.

Each refusal is scripted in the wording a common server uses (llama.cpp's llama-server, vLLM,
Ollama's ``/v1``, LM Studio, LiteLLM, a strict pydantic server); the request goes again
downgraded, and the downgrade is remembered per (base URL, model): the next call sends the
downgraded request first.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from alloy import ProviderError, ask, override
from alloy.providers import openai as adapter

from . import test_openai as gpt
from .server import FakeServer, Reply

MODEL = "local-model"


@dataclass
class Invoice:
    number: str
    total: float


ANSWER = '{"number": "42", "total": 9.5}'


@pytest.fixture
def local(server: FakeServer) -> Iterator[FakeServer]:
    """The fake server as a compatible endpoint (Chat Completions); no remembered refusals."""
    adapter.ADAPTER.refusals.forget()
    with override(
        model=f"openai:{MODEL}",
        openai_base_url=server.url + "/v1",
        openai_api_key="sk-local",
        openai_api="chat",
    ):
        yield server
    adapter.ADAPTER.refusals.forget()


def openai_error(status: int, message: str, kind: str = "invalid_request_error") -> Reply:
    return Reply(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})


def extra_forbidden(field: str) -> Reply:
    """A pydantic server's 422 for a field it does not know."""
    detail = [{"type": "extra_forbidden", "loc": ["body", field], "msg": "Extra inputs are not permitted"}]
    return Reply(422, {"detail": detail})


JSON_SCHEMA_REFUSALS = [
    pytest.param(
        Reply(
            500,
            {
                "error": {
                    "code": 500,
                    "message": 'response_format type must be one of "text" or "json_object", but got: json_schema',
                    "type": "server_error",
                }
            },
        ),
        id="llama.cpp",
    ),
    pytest.param(
        openai_error(
            400,
            "litellm.UnsupportedParamsError: openai does not support parameters: ['response_format'], for "
            "model=local-model. To drop these, set `litellm.drop_params=True` or for proxy:\n\n"
            "`litellm_settings:\n drop_params: true`\n",
        ),
        id="litellm",
    ),
    pytest.param(extra_forbidden("response_format"), id="pydantic-422"),
]


@pytest.mark.parametrize("refusal", JSON_SCHEMA_REFUSALS)
def test_refused_json_schema_goes_again_as_json_object_and_is_remembered(
    local: FakeServer, refusal: Reply, caplog: pytest.LogCaptureFixture
) -> None:
    local.replies += [refusal, gpt.reply("chat", ANSWER), gpt.reply("chat", ANSWER)]
    with caplog.at_level(logging.DEBUG, logger="alloy"):
        assert ask("Extract.", output=Invoice) == Invoice("42", 9.5)
    first, second = gpt.sent(local, 0), gpt.sent(local, 1)
    assert first["response_format"]["type"] == "json_schema"
    assert second["response_format"] == {"type": "json_object"}
    system = second["messages"][0]
    assert system["role"] == "system" and '"number"' in system["content"]
    assert any("refused json_schema" in r.getMessage() for r in caplog.records)
    # Remembered: the next call sends JSON mode first, and explain() says why.
    assert ask("Extract.", output=Invoice).total == 9.5
    assert len(local.requests) == 3
    assert gpt.sent(local)["response_format"] == {"type": "json_object"}
    plan = ask.explain("Extract.", output=Invoice)
    assert plan.output_mode == "json_object"
    assert any("refused json_schema" in n for n in plan.notes)


def test_refused_json_object_goes_again_with_the_schema_in_the_prompt_only(local: FakeServer) -> None:
    """LM Studio takes json_schema or text only: after a json_schema refusal elsewhere in the
    chain, its json_object refusal leaves the schema to the prompt."""
    lm_studio = Reply(400, {"error": "'response_format.type' must be 'json_schema' or 'text'"})
    local.replies += [JSON_SCHEMA_REFUSALS[0].values[0], lm_studio, gpt.reply("chat", ANSWER)]
    assert ask("Extract.", output=Invoice) == Invoice("42", 9.5)
    last = gpt.sent(local)
    assert "response_format" not in last
    assert "JSON schema" in last["messages"][0]["content"]
    local.replies.append(gpt.reply("chat", ANSWER))
    ask("Extract.", output=Invoice)
    assert len(local.requests) == 4 and "response_format" not in gpt.sent(local)
    assert ask.explain("Extract.", output=Invoice).output_mode == "prompt"


def test_responses_api_refusal_uses_json_mode_there_too(local: FakeServer) -> None:
    local.replies += [
        JSON_SCHEMA_REFUSALS[0].values[0],
        Reply(200, gpt.responses_body(ANSWER, model=MODEL)),
    ]
    with override(openai_api="responses"):
        assert ask("Extract.", output=Invoice).total == 9.5
    assert gpt.sent(local, 0)["text"]["format"]["type"] == "json_schema"
    assert gpt.sent(local, 1)["text"] == {"format": {"type": "json_object"}}


TOOL_REFUSALS = [
    pytest.param(
        openai_error(
            400, '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
        ),
        id="vllm",
    ),
    pytest.param(openai_error(500, "tools param requires --jinja flag", "server_error"), id="llama.cpp"),
    pytest.param(
        openai_error(400, f"registry.ollama.ai/library/{MODEL}:latest does not support tools", "api_error"),
        id="ollama-v1",
    ),
    pytest.param(
        openai_error(
            400,
            "litellm.UnsupportedParamsError: openai does not support parameters: ['tools', 'tool_choice'], "
            "for model=local-model.",
        ),
        id="litellm",
    ),
]


def lookup(sku: str) -> str:
    """Find an item by SKU."""
    return "bolt"


def react(action: str, action_input: Any) -> Reply:
    return gpt.reply("chat", json.dumps({"thought": "-", "action": action, "action_input": action_input}))


@pytest.mark.parametrize("refusal", TOOL_REFUSALS)
def test_refused_tools_run_through_react_and_are_remembered(local: FakeServer, refusal: Reply) -> None:
    local.replies += [refusal, react("lookup", {"sku": "A1"}), react("final_answer", "bolt")]
    assert ask("What is A1?", tools=[lookup]) == "bolt"
    assert "tools" in gpt.sent(local, 0)
    react_request = gpt.sent(local, 1)
    assert "tools" not in react_request and "lookup" in react_request["messages"][0]["content"]
    assert gpt.sent(local, 2)["messages"][-1]["content"].startswith("Observation: ")
    local.replies.append(react("final_answer", "bolt"))
    assert ask("What is A1?", tools=[lookup]) == "bolt"
    assert len(local.requests) == 4 and "tools" not in gpt.sent(local)
    assert ask.explain("x", tools=[lookup]).tool_mode == "react"


def test_refused_tools_with_tool_mode_native_raise(local: FakeServer) -> None:
    local.replies.append(TOOL_REFUSALS[0].values[0])
    with override(tool_mode="native"), pytest.raises(ProviderError, match="refused native tools"):
        ask("What is A1?", tools=[lookup])
    assert len(local.requests) == 1


@pytest.mark.parametrize(
    "refusal",
    [
        pytest.param(extra_forbidden("prompt_cache_key"), id="pydantic-422"),
        pytest.param(openai_error(400, "Unrecognized request argument supplied: prompt_cache_key"), id="400"),
    ],
)
def test_refused_prompt_cache_key_goes_again_without_it(local: FakeServer, refusal: Reply) -> None:
    local.replies += [refusal, gpt.reply("chat", "hi"), gpt.reply("chat", "hi")]
    assert ask("Hi") == "hi"
    assert "prompt_cache_key" in gpt.sent(local, 0)
    assert "prompt_cache_key" not in gpt.sent(local, 1)
    assert ask("Hi") == "hi"
    assert len(local.requests) == 3 and "prompt_cache_key" not in gpt.sent(local)


def test_compatible_server_gets_the_cache_key(local: FakeServer) -> None:
    """Servers that do not know prompt_cache_key ignore it, so it goes to every OpenAI-protocol server."""
    local.replies.append(gpt.reply("chat", "hi"))
    ask("Hi")
    assert gpt.sent(local)["prompt_cache_key"].startswith("alloy-")


def test_other_bad_requests_are_not_downgrades(local: FakeServer) -> None:
    local.replies.append(openai_error(400, "This model's maximum context length is 4096 tokens."))
    with pytest.raises(ProviderError, match="maximum context length"):
        ask("Extract.", output=Invoice)
    assert len(local.requests) == 1
    assert ask.explain("Extract.", output=Invoice).output_mode == "native_strict"


def test_downgrades_are_per_base_url_and_model(local: FakeServer) -> None:
    local.replies += [JSON_SCHEMA_REFUSALS[0].values[0], gpt.reply("chat", ANSWER)]
    ask("Extract.", output=Invoice)
    assert ask.explain("x", output=Invoice).output_mode == "json_object"
    assert ask.explain("x", output=Invoice, model="openai:other-model").output_mode == "native_strict"
    with override(openai_base_url="http://127.0.0.1:9/v1"):
        assert ask.explain("x", output=Invoice).output_mode == "native_strict"

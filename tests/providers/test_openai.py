"""The OpenAI adapter at the wire: the real ``openai`` SDK talks HTTP to a loopback server.

Each test scripts the server's replies in the documented shapes of the Responses API or Chat
Completions and asserts on the JSON the SDK actually sent. The ``api`` fixture runs a test against
both wire APIs where the behaviour is shared.
"""

from __future__ import annotations

import asyncio
import datetime
import enum
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletion
from openai.types.responses import Response as OpenAIResponse
from pydantic import BaseModel

import alloy
from alloy import CommandError, ConfigurationError, ProviderError, ask, command, override, tool
from alloy._messages import Message, OutputFormat, Request, Response, ToolCall, ToolSpec
from alloy.providers import _openai_responses
from alloy.providers import openai as adapter

from .server import FakeServer, Reply, sse

KEY = "sk-test-0123456789abcdef"
CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"

# --- reply bodies in the shapes the SDK's types describe -------------------------------------------


def chat_body(
    content: str | None = None,
    calls: Sequence[tuple[str, str, str]] = (),
    *,
    finish: str = "stop",
    model: str = "gpt-4.1-mini",
    usage: tuple[int, int] = (11, 7),
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if calls:
        message["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
            for cid, name, args in calls
        ]
        finish = "tool_calls"
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "finish_reason": finish, "logprobs": None, "message": message}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }


def responses_body(
    content: str | None = None,
    calls: Sequence[tuple[str, str, str]] = (),
    *,
    status: str = "completed",
    incomplete: str | None = None,
    model: str = "gpt-5-mini",
    usage: tuple[int, int] = (11, 7),
) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if content is not None:
        output.append(
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": status,
                "content": [{"type": "output_text", "text": content, "annotations": []}],
            }
        )
    output += [
        {
            "type": "function_call",
            "id": f"fc_{cid}",
            "call_id": cid,
            "name": name,
            "arguments": args,
            "status": "completed",
        }
        for cid, name, args in calls
    ]
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1_700_000_000,
        "model": model,
        "status": status,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "error": None,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "output": output,
        "usage": {
            "input_tokens": usage[0],
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": usage[1],
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": sum(usage),
        },
    }


def reply(
    api: str, content: str | None = None, calls: Sequence[tuple[str, str, str]] = (), **kw: Any
) -> Reply:
    return Reply(
        200, chat_body(content, calls, **kw) if api == "chat" else responses_body(content, calls, **kw)
    )


def chat_stream(deltas: list[str], usage: tuple[int, int] = (9, 4)) -> Reply:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1-mini"}
    chunks: list[dict[str, Any]] = [
        {
            **base,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        }
    ]
    chunks += [
        {**base, "choices": [{"index": 0, "delta": {"content": d}, "finish_reason": None}]} for d in deltas
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append(
        {
            **base,
            "choices": [],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
        }
    )
    return sse(*chunks, done=True)


def responses_stream(deltas: list[str], usage: tuple[int, int] = (9, 4)) -> Reply:
    final = responses_body("".join(deltas), usage=usage)
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": {**final, "status": "in_progress", "output": [], "usage": None}})
    ]
    events += [
        (
            "response.output_text.delta",
            {"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": d, "logprobs": []},
        )
        for d in deltas
    ]
    events.append(("response.completed", {"response": final}))
    return sse(
        *[(name, {"type": name, "sequence_number": i, **data}) for i, (name, data) in enumerate(events)],
        named=True,
    )


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    return Reply(status, body, headers=headers or {})


# --- fixtures and helpers --------------------------------------------------------------------------


Api = Literal["chat", "responses"]


@pytest.fixture(params=["chat", "responses"])
def api(request: pytest.FixtureRequest) -> Api:
    """Each wire API in turn."""
    return request.param


@pytest.fixture
def use(server: FakeServer, api: Api) -> Iterator[None]:
    """Alloy pointed at the server through the fixture's API."""
    model = "gpt-4.1-mini" if api == "chat" else "gpt-5-mini"
    with override(
        model=f"openai:{model}", openai_base_url=server.url + "/v1", openai_api_key=KEY, openai_api=api
    ):
        yield


def sent(server: FakeServer, i: int = -1) -> dict[str, Any]:
    return server.requests[i].json


def json_format(api: str, body: dict[str, Any]) -> dict[str, Any]:
    """The json_schema format body, wherever the API puts it."""
    return body["response_format"]["json_schema"] if api == "chat" else body["text"]["format"]


def history(api: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    return body["messages"] if api == "chat" else body["input"]


def assert_strict(schema: Any) -> None:
    """Every object: all properties required, no additional properties (OpenAI's strict rules)."""
    if isinstance(schema, dict):
        schema = cast("dict[str, Any]", schema)
        if schema.get("type") == "object":
            assert schema["additionalProperties"] is False
            assert sorted(schema["required"]) == sorted(schema["properties"])
        for value in schema.values():
            assert_strict(value)
    elif isinstance(schema, list):
        for value in cast("list[Any]", schema):
            assert_strict(value)


# --- output types ----------------------------------------------------------------------------------


@dataclass
class Point:
    x: int
    y: int


class Item(BaseModel):
    name: str
    note: str | None = None
    counts: dict[str, int]


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def _wrapped(inner: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"value": inner},
        "required": ["value"],
        "additionalProperties": False,
    }


TYPED = [
    pytest.param(
        Point,
        "Point",
        {
            "type": "object",
            "properties": {"x": {"title": "X", "type": "integer"}, "y": {"title": "Y", "type": "integer"}},
            "required": ["x", "y"],
            "additionalProperties": False,
            "title": "Point",
        },
        {"x": 1, "y": 2},
        Point(1, 2),
        id="dataclass",
    ),
    pytest.param(
        Item,
        "Item",
        {
            "type": "object",
            "properties": {
                "name": {"title": "Name", "type": "string"},
                "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Note"},
                "counts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"key": {"type": "string"}, "value": {"type": "integer"}},
                        "required": ["key", "value"],
                        "additionalProperties": False,
                    },
                    "title": "Counts",
                },
            },
            "required": ["name", "note", "counts"],
            "additionalProperties": False,
            "title": "Item",
        },
        {"name": "bolt", "note": None, "counts": [{"key": "a", "value": 1}, {"key": "b", "value": 2}]},
        Item(name="bolt", counts={"a": 1, "b": 2}),
        id="pydantic-optional-dict",
    ),
    pytest.param(
        list[int],
        "output",
        _wrapped({"type": "array", "items": {"type": "integer"}}),
        {"value": [1, 2]},
        [1, 2],
        id="list",
    ),
    pytest.param(
        Literal["yes", "no"],
        "output",
        _wrapped({"enum": ["yes", "no"], "type": "string"}),
        {"value": "no"},
        "no",
        id="literal",
    ),
    pytest.param(
        Color,
        "Color",
        _wrapped({"enum": ["red", "blue"], "title": "Color", "type": "string"}),
        {"value": "blue"},
        Color.BLUE,
        id="enum",
    ),
    pytest.param(
        datetime.datetime,
        "datetime",
        _wrapped({"format": "date-time", "type": "string"}),
        {"value": "2024-05-01T12:30:00Z"},
        datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC),
        id="datetime",
    ),
]


@pytest.mark.parametrize(("tp", "name", "schema", "answer", "expected"), TYPED)
def test_typed_output_sends_strict_json_schema_and_round_trips(
    server: FakeServer,
    api: str,
    use: None,
    tp: Any,
    name: str,
    schema: dict[str, Any],
    answer: Any,
    expected: Any,
) -> None:
    """The strict json_schema goes on the wire and the answer comes back as the declared type."""
    server.replies.append(reply(api, json.dumps(answer)))
    assert ask("Extract it.", output=tp) == expected
    fmt = json_format(api, sent(server))
    assert fmt == {"name": name, "schema": schema, "strict": True} | (
        {"type": "json_schema"} if api == "responses" else {}
    )
    assert_strict(fmt["schema"])


POINT_FORM = 'Reply with JSON only, in the form {"x": <integer>, "y": <integer>}'


def test_chat_sends_documented_request_shape(server: FakeServer) -> None:
    """Chat Completions: system message, user message, response_format, max_completion_tokens on OpenAI."""
    server.replies.append(reply("chat", '{"x": 1, "y": 2}'))
    with override(
        model="openai:gpt-4.1", openai_api_key=KEY, openai_base_url=server.url + "/v1", openai_api="chat"
    ):
        ask("Where?", output=Point, system="Be terse.", max_tokens=50)
    body = sent(server)
    assert server.requests[0].path == CHAT
    assert body["model"] == "gpt-4.1"
    assert body["messages"][0]["role"] == "system" and body["messages"][0]["content"].startswith("Be terse.")
    # a loopback server is a compatible endpoint, which may not enforce the schema: the form is restated
    assert body["messages"][1] == {"role": "user", "content": f"Where?\n\n{POINT_FORM}"}
    assert body["response_format"]["type"] == "json_schema"
    assert body["max_tokens"] == 50  # a loopback server is a compatible endpoint


def test_responses_sends_documented_request_shape(server: FakeServer) -> None:
    """Responses API: instructions, input items, text.format and max_output_tokens."""
    server.replies.append(reply("responses", '{"x": 1, "y": 2}'))
    with override(
        model="openai:gpt-5-mini",
        openai_api_key=KEY,
        openai_base_url=server.url + "/v1",
        openai_api="responses",
    ):
        ask("Where?", output=Point, system="Be terse.", max_tokens=50)
    body = sent(server)
    assert server.requests[0].path == RESPONSES
    assert body["instructions"].startswith("Be terse.")
    assert body["input"] == [{"role": "user", "content": f"Where?\n\n{POINT_FORM}"}]
    assert body["text"]["format"]["type"] == "json_schema"
    assert body["max_output_tokens"] == 50


# --- tools -----------------------------------------------------------------------------------------


@tool
def stock(sku: str) -> int:
    """How many units of a SKU are in stock."""
    return {"A1": 3, "B2": 5}[sku]


def test_tool_round_trip_sends_result_with_call_id(server: FakeServer, api: str, use: None) -> None:
    """The tool's result goes back under the call id the model gave."""
    server.replies += [reply(api, calls=[("call_Ab1", "stock", '{"sku": "A1"}')]), reply(api, "3 units")]
    assert ask("How many A1?", tools=[stock]) == "3 units"
    first, second = sent(server, 0), sent(server, 1)
    if api == "chat":
        assert first["tools"] == [
            {
                "type": "function",
                "function": {
                    "name": "stock",
                    "description": "How many units of a SKU are in stock.",
                    "parameters": stock.spec.parameters,
                },
            }
        ]
        assert first["tool_choice"] == "auto"
        assert second["messages"][-2]["tool_calls"] == [
            {
                "id": "call_Ab1",
                "type": "function",
                "function": {"name": "stock", "arguments": '{"sku": "A1"}'},
            }
        ]
        assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call_Ab1", "content": "3"}
    else:
        assert first["tools"][0] | {"parameters": None} == {
            "type": "function",
            "name": "stock",
            "description": "How many units of a SKU are in stock.",
            "parameters": None,
            "strict": False,
        }
        assert second["input"][-2] == {
            "type": "function_call",
            "call_id": "call_Ab1",
            "name": "stock",
            "arguments": '{"sku": "A1"}',
        }
        assert second["input"][-1] == {"type": "function_call_output", "call_id": "call_Ab1", "output": "3"}


def test_two_parallel_tool_calls_return_in_order(server: FakeServer, api: str, use: None) -> None:
    """Two calls in one turn: both results go back, in the model's order, under their ids."""
    calls = [("call_1", "stock", '{"sku": "A1"}'), ("call_2", "stock", '{"sku": "B2"}')]
    server.replies += [reply(api, calls=calls), reply(api, "8 in all")]
    assert ask("Total of A1 and B2?", tools=[stock]) == "8 in all"
    results = history(api, sent(server, 1))[-2:]
    if api == "chat":
        assert results == [
            {"role": "tool", "tool_call_id": "call_1", "content": "3"},
            {"role": "tool", "tool_call_id": "call_2", "content": "5"},
        ]
    else:
        assert results == [
            {"type": "function_call_output", "call_id": "call_1", "output": "3"},
            {"type": "function_call_output", "call_id": "call_2", "output": "5"},
        ]


def test_tool_error_goes_back_as_the_result_text(server: FakeServer, api: str, use: None) -> None:
    """A tool that fails answers its call with the error text (OpenAI has no error flag)."""
    server.replies += [reply(api, calls=[("call_9", "stock", '{"sku": "ZZ"}')]), reply(api, "unknown SKU")]
    ask("How many ZZ?", tools=[stock])
    result = history(api, sent(server, 1))[-1]
    text = result["content"] if api == "chat" else result["output"]
    assert text.startswith("Error:") and "KeyError" in text


def test_malformed_tool_arguments_are_shown_to_the_model(server: FakeServer, api: str, use: None) -> None:
    """Arguments that are not JSON come back to the model with the text it sent."""
    server.replies += [reply(api, calls=[("call_5", "stock", '{"sku": "A1"')]), reply(api, "sorry")]
    ask("How many A1?", tools=[stock])
    result = history(api, sent(server, 1))[-1]
    text = result["content"] if api == "chat" else result["output"]
    assert "arguments_were_not_a_json_object" in text and '{\\"sku\\": \\"A1\\"' in json.dumps(text)


@pytest.mark.parametrize(
    ("choice", "chat", "responses"),
    [
        ("auto", "auto", "auto"),
        ("required", "required", "required"),
        ("none", "none", "none"),
        ("stock", {"type": "function", "function": {"name": "stock"}}, {"type": "function", "name": "stock"}),
    ],
)
def test_tool_choice_maps_to_each_api(choice: str, chat: Any, responses: Any) -> None:
    """tool_choice: auto/required/none as they are, a tool name as the API's named form."""
    request = Request("gpt-4.1", (Message("user", "hi"),), tools=(stock.spec,), tool_choice=choice)
    assert adapter.chat_kwargs(request)["tool_choice"] == chat
    assert _openai_responses.responses_kwargs(request)["tool_choice"] == responses


def test_strict_tool_specs_carry_the_flag() -> None:
    """A strict tool spec is sent strict on both APIs."""
    spec = ToolSpec(
        "f",
        "d",
        {"type": "object", "properties": {}, "required": [], "additionalProperties": False},
        strict=True,
    )
    request = Request("gpt-4.1", (Message("user", "hi"),), tools=(spec,))
    assert adapter.chat_kwargs(request)["tools"][0]["function"]["strict"] is True
    assert _openai_responses.responses_kwargs(request)["tools"][0]["strict"] is True


# --- re-ask and truncation -------------------------------------------------------------------------


@command(output=Point)
def locate(thing: str) -> str:
    return f"Where is {thing}?"


def test_reask_sends_the_validation_error(server: FakeServer, api: str, use: None) -> None:
    """An answer that does not validate is fed back with the error; the second answer is used."""
    server.replies += [reply(api, '{"x": 1}'), reply(api, '{"x": 1, "y": 2}')]
    result = locate.run("the pin")
    assert result.output == Point(1, 2) and result.attempts == 2
    last = history(api, sent(server, 1))
    typed = {"type": "message"} if api == "responses" else {}
    assert last[-2] == {**typed, "role": "assistant", "content": '{"x": 1}'}
    assert last[-1]["role"] == "user" and "y: Field required" in last[-1]["content"]


def test_responses_assistant_items_carry_a_type(server: FakeServer) -> None:
    """Assistant message items name their type: the spec makes ``type`` optional on a message, but
    llama-server's /v1/responses answers 400 "Cannot determine type of 'item'" for an assistant
    message without it (found against a real server, tests/local_llm). User items go without it,
    which every server accepts and the SDK transforms far faster."""
    server.replies += [
        reply("responses", calls=[("call_1", "stock", '{"sku": "A1"}')]),
        reply("responses", "not json"),
        reply("responses", "3"),
    ]
    with override(
        model="openai:local", openai_api_key=KEY, openai_base_url=server.url + "/v1", openai_api="responses"
    ):
        assert ask("How many A1?", output=int, tools=[stock]) == 3
    items = sent(server)["input"]
    assert [i.get("type") for i in items] == [
        None,
        "function_call",
        "function_call_output",
        "message",
        None,
    ]
    assert [i.get("role") for i in items] == ["user", None, None, "assistant", "user"]


def test_truncated_answer_says_raise_max_tokens(server: FakeServer, api: str, use: None) -> None:
    """An answer cut off at max_tokens fails with a message that says so and names the fix."""
    cut: dict[str, Any] = (
        {"finish": "length"} if api == "chat" else {"status": "incomplete", "incomplete": "max_output_tokens"}
    )
    server.replies.append(reply(api, '{"x": 1, "y', **cut))
    with pytest.raises(CommandError) as info:
        ask("Where?", output=Point, retry=0, max_tokens=5)
    assert "max_tokens" in str(info.value) and "ALLOY_MAX_TOKENS" in str(info.value)


def test_incomplete_responses_answer_reports_length() -> None:
    """Responses ``incomplete`` at max_output_tokens becomes finish_reason "length"."""
    raw = OpenAIResponse.model_validate(
        responses_body("{", status="incomplete", incomplete="max_output_tokens")
    )
    assert _openai_responses.parse_responses(raw).finish_reason == "length"


def test_responses_answer_that_used_the_whole_cap_is_length(server: FakeServer) -> None:
    """llama-server's /v1/responses answers ``status: "completed"`` with no ``incomplete_details``
    for an answer it cut off at ``max_output_tokens`` (seen against a real server, tests/local_llm):
    an answer that used every token of the cap is reported as cut off all the same."""
    server.replies.append(reply("responses", '{"x": 1, "y', usage=(30, 5), model="local"))
    with (
        override(
            model="openai:local",
            openai_api_key=KEY,
            openai_base_url=server.url + "/v1",
            openai_api="responses",
        ),
        pytest.raises(CommandError) as info,
    ):
        ask("Where?", output=Point, retry=0, max_tokens=5)
    assert "cut off at max_tokens (5)" in str(info.value)
    completed = OpenAIResponse.model_validate(responses_body("Hello", usage=(30, 4)))
    assert _openai_responses.parse_responses(completed, max_output_tokens=5).finish_reason == "stop"
    assert _openai_responses.parse_responses(completed).finish_reason == "stop"


# --- streaming -------------------------------------------------------------------------------------


def _stream_reply(api: str, deltas: list[str]) -> Reply:
    return chat_stream(deltas) if api == "chat" else responses_stream(deltas)


def test_llama_server_responses_stream_shape(server: FakeServer) -> None:
    """The event stream of llama-server's /v1/responses (recorded in tests/local_llm): events carry
    no ``sequence_number``, ``output_index`` or ``content_index``; item and part events surround the
    deltas; ``response.completed`` holds only id, object, created_at, status, model, output, usage."""
    msg: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "What can I do"}],
    }
    head = {"id": "resp_1", "object": "response", "status": "in_progress"}
    usage = {
        "input_tokens": 32,
        "output_tokens": 4,
        "total_tokens": 36,
        "input_tokens_details": {"cached_tokens": 31},
    }
    done = {**head, "created_at": 1, "status": "completed", "model": "local", "output": [msg], "usage": usage}
    deltas = ["What", " can", " I", " do"]
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": head}),
        ("response.in_progress", {"response": head}),
        ("response.output_item.added", {"item": {**msg, "status": "in_progress", "content": []}}),
        ("response.content_part.added", {"item_id": "msg_1", "part": {"type": "output_text", "text": ""}}),
        *[("response.output_text.delta", {"item_id": "msg_1", "delta": d}) for d in deltas],
        ("response.output_text.done", {"item_id": "msg_1", "text": "What can I do"}),
        ("response.content_part.done", {"item_id": "msg_1", "part": msg["content"][0]}),
        ("response.output_item.done", {"item": msg}),
        ("response.completed", {"response": done}),
    ]
    server.replies.append(sse(*[(name, {"type": name, **data}) for name, data in events], named=True))
    with override(
        model="openai:local", openai_api_key=KEY, openai_base_url=server.url + "/v1", openai_api="responses"
    ):
        request = Request("local", (Message("user", "Say hi"),), max_tokens=4)
        *streamed, final = adapter.ADAPTER.stream(request, alloy.get_settings())
    assert streamed == deltas
    assert isinstance(final, Response)
    assert final.text == "What can I do" and final.model == "local"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (32, 4)


def test_stream_yields_deltas_in_order(server: FakeServer, api: str, use: None) -> None:
    """Streamed text arrives delta by delta, in order; joined it is the whole answer."""
    deltas = ["Hel", "lo, ", "wor", "ld."]
    server.replies.append(_stream_reply(api, deltas))
    assert list(ask.stream("Greet.")) == deltas
    body = sent(server)
    assert body["stream"] is True
    if api == "chat":
        assert body["stream_options"] == {"include_usage": True}


def test_stream_async_yields_deltas_in_order(server: FakeServer, api: str, use: None) -> None:
    """The async stream yields the same deltas in the same order."""
    deltas = ["One", " two", " three"]
    server.replies.append(_stream_reply(api, deltas))

    async def collect() -> list[str]:
        return [d async for d in ask.stream_async("Count.")]

    assert asyncio.run(collect()) == deltas


def test_stream_final_response_carries_text_and_usage(server: FakeServer, api: str, use: None) -> None:
    """The stream ends with one Response: the joined text and the usage the provider reported."""
    server.replies.append(_stream_reply(api, ["a", "b"]))
    request = Request("gpt-4.1-mini", (Message("user", "hi"),))
    items = list(adapter.ADAPTER.stream(request, alloy.get_settings()))
    assert items[:2] == ["a", "b"]
    final = items[-1]
    assert isinstance(final, adapter.Response) and final.text == "ab"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (9, 4)
    assert final.finish_reason == "stop"


def test_stream_error_event_raises_provider_error(server: FakeServer, use: None) -> None:
    """An ``error`` event inside a Responses stream ends the call with a ProviderError (a code that
    is not transient: not asked again)."""
    server.replies.append(
        sse(
            ("error", {"type": "error", "code": "invalid_prompt", "message": "boom", "sequence_number": 0}),
            named=True,
        )
    )
    with override(openai_api="responses"), pytest.raises(ProviderError, match="boom") as info:
        list(ask.stream("Greet."))
    assert not info.value.retryable and len(server.requests) == 1


# --- errors and retries ----------------------------------------------------------------------------


def test_429_with_retry_after_is_retried(server: FakeServer, api: str, use: None) -> None:
    """A 429 with Retry-After: 0 is retried and the call succeeds on the second request."""
    server.replies += [error(429, "Rate limit reached", {"retry-after": "0"}), reply(api, "ok")]
    assert ask("Hi") == "ok"
    assert len(server.requests) == 2


def test_500_twice_then_success(server: FakeServer, api: str, use: None) -> None:
    """Two server errors, then success: three requests."""
    server.replies += [error(500, "oops"), error(500, "oops"), reply(api, "ok")]
    assert ask("Hi") == "ok"
    assert len(server.requests) == 3


def test_dropped_connection_is_retried(server: FakeServer, api: str, use: None) -> None:
    """A connection dropped without an answer is retried."""
    server.replies += [Reply(drop=True), reply(api, "ok")]
    assert ask("Hi") == "ok"
    assert len(server.requests) == 2


def test_400_raises_provider_error_after_one_request(server: FakeServer, api: str, use: None) -> None:
    """A 400 is not retried: ProviderError with the status and the provider's message."""
    # (A 400 naming response_format would be a compatible server refusing json_schema: test_compatible.)
    server.replies.append(error(400, "Invalid 'messages[0].content': string too long."))
    with pytest.raises(ProviderError) as info:
        ask("Where?", output=Point)
    assert len(server.requests) == 1
    assert info.value.status_code == 400 and info.value.provider == "openai" and not info.value.retryable
    assert "Invalid 'messages[0].content'" in str(info.value)
    assert isinstance(info.value.__cause__, openai.BadRequestError)


def test_async_call_retries_the_same_way(server: FakeServer, api: str, use: None) -> None:
    """The async path retries a 503 and succeeds."""
    server.replies += [error(503, "overloaded"), reply(api, "ok")]
    assert asyncio.run(ask.async_("Hi")) == "ok"
    assert len(server.requests) == 2


def test_retry_after_headers_are_read() -> None:
    """retry-after-ms wins over retry-after; seconds and HTTP dates both work."""
    request = httpx2.Request("POST", "http://x/v1/responses")

    def err(headers: dict[str, str]) -> ProviderError:
        response = httpx2.Response(429, headers=headers, request=request)
        classified = adapter.classify(openai.RateLimitError("limit", response=response, body=None))
        assert classified is not None
        return classified

    assert err({"retry-after-ms": "1500", "retry-after": "9"}).retry_after == 1.5
    assert err({"retry-after": "2"}).retry_after == 2.0
    assert err({}).retry_after is None
    assert err({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}).retry_after == 0


def test_timeout_classifies_as_retryable_without_status() -> None:
    """A timeout is transient: status None, retryable."""
    exc = openai.APITimeoutError(request=httpx2.Request("POST", "http://x/v1/responses"))
    classified = adapter.classify(exc)
    assert classified is not None and classified.status_code is None and classified.retryable


# --- credentials and settings ----------------------------------------------------------------------


def test_missing_key_is_a_configuration_error(server: FakeServer) -> None:
    """No key: ConfigurationError naming OPENAI_API_KEY, and nothing is sent."""
    with (
        override(model="openai:gpt-4.1-mini", openai_base_url=server.url),
        pytest.raises(ConfigurationError) as info,
    ):
        ask("Hi")
    assert "OPENAI_API_KEY" in str(info.value)
    assert server.requests == []


def test_dotenv_key_and_base_url_reach_the_request(server: FakeServer) -> None:
    """A key and base URL from .env in the working directory are used by the SDK client."""
    with open(".env", "w") as f:
        f.write(f"OPENAI_API_KEY=sk-from-dotenv\nOPENAI_BASE_URL={server.url}/v1\n")
    server.replies.append(reply("chat", "ok"))
    assert ask("Hi", model="openai:gpt-4.1-mini") == "ok"
    assert server.requests[0].headers["authorization"] == "Bearer sk-from-dotenv"
    assert server.requests[0].path == CHAT


def test_key_never_in_logs_or_errors(
    server: FakeServer, api: str, use: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The API key appears in no log line (DEBUG included) and no error text."""
    caplog.set_level(logging.DEBUG)
    server.replies += [reply(api, "ok"), error(401, "Incorrect API key provided.")]
    ask("Hi")
    with pytest.raises(ProviderError) as info:
        ask("Hi")
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in caplog.text
    assert (
        KEY not in str(info.value)
        and KEY not in repr(info.value.body)
        and KEY not in repr(alloy.get_settings())
    )


@pytest.mark.parametrize(("model", "sends"), [("gpt-5-mini", False), ("o4-mini", False), ("gpt-4.1", True)])
def test_temperature_only_for_models_that_take_it(
    server: FakeServer, api: str, use: None, model: str, sends: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Reasoning models get no temperature (with a debug line); gpt-4.1 gets it."""
    caplog.set_level(logging.DEBUG, logger="alloy")
    server.replies.append(reply(api, "ok"))
    ask("Hi", model=f"openai:{model}", temperature=0.3)
    assert sent(server).get("temperature") == (0.3 if sends else None)
    assert ("temperature=0.3 dropped" in caplog.text) is not sends


def test_extra_is_passed_through(server: FakeServer, api: str, use: None) -> None:
    """``extra``: SDK parameters and a server's own fields both reach the body as given."""
    server.replies.append(reply(api, "ok"))
    ask("Hi", extra={"top_p": 0.5, "metadata": {"run": "7"}, "top_k": 40})
    body = sent(server)
    assert (body["top_p"], body["metadata"], body["top_k"]) == (0.5, {"run": "7"}, 40)


def test_native_mode_sends_non_strict_schema(caplog: pytest.LogCaptureFixture) -> None:
    """Mode "native" sends json_schema with strict false, and logs why at debug level."""
    caplog.set_level(logging.DEBUG, logger="alloy")
    schema: dict[str, Any] = {"type": "object", "properties": {"a": {}}}
    request = Request("gpt-4.1", (Message("user", "hi"),), output=OutputFormat("Loose", schema, "native"))
    assert adapter.chat_kwargs(request)["response_format"]["json_schema"]["strict"] is False
    assert _openai_responses.responses_kwargs(request)["text"]["format"]["strict"] is False
    assert "strict=false" in caplog.text


def test_prompt_mode_sends_no_format() -> None:
    """Mode "prompt" puts nothing on the wire: the system prompt carries the shape."""
    request = Request("m", (Message("user", "hi"),), output=OutputFormat("X", {"type": "object"}, "prompt"))
    assert "response_format" not in adapter.chat_kwargs(request)
    assert "text" not in _openai_responses.responses_kwargs(request)


def test_compatible_endpoint_uses_chat_and_states_the_schema(server: FakeServer) -> None:
    """A non-OpenAI base URL: Chat Completions in auto, and the schema also in the system message."""
    server.replies.append(reply("chat", '{"x": 1, "y": 2}'))
    with override(model="openai:gpt-4.1-mini", openai_base_url=server.url + "/v1", openai_api_key=KEY):
        assert ask("Where?", output=Point) == Point(1, 2)
    body = sent(server)
    assert server.requests[0].path == CHAT
    system = body["messages"][0]
    assert (
        system["role"] == "system"
        and json.dumps(body["response_format"]["json_schema"]["schema"]) in system["content"]
    )


def test_auto_api_is_responses_on_openai_itself() -> None:
    """auto: Responses API on OpenAI's own URL (or none), Chat Completions elsewhere."""
    with override(model="openai:gpt-5-mini"):
        assert adapter.api_for(alloy.get_settings()) == "responses"
        plan = ask.explain("Where?", output=Point)
        assert plan.output_mode == "native_strict" and not any("compatible" in n for n in plan.notes)
    with override(openai_base_url="https://api.openai.com/v1"):
        assert adapter.api_for(alloy.get_settings()) == "responses"
    with override(openai_base_url="http://localhost:8000/v1"):
        assert adapter.api_for(alloy.get_settings()) == "chat"
    with override(openai_base_url="http://localhost:8000/v1", openai_api="responses"):
        assert adapter.api_for(alloy.get_settings()) == "responses"


# --- client reuse ----------------------------------------------------------------------------------


def test_twenty_calls_share_one_connection(server: FakeServer, api: str, use: None) -> None:
    """Sequential calls reuse one client, so one TCP connection serves them all."""
    server.handler = lambda _rec: reply(api, "ok")
    for _ in range(20):
        ask("Hi")
    assert len(server.requests) == 20 and server.connections == 1


def test_async_calls_share_one_connection(server: FakeServer, api: str, use: None) -> None:
    """Sequential async calls on one loop reuse one async client and one connection."""
    server.handler = lambda _rec: reply(api, "ok")

    async def main() -> None:
        for _ in range(10):
            await ask.async_("Hi")

    asyncio.run(main())
    assert len(server.requests) == 10 and server.connections == 1


def test_refusal_is_returned_as_text() -> None:
    """A refusal comes back as the answer's text, so validation reports it."""
    body = chat_body(None)
    body["choices"][0]["message"]["refusal"] = "I can't help with that."
    raw = ChatCompletion.model_validate(body)
    assert adapter.parse_chat(raw).text == "I can't help with that."


def test_tool_calls_parse_from_both_apis() -> None:
    """Function calls parse to ToolCall(name, arguments, call id) from both answer shapes."""
    calls = [("call_7", "stock", '{"sku": "A1"}')]
    chat = adapter.parse_chat(ChatCompletion.model_validate(chat_body(None, calls)))
    responses = _openai_responses.parse_responses(OpenAIResponse.model_validate(responses_body(None, calls)))
    for parsed in (chat, responses):
        assert parsed.tool_calls == (ToolCall("stock", {"sku": "A1"}, "call_7"),)
        assert parsed.finish_reason == "tool_calls"

"""The Anthropic adapter, at the wire: the real ``anthropic`` SDK talks HTTP to a loopback server.

Bodies follow the Messages API as the installed SDK types it (``anthropic/types/message.py``,
``raw_message_stream_event.py``): a message is ``{"id", "type": "message", "role", "model",
"content": [blocks], "stop_reason", "stop_sequence", "usage"}``; a stream is named SSE events
(``message_start``, ``content_block_start``, ``content_block_delta``, ``content_block_stop``,
``message_delta``, ``message_stop``); an error is ``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import anthropic
import pydantic
import pytest

import alloy
from alloy import ConfigurationError, ProviderError, _drivers, ask, command, override, tool
from alloy._command import Call
from alloy._messages import Message, OutputFormat, Request, Result, ToolCall, ToolSpec
from alloy._plan import OUTPUT_TOOL
from alloy.providers import anthropic as adapter

from .server import FakeServer, Reply, sse

MODEL = "claude-sonnet-4-6"
SERVED = "claude-sonnet-4-6"
KEY = "sk-ant-test-0123456789"


def message(
    *blocks: dict[str, Any], stop_reason: str = "end_turn", input_tokens: int = 21, output_tokens: int = 7
) -> dict[str, Any]:
    """A non-streamed Messages API answer."""
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": SERVED,
        "content": list(blocks),
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def text(t: str) -> dict[str, Any]:
    return {"type": "text", "text": t}


def tool_use(id_: str, name: str, **input_: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": id_, "name": name, "input": input_}


def error(status: int, kind: str, msg: str, **headers: str) -> Reply:
    body = {
        "type": "error",
        "error": {"type": kind, "message": msg},
        "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
    }
    return Reply(status, body, headers=headers)


def streamed(
    *deltas: str, input_tokens: int = 25, output_tokens: int = 9, stop_reason: str = "end_turn"
) -> Reply:
    """A streamed text answer: one content block, one ``text_delta`` per piece."""
    start = message(input_tokens=input_tokens, output_tokens=1)
    start["stop_reason"] = None
    return sse(
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": text("")}),
        ("ping", {"type": "ping"}),
        *(
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": d}},
            )
            for d in deltas
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
        named=True,
    )


@pytest.fixture
def claude(server: FakeServer) -> Iterator[FakeServer]:
    """The fake server as the Anthropic base URL for the test, with a key; no remembered refusals."""
    adapter.ADAPTER.forget_refusals()  # a later test's server may get the same port
    with override(model=f"anthropic:{MODEL}", anthropic_base_url=server.url, anthropic_api_key=KEY):
        yield server
    adapter.ADAPTER.forget_refusals()


def sent(server: FakeServer, i: int = -1) -> dict[str, Any]:
    return server.requests[i].json


@dataclass
class Invoice:
    number: str
    total: float


class Profile(pydantic.BaseModel):
    name: str
    nickname: str | None = None
    scores: dict[str, int]


@dataclass
class Loose:
    blob: Any


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@tool
def lookup_price(item: str) -> float:
    """The net price of an item."""
    return {"widget": 10.0}[item]


@tool
def add_tax(amount: float) -> float:
    """The amount with 10% tax."""
    return round(amount * 1.1, 2)


# --- text, options, credentials ---------------------------------------------------------------------


def test_text_answer_request_and_usage(claude: FakeServer) -> None:
    """A text call posts model, max_tokens 4096, system and the user turn to /v1/messages; usage comes back."""
    claude.replies.append(Reply(200, message(text("Hello, Ada!"), input_tokens=34, output_tokens=5)))

    @command(system="Be brief.")
    def greet(name: str) -> str:
        return f"Say hello to {name}."

    result = greet.run("Ada")

    assert result.output == "Hello, Ada!"
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.requests) == (34, 5, 1)
    req = claude.requests[0]
    assert (req.method, req.path) == ("POST", "/v1/messages")
    # The SDK (2.x) sends the key as a Bearer token; a compatible endpoint also gets x-api-key.
    assert (req.headers["authorization"], req.headers["x-api-key"]) == (f"Bearer {KEY}", KEY)
    assert req.json == {
        "model": MODEL,
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello to Ada."}]}],
        # prompt_cache (on by default) marks the end of the stable prefix
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    }


def test_options_temperature_max_tokens_and_extra(claude: FakeServer) -> None:
    """temperature, max_tokens and extra (SDK keywords and unknown body keys alike) reach the body."""
    claude.replies.append(Reply(200, message(text("ok"))))

    ask("Hi", temperature=0.2, max_tokens=300, extra={"top_k": 5, "metadata": {"user_id": "u-1"}})

    body = sent(claude)
    assert (body["temperature"], body["max_tokens"], body["top_k"]) == (0.2, 300, 5)
    assert body["metadata"] == {"user_id": "u-1"}


def test_temperature_dropped_for_models_that_reject_it(claude: FakeServer) -> None:
    """Models after Opus 4.6 reject temperature, so it is not sent to them."""
    claude.replies.append(Reply(200, message(text("ok"))))

    ask("Hi", model="anthropic:claude-opus-4-7", temperature=0.2)

    assert "temperature" not in sent(claude)
    assert "temperature dropped" in str(ask.explain("Hi", model="anthropic:claude-opus-4-7", temperature=0.2))


def test_missing_key_is_configuration_error_before_any_request(server: FakeServer) -> None:
    """No key anywhere: ConfigurationError naming both variables, nothing sent."""
    with (
        override(model=f"anthropic:{MODEL}", anthropic_base_url=server.url),
        pytest.raises(ConfigurationError, match="ALLOY_ANTHROPIC_API_KEY or ANTHROPIC_API_KEY"),
    ):
        ask("Hi")
    assert server.requests == []


def test_dotenv_key_and_base_url_reach_the_request(server: FakeServer) -> None:
    """ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL from .env reach the SDK client."""
    Path(".env").write_text(f"ANTHROPIC_API_KEY=sk-ant-from-dotenv\nANTHROPIC_BASE_URL={server.url}\n")
    server.replies.append(Reply(200, message(text("ok"))))

    assert ask("Hi", model=f"anthropic:{MODEL}") == "ok"

    assert server.requests[0].headers["authorization"] == "Bearer sk-ant-from-dotenv"


def test_one_client_for_many_calls(claude: FakeServer) -> None:
    """Calls with the same settings share one SDK client and its connection."""
    claude.replies += [Reply(200, message(text("one"))), Reply(200, message(text("two")))]

    assert [ask("1"), ask("2")] == ["one", "two"]

    assert claude.connections == 1


# --- structured output ------------------------------------------------------------------------------


def _object(properties: dict[str, Any], required: list[str], **rest: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        **rest,
    }


TYPED = [
    pytest.param(
        Invoice,
        {"number": "42", "total": 99.5},
        Invoice("42", 99.5),
        _object(
            {"number": {"title": "Number", "type": "string"}, "total": {"title": "Total", "type": "number"}},
            ["number", "total"],
            title="Invoice",
        ),
        id="dataclass",
    ),
    pytest.param(
        Profile,
        {"name": "Ada", "scores": [{"key": "math", "value": 10}]},
        Profile(name="Ada", scores={"math": 10}),
        _object(
            {
                "name": {"title": "Name", "type": "string"},
                "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Nickname"},
                "scores": {
                    "type": "array",
                    "items": _object(
                        {"key": {"type": "string"}, "value": {"type": "integer"}}, ["key", "value"]
                    ),
                    "title": "Scores",
                },
            },
            ["name", "scores"],
            title="Profile",
        ),
        id="pydantic-optional-dict",
    ),
    pytest.param(
        list[int],
        {"value": [1, 2, 3]},
        [1, 2, 3],
        _object({"value": {"type": "array", "items": {"type": "integer"}}}, ["value"]),
        id="list-int",
    ),
    pytest.param(
        Literal["yes", "no"],
        {"value": "no"},
        "no",
        _object({"value": {"enum": ["yes", "no"], "type": "string"}}, ["value"]),
        id="literal",
    ),
    pytest.param(
        Color,
        {"value": "green"},
        Color.GREEN,
        _object({"value": {"enum": ["red", "green"], "title": "Color", "type": "string"}}, ["value"]),
        id="enum",
    ),
]


@pytest.mark.parametrize(("output", "answer", "expected", "schema"), TYPED)
def test_typed_output_through_output_config(
    claude: FakeServer, output: Any, answer: Any, expected: Any, schema: dict[str, Any]
) -> None:
    """A typed output sends output_config.format with the anthropic-dialect schema and decodes the answer."""
    claude.replies.append(Reply(200, message(text(json.dumps(answer)))))

    assert ask("Extract.", output=output) == expected

    body = sent(claude)
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "tools" not in body


def test_typed_output_async(claude: FakeServer) -> None:
    """The async path sends the same output_config and validates the answer."""
    claude.replies.append(Reply(200, message(text('{"number": "7", "total": 1.5}'))))

    assert asyncio.run(ask.async_("Extract.", output=Invoice)) == Invoice("7", 1.5)
    assert sent(claude)["output_config"]["format"]["type"] == "json_schema"


def test_output_config_refused_falls_back_to_forced_tool_once(claude: FakeServer) -> None:
    """A 400 refusing output_config re-plans with a forced tool; the next call goes straight to the tool."""
    claude.replies += [
        error(400, "invalid_request_error", "output_config.format: Extra inputs are not permitted"),
        Reply(
            200, message(tool_use("toolu_01", OUTPUT_TOOL, number="42", total=99.5), stop_reason="tool_use")
        ),
        Reply(
            200, message(tool_use("toolu_02", OUTPUT_TOOL, number="43", total=1.0), stop_reason="tool_use")
        ),
    ]

    assert ask("Extract.", output=Invoice) == Invoice("42", 99.5)

    assert "output_config" in sent(claude, 0)
    retried = sent(claude, 1)
    assert "output_config" not in retried
    assert [t["name"] for t in retried["tools"]] == [OUTPUT_TOOL]
    assert retried["tools"][0]["input_schema"]["properties"]["number"] == {
        "title": "Number",
        "type": "string",
    }
    assert retried["tool_choice"] == {"type": "tool", "name": OUTPUT_TOOL}

    assert ask("Extract.", output=Invoice) == Invoice("43", 1.0)
    assert len(claude.requests) == 3
    assert sent(claude)["tool_choice"] == {"type": "tool", "name": OUTPUT_TOOL}
    assert ask.explain("Extract.", output=Invoice).output_mode == "tool"


def test_fallback_is_per_endpoint(claude: FakeServer) -> None:
    """A model that refused output_config at one base URL still gets it at another."""
    claude.replies += [
        error(400, "invalid_request_error", "'x' does not support output format"),
        Reply(200, message(tool_use("toolu_01", OUTPUT_TOOL, number="1", total=1.0), stop_reason="tool_use")),
    ]
    ask("Extract.", output=Invoice)

    assert ask.explain("Extract.", output=Invoice).output_mode == "tool"
    assert (
        ask.explain("Extract.", output=Invoice, anthropic_base_url="http://127.0.0.1:9").output_mode
        == "native_strict"
    )


def test_older_model_uses_forced_tool_from_the_start(claude: FakeServer) -> None:
    """A model before the 4.5 generation has no output_config: one request, with the forced tool."""
    claude.replies.append(
        Reply(
            200, message(tool_use("toolu_01", OUTPUT_TOOL, number="42", total=99.5), stop_reason="tool_use")
        )
    )

    assert ask("Extract.", output=Invoice, model="anthropic:claude-3-5-haiku-20241022") == Invoice("42", 99.5)

    assert len(claude.requests) == 1
    assert "output_config" not in sent(claude)
    assert sent(claude)["tool_choice"] == {"type": "tool", "name": OUTPUT_TOOL}


def test_type_without_strict_schema_uses_forced_tool(claude: FakeServer) -> None:
    """A type the anthropic dialect cannot express strictly (an Any field) goes through the forced tool."""
    claude.replies.append(
        Reply(
            200, message(tool_use("toolu_01", OUTPUT_TOOL, blob={"free": ["form"]}), stop_reason="tool_use")
        )
    )

    assert ask("Extract.", output=Loose) == Loose({"free": ["form"]})

    body = sent(claude)
    assert "output_config" not in body
    assert body["tools"][0]["input_schema"]["properties"] == {"blob": {"title": "Blob"}}


def test_forced_tool_with_user_tools_requires_any_tool(claude: FakeServer) -> None:
    """In tool mode with the user's tools, tool_choice is {"type": "any"} until the answer tool is called."""
    model = "anthropic:claude-3-5-haiku-20241022"
    claude.replies += [
        Reply(200, message(tool_use("toolu_01", "lookup_price", item="widget"), stop_reason="tool_use")),
        Reply(
            200, message(tool_use("toolu_02", OUTPUT_TOOL, number="1", total=10.0), stop_reason="tool_use")
        ),
    ]

    assert ask("Quote a widget.", output=Invoice, tools=[lookup_price], model=model) == Invoice("1", 10.0)

    assert sent(claude, 0)["tool_choice"] == {"type": "any"}
    assert [t["name"] for t in sent(claude, 0)["tools"]] == ["lookup_price", OUTPUT_TOOL]
    assert len(claude.requests) == 2


def test_other_bad_request_is_not_a_fallback(claude: FakeServer) -> None:
    """A 400 about something else is a ProviderError after one request; native output stays on."""
    claude.replies.append(
        error(400, "invalid_request_error", "messages: text content blocks must be non-empty")
    )

    with pytest.raises(ProviderError) as info:
        ask("Extract.", output=Invoice)

    assert (info.value.status_code, info.value.retryable) == (400, False)
    assert "text content blocks must be non-empty" in str(info.value)
    assert len(claude.requests) == 1
    assert ask.explain("Extract.", output=Invoice).output_mode == "native_strict"


def test_reask_after_invalid_answer(claude: FakeServer) -> None:
    """An answer that fails validation goes back as the assistant turn, followed by the error text."""
    claude.replies += [
        Reply(200, message(text('{"number": "42", "total": "lots"}'))),
        Reply(200, message(text('{"number": "42", "total": 99.5}'))),
    ]

    @command(output=Invoice)
    def extract() -> str:
        return "Extract."

    result = extract.run()

    assert result.output == Invoice("42", 99.5)
    assert result.attempts == 2
    turns = sent(claude)["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"] == [text('{"number": "42", "total": "lots"}')]
    assert "total" in turns[2]["content"][0]["text"]


def test_max_tokens_truncation_is_reported_as_length() -> None:
    """stop_reason max_tokens becomes finish_reason "length" (truncation), in both parse paths."""
    body = message(text('{"number": "4'), stop_reason="max_tokens")

    assert adapter.parse_response(anthropic.types.Message.model_validate(body)).finish_reason == "length"
    state = adapter.StreamState()
    state.feed(
        anthropic.types.RawMessageDeltaEvent.model_validate(
            {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 9}}
        )
    )
    state.feed(anthropic.types.RawMessageStopEvent.model_validate({"type": "message_stop"}))
    assert state.response().finish_reason == "length"


def test_truncated_answer_error_says_max_tokens(claude: FakeServer) -> None:
    """A typed answer cut off by max_tokens fails with an error that names max_tokens as the cause."""
    claude.replies.append(Reply(200, message(text('{"number": "4'), stop_reason="max_tokens")))

    with pytest.raises(alloy.CommandError, match="cut off at max_tokens"):
        ask("Extract.", output=Invoice, max_tokens=5, retry=0)
    assert sent(claude)["max_tokens"] == 5


def test_refusal_is_a_clear_error(claude: FakeServer) -> None:
    """stop_reason "refusal" raises a ProviderError saying the model refused, after one request."""
    claude.replies.append(Reply(200, message(text("I can't help with that."), stop_reason="refusal")))

    with pytest.raises(ProviderError, match="refused to answer"):
        ask("Something bad.")
    assert len(claude.requests) == 1


# --- tools ------------------------------------------------------------------------------------------


def test_tool_round_trip_with_error_marked(claude: FakeServer) -> None:
    """tool_use blocks run the tool; a failing tool's result goes back with is_error: true."""
    claude.replies += [
        Reply(
            200,
            message(
                text("Let me look."),
                tool_use("toolu_01", "lookup_price", item="gadget"),
                stop_reason="tool_use",
            ),
        ),
        Reply(200, message(tool_use("toolu_02", "lookup_price", item="widget"), stop_reason="tool_use")),
        Reply(200, message(text("A widget costs 10.0."))),
    ]

    assert ask("Price of a widget?", tools=[lookup_price]) == "A widget costs 10.0."

    first = sent(claude, 0)
    assert first["tools"][0]["name"] == "lookup_price"
    assert first["tools"][0]["description"] == "The net price of an item."
    assert first["tools"][0]["input_schema"]["properties"]["item"]["type"] == "string"
    assert first["tool_choice"] == {"type": "auto"}
    turns = sent(claude, 1)["messages"]
    assert turns[1] == {
        "role": "assistant",
        "content": [text("Let me look."), tool_use("toolu_01", "lookup_price", item="gadget")],
    }
    (result,) = turns[2]["content"]
    assert (result["type"], result["tool_use_id"], result["is_error"]) == ("tool_result", "toolu_01", True)
    assert "gadget" in result["content"]
    ok = sent(claude, 2)["messages"][4]["content"][0]
    assert ok == {"type": "tool_result", "tool_use_id": "toolu_02", "content": "10.0"}


def test_parallel_tool_use_results_in_one_user_message(claude: FakeServer) -> None:
    """Two tool_use blocks in one turn: both results go back in ONE user message, in order (sync and async)."""
    for run in (
        lambda: ask("Go.", tools=[lookup_price, add_tax]),
        lambda: asyncio.run(ask.async_("Go.", tools=[lookup_price, add_tax])),
    ):
        claude.requests.clear()
        claude.replies += [
            Reply(
                200,
                message(
                    tool_use("toolu_a", "lookup_price", item="widget"),
                    tool_use("toolu_b", "add_tax", amount=10.0),
                    stop_reason="tool_use",
                ),
            ),
            Reply(200, message(text("11.0 with tax."))),
        ]

        assert run() == "11.0 with tax."

        last = sent(claude)["messages"]
        assert [t["role"] for t in last] == ["user", "assistant", "user"]
        assert [(b["tool_use_id"], b["content"]) for b in last[2]["content"]] == [
            ("toolu_a", "10.0"),
            ("toolu_b", "11.0"),
        ]


# --- streaming --------------------------------------------------------------------------------------


def _stream_run(stream_async: bool) -> tuple[list[str], Result[Any]]:
    """Stream through the drivers, which also hand back the Result (usage) that .stream() hides."""
    call: Call[str] = Call(str)
    if not stream_async:
        items: list[Any] = list(
            _drivers.run(call.plan, (Message("user", "Tell me."),), name="ask", stream=True)
        )
    else:

        async def collect() -> list[Any]:
            return [
                i
                async for i in _drivers.arun(
                    call.plan, (Message("user", "Tell me."),), name="ask", stream=True
                )
            ]

        items = asyncio.run(collect())
    *deltas, result = items
    assert isinstance(result, Result)
    return [d for d in deltas if isinstance(d, str)], cast("Result[Any]", result)


@pytest.mark.parametrize("stream_async", [False, True], ids=["sync", "async"])
def test_streaming_deltas_and_usage(claude: FakeServer, stream_async: bool) -> None:
    """Text deltas arrive in order, join to the answer, and usage comes from message_start/message_delta."""
    claude.replies.append(streamed("Once ", "upon ", "a time.", input_tokens=25, output_tokens=9))

    deltas, result = _stream_run(stream_async)

    assert deltas == ["Once ", "upon ", "a time."]
    assert result.output == "Once upon a time."
    assert (result.usage.input_tokens, result.usage.output_tokens) == (25, 9)
    assert sent(claude)["stream"] is True


def test_public_stream_and_stream_async(claude: FakeServer) -> None:
    """ask.stream and ask.stream_async yield the deltas."""
    claude.replies += [streamed("Hel", "lo"), streamed("Hel", "lo")]

    async def collect() -> list[str]:
        return [d async for d in ask.stream_async("Hi")]

    assert list(ask.stream("Hi")) == ["Hel", "lo"]
    assert asyncio.run(collect()) == ["Hel", "lo"]


def test_stream_error_event_before_text_is_retried(claude: FakeServer) -> None:
    """An overloaded_error event in a 200 stream, before any text, is retried like a 529."""
    start = message()
    start["stop_reason"] = None
    claude.replies += [
        sse(
            ("message_start", {"type": "message_start", "message": start}),
            ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            named=True,
        ),
        streamed("fine"),
    ]

    assert list(ask.stream("Hi")) == ["fine"]
    assert len(claude.requests) == 2


# --- errors and retries -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        error(529, "overloaded_error", "Overloaded"),
        error(
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
            **{"retry-after": "0"},
        ),
        error(500, "api_error", "Internal server error"),
        Reply(drop=True),
    ],
    ids=["529", "429", "500", "dropped"],
)
def test_transient_errors_are_retried(claude: FakeServer, failure: Reply) -> None:
    """529 overloaded, 429 (Retry-After), 500 and a dropped connection: retried, success on the 2nd request."""
    claude.replies += [failure, Reply(200, message(text("ok")))]

    assert ask("Hi") == "ok"
    assert len(claude.requests) == 2


def test_transient_error_retried_async(claude: FakeServer) -> None:
    """The async path retries a 529 the same way."""
    claude.replies += [error(529, "overloaded_error", "Overloaded"), Reply(200, message(text("ok")))]

    assert asyncio.run(ask.async_("Hi")) == "ok"
    assert len(claude.requests) == 2


def test_unauthorized_is_provider_error_after_one_request(
    claude: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    """401: ProviderError naming the key variables, one request, and the key in no log line or message."""
    claude.replies.append(error(401, "authentication_error", "invalid x-api-key"))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ProviderError) as info:
        ask("Hi")

    err = info.value
    assert (err.provider, err.status_code, err.retryable) == ("anthropic", 401, False)
    assert "invalid x-api-key" in str(err)
    assert "ANTHROPIC_API_KEY" in str(err)
    assert isinstance(err.__cause__, anthropic.AuthenticationError)
    assert len(claude.requests) == 1
    assert KEY not in caplog.text
    assert KEY not in str(err) + repr(err) + repr(alloy.get_settings())


def test_not_found_model(claude: FakeServer) -> None:
    """404 (an unknown model) is not retried and says to check the model name."""
    claude.replies.append(error(404, "not_found_error", "model: claude-nope"))

    with pytest.raises(ProviderError, match="model name") as info:
        ask("Hi", model="anthropic:claude-nope")
    assert info.value.status_code == 404
    assert len(claude.requests) == 1


def test_llama_server_usage_counts_cached_input(claude: FakeServer) -> None:
    """llama-server's /v1/messages (recorded in tests/local_llm) reports the cached prompt apart:
    ``{"cache_read_input_tokens": 31, "input_tokens": 1}``; both are input tokens."""
    answer = message(text("Hello there."))
    answer["usage"] = {"cache_read_input_tokens": 31, "input_tokens": 1, "output_tokens": 4}
    claude.replies.append(Reply(200, answer))
    result = ask_run("Say hi")
    assert (result.usage.input_tokens, result.usage.output_tokens) == (32, 4)


def test_openai_shaped_error_body_from_a_compatible_server(claude: FakeServer) -> None:
    """llama-server answers /v1/messages errors in OpenAI's shape, without ``"type": "error"``
    (recorded in tests/local_llm): still a clear, non-retried ProviderError."""
    body = {
        "error": {
            "code": 400,
            "message": "request (20031 tokens) exceeds the available context size (8192 tokens), try increasing it",
            "type": "exceed_context_size_error",
            "n_prompt_tokens": 20031,
            "n_ctx": 8192,
        }
    }
    claude.replies.append(Reply(400, body))
    with pytest.raises(ProviderError, match="exceeds the available context size") as info:
        ask("word " * 50)
    assert info.value.status_code == 400 and not info.value.retryable
    assert len(claude.requests) == 1


def ask_run(prompt: str) -> Result[str]:
    """``ask`` with the whole ``Result`` (usage included)."""

    @command
    def say() -> str:
        return prompt

    return say.run()


# --- pure translation -------------------------------------------------------------------------------


def test_wire_messages_merge_turns_and_skip_empty_text() -> None:
    """Consecutive tool results and a following user text share one user turn; empty text is dropped."""
    turns = adapter.wire_messages(
        [
            Message("user", "Go."),
            Message("assistant", "", tool_calls=(ToolCall("f", {"x": 1}, "t1"), ToolCall("g", {}, "t2"))),
            Message("tool", "1", tool_call_id="t1", name="f"),
            Message("tool", "Error: boom", tool_call_id="t2", name="g", is_error=True),
            Message("user", "Now answer."),
        ]
    )

    assert turns == [
        {"role": "user", "content": [text("Go.")]},
        {"role": "assistant", "content": [tool_use("t1", "f", x=1), tool_use("t2", "g")]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "1"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "Error: boom", "is_error": True},
                text("Now answer."),
            ],
        },
    ]


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ("f", {"type": "tool", "name": "f"}),
    ],
)
def test_tool_choice_mapping(choice: str, wire: dict[str, str]) -> None:
    """Neutral tool_choice values map to the Messages API's tool_choice objects."""
    spec = ToolSpec("f", "F.", {"type": "object", "properties": {}}, strict=True)
    kwargs = adapter.build_request(
        Request(MODEL, (Message("user", "x"),), tools=(spec,), tool_choice=choice), alloy.get_settings()
    )

    assert kwargs["tool_choice"] == wire
    assert kwargs["tools"] == [
        {"name": "f", "description": "F.", "input_schema": spec.parameters, "strict": True}
    ]


def test_build_request_prompt_mode_sends_no_output_config() -> None:
    """Only the native modes use output_config; without tools no tool_choice is sent."""
    out = OutputFormat("Invoice", {"type": "object"}, "prompt")
    kwargs = adapter.build_request(Request(MODEL, (Message("user", "x"),), output=out), alloy.get_settings())

    assert "output_config" not in kwargs
    assert "tool_choice" not in kwargs


def test_streamed_tool_use_is_assembled() -> None:
    """input_json_delta pieces join into the tool call's arguments; malformed JSON is kept raw."""
    state = adapter.StreamState()
    events: list[dict[str, Any]] = [
        {"type": "content_block_start", "index": 0, "content_block": tool_use("t1", "f")},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"x": '},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": "1}"},
        },
        {"type": "content_block_start", "index": 1, "content_block": tool_use("t2", "g")},
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"y'},
        },
        {"type": "message_stop"},
    ]
    for e in events:
        state.feed(pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent).validate_python(e))

    assert state.response().tool_calls == (
        ToolCall("f", {"x": 1}, "t1"),
        ToolCall("g", {"__raw__": '{"y'}, "t2"),
    )


@pytest.mark.parametrize(
    ("model", "compatible", "accepts"),
    [
        ("claude-sonnet-4-20250514", False, True),
        ("claude-3-5-haiku-20241022", False, True),
        ("claude-haiku-4-5", False, True),
        ("claude-opus-4-6", False, True),
        ("claude-opus-4-7", False, False),
        ("claude-sonnet-5", False, False),
        ("claude-fable-5-2", False, False),
        ("claude-mythos-preview", False, False),
        ("glm-4.6", True, True),
    ],
)
def test_accepts_temperature(model: str, compatible: bool, accepts: bool) -> None:
    """temperature is deprecated for Claude models after Opus 4.6; other vendors' models get it."""
    assert adapter.accepts_temperature(model, compatible=compatible) is accepts


@pytest.mark.parametrize(
    ("model", "native"),
    [
        ("claude-3-7-sonnet-20250219", False),
        ("claude-opus-4-1-20250805", False),
        ("claude-haiku-4-5-20251001", True),
        ("claude-sonnet-4-6", True),
        ("claude-opus-5", True),
        ("some-proxy-model", True),
    ],
)
def test_native_output_by_generation(model: str, native: bool) -> None:
    """output_config is tried from the 4.5 generation on, and for names without a version."""
    assert adapter.native_output(model) is native

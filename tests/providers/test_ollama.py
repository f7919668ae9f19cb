"""The Ollama adapter, at the wire: the real ``ollama`` client talks HTTP to a loopback server.

Request and response bodies follow Ollama's documented ``/api/chat`` shapes (docs/api.md of
ollama/ollama): non-streamed answers are one JSON object, streamed ones NDJSON chunks whose last
one (``"done": true``) carries ``done_reason``, ``prompt_eval_count`` and ``eval_count``. Errors are
``{"error": "..."}`` with the HTTP status Ollama's ``handleScheduleError`` uses.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import ollama
import pydantic
import pytest

import alloy
from alloy import ConfigurationError, ProviderError, command, override, tool
from alloy._messages import Message, OutputFormat, Request, ToolSpec
from alloy.providers import ollama as adapter

from .server import FakeServer, Reply, ndjson

MODEL = "llama3.2"
CREATED = "2024-12-06T00:46:58.265747Z"
NO_TOOLS = f"registry.ollama.ai/library/{MODEL}:latest does not support tools"


def chat(
    content: str = "",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    done_reason: str = "stop",
    prompt_tokens: int = 26,
    output_tokens: int = 12,
) -> dict[str, Any]:
    """A non-streamed ``/api/chat`` answer, as Ollama sends it."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {
        "model": MODEL,
        "created_at": CREATED,
        "message": message,
        "done_reason": done_reason,
        "done": True,
        "total_duration": 2254970291,
        "load_duration": 574751416,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": 1502000000,
        "eval_count": output_tokens,
        "eval_duration": 175000000,
    }


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"function": {"name": name, "arguments": arguments}}


def chunks(*deltas: str, prompt_tokens: int = 26, output_tokens: int = 3) -> Reply:
    """A streamed answer: one NDJSON chunk per delta, then the final chunk with the counts."""
    parts: list[dict[str, Any]] = [
        {"model": MODEL, "created_at": CREATED, "message": {"role": "assistant", "content": d}, "done": False}
        for d in deltas
    ]
    final = chat("", prompt_tokens=prompt_tokens, output_tokens=output_tokens)
    return ndjson(*parts, final)


@pytest.fixture
def ollama_server(server: FakeServer) -> Iterator[FakeServer]:
    """The fake server as the Ollama host for the test."""
    with override(model=f"ollama:{MODEL}", ollama_host=server.url):
        yield server


@dataclass
class Invoice:
    number: str
    total: float


class Person(pydantic.BaseModel):
    name: str
    age: int


@dataclass
class Quote:
    item: str
    total: float


@tool
def lookup_price(item: str) -> float:
    """The net price of an item."""
    return {"widget": 10.0}[item]


@tool
def add_tax(amount: float) -> float:
    """The amount with 10% tax."""
    return round(amount * 1.1, 2)


# --- text, usage, options -------------------------------------------------------------------------


def test_text_answer_request_and_usage(ollama_server: FakeServer) -> None:
    """A text call posts the system and user messages to /api/chat and reports Ollama's token counts."""
    ollama_server.replies.append(Reply(200, chat("Hello!", prompt_tokens=34, output_tokens=5)))

    @command(system="Be brief.")
    def greet(name: str) -> str:
        return f"Say hello to {name}."

    result = greet.run("Ada")

    assert result.output == "Hello!"
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.requests) == (34, 5, 1)
    sent = ollama_server.requests[0]
    assert (sent.method, sent.path) == ("POST", "/api/chat")
    assert sent.json == {
        "model": MODEL,
        "stream": False,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hello to Ada."},
        ],
        "tools": [],
    }


def test_options_mapping(ollama_server: FakeServer) -> None:
    """temperature goes to options.temperature and max_tokens to options.num_predict."""
    ollama_server.replies.append(Reply(200, chat("ok")))

    alloy.ask("hi", temperature=0.2, max_tokens=64)

    assert ollama_server.requests[0].json["options"] == {"temperature": 0.2, "num_predict": 64}


def test_extra_passthrough(ollama_server: FakeServer) -> None:
    """extra: chat() keywords (keep_alive) go top-level; options merge; other keys become model options."""
    ollama_server.replies.append(Reply(200, chat("ok")))

    alloy.ask("hi", max_tokens=8, extra={"keep_alive": "10m", "num_ctx": 8192, "options": {"seed": 7}})

    body = ollama_server.requests[0].json
    assert body["keep_alive"] == "10m"
    assert body["options"] == {"num_predict": 8, "num_ctx": 8192, "seed": 7}


def test_host_and_model_from_dotenv(server: FakeServer) -> None:
    """OLLAMA_HOST and ALLOY_MODEL in .env reach the client: the request lands on that host."""
    server.replies.append(Reply(200, chat("from .env")))
    with open(".env", "w") as f:  # the test runs in a fresh temporary working directory
        f.write(f"ALLOY_MODEL=ollama:{MODEL}\nOLLAMA_HOST={server.url}\n")

    assert alloy.ask("hi") == "from .env"
    assert server.requests[0].json["model"] == MODEL


def test_client_is_reused(ollama_server: FakeServer) -> None:
    """Two calls share one cached client and so one keep-alive connection."""
    ollama_server.replies += [Reply(200, chat("one")), Reply(200, chat("two"))]

    assert alloy.ask("1") == "one"
    assert alloy.ask("2") == "two"

    assert ollama_server.connections == 1


# --- typed outputs through format -----------------------------------------------------------------


def test_dataclass_output(ollama_server: FakeServer) -> None:
    """A dataclass output sends its JSON schema as format and validates the JSON answer."""
    ollama_server.replies.append(Reply(200, chat('{"number": "42", "total": 99.5}')))

    assert alloy.ask("Invoice #42, $99.50", output=Invoice) == Invoice("42", 99.5)
    assert ollama_server.requests[0].json["format"] == {
        "type": "object",
        "title": "Invoice",
        "properties": {
            "number": {"type": "string", "title": "Number"},
            "total": {"type": "number", "title": "Total"},
        },
        "required": ["number", "total"],
    }


def test_pydantic_output(ollama_server: FakeServer) -> None:
    """A pydantic model output sends the model's schema as format."""
    ollama_server.replies.append(Reply(200, chat('{"name": "Ada", "age": 36}')))

    assert alloy.ask("Ada, 36", output=Person) == Person(name="Ada", age=36)
    assert ollama_server.requests[0].json["format"] == {
        "type": "object",
        "title": "Person",
        "properties": {
            "name": {"type": "string", "title": "Name"},
            "age": {"type": "integer", "title": "Age"},
        },
        "required": ["name", "age"],
    }


def test_list_output_is_wrapped(ollama_server: FakeServer) -> None:
    """list[int] travels wrapped as {"value": [...]} and comes back a list."""
    ollama_server.replies.append(Reply(200, chat('{"value": [1, 2, 3]}')))

    assert alloy.ask("1 to 3", output=list[int]) == [1, 2, 3]
    assert ollama_server.requests[0].json["format"] == {
        "type": "object",
        "properties": {"value": {"type": "array", "items": {"type": "integer"}}},
        "required": ["value"],
    }


def test_literal_output(ollama_server: FakeServer) -> None:
    """A Literal output is an enum under "value" in format."""
    ollama_server.replies.append(Reply(200, chat('{"value": "no"}')))

    assert alloy.ask("Is water dry?", output=Literal["yes", "no"]) == "no"
    assert ollama_server.requests[0].json["format"] == {
        "type": "object",
        "properties": {"value": {"type": "string", "enum": ["yes", "no"]}},
        "required": ["value"],
    }


def test_async_structured_output(ollama_server: FakeServer) -> None:
    """ask.async_ goes through the AsyncClient with the same request."""
    ollama_server.replies.append(Reply(200, chat('{"number": "7", "total": 1.5}')))

    assert asyncio.run(alloy.ask.async_("Invoice 7", output=Invoice)) == Invoice("7", 1.5)
    assert ollama_server.requests[0].json["format"]["title"] == "Invoice"
    assert ollama_server.requests[0].json["stream"] is False


# --- native tools ---------------------------------------------------------------------------------


def test_native_tool_round_trip(ollama_server: FakeServer) -> None:
    """A tool call (arguments as an object) runs; its result goes back as a role "tool" message."""
    ollama_server.replies += [
        Reply(200, chat(tool_calls=[call("lookup_price", item="widget")])),
        Reply(200, chat('{"item": "widget", "total": 10.0}')),
    ]

    result = alloy.ask("Price of a widget?", output=Quote, tools=[lookup_price])

    assert result == Quote("widget", 10.0)
    first, second = (r.json for r in ollama_server.requests)
    assert first["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup_price",
                "description": "The net price of an item.",
                "parameters": {
                    "type": "object",
                    "properties": {"item": {"type": "string"}},
                    "required": ["item"],
                },
            },
        }
    ]
    assert second["messages"][1:] == [
        {"role": "assistant", "tool_calls": [call("lookup_price", item="widget")]},
        {"role": "tool", "content": "10.0", "tool_name": "lookup_price"},
    ]


def test_two_tool_calls_in_one_turn_return_in_order(ollama_server: FakeServer) -> None:
    """Two tool calls in one message both run; their results go back in call order."""
    ollama_server.replies += [
        Reply(
            200, chat(tool_calls=[call("lookup_price", item="widget"), call("lookup_price", item="gadget")])
        ),
        Reply(200, chat('{"item": "both", "total": 20.0}')),
    ]

    assert alloy.ask("Price of both?", output=Quote, tools=[lookup_price]) == Quote("both", 20.0)
    second = ollama_server.requests[1].json
    assert [m["role"] for m in second["messages"][-2:]] == ["tool", "tool"]
    assert [m["tool_name"] for m in second["messages"][-2:]] == ["lookup_price", "lookup_price"]
    widget, gadget = (m["content"] for m in second["messages"][-2:])
    assert widget == "10.0" and gadget.startswith("Error:") and "KeyError" in gadget  # no gadget price


def test_tool_schema_survives_the_sdk(ollama_server: FakeServer) -> None:
    """A parameter the SDK's Tool model would cut to {} keeps its type and schema in its description."""
    ollama_server.replies.append(Reply(200, chat("done")))

    def scale(factor: int | None = None, *, unit: Literal["m", "cm"] = "m") -> str:
        """Scale something."""
        return "ok"

    alloy.ask("scale", tools=[scale])

    params = ollama_server.requests[0].json["tools"][0]["function"]["parameters"]
    assert params["properties"] == {
        "factor": {
            "description": 'JSON schema: {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": null}'
        },
        "unit": {"type": "string", "enum": ["m", "cm"], "description": 'JSON schema: {"default": "m"}'},
    }


# --- ReAct fallback -------------------------------------------------------------------------------


def step(action: str, action_input: Any, thought: str = "...") -> dict[str, Any]:
    """A ReAct turn: the step object as the message text (format constrains it to the step schema)."""
    return chat(json.dumps({"thought": thought, "action": action, "action_input": action_input}))


def test_react_fallback_after_does_not_support_tools(ollama_server: FakeServer) -> None:
    """After "does not support tools" the call is re-planned as ReAct and a two-tool chain completes."""
    ollama_server.replies += [
        Reply(400, {"error": NO_TOOLS}),
        Reply(200, step("lookup_price", {"item": "widget"})),
        Reply(200, step("add_tax", {"amount": 10.0})),
        Reply(200, step("final_answer", {"item": "widget", "total": 11.0})),
    ]

    result = alloy.ask("Price of a widget with tax?", output=Quote, tools=[lookup_price, add_tax])

    assert result == Quote("widget", 11.0)
    bodies = [r.json for r in ollama_server.requests]
    assert len(bodies) == 4
    assert [t["function"]["name"] for t in bodies[0]["tools"]] == ["lookup_price", "add_tax"]
    assert all(b["tools"] == [] for b in bodies[1:])
    plan = alloy.ask.explain("x", output=Quote, tools=[lookup_price, add_tax])
    assert plan.tool_mode == "react"
    assert all(b["format"] == plan.schema for b in bodies[1:])
    assert bodies[2]["messages"][-1] == {"role": "user", "content": "Observation: 10.0"}
    assert bodies[3]["messages"][-1] == {"role": "user", "content": "Observation: 11.0"}


def test_react_fallback_is_remembered(ollama_server: FakeServer) -> None:
    """Once a model refused tools, later calls go straight to ReAct: no tools, step schema in format."""
    ollama_server.replies += [
        Reply(400, {"error": NO_TOOLS}),
        Reply(200, step("final_answer", {"item": "widget", "total": 10.0})),
        Reply(200, step("final_answer", {"item": "gadget", "total": 5.0})),
    ]
    alloy.ask("first", output=Quote, tools=[lookup_price])
    assert len(ollama_server.requests) == 2

    assert alloy.ask("second", output=Quote, tools=[lookup_price]) == Quote("gadget", 5.0)

    body = ollama_server.requests[2].json
    assert len(ollama_server.requests) == 3
    assert body["tools"] == []
    system = body["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("You can use these tools:\n- lookup_price: The net price of an item.")
    assert '"action": "final_answer"' in system["content"]
    assert set(body["format"]["properties"]) == {"thought", "action", "action_input"}
    assert body["format"]["properties"]["action"] == {
        "type": "string",
        "enum": ["lookup_price", "final_answer"],
    }


def test_react_fallback_async(ollama_server: FakeServer) -> None:
    """The async driver re-plans the same way after "does not support tools"."""
    ollama_server.replies += [
        Reply(400, {"error": NO_TOOLS}),
        Reply(200, step("lookup_price", {"item": "widget"})),
        Reply(200, step("final_answer", {"item": "widget", "total": 10.0})),
    ]

    result = asyncio.run(alloy.ask.async_("Price?", output=Quote, tools=[lookup_price]))

    assert result == Quote("widget", 10.0)
    assert [bool(r.json["tools"]) for r in ollama_server.requests] == [True, False, False]


def test_native_tool_mode_on_a_model_without_tools_fails(ollama_server: FakeServer) -> None:
    """With tool_mode="native" the refusal cannot be routed around: a ProviderError says what to do."""
    ollama_server.handler = lambda _: Reply(400, {"error": NO_TOOLS})

    with pytest.raises(ProviderError, match="does not support tools") as info:
        alloy.ask("x", tools=[lookup_price], tool_mode="native")

    assert info.value.status_code == 400
    assert "tool_mode='auto'" in str(info.value)


# --- streaming ------------------------------------------------------------------------------------


def test_stream_sync(ollama_server: FakeServer) -> None:
    """ask.stream yields the NDJSON deltas in order; the request asks for a stream."""
    ollama_server.replies.append(chunks("The", " sky", " is blue."))

    assert list(alloy.ask.stream("Why is the sky blue?")) == ["The", " sky", " is blue."]
    assert ollama_server.requests[0].json["stream"] is True


def test_stream_async(ollama_server: FakeServer) -> None:
    """An async command's stream yields the same NDJSON deltas through the AsyncClient."""
    ollama_server.replies.append(chunks("Hel", "lo"))

    @command
    async def hello() -> str:
        return "Say hello."

    async def collect() -> list[str]:
        return [d async for d in hello.stream()]

    assert asyncio.run(collect()) == ["Hel", "lo"]
    assert ollama_server.requests[0].json["stream"] is True


def test_error_line_inside_a_stream(ollama_server: FakeServer) -> None:
    """An {"error": ...} line after text has streamed is a ProviderError and is not retried."""
    ollama_server.replies.append(
        ndjson(
            {
                "model": MODEL,
                "created_at": CREATED,
                "message": {"role": "assistant", "content": "Par"},
                "done": False,
            },
            {"error": "an error was encountered while running the model"},
        )
    )
    seen: list[str] = []

    with pytest.raises(ProviderError, match="error was encountered"):
        seen.extend(alloy.ask.stream("x"))

    assert seen == ["Par"]
    assert len(ollama_server.requests) == 1


# --- errors and retries ---------------------------------------------------------------------------


def test_500_then_success_is_retried(ollama_server: FakeServer) -> None:
    """A 500 is transient: the request is repeated and the call succeeds after 2 requests."""
    ollama_server.replies += [
        Reply(500, {"error": "llama runner process has terminated"}),
        Reply(200, chat("ok")),
    ]

    assert alloy.ask("x") == "ok"
    assert len(ollama_server.requests) == 2


def test_dropped_connection_is_retried(ollama_server: FakeServer) -> None:
    """A connection dropped without an answer is retried like any connection error."""
    ollama_server.replies += [Reply(drop=True), Reply(200, chat("ok"))]

    assert alloy.ask("x") == "ok"
    assert len(ollama_server.requests) == 2


def test_400_is_not_retried(ollama_server: FakeServer) -> None:
    """A 400 raises ProviderError with Ollama's message after exactly 1 request."""
    ollama_server.replies.append(Reply(400, {"error": "invalid options: num_ctx"}))

    with pytest.raises(ProviderError, match="invalid options: num_ctx") as info:
        alloy.ask("x")

    assert (info.value.status_code, info.value.retryable, info.value.provider) == (400, False, "ollama")
    assert len(ollama_server.requests) == 1


def test_model_not_pulled(ollama_server: FakeServer) -> None:
    """A 404 "model not found" is a ConfigurationError that says `ollama pull <model>`, after 1 request."""
    ollama_server.replies.append(Reply(404, {"error": f'model "{MODEL}" not found, try pulling it first'}))

    with pytest.raises(ConfigurationError, match=f"`ollama pull {MODEL}`"):
        alloy.ask("x")

    assert len(ollama_server.requests) == 1


def test_server_not_running() -> None:
    """Nothing listening at the host: ProviderError naming the host and `ollama serve`, retryable."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    host = f"http://127.0.0.1:{port}"

    with override(model=f"ollama:{MODEL}", ollama_host=host), pytest.raises(ProviderError) as info:
        alloy.ask("x")

    assert host in str(info.value)
    assert "`ollama serve`" in str(info.value)
    assert (info.value.status_code, info.value.retryable) == (None, True)


def test_server_not_running_stream() -> None:
    """Streaming against no server gives the same error (the client raises httpx.ConnectError there)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    host = f"http://127.0.0.1:{port}"

    with (
        override(model=f"ollama:{MODEL}", ollama_host=host),
        pytest.raises(ProviderError, match="ollama serve"),
    ):
        list(alloy.ask.stream("x"))


# --- pure translation -----------------------------------------------------------------------------


def test_length_finish_reason() -> None:
    """done_reason "length" is finish_reason "length"; counts become usage."""
    raw = ollama.ChatResponse.model_validate(
        chat("cut sh", done_reason="length", prompt_tokens=3, output_tokens=4)
    )

    response = adapter.parse_response(raw)

    assert (response.text, response.finish_reason, response.model) == ("cut sh", "length", MODEL)
    assert (response.usage.input_tokens, response.usage.output_tokens) == (3, 4)


def test_stream_state_joins_deltas_and_takes_usage_from_the_last_chunk() -> None:
    """A streamed answer's Response is the joined text with the final chunk's counts and reason."""
    state = adapter.StreamState()
    parts = [
        {"model": MODEL, "message": {"role": "assistant", "content": d}, "done": False} for d in ("a", "b")
    ]
    final = chat("", done_reason="length", prompt_tokens=5, output_tokens=2)

    deltas = [state.feed(ollama.ChatResponse.model_validate(p)) for p in [*parts, final]]
    response = state.response()

    assert deltas == [["a"], ["b"], []]
    assert (response.text, response.finish_reason) == ("ab", "length")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (5, 2)


def test_tool_call_ids_are_stable() -> None:
    """Ollama gives no call ids: the same answer parses to the same ids, distinct per call."""
    body = chat(tool_calls=[call("f", x=1), call("f", x=1)])

    first = adapter.parse_response(ollama.ChatResponse.model_validate(body))
    again = adapter.parse_response(ollama.ChatResponse.model_validate(body))

    assert [c.id for c in first.tool_calls] == [c.id for c in again.tool_calls]
    assert first.tool_calls[0].id != first.tool_calls[1].id
    assert first.finish_reason == "tool_calls"
    assert first.tool_calls[0].arguments == {"x": 1}


def test_build_request_finalize_sends_no_tools() -> None:
    """tool_choice="none" (the finalize turn) sends no tools; output goes to format as it is."""
    spec = ToolSpec("f", "F.", {"type": "object", "properties": {}})
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    request = Request(
        MODEL,
        (Message("user", "hi"),),
        tools=(spec,),
        tool_choice="none",
        output=OutputFormat("out", schema, "native"),
    )

    kwargs = adapter.build_request(request)

    assert "tools" not in kwargs
    assert kwargs["format"] == schema

"""The Gemini adapter, at the wire: the real ``google-genai`` SDK talks HTTP to a loopback server.

Bodies follow the Developer API as the installed SDK types it (``google/genai/types.py``
``GenerateContentResponse``): ``{"candidates": [{"content": {"role": "model", "parts": [...]},
"finishReason"}], "usageMetadata": {"promptTokenCount", "candidatesTokenCount",
"thoughtsTokenCount"}, "modelVersion"}``; a part is ``{"text"}`` or ``{"functionCall": {"name",
"args", "id"?}, "thoughtSignature"?}``. The SDK posts to ``/v1beta/models/<model>:generateContent``
and ``:streamGenerateContent?alt=sse`` (one ``data: <response JSON>`` event per chunk); an error is
``{"error": {"code", "message", "status", "details"}}``.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import enum
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, NotRequired, cast

import certifi
import pydantic
import pytest
from google.genai import errors, types
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

import alloy
from alloy import ConfigurationError, ProviderError, _drivers, ask, command, override, tool
from alloy._command import Call
from alloy._messages import Message, OutputFormat, Request, Result, ToolCall, ToolSpec
from alloy.providers import gemini as adapter

from .server import FakeServer, Reply, sse

MODEL = "gemini-2.5-flash"
CURRENT = "gemini-3-flash-preview"
KEY = "AIzaSy-test-0123456789abcdef"
PATH = f"/v1beta/models/{MODEL}:generateContent"


def answer(
    *parts: dict[str, Any],
    finish: str | None = "STOP",
    prompt_tokens: int = 12,
    output_tokens: int = 5,
    thoughts: int | None = None,
) -> dict[str, Any]:
    """A ``GenerateContentResponse`` with one candidate."""
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    usage: dict[str, Any] = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": output_tokens}
    if thoughts is not None:
        usage["thoughtsTokenCount"] = thoughts
    usage["totalTokenCount"] = prompt_tokens + output_tokens + (thoughts or 0)
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": MODEL, "responseId": "r-1"}


def text(t: str) -> dict[str, Any]:
    return {"text": t}


def call(name: str, signature: str | None = None, id_: str | None = None, **args: Any) -> dict[str, Any]:
    part: dict[str, Any] = {"functionCall": {"name": name, "args": args} | ({"id": id_} if id_ else {})}
    return part | ({"thoughtSignature": signature} if signature else {})


def reply(*parts: dict[str, Any], **kw: Any) -> Reply:
    return Reply(200, answer(*parts, **kw))


def error(status: int, state: str, message: str, *details: dict[str, Any], **headers: str) -> Reply:
    body = {"error": {"code": status, "message": message, "status": state, "details": list(details)}}
    return Reply(status, body, headers=headers)


def streamed(*deltas: str, finish: str = "STOP", prompt_tokens: int = 9, output_tokens: int = 4) -> Reply:
    """A streamed answer: one chunk per delta; the last carries the finish reason and the usage."""
    chunks = [
        {
            "candidates": [{"content": {"role": "model", "parts": [text(d)]}, "index": 0}],
            "modelVersion": MODEL,
        }
        for d in deltas
    ]
    last = answer(text(""), finish=finish, prompt_tokens=prompt_tokens, output_tokens=output_tokens)
    return sse(*chunks, last)


@pytest.fixture(scope="module")
def one_certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA file holding one certificate (the first of certifi's bundle)."""
    bundle = Path(certifi.where()).read_text()
    end = "-----END CERTIFICATE-----"
    first = bundle[bundle.index("-----BEGIN CERTIFICATE-----") : bundle.index(end) + len(end)]
    path = tmp_path_factory.mktemp("tls") / "one.pem"
    path.write_text(first + "\n")
    return path


@pytest.fixture(autouse=True)
def _cheap_tls(one_certificate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test builds a fresh SDK client, which loads the CA bundle twice (~0.1 s); the loopback
    server speaks plain HTTP, so a one-certificate bundle (SSL_CERT_FILE, read by the SDK) will do."""
    monkeypatch.setenv("SSL_CERT_FILE", str(one_certificate))


@pytest.fixture
def gemini(server: FakeServer) -> Iterator[FakeServer]:
    """The fake server as the Gemini base URL for the test, with a key."""
    with override(model=f"gemini:{MODEL}", gemini_base_url=server.url, gemini_api_key=KEY):
        yield server


def sent(server: FakeServer, i: int = -1) -> dict[str, Any]:
    return server.requests[i].json


def user(t: str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"text": t}]}


@dataclass
class Invoice:
    number: str
    total: float


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Node(pydantic.BaseModel):
    """A tree node."""

    name: str
    children: list[Node] = []


class Profile(pydantic.BaseModel):
    name: Annotated[str, pydantic.Field(description="Full name", min_length=2)]
    kind: Literal["person"]
    nickname: str | None = None
    scores: dict[str, int]
    point: tuple[int, int]


class Movie(TypedDict):
    title: str
    year: NotRequired[int]


class Point(NamedTuple):
    x: int
    y: int


@tool
def lookup_price(item: str) -> float:
    """The net price of an item."""
    return {"widget": 10.0, "gadget": 4.5}[item]


@tool
def add_tax(amount: float) -> float:
    """The amount with 10% tax."""
    return round(amount * 1.1, 2)


@tool
def inventory(item: str) -> dict[str, int]:
    """Stock of an item."""
    return {"in_stock": 3}


# --- text, options, credentials ---------------------------------------------------------------------


def test_cached_content_tokens_are_reported(gemini: FakeServer) -> None:
    """``cachedContentTokenCount`` (implicit or explicit caching) is the cached part of the prompt."""
    body = answer(text("Hi"), prompt_tokens=2000, output_tokens=3)
    body["usageMetadata"]["cachedContentTokenCount"] = 1536
    gemini.replies.append(Reply(200, body))
    usage = command(lambda: "Hi").run().usage
    assert (usage.input_tokens, usage.cached_input_tokens, usage.cache_write_tokens) == (2000, 1536, 0)


def test_text_answer_path_key_header_and_usage(gemini: FakeServer) -> None:
    """A text call posts the user turn to /v1beta/models/<model>:generateContent; thinking counts as output."""
    gemini.replies.append(reply(text("Hello, Ada!"), prompt_tokens=34, output_tokens=5, thoughts=3))

    @command
    def greet(name: str) -> str:
        return f"Say hello to {name}."

    result = greet.run("Ada")

    assert result.output == "Hello, Ada!"
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.requests) == (34, 8, 1)
    req = gemini.requests[0]
    assert (req.method, req.path) == ("POST", PATH)
    assert req.headers["x-goog-api-key"] == KEY
    assert req.json == {"contents": [user("Say hello to Ada.")], "generationConfig": {}}


def test_system_temperature_max_tokens_and_extra(gemini: FakeServer) -> None:
    """system, temperature, max_tokens and extra (merged into the config) reach the body."""
    gemini.replies.append(reply(text("ok")))

    extra = {"thinking_config": {"thinking_budget": 0}, "seed": 7}
    ask("Hi", system="Be brief.", temperature=0.2, max_tokens=300, extra=extra)

    body = sent(gemini)
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}], "role": "user"}
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "maxOutputTokens": 300,
        "seed": 7,
        "thinkingConfig": {
            "thinking_budget": 0
        },  # the SDK sends nested fields as named (proto JSON takes both)
    }


def test_bad_extra_is_configuration_error_before_any_request(gemini: FakeServer) -> None:
    """An extra key GenerateContentConfig does not know: ConfigurationError naming it, nothing sent."""
    with pytest.raises(ConfigurationError, match="top_kk"):
        ask("Hi", extra={"top_kk": 3})
    assert gemini.requests == []


def test_missing_key_is_configuration_error_before_any_request(server: FakeServer) -> None:
    """No key anywhere: ConfigurationError naming the three variables, nothing sent."""
    with (
        override(model=f"gemini:{MODEL}", gemini_base_url=server.url),
        pytest.raises(ConfigurationError, match="ALLOY_GEMINI_API_KEY or GEMINI_API_KEY or GOOGLE_API_KEY"),
    ):
        ask("Hi")
    assert server.requests == []


def test_dotenv_key_and_base_url_reach_the_request(server: FakeServer) -> None:
    """GEMINI_API_KEY and ALLOY_GEMINI_BASE_URL from .env reach the SDK client (a bare model name routes)."""
    Path(".env").write_text(f"GEMINI_API_KEY=AIza-from-dotenv\nALLOY_GEMINI_BASE_URL={server.url}\n")
    server.replies.append(reply(text("ok")))

    assert ask("Hi", model=MODEL) == "ok"

    assert server.requests[0].headers["x-goog-api-key"] == "AIza-from-dotenv"


def test_sdk_variable_names_in_the_environment(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """GOOGLE_API_KEY and GOOGLE_GEMINI_BASE_URL in the environment work too."""
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-from-env")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
    server.replies.append(reply(text("ok")))

    assert ask("Hi", model=f"gemini:{MODEL}") == "ok"

    assert server.requests[0].headers["x-goog-api-key"] == "AIza-from-env"


def test_one_client_for_many_calls(gemini: FakeServer) -> None:
    """Calls with the same settings share one SDK client and its connection."""
    gemini.replies += [reply(text("one")), reply(text("two")), reply(text("three"))]

    assert [ask("1"), ask("2"), ask("3")] == ["one", "two", "three"]

    assert gemini.connections == 1


def test_config_validated_once_per_plan_and_bodies_unchanged(
    gemini: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repeated calls of one command validate the GenerateContentConfig once and send identical bodies;
    a different setting (temperature) gets its own config."""
    validated: list[object] = []
    real = types.GenerateContentConfig.model_validate

    def spy(obj: object) -> types.GenerateContentConfig:
        validated.append(obj)
        return real(obj)

    monkeypatch.setattr(types.GenerateContentConfig, "model_validate", spy)
    gemini.replies += [reply(text('{"name": "Ada", "age": 36}')) for _ in range(4)]

    class Person(pydantic.BaseModel):
        name: str
        age: int

    @command(output=Person, system="Extract the person.")
    def extract(text: str) -> str:
        return text

    for _ in range(3):
        assert extract("Ada, 36").age == 36
    assert len(validated) == 1
    bodies = [r.json for r in gemini.requests]
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["generationConfig"]["responseMimeType"] == "application/json"

    with override(temperature=0.3):
        extract("Ada, 36")
    assert len(validated) == 2
    assert gemini.requests[3].json["generationConfig"]["temperature"] == 0.3


def test_async_calls_on_two_event_loops(gemini: FakeServer) -> None:
    """The shared client serves async calls on one loop after another (the SDK pools per loop)."""
    gemini.replies += [reply(text("one")), reply(text("two"))]

    assert asyncio.run(ask.async_("1")) == "one"
    assert asyncio.run(ask.async_("2")) == "two"


def test_capabilities() -> None:
    """Native JSON schema in the gemini dialect; a base URL of another host is a compatible endpoint."""
    own = alloy.Settings(gemini_base_url=None)
    other = alloy.Settings(gemini_base_url="http://127.0.0.1:9/")
    caps = adapter.ADAPTER.capabilities(MODEL, own)
    assert (caps.output_mode, caps.schema_dialect, caps.native_tools, caps.temperature) == (
        "native",
        "gemini",
        True,
        True,
    )
    assert not caps.compatible_endpoint
    assert adapter.ADAPTER.capabilities(MODEL, other).compatible_endpoint


# --- structured output ------------------------------------------------------------------------------


def _value(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"value": schema}, "required": ["value"]}


_NAME = {"title": "Name", "type": "string"}
_NODE = {
    "type": "object",
    "properties": {
        "name": _NAME,
        "children": {
            "type": "array",
            "items": {"$ref": "#/$defs/Node"},
            "title": "Children",
            "description": "Default: [].",  # Gemini drops a default: it travels as text
        },
    },
    "required": ["name"],
    "description": "A tree node.",
    "title": "Node",
}

TYPED = [
    pytest.param(
        Invoice,
        {"number": "42", "total": 99.5},
        Invoice("42", 99.5),
        {
            "type": "object",
            "properties": {
                "number": {"title": "Number", "type": "string"},
                "total": {"title": "Total", "type": "number"},
            },
            "required": ["number", "total"],
            "title": "Invoice",
        },
        id="dataclass",
    ),
    pytest.param(
        dict[str, int],
        {"value": {"a": 1, "b": 2}},
        {"a": 1, "b": 2},
        _value({"type": "object", "additionalProperties": {"type": "integer"}}),
        id="dict-str-int",
    ),
    pytest.param(
        Node,
        {"name": "root", "children": [{"name": "leaf"}]},
        Node(name="root", children=[Node(name="leaf")]),
        {**_NODE, "$defs": {"Node": _NODE}},
        id="recursive",
    ),
    pytest.param(
        Profile,
        {"name": "Ada", "kind": "person", "scores": {"math": 10}, "point": [1, 2]},
        Profile(name="Ada", kind="person", scores={"math": 10}, point=(1, 2)),
        {
            "type": "object",
            "properties": {
                "name": {
                    "description": "Full name\n\nConstraint: minLength=2.",
                    "title": "Name",
                    "type": "string",
                },
                "kind": {"enum": ["person"], "title": "Kind", "type": "string"},
                "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Nickname"},
                "scores": {"type": "object", "additionalProperties": {"type": "integer"}, "title": "Scores"},
                "point": {
                    "type": "array",
                    "prefixItems": [{"type": "integer"}, {"type": "integer"}],
                    "maxItems": 2,
                    "minItems": 2,
                    "title": "Point",
                },
            },
            "required": ["name", "kind", "scores", "point"],
            "title": "Profile",
        },
        id="pydantic-constraints-literal-optional-tuple",
    ),
    pytest.param(
        Color,
        {"value": "green"},
        Color.GREEN,
        _value({"enum": ["red", "green"], "title": "Color", "type": "string"}),
        id="enum",
    ),
    pytest.param(int, {"value": 42}, 42, _value({"type": "integer"}), id="int"),
]


@pytest.mark.parametrize(("output", "wire_answer", "expected", "schema"), TYPED)
def test_typed_output_sends_the_exact_response_json_schema(
    gemini: FakeServer, output: Any, wire_answer: Any, expected: Any, schema: dict[str, Any]
) -> None:
    """responseMimeType application/json and the gemini-dialect responseJsonSchema go out; the answer validates."""
    gemini.replies.append(reply(text(json.dumps(wire_answer))))

    assert ask("Extract.", output=output) == expected

    config = sent(gemini)["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == schema
    assert "tools" not in sent(gemini)


ROUND_TRIP = [
    pytest.param(str, "plain", "plain", id="str-text"),
    pytest.param(float, {"value": 12.5}, 12.5, id="float"),
    pytest.param(bool, {"value": True}, True, id="bool"),
    pytest.param(list[int], {"value": [1, 2]}, [1, 2], id="list"),
    pytest.param(set[str], {"value": ["a", "b"]}, {"a", "b"}, id="set"),
    pytest.param(tuple[int, str], {"value": [1, "x"]}, (1, "x"), id="tuple"),
    pytest.param(int | None, {"value": None}, None, id="optional"),
    pytest.param(int | str, {"value": "x"}, "x", id="union"),
    pytest.param(Literal["yes", "no"], {"value": "no"}, "no", id="literal"),
    pytest.param(datetime.date, {"value": "2024-05-01"}, datetime.date(2024, 5, 1), id="date"),
    pytest.param(
        datetime.datetime,
        {"value": "2024-05-01T10:00:00Z"},
        datetime.datetime(2024, 5, 1, 10, tzinfo=datetime.UTC),
        id="datetime",
    ),
    pytest.param(decimal.Decimal, {"value": "1.10"}, decimal.Decimal("1.10"), id="decimal"),
    pytest.param(
        uuid.UUID,
        {"value": "12345678-1234-5678-1234-567812345678"},
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        id="uuid",
    ),
    pytest.param(Movie, {"title": "Heat"}, {"title": "Heat"}, id="typeddict-notrequired"),
    pytest.param(Point, {"value": [1, 2]}, Point(1, 2), id="namedtuple"),
]


def test_spec_types_round_trip(gemini: FakeServer) -> None:
    """Every SPEC output type goes out as a schema and comes back validated (one client for all)."""
    for case in ROUND_TRIP:
        output, wire_answer, expected = case.values
        body = wire_answer if isinstance(wire_answer, str) else json.dumps(wire_answer)
        gemini.replies.append(reply(text(body)))
        assert ask("Extract.", output=output) == expected, case.id
    assert len(gemini.requests) == len(ROUND_TRIP)


def test_typed_output_async(gemini: FakeServer) -> None:
    """The async path sends the same schema and validates the same way."""
    gemini.replies.append(reply(text('{"number": "7", "total": 1.5}')))

    assert asyncio.run(ask.async_("Extract.", output=Invoice)) == Invoice("7", 1.5)
    assert sent(gemini)["generationConfig"]["responseMimeType"] == "application/json"


def test_reask_after_a_constraint_moved_into_the_description(gemini: FakeServer) -> None:
    """minLength is not sent as a keyword but still enforced: the answer and the error go back, then it passes."""
    bad = '{"name": "A", "kind": "person", "scores": {}, "point": [0, 0]}'
    good = '{"name": "Ann", "kind": "person", "scores": {}, "point": [0, 0]}'
    gemini.replies += [reply(text(bad)), reply(text(good))]

    result = Call[Profile](Profile).result([Message("user", "Who?")])

    assert result.output.name == "Ann"
    assert (result.attempts, result.usage.requests) == (2, 2)
    contents = sent(gemini)["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[1]["parts"] == [{"text": bad}]
    assert "name" in contents[2]["parts"][0]["text"] and "at least 2" in contents[2]["parts"][0]["text"]


def test_malformed_json_is_reasked(gemini: FakeServer) -> None:
    """An answer that is not JSON is fed back with the parse error; the second answer passes."""
    gemini.replies += [reply(text('{"number": "42", "total":')), reply(text('{"number": "42", "total": 1}'))]

    assert ask("Extract.", output=Invoice) == Invoice("42", 1.0)
    assert len(gemini.requests) == 2


# --- tools ------------------------------------------------------------------------------------------


def test_tool_round_trip(gemini: FakeServer) -> None:
    """functionDeclarations (JSON schema as is) and AUTO go out; the result returns as a functionResponse."""
    gemini.replies += [
        reply(call("lookup_price", item="widget"), prompt_tokens=20, output_tokens=6),
        reply(text("It costs 10."), prompt_tokens=30, output_tokens=4),
    ]

    result = Call[str](str, [lookup_price]).result([Message("user", "Price of a widget?")])

    assert result.output == "It costs 10."
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.requests) == (50, 10, 2)
    first = sent(gemini, 0)
    assert first["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "lookup_price",
                    "description": "The net price of an item.",
                    "parameters_json_schema": lookup_price.spec.parameters,
                }
            ]
        }
    ]
    assert first["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    assert sent(gemini)["contents"] == [
        user("Price of a widget?"),
        {"role": "model", "parts": [{"functionCall": {"name": "lookup_price", "args": {"item": "widget"}}}]},
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "lookup_price", "response": {"result": 10.0}}}],
        },
    ]


def test_two_function_calls_in_one_turn_answered_in_one_content(gemini: FakeServer) -> None:
    """Two calls of one turn: both run, and both results go back in ONE user content, in call order."""
    gemini.replies += [
        reply(call("lookup_price", item="widget"), call("inventory", item="gadget")),
        reply(text("done")),
    ]

    assert ask("Check.", tools=[lookup_price, inventory]) == "done"

    contents = sent(gemini)["contents"]
    assert len(contents) == 3
    assert [p["functionCall"]["name"] for p in contents[1]["parts"]] == ["lookup_price", "inventory"]
    assert contents[2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "lookup_price", "response": {"result": 10.0}}},
            {"functionResponse": {"name": "inventory", "response": {"in_stock": 3}}},
        ],
    }


def test_tool_error_goes_back_as_an_error_object(gemini: FakeServer) -> None:
    """An exception inside a tool returns as {"error": "..."} and the model can carry on."""
    gemini.replies += [reply(call("lookup_price", item="sprocket")), reply(text("Unknown item."))]

    assert ask("Price?", tools=[lookup_price]) == "Unknown item."

    response = sent(gemini)["contents"][2]["parts"][0]["functionResponse"]
    assert response["name"] == "lookup_price"
    assert list(response["response"]) == ["error"]
    assert "sprocket" in response["response"]["error"]


def test_call_ids_given_by_gemini_are_echoed(gemini: FakeServer) -> None:
    """A functionCall id from Gemini goes back on the call and on its functionResponse."""
    gemini.replies += [reply(call("lookup_price", id_="fc-7", item="widget")), reply(text("ok"))]

    ask("Price?", tools=[lookup_price])

    contents = sent(gemini)["contents"]
    assert contents[1]["parts"][0]["functionCall"]["id"] == "fc-7"
    assert contents[2]["parts"][0]["functionResponse"]["id"] == "fc-7"


def test_thought_signature_goes_back_with_its_call(gemini: FakeServer) -> None:
    """A signed call (Gemini 3) comes back with its thoughtSignature; a sequential second one with its own."""
    gemini.replies += [
        reply(call("lookup_price", signature="c2lnLW9uZQ==", item="widget")),
        reply(call("add_tax", signature="c2lnLXR3bw==", amount=10.0)),
        reply(text("11.0")),
    ]

    assert ask("Total?", model=f"gemini:{CURRENT}", tools=[lookup_price, add_tax]) == "11.0"

    model_turns = [c for c in sent(gemini)["contents"] if c["role"] == "model"]
    assert [t["parts"][0]["thoughtSignature"] for t in model_turns] == ["c2lnLW9uZQ==", "c2lnLXR3bw=="]


def test_current_model_gets_tools_and_schema_in_one_request(gemini: FakeServer) -> None:
    """Gemini 3 takes function declarations with a response schema: both go in every turn."""
    gemini.replies += [
        reply(call("lookup_price", item="widget")),
        reply(text('{"number": "1", "total": 10}')),
    ]

    assert ask("Bill it.", model=f"gemini:{CURRENT}", output=Invoice, tools=[lookup_price]) == Invoice(
        "1", 10
    )

    for body in (sent(gemini, 0), sent(gemini, 1)):
        assert "tools" in body and body["generationConfig"]["responseMimeType"] == "application/json"


def test_gemini_2_gets_tools_then_the_schema_in_the_answer_turn(gemini: FakeServer) -> None:
    """Gemini 2.x refuses both at once: tool turns carry the tools, the no-tools answer turn the schema."""
    gemini.replies += [
        reply(call("lookup_price", item="widget")),
        reply(text("The widget costs 10.")),
        reply(text('{"number": "1", "total": 10}')),
    ]

    assert ask("Bill it.", output=Invoice, tools=[lookup_price]) == Invoice("1", 10)

    tool_turns, answer_turn = gemini.requests[:2], sent(gemini)
    assert all(
        "tools" in r.json and "responseJsonSchema" not in r.json["generationConfig"] for r in tool_turns
    )
    assert "tools" not in answer_turn and "toolConfig" not in answer_turn
    assert answer_turn["generationConfig"]["responseMimeType"] == "application/json"


def test_refusal_of_tools_with_schema_is_remembered(gemini: FakeServer) -> None:
    """A model whose name shows no generation refuses both at once: the call is re-planned, split, once."""
    refusal = "Function calling with a response mime type: 'application/json' is unsupported"
    gemini.replies += [
        error(400, "INVALID_ARGUMENT", refusal),
        reply(text('{"number": "1", "total": 2}')),
        reply(text('{"number": "3", "total": 4}')),
    ]

    with override(model="gemini:gemini-flash-latest"):
        assert ask("Bill it.", output=Invoice, tools=[lookup_price]) == Invoice("1", 2)
        assert ask("Again.", output=Invoice, tools=[lookup_price]) == Invoice("3", 4)

    assert len(gemini.requests) == 3
    assert "responseJsonSchema" in sent(gemini, 0)["generationConfig"]
    assert all("responseJsonSchema" not in r.json["generationConfig"] for r in gemini.requests[1:])


def test_malformed_function_call_is_sampled_again(gemini: FakeServer) -> None:
    """finishReason MALFORMED_FUNCTION_CALL is retried as a new request; the second answer counts."""
    gemini.replies += [reply(finish="MALFORMED_FUNCTION_CALL"), reply(text("fine"))]

    assert ask("Hi", tools=[lookup_price]) == "fine"
    assert len(gemini.requests) == 2


# --- streaming --------------------------------------------------------------------------------------


def _stream_run(stream_async: bool) -> tuple[list[str], Result[Any]]:
    """Stream through the drivers, which also hand back the Result (usage) that .stream() hides."""
    run: Call[str] = Call(str)
    if not stream_async:
        items = list(_drivers.run(run.plan, (Message("user", "Tell me."),), name="ask", stream=True))
    else:

        async def collect() -> list[Any]:
            return [
                i
                async for i in _drivers.arun(
                    run.plan, (Message("user", "Tell me."),), name="ask", stream=True
                )
            ]

        items = asyncio.run(collect())
    *deltas, result = items
    assert isinstance(result, Result)
    return [d for d in deltas if isinstance(d, str)], cast("Result[Any]", result)


@pytest.mark.parametrize("stream_async", [False, True], ids=["sync", "async"])
def test_streaming_deltas_and_usage(gemini: FakeServer, stream_async: bool) -> None:
    """Deltas arrive in order and join to the answer; usage comes from the last chunk's usageMetadata."""
    gemini.replies.append(streamed("Once ", "upon ", "a time.", prompt_tokens=25, output_tokens=9))

    deltas, result = _stream_run(stream_async)

    assert deltas == ["Once ", "upon ", "a time."]
    assert result.output == "Once upon a time."
    assert (result.usage.input_tokens, result.usage.output_tokens) == (25, 9)
    assert gemini.requests[0].path == f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"


def test_public_stream_and_stream_async(gemini: FakeServer) -> None:
    """ask.stream and ask.stream_async yield the deltas."""
    gemini.replies += [streamed("Hel", "lo"), streamed("Hel", "lo")]

    async def collect() -> list[str]:
        return [d async for d in ask.stream_async("Hi")]

    assert list(ask.stream("Hi")) == ["Hel", "lo"]
    assert asyncio.run(collect()) == ["Hel", "lo"]


def test_stream_error_before_text_is_retried(gemini: FakeServer) -> None:
    """A 503 before the stream starts is retried; the second stream is served."""
    gemini.replies += [error(503, "UNAVAILABLE", "The model is overloaded."), streamed("fine")]

    assert list(ask.stream("Hi")) == ["fine"]
    assert len(gemini.requests) == 2


def test_stream_blocked_midway_is_a_clear_error(gemini: FakeServer) -> None:
    """A SAFETY finish after some text: the text was yielded, then a ProviderError that says so."""
    blocked: dict[str, Any] = {"candidates": [{"content": {"role": "model"}, "finishReason": "SAFETY"}]}
    gemini.replies.append(
        sse({"candidates": [{"content": {"role": "model", "parts": [text("Sure, ")]}}]}, blocked)
    )

    seen: list[str] = []
    with pytest.raises(ProviderError, match="SAFETY"):
        seen.extend(ask.stream("Hi"))
    assert seen == ["Sure, "]
    assert len(gemini.requests) == 1


# --- blocks, errors and retries ---------------------------------------------------------------------


def test_safety_finish_is_a_clear_non_retryable_error(gemini: FakeServer) -> None:
    """finishReason SAFETY: a ProviderError naming it, not retried; the ratings are on .body."""
    ratings = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]
    body = answer(finish="SAFETY")
    body["candidates"][0]["safetyRatings"] = ratings
    gemini.replies.append(Reply(200, body))

    with pytest.raises(ProviderError) as info:
        ask("Hi")

    err = info.value
    assert (err.provider, err.status_code, err.retryable) == ("gemini", None, False)
    assert "blocked the answer" in str(err) and "SAFETY" in str(err)
    assert err.body["safety_ratings"][0]["category"] == "HARM_CATEGORY_DANGEROUS_CONTENT"
    assert len(gemini.requests) == 1


@pytest.mark.parametrize("reason", ["RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII"])
def test_other_blocking_finish_reasons(gemini: FakeServer, reason: str) -> None:
    """Each blocking finish reason is a non-retryable ProviderError that names it."""
    gemini.replies.append(reply(text("partial"), finish=reason))

    with pytest.raises(ProviderError, match=reason) as info:
        ask("Hi")
    assert not info.value.retryable
    assert len(gemini.requests) == 1


def test_blocked_prompt_is_a_clear_error(gemini: FakeServer) -> None:
    """promptFeedback.blockReason with no candidates: a ProviderError that says the prompt was blocked."""
    gemini.replies.append(Reply(200, {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}))

    with pytest.raises(ProviderError, match=r"blocked the prompt.*PROHIBITED_CONTENT"):
        ask("Hi")
    assert len(gemini.requests) == 1


RETRY_INFO = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0s"}


@pytest.mark.parametrize(
    "failure",
    [
        error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for metric: generate_content_requests", RETRY_INFO),
        error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
        error(500, "INTERNAL", "An internal error has occurred."),
        Reply(drop=True),
    ],
    ids=["429", "503", "500", "dropped"],
)
def test_transient_errors_are_retried(gemini: FakeServer, failure: Reply) -> None:
    """429 (RetryInfo), 503, 500 and a dropped connection: retried, success on the 2nd request."""
    gemini.replies += [failure, reply(text("ok"))]

    assert ask("Hi") == "ok"
    assert len(gemini.requests) == 2


def test_transient_error_retried_async(gemini: FakeServer) -> None:
    """The async path retries a 429 the same way."""
    gemini.replies += [error(429, "RESOURCE_EXHAUSTED", "Slow down."), reply(text("ok"))]

    assert asyncio.run(ask.async_("Hi")) == "ok"
    assert len(gemini.requests) == 2


def test_bad_request_is_provider_error_after_one_request(gemini: FakeServer) -> None:
    """400: ProviderError with Gemini's message, chained to the SDK's ClientError; not retried."""
    gemini.replies.append(error(400, "INVALID_ARGUMENT", "Invalid JSON payload received."))

    with pytest.raises(ProviderError) as info:
        ask("Hi")

    err = info.value
    assert (err.provider, err.status_code, err.retryable) == ("gemini", 400, False)
    assert "INVALID_ARGUMENT: Invalid JSON payload received." in str(err)
    assert isinstance(err.__cause__, errors.ClientError)
    assert len(gemini.requests) == 1


def test_bad_key_names_the_variables_and_never_shows_the_key(
    gemini: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A rejected key: one request, a message naming the variables, and the key in no log line or error."""
    gemini.replies.append(error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."))
    gemini.replies.append(error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers."))
    caplog.set_level(logging.DEBUG)

    for status in (400, 403):
        with pytest.raises(ProviderError) as info:
            ask("Hi")
        err = info.value
        assert (err.status_code, err.retryable) == (status, False)
        assert "ALLOY_GEMINI_API_KEY" in str(err)
        assert KEY not in str(err) + repr(err) + repr(err.body) + repr(alloy.get_settings())
    assert len(gemini.requests) == 2
    assert KEY not in caplog.text


def test_reply_that_is_not_json(gemini: FakeServer) -> None:
    """A 200 whose body is not JSON (a wrong base URL, or a proxy's page): a retryable ProviderError
    (SPEC 17) that names the base URL to check once the attempts are spent."""
    page = Reply(200, "<html>Sign in</html>", content_type="text/html")
    gemini.replies += [page, page]

    with pytest.raises(ProviderError, match=r"not JSON.*base URL") as info:
        ask("Hi", retry_attempts=2)
    assert len(gemini.requests) == 2 and info.value.retryable


def test_streamed_reply_that_is_not_json_is_a_retryable_malformed_event(gemini: FakeServer) -> None:
    """A stream whose event is not JSON is a malformed event (SPEC 17): a retryable ProviderError,
    retried while nothing reached the caller, the SDK's own text kept."""
    gemini.replies += [Reply(200, "<html>Sign in</html>", content_type="text/html"), streamed("fine")]

    assert list(ask.stream("Hi")) == ["fine"]
    gemini.replies.append(Reply(200, "<html>Sign in</html>", content_type="text/html"))
    with override(retry_attempts=1), pytest.raises(ProviderError, match="malformed stream event") as info:
        list(ask.stream("Hi"))
    assert info.value.retryable and "html" in str(info.value)


def test_not_found_model(gemini: FakeServer) -> None:
    """404 (an unknown model) is not retried and says to check the model name."""
    gemini.replies.append(error(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta."))

    with pytest.raises(ProviderError, match="Check the model name") as info:
        ask("Hi", model="gemini:gemini-9")
    assert info.value.status_code == 404
    assert gemini.requests[0].path == "/v1beta/models/gemini-9:generateContent"


# --- pure translation -------------------------------------------------------------------------------


def _request(**kw: Any) -> Request:
    return Request(model=MODEL, messages=(Message("user", "Hi"),), **kw)


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", {"mode": "AUTO"}),
        ("required", {"mode": "ANY"}),
        ("none", {"mode": "NONE"}),
        ("lookup_price", {"mode": "ANY", "allowed_function_names": ["lookup_price"]}),
    ],
)
def test_tool_choice_mapping(choice: str, wire: dict[str, Any]) -> None:
    """tool_choice → function_calling_config: AUTO, ANY, NONE, or ANY limited to the named tool."""
    config = adapter.build_request(_request(tools=(lookup_price.spec,), tool_choice=choice))["config"]
    assert config.tool_config.function_calling_config.model_dump(exclude_none=True) == wire
    assert config.automatic_function_calling.disable is True


def test_prompt_mode_sends_no_schema() -> None:
    """An output in prompt mode is only in the system prompt: no response schema goes out."""
    out = OutputFormat("Invoice", {"type": "object"}, "prompt")
    config = adapter.build_request(_request(output=out))["config"]
    assert config.response_json_schema is None and config.response_mime_type is None


def test_wire_contents() -> None:
    """Consecutive tool results make one user content; made-up ids stay home; an empty answer is left out."""
    made_up = ToolCall("lookup_price", {"item": "a"}, adapter.CALL_ID_PREFIX + "1")
    given = ToolCall("inventory", {"item": "b"}, "fc-2")
    messages = [
        Message("user", "Hi"),
        Message("assistant", "Let me look.", tool_calls=(made_up, given)),
        Message("tool", "10.0", tool_call_id=made_up.id, name="lookup_price"),
        Message("tool", "Error: out of stock", tool_call_id="fc-2", name="inventory", is_error=True),
        Message("assistant", ""),
        Message("user", "Well?"),
    ]

    contents = adapter.wire_contents(messages, sign=False)
    wire = [types.Content.model_validate(c).model_dump(mode="json", exclude_none=True) for c in contents]

    assert wire == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Let me look."},
                {"function_call": {"name": "lookup_price", "args": {"item": "a"}}},
                {"function_call": {"id": "fc-2", "name": "inventory", "args": {"item": "b"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"function_response": {"name": "lookup_price", "response": {"result": 10.0}}},
                {
                    "function_response": {
                        "id": "fc-2",
                        "name": "inventory",
                        "response": {"error": "Error: out of stock"},
                    }
                },
            ],
        },
        {"role": "user", "parts": [{"text": "Well?"}]},
    ]


def test_lost_signature_gets_the_documented_stand_in() -> None:
    """For Gemini 3, the first call of a turn with no known signature carries skip_thought_signature_validator."""
    calls = (ToolCall("a", {}, "x-1"), ToolCall("b", {}, "x-2"))
    messages = [Message("user", "Hi"), Message("assistant", tool_calls=calls)]

    content = adapter.wire_contents(messages, sign=True)[1]
    wire = types.Content.model_validate(content).model_dump(mode="json", exclude_none=True)

    assert [p.get("thought_signature") for p in wire["parts"]] == ["skip_thought_signature_validator", None]


def test_max_tokens_finish_is_length() -> None:
    """finishReason MAX_TOKENS → finish_reason "length" (the engine reports the truncation)."""
    raw = types.GenerateContentResponse.model_validate(answer(text('{"a": '), finish="MAX_TOKENS"))
    response = adapter.parse_response(raw)
    assert (response.text, response.finish_reason) == ('{"a": ', "length")


def test_thought_parts_are_not_the_answer() -> None:
    """A thought summary part (thought: true) is left out of the text."""
    raw = types.GenerateContentResponse.model_validate(
        answer({"text": "Hmm...", "thought": True}, text("42"))
    )
    assert adapter.parse_response(raw).text == "42"


@pytest.mark.parametrize(
    ("headers", "details", "seconds"),
    [
        ({"retry-after": "3"}, [], 3.0),
        ({}, [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}], 37.0),
        ({}, [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}], 1.5),
        ({}, [], None),
    ],
)
def test_retry_after(headers: dict[str, str], details: list[dict[str, Any]], seconds: float | None) -> None:
    """A Retry-After header wins; else Gemini's RetryInfo retryDelay; else nothing."""
    import httpx2

    body = {"error": {"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED", "details": details}}
    response = httpx2.Response(429, headers=headers, json=body)
    exc = errors.ClientError(429, body, response)

    classified = adapter.classify(exc)

    assert classified is not None
    assert (classified.retry_after, classified.retryable) == (seconds, True)


def test_tool_spec_with_no_parameters_is_accepted() -> None:
    """A tool without arguments still declares an object schema."""
    spec = ToolSpec("now", "The time.", {"type": "object", "properties": {}})
    config = adapter.build_request(_request(tools=(spec,)))["config"]
    assert config.tools[0].function_declarations[0].parameters_json_schema == {
        "type": "object",
        "properties": {},
    }


def _transport_errors() -> list[Any]:
    import httpx
    import httpx2

    return [
        pytest.param(httpx2.ReadTimeout("timed out"), True, id="httpx2-timeout"),
        pytest.param(httpx2.ConnectError("refused"), True, id="httpx2-connect"),
        pytest.param(httpx2.RemoteProtocolError("server disconnected"), True, id="httpx2-dropped"),
        pytest.param(httpx.ConnectError("refused"), True, id="httpx-connect"),
        pytest.param(TimeoutError(), True, id="asyncio-timeout"),
        pytest.param(httpx2.UnsupportedProtocol("no scheme"), False, id="bad-url"),
    ]


@pytest.mark.parametrize(("exc", "retryable"), _transport_errors())
def test_transport_errors(exc: Exception, retryable: bool) -> None:
    """The SDK's HTTP client errors: timeouts and lost connections are retryable (no status), a bad URL not."""
    classified = adapter.classify(exc)
    assert classified is not None
    assert (classified.status_code, classified.retryable) == (None, retryable)


def test_foreign_exceptions_are_not_classified() -> None:
    """An exception that is not the SDK's (a bug) passes through unclassified."""
    assert adapter.classify(ValueError("bug")) is None

"""OpenAI's lean path against the SDK's own ``create``: the same bytes on the wire, the same answers.

Each case runs once through the lean path (``client.post`` with Alloy's body; streamed events
read from their JSON) and once with the SDK's ``create`` forced; the fake server must see
byte-identical bodies, the same path and the same auth header, and the call must return the same
value (for a stream: the same items, in the same order, or the same error).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from alloy import ProviderError, ask, command, override, tool
from alloy.providers import _openai_wire as wire

from .server import FakeServer, Reply, sse
from .streams import WIRES, Wire, pieces, tool_turn
from .test_openai import KEY, Api, chat_stream, reply, responses_stream


class City(BaseModel):
    name: str
    population: int | None


@tool
def stock(sku: str) -> int:
    """Units in stock."""
    return 3


@command(output=City, system="Answer with the city.")
def city(country: str) -> str:
    return f"The capital of {country}?"


@command(output=list[City])
def cities() -> str:
    return "Two cities of France?"


CITY = '{"name": "Paris", "population": null}'

# (name, the call, the replies it needs) for each API.
Case = tuple[str, Callable[[], Any], Callable[[Api], list[Reply]]]
CASES: list[Case] = [
    ("text", lambda: ask("Hi"), lambda api: [reply(api, "hello")]),
    (
        "settings-and-extra",
        lambda: ask("Hi", temperature=0.3, max_tokens=50, extra={"seed": 7, "custom_field": {"a": [1]}}),
        lambda api: [reply(api, "ok")],
    ),
    ("typed", lambda: city("France"), lambda api: [reply(api, CITY)]),
    (
        "tool-round-trip",
        lambda: ask("How many A1?", tools=[stock]),
        lambda api: [reply(api, calls=[("call_1", "stock", '{"sku": "A1"}')]), reply(api, "3 left")],
    ),
    ("unicode", lambda: ask("Grüße, 東京 — “quotes”"), lambda api: [reply(api, "ja")]),
]


def streamed(api: Api, deltas: list[str]) -> Reply:
    return chat_stream(deltas) if api == "chat" else responses_stream(deltas)


def wire_of(api: Api) -> Wire:
    return next(w for w in WIRES if w.name == f"openai-{api}")


def _collect(values: AsyncIterator[Any]) -> list[Any]:
    async def run() -> list[Any]:
        return [v async for v in values]

    return asyncio.run(run())


CITIES = json.dumps({"value": [json.loads(CITY), {"name": "Lyon", "population": 500000}]})
STREAM_CASES: list[Case] = [
    (
        "stream-text",
        lambda: list(ask.stream("Hi")),
        lambda api: [streamed(api, ["Hel", "lo, ", "wor", "ld."])],
    ),
    (
        "stream-settings-and-extra",
        lambda: list(
            ask.stream("Hi", temperature=0.3, max_tokens=50, extra={"seed": 7, "custom_field": {"a": [1]}})
        ),
        lambda api: [streamed(api, ["o", "k"])],
    ),
    (
        "stream-partial",
        lambda: list(city.stream_partial("France")),
        lambda api: [streamed(api, pieces(json.loads(CITY)))],
    ),
    (
        "stream-items",
        lambda: list(cities.stream_items()),
        lambda api: [streamed(api, pieces(json.loads(CITIES), 5))],
    ),
    (
        "stream-tool-argument-deltas",
        lambda: list(ask.stream_partial("How many A1?", output=City, tools=[stock])),
        lambda api: [
            tool_turn(wire_of(api), "stock", {"sku": "A1"}),
            streamed(api, pieces(json.loads(CITY))),
        ],
    ),
    (
        "stream-unicode",
        lambda: list(ask.stream("Grüße, 東京 — “quotes”")),
        lambda api: [streamed(api, ["ja", " – 是"])],
    ),
    (
        "stream-async",
        lambda: _collect(ask.stream_partial_async("The capital of France?", output=City)),
        lambda api: [streamed(api, pieces(json.loads(CITY)))],
    ),
]


@pytest.fixture(params=["chat", "responses"])
def api(request: pytest.FixtureRequest) -> Api:
    return request.param


@pytest.fixture
def use(server: FakeServer, api: Api) -> Iterator[None]:
    model = "gpt-4.1-mini" if api == "chat" else "gpt-5-mini"
    with override(
        model=f"openai:{model}", openai_base_url=server.url + "/v1", openai_api_key=KEY, openai_api=api
    ):
        yield


def _sdk_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every call takes the SDK's ``create`` (as it does with an ``extra_headers`` extra)."""
    monkeypatch.setattr(wire, "SDK_ONLY", frozenset({"model"}))


@pytest.mark.usefixtures("use")
@pytest.mark.parametrize(
    ("name", "call", "replies"), CASES + STREAM_CASES, ids=[c[0] for c in CASES + STREAM_CASES]
)
def test_lean_and_sdk_paths_send_identical_bytes(
    server: FakeServer,
    api: Api,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    call: Callable[[], Any],
    replies: Callable[[Api], list[Reply]],
) -> None:
    """The lean path's requests are the SDK's, byte for byte, and give the same answer (a stream:
    the same items in the same order)."""
    server.replies += replies(api)
    lean = call()
    lean_requests = list(server.requests)
    server.requests.clear()

    _sdk_path(monkeypatch)
    server.replies += replies(api)
    sdk = call()

    assert lean == sdk
    assert [r.body for r in lean_requests] == [r.body for r in server.requests]
    assert [r.path for r in lean_requests] == [r.path for r in server.requests]
    assert all(r.json["stream"] is name.startswith("stream-") for r in lean_requests)
    for mine, theirs in zip(lean_requests, server.requests, strict=True):
        assert mine.headers["authorization"] == theirs.headers["authorization"] == f"Bearer {KEY}"
        assert mine.headers.get("content-type") == theirs.headers.get("content-type")
        assert mine.headers.get("accept") == theirs.headers.get("accept")


@pytest.mark.usefixtures("use")
def test_async_lean_path_sends_the_same_bytes(
    server: FakeServer, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The async lean path posts the same body as the SDK's async ``create``."""
    server.replies += [reply(api, CITY), reply(api, CITY)]
    assert asyncio.run(city.async_("France")).name == "Paris"
    _sdk_path(monkeypatch)
    assert asyncio.run(city.async_("France")).name == "Paris"
    assert server.requests[0].body == server.requests[1].body


@pytest.mark.usefixtures("use")
def test_lean_path_errors_are_the_sdks(server: FakeServer, api: Api) -> None:
    """A 4xx on the lean path is the SDK's APIStatusError subclass underneath, classified as before."""
    server.replies.append(
        Reply(401, {"error": {"message": "Incorrect API key", "type": "invalid_request_error"}})
    )
    with pytest.raises(ProviderError) as info:
        ask("Hi")
    assert info.value.status_code == 401 and not info.value.retryable
    assert isinstance(info.value.__cause__, openai.AuthenticationError)


def test_body_key_order_follows_the_sdk() -> None:
    """model, stream and (Chat Completions) messages first, the rest alphabetically, extra_body last."""
    kwargs: dict[str, Any] = {
        "tools": [],
        "messages": [],
        "model": "m",
        "temperature": 0,
        "extra_body": {"zz": 1, "aa": 2},
    }
    assert list(wire.body("chat", kwargs)) == [
        "model",
        "stream",
        "messages",
        "temperature",
        "tools",
        "zz",
        "aa",
    ]
    assert wire.body("chat", kwargs)["stream"] is False
    assert wire.body("chat", kwargs, stream=True)["stream"] is True
    kwargs = {"input": [], "model": "m", "instructions": "x"}
    assert list(wire.body("responses", kwargs)) == ["model", "stream", "input", "instructions"]


def _failure(api: Api, code: str = "server_error", *, delta: bool = True) -> Reply:
    """A stream that reports a failure of *code*, after a first delta (or before any)."""
    if api == "chat":
        base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1-mini"}
        first = {**base, "choices": [{"index": 0, "delta": {"content": "Hel"}}]}
        failure = {"error": {"message": "overloaded: boom", "type": code}}
        return sse(first, failure) if delta else sse(failure)
    response: dict[str, Any] = {"id": "r", "object": "response", "status": "failed", "output": []}
    failed = {**response, "error": {"code": code, "message": "the model crashed: boom"}}
    text = (
        "response.output_text.delta",
        {"type": "response.output_text.delta", "item_id": "m", "delta": "Hel"},
    )
    events = [
        *([text] if delta else []),
        ("response.failed", {"type": "response.failed", "response": failed}),
    ]
    return sse(*events, named=True)


# A bad event after the first delta, per API: not JSON, not an object, not of its kind's shape.
BAD: dict[str, dict[Api, bytes]] = {
    "not-json": {"chat": b"data: {not json\n\n", "responses": b"data: {not json\n\n"},
    "not-an-object": {"chat": b"data: [1, 2]\n\n", "responses": b"data: [1, 2]\n\n"},
    "wrong-shape": {
        "chat": b'data: {"choices": "none"}\n\n',
        "responses": b'data: {"type": "response.completed", "response": {"status": "completed"}}\n\n',
    },
}


def _fault(api: Api, fault: str) -> Reply:
    if fault == "failure":
        return _failure(api)
    wire = wire_of(api)
    if fault == "truncated":
        return wire.truncated(["Hel", "lo"])
    full = wire.text(["Hel", "lo"])
    assert full.chunks is not None
    at = wire.head + 1
    return replace(full, chunks=[*full.chunks[:at], BAD[fault][api], *full.chunks[at:]])


@pytest.mark.usefixtures("use")
@pytest.mark.parametrize("fault", ["failure", *BAD, "truncated"])
def test_stream_faults_end_the_same_on_both_paths(
    server: FakeServer, api: Api, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """A reported failure, a bad event and a stream without its end-of-answer event each end as the
    same ProviderError on both paths, once a delta reached the caller (so not repeated)."""
    errors: list[ProviderError] = []
    for path in ("lean", "sdk"):
        if path == "sdk":
            _sdk_path(monkeypatch)
        server.replies.append(_fault(api, fault))
        seen: list[str] = []
        with pytest.raises(ProviderError) as info:
            for delta in ask.stream("Greet."):
                seen.append(delta)
        assert seen == (["Hel", "lo"] if fault == "truncated" else ["Hel"])
        errors.append(info.value)
    assert len(server.requests) == 2  # one each: a delta had reached the caller
    lean, sdk = errors
    assert (lean.retryable, lean.status_code) == (sdk.retryable, sdk.status_code)
    assert lean.retryable  # retryable, but not repeated: a delta had reached the caller
    if fault in ("failure", "truncated", "not-json"):
        assert str(lean) == str(sdk)


@pytest.mark.usefixtures("use")
@pytest.mark.parametrize("path", ["lean", "sdk"])
def test_transient_failure_reported_before_any_delta_is_retried(
    server: FakeServer, api: Api, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """SPEC §17: a server error reported inside the stream before anything reached the caller is
    asked again; a rejected request reported the same way is not."""
    if path == "sdk":
        _sdk_path(monkeypatch)
    server.replies += [_failure(api, delta=False), streamed(api, ["Hel", "lo"])]
    with override(retry_wait_initial=0, retry_wait_max=0, retry_wait_jitter=0):
        assert "".join(ask.stream("Greet.")) == "Hello"
        assert len(server.requests) == 2
        server.replies.append(_failure(api, "invalid_request_error", delta=False))
        with pytest.raises(ProviderError) as info:
            list(ask.stream("Greet."))
    assert len(server.requests) == 3
    assert (info.value.retryable, info.value.status_code) == (False, 400)

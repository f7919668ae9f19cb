"""OpenAI's lean send path against the SDK's own ``create``: the same bytes on the wire, the same answers.

Each case runs once through the lean path (``client.post`` with Alloy's body) and once with the
SDK's ``create`` forced; the fake server must see byte-identical bodies, the same path and the
same auth header, and the call must return the same value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from alloy import ProviderError, ask, command, override, tool
from alloy.providers import _openai_wire as wire

from .server import FakeServer, Reply
from .test_openai import KEY, Api, reply


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
@pytest.mark.parametrize(("name", "call", "replies"), CASES, ids=[c[0] for c in CASES])
def test_lean_and_sdk_paths_send_identical_bytes(
    server: FakeServer,
    api: Api,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    call: Callable[[], Any],
    replies: Callable[[Api], list[Reply]],
) -> None:
    """The lean path's requests are the SDK's, byte for byte, and give the same answer."""
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
    for mine, theirs in zip(lean_requests, server.requests, strict=True):
        assert mine.headers["authorization"] == theirs.headers["authorization"] == f"Bearer {KEY}"
        assert mine.headers.get("content-type") == theirs.headers.get("content-type")


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
    kwargs = {"input": [], "model": "m", "instructions": "x"}
    assert list(wire.body("responses", kwargs)) == ["model", "stream", "input", "instructions"]

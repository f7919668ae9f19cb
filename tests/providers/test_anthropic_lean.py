"""Anthropic's lean send path against the SDK's own ``create``: the same bytes on the wire, the same answers.

Each case runs once through the lean path (``client.post`` with the body Alloy encoded) and once
with the SDK's ``messages.create`` forced; the fake server must see byte-identical bodies, the
same path and the same headers, and the call must return the same value.
"""

from __future__ import annotations

import asyncio
import datetime
import inspect
import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import pytest
from anthropic._data import DEPRECATED_MODELS, MODELS_TO_WARN_WITH_THINKING_ENABLED
from anthropic.resources.messages import Messages

from alloy import Document, Image, ProviderError, ask, command, override, tool
from alloy._plan import OUTPUT_TOOL
from alloy.providers import _anthropic_wire as wire
from alloy.providers import anthropic as adapter

from ..unit.test_inputs import PDF, png
from .server import FakeServer, Recorded, Reply
from .streams import _anthropic_tool
from .test_anthropic import KEY, MODEL, error, message, streamed, text, tool_use


@dataclass
class City:
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
PARIS: dict[str, Any] = {"name": "Paris", "population": None}
PARTS = [
    "Compare these.",
    Image(png()),
    Image.from_url("https://example.com/scan.png"),
    Document(PDF),
    Document.from_url("https://example.com/contract.pdf"),
]


def ok(t: str) -> Reply:
    return Reply(200, message(text(t)))


# (name, the call, the replies it needs): each reply list is sent once per path.
Case = tuple[str, Callable[[], Any], Callable[[], list[Reply]]]
CASES: list[Case] = [
    ("text", lambda: ask("Hi"), lambda: [ok("hello")]),
    ("output-config-and-cached-system", lambda: city("France"), lambda: [ok(CITY)]),
    (
        "plain-system-no-cache",
        lambda: ask("Hi", system="Be brief.", prompt_cache=False),
        lambda: [ok("hi")],
    ),
    (
        "forced-tool",  # a model before the 4.5 generation: the answer comes through a forced tool
        lambda: city.with_options(model="anthropic:claude-3-5-haiku-20241022")("France"),
        lambda: [
            Reply(
                200,
                message(
                    {"type": "tool_use", "id": "toolu_1", "name": OUTPUT_TOOL, "input": PARIS},
                    stop_reason="tool_use",
                ),
            )
        ],
    ),
    (
        "tool-round-trip",
        lambda: ask("How many A1?", tools=[stock]),
        lambda: [
            Reply(200, message(tool_use("toolu_1", "stock", sku="A1"), stop_reason="tool_use")),
            ok("3 left"),
        ],
    ),
    ("images-and-documents", lambda: ask(PARTS), lambda: [ok("alike")]),
    (
        "settings-and-extra",
        lambda: ask(
            "Hi",
            temperature=0.3,
            max_tokens=50,
            extra={
                "metadata": {"user_id": "u-1"},
                "stop_sequences": ["END"],
                "top_k": 5,
                "custom_field": {"a": [1, 2.5, None, True]},
                "extra_body": {"service_tier": "auto", "zz": "last"},
            },
        ),
        lambda: [ok("ok")],
    ),
    # Alloy's client has its own timeout, so create derives none from a large max_tokens (and
    # does not ask for streaming): both paths send it with the same timeout headers.
    ("large-max-tokens", lambda: ask("Hi", max_tokens=100_000, timeout=30), lambda: [ok("long")]),
    ("unicode", lambda: ask("Grüße, 東京 — “quotes” \u2028"), lambda: [ok("ja")]),
]

# Headers that differ between any two requests, whichever path sent them; and the W3C trace context
# that the SDK's ``create`` adds for its own span once any test has set a recording tracer provider
# (the lean ``post`` makes no SDK span: Alloy's spans cover the call; docs/observability.md), so the
# comparison does not depend on which tests ran before.
_VARYING = frozenset({"x-stainless-retry-count", "traceparent", "tracestate"})


@pytest.fixture
def claude(server: FakeServer) -> Iterator[FakeServer]:
    adapter.ADAPTER.forget_refusals()
    with override(model=f"anthropic:{MODEL}", anthropic_base_url=server.url, anthropic_api_key=KEY):
        yield server
    adapter.ADAPTER.forget_refusals()


def _sdk_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every call takes the SDK's ``create`` (as it does with an ``extra_headers`` extra)."""
    monkeypatch.setattr(wire, "content", lambda kwargs: None)


def _lean_taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, per request, whether it took the lean path."""
    took: list[bool] = []
    real = wire.content

    def spy(kwargs: Any) -> bytes | None:
        body = real(kwargs)
        took.append(body is not None)
        return body

    monkeypatch.setattr(wire, "content", spy)
    return took


def _headers(r: Recorded) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k not in _VARYING}


@pytest.mark.parametrize(("name", "call", "replies"), CASES, ids=[c[0] for c in CASES])
def test_lean_and_sdk_paths_send_identical_bytes(
    claude: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    call: Callable[[], Any],
    replies: Callable[[], list[Reply]],
) -> None:
    """The lean path's requests are the SDK's, byte for byte and header for header, with the same answer."""
    took = _lean_taken(monkeypatch)
    claude.replies += replies()
    lean = call()
    assert took and all(took)
    lean_requests = list(claude.requests)
    claude.requests.clear()

    _sdk_path(monkeypatch)
    claude.replies += replies()
    sdk = call()

    assert lean == sdk
    assert [r.body for r in lean_requests] == [r.body for r in claude.requests]
    assert [(r.method, r.path) for r in lean_requests] == [(r.method, r.path) for r in claude.requests]
    assert [_headers(r) for r in lean_requests] == [_headers(r) for r in claude.requests]
    assert lean_requests[0].headers["anthropic-version"] and lean_requests[0].headers["x-api-key"] == KEY


def test_async_lean_path_sends_the_same_bytes(claude: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The async lean path posts the same body and headers as the SDK's async ``create``."""
    claude.replies += [ok(CITY), ok(CITY)]
    assert asyncio.run(city.async_("France")).name == "Paris"
    _sdk_path(monkeypatch)
    assert asyncio.run(city.async_("France")).name == "Paris"
    first, second = claude.requests
    assert first.body == second.body and _headers(first) == _headers(second)
    assert first.headers["x-stainless-async"] == "async:asyncio"


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_streams_send_identical_bytes(
    claude: FakeServer, monkeypatch: pytest.MonkeyPatch, use_async: bool
) -> None:
    """A stream posts ``create(stream=True)``'s bytes and headers, and reads the same deltas."""

    def run() -> list[str]:
        if not use_async:
            return list(ask.stream("Count.", system="Be brief."))

        async def collect() -> list[str]:
            return [d async for d in ask.stream_async("Count.", system="Be brief.")]

        return asyncio.run(collect())

    took = _lean_taken(monkeypatch)
    claude.replies.append(streamed("one ", "two"))
    lean = run()
    assert took == [True]
    _sdk_path(monkeypatch)
    claude.replies.append(streamed("one ", "two"))
    assert run() == lean == ["one ", "two"]
    first, second = claude.requests
    assert first.body == second.body and _headers(first) == _headers(second)
    assert first.json["stream"] is True and list(first.json).index("stream") > list(first.json).index("model")


def test_a_streamed_forced_tool_reads_the_same_on_both_paths(
    claude: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lean stream's events (their JSON as it is) give what the SDK's event objects give:
    the same partial values, from ``input_json_delta`` pieces, to the same final output."""
    haiku = city.with_options(model="anthropic:claude-3-5-haiku-20241022")

    def reply() -> Reply:
        return _anthropic_tool(OUTPUT_TOOL, ['{"name": "Pa', 'ris", "popul', 'ation": null}'])

    took = _lean_taken(monkeypatch)
    claude.replies.append(reply())
    lean = list(haiku.stream_partial("France"))
    assert took == [True]
    _sdk_path(monkeypatch)
    claude.replies.append(reply())
    assert list(haiku.stream_partial("France")) == lean
    assert lean[-1] == City("Paris", None) and len(lean) > 1
    assert claude.requests[0].body == claude.requests[1].body


def test_every_body_key_lands_where_create_puts_it(
    claude: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each keyword of ``create``'s body, given through ``extra``, in ``create``'s order (extra_body
    keys merged in place or appended)."""
    extra: dict[str, Any] = {
        "thinking": {"type": "adaptive"},
        "speed": "standard",
        "service_tier": "standard_only",
        "metadata": {"user_id": "u"},
        "inference_geo": "us",
        "diagnostics": {"enabled": True},
        "container": "c-1",
        "cache_control": {"type": "ephemeral"},
        "stop_sequences": ["X"],
        "extra_body": {"zz": 1, "container": "c-2", "aa": 2},
    }
    claude.replies += [ok("a"), ok("a")]
    took = _lean_taken(monkeypatch)
    ask("Hi", system="S", tools=[stock], extra=extra)
    assert took == [True]
    _sdk_path(monkeypatch)
    ask("Hi", system="S", tools=[stock], extra=extra)
    lean, sdk = claude.requests
    assert lean.body == sdk.body
    assert list(lean.json) == [k for k in wire.BODY_KEYS if k in lean.json] + ["zz", "aa"]
    assert lean.json["container"] == "c-2"


def test_a_plans_stable_parts_are_encoded_once_and_the_body_stays_the_same(
    claude: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The output schema and the cached system block are the same objects on every call of a
    plan, and their JSON is reused; each body is still what encoding it whole gives."""
    claude.replies += [ok(CITY), ok(CITY)]
    encoded: list[object] = []
    real = wire._ENCODER.encode

    class Spy:
        def encode(self, o: object) -> str:
            encoded.append(o)
            return real(o)

    monkeypatch.setattr(wire, "_ENCODER", Spy())
    monkeypatch.setattr(wire, "_stable", {})  # as in a fresh process
    monkeypatch.setattr(wire, "_fragments", {})
    city("France")
    city("Spain")
    first, second = claude.requests
    for sent in (first, second):
        assert sent.body == json.dumps(sent.json, ensure_ascii=False, separators=(",", ":")).encode()
    assert first.json["output_config"] == second.json["output_config"]
    assert first.json["messages"] != second.json["messages"]
    stable = [first.json["output_config"], first.json["system"]]
    once = [o for o in encoded if o in stable]  # each encoded once, at the first call
    assert len(once) == 2 and all(o in once for o in stable)
    assert wire._encode({1: "a", "b": [1.5, None]}) == real({1: "a", "b": [1.5, None]})  # non-str key


def test_body_keys_are_creates_body_keys() -> None:
    """``BODY_KEYS`` is ``create``'s signature without the keywords that are not body fields, so a
    newer SDK's new keyword shows up here (until then it takes ``create``)."""
    not_body = {
        "self",
        "user_profile_id",
        "workspace_id",
        "extra_headers",
        "extra_query",
        "extra_body",
        "timeout",
    }
    assert [p for p in inspect.signature(Messages.create).parameters if p not in not_body] == list(
        wire.BODY_KEYS
    )


def test_what_only_create_can_send_takes_create(claude: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Header keywords (``extra_headers``, ``workspace_id``) and values the SDK converts on its way
    (a datetime) go through ``create``, which sends them as before."""
    when = datetime.datetime(2026, 12, 1, 12, 30, tzinfo=datetime.UTC)
    took = _lean_taken(monkeypatch)
    claude.replies += [ok("a"), ok("b")]
    assert (
        ask("Hi", extra={"extra_headers": {"anthropic-beta": "files-api-2025-04-14"}, "workspace_id": "w1"})
        == "a"
    )
    assert ask("Hi", extra={"metadata": {"at": when}}) == "b"
    headers, body = claude.requests[0].headers, claude.requests[0].json
    assert headers["anthropic-beta"] == "files-api-2025-04-14" and headers["anthropic-workspace-id"] == "w1"
    assert "extra_headers" not in body and "workspace_id" not in body
    assert claude.requests[1].json["metadata"] == {"at": "2026-12-01T12:30:00+00:00"}
    assert took == [False, False]


def test_a_model_create_warns_about_still_warns(claude: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deprecated model, and ``thinking.type=enabled`` on a model the SDK warns about for it,
    take ``create``, which warns as it always did; the same model without thinking goes lean."""
    # The SDK's own lists (they change between SDK releases): a deprecated model, and one it warns
    # about with thinking on.
    deprecated = next(m for m in DEPRECATED_MODELS if m not in MODELS_TO_WARN_WITH_THINKING_ENABLED)
    warns = next(m for m in MODELS_TO_WARN_WITH_THINKING_ENABLED if m not in DEPRECATED_MODELS)
    took = _lean_taken(monkeypatch)
    claude.replies += [ok("hi"), ok("hi"), ok("hi")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert ask("Hi", model=f"anthropic:{deprecated}") == "hi"
        thinking = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
        assert ask("Hi", model=f"anthropic:{warns}", extra=thinking) == "hi"
        assert ask("Hi", model=f"anthropic:{warns}") == "hi"
    assert took == [False, False, True]
    kinds = [(w.category, str(w.message)) for w in caught]
    assert any(issubclass(c, DeprecationWarning) and deprecated in m for c, m in kinds)
    assert any(issubclass(c, UserWarning) and "thinking.type=enabled" in m for c, m in kinds)


def test_lean_path_errors_are_the_sdks(claude: FakeServer) -> None:
    """A 4xx on the lean path is the SDK's APIStatusError subclass underneath, classified as before."""
    claude.replies.append(error(401, "authentication_error", "invalid x-api-key"))
    with pytest.raises(ProviderError) as info:
        ask("Hi")
    assert info.value.status_code == 401 and not info.value.retryable
    assert isinstance(info.value.__cause__, anthropic.AuthenticationError)
    assert "ALLOY_ANTHROPIC_API_KEY" in str(info.value)


def test_parse_response_reads_bytes_the_lean_model_and_the_sdks_message() -> None:
    """The three forms of one answer parse to the same ``Response`` (batch results are SDK objects)."""
    body = message(text("one "), tool_use("toolu_1", "stock", sku="A1"), text("two"), stop_reason="tool_use")
    body["usage"] |= {"cache_read_input_tokens": 10, "cache_creation_input_tokens": 5}
    as_bytes = wire.parse_response(json.dumps(body).encode())
    assert as_bytes == wire.parse_response(wire.Answer.model_validate(body))
    assert as_bytes == wire.parse_response(anthropic.types.Message.model_validate(body))
    assert as_bytes.text == "one two" and as_bytes.tool_calls[0].arguments == {"sku": "A1"}
    assert (as_bytes.usage.input_tokens, as_bytes.usage.cached_input_tokens) == (36, 10)

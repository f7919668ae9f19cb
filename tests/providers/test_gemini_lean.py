"""Gemini's lean answers against the SDK's own: the same bytes on the wire, the same results.

Each case runs once as the adapter sends it (``contents`` as dicts, the config asking for the raw
body, the answer read by ``_gemini_wire.Answer``) and once in the SDK's full form (typed
``Content`` objects, the SDK's ``GenerateContentResponse`` read back): the fake server must see
byte-identical bodies on the same path with the same key, and the call must give the same value.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from google.genai import errors, models, types
from pydantic import BaseModel

from alloy import Image, Message, Prompt, ProviderError, Result, ask, command, override, tool
from alloy.providers import _gemini_wire
from alloy.providers._gemini_wire import lean_type
from alloy.providers.gemini import CALL_ID_PREFIX

from .server import FakeServer, Reply
from .test_gemini import KEY, MODEL, answer, call, error, one_certificate, reply, text

__all__ = ["one_certificate"]  # test_gemini's fixture: a CA file of one certificate

CURRENT = "gemini-3-flash-preview"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))  # not a picture, but a PNG by its signature
TOKEN = "Y29udGludWU="  # base64 of b"continue"


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


@command
def say(prompt: Prompt) -> Prompt:
    return prompt


@command(tools=[stock], model=f"gemini:{CURRENT}")
def count(sku: str) -> str:
    return f"How many {sku}?"


def cut(*parts: dict[str, Any]) -> Reply:
    """An answer stopped at the per-request token limit, with a token to ask for the rest."""
    body = answer(*parts, finish="CONTINUATION")
    body["candidates"][0]["continuationToken"] = TOKEN
    return Reply(200, body)


def thinking(*parts: dict[str, Any]) -> Reply:
    """An answer with a thought summary first, thinking tokens and cached prompt tokens."""
    body = answer({"text": "Let me think.", "thought": True}, *parts, thoughts=7)
    body["usageMetadata"]["cachedContentTokenCount"] = 4
    return Reply(200, body)


Case = tuple[str, Callable[[], Result[Any]], Callable[[], list[Reply]]]
CASES: list[Case] = [
    ("text", lambda: say.run("Hi"), lambda: [reply(text("hello"))]),
    ("thinking", lambda: say.run("Hi"), lambda: [thinking(text("hel"), text("lo"))]),
    (
        "settings-and-extra",
        lambda: say.with_options(
            system="Be brief.",
            temperature=0.3,
            max_tokens=50,
            extra={"thinking_config": {"thinking_budget": 0}, "top_k": 5},
        ).run("Hi"),
        lambda: [reply(text("ok"))],
    ),
    ("typed", lambda: city.run("France"), lambda: [reply(text('{"name": "Paris", "population": null}'))]),
    (
        "tool-round-trip-signed",
        lambda: count.run("A1"),
        lambda: [reply(call("stock", signature="c2lnbmVk", id_="fc-1", sku="A1")), reply(text("3 left"))],
    ),
    (
        "tool-round-trip-unsigned",
        lambda: count.run("A1"),
        lambda: [reply(call("stock", sku="A1")), reply(text("3 left"))],
    ),
    ("unicode", lambda: say.run("Grüße, 東京 — “quotes” \u2028"), lambda: [reply(text("ja"))]),
    (
        "image-bytes-and-url",
        lambda: say.run(["What is it?", Image(PNG), Image.from_url("https://example.com/a.png")]),
        lambda: [reply(text("a PNG"))],
    ),
    (
        "continued",
        lambda: city.run("France"),
        lambda: [cut(text('{"name": "Pa')), cut(text('ris", "popu')), reply(text('lation": null}'))],
    ),
    (
        "continuation-off",
        lambda: say.with_options(extra={"automatic_continuation": False}).run("Hi"),
        lambda: [cut(text("half"))],
    ),
]


def _made_up_ids(result: Result[Any]) -> list[Message]:
    """The messages with the ids the adapter made up (random) replaced by one word."""
    ids = {c.id for m in result.messages for c in m.tool_calls if c.id.startswith(CALL_ID_PREFIX)}
    return [
        dataclasses.replace(
            m,
            tool_calls=tuple(
                dataclasses.replace(c, id="made-up") if c.id in ids else c for c in m.tool_calls
            ),
            tool_call_id="made-up" if m.tool_call_id in ids else m.tool_call_id,
        )
        for m in result.messages
    ]


@pytest.fixture(autouse=True)
def _cheap_tls(one_certificate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh SDK client per test loads the CA bundle; one certificate will do (as in test_gemini)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(one_certificate))


@pytest.fixture
def gemini(server: FakeServer) -> Iterator[FakeServer]:
    with override(model=f"gemini:{MODEL}", gemini_base_url=server.url, gemini_api_key=KEY):
        yield server


def _plain(value: Any) -> Any:
    """*value* with each lean SDK model in it (``_gemini_wire.lean``) validated again as its SDK type."""
    if isinstance(value, list):
        return [_plain(v) for v in cast("list[Any]", value)]
    if isinstance(value, BaseModel) and type(value).__module__ == _gemini_wire.__name__:
        sdk: type[BaseModel] = type(value).__bases__[0]
        assert sdk.__module__ == types.__name__ and lean_type(sdk) is type(value)
        return sdk.model_validate({f: _plain(getattr(value, f)) for f in value.model_fields_set})
    return value


def _sdk_form(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``generate_content`` gets the SDK's full form, as before the lean path: typed
    ``Content``s, the system instruction as a string, and a plain ``GenerateContentConfig`` (not
    the lean subclass) without the raw body, so the SDK builds its own response objects (and
    follows continuations itself)."""

    def typed(kwargs: dict[str, Any]) -> dict[str, Any]:
        given = kwargs["contents"]
        given = [_plain(given)] if isinstance(given, types.Content) else given
        config: types.GenerateContentConfig = kwargs["config"]
        update: dict[str, Any] = {"should_return_http_response": None}
        if isinstance(system := config.system_instruction, types.Content):
            update["system_instruction"] = "".join(p.text or "" for p in system.parts or ())
        contents = [types.Content.model_validate(c) for c in given]
        fields = {name: _plain(getattr(config, name)) for name in config.model_fields_set}
        plain = types.GenerateContentConfig.model_validate(fields | update)
        return kwargs | {"contents": contents, "config": plain}

    sync, coro = models.Models.generate_content, models.AsyncModels.generate_content

    def generate_content(self: models.Models, **kwargs: Any) -> types.GenerateContentResponse:
        return sync(self, **typed(kwargs))

    async def agenerate_content(self: models.AsyncModels, **kwargs: Any) -> types.GenerateContentResponse:
        return await coro(self, **typed(kwargs))

    monkeypatch.setattr(models.Models, "generate_content", generate_content)
    monkeypatch.setattr(models.AsyncModels, "generate_content", agenerate_content)


@pytest.mark.parametrize(("name", "run", "replies"), CASES, ids=[c[0] for c in CASES])
def test_lean_and_sdk_forms_send_identical_bytes(
    gemini: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    run: Callable[[], Result[Any]],
    replies: Callable[[], list[Reply]],
) -> None:
    """The lean form's requests are the SDK's, byte for byte, and give the same answer."""
    gemini.replies += replies()
    lean = run()
    lean_requests = list(gemini.requests)
    gemini.requests.clear()

    _sdk_form(monkeypatch)
    gemini.replies += replies()
    sdk = run()

    assert (lean.output, lean.usage, lean.model, lean.attempts) == (
        sdk.output,
        sdk.usage,
        sdk.model,
        sdk.attempts,
    )
    assert _made_up_ids(lean) == _made_up_ids(sdk)
    assert len(lean_requests) == len(replies())
    assert [r.body for r in lean_requests] == [r.body for r in gemini.requests]
    assert [r.path for r in lean_requests] == [r.path for r in gemini.requests]
    for mine, theirs in zip(lean_requests, gemini.requests, strict=True):
        assert mine.headers["x-goog-api-key"] == theirs.headers["x-goog-api-key"] == KEY
        assert mine.headers.get("content-type") == theirs.headers.get("content-type")


@pytest.mark.parametrize(("name", "run", "replies"), [CASES[3], CASES[4]], ids=["typed", "tools"])
def test_the_sdk_reads_the_config_without_walking_its_fields(
    gemini: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    run: Callable[[], Result[Any]],
    replies: Callable[[], list[Reply]],
) -> None:
    """The SDK's request transform asks ``field in model`` of every field it reads; for the config
    and what is in it (system instruction, function declarations, tool config) that is answered
    without iterating the model (the SDK still walks the contents it builds per call, and the
    ``Tool`` it merges the declarations into)."""
    walked: list[type[BaseModel]] = []
    real = BaseModel.__iter__

    def spy(self: BaseModel) -> Any:
        walked.append(type(self))
        return real(self)

    monkeypatch.setattr(BaseModel, "__iter__", spy)
    gemini.replies += replies()
    run()
    assert walked  # the SDK's own models (its parameters, contents given as dicts) still are walked
    config_types = (types.GenerateContentConfig, types.FunctionDeclaration, types.FunctionCallingConfig)
    assert [
        t for t in walked if issubclass(t, config_types) or t.__module__ == _gemini_wire.__name__
    ] == [], set(walked)


def test_a_continued_answer_is_whole_with_every_requests_usage(gemini: FakeServer) -> None:
    """CONTINUATION: the rest is asked for with the token, the parts joined, the usage summed."""
    gemini.replies += [cut(text('{"name": "Pa')), reply(text('ris", "population": null}'))]

    result = city.run("France")

    assert result.output == City(name="Paris", population=None)
    assert [r.json.get("continuationToken") for r in gemini.requests] == [None, TOKEN]
    assert (result.usage.input_tokens, result.usage.output_tokens) == (24, 10)


def test_async_lean_form_sends_the_same_bytes(gemini: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The async path reads the raw body and follows a continuation as the sync one does."""
    replies = [cut(text('{"name": "Pa')), reply(text('ris", "population": null}'))]
    gemini.replies += replies
    assert asyncio.run(city.async_("France")).name == "Paris"
    _sdk_form(monkeypatch)
    gemini.replies += replies
    assert asyncio.run(city.async_("France")).name == "Paris"
    assert [r.body for r in gemini.requests[:2]] == [r.body for r in gemini.requests[2:]]


@pytest.mark.parametrize("where", ["answer", "prompt"])
def test_a_blocked_answer_has_the_sdks_error(
    gemini: FakeServer, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """A blocked answer or prompt: the same message and body (ratings included) on both forms."""
    ratings = [
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
        {"category": "HARM_CATEGORY_HARASSMENT", "probabilityScore": 0.25, "severity": "HARM_SEVERITY_LOW"},
        {"category": "HARM_CATEGORY_HATE_SPEECH", "aFieldFromTheFuture": 1},  # dropped, as the SDK drops it
    ]
    if where == "answer":
        body = answer(text(""), finish="SAFETY")
        body["candidates"][0]["safetyRatings"] = ratings
    else:
        feedback = {"blockReason": "SAFETY", "safetyRatings": ratings}
        body = {"promptFeedback": feedback, "usageMetadata": {"promptTokenCount": 3}, "modelVersion": MODEL}
    seen: list[ProviderError] = []
    for form in ("lean", "sdk"):
        if form == "sdk":
            _sdk_form(monkeypatch)
        gemini.replies.append(Reply(200, body))
        with pytest.raises(ProviderError) as info:
            ask("Hi")
        seen.append(info.value)
    lean, sdk = seen
    assert str(lean) == str(sdk) and "blocked" in str(lean) and not lean.retryable
    assert lean.body == sdk.body and lean.body["safety_ratings"][0]["blocked"] is True
    assert lean.body["safety_ratings"][1]["probability_score"] == 0.25


@pytest.mark.parametrize("body", [{"candidates": "none"}, [1, 2], {"candidates": [{"content": 7}]}, {}])
def test_an_answer_of_the_wrong_shape_is_a_retryable_provider_error(gemini: FakeServer, body: Any) -> None:
    """JSON that is no GenerateContentResponse (SPEC 17): retryable, retried, then a ProviderError."""
    gemini.replies += [Reply(200, body), reply(text("fine"))]
    assert ask("Hi") == "fine"
    gemini.replies.append(Reply(200, body))
    with pytest.raises(ProviderError, match="could not be read") as info:
        ask("Hi", retry_attempts=1)
    assert info.value.retryable


def test_errors_are_the_sdks(gemini: FakeServer) -> None:
    """A 4xx on the lean form is the SDK's ClientError underneath, classified as before."""
    gemini.replies.append(error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."))
    with pytest.raises(ProviderError, match="ALLOY_GEMINI_API_KEY") as info:
        ask("Hi")
    assert info.value.status_code == 400 and not info.value.retryable
    assert isinstance(info.value.__cause__, errors.ClientError)

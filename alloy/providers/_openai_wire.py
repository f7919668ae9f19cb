"""What OpenAI's two wire APIs share: the lean path's body, tool calls, reading an answer, errors.

Alloy's request is complete and checked before it reaches the SDK, so the SDK's request transform
(``maybe_transform`` walking the ``TypedDict`` unions of ``create``) and its full response objects
are pure cost. ``body`` lays the ``create`` keyword arguments out exactly as the SDK's ``create``
does (its key order: ``model``, ``stream``, ``service_tier``, for Chat Completions ``messages``,
then the rest alphabetically; ``extra_body`` merged last), for ``client.post(path, body=...)``:
same client, auth, headers, timeout, errors and connection pool, same bytes on the wire
(``tests/providers/test_openai_lean.py`` compares them). ``Fields`` is the base of the lean
models (``_openai_chat``, ``_openai_responses``): only the fields Alloy reads, validated from the
raw bytes in one ``model_validate_json``. ``classify`` maps the SDK's exceptions, raised on
either path, to ``ProviderError``.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, cast

import openai
import pydantic

from .._errors import ProviderError, is_retryable_status, malformed, read_retry_after, snippet
from .._messages import Request, Response, ToolCall, ToolCallDelta, ToolSpec, Usage
from . import StreamItem

log = logging.getLogger("alloy.providers.openai")

Api = Literal["responses", "chat"]
PROVIDER = "openai"

PATH: dict[Api, str] = {"responses": "/responses", "chat": "/chat/completions"}
# What ``create`` takes that is not part of the body; with any of them the SDK path is taken.
SDK_ONLY = frozenset({"extra_headers", "extra_query", "timeout"})
_FIRST: dict[Api, tuple[str, ...]] = {
    "responses": ("model", "stream", "service_tier"),
    "chat": ("model", "stream", "service_tier", "messages"),
}


def body(api: Api, kwargs: Mapping[str, Any], *, stream: bool = False) -> dict[str, Any]:
    """The JSON body ``create(**kwargs, stream=stream)`` sends, key for key and in its order."""
    first = _FIRST[api]
    sent = {k: stream if k == "stream" else kwargs[k] for k in first if k == "stream" or k in kwargs}
    sent.update((k, kwargs[k]) for k in sorted(kwargs) if k not in first and k != "extra_body")
    return sent | dict(kwargs.get("extra_body") or {})


# --- requests: what both APIs send alike ------------------------------------------------------------


def call_id(value: str) -> str:
    """A call id OpenAI takes (at most 40 characters): a longer one from a history recorded
    elsewhere maps to a stable hash, the same for the call and its result."""
    if len(value) <= 40:
        return value
    return "call_" + hashlib.sha256(value.encode()).hexdigest()[:32]


def call_arguments(call: ToolCall) -> str:
    """A tool call's arguments as the JSON text OpenAI sends them in."""
    return json.dumps(call.arguments, ensure_ascii=False)


def function(t: ToolSpec) -> dict[str, Any]:
    """A tool's name, description and parameters."""
    return {"name": t.name, "description": t.description, "parameters": t.parameters}


def tool_choice(choice: str, named: Callable[[str], dict[str, Any]]) -> str | dict[str, Any]:
    """``auto``/``required``/``none`` as they are; a tool's name as *named* spells it."""
    return choice if choice in ("auto", "required", "none") else named(choice)


def json_schema(request: Request) -> dict[str, Any] | None:
    """The ``json_schema`` format for the output mode; ``None`` when only the prompt asks for JSON."""
    out = request.output
    if out is None or out.mode not in ("native_strict", "native"):
        return None
    strict = out.mode == "native_strict"
    if not strict:
        log.debug("json_schema %r sent with strict=false: the type cannot be expressed strictly", out.name)
    return {"name": out.name, "schema": out.schema, "strict": strict}


@functools.cache
def _sdk_params(api: Api) -> frozenset[str]:
    # Imported here, not at the top: a Chat Completions process never loads the Responses resources
    # (about 3 MB), and the other way round.
    if api == "responses":
        from openai.resources.responses import Responses

        return frozenset(inspect.signature(Responses.create).parameters)
    from openai.resources.chat import Completions

    return frozenset(inspect.signature(Completions.create).parameters)


def with_extra(kwargs: dict[str, Any], extra: Mapping[str, Any], api: Api) -> dict[str, Any]:
    """``extra`` merged last: SDK parameters as keywords, anything else (a server's own field) in ``extra_body``."""
    for key, value in extra.items():
        if key in _sdk_params(api):
            kwargs[key] = value
        else:
            kwargs["extra_body"] = {**kwargs.get("extra_body", {}), key: value}
    return kwargs


# --- answers --------------------------------------------------------------------------------------


class Fields(pydantic.BaseModel):
    """A lean model: the fields Alloy reads, from the bytes or from the SDK's object of them."""

    model_config = pydantic.ConfigDict(extra="ignore", from_attributes=True)


class TokenDetails(Fields):
    """The prompt's cached tokens: read from the cache, and written to it (where reported)."""

    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


def usage(input_tokens: int, output_tokens: int, details: object) -> Usage:
    """Usage with the cached tokens of *details* (``TokenDetails`` or the SDK's; compatible servers
    leave it out, or parts of it, although the SDK types some of it as required)."""
    cached = getattr(details, "cached_tokens", None) or 0
    written = getattr(details, "cache_write_tokens", None) or 0
    return Usage(input_tokens, output_tokens, 0, cached, written)


_Lean = TypeVar("_Lean", bound=Fields)


def lean(shape: type[_Lean], raw: object) -> _Lean:
    """*raw* (the answer's bytes, or the SDK's object of it) as the lean model of the fields Alloy reads.

    Raises:
        ProviderError: (retryable) not JSON, or not that shape.
    """
    try:
        if isinstance(raw, bytes | str):
            return shape.model_validate_json(raw)
        return shape.model_validate(raw, from_attributes=True)
    except pydantic.ValidationError as exc:
        raise malformed(PROVIDER, exc) from exc


def tool_call(name: str, arguments: str, call_id: str) -> ToolCall:
    """A tool call. Arguments that are not a JSON object go on as text, so the tool's argument
    validation shows the model what it sent."""
    try:
        args: Any = json.loads(arguments or "{}")
    except ValueError:
        args = None
    if not isinstance(args, dict):
        args = {"arguments_were_not_a_json_object": arguments}
    return ToolCall(name, args, call_id)  # pyright: ignore[reportUnknownArgumentType]


class Deltas:
    """What a stream has delivered so far: its text pieces, its tool calls' argument pieces, and
    whether its end-of-answer event came (``final`` then holds usage, finish reason and model)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.calls: dict[int | str, tuple[int, str, str, list[str]]] = {}  # key → (index, id, name, pieces)
        self.final = Response()
        self.done = False

    def feed(self, event: object) -> list[StreamItem]:
        """The deltas in one streamed *event*: its text, and pieces of tool-call arguments."""
        raise NotImplementedError

    def result(self) -> Response:
        """The whole answer, once the stream has ended.

        Raises:
            ProviderError: (retryable) the stream ended before its end-of-answer event.
        """
        raise NotImplementedError

    def piece(self, key: int | str, arguments: str) -> ToolCallDelta:
        """A piece of the arguments of the tool call under *key*, kept and passed on."""
        index, _, name, pieces = self.calls[key]
        pieces.append(arguments)
        return ToolCallDelta(index, name, arguments)


# --- errors ---------------------------------------------------------------------------------------

EVENT_STATUS = {
    "invalid_request_error": 400,
    "rate_limit_exceeded": 429,
    "rate_limit_error": 429,
    "server_error": 500,
    "internal_error": 500,
    "service_unavailable": 503,
    "overloaded_error": 529,
}
"""The status an error reported inside a 200 answer (a stream's ``error`` event, a failed response)
stands for, by its ``code`` or ``type``: whether asking again may help."""


def reported(message: str | None, code: str | None, kind: str | None = None) -> ProviderError:
    """An error the provider reported inside an answer: retryable when its code or type is transient
    (a server error, an overload, a rate limit), else the provider's final word."""
    status = EVENT_STATUS.get(code or "") or EVENT_STATUS.get(kind or "")
    return ProviderError(
        snippet(message or "the provider reported an error", 300),
        provider=PROVIDER,
        status_code=status,
        retryable=status is not None and is_retryable_status(status),
    )


def classify(exc: Exception) -> ProviderError | None:
    """An ``openai`` SDK exception as a ``ProviderError``; ``None`` for anything else."""
    if isinstance(exc, openai.APIStatusError):
        body = exc.body  # the decoded "error" object (untyped JSON), or the raw text
        detail = cast("dict[str, Any]", body).get("message") if isinstance(body, dict) else None
        return ProviderError(
            snippet(detail if isinstance(detail, str) and detail else exc.message, 300),
            provider=PROVIDER,
            status_code=exc.status_code,
            retryable=is_retryable_status(exc.status_code),
            retry_after=read_retry_after(exc.response.headers),
            body=body,
        )
    if isinstance(exc, openai.APIConnectionError):  # timeouts included
        cause = (
            f" ({type(exc.__cause__).__name__}: {snippet(str(exc.__cause__), 120)})" if exc.__cause__ else ""
        )
        return ProviderError(exc.message + cause, provider=PROVIDER, retryable=True)
    if isinstance(exc, openai.APIError) and isinstance(reported_error := cast(object, exc.body), dict):
        error = cast("dict[str, Any]", reported_error)  # an error event in a stream
        code, kind = error.get("code"), error.get("type")
        return reported(
            exc.message, code if isinstance(code, str) else None, kind if isinstance(kind, str) else None
        )
    if isinstance(exc, openai.OpenAIError):
        return ProviderError(snippet(str(exc), 300), provider=PROVIDER)
    return None

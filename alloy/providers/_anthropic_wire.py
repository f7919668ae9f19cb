"""Anthropic's wire: Messages API bodies from a neutral ``Request``, answers back to a ``Response``.

``build_request`` gives the keyword arguments of ``messages.create``. The lean send path skips
``create`` and the SDK's request preparation (``prepare_request_data`` copies the whole body,
node by node, before encoding it): ``content`` lays the same keywords out exactly as ``create``
does (its body keys in its order, then ``extra_body`` merged on top) and encodes them with the
SDK's JSON settings, for the client's public ``post(path, content=...)``. Same client, auth,
headers, timeout, errors and connection pool; the same bytes on the wire
(``tests/providers/test_anthropic_lean.py`` compares them). ``Answer`` holds only the fields Alloy
reads, validated from the answer's bytes in one ``model_validate_json``; ``StreamState`` reads a
stream's events as their JSON objects.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from collections.abc import Callable, Mapping, Sequence
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, cast

import pydantic
from anthropic._data import DEPRECATED_MODELS, MODELS_TO_WARN_WITH_THINKING_ENABLED
from anthropic.resources.messages import Messages

from .._errors import ProviderError, malformed, snippet
from .._messages import Message, Request, Response, ToolCall, ToolCallDelta, Usage
from .._parts import Part
from . import StreamItem, ended_early

if TYPE_CHECKING:
    from anthropic.types import Message as Message_
    from anthropic.types import RawMessageStreamEvent

    from .._settings import Settings

PROVIDER = "anthropic"
PATH = "/v1/messages"
DEFAULT_MAX_TOKENS = 4096
"""The Messages API requires ``max_tokens``; this is sent when the settings have none."""

# The keywords messages.create takes; any other key of ``extra`` goes into the JSON body as it is.
_PARAMS = frozenset(inspect.signature(Messages.create).parameters) - {"self"}
# The body ``create`` builds (anthropic 2.x, ``resources/messages/messages.py``): these keys in
# this order, each left out when not given, then ``extra_body`` merged over them. A keyword that
# is not here (a header such as ``workspace_id``, ``extra_headers``, ``timeout``, one a newer
# SDK adds) takes ``create`` itself.
BODY_KEYS = (
    "max_tokens",
    "messages",
    "model",
    "cache_control",
    "container",
    "diagnostics",
    "inference_geo",
    "metadata",
    "output_config",
    "service_tier",
    "speed",
    "stop_sequences",
    "stream",
    "system",
    "thinking",
    "tool_choice",
    "tools",
)
_LEAN_KEYS = frozenset((*BODY_KEYS, "extra_body"))
# The models ``create`` warns about: deprecated ones, and some with ``thinking`` given. Those
# calls take ``create``, which warns.
_DEPRECATED = frozenset(DEPRECATED_MODELS)
_THINKING_WARNED = frozenset(MODELS_TO_WARN_WITH_THINKING_ENABLED)
# The SDK's encoder (``anthropic._utils._json``) on plain JSON data: compact, UTF-8, no NaN.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_EPHEMERAL = {"type": "ephemeral"}
EVENT_STATUS = {"invalid_request_error": 400, "rate_limit_error": 429, "overloaded_error": 529}
"""The status of an error without one of its own (an ``error`` event in a 200 stream, a batch result)."""
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls", "max_tokens": "length"}


# --- request ----------------------------------------------------------------------------------------


def build_request(request: Request, settings: Settings) -> dict[str, Any]:
    """The keyword arguments of ``messages.create`` for *request* (pure: no I/O)."""
    kwargs: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": wire_messages(request.messages),
    }
    if request.system:
        kwargs["system"] = request.system
    if request.tools:
        kwargs["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            | ({"strict": True} if t.strict else {})
            for t in request.tools
        ]
        kwargs["tool_choice"] = tool_choice(request.tool_choice)
    if request.cache_key:
        _mark_cacheable(kwargs)
    if request.output is not None and request.output.mode in ("native", "native_strict"):
        kwargs["output_config"] = _held(("output_config", request.output.schema), _output_config)
    body: dict[str, Any] = {} if request.temperature is None else {"temperature": request.temperature}
    for key, value in request.extra.items():
        target = kwargs if key in _PARAMS else body
        below = target.get(key)
        target[key] = {**below, **value} if isinstance(below, dict) and isinstance(value, dict) else value
    if body:
        kwargs["extra_body"] = {**body, **kwargs.get("extra_body", {})}
    return kwargs


def content(kwargs: Mapping[str, Any]) -> bytes | None:
    """The bytes ``messages.create(**kwargs)`` sends as its body, or ``None`` where only ``create``
    can send the request: a keyword that is not part of the body, a value that is not plain JSON
    (a pydantic model, a date, a set, a file: the SDK converts those on its way), or a model it
    warns about (the warning comes from ``create``)."""
    model = kwargs.get("model")
    if (
        not _LEAN_KEYS.issuperset(kwargs)
        or model in _DEPRECATED
        or (model in _THINKING_WARNED and kwargs.get("thinking"))
    ):
        return None
    extra: Mapping[str, Any] = kwargs.get("extra_body") or {}
    body = {k: extra[k] if k in extra else kwargs[k] for k in BODY_KEYS if k in kwargs or k in extra}
    body.update((k, v) for k, v in extra.items() if k not in body)
    try:
        return _encode(body).encode()
    except (TypeError, ValueError):
        return None


def _mark_cacheable(kwargs: dict[str, Any]) -> None:
    """Cache breakpoints at the end of the stable prefix: the last tool and the last system block.

    Tools come before the system prompt in Anthropic's cache order, so the two breakpoints cover
    both; the conversation after them is not cached.
    """
    if tools := kwargs.get("tools"):
        tools[-1] = {**tools[-1], "cache_control": _EPHEMERAL}
    if system := kwargs.get("system"):
        kwargs["system"] = _held(("system", system), _cached_system)


def _output_config(schema: dict[str, Any]) -> dict[str, Any]:
    return {"format": {"type": "json_schema", "schema": schema}}


def _cached_system(system: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": system, "cache_control": _EPHEMERAL}]


# The body values made from a plan's stable parts (its schema, its system prompt: the same objects
# on every call), each made once and kept with its JSON (``_encode``), by the identity of what it is
# made from; each entry holds that object, so no id is reused while it lives. Bounded: cleared when
# full. Nothing mutates them: ``build_request``'s merging of ``extra`` makes new dicts.
_stable: dict[tuple[str, int], tuple[object, Any]] = {}
_STABLE_KEPT = 256


def _held(key: tuple[str, Any], make: Callable[[Any], Any]) -> Any:
    entry = _stable.get((key[0], id(key[1])))
    if entry is not None and entry[0] is key[1]:
        return entry[1]
    if len(_stable) >= _STABLE_KEPT:
        _stable.clear()
    value = make(key[1])
    _stable[key[0], id(key[1])] = (key[1], value)
    _fragments[id(value)] = (value, _ENCODER.encode(value))
    return value


_fragments: dict[int, tuple[object, str]] = {}
"""The JSON of each value in ``_stable``, by its identity."""


_MEMBERS = {key: f"{_ENCODER.encode(key)}:" for key in BODY_KEYS}  # each body key's JSON, with its colon
_HELD = frozenset(("output_config", "system"))  # the keys whose values ``_held`` makes


def _encode(body: dict[Any, Any]) -> str:
    """``_ENCODER.encode(body)``, the same text, with the JSON of the stable values (``_held``) reused.

    A JSON object is its members' JSON joined, so encoding each value apart gives the same bytes (a
    ``str`` or an ``int`` is written as the encoder writes it, without a call of it).
    """
    if len(_fragments) > 2 * _STABLE_KEPT:
        _fragments.clear()
    members: list[str] = []
    for key, value in body.items():
        if (name := _MEMBERS.get(key)) is None:
            if not isinstance(key, str):
                return _ENCODER.encode(body)
            name = f"{_ENCODER.encode(key)}:"
        if key in _HELD and (held := _fragments.get(id(value))) is not None and held[0] is value:
            members.append(name + held[1])
        elif type(value) is str:
            members.append(name + encode_basestring(value))
        elif type(value) is int:
            members.append(name + int.__repr__(value))
        else:
            members.append(name + _ENCODER.encode(value))
    return "{" + ",".join(members) + "}"


def tool_choice(choice: str) -> dict[str, str]:
    """A neutral tool choice (``auto``, ``none``, ``required`` or a tool's name) on the wire."""
    if choice in ("auto", "none"):
        return {"type": choice}
    return {"type": "any"} if choice == "required" else {"type": "tool", "name": choice}


def wire_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Neutral messages as Messages API turns.

    A tool result is a ``tool_result`` block of a user turn, and consecutive messages of one wire
    role merge into one turn, so all the results of a tool turn go back in ONE user message, in
    order. Empty text is left out: the API rejects empty text blocks.
    """
    turns: list[dict[str, Any]] = []
    for m in messages:
        blocks: list[dict[str, Any]]
        if m.role == "tool":
            role, blocks = (
                "user",
                [{"type": "tool_result", "tool_use_id": _id(m.tool_call_id), "content": m.text}],
            )
            if m.is_error:
                blocks[0]["is_error"] = True
        else:
            role, blocks = m.role, [_block(p) for p in m.parts if p]
            blocks += [
                {"type": "tool_use", "id": _id(c.id), "name": c.name, "input": c.arguments}
                for c in m.tool_calls
            ]
        if blocks and turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        elif blocks:
            turns.append({"role": role, "content": blocks})
    return turns


_NOT_ID = re.compile(r"[^a-zA-Z0-9_-]")


def _id(call_id: str) -> str:
    """A call id as Anthropic takes it (``^[a-zA-Z0-9_-]+$``): a history recorded elsewhere may
    hold others; each maps the same way for its ``tool_use`` and its ``tool_result``."""
    return _NOT_ID.sub("_", call_id) or "call"


def _block(p: Part) -> dict[str, Any]:
    """A part as a content block: text, or an ``image``/``document`` with a ``base64``/``url`` source."""
    if isinstance(p, str):
        return {"type": "text", "text": p}
    source = (
        {"type": "url", "url": p.url}
        if p.url is not None
        else {"type": "base64", "media_type": p.media_type, "data": p.base64}
    )
    return {"type": p.kind, "source": source}  # Audio never gets here: capabilities refuse it


# --- response ---------------------------------------------------------------------------------------


class _Fields(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")


class Block(_Fields):
    """A content block: ``text``, ``tool_use`` (``id``, ``name``, ``input``), or one Alloy skips."""

    type: str = ""
    text: str = ""
    id: str = ""
    name: str = ""
    input: dict[str, Any] = {}


class Tokens(_Fields):
    """Usage; compatible servers leave fields out or send ``null``."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class Answer(_Fields):
    """A Messages API answer: its content blocks, stop reason, usage and model."""

    content: list[Block]  # required: without it the body is not an answer
    stop_reason: str | None = None
    model: str | None = None
    usage: Tokens = Tokens()


def parse_response(raw: bytes | Answer | Message_) -> Response:
    """A Messages API answer (its bytes, the lean model or the SDK's ``Message``) as a ``Response``.

    Raises:
        ProviderError: the model refused (``stop_reason="refusal"``); (retryable) the bytes are not
            JSON, or not an answer.
    """
    try:
        if isinstance(raw, bytes):
            raw = Answer.model_validate_json(raw)
        elif not isinstance(raw, Answer):
            raw = Answer.model_validate(raw, from_attributes=True)
    except pydantic.ValidationError as exc:
        raise malformed(PROVIDER, exc) from exc
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in raw.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            calls.append(ToolCall(block.name, block.input, block.id))
    text = "".join(texts)
    return Response(text, tuple(calls), usage(raw.usage), finish(raw.stop_reason, text), raw.model)


def usage(u: Tokens) -> Usage:
    """Usage with the cache reads and writes, both also counted as input tokens (Anthropic counts
    them apart; other providers do not)."""
    read, written = u.cache_read_input_tokens or 0, u.cache_creation_input_tokens or 0
    return Usage((u.input_tokens or 0) + read + written, u.output_tokens or 0, 0, read, written)


def finish(stop_reason: str | None, text: str) -> str | None:
    """The neutral finish reason: ``length`` for truncation; a refusal is an error."""
    if stop_reason == "refusal":
        said = f" It said: {snippet(text)}" if text else ""
        raise ProviderError(f"The model refused to answer (stop_reason 'refusal').{said}", provider=PROVIDER)
    if stop_reason == "model_context_window_exceeded":
        return "length"
    return _FINISH.get(stop_reason or "", stop_reason)


# --- streamed answers ------------------------------------------------------------------------------


class StreamState:
    """Accumulates stream events into the final ``Response``; ``feed`` returns the deltas.

    An event is the JSON object of one SSE event, as the lean path reads it (the SDK's
    ``Stream[object]``), or the SDK's event object (``create``'s stream). A key the event should
    have and has not raises ``KeyError`` or ``TypeError``, which ``reading_stream`` makes a
    retryable ``ProviderError``. ``response()`` raises if the stream ended before ``message_stop``.
    """

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.tools: dict[int, tuple[str, str, list[str]]] = {}  # block index → (id, name, JSON pieces)
        self.order: dict[int, int] = {}  # block index → position among the tool calls
        self.usage = Usage()
        self.stop_reason: str | None = None
        self.model: str | None = None
        self.done = False

    def feed(self, event: Mapping[str, Any] | RawMessageStreamEvent) -> list[StreamItem]:
        """Take one event; return the text or tool-input pieces it adds."""
        e: Mapping[str, Any] = event if isinstance(event, Mapping) else event.model_dump()
        kind, delta = e["type"], ""
        if kind == "message_start":
            self.model = e["message"]["model"]
            self.usage = usage(Tokens.model_validate(e["message"]["usage"]))
        elif kind == "content_block_start":
            block = e["content_block"]
            if block["type"] == "tool_use":
                self.order[e["index"]] = len(self.tools)
                self.tools[e["index"]] = (block["id"], block["name"], [])
            elif block["type"] == "text":
                delta = block["text"]
        elif kind == "content_block_delta":
            d = e["delta"]
            if d["type"] == "text_delta":
                delta = d["text"]
            elif d["type"] == "input_json_delta" and e["index"] in self.tools:
                _, name, pieces = self.tools[e["index"]]
                if piece := d["partial_json"]:
                    pieces.append(piece)
                    return [ToolCallDelta(self.order[e["index"]], name, piece)]
        elif kind == "message_delta":  # its usage is cumulative; input tokens may be absent
            self.stop_reason = e["delta"].get("stop_reason") or self.stop_reason
            tokens = Tokens.model_validate(e["usage"])
            if tokens.input_tokens is not None:
                self.usage = usage(tokens)
            else:
                self.usage = dataclasses.replace(self.usage, output_tokens=tokens.output_tokens or 0)
        elif kind == "message_stop":
            self.done = True
        if delta:
            self.texts.append(delta)
            return [delta]
        return []

    def response(self) -> Response:
        """The whole answer: joined text, tool calls, usage, finish reason.

        Raises:
            ProviderError: (retryable) the stream ended before ``message_stop``.
        """
        if not self.done:
            raise ended_early(PROVIDER, "message_stop")
        text = "".join(self.texts)
        calls = tuple(ToolCall(name, _arguments("".join(parts)), i) for i, name, parts in self.tools.values())
        return Response(text, calls, self.usage, finish(self.stop_reason, text), self.model)


def _arguments(raw: str) -> dict[str, Any]:
    """Streamed tool input; malformed JSON is kept whole so tool validation shows it to the model."""
    try:
        value: object = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        value = None
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {"__raw__": raw}

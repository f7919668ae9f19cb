"""OpenAI: the Responses API against OpenAI itself, Chat Completions against any other base URL.

Translation only. ``responses_kwargs``/``chat_kwargs`` build the SDK call from a neutral
``Request``; ``parse_responses``/``parse_chat`` and ``StreamState`` turn the SDK's answers back
into a neutral ``Response``. The I/O methods make one SDK call each, on a client cached per
(key, base URL, timeout) with the SDK's own retries off: ``alloy._retry`` is the one retry layer.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast
from urllib.parse import urlsplit

import openai
import pydantic
from openai import AsyncStream, RequestOptions, Stream
from openai.resources.chat import Completions
from openai.resources.responses import Responses
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionStreamOptionsParam
from openai.types.completion_usage import CompletionUsage
from openai.types.responses import Response as OpenAIResponse
from openai.types.responses import (
    ResponseCompletedEvent,
    ResponseErrorEvent,
    ResponseFailedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseIncompleteEvent,
    ResponseOutputItemAddedEvent,
    ResponseRefusalDeltaEvent,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
    ResponseUsage,
)
from pydantic import SecretStr

from .. import _registry
from .._errors import (
    ConfigurationError,
    ProviderError,
    is_retryable_status,
    malformed,
    read_retry_after,
    snippet,
)
from .._messages import Message, Request, Response, ToolCall, ToolCallDelta, ToolSpec, Usage
from .._parts import Audio, Image, Kind, Part, PartKind
from . import (
    Adapter,
    BatchItem,
    BatchState,
    Capabilities,
    Limit,
    StreamItem,
    check_batch_size,
    ended_early,
    reading_stream,
)
from . import _openai_wire as wire
from ._compat import Refusals

if TYPE_CHECKING:
    from .._settings import Settings

log = logging.getLogger("alloy.providers.openai")

Api = Literal["responses", "chat"]
_PROVIDER = "openai"
_REASONING = ("gpt-5", "o1", "o3", "o4")  # reasoning models refuse a temperature
_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}
_USAGE: ChatCompletionStreamOptionsParam = {"include_usage": True}
_BEARER: RequestOptions = {"security": {"bearer_auth": True}}  # what ``create`` asks of the client
BatchEndpoint = Literal["/v1/responses", "/v1/chat/completions"]
_BATCH_URL: dict[Api, BatchEndpoint] = {"responses": "/v1/responses", "chat": "/v1/chat/completions"}
_BATCH_ENDED = frozenset({"completed", "failed", "expired", "cancelled"})


@functools.lru_cache(maxsize=64)  # asked several times per call; urlsplit is not free
def is_openai_url(base_url: str | None) -> bool:
    """Whether *base_url* is OpenAI's own endpoint (unset counts: it is the SDK's default)."""
    return not base_url or urlsplit(base_url).hostname == "api.openai.com"


def api_for(settings: Settings, request: Request | None = None) -> Api:
    """``openai_api`` with ``auto`` resolved: Responses on OpenAI itself, else Chat Completions;
    and Chat Completions for a *request* with audio, which only it takes."""
    if settings.openai_api != "auto":
        return settings.openai_api
    if request is not None and any(p.kind == "audio" for m in request.messages for p in m.binary):
        return "chat"
    return "responses" if is_openai_url(settings.openai_base_url) else "chat"


_BYTES_ONLY = "Alloy never downloads a URL: load it with {cls}.from_path(path) or {cls}(data)."
_NO_AUDIO = (
    "The Responses API takes no audio: use openai_api='chat' (or 'auto', which picks Chat Completions "
    "for a prompt with audio)."
)
_CHAT_PARTS: frozenset[PartKind] = frozenset(("image", "image_url", "document", "audio"))
_RESPONSES_PARTS: frozenset[PartKind] = frozenset(("image", "image_url", "document", "document_url"))
_AUTO_AUDIO: frozenset[PartKind] = frozenset(("audio",))
_ADVICE: tuple[tuple[PartKind, str], ...] = (
    ("audio", _NO_AUDIO),
    ("audio_url", f"OpenAI takes audio as bytes only. {_BYTES_ONLY.format(cls='Audio')}"),
    (
        "document_url",
        "Chat Completions takes a PDF as bytes only: load it with Document.from_path(path) or "
        "Document(data), or use openai_api='responses' (OpenAI itself), which takes file_url.",
    ),
)
# platform.openai.com/docs/guides/images-vision and /pdf-files: 20 MB per image, 50 MB per file,
# 50 MB of inputs per request.
_LIMITS: tuple[tuple[Kind, Limit], ...] = (
    ("image", Limit(20_000_000, "20 MB per image")),
    ("document", Limit(50_000_000, "50 MB per file")),
)
_INLINE = Limit(50_000_000, "50 MB of files and images per request")


def _parts(m: Message, *, api: Api) -> str | list[dict[str, Any]]:
    """A user message's content: its text, or a list of typed parts (per the SPEC's table).

    Raises:
        ConfigurationError: a document URL for Chat Completions (reached only under ``auto``, when
            audio in the same prompt picked Chat Completions).
    """
    if isinstance(m.content, str):
        return m.content
    return [_part(p, api) for p in m.content]


def _part(p: Part, api: Api) -> dict[str, Any]:
    if isinstance(p, str):
        return {"type": "input_text" if api == "responses" else "text", "text": p}
    if api == "responses":
        if isinstance(p, Image):
            return {"type": "input_image", "image_url": p.data_url, "detail": "auto"}
        if p.url is not None:
            return {"type": "input_file", "file_url": p.url}
        return {"type": "input_file", "filename": "document.pdf", "file_data": p.data_url}
    if isinstance(p, Image):
        return {"type": "image_url", "image_url": {"url": p.data_url}}
    if isinstance(p, Audio):
        return {
            "type": "input_audio",
            "input_audio": {"data": p.base64, "format": _AUDIO[p.media_type or ""]},
        }
    if p.url is not None:
        raise ConfigurationError(
            f"openai (Chat Completions) does not take a PDF URL ({p.placeholder}). {_ADVICE[2][1]}"
        )
    return {"type": "file", "file": {"filename": "document.pdf", "file_data": p.data_url}}


_AUDIO = {"audio/wav": "wav", "audio/mpeg": "mp3"}


# --- requests -------------------------------------------------------------------------------------


def responses_kwargs(request: Request) -> dict[str, Any]:
    """The ``client.responses.create`` keyword arguments for *request*."""
    items: list[dict[str, Any]] = []
    for m in request.messages:
        if m.role == "tool":  # OpenAI has no error flag: the text itself says "Error: ..."
            items.append({"type": "function_call_output", "call_id": _id(m.tool_call_id), "output": m.text})
            continue
        if m.text or not m.tool_calls:
            # "type" is optional in the spec, but llama-server cannot place an assistant item
            # without it. Only there: each typed item costs the SDK's request transform ~1,800
            # function calls (+10% CPU per call), and a user item needs none anywhere.
            typed = {"type": "message"} if m.role == "assistant" else {}
            content = _parts(m, api="responses") if m.role == "user" else m.text
            items.append({**typed, "role": m.role, "content": content})
        items += [
            {"type": "function_call", "call_id": _id(c.id), "name": c.name, "arguments": _args(c)}
            for c in m.tool_calls
        ]
    kwargs: dict[str, Any] = {"model": request.model, "input": items}
    if request.system:
        kwargs["instructions"] = request.system
    if request.tools:
        # ``strict`` always goes: the Responses API reads a missing flag as strict, which a schema
        # not compiled for strict mode would fail.
        kwargs["tools"] = [{"type": "function", **_function(t), "strict": t.strict} for t in request.tools]
        kwargs["tool_choice"] = _tool_choice(
            request.tool_choice, lambda name: {"type": "function", "name": name}
        )
    if (fmt := _json_schema(request)) is not None:
        kwargs["text"] = {"format": {"type": "json_schema", **fmt}}
    elif request.output is not None and request.output.mode == "json_object":
        kwargs["text"] = {"format": {"type": "json_object"}}
    if request.temperature is not None:
        kwargs["temperature"] = request.temperature
    if request.max_tokens is not None:
        kwargs["max_output_tokens"] = request.max_tokens
    if request.cache_key:
        kwargs["prompt_cache_key"] = request.cache_key
    return _with_extra(kwargs, request.extra, "responses")


def chat_kwargs(request: Request, *, compatible: bool = False) -> dict[str, Any]:
    """The ``client.chat.completions.create`` keyword arguments for *request*.

    Args:
        request: the neutral request.
        compatible: the server is not OpenAI's, so the output cap goes as the widely supported
            ``max_tokens`` rather than ``max_completion_tokens``, and tools omit a false ``strict``.
    """
    messages = [{"role": "system", "content": request.system}] if request.system else []
    messages += [_chat_message(m) for m in request.messages]
    kwargs: dict[str, Any] = {"model": request.model, "messages": messages}
    if request.tools:
        kwargs["tools"] = [
            {"type": "function", "function": {**_function(t), **({"strict": True} if t.strict else {})}}
            for t in request.tools
        ]
        kwargs["tool_choice"] = _tool_choice(
            request.tool_choice, lambda name: {"type": "function", "function": {"name": name}}
        )
        kwargs["parallel_tool_calls"] = True  # the engine runs one turn's calls concurrently
    if (fmt := _json_schema(request)) is not None:
        kwargs["response_format"] = {"type": "json_schema", "json_schema": fmt}
    elif request.output is not None and request.output.mode == "json_object":
        kwargs["response_format"] = {"type": "json_object"}
    if request.temperature is not None:
        kwargs["temperature"] = request.temperature
    if request.max_tokens is not None:
        kwargs["max_tokens" if compatible else "max_completion_tokens"] = request.max_tokens
    if request.cache_key:
        kwargs["prompt_cache_key"] = request.cache_key
    return _with_extra(kwargs, request.extra, "chat")


def _chat_message(m: Message) -> dict[str, Any]:
    if m.role == "tool":  # OpenAI has no error flag: the text itself says "Error: ..."
        return {"role": "tool", "tool_call_id": _id(m.tool_call_id), "content": m.text}
    if not m.tool_calls:
        return {"role": m.role, "content": _parts(m, api="chat") if m.role == "user" else m.text}
    calls = [
        {"id": _id(c.id), "type": "function", "function": {"name": c.name, "arguments": _args(c)}}
        for c in m.tool_calls
    ]
    # "content" is required unless tool_calls are given; leave it out rather than send "".
    return {"role": m.role, **({"content": m.text} if m.text else {}), "tool_calls": calls}


def _id(call_id: str) -> str:
    """A call id OpenAI takes (at most 40 characters): a longer one from a history recorded
    elsewhere maps to a stable hash, the same for the call and its result."""
    if len(call_id) <= 40:
        return call_id
    return "call_" + hashlib.sha256(call_id.encode()).hexdigest()[:32]


def _args(call: ToolCall) -> str:
    return json.dumps(call.arguments, ensure_ascii=False)


def _function(t: ToolSpec) -> dict[str, Any]:
    return {"name": t.name, "description": t.description, "parameters": t.parameters}


def _tool_choice(choice: str, named: Callable[[str], dict[str, Any]]) -> str | dict[str, Any]:
    return choice if choice in ("auto", "required", "none") else named(choice)


def _json_schema(request: Request) -> dict[str, Any] | None:
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
    return frozenset(
        inspect.signature(Responses.create if api == "responses" else Completions.create).parameters
    )


def _with_extra(kwargs: dict[str, Any], extra: Mapping[str, Any], api: Api) -> dict[str, Any]:
    """``extra`` merged last: SDK parameters as keywords, anything else (a server's own field) in ``extra_body``."""
    for key, value in extra.items():
        if key in _sdk_params(api):
            kwargs[key] = value
        else:
            kwargs["extra_body"] = {**kwargs.get("extra_body", {}), key: value}
    return kwargs


# --- answers --------------------------------------------------------------------------------------


def _call(name: str, arguments: str, call_id: str) -> ToolCall:
    """A tool call. Arguments that are not a JSON object go on as text, so the tool's argument
    validation shows the model what it sent."""
    try:
        args: Any = json.loads(arguments or "{}")
    except ValueError:
        args = None
    if not isinstance(args, dict):
        args = {"arguments_were_not_a_json_object": arguments}
    return ToolCall(name, args, call_id)  # pyright: ignore[reportUnknownArgumentType]


def chat_usage(u: CompletionUsage | wire.ChatUsage | None) -> Usage:
    """Chat Completions usage; cached tokens from ``prompt_tokens_details`` (part of the prompt tokens)."""
    if u is None:
        return Usage()
    details = u.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details else 0
    written = (details.cache_write_tokens or 0) if details else 0
    return Usage(u.prompt_tokens, u.completion_tokens, 0, cached, written)


def responses_usage(u: ResponseUsage | wire.ResponsesUsage | None) -> Usage:
    """Responses API usage; cached tokens from ``input_tokens_details`` (part of the input tokens)."""
    if u is None:
        return Usage()
    details = u.input_tokens_details
    # Compatible servers leave the details out although the SDK types them as required.
    cached = getattr(details, "cached_tokens", None) or 0
    written = getattr(details, "cache_write_tokens", None) or 0
    return Usage(u.input_tokens, u.output_tokens, 0, cached, written)


def _lean(shape: type[wire.Chat] | type[wire.Responses], raw: object) -> Any:
    """*raw* (the answer's bytes, or the SDK's object of it) as the lean model of the fields Alloy reads.

    Raises:
        ProviderError: (retryable) not JSON, or not that shape.
    """
    try:
        if isinstance(raw, bytes | str):
            return shape.model_validate_json(raw)
        return shape.model_validate(raw, from_attributes=True)
    except pydantic.ValidationError as exc:
        raise malformed(_PROVIDER, exc) from exc


def parse_responses(
    raw: OpenAIResponse | wire.Responses | bytes, max_output_tokens: int | None = None
) -> Response:
    """A Responses API response (its bytes, the lean model or the SDK's) → a neutral ``Response``
    (``incomplete`` → its reason).

    *max_output_tokens* is the cap that was sent: an answer that used all of it is ``length`` even
    when the server says ``completed`` (llama-server does, for an answer it cut off).
    """
    if not isinstance(raw, wire.Responses):
        raw = cast("wire.Responses", _lean(wire.Responses, raw))
    texts: list[str] = []
    calls: list[ToolCall] = []
    for item in raw.output:
        if item.type == "message":
            texts += [p.text if p.type == "output_text" else p.refusal for p in item.content]
        elif item.type == "function_call":
            calls.append(_call(item.name, item.arguments, item.call_id))
    usage = responses_usage(raw.usage)
    finish = "tool_calls" if calls else "stop"
    if raw.status == "incomplete":
        reason = (raw.incomplete_details.reason if raw.incomplete_details else None) or "incomplete"
        finish = _INCOMPLETE.get(reason, reason)
    elif max_output_tokens and not calls and usage.output_tokens >= max_output_tokens:
        finish = "length"
    return Response("".join(texts), tuple(calls), usage, finish, raw.model)


def parse_chat(raw: ChatCompletion | wire.Chat | bytes) -> Response:
    """A chat completion (its bytes, the lean model or the SDK's) → a neutral ``Response`` (the first choice)."""
    if not isinstance(raw, wire.Chat):
        raw = cast("wire.Chat", _lean(wire.Chat, raw))
    if raw.choices is None:
        raise malformed(_PROVIDER, "a chat completion without choices")
    usage = chat_usage(raw.usage)
    if not raw.choices:
        return Response(usage=usage, model=raw.model)
    choice = raw.choices[0]
    msg = choice.message
    calls = [
        _call(c.function.name, c.function.arguments, c.id)
        for c in msg.tool_calls or ()
        if c.type == "function"
    ]
    return Response(msg.content or msg.refusal or "", tuple(calls), usage, choice.finish_reason, raw.model)


class StreamState:
    """One streamed answer from either API: ``feed`` each event, then ``result()``.

    Text and tool-call arguments come out as deltas as they arrive; ``result()`` is the whole
    answer, and raises if the stream ended before its end-of-answer event (a ``finish_reason``
    in Chat Completions, ``response.completed``/``incomplete`` in the Responses API).
    """

    def __init__(self, max_output_tokens: int | None = None) -> None:
        self.parts: list[str] = []
        self.calls: dict[int | str, tuple[int, str, str, list[str]]] = {}  # key → (index, id, name, pieces)
        self.final = Response()
        self.done = False
        self.chat = True
        self.cap = max_output_tokens

    def feed(self, event: ResponseStreamEvent | ChatCompletionChunk) -> list[StreamItem]:
        """The deltas in *event*: its text, and pieces of tool-call arguments.

        Raises:
            ProviderError: the stream reported a failure.
        """
        if isinstance(event, ChatCompletionChunk):
            return self._chunk(event)
        self.chat = False
        out: list[StreamItem] = []
        if isinstance(event, ResponseTextDeltaEvent | ResponseRefusalDeltaEvent):
            if event.delta:
                self.parts.append(event.delta)
                out.append(event.delta)
        elif isinstance(event, ResponseOutputItemAddedEvent) and event.item.type == "function_call":
            item = event.item
            self.calls[item.id or item.call_id] = (len(self.calls), item.call_id, item.name, [])
            if item.arguments:
                out.append(self._piece(item.id or item.call_id, item.arguments))
        elif isinstance(event, ResponseFunctionCallArgumentsDeltaEvent) and event.item_id in self.calls:
            if event.delta:
                out.append(self._piece(event.item_id, event.delta))
        elif isinstance(event, ResponseCompletedEvent | ResponseIncompleteEvent):
            self.final = parse_responses(event.response, self.cap)
            self.done = True
        elif isinstance(event, ResponseFailedEvent | ResponseErrorEvent):
            error = event.response.error if isinstance(event, ResponseFailedEvent) else event
            raise ProviderError(
                snippet(error.message if error else "the response failed", 300), provider=_PROVIDER
            )
        return out

    def _chunk(self, event: ChatCompletionChunk) -> list[StreamItem]:
        f = self.final
        choice = event.choices[0] if event.choices else None
        usage = chat_usage(event.usage) if event.usage else f.usage
        finish = (choice.finish_reason if choice else None) or f.finish_reason
        self.done = self.done or finish is not None
        self.final = Response(usage=usage, finish_reason=finish, model=event.model or f.model)
        out: list[StreamItem] = []
        if choice is None:
            return out
        if text := choice.delta.content:
            self.parts.append(text)
            out.append(text)
        for c in choice.delta.tool_calls or ():
            fn = c.function
            if c.index not in self.calls:
                self.calls[c.index] = (len(self.calls), c.id or "", (fn.name if fn else None) or "", [])
            if fn and fn.arguments:
                out.append(self._piece(c.index, fn.arguments))
        return out

    def _piece(self, key: int | str, arguments: str) -> ToolCallDelta:
        index, _, name, pieces = self.calls[key]
        pieces.append(arguments)
        return ToolCallDelta(index, name, arguments)

    def result(self) -> Response:
        """The whole answer: the joined deltas and tool calls, with the usage and finish reason reported.

        Raises:
            ProviderError: (retryable) the stream ended before its end-of-answer event.
        """
        if not self.done:
            raise ended_early(_PROVIDER, "a finish_reason" if self.chat else "response.completed")
        f = self.final
        if not self.chat:  # the completed event holds the whole answer, tool calls included
            return Response("".join(self.parts), f.tool_calls, f.usage, f.finish_reason, f.model)
        calls = tuple(_call(name, "".join(pieces), cid) for _, cid, name, pieces in self.calls.values())
        return Response("".join(self.parts), calls, f.usage, f.finish_reason, f.model)


# --- batch lines (the Batch API's JSONL) --------------------------------------------------------


def batch_line(key: str, api: Api, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """One input line of a batch: the body the SDK would send for *kwargs* (``extra_body`` merged in)."""
    body = {k: v for k, v in kwargs.items() if k != "extra_body"} | dict(kwargs.get("extra_body") or {})
    return {"custom_id": key, "method": "POST", "url": _BATCH_URL[api], "body": body}


def parse_batch_line(line: Mapping[str, Any], endpoint: str, max_output_tokens: int | None) -> BatchItem:
    """One output or error line of a batch: the answer, parsed as a live answer is, or why it has none."""
    key = str(line.get("custom_id"))
    response: dict[str, Any] = line.get("response") or {}
    status: int | None = response.get("status_code")
    body: Any = response.get("body")
    if status == 200 and isinstance(body, dict):
        try:
            if endpoint == _BATCH_URL["responses"]:
                return key, parse_responses(OpenAIResponse.model_validate(body), max_output_tokens)
            return key, parse_chat(ChatCompletion.model_validate(body))
        except pydantic.ValidationError as exc:
            message = f"batch answer {key} is not a {endpoint} response: {snippet(exc, 200)}"
            return key, ProviderError(message, provider=_PROVIDER, body=body)
        except ProviderError as exc:
            return key, exc
    error: Any = line.get("error") or (
        cast("dict[str, Any]", body).get("error") if isinstance(body, dict) else None
    )
    detail = cast("dict[str, Any]", error) if isinstance(error, dict) else {"message": str(error or "")}
    code = f" ({detail['code']})" if detail.get("code") else ""
    message = f"batch request {key} failed{code}: {snippet(detail.get('message') or f'HTTP {status}', 300)}"
    retryable = status is None or is_retryable_status(status)  # expired, cancelled: never tried
    return key, ProviderError(
        message, provider=_PROVIDER, status_code=status, retryable=retryable, body=error
    )


def _json_line(text: str) -> dict[str, Any]:
    try:
        line: Any = json.loads(text)
    except ValueError:
        line = None
    if not isinstance(line, dict):
        raise ProviderError(f"a batch result line is not a JSON object: {snippet(text)}", provider=_PROVIDER)
    return cast("dict[str, Any]", line)


# --- errors ---------------------------------------------------------------------------------------


def classify(exc: Exception) -> ProviderError | None:
    """An ``openai`` SDK exception as a ``ProviderError``; ``None`` for anything else."""
    if isinstance(exc, openai.APIStatusError):
        body = exc.body  # the decoded "error" object (untyped JSON), or the raw text
        detail = cast("dict[str, Any]", body).get("message") if isinstance(body, dict) else None
        return ProviderError(
            snippet(detail if isinstance(detail, str) and detail else exc.message, 300),
            provider=_PROVIDER,
            status_code=exc.status_code,
            retryable=is_retryable_status(exc.status_code),
            retry_after=read_retry_after(exc.response.headers),
            body=body,
        )
    if isinstance(exc, openai.APIConnectionError):  # timeouts included
        cause = (
            f" ({type(exc.__cause__).__name__}: {snippet(str(exc.__cause__), 120)})" if exc.__cause__ else ""
        )
        return ProviderError(exc.message + cause, provider=_PROVIDER, retryable=True)
    if isinstance(exc, openai.OpenAIError):
        return ProviderError(snippet(str(exc), 300), provider=_PROVIDER)
    return None


# --- the adapter ----------------------------------------------------------------------------------


def _unwrapped(args: dict[str, Any]) -> dict[str, Any]:
    """The SDK constructor's arguments, the key revealed as it is built."""
    return {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in args.items()}


class OpenAIAdapter(Adapter):
    """``openai:<model>``; ``settings.openai_api`` picks the wire API."""

    provider: ClassVar[str] = _PROVIDER

    def __init__(self) -> None:
        self.refusals = Refusals(_PROVIDER)
        """What compatible servers refused, per (base URL, model): see ``alloy.providers._compat``."""

    def capabilities(self, model: str, settings: Settings) -> Capabilities:
        own = is_openai_url(settings.openai_base_url)
        api = api_for(settings)
        parts = _CHAT_PARTS if api == "chat" else _RESPONSES_PARTS
        if api == "responses" and settings.openai_api == "auto":
            parts = _RESPONSES_PARTS | _AUTO_AUDIO  # auto sends a prompt with audio to Chat Completions
        key = (settings.openai_base_url or "", model)
        level = None if own else self.refusals.output(key)
        return Capabilities(
            output_mode=level or "native_strict",
            # a schema only stated in the prompt goes as pydantic wrote it
            schema_dialect="plain" if level else "openai_strict",
            native_tools=own or self.refusals.tools(key),
            temperature=not model.startswith(_REASONING),
            compatible_endpoint=not own,
            strict_tools=own,
            parts=parts,
            part_advice=_ADVICE,
            part_limits=_LIMITS,
            inline_limit=_INLINE,
            notes=() if own else self.refusals.notes(key),
        )

    def kwargs(self, request: Request, settings: Settings) -> tuple[Api, dict[str, Any]]:
        """The wire API and the SDK keyword arguments for *request*."""
        compatible = not is_openai_url(settings.openai_base_url)
        if api_for(settings, request) == "responses":
            api, kwargs = "responses", responses_kwargs(request)
        else:
            api, kwargs = "chat", chat_kwargs(request, compatible=compatible)
        refused = "prompt_cache_key" in kwargs and compatible
        if refused and not self.refusals.cache_key((settings.openai_base_url or "", request.model)):
            del kwargs["prompt_cache_key"]
        return api, kwargs

    @contextmanager
    def _refused(self, settings: Settings, kwargs: dict[str, Any]) -> Generator[None]:
        """A compatible server's refusal of a field we sent, as ``UnsupportedFeature`` (remembered)."""
        try:
            yield
        except openai.APIStatusError as exc:
            if is_openai_url(settings.openai_base_url):
                raise
            key = (settings.openai_base_url or "", str(kwargs.get("model", "")))
            refusal = self.refusals.refused(key, exc.status_code, exc.message, exc.body, kwargs)
            if refusal is None:
                raise
            raise refusal from exc

    def _client_args(self, settings: Settings) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The client cache key and constructor arguments, passed explicitly so ``.env`` values apply.

        Raises:
            ConfigurationError: no API key is set (checked before anything is sent).
        """
        key = settings.openai_api_key
        if key is None or not key.get_secret_value():
            raise ConfigurationError(
                "No OpenAI API key: set ALLOY_OPENAI_API_KEY or OPENAI_API_KEY (in the environment or .env), "
                "or pass openai_api_key=... to configure(), override() or @command(...)."
            )
        # The key stays a SecretStr (in the cache key too) until the SDK client is built.
        args = {"api_key": key, "base_url": settings.openai_base_url, "timeout": settings.timeout}
        return (_PROVIDER, *args.values()), {**args, "max_retries": 0}

    def client(self, settings: Settings) -> openai.OpenAI:
        """The shared sync client for these credentials, base URL and timeout."""
        key, args = self._client_args(settings)
        return _registry.client(key, lambda: openai.OpenAI(**_unwrapped(args)))

    def async_client(self, settings: Settings) -> openai.AsyncOpenAI:
        """The shared async client for these credentials, base URL and timeout, on this event loop."""
        key, args = self._client_args(settings)
        return _registry.client(key, lambda: openai.AsyncOpenAI(**_unwrapped(args)), is_async=True)

    # Non-streaming calls take the lean path (``_openai_wire``): the SDK client's public ``post``
    # with the body Alloy built, the answer's bytes read into the few fields Alloy uses.

    def send(self, request: Request, settings: Settings) -> Response:
        api, kwargs = self.kwargs(request, settings)
        client = self.client(settings)
        with self._refused(settings, kwargs):
            if wire.SDK_ONLY.isdisjoint(kwargs):
                raw: bytes | OpenAIResponse | ChatCompletion = client.post(
                    wire.PATH[api], body=wire.body(api, kwargs), cast_to=bytes, options=_BEARER
                )
            elif api == "responses":
                raw = client.responses.create(**kwargs, stream=False)
            else:
                raw = client.chat.completions.create(**kwargs, stream=False)
        return self._parsed(api, raw, kwargs)

    async def asend(self, request: Request, settings: Settings) -> Response:
        api, kwargs = self.kwargs(request, settings)
        client = self.async_client(settings)
        with self._refused(settings, kwargs):
            if wire.SDK_ONLY.isdisjoint(kwargs):
                raw: bytes | OpenAIResponse | ChatCompletion = await client.post(
                    wire.PATH[api], body=wire.body(api, kwargs), cast_to=bytes, options=_BEARER
                )
            elif api == "responses":
                raw = await client.responses.create(**kwargs, stream=False)
            else:
                raw = await client.chat.completions.create(**kwargs, stream=False)
        return self._parsed(api, raw, kwargs)

    @staticmethod
    def _parsed(
        api: Api, raw: bytes | OpenAIResponse | ChatCompletion, kwargs: Mapping[str, Any]
    ) -> Response:
        if api == "responses":
            return parse_responses(cast("bytes | OpenAIResponse", raw), kwargs.get("max_output_tokens"))
        return parse_chat(cast("bytes | ChatCompletion", raw))

    def stream(self, request: Request, settings: Settings) -> Iterator[StreamItem]:
        api, kwargs = self.kwargs(request, settings)
        client, state = self.client(settings), StreamState(kwargs.get("max_output_tokens"))
        with self._refused(settings, kwargs):
            events: Stream[ResponseStreamEvent] | Stream[ChatCompletionChunk] = (
                client.responses.create(**kwargs, stream=True)
                if api == "responses"
                else client.chat.completions.create(**kwargs, stream=True, stream_options=_USAGE)
            )
        with reading_stream(_PROVIDER), events:
            for event in events:
                yield from state.feed(event)
        yield state.result()

    async def astream(self, request: Request, settings: Settings) -> AsyncIterator[StreamItem]:
        api, kwargs = self.kwargs(request, settings)
        client, state = self.async_client(settings), StreamState(kwargs.get("max_output_tokens"))
        with self._refused(settings, kwargs):
            events: AsyncStream[ResponseStreamEvent] | AsyncStream[ChatCompletionChunk] = (
                await client.responses.create(**kwargs, stream=True)
                if api == "responses"
                else await client.chat.completions.create(**kwargs, stream=True, stream_options=_USAGE)
            )
        with reading_stream(_PROVIDER):
            async with events:
                async for event in events:
                    for item in state.feed(event):
                        yield item
        yield state.result()

    def classify(self, exc: Exception) -> ProviderError | None:
        return classify(exc)

    # Batch jobs: Files + Batches, one JSONL line per request, on the API ``openai_api`` picks.

    def batch_submit(self, requests: Sequence[tuple[str, Request]], settings: Settings) -> str:
        lines = [batch_line(key, *self.kwargs(request, settings)) for key, request in requests]
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
        check_batch_size("OpenAI", len(lines), len(data), max_count=50_000, max_bytes=200_000_000)
        client = self.client(settings)
        upload = client.files.create(file=("alloy-batch.jsonl", data, "application/jsonl"), purpose="batch")
        endpoint = _BATCH_URL[api_for(settings)]
        return client.batches.create(input_file_id=upload.id, endpoint=endpoint, completion_window="24h").id

    def batch_state(self, job: str, settings: Settings) -> BatchState:
        batch = self.client(settings).batches.retrieve(job)
        counts = batch.request_counts
        return BatchState(
            batch.status,
            batch.status in _BATCH_ENDED,
            counts.total if counts else None,
            counts.completed if counts else 0,
            counts.failed if counts else 0,
        )

    def batch_results(self, job: str, settings: Settings) -> Iterator[BatchItem]:
        client = self.client(settings)
        batch = client.batches.retrieve(job)
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                for text in client.files.content(file_id).text.splitlines():
                    if text.strip():
                        yield parse_batch_line(_json_line(text), batch.endpoint, settings.max_tokens)


ADAPTER = OpenAIAdapter()

"""The Anthropic adapter: Claude through the Messages API of the ``anthropic`` SDK.

Structured output goes through ``output_config.format``: constrained decoding to a JSON schema
compiled by the ``anthropic`` dialect of ``alloy._schema`` (output mode ``native_strict``). One
forced tool carries the answer instead for models older than the 4.5 generation, for a type the
dialect cannot express strictly, and for a model or endpoint that refused ``output_config``: that
400 makes the adapter remember the model and raise ``UnsupportedFeature``, the drivers plan the
call again, and ``capabilities()`` then says ``output_mode="tool"``. So the fallback costs one
failed request, once per model and endpoint, per process.

The SDK (2.x) has dropped ``temperature`` from ``messages.create``'s signature and newer models reject
it, so a temperature travels in ``extra_body``, and only to models known to accept it.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, cast

import anthropic
from anthropic.resources.messages import Messages
from anthropic.types import Message as Message_
from anthropic.types import RawMessageStreamEvent
from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse
from pydantic import SecretStr

from .. import _registry
from .._errors import ProviderError, is_retryable_status, read_retry_after, snippet
from .._messages import Message, Request, Response, ToolCall, ToolCallDelta, Usage
from .._parts import Kind, Part, PartKind
from . import (
    Adapter,
    BatchItem,
    BatchState,
    Capabilities,
    Limit,
    StreamItem,
    UnsupportedFeature,
    check_batch_size,
    ended_early,
    reading_stream,
    require_key,
)

if TYPE_CHECKING:
    from .._settings import Settings

__all__ = ["ADAPTER", "AnthropicAdapter", "StreamState", "build_request", "parse_response"]

log = logging.getLogger("alloy.providers.anthropic")

PROVIDER = "anthropic"
DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS = 4096
"""The Messages API requires ``max_tokens``; this is sent when the settings have none."""

# The keywords messages.create takes; any other key of ``extra`` goes into the JSON body as it is.
_PARAMS = frozenset(inspect.signature(Messages.create).parameters) - {"self"}
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls", "max_tokens": "length"}
# An ``error`` event inside a stream that began with 200 has no status of its own.
_EPHEMERAL = {"type": "ephemeral"}
_EVENT_STATUS = {"invalid_request_error": 400, "rate_limit_error": 429, "overloaded_error": 529}
# How a 400 about native structured output reads: "output_config.format: Extra inputs are not
# permitted", "... does not support output format", "output_config.format.schema: ...".
_OUTPUT_REFUSED = re.compile(r"output_config|output_format|output format|json_schema|structured output", re.I)
# "claude-opus-4-1-20250805", "claude-sonnet-4-20250514" (no minor), "claude-3-5-haiku-20241022".
_VERSION = re.compile(r"claude-(?:[a-z]+-(\d+)(?:-(\d)\b)?|(\d+)(?:-(\d)\b)?-[a-z]+)")


def version(model: str) -> tuple[int, int] | None:
    """``(major, minor)`` of a Claude model name, ``None`` for a name without one."""
    m = _VERSION.search(model)
    return None if m is None else (int(m[1] or m[3]), int(m[2] or m[4] or 0))


def accepts_temperature(model: str, *, compatible: bool = False) -> bool:
    """Claude models after Opus 4.6 answer 400 "`temperature` is deprecated for this model".

    A model name without a version is a new Claude on Anthropic's API (no temperature), or another
    vendor's model on a compatible endpoint (send what was asked).
    """
    v = version(model)
    return compatible if v is None else v <= (4, 6)


def native_output(model: str) -> bool:
    """Structured outputs (``output_config.format``) came with the 4.5 models; older ones refuse it."""
    v = version(model)
    return v is None or v >= (4, 5)


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
        kwargs["tool_choice"] = _tool_choice(request.tool_choice)
    if request.cache_key:
        _mark_cacheable(kwargs)
    if request.output is not None and request.output.mode in ("native", "native_strict"):
        kwargs["output_config"] = {"format": {"type": "json_schema", "schema": request.output.schema}}
    body: dict[str, Any] = {} if request.temperature is None else {"temperature": request.temperature}
    for key, value in request.extra.items():
        target = kwargs if key in _PARAMS else body
        below = target.get(key)
        target[key] = {**below, **value} if isinstance(below, dict) and isinstance(value, dict) else value
    if body:
        kwargs["extra_body"] = {**body, **kwargs.get("extra_body", {})}
    return kwargs


def _mark_cacheable(kwargs: dict[str, Any]) -> None:
    """Cache breakpoints at the end of the stable prefix: the last tool and the last system block.

    Tools come before the system prompt in Anthropic's cache order, so the two breakpoints cover
    both; the conversation after them is not cached.
    """
    if tools := kwargs.get("tools"):
        tools[-1] = {**tools[-1], "cache_control": _EPHEMERAL}
    if system := kwargs.get("system"):
        kwargs["system"] = [{"type": "text", "text": system, "cache_control": _EPHEMERAL}]


def _tool_choice(choice: str) -> dict[str, str]:
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


_NO_AUDIO = (
    "Anthropic takes no audio: use gemini, or openai with openai_api='chat' or 'auto' (or send a "
    "transcript as text)."
)
_PARTS: frozenset[PartKind] = frozenset(("image", "image_url", "document", "document_url"))
_ADVICE: tuple[tuple[PartKind, str], ...] = (("audio", _NO_AUDIO), ("audio_url", _NO_AUDIO))
# docs.claude.com vision and PDF support: 5 MB per image and 32 MB per request, both as sent
# (base64, 4/3 of the bytes).
_LIMITS: tuple[tuple[Kind, Limit], ...] = (
    ("image", Limit(5 * 1024 * 1024 * 3 // 4, "5 MB per image, as base64")),
)
_INLINE = Limit(32_000_000 * 3 // 4, "32 MB per request, as base64")


# --- response ---------------------------------------------------------------------------------------


def parse_response(message: Message_) -> Response:
    """A Messages API answer as a neutral ``Response``.

    Raises:
        ProviderError: the model refused (``stop_reason="refusal"``).
    """
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":  # the SDK types input as object; the API sends a JSON object
            calls.append(ToolCall(block.name, cast("dict[str, Any]", block.input), block.id))
    text = "".join(texts)
    usage = _usage(message.usage, message.usage.output_tokens)
    return Response(text, tuple(calls), usage, _finish(message.stop_reason, text), message.model)


def _input_tokens(u: Any) -> int:
    """Uncached plus cached input tokens (Anthropic counts them apart; other providers do not)."""
    return (u.input_tokens or 0) + (u.cache_creation_input_tokens or 0) + (u.cache_read_input_tokens or 0)


def _usage(u: Any, output_tokens: int) -> Usage:
    """Usage with the cache reads and writes (both also counted in ``input_tokens``)."""
    return Usage(
        _input_tokens(u), output_tokens, 0, u.cache_read_input_tokens or 0, u.cache_creation_input_tokens or 0
    )


def _finish(stop_reason: str | None, text: str) -> str | None:
    """The neutral finish reason: ``length`` for truncation; a refusal is an error."""
    if stop_reason == "refusal":
        said = f" It said: {snippet(text)}" if text else ""
        raise ProviderError(f"The model refused to answer (stop_reason 'refusal').{said}", provider=PROVIDER)
    if stop_reason == "model_context_window_exceeded":
        return "length"
    return _FINISH.get(stop_reason or "", stop_reason)


class StreamState:
    """Accumulates raw stream events into the final ``Response``; ``feed`` returns the deltas.

    ``response()`` raises if the stream ended before ``message_stop``.
    """

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.tools: dict[int, tuple[str, str, list[str]]] = {}  # block index → (id, name, JSON pieces)
        self.order: dict[int, int] = {}  # block index → position among the tool calls
        self.usage = Usage()
        self.stop_reason: str | None = None
        self.model: str | None = None
        self.done = False

    def feed(self, event: RawMessageStreamEvent) -> list[StreamItem]:
        """Take one event; return the text or tool-input pieces it adds."""
        delta = ""
        if event.type == "message_start":
            self.model = event.message.model
            self.usage = _usage(event.message.usage, event.message.usage.output_tokens)
        elif event.type == "content_block_start":
            block = event.content_block
            if block.type == "tool_use":
                self.order[event.index] = len(self.tools)
                self.tools[event.index] = (block.id, block.name, [])
            elif block.type == "text":
                delta = block.text
        elif event.type == "content_block_delta":
            if event.delta.type == "text_delta":
                delta = event.delta.text
            elif event.delta.type == "input_json_delta" and event.index in self.tools:
                _, name, pieces = self.tools[event.index]
                if piece := event.delta.partial_json:
                    pieces.append(piece)
                    return [ToolCallDelta(self.order[event.index], name, piece)]
        elif event.type == "message_delta":  # its usage is cumulative; input tokens may be absent
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            if event.usage.input_tokens is not None:
                self.usage = _usage(event.usage, event.usage.output_tokens)
            else:
                self.usage = dataclasses.replace(self.usage, output_tokens=event.usage.output_tokens)
        elif event.type == "message_stop":
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
        return Response(text, calls, self.usage, _finish(self.stop_reason, text), self.model)


def _arguments(raw: str) -> dict[str, Any]:
    """Streamed tool input; malformed JSON is kept whole so tool validation shows it to the model."""
    try:
        value: object = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        value = None
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {"__raw__": raw}


# --- batch jobs (Message Batches) ------------------------------------------------------------------


def batch_request(key: str, request: Request, settings: Settings) -> dict[str, Any]:
    """One request of a Message Batch: ``messages.create``'s body for *request* (``extra_body`` merged in)."""
    kwargs = build_request(request, settings)
    params = {k: v for k, v in kwargs.items() if k != "extra_body"} | kwargs.get("extra_body", {})
    return {"custom_id": key, "params": params}


def batch_state(batch: MessageBatch) -> BatchState:
    """A ``MessageBatch`` as a neutral ``BatchState``."""
    c = batch.request_counts
    total = c.processing + c.succeeded + c.errored + c.canceled + c.expired
    failed = c.errored + c.canceled + c.expired
    return BatchState(batch.processing_status, batch.processing_status == "ended", total, c.succeeded, failed)


def parse_batch_result(line: MessageBatchIndividualResponse) -> BatchItem:
    """One result of a Message Batch: the answer, parsed as a live answer is, or why it has none."""
    key, result = line.custom_id, line.result
    if result.type == "succeeded":
        try:
            return key, parse_response(result.message)
        except ProviderError as exc:
            return key, exc
    if result.type == "errored":
        error = result.error.error
        status = _EVENT_STATUS.get(error.type, 500)
        message = f"batch request {key} errored: {error.type}: {snippet(error.message, 300)}"
        retryable = is_retryable_status(status)
        return key, ProviderError(message, provider=PROVIDER, status_code=status, retryable=retryable)
    return key, ProviderError(f"batch request {key} was {result.type}", provider=PROVIDER, retryable=True)


# --- the adapter ------------------------------------------------------------------------------------


class AnthropicAdapter(Adapter):
    """``anthropic:<model>``: Claude through the Messages API."""

    provider: ClassVar[str] = PROVIDER

    def __init__(self) -> None:
        # (base URL, model) pairs that refused output_config. Only grows; the drivers run in threads.
        self._no_native_output: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def forget_refusals(self) -> None:
        """Forget which models refused ``output_config`` (tests; after an endpoint upgrade)."""
        with self._lock:
            self._no_native_output.clear()

    def capabilities(self, model: str, settings: Settings) -> Capabilities:
        _, base_url = _endpoint(settings)
        with self._lock:
            native = native_output(model) and (base_url, model) not in self._no_native_output
        compatible = _compatible(base_url)
        return Capabilities(
            # output_config is constrained decoding, strict only: a type the dialect cannot
            # express strictly goes through a forced tool instead.
            output_mode="native_strict" if native else "tool",
            nonstrict_output_mode="tool",
            schema_dialect="anthropic",
            native_tools=True,
            temperature=accepts_temperature(model, compatible=compatible),
            compatible_endpoint=compatible,
            strict_tools=native,
            parts=_PARTS,
            part_advice=_ADVICE,
            part_limits=_LIMITS,
            inline_limit=_INLINE,
        )

    def send(self, request: Request, settings: Settings) -> Response:
        with self._watch(request, settings):
            # cast: without stream=False in the call (it would be sent) pyright cannot pick the overload.
            message = cast(
                Message_, self._client(settings).messages.create(**build_request(request, settings))
            )
        return parse_response(message)

    async def asend(self, request: Request, settings: Settings) -> Response:
        with self._watch(request, settings):
            client = self._aclient(settings)
            message = cast(
                Message_, await client.messages.create(**build_request(request, settings))
            )  # as in send
        return parse_response(message)

    def stream(self, request: Request, settings: Settings) -> Iterator[StreamItem]:
        with self._watch(request, settings):
            events = self._client(settings).messages.create(**build_request(request, settings), stream=True)
        state = StreamState()
        with reading_stream(PROVIDER), events:
            for event in events:
                yield from state.feed(event)
        yield state.response()

    async def astream(self, request: Request, settings: Settings) -> AsyncIterator[StreamItem]:
        with self._watch(request, settings):
            client = self._aclient(settings)
            events = await client.messages.create(**build_request(request, settings), stream=True)
        state = StreamState()
        with reading_stream(PROVIDER):
            async with events:
                async for event in events:
                    for item in state.feed(event):
                        yield item
        yield state.response()

    def classify(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, anthropic.APIStatusError):
            kind = str(exc.type) if exc.type else None
            status = exc.status_code if exc.status_code >= 400 else _EVENT_STATUS.get(kind or "", 500)
            message = snippet(exc.api_message or exc.message, 300)
            message = f"{kind}: {message}" if kind else message
            if status == 401:
                message += " Check ALLOY_ANTHROPIC_API_KEY (or ANTHROPIC_API_KEY)."
            elif status == 404:
                message += " Check the model name (e.g. 'anthropic:claude-sonnet-4-5') and the base URL."
            return ProviderError(
                message,
                provider=PROVIDER,
                status_code=status,
                retryable=is_retryable_status(status),
                retry_after=read_retry_after(exc.response.headers),
                body=exc.body,
            )
        if isinstance(exc, anthropic.APIConnectionError):  # APITimeoutError included
            cause = f" ({snippet(exc.__cause__, 200)})" if exc.__cause__ else ""
            return ProviderError(f"{snippet(exc.message, 200)}{cause}", provider=PROVIDER, retryable=True)
        return None

    # Batch jobs: Message Batches, each request built by build_request and parsed by parse_response.

    def batch_submit(self, requests: Sequence[tuple[str, Request]], settings: Settings) -> str:
        batch = [batch_request(key, request, settings) for key, request in requests]
        size = len(json.dumps(batch, ensure_ascii=False).encode())
        check_batch_size("Anthropic", len(batch), size, max_count=100_000, max_bytes=256_000_000)
        return self._client(settings).messages.batches.create(requests=cast(Any, batch)).id

    def batch_state(self, job: str, settings: Settings) -> BatchState:
        return batch_state(self._client(settings).messages.batches.retrieve(job))

    def batch_results(self, job: str, settings: Settings) -> Iterator[BatchItem]:
        for line in self._client(settings).messages.batches.results(job):
            yield parse_batch_result(line)

    @contextmanager
    def _watch(self, request: Request, settings: Settings) -> Generator[None]:
        """Turn a 400 that refuses the ``output_config`` we sent into ``UnsupportedFeature``.

        The model is remembered first, so the plan made next uses a forced tool.
        """
        try:
            yield
        except anthropic.BadRequestError as exc:
            text = exc.api_message or exc.message
            native = request.output is not None and request.output.mode in ("native", "native_strict")
            if not (native and _OUTPUT_REFUSED.search(text)):
                raise
            with self._lock:
                self._no_native_output.add((_endpoint(settings)[1], request.model))
            log.info(
                "%s refused output_config (%s): forced tool from now on", request.model, snippet(text, 200)
            )
            message = f"{request.model} refused native structured output: {snippet(text, 200)}"
            raise UnsupportedFeature(message, provider=PROVIDER, feature="output") from exc

    def _client(self, settings: Settings) -> anthropic.Anthropic:
        key, base_url = _credentials(settings)
        return _registry.client(
            (PROVIDER, key, base_url, settings.timeout),
            lambda: anthropic.Anthropic(**_client_options(key, base_url, settings.timeout)),
        )

    def _aclient(self, settings: Settings) -> anthropic.AsyncAnthropic:
        key, base_url = _credentials(settings)
        return _registry.client(
            (PROVIDER, key, base_url, settings.timeout),
            lambda: anthropic.AsyncAnthropic(**_client_options(key, base_url, settings.timeout)),
            is_async=True,
        )


def _endpoint(settings: Settings) -> tuple[SecretStr | None, str]:
    return settings.anthropic_api_key, settings.anthropic_base_url or DEFAULT_BASE_URL


def _compatible(base_url: str) -> bool:
    return "api.anthropic.com" not in base_url


def _credentials(settings: Settings) -> tuple[SecretStr, str]:
    """The key (a ``SecretStr``, so a cache key never shows it) and the base URL.

    Raises:
        ConfigurationError: no key, before any request.
    """
    return require_key(settings, "anthropic_api_key", "Anthropic"), _endpoint(settings)[1]


def _client_options(key: SecretStr, base_url: str, timeout: float) -> dict[str, Any]:
    """One retry layer (ours), the key and URL from settings (so .env values count), our timeout."""
    options: dict[str, Any] = {
        "api_key": key.get_secret_value(),
        "base_url": base_url,
        "timeout": timeout,
        "max_retries": 0,
    }
    if _compatible(base_url):
        # The SDK sends the key as a Bearer token; servers built on the Messages API's documented
        # auth read x-api-key, so a compatible endpoint gets both.
        options["default_headers"] = {"x-api-key": key.get_secret_value()}
    return options


ADAPTER = AnthropicAdapter()

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

import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, cast

import anthropic
from anthropic.types import Message as Message_
from pydantic import SecretStr

from .. import _registry
from .._errors import ProviderError, is_retryable_status, read_retry_after, snippet
from .._messages import Request, Response
from .._parts import Kind, PartKind
from . import (
    Adapter,
    BatchItem,
    BatchState,
    Capabilities,
    Limit,
    StreamItem,
    UnsupportedFeature,
    check_batch_size,
    reading_stream,
    require_key,
)
from . import _anthropic_wire as wire
from ._anthropic_wire import (
    PROVIDER,
    StreamState,
    build_request,
    parse_response,
    wire_messages,
)

if TYPE_CHECKING:
    from .._settings import Settings

__all__ = ["ADAPTER", "AnthropicAdapter", "StreamState", "build_request", "parse_response", "wire_messages"]

log = logging.getLogger("alloy.providers.anthropic")

DEFAULT_BASE_URL = "https://api.anthropic.com"
# A lean stream's events: the SDK's own SSE reading and ``error`` events, each event's JSON as it is.
_STREAM = anthropic.Stream[object]
_ASTREAM = anthropic.AsyncStream[object]
# How a 400 about native structured output reads: "output_config.format: Extra inputs are not
# permitted", "... does not support output format", "output_config.format.schema: ...", and a
# LiteLLM proxy's "does not support parameters: ['response_format']" (the name it translated it to).
_OUTPUT_REFUSED = re.compile(
    r"output_config|output_format|output format|json_schema|structured output|response_format", re.I
)
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

    # Every call takes the lean path (``_anthropic_wire``): the SDK client's public ``post`` with
    # the body Alloy built, encoded as ``create`` would encode it; a non-streamed answer's bytes are
    # read into the few fields Alloy uses, a stream's events (the SDK's ``Stream``) as their JSON.
    # ``create``'s other work is not needed: Alloy's clients have their own timeout (so none is
    # derived from ``max_tokens``), and what only ``create`` can send takes it (``wire.content``).

    def send(self, request: Request, settings: Settings) -> Response:
        kwargs = build_request(request, settings)
        client = self._client(settings)
        with self._watch(request, settings):
            if (body := wire.content(kwargs)) is not None:
                raw: bytes | Message_ = client.post(wire.PATH, content=body, cast_to=bytes)
            else:  # cast: without stream=False in the call (it would be sent) pyright cannot pick the overload
                raw = cast(Message_, client.messages.create(**kwargs))
        return parse_response(raw)

    async def asend(self, request: Request, settings: Settings) -> Response:
        kwargs = build_request(request, settings)
        client = self._aclient(settings)
        with self._watch(request, settings):
            if (body := wire.content(kwargs)) is not None:
                raw: bytes | Message_ = await client.post(wire.PATH, content=body, cast_to=bytes)
            else:  # as in send
                raw = cast(Message_, await client.messages.create(**kwargs))
        return parse_response(raw)

    def stream(self, request: Request, settings: Settings) -> Iterator[StreamItem]:
        kwargs = build_request(request, settings)
        client = self._client(settings)
        with self._watch(request, settings):
            if (body := wire.content({**kwargs, "stream": True})) is not None:
                events: anthropic.Stream[Any] = client.post(
                    wire.PATH, content=body, cast_to=object, stream=True, stream_cls=_STREAM
                )
            else:
                events = client.messages.create(**kwargs, stream=True)
        state = StreamState()
        with reading_stream(PROVIDER), events:
            for event in events:
                yield from state.feed(event)
        yield state.response()

    async def astream(self, request: Request, settings: Settings) -> AsyncIterator[StreamItem]:
        kwargs = build_request(request, settings)
        client = self._aclient(settings)
        with self._watch(request, settings):
            if (body := wire.content({**kwargs, "stream": True})) is not None:
                events: anthropic.AsyncStream[Any] = await client.post(
                    wire.PATH, content=body, cast_to=object, stream=True, stream_cls=_ASTREAM
                )
            else:
                events = await client.messages.create(**kwargs, stream=True)
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
            status = exc.status_code if exc.status_code >= 400 else wire.EVENT_STATUS.get(kind or "", 500)
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

    # Batch jobs: Message Batches, each request built by build_request and parsed by parse_response
    # (``_anthropic_batch``, loaded with the first batch call: a live call never needs it).

    def batch_submit(self, requests: Sequence[tuple[str, Request]], settings: Settings) -> str:
        from . import _anthropic_batch as _batch

        batch = [_batch.batch_request(key, request, settings) for key, request in requests]
        size = len(json.dumps(batch, ensure_ascii=False).encode())
        check_batch_size("Anthropic", len(batch), size, max_count=100_000, max_bytes=256_000_000)
        return self._client(settings).messages.batches.create(requests=cast(Any, batch)).id

    def batch_state(self, job: str, settings: Settings) -> BatchState:
        from . import _anthropic_batch as _batch

        return _batch.batch_state(self._client(settings).messages.batches.retrieve(job))

    def batch_results(self, job: str, settings: Settings) -> Iterator[BatchItem]:
        from . import _anthropic_batch as _batch

        for line in self._client(settings).messages.batches.results(job):
            yield _batch.parse_batch_result(line)

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

"""OpenAI: the Responses API against OpenAI itself, Chat Completions against any other base URL.

The adapter: which API, what it can do, the client, and one SDK call per I/O method, on a client
cached per (key, base URL, timeout) with the SDK's own retries off (``alloy._retry`` is the one
retry layer). The translation lives beside it: ``_openai_chat`` and ``_openai_responses`` (request,
answer, stream of each API; Chat Completions' stream in ``_openai_chat_stream``), ``_openai_wire`` (what they share, and the lean path's body),
``_openai_batch`` (Batch API lines). The Responses and batch modules load with their first use, so a
Chat Completions process builds none of their lean models.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, cast
from urllib.parse import urlsplit

import openai
from openai import AsyncStream, RequestOptions, Stream
from openai.types.chat import ChatCompletion, ChatCompletionStreamOptionsParam
from pydantic import SecretStr

from .. import _registry
from .._errors import ConfigurationError, ProviderError
from .._messages import Request, Response
from .._parts import Kind, PartKind
from . import (
    Adapter,
    BatchItem,
    BatchState,
    Capabilities,
    Limit,
    StreamItem,
    check_batch_size,
    reading_stream,
)
from . import _openai_wire as wire
from ._compat import Refusals
from ._openai_chat import DOCUMENT_URL, chat_kwargs, parse_chat
from ._openai_wire import PROVIDER as _PROVIDER
from ._openai_wire import Api, classify

if TYPE_CHECKING:
    from openai.types.responses import Response as OpenAIResponse

    from .._settings import Settings

_REASONING = ("gpt-5", "o1", "o3", "o4")  # reasoning models refuse a temperature
_USAGE: ChatCompletionStreamOptionsParam = {"include_usage": True}
_BEARER: RequestOptions = {"security": {"bearer_auth": True}}  # what ``create`` asks of the client


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
    ("document_url", DOCUMENT_URL),
)
# platform.openai.com/docs/guides/images-vision and /pdf-files: 20 MB per image, 50 MB per file,
# 50 MB of inputs per request.
_LIMITS: tuple[tuple[Kind, Limit], ...] = (
    ("image", Limit(20_000_000, "20 MB per image")),
    ("document", Limit(50_000_000, "50 MB per file")),
)
_INLINE = Limit(50_000_000, "50 MB of files and images per request")


def _stream_state(api: Api, kwargs: Mapping[str, Any]) -> wire.Deltas:
    if api == "responses":
        from ._openai_responses import ResponsesStream

        return ResponsesStream(kwargs.get("max_output_tokens"))
    from ._openai_chat_stream import ChatStream

    return ChatStream()


def _call(
    client: openai.OpenAI | openai.AsyncOpenAI, api: Api, kwargs: dict[str, Any], *, stream: bool
) -> Any:
    """The one SDK call for *kwargs* (a coroutine on the async client).

    The lean path (``_openai_wire``): the SDK client's public ``post`` with the body Alloy built,
    giving the answer's bytes, or a ``Stream`` of each event's decoded JSON (the SDK's own SSE
    decoding, ``[DONE]`` and error-event handling), which the lean models read. ``create``, giving
    the SDK's objects, only for keywords that are not part of the body (``SDK_ONLY``).
    """
    if stream and api == "chat":
        kwargs = {**kwargs, "stream_options": _USAGE}
    if not wire.SDK_ONLY.isdisjoint(kwargs):
        create = client.responses.create if api == "responses" else client.chat.completions.create
        return create(**kwargs, stream=stream)
    path, body = wire.PATH[api], wire.body(api, kwargs, stream=stream)
    if not stream:
        return client.post(path, body=body, cast_to=bytes, options=_BEARER)
    if isinstance(client, openai.AsyncOpenAI):
        return client.post(
            path, body=body, cast_to=object, options=_BEARER, stream=True, stream_cls=AsyncStream[object]
        )
    return client.post(
        path, body=body, cast_to=object, options=_BEARER, stream=True, stream_cls=Stream[object]
    )


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
            from ._openai_responses import responses_kwargs

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

    # Every call, streamed or not, takes the lean path (``_call``).

    def send(self, request: Request, settings: Settings) -> Response:
        api, kwargs = self.kwargs(request, settings)
        with self._refused(settings, kwargs):
            raw = _call(self.client(settings), api, kwargs, stream=False)
        return self._parsed(api, raw, kwargs)

    async def asend(self, request: Request, settings: Settings) -> Response:
        api, kwargs = self.kwargs(request, settings)
        with self._refused(settings, kwargs):
            raw = await _call(self.async_client(settings), api, kwargs, stream=False)
        return self._parsed(api, raw, kwargs)

    @staticmethod
    def _parsed(
        api: Api, raw: bytes | OpenAIResponse | ChatCompletion, kwargs: Mapping[str, Any]
    ) -> Response:
        if api == "responses":
            from ._openai_responses import parse_responses

            return parse_responses(cast("bytes | OpenAIResponse", raw), kwargs.get("max_output_tokens"))
        return parse_chat(cast("bytes | ChatCompletion", raw))

    def stream(self, request: Request, settings: Settings) -> Iterator[StreamItem]:
        api, kwargs = self.kwargs(request, settings)
        state = _stream_state(api, kwargs)
        with self._refused(settings, kwargs):
            events: Stream[Any] = _call(self.client(settings), api, kwargs, stream=True)
        with reading_stream(_PROVIDER), events:
            for event in events:
                yield from state.feed(event)
        yield state.result()

    async def astream(self, request: Request, settings: Settings) -> AsyncIterator[StreamItem]:
        api, kwargs = self.kwargs(request, settings)
        state = _stream_state(api, kwargs)
        with self._refused(settings, kwargs):
            events: AsyncStream[Any] = await _call(self.async_client(settings), api, kwargs, stream=True)
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
        from ._openai_batch import BATCH_URL, batch_line

        lines = [batch_line(key, *self.kwargs(request, settings)) for key, request in requests]
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
        check_batch_size("OpenAI", len(lines), len(data), max_count=50_000, max_bytes=200_000_000)
        client = self.client(settings)
        upload = client.files.create(file=("alloy-batch.jsonl", data, "application/jsonl"), purpose="batch")
        endpoint = BATCH_URL[api_for(settings)]
        return client.batches.create(input_file_id=upload.id, endpoint=endpoint, completion_window="24h").id

    def batch_state(self, job: str, settings: Settings) -> BatchState:
        from ._openai_batch import BATCH_ENDED

        batch = self.client(settings).batches.retrieve(job)
        counts = batch.request_counts
        return BatchState(
            batch.status,
            batch.status in BATCH_ENDED,
            counts.total if counts else None,
            counts.completed if counts else 0,
            counts.failed if counts else 0,
        )

    def batch_results(self, job: str, settings: Settings) -> Iterator[BatchItem]:
        from ._openai_batch import json_line, parse_batch_line

        client = self.client(settings)
        batch = client.batches.retrieve(job)
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                for text in client.files.content(file_id).text.splitlines():
                    if text.strip():
                        yield parse_batch_line(json_line(text), batch.endpoint, settings.max_tokens)


ADAPTER = OpenAIAdapter()

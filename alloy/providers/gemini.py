"""Gemini: ``generate_content`` of the ``google-genai`` SDK, on the Developer API (``v1beta``).

Structured output is ``response_mime_type="application/json"`` with ``response_json_schema`` (compiled
by the ``gemini`` dialect of ``alloy._schema``); tools are function declarations whose
``parameters_json_schema`` carries the JSON schema as it is. The SDK's automatic function calling is
off (the engine runs the tools) and so are its retries (one attempt: ``alloy._retry`` is the layer).

Wire specifics handled here:

- A call often comes without an id: the adapter makes one (``gemini-call-…``), answers by name and
  never sends a made-up id back.
- Thinking models sign function calls (``thought_signature``) and Gemini 3 answers 400 when a call
  comes back unsigned: signatures are kept by call id (a bounded map) and sent back with the call.
- Gemini before 3 refuses function declarations with a JSON response schema. For those models, and
  for one that refused once (``UnsupportedFeature``, then the call is planned again), tool turns go
  without the schema and the turn that allows no tool calls (``tool_choice="none"``) goes with the
  schema and no declarations.

The translation lives in ``_gemini_wire`` (the request, and the answer read from its raw body) and
``_gemini_batch`` (batch mode); this module holds the client, the calls, errors and the adapter's
memory (signatures, refused combinations).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from google import genai
from google.genai import errors, types

from .. import _registry
from .._errors import ProviderError, is_retryable_status, malformed, read_retry_after, snippet
from .._messages import Request, Response
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
from . import _gemini_wire as wire
from ._gemini_wire import (
    CALL_ID_PREFIX,
    SKIP_SIGNATURE,
    StreamState,
    build_request,
    is_current,
    parse_response,
    wire_contents,
)

if TYPE_CHECKING:
    from pydantic import SecretStr

    from .._settings import Settings

__all__ = [
    "ADAPTER",
    "CALL_ID_PREFIX",
    "SKIP_SIGNATURE",
    "GeminiAdapter",
    "StreamState",
    "build_request",
    "classify",
    "is_current",
    "parse_response",
    "wire_contents",
]

log = logging.getLogger("alloy.providers.gemini")

PROVIDER = wire.PROVIDER
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/"
API_VERSION = "v1beta"  # SDK 3 defaults to v1; v1beta has every generation feature and the -latest aliases
# "Function calling with a response mime type: 'application/json' is unsupported" (Gemini 2.x)
_BOTH_REFUSED = re.compile(r"(function calling|tool use) with a response mime type", re.I)
_SIGNATURES_KEPT = 4096  # a call is answered in the very next turn: the newest few thousand suffice
# Exception classes of the SDK's HTTP clients (httpx2, httpx, aiohttp) that are worth a retry.
_TRANSIENT = frozenset(
    {"TimeoutException", "NetworkError", "RemoteProtocolError"}  # httpx2 and httpx
    | {"ClientConnectionError", "ClientPayloadError"}  # aiohttp
)
# ai.google.dev/gemini-api/docs/image-understanding and document-processing: inline data up to
# 20 MB per request in all (base64 included); larger files go through the Files API (a URL).
_INLINE = Limit(20_000_000 * 3 // 4, "20 MB per request, as base64; larger files go by URL (Files API)")


# --- errors ---------------------------------------------------------------------------------------


def classify(exc: Exception) -> ProviderError | None:
    """A ``google-genai`` (or its HTTP client's) exception as a ``ProviderError``; ``None`` otherwise."""
    if isinstance(exc, errors.APIError):
        message = snippet(exc.message or str(exc), 300)
        message = f"{exc.status}: {message}" if exc.status else message
        if exc.code in (401, 403) or "api key" in message.lower():  # a bad key is a 400 on Gemini
            message += " Check ALLOY_GEMINI_API_KEY (or GEMINI_API_KEY / GOOGLE_API_KEY)."
        elif exc.code == 404:
            message += " Check the model name (e.g. 'gemini:gemini-2.5-flash') and the base URL."
        retryable = is_retryable_status(exc.code)
        details: Any = getattr(exc, "details", None)
        return ProviderError(
            message,
            provider=PROVIDER,
            status_code=exc.code,
            retryable=retryable,
            retry_after=retry_after(exc),
            body=details,
        )
    if isinstance(exc, errors.UnknownApiResponseError):  # a streamed line that is not JSON
        return malformed(PROVIDER, exc)
    # Matched by name, so that no HTTP client has to be imported.
    ours = [
        c.__name__
        for c in type(exc).__mro__
        if c.__module__.partition(".")[0] in ("httpx", "httpx2", "aiohttp")
    ]
    if isinstance(exc, TimeoutError | ConnectionError) or _TRANSIENT.intersection(ours):
        message = f"could not reach the Gemini API ({type(exc).__name__}: {snippet(str(exc), 200)})"
        return ProviderError(message, provider=PROVIDER, retryable=True)
    if ours:  # a bad URL, a proxy refusing: the same request would fail again
        return ProviderError(f"{type(exc).__name__}: {snippet(str(exc), 200)}", provider=PROVIDER)
    return None


def _models(client: genai.Client | genai.client.AsyncClient) -> Any:
    """``client.models`` (or ``client.aio.models``), untyped: the SDK's parameter types mention
    ``PIL.Image``, so whether pyright knows them depends on whether pillow is installed."""
    return client.models


def retry_after(exc: errors.APIError) -> float | None:
    """Seconds to wait: the ``Retry-After`` headers, else the ``RetryInfo`` Gemini sends with a 429."""
    if (seconds := read_retry_after(getattr(getattr(exc, "response", None), "headers", None))) is not None:
        return seconds
    body: Any = getattr(exc, "details", None)  # the error JSON, as Gemini sent it
    with contextlib.suppress(KeyError, TypeError, StopIteration):  # RetryInfo: {"retryDelay": "37s"}
        delay = next(d["retryDelay"] for d in body["error"]["details"] if "retryDelay" in d)
        with contextlib.suppress(ValueError):
            return max(float(str(delay).removesuffix("s")), 0.0)
    return None


# --- the adapter ----------------------------------------------------------------------------------


class GeminiAdapter(Adapter):
    """``gemini:<model>``: Gemini through the Developer API (``google-genai``)."""

    provider: ClassVar[str] = PROVIDER

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Thought signatures by call id, oldest first.
        self._signatures: dict[str, bytes] = {}
        # (base URL, model) pairs that refused tools with a response schema; only grows.
        self._split: set[tuple[str, str]] = set()
        # (key, base URL, timeout) -> (key digest, validated HttpOptions): built once per settings.
        self._options: dict[tuple[SecretStr, str, float], tuple[str, types.HttpOptions]] = {}

    def capabilities(self, model: str, settings: Settings) -> Capabilities:
        own = (
            urlsplit(settings.gemini_base_url or DEFAULT_BASE_URL).hostname
            == urlsplit(DEFAULT_BASE_URL).hostname
        )
        return Capabilities(
            output_mode="native", schema_dialect="gemini", compatible_endpoint=not own, inline_limit=_INLINE
        )

    def kwargs(self, request: Request, settings: Settings, *, raw: bool = False) -> dict[str, Any]:
        """The ``generate_content`` keyword arguments for *request* (with *raw*, asking for the raw body)."""
        ids = [c.id for m in request.messages for c in m.tool_calls]
        with self._lock:
            known = {i: self._signatures[i] for i in ids if i in self._signatures}
            split = (settings.gemini_base_url or DEFAULT_BASE_URL, request.model) in self._split
        return build_request(request, known, split=split, raw=raw)

    def client(self, settings: Settings) -> genai.Client:
        """The shared client for these credentials, base URL and timeout; its ``.aio`` serves async
        calls (the SDK keeps one connection pool per event loop itself).

        Raises:
            ConfigurationError: no API key is set (checked before anything is sent).
        """
        key = require_key(settings, "gemini_api_key", "Gemini")
        base_url = settings.gemini_base_url or DEFAULT_BASE_URL
        known = (key, base_url, settings.timeout)  # the key stays a SecretStr in this cache key
        if (built := self._options.get(known)) is None:
            options = types.HttpOptions(
                base_url=base_url,
                api_version=API_VERSION,
                timeout=round(settings.timeout * 1000),  # milliseconds
                retry_options=types.HttpRetryOptions(attempts=1),  # also ends aiohttp's own silent retry
            )
            digest = hashlib.sha256(key.get_secret_value().encode()).hexdigest()  # the registry holds no key
            if len(self._options) >= wire.CACHE_KEPT:
                self._options.clear()
            built = self._options[known] = (digest, options)
        digest, options = built
        build = lambda: genai.Client(api_key=key.get_secret_value(), vertexai=False, http_options=options)  # noqa: E731
        return _registry.client((PROVIDER, digest, base_url, settings.timeout), build)

    # A whole answer comes as its raw body (``wire.read``); one cut at the per-request token limit
    # is asked for the rest until it ends (``wire.then``), as the SDK would do itself.

    def send(self, request: Request, settings: Settings) -> Response:
        kwargs, client, state = self.kwargs(request, settings, raw=True), self.client(settings), StreamState()
        with self._watch(request, settings):
            while kwargs:
                kwargs = wire.then(state, kwargs, _models(client).generate_content(**kwargs))
        return self._done(state)

    async def asend(self, request: Request, settings: Settings) -> Response:
        kwargs, client, state = self.kwargs(request, settings, raw=True), self.client(settings), StreamState()
        with self._watch(request, settings):
            while kwargs:
                kwargs = wire.then(state, kwargs, await _models(client.aio).generate_content(**kwargs))
        return self._done(state)

    def stream(self, request: Request, settings: Settings) -> Iterator[StreamItem]:
        kwargs, client, state = self.kwargs(request, settings), self.client(settings), StreamState()
        with self._watch(request, settings), reading_stream(PROVIDER):
            for chunk in _models(client).generate_content_stream(**kwargs):
                yield from state.feed(chunk)
        state.ended()
        yield self._done(state)

    async def astream(self, request: Request, settings: Settings) -> AsyncIterator[StreamItem]:
        kwargs, client, state = self.kwargs(request, settings), self.client(settings), StreamState()
        with self._watch(request, settings), reading_stream(PROVIDER):
            chunks = await _models(client.aio).generate_content_stream(**kwargs)
            async for chunk in chunks:
                for item in state.feed(chunk):
                    yield item
        state.ended()
        yield self._done(state)

    def classify(self, exc: Exception) -> ProviderError | None:
        return classify(exc)

    # Batch jobs: batch mode with inlined requests, each built by build_request, parsed by parse_response
    # (``_gemini_batch``, loaded with the first batch call: a live call never needs it).

    def batch_submit(self, requests: Sequence[tuple[str, Request]], settings: Settings) -> str:
        from ._gemini_batch import batch_request

        inlined = [batch_request(key, request) for key, request in requests]
        size = sum(len(r.model_dump_json(exclude_none=True)) for r in inlined)
        check_batch_size("Gemini", len(inlined), size, max_count=None, max_bytes=20_000_000)  # inline
        model = requests[0][1].model if requests else ""
        config = types.CreateBatchJobConfig(display_name="alloy")
        job = self.client(settings).batches.create(model=model, src=inlined, config=config)
        return job.name or ""

    def batch_state(self, job: str, settings: Settings) -> BatchState:
        from ._gemini_batch import batch_state

        return batch_state(self.client(settings).batches.get(name=job))

    def batch_results(self, job: str, settings: Settings) -> Iterator[BatchItem]:
        from ._gemini_batch import parse_batch_results

        return parse_batch_results(self.client(settings).batches.get(name=job))

    def _done(self, state: StreamState) -> Response:
        """The answer, its signatures kept for the next turn."""
        with self._lock:
            self._signatures.update(state.signatures)
            while len(self._signatures) > _SIGNATURES_KEPT:  # oldest first
                del self._signatures[next(iter(self._signatures))]
        return state.result()

    @contextmanager
    def _watch(self, request: Request, settings: Settings) -> Generator[None]:
        """A 400 refusing tools with a response schema: remember the model, have the call planned again."""
        try:
            yield
        except errors.ClientError as exc:
            both = bool(request.tools) and request.output is not None
            if not (exc.code == 400 and both and _BOTH_REFUSED.search(exc.message or "")):
                raise
            with self._lock:
                self._split.add((settings.gemini_base_url or DEFAULT_BASE_URL, request.model))
            log.info(
                "%s refused tools with a response schema: from now on they go in separate turns",
                request.model,
            )
            raise UnsupportedFeature(
                f"{request.model} refused function calling with a JSON response schema: {exc.message}",
                provider=PROVIDER,
                feature="output",
            ) from exc


ADAPTER = GeminiAdapter()

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
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import re
import threading
import uuid
from collections.abc import AsyncIterator, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, cast
from urllib.parse import urlsplit

import pydantic
from google import genai
from google.genai import errors, types

from .. import _registry
from .._errors import (
    ConfigurationError,
    ProviderError,
    is_retryable_status,
    malformed,
    read_retry_after,
    snippet,
)
from .._messages import Message, Request, Response, ToolCall, ToolCallDelta, Usage
from .._parts import Part
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
    from pydantic import SecretStr

    from .._settings import Settings

__all__ = ["ADAPTER", "GeminiAdapter", "StreamState", "build_request", "classify", "parse_response"]

log = logging.getLogger("alloy.providers.gemini")

PROVIDER = "gemini"
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/"
API_VERSION = "v1beta"  # SDK 3 defaults to v1; v1beta has every generation feature and the -latest aliases
CALL_ID_PREFIX = "gemini-call-"
# Google's documented stand-in for a lost signature: bytes whose base64 on the wire is this very word.
SKIP_SIGNATURE = base64.urlsafe_b64decode("skip_thought_signature_validator")
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}
_BLOCKED = {
    "SAFETY": "Gemini's safety filters flagged it",
    "RECITATION": "it recited a source too closely",
    "PROHIBITED_CONTENT": "it may be prohibited content",
    "BLOCKLIST": "it contains a blocklisted term",
    "SPII": "it may contain sensitive personal information",
    "MODEL_ARMOR": "Model Armor blocked it",
}
_RESAMPLE = {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL"}  # a new sample may well succeed
_GENERATION = re.compile(r"gemini-(\d+)")
# "Function calling with a response mime type: 'application/json' is unsupported" (Gemini 2.x)
_BOTH_REFUSED = re.compile(r"(function calling|tool use) with a response mime type", re.I)
_SIGNATURES_KEPT = 4096  # a call is answered in the very next turn: the newest few thousand suffice
# Exception classes of the SDK's HTTP clients (httpx2, httpx, aiohttp) that are worth a retry.
_TRANSIENT = frozenset(
    {"TimeoutException", "NetworkError", "RemoteProtocolError"}  # httpx2 and httpx
    | {"ClientConnectionError", "ClientPayloadError"}  # aiohttp
)


def is_current(model: str) -> bool:
    """Gemini 3 or later, or a name without a generation (an alias): takes tools with a schema, and
    wants each function call's thought signature back."""
    m = _GENERATION.search(model)
    return m is None or int(m[1]) >= 3


# --- request --------------------------------------------------------------------------------------


def build_request(
    request: Request, signatures: Mapping[str, bytes] = {}, *, split: bool = False
) -> dict[str, Any]:
    """The keyword arguments of ``models.generate_content`` for *request* (pure; no I/O).

    Args:
        request: the neutral request.
        signatures: thought signatures of earlier function calls, by call id.
        split: send tools and the schema in separate turns whatever the model's generation.

    Raises:
        ConfigurationError: ``extra`` holds what ``GenerateContentConfig`` does not take.
    """
    out = request.output
    schema = out.schema if out is not None and out.mode in ("native", "native_strict") else None
    tools = bool(request.tools)
    if tools and schema is not None and (split or not is_current(request.model)):
        if request.tool_choice == "none":  # the answer turn; mode NONE means "as if no declarations"
            tools = False
        else:
            schema = None
    contents = wire_contents(request.messages, signatures, sign=is_current(request.model))
    return {"model": request.model, "contents": contents, "config": _config(request, tools, schema)}


# Validated configs by the identity of the request's stable parts (the plan's schema, tool specs and
# ``extra`` are the same objects on every call); each entry holds those objects, so no id is reused
# while it lives. Bounded: cleared when full.
_configs: dict[tuple[Any, ...], tuple[tuple[object, ...], types.GenerateContentConfig]] = {}
_CONFIGS_KEPT = 256


def _config(request: Request, tools: bool, schema: dict[str, Any] | None) -> types.GenerateContentConfig:
    """The ``GenerateContentConfig`` for *request*, validated once per plan and settings."""
    held = (schema, request.extra, *request.tools) if tools else (schema, request.extra)
    key = (
        request.system,
        request.temperature,
        request.max_tokens,
        tools,
        request.tool_choice if tools else None,
        *map(id, held),
    )
    if (entry := _configs.get(key)) is not None:
        return entry[1]
    checked = _validate_config(request, tools, schema)
    if len(_configs) >= _CONFIGS_KEPT:
        _configs.clear()
    _configs[key] = (held, checked)
    return checked


def _validate_config(
    request: Request, tools: bool, schema: dict[str, Any] | None
) -> types.GenerateContentConfig:
    config: dict[str, Any] = {"automatic_function_calling": {"disable": True}}
    if request.system:
        config["system_instruction"] = request.system
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.max_tokens is not None:
        config["max_output_tokens"] = request.max_tokens
    if tools:
        declarations = [
            {"name": t.name, "description": t.description, "parameters_json_schema": t.parameters}
            for t in request.tools
        ]
        config["tools"] = [{"function_declarations": declarations}]
        config["tool_config"] = {"function_calling_config": _calling(request.tool_choice)}
    if schema is not None:
        config |= {"response_mime_type": "application/json", "response_json_schema": schema}
    config.update(request.extra)
    try:
        return types.GenerateContentConfig.model_validate(config)
    except pydantic.ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        raise ConfigurationError(
            f"extra (ALLOY_EXTRA) does not fit Gemini's GenerateContentConfig at "
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}. Use its field names, "
            "e.g. extra={'thinking_config': {'thinking_budget': 0}}."
        ) from None


def _calling(choice: str) -> dict[str, Any]:
    if choice in ("auto", "none"):
        return {"mode": choice.upper()}
    return {"mode": "ANY"} | ({} if choice == "required" else {"allowed_function_names": [choice]})


def wire_contents(
    messages: Sequence[Message], signatures: Mapping[str, bytes] = {}, *, sign: bool = True
) -> list[types.Content]:
    """Neutral messages as contents of roles ``user`` and ``model``.

    The results of one tool turn go back as ``function_response`` parts of ONE user content, in
    order. Each call carries its thought signature; with *sign*, the first call of a turn whose
    signatures are all lost carries Google's stand-in, so Gemini 3 still accepts the history.
    """
    contents: list[types.Content] = []
    results: list[types.Part] = []
    for m in messages:
        if m.role == "tool":
            fr = types.FunctionResponse(id=_wire_id(m.tool_call_id), name=m.name, response=_result(m))
            results.append(types.Part(function_response=fr))
            continue
        if results:
            contents.append(types.Content(role="user", parts=results))
            results = []
        if m.role == "user" and not isinstance(m.content, str):
            parts = [_part(p) for p in m.content]
        else:
            parts = [types.Part(text=m.text)] if m.text or m.role == "user" else []
        known = [signatures.get(c.id) for c in m.tool_calls]
        if sign and known and not any(known):
            known[0] = SKIP_SIGNATURE
        for c, signature in zip(m.tool_calls, known, strict=True):
            fc = types.FunctionCall(id=_wire_id(c.id), name=c.name, args=c.arguments)
            parts.append(types.Part(function_call=fc, thought_signature=signature))
        if parts:  # an empty answer being re-asked has nothing to send
            contents.append(types.Content(role="user" if m.role == "user" else "model", parts=parts))
    if results:
        contents.append(types.Content(role="user", parts=results))
    return contents


def _part(p: Part) -> types.Part:
    """A user part: text, ``inline_data`` (bytes, base64 on the wire) or ``file_data`` (a URL)."""
    if isinstance(p, str):
        return types.Part(text=p)
    if p.url is not None:
        return types.Part(file_data=types.FileData(file_uri=p.url, mime_type=p.media_type))
    return types.Part(inline_data=types.Blob(mime_type=p.media_type, data=p.data))


# ai.google.dev/gemini-api/docs/image-understanding and document-processing: inline data up to
# 20 MB per request in all (base64 included); larger files go through the Files API (a URL).
_INLINE = Limit(20_000_000 * 3 // 4, "20 MB per request, as base64; larger files go by URL (Files API)")


def _wire_id(call_id: str) -> str | None:
    """The call id Gemini gave; ``None`` for one the adapter made up."""
    return None if not call_id or call_id.startswith(CALL_ID_PREFIX) else call_id


def _result(m: Message) -> dict[str, Any]:
    """A tool result as the JSON object ``function_response`` takes."""
    if m.is_error:
        return {"error": m.text}
    try:
        value: Any = json.loads(m.text)
    except ValueError:
        value = m.text
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {"result": value}


# --- response -------------------------------------------------------------------------------------


def parse_response(
    raw: types.GenerateContentResponse, signatures: dict[str, bytes] | None = None
) -> Response:
    """A ``GenerateContentResponse`` as a neutral ``Response`` (its first candidate).

    Args:
        raw: the SDK's answer.
        signatures: filled with the thought signature of each function call, by call id.

    Raises:
        ProviderError: Gemini blocked the prompt or the answer (not retryable: the same content
            would be blocked again), or produced an invalid function call (retryable).
    """
    state = StreamState()
    state.feed(raw)
    if signatures is not None:
        signatures.update(state.signatures)
    return state.result()


class StreamState:
    """The chunks of one answer (a whole answer is one chunk): ``feed`` each, then ``result()``."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.calls: list[ToolCall] = []
        self.signatures: dict[str, bytes] = {}
        self.usage = Usage()
        self.finish: str | None = None
        self.model: str | None = None

    def feed(self, chunk: types.GenerateContentResponse) -> list[StreamItem]:
        """Take one chunk; the deltas it adds (text, and each function call's arguments whole).

        Raises:
            ProviderError: as ``parse_response``.
        """
        if (u := chunk.usage_metadata) is not None:  # a running total; thinking is billed as output
            output = (u.candidates_token_count or 0) + (u.thoughts_token_count or 0)
            # cached_content_token_count is the part of the prompt read from the cache.
            self.usage = Usage(u.prompt_token_count or 0, output, 0, u.cached_content_token_count or 0)
        self.model = chunk.model_version or self.model
        if not chunk.candidates:
            if (feedback := chunk.prompt_feedback) is not None and feedback.block_reason is not None:
                why = f": {feedback.block_reason_message}" if feedback.block_reason_message else ""
                raise _blocked(
                    f"Gemini blocked the prompt (block reason {feedback.block_reason.value}{why}).", feedback
                )
            return []
        candidate = chunk.candidates[0]
        delta = ""
        out: list[StreamItem] = []
        for part in (candidate.content.parts if candidate.content else None) or ():
            if (fc := part.function_call) is not None:
                call = ToolCall(
                    fc.name or "", dict(fc.args or {}), fc.id or CALL_ID_PREFIX + uuid.uuid4().hex[:16]
                )
                out.append(ToolCallDelta(len(self.calls), call.name, json.dumps(call.arguments)))
                self.calls.append(call)
                if part.thought_signature:
                    self.signatures[call.id] = part.thought_signature
            elif part.text and not part.thought:  # a thought summary is not the answer
                delta += part.text
        if candidate.finish_reason is not None:
            self._finish(candidate, candidate.finish_reason.value)
        self.texts.append(delta)
        return [delta, *out] if delta else out

    def _finish(self, candidate: types.Candidate, reason: str) -> None:
        why = f": {snippet(candidate.finish_message, 300)}" if candidate.finish_message else ""
        if reason in _BLOCKED:
            raise _blocked(
                f"Gemini blocked the answer (finish reason {reason}: {_BLOCKED[reason]}){why}. Rephrase the "
                "prompt, or pass extra={'safety_settings': [...]} where a safety threshold applies.",
                candidate,
            )
        if reason in _RESAMPLE:
            message = f"Gemini produced an invalid function call (finish reason {reason}){why}."
            raise ProviderError(message, provider=PROVIDER, retryable=True)
        self.finish = _FINISH.get(reason, reason.lower())

    def ended(self) -> None:
        """Raise unless a candidate with a finish reason arrived: a stream cut short is no answer.

        Raises:
            ProviderError: (retryable) the stream ended before Gemini's final candidate.
        """
        if self.finish is None:
            raise ended_early(PROVIDER, "a candidate with a finish reason")

    def result(self) -> Response:
        """The whole answer: the joined text, tool calls, the last usage total, the finish reason."""
        finish = "tool_calls" if self.calls and self.finish == "stop" else self.finish
        return Response("".join(self.texts), tuple(self.calls), self.usage, finish, self.model)


def _whole(raw: types.GenerateContentResponse, state: StreamState) -> StreamState:
    """*state* fed with a whole (not streamed) answer, which holds a candidate unless blocked.

    Raises:
        ProviderError: blocked (as ``parse_response``), or no candidate at all (retryable).
    """
    state.feed(raw)
    if not raw.candidates:
        raise malformed(PROVIDER, "an answer without candidates")
    return state


def _blocked(message: str, detail: pydantic.BaseModel) -> ProviderError:
    return ProviderError(message, provider=PROVIDER, body=detail.model_dump(mode="json", exclude_none=True))


# --- batch jobs (batch mode, inlined requests) ---------------------------------------------------

BATCH_KEY = "alloy_key"
"""The metadata entry of each inlined request that carries its key."""
_BATCH_ENDED = frozenset(
    {"JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED", "JOB_STATE_FAILED"}
    | {"JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
)


def batch_request(key: str, request: Request) -> types.InlinedRequest:
    """One inlined request of a batch: ``generate_content``'s arguments for *request*, keyed."""
    kwargs = build_request(request)
    return types.InlinedRequest(**kwargs, metadata={BATCH_KEY: key})


def batch_state(job: types.BatchJob) -> BatchState:
    """A ``BatchJob`` as a neutral ``BatchState`` (the Developer API reports no per-request counts)."""
    status = job.state.value if job.state is not None else "JOB_STATE_UNSPECIFIED"
    return BatchState(status, status in _BATCH_ENDED)


def parse_batch_results(job: types.BatchJob, keys: Sequence[str] = ()) -> Iterator[BatchItem]:
    """The inlined responses of a finished job, parsed as live answers are.

    Each carries its key in its metadata; one without is matched by position (responses come in
    request order), using *keys* where given.
    """
    responses = (job.dest.inlined_responses if job.dest else None) or []
    for i, item in enumerate(responses):
        key = (item.metadata or {}).get(BATCH_KEY) or (keys[i] if i < len(keys) else str(i))
        if item.response is not None and item.error is None:
            try:
                yield key, parse_response(item.response)
            except ProviderError as exc:
                yield key, exc
            continue
        error = item.error or types.JobError(message="no response")
        message = f"batch request {key} failed: {snippet(error.message or error.code, 300)}"
        status = error.code if error.code and error.code >= 400 else None
        yield key, ProviderError(message, provider=PROVIDER, status_code=status, retryable=True)


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


def _models(client: genai.Client | Any) -> Any:
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

    def kwargs(self, request: Request, settings: Settings) -> dict[str, Any]:
        """The ``generate_content`` keyword arguments for *request*."""
        ids = [c.id for m in request.messages for c in m.tool_calls]
        with self._lock:
            known = {i: self._signatures[i] for i in ids if i in self._signatures}
            split = (settings.gemini_base_url or DEFAULT_BASE_URL, request.model) in self._split
        return build_request(request, known, split=split)

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
            if len(self._options) >= _CONFIGS_KEPT:
                self._options.clear()
            built = self._options[known] = (digest, options)
        digest, options = built
        build = lambda: genai.Client(api_key=key.get_secret_value(), vertexai=False, http_options=options)  # noqa: E731
        return _registry.client((PROVIDER, digest, base_url, settings.timeout), build)

    # The SDK's ``contents`` union names PIL.Image, unknown without Pillow: hence the ignores below.

    def send(self, request: Request, settings: Settings) -> Response:
        kwargs, client, state = self.kwargs(request, settings), self.client(settings), StreamState()
        with self._watch(request, settings):
            raw = _models(client).generate_content(**kwargs)
        return self._done(_whole(raw, state))

    async def asend(self, request: Request, settings: Settings) -> Response:
        kwargs, client, state = self.kwargs(request, settings), self.client(settings), StreamState()
        with self._watch(request, settings):
            raw = await _models(client.aio).generate_content(**kwargs)
        return self._done(_whole(raw, state))

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

    # Batch jobs: batch mode with inlined requests, each built by build_request, parsed by parse_response.

    def batch_submit(self, requests: Sequence[tuple[str, Request]], settings: Settings) -> str:
        inlined = [batch_request(key, request) for key, request in requests]
        size = sum(len(r.model_dump_json(exclude_none=True)) for r in inlined)
        check_batch_size("Gemini", len(inlined), size, max_count=None, max_bytes=20_000_000)  # inline
        model = requests[0][1].model if requests else ""
        config = types.CreateBatchJobConfig(display_name="alloy")
        job = self.client(settings).batches.create(model=model, src=inlined, config=config)
        return job.name or ""

    def batch_state(self, job: str, settings: Settings) -> BatchState:
        return batch_state(self.client(settings).batches.get(name=job))

    def batch_results(self, job: str, settings: Settings) -> Iterator[BatchItem]:
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

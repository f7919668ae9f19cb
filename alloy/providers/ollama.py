"""Ollama: ``POST /api/chat`` through the official ``ollama`` client (which speaks httpx).

Structured output goes in ``format``: Ollama compiles the JSON schema into a grammar (llama.cpp's
converter: ``$ref``, ``anyOf``, ``enum``, ``pattern``, bounds) and constrains decoding to it, so
the schema goes as pydantic wrote it (dialect ``plain``, mode ``native``: no strict flag exists).
Tools go natively; Ollama gives calls no ids, so each gets one derived from the call itself.

A model without tool support answers HTTP 400 "<model> does not support tools": the adapter
remembers it (per host) and raises ``UnsupportedFeature``; the drivers plan again, native tools
are no longer offered for it, and ``tool_mode="auto"`` runs the ReAct loop, whose step schema
still travels in ``format``. The client has no retry of its own (one layer: ours). The mapping
of every field and error is in docs/providers/ollama.md.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import ollama
from pydantic import SecretStr

from .. import _registry
from .._errors import ConfigurationError, ProviderError, is_retryable_status, read_retry_after, snippet
from .._messages import Request, Response, ToolCall, ToolCallDelta, ToolSpec, Usage
from .._parts import PartKind
from .._secrets import scrub
from . import Adapter, Capabilities, StreamItem, UnsupportedFeature, ended_early, reading_stream

if TYPE_CHECKING:
    from .._settings import Settings

__all__ = ["ADAPTER", "OllamaAdapter", "build_request", "parse_response", "tool_parameters"]

PROVIDER = "ollama"
# Keywords of Client.chat besides the ones the adapter owns: an ``extra`` key among them is a
# top-level request field; read from the SDK so a field it adds later goes top-level too.
# (``chat`` types Python-function tools as a bare ``Callable``, which pyright calls partially
# unknown; the adapter only passes dicts.)
_CHAT: Callable[..., Any] = ollama.Client.chat  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
_CHAT_KEYWORDS = frozenset(inspect.signature(_CHAT).parameters) - {"self", "model", "messages", "stream"}
# The keywords the SDK's Tool.Function.Parameters.Property model keeps; it drops the others.
_PROPERTY_KEYS = ("type", "items", "description", "enum")
_NOT_PULLED = re.compile(r"model .*not found", re.IGNORECASE | re.DOTALL)
# "registry.ollama.ai/library/gemma3:4b does not support tools"; several missing capabilities
# are joined with newlines ("does not support tools\nthinking").
_NO_TOOLS = re.compile(r"does not support\b.*\btools\b", re.IGNORECASE | re.DOTALL)


# --- pure translation -----------------------------------------------------------------------------


def build_request(request: Request) -> dict[str, Any]:
    """The keyword arguments of ``Client.chat`` for *request* (``stream`` excluded)."""
    options: dict[str, Any] = {}
    if request.temperature is not None:
        options["temperature"] = request.temperature
    if request.max_tokens is not None:
        options["num_predict"] = request.max_tokens
    kwargs: dict[str, Any] = {"model": request.model, "messages": chat_messages(request)}
    if request.tools and request.tool_choice != "none":
        kwargs["tools"] = [chat_tool(spec) for spec in request.tools]
    if request.output is not None:
        kwargs["format"] = request.output.schema
    for key, value in request.extra.items():
        if key == "options" and isinstance(value, Mapping):
            options.update(value)  # pyright: ignore[reportUnknownArgumentType]
        elif key in _CHAT_KEYWORDS:
            kwargs[key] = value
        else:
            options[key] = value
    if options:
        kwargs["options"] = options
    return kwargs


def chat_messages(request: Request) -> list[dict[str, Any]]:
    """The system prompt as a system message, then the conversation in Ollama's shape."""
    out: list[dict[str, Any]] = [{"role": "system", "content": request.system}] if request.system else []
    for m in request.messages:
        if m.role == "tool":
            # Error results already read "Error: ..."; Ollama has no error flag to set.
            out.append({"role": "tool", "content": m.text, "tool_name": m.name})
        elif m.tool_calls:
            calls = [{"function": {"name": c.name, "arguments": c.arguments}} for c in m.tool_calls]
            out.append({"role": "assistant", "content": m.text, "tool_calls": calls})
        elif m.binary:  # images only (capabilities refuse the other parts): bytes, base64 on the wire
            out.append({"role": m.role, "content": m.text, "images": [p.data for p in m.binary]})
        else:
            out.append({"role": m.role, "content": m.text})
    return out


_BYTES_ONLY = (
    "Ollama takes images as bytes only, and Alloy never downloads a URL: load it with "
    "Image.from_path(path) or Image(data)."
)
_NO_DOCUMENTS = "Ollama takes no documents: send the PDF's text as a str, or use openai, anthropic or gemini."
_NO_AUDIO = (
    "Ollama takes no audio: send a transcript as text, or use gemini (or openai with openai_api='chat')."
)
_PARTS: frozenset[PartKind] = frozenset(("image",))
_ADVICE: tuple[tuple[PartKind, str], ...] = (
    ("image_url", _BYTES_ONLY),
    ("document", _NO_DOCUMENTS),
    ("document_url", _NO_DOCUMENTS),
    ("audio", _NO_AUDIO),
    ("audio_url", _NO_AUDIO),
)


def chat_tool(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": tool_parameters(spec.parameters),
        },
    }


def tool_parameters(schema: dict[str, Any]) -> dict[str, Any]:
    """*schema* in the shape the SDK's ``Tool`` model carries without loss.

    That model keeps only ``type``, ``items``, ``description`` and ``enum`` of each top-level
    property and silently drops the rest (``anyOf``, ``$ref``, bounds, nested ``properties``;
    ollama/ollama-python#429). A property that has more keeps those four and states its full
    schema in its description, so the model still sees it; ``$defs`` travel as they are. Alloy
    validates the arguments against the real signature either way.
    """
    props: Any = schema.get("properties")
    if not isinstance(props, dict):
        return schema
    out = dict(schema)
    out["properties"] = {name: _property(p) for name, p in props.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return out


def _property(prop: dict[str, Any]) -> dict[str, Any]:
    kept = {k: prop[k] for k in _PROPERTY_KEYS if k in prop}
    rest = {k: v for k, v in prop.items() if k not in kept and k != "title"}
    if rest:
        note = f"JSON schema: {json.dumps(rest)}"
        kept["description"] = f"{kept['description']} ({note})" if kept.get("description") else note
    return kept


def parse_response(raw: ollama.ChatResponse) -> Response:
    """A non-streamed ``/api/chat`` answer as a neutral ``Response``."""
    return _response(raw.message.content or "", raw.message.tool_calls or (), raw)


def _response(text: str, calls: Sequence[ollama.Message.ToolCall], last: ollama.ChatResponse) -> Response:
    tool_calls = tuple(
        ToolCall(
            c.function.name, dict(c.function.arguments), call_id(i, c.function.name, c.function.arguments)
        )
        for i, c in enumerate(calls)
    )
    reason = last.done_reason
    if tool_calls and reason in (None, "stop"):  # Ollama says "stop" for a tool-call turn too
        reason = "tool_calls"
    usage = Usage(last.prompt_eval_count or 0, last.eval_count or 0)
    return Response(text, tool_calls, usage, reason, last.model)


def call_id(index: int, name: str, arguments: Mapping[str, Any]) -> str:
    """A call id for a call Ollama gave none: stable for the same call at the same position."""
    key = json.dumps([index, name, arguments], sort_keys=True, default=str)
    return f"call_{index}_{hashlib.sha256(key.encode()).hexdigest()[:12]}"


class StreamState:
    """Collects a streamed answer: text deltas, tool calls, and the final chunk's counts."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.calls: list[ollama.Message.ToolCall] = []
        self.last: ollama.ChatResponse | None = None

    def feed(self, chunk: ollama.ChatResponse) -> list[StreamItem]:
        """Take one NDJSON chunk; return its deltas (text, and each tool call's arguments whole)."""
        self.last = chunk
        text = chunk.message.content or ""
        self.parts.append(text)
        out: list[StreamItem] = [text] if text else []
        for c in chunk.message.tool_calls or ():
            out.append(
                ToolCallDelta(len(self.calls), c.function.name, json.dumps(dict(c.function.arguments)))
            )
            self.calls.append(c)
        return out

    def response(self) -> Response:
        """The whole answer, with the final chunk's counts.

        Raises:
            ProviderError: (retryable) the stream ended before the chunk with ``done: true``.
        """
        if self.last is None or not self.last.done:
            raise ended_early(PROVIDER, "the final chunk (done: true)")
        return _response("".join(self.parts), self.calls, self.last)


def unreachable(host: str | None) -> ProviderError:
    where = f" at {host}" if host else ""
    return ProviderError(
        f"Could not connect to Ollama{where}. Is it running? Start it with `ollama serve` "
        "(install: https://ollama.com/download), or set ALLOY_OLLAMA_HOST (or OLLAMA_HOST) to its URL.",
        provider=PROVIDER,
        retryable=True,
    )


# --- I/O ------------------------------------------------------------------------------------------


class OllamaAdapter(Adapter):
    """``ollama:<model>`` against the server at ``settings.ollama_host``."""

    provider: ClassVar[str] = PROVIDER

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._no_tools: set[tuple[str, str]] = set()  # (host, model) that answered "does not support tools"

    def capabilities(self, model: str, settings: Settings) -> Capabilities:
        with self._lock:
            tools = (settings.ollama_host, model) not in self._no_tools
        return Capabilities(
            output_mode="native",
            schema_dialect="plain",
            native_tools=tools,
            parts=_PARTS,
            part_advice=_ADVICE,
        )

    def send(self, request: Request, settings: Settings) -> Response:
        kwargs = build_request(request)
        with self._explained(request, settings):
            raw = _client(settings).chat(**kwargs, stream=False)  # pyright: ignore[reportUnknownMemberType]
        return parse_response(raw)

    async def asend(self, request: Request, settings: Settings) -> Response:
        kwargs = build_request(request)
        with self._explained(request, settings):
            raw = await _aclient(settings).chat(**kwargs, stream=False)  # pyright: ignore[reportUnknownMemberType]
        return parse_response(raw)

    def stream(self, request: Request, settings: Settings) -> Iterator[StreamItem]:
        kwargs = build_request(request)
        state = StreamState()
        with reading_stream(PROVIDER), self._explained(request, settings):
            for chunk in _client(settings).chat(**kwargs, stream=True):  # pyright: ignore[reportUnknownMemberType]
                yield from state.feed(chunk)
        yield state.response()

    async def astream(self, request: Request, settings: Settings) -> AsyncIterator[StreamItem]:
        kwargs = build_request(request)
        state = StreamState()
        with reading_stream(PROVIDER), self._explained(request, settings):
            async for chunk in await _aclient(settings).chat(**kwargs, stream=True):  # pyright: ignore[reportUnknownMemberType]
                for item in state.feed(chunk):
                    yield item
        yield state.response()

    @contextmanager
    def _explained(self, request: Request, settings: Settings) -> Generator[None]:
        """Raise the errors that need the request or the host to explain.

        A model that is not pulled is a setup problem, not a provider failure, so it is a
        ``ConfigurationError`` (``classify`` can only return a ``ProviderError``); the
        connection error names the host it tried, which ``classify`` does not know.
        """
        host = scrub(settings.ollama_host)  # for messages: a password in the URL is not shown
        try:
            yield
        except ollama.ResponseError as exc:
            said = snippet(exc.error)
            if exc.status_code == 404 and _NOT_PULLED.search(exc.error):
                raise ConfigurationError(
                    f"Ollama at {host} does not have the model {request.model!r}. Download it with "
                    f"`ollama pull {request.model}` (Ollama said: {said})."
                ) from exc
            if exc.status_code == 400 and request.tools and _NO_TOOLS.search(exc.error):
                with self._lock:
                    self._no_tools.add((settings.ollama_host, request.model))
                raise UnsupportedFeature(
                    f"the model {request.model!r} does not support tools (Ollama said: {said}). With "
                    "tool_mode='auto' its tools run through the ReAct loop; tool_mode='native' cannot work.",
                    provider=PROVIDER,
                    feature="tools",
                ) from exc
            raise
        except (ConnectionError, httpx.ConnectError) as exc:
            raise unreachable(host) from exc

    def classify(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, ollama.ResponseError):
            # -1: an {"error": ...} line inside a 200 stream; the server failed mid-answer.
            status = exc.status_code if exc.status_code > 0 else None
            return ProviderError(
                snippet(exc.error) or "error without a message",
                provider=PROVIDER,
                status_code=status,
                retryable=is_retryable_status(status),
                retry_after=read_retry_after(_headers(exc)),
                body=exc.error,
            )
        if isinstance(exc, ConnectionError | httpx.ConnectError):
            return unreachable(None)
        if isinstance(exc, httpx.TimeoutException):
            return ProviderError(
                f"no answer within the timeout ({type(exc).__name__}); a model that is still loading "
                "can take long: raise ALLOY_TIMEOUT",
                provider=PROVIDER,
                retryable=True,
            )
        if isinstance(exc, httpx.TransportError):
            return ProviderError(
                f"connection failed: {exc or type(exc).__name__}", provider=PROVIDER, retryable=True
            )
        if isinstance(exc, ollama.RequestError):  # the client refused the request before sending
            return ProviderError(f"the request was refused: {snippet(str(exc))}", provider=PROVIDER)
        return None


def _headers(exc: ollama.ResponseError) -> httpx.Headers | None:
    """The HTTP headers of the answer behind *exc*: the SDK raises it ``from None`` out of
    ``httpx.HTTPStatusError``, which stays its ``__context__``."""
    status = exc.__context__
    return status.response.headers if isinstance(status, httpx.HTTPStatusError) else None


def _client(settings: Settings) -> ollama.Client:
    key = (PROVIDER, SecretStr(settings.ollama_host), settings.timeout)  # the host may hold a password
    return _registry.client(key, lambda: ollama.Client(host=settings.ollama_host, timeout=settings.timeout))


def _aclient(settings: Settings) -> ollama.AsyncClient:
    key = (PROVIDER, SecretStr(settings.ollama_host), settings.timeout)
    return _registry.client(
        key, lambda: ollama.AsyncClient(host=settings.ollama_host, timeout=settings.timeout), is_async=True
    )


ADAPTER = OllamaAdapter()

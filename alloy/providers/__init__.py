"""The seam between the engine and a provider: the ``Adapter`` base class and ``Capabilities``.

An adapter translates one neutral ``Request`` into one SDK call and the SDK's answer back into a
neutral ``Response``. It does not loop, validate, retry, re-ask or read settings layers: the engine
and the drivers do, once, for every provider. What a model can do is data (``Capabilities``), so
the engine decides modes in one place (``alloy._plan``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, get_args, runtime_checkable

from pydantic import AliasChoices, SecretStr

from .._errors import AlloyError, ConfigurationError, ProviderError, snippet
from .._messages import Request, Response, ToolCallDelta
from .._parts import Kind, PartKind

if TYPE_CHECKING:
    from .._settings import Settings

__all__ = [
    "ALL_PARTS",
    "Adapter",
    "BatchCapable",
    "BatchItem",
    "BatchState",
    "Capabilities",
    "Limit",
    "SchemaDialect",
    "StreamItem",
    "UnsupportedFeature",
    "check_batch_size",
    "ended_early",
    "reading_stream",
    "require_key",
]

SchemaDialect = Literal["openai_strict", "anthropic", "gemini", "plain"]
StreamItem = str | ToolCallDelta | Response
"""What ``stream``/``astream`` yield: text deltas (``str``) and tool-argument deltas
(``ToolCallDelta``) in order, then exactly one final ``Response`` (its ``text`` the whole answer,
its tool calls assembled, with usage where the provider reports it)."""

# The HTTP clients the SDKs read streams with; their errors are matched by module, so none is imported.
_TRANSPORTS = ("httpx", "httpx2", "aiohttp", "httpcore", "h11")


ALL_PARTS: frozenset[PartKind] = frozenset(get_args(PartKind))
"""Every part, as bytes and as a URL: what an adapter takes unless it says otherwise."""


@dataclass(frozen=True, slots=True)
class Limit:
    """A size limit the provider documents: at most ``raw`` bytes (before base64), as it ``says``."""

    raw: int
    says: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What one model behind one adapter can do, as data.

    Attributes:
        output_mode: the strictest structured-output mechanism it accepts:
            ``"native_strict"`` (JSON schema, strict), ``"native"`` (JSON schema), ``"tool"``
            (one forced tool whose input is the output) or ``"prompt"`` (the shape is only asked for).
        schema_dialect: which ``alloy._schema`` compiler prepares schemas for it.
        native_tools: it calls tools natively (else ``tool_mode="auto"`` uses ReAct).
        temperature: it accepts a temperature (reasoning models do not).
        compatible_endpoint: the base URL is not the provider's own, so the server may silently
            ignore the native mechanism; the expected shape is also stated in the system prompt.
        strict_tools: tool parameter schemas may be sent strict (compiled with ``schema_dialect``).
        nonstrict_output_mode: with ``output_mode="native_strict"``, the mechanism for a type the
            dialect cannot express strictly: ``"native"`` (the schema sent non-strict, OpenAI) or
            ``"tool"`` (a forced tool, for a native mechanism that is strict only, Anthropic).
            ``"json_object"`` is JSON mode, for a compatible server that refused ``json_schema``.
        notes: what the adapter learnt about the endpoint (a remembered downgrade), for the plan.
        parts: the input parts it takes (``"image"`` bytes, ``"image_url"``, ``"document"``, …);
            any other is refused before a request, by ``alloy._plan``, with ``part_advice``.
        part_advice: per refused part, what works instead (one sentence for the error).
        part_limits: per part kind, the largest part the provider documents.
        inline_limit: the most bytes of parts one request may carry inline.
    """

    output_mode: Literal["native_strict", "native", "json_object", "tool", "prompt"] = "native"
    schema_dialect: SchemaDialect = "plain"
    native_tools: bool = True
    temperature: bool = True
    compatible_endpoint: bool = False
    strict_tools: bool = False
    nonstrict_output_mode: Literal["native", "tool", "prompt"] = "native"
    parts: frozenset[PartKind] = ALL_PARTS
    part_advice: tuple[tuple[PartKind, str], ...] = ()
    part_limits: tuple[tuple[Kind, Limit], ...] = ()
    inline_limit: Limit | None = None
    notes: tuple[str, ...] = ()

    def advice(self, kind: PartKind) -> str:
        """What works instead of the refused part *kind*."""
        return next((text for k, text in self.part_advice if k == kind), "")

    def limit(self, kind: Kind) -> Limit | None:
        """The documented size limit of one part of *kind*, if any."""
        return next((limit for k, limit in self.part_limits if k == kind), None)


class UnsupportedFeature(ProviderError):
    """The endpoint refused a feature the plan relied on (native output format, native tools).

    The adapter remembers the model so ``capabilities()`` no longer offers the feature, and the
    call is planned again without it. ``feature`` is ``"output"``, ``"tools"`` or
    ``"prompt_cache_key"`` (the request goes again without the key).
    """

    def __init__(
        self, message: str, *, provider: str, feature: Literal["output", "tools", "prompt_cache_key"]
    ) -> None:
        super().__init__(message, provider=provider, status_code=400)
        self.feature = feature


class Adapter:
    """One provider. Subclasses implement ``send`` and ``asend`` at least.

    ``provider`` names it in errors, logs and spans; ``name`` is the model it is bound to, for
    model objects such as ``alloy.testing.ScriptedModel`` that stand for a model themselves.
    """

    provider: ClassVar[str] = "custom"
    name: str = ""

    def capabilities(self, model: str, settings: Settings) -> Capabilities:
        return Capabilities()

    def send(self, request: Request, settings: Settings) -> Response:
        raise NotImplementedError

    async def asend(self, request: Request, settings: Settings) -> Response:
        return await asyncio.to_thread(self.send, request, settings)

    def stream(self, request: Request, settings: Settings) -> Iterator[StreamItem]:
        response = self.send(request, settings)
        if response.text:
            yield response.text
        yield response

    async def astream(self, request: Request, settings: Settings) -> AsyncIterator[StreamItem]:
        # The sync stream, advanced in a worker thread item by item: an adapter that streams
        # only synchronously (the fake, ScriptedModel) streams the same way when awaited.
        items = iter(self.stream(request, settings))
        done: Any = object()
        while (item := await asyncio.to_thread(next, items, done)) is not done:
            yield item

    def classify(self, exc: Exception) -> ProviderError | None:
        """Map an SDK exception to a ``ProviderError`` (not raised, returned); ``None`` if not ours."""
        return None


@contextmanager
def reading_stream(provider: str) -> Generator[None]:
    """Read a stream's events: what goes wrong while reading ends typed, as a retryable ``ProviderError``.

    A malformed event (not JSON, or JSON of the wrong shape, which the SDKs report as
    ``JSONDecodeError``, ``ValidationError``, ``TypeError``, ``AttributeError`` or ``KeyError``)
    and a connection dropped mid-stream (the HTTP client's own exception, which some SDKs let
    through) are transient: a new request may well succeed. The drivers retry them while no delta
    has reached the caller. SDK errors and Alloy's own pass through for ``classify``.
    """
    try:
        yield
    except AlloyError:
        raise
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        raise ProviderError(
            f"malformed stream event ({type(exc).__name__}: {snippet(str(exc), 200)})",
            provider=provider,
            retryable=True,
        ) from exc
    except Exception as exc:
        if not _transport_error(exc):
            raise
        raise ProviderError(
            f"the connection dropped mid-stream ({type(exc).__name__}: {snippet(str(exc), 200)})",
            provider=provider,
            retryable=True,
        ) from exc


def _transport_error(exc: Exception) -> bool:
    """An error of the HTTP client reading the body; failing to connect is left to ``classify``,
    which knows what to say about the endpoint."""
    if "Connect" in type(exc).__name__ or isinstance(exc, ConnectionRefusedError):
        return False
    return isinstance(exc, ConnectionError | TimeoutError) or any(
        c.__module__.partition(".")[0] in _TRANSPORTS for c in type(exc).__mro__
    )


def ended_early(provider: str, awaited: str) -> ProviderError:
    """A stream that ended before the provider's end-of-answer event: never a short answer.

    Retryable (the connection was most likely cut); the drivers retry it while no delta has reached
    the caller.
    """
    return ProviderError(
        f"the stream ended before {awaited}: the answer is incomplete", provider=provider, retryable=True
    )


@dataclass(frozen=True, slots=True)
class BatchState:
    """Where a provider batch job stands, as the provider reports it.

    Attributes:
        status: the provider's own word for it (``in_progress``, ``ended``, ``JOB_STATE_RUNNING``...).
        done: the provider has finished with the job (completed, failed, expired or cancelled):
            its results can be fetched, and items without an answer are run again normally.
        total: requests in the job, where the provider says.
        succeeded: requests answered so far, where the provider says.
        failed: requests that failed (errored or expired) so far, where the provider says.
    """

    status: str
    done: bool
    total: int | None = None
    succeeded: int = 0
    failed: int = 0


BatchItem = tuple[str, Response | ProviderError]
"""One result of a batch job: the request's key and its answer, or why it has none."""


@runtime_checkable
class BatchCapable(Protocol):
    """An adapter whose provider has a batch API: the wire translation of one batch job.

    Each request is built by the same code as a live call and each answer parsed by the same
    parser; submitting, polling, validating and re-asking are ``alloy._batch``'s, for every
    provider. Keys are short ``[A-Za-z0-9_-]`` strings, unique within the job.
    """

    def batch_submit(self, requests: Sequence[tuple[str, Request]], settings: Settings) -> str:
        """Upload *requests* as one job; the provider's id for it."""
        ...

    def batch_state(self, job: str, settings: Settings) -> BatchState:
        """Where job *job* stands (one status request)."""
        ...

    def batch_results(self, job: str, settings: Settings) -> Iterator[BatchItem]:
        """The results of a finished job, in any order; a request missing from them has no answer."""
        ...


def check_batch_size(provider: str, count: int, size: int, *, max_count: int | None, max_bytes: int) -> None:
    """Refuse a batch job bigger than the provider takes, before anything is uploaded.

    Raises:
        ConfigurationError: more than *max_count* requests or *max_bytes* bytes in one job.
    """
    if (max_count is not None and count > max_count) or size > max_bytes:
        most = f"{max_count:,} requests or " if max_count is not None else ""
        raise ConfigurationError(
            f"This batch job holds {count:,} requests ({size / 1e6:.1f} MB); one {provider} batch job takes "
            f"at most {most}{max_bytes / 1e6:.0f} MB. Submit the items in several jobs, or use map()."
        )


def require_key(settings: Settings, field: str, provider: str) -> SecretStr:
    """The API key in the setting *field*, kept a ``SecretStr`` so a cache key never shows it.

    Raises:
        ConfigurationError: no key; the message names every variable that sets it (read from the
            field's aliases, so it cannot drift from ``Settings``). Raised before any request.
    """
    key: SecretStr | None = getattr(settings, field)
    if key is not None and key.get_secret_value():
        return key
    alias = type(settings).model_fields[field].validation_alias
    names = [c for c in alias.choices if isinstance(c, str)] if isinstance(alias, AliasChoices) else []
    raise ConfigurationError(
        f"No {provider} API key: set {' or '.join(names)} (in the environment or .env), "
        f"or pass {field}=... to configure(), override() or @command(...)."
    )

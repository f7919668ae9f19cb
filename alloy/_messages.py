"""Provider-neutral data: what the engine sends, what an adapter answers.

Adapters translate these to and from their SDK; nothing here knows a provider's field names.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import ConfigDict

from ._errors import ConfigurationError
from ._parts import Binary, Part, evaluate_annotations, placeholder
from ._usage import Usage

__all__ = ["Message", "Result", "Usage"]

T = TypeVar("T")

Role = Literal["user", "assistant", "tool"]
OutputMode = Literal["native_strict", "native", "json_object", "tool", "prompt", "text"]
"""How the answer's shape is enforced: a strict JSON schema, a JSON schema, JSON mode (any JSON
object; the shape stated in the prompt), one forced tool, only the prompt, or not at all (text)."""
ToolMode = Literal["native", "react", "none"]

_ROLES = ("user", "assistant", "tool")

_ids = itertools.count(1)


def new_call_id() -> str:
    return f"call_{next(_ids)}"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call asked for by the model (also a scripted reply in ``alloy.testing``)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict[str, Any])
    id: str = field(default_factory=new_call_id)


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call's JSON arguments, as an adapter emits it.

    ``index`` tells the calls of one turn apart (in the order they began); ``name`` is the tool's
    name, on every piece. Joined in order, the pieces of one index are the call's arguments.
    """

    index: int
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation: public, frozen, and persistable with pydantic.

    ``role`` is ``"user"``, ``"assistant"`` or ``"tool"``; ``content`` is text or a tuple of parts
    (``str``, ``Image``, ``Document``, ``Audio``). An assistant message may carry ``tool_calls``; a
    tool message carries one tool result: ``tool_call_id``, ``name`` (the tool) and ``is_error``.
    ``pydantic.TypeAdapter(list[Message])`` dumps a history to JSON (bytes as base64) and validates
    it back to equal messages.
    """

    role: Role
    content: str | tuple[Part, ...] = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""
    name: str = ""
    is_error: bool = False

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    def __post_init__(self) -> None:
        if self.role not in _ROLES:
            hint = " The system prompt goes in system=... (or ALLOY_SYSTEM)." if self.role == "system" else ""
            raise ConfigurationError(
                f"Message role must be 'user', 'assistant' or 'tool', not {self.role!r}.{hint}"
            )
        if isinstance(self.content, list):  # a list given where a tuple is meant: equal either way
            object.__setattr__(self, "content", tuple(self.content))
        if isinstance(self.tool_calls, list):
            object.__setattr__(self, "tool_calls", tuple(self.tool_calls))

    @classmethod
    def user(cls, *parts: Part) -> Message:
        """A user message: ``Message.user("Read this invoice", Image.from_path("scan.png"))``."""
        if len(parts) == 1 and isinstance(parts[0], str):
            return cls("user", parts[0])
        return cls("user", tuple(parts))

    @classmethod
    def assistant(cls, text: str, tool_calls: tuple[ToolCall, ...] = ()) -> Message:
        """An assistant message (an earlier answer), with the tool calls it asked for, if any."""
        return cls("assistant", text, tool_calls=tuple(tool_calls))

    @property
    def parts(self) -> tuple[Part, ...]:
        """The content as parts (text alone is one part; empty text none)."""
        if isinstance(self.content, str):
            return (self.content,) if self.content else ()
        return self.content

    @property
    def text(self) -> str:
        """The text parts joined (what a provider that takes text only would read)."""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p for p in self.content if isinstance(p, str))

    @property
    def binary(self) -> tuple[Binary, ...]:
        """The non-text parts."""
        return (
            () if isinstance(self.content, str) else tuple(p for p in self.content if not isinstance(p, str))
        )

    @property
    def shown(self) -> str:
        """The content as text, each non-text part as its placeholder (for ``explain()``, spans, logs)."""
        if isinstance(self.content, str):
            return self.content
        return " ".join(placeholder(p) for p in self.content)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as the provider sees it: a name, a description, a JSON schema for the arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
    strict: bool = False


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """The structured answer asked for.

    ``schema`` is already compiled for the provider's dialect; ``mode`` says which wire mechanism
    carries it (the adapter only maps the mode to its field).
    """

    name: str
    schema: dict[str, Any]
    mode: OutputMode
    strict: bool = False
    check: Callable[[Any], object] | None = field(default=None, repr=False, compare=False)
    """Validates a decoded answer value (in ``schema``'s shape) as the engine will, raising if it is
    wrong; the ``fake`` model checks its own answers with it. Not sent."""


@dataclass(frozen=True, slots=True)
class Request:
    """One provider request, provider-neutral."""

    model: str
    messages: tuple[Message, ...]
    system: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: Literal["auto", "required", "none"] | str = "auto"
    """``"auto"``, ``"required"`` (any tool), ``"none"``, or a tool name to force."""
    output: OutputFormat | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict[str, Any])
    cache_key: str | None = None
    """With ``prompt_cache`` on: a stable key for the request's prefix (system, tools, schema),
    derived from the command and its schema; ``None`` when caching is off. OpenAI-protocol
    adapters send it as ``prompt_cache_key``; Anthropic marks its prefix cacheable."""

    @property
    def output_schema(self) -> dict[str, Any] | None:
        """The structured-output schema sent with this request, if any."""
        return self.output.schema if self.output is not None else None


@dataclass(frozen=True, slots=True)
class Response:
    """One provider answer, provider-neutral."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str | None = None
    """The model that answered, as the provider reports it."""


@dataclass(frozen=True, slots=True)
class Result(Generic[T]):
    """What ``Command.run()`` returns: the output and how it was obtained."""

    output: T
    usage: Usage
    attempts: int
    messages: list[Message]
    model: str | None = None
    """The ``provider:model`` that gave the answer (with a fallback chain, the one that succeeded)."""
    cost: float | None = None
    """An *estimate* in USD: the summed tokens times the model's list price (``alloy.set_price``).

    ``None`` when the model has no known price (never a guess), for the fake and scripted test
    models, and when the provider reported no usage. With a fallback chain it sums every model
    tried. Not a bill: batch tiers and long-prompt surcharges are not reflected.
    """


evaluate_annotations(ToolCall, Message)

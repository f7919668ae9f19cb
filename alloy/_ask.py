"""``ask``: one typed call without a decorated function. It builds the same ``Call`` a command does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, TypeVar, overload

import pydantic_core
from typing_extensions import Unpack

from ._command import MISSING, Call, ToolLike
from ._errors import ConfigurationError
from ._messages import Message
from ._plan import Plan
from ._prompt import Prompt, to_messages, with_context
from ._settings import SettingsKwargs, check_names
from ._tools import as_tool

__all__ = ["ask"]

T = TypeVar("T")


def _call(output: Any, tools: Sequence[ToolLike] | None, settings: Mapping[str, Any]) -> Call[Any]:
    return Call(
        str if output is MISSING else output,
        [as_tool(t) for t in tools or ()],
        call_options=check_names(settings, "ask(...)"),
    )


def _prompt(
    prompt: Prompt, context: Mapping[str, Any] | None, source: str = "ask() was given"
) -> tuple[Message, ...]:
    messages = to_messages(prompt, source=source)
    if not context:
        return messages
    block = json.dumps(json.loads(pydantic_core.to_json(context, fallback=str)), indent=2)
    return with_context(messages, f"Context:\n{block}\n\n")


class Ask:
    """``ask(prompt, output=T)`` → ``T``; also ``.async_``, ``.stream``, ``.stream_async``, ``.explain``.

    ``prompt`` is any ``alloy.Prompt``: a ``str``, a list of parts, or a conversation (a list of
    ``Message`` ending with a user message). ``context`` (a dict) is sent as a ``Context:`` block of
    JSON before the prompt (at the start of the last user message). Keyword settings
    are the per-call layer (highest precedence).

    .. versionadded:: 0.1.0
    """

    @overload
    def __call__(
        self,
        prompt: Prompt,
        *,
        output: type[T],
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Unpack[SettingsKwargs],
    ) -> T: ...
    @overload
    def __call__(
        self,
        prompt: Prompt,
        *,
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Unpack[SettingsKwargs],
    ) -> str: ...
    @overload
    def __call__(
        self,
        prompt: Prompt,
        *,
        output: Any,
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Unpack[SettingsKwargs],
    ) -> Any: ...
    def __call__(
        self,
        prompt: Prompt,
        *,
        output: Any = MISSING,
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> Any:
        return _call(output, tools, settings).result(_prompt(prompt, context)).output

    @overload
    async def async_(
        self,
        prompt: Prompt,
        *,
        output: type[T],
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Unpack[SettingsKwargs],
    ) -> T: ...
    @overload
    async def async_(
        self,
        prompt: Prompt,
        *,
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Unpack[SettingsKwargs],
    ) -> str: ...
    @overload
    async def async_(
        self,
        prompt: Prompt,
        *,
        output: Any,
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Unpack[SettingsKwargs],
    ) -> Any: ...
    async def async_(
        self,
        prompt: Prompt,
        *,
        output: Any = MISSING,
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> Any:
        return (await _call(output, tools, settings).aresult(_prompt(prompt, context))).output

    def stream(
        self,
        prompt: Prompt,
        *,
        output: type[str] = str,
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Unpack[SettingsKwargs],
    ) -> Iterator[str]:
        """Text deltas of the answer, in order.

        Raises:
            ConfigurationError: an *output* other than ``str``, or *tools*: streaming is text only
                (``stream_partial`` streams typed output), before any request.
        """
        call = _call(output, tools, settings)
        call.check_stream()
        return call.stream(_prompt(prompt, context))

    def stream_async(
        self,
        prompt: Prompt,
        *,
        output: type[str] = str,
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Unpack[SettingsKwargs],
    ) -> AsyncIterator[str]:
        """Text deltas of the answer, in order, on the event loop.

        Raises:
            ConfigurationError: as for ``stream``, before any request.
        """
        call = _call(output, tools, settings)
        call.check_stream()
        return call.astream(_prompt(prompt, context))

    @overload
    def stream_partial(
        self,
        prompt: Prompt,
        *,
        output: type[T],
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Unpack[SettingsKwargs],
    ) -> Iterator[T]: ...
    @overload
    def stream_partial(
        self,
        prompt: Prompt,
        *,
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Unpack[SettingsKwargs],
    ) -> Iterator[str]: ...
    @overload
    def stream_partial(
        self,
        prompt: Prompt,
        *,
        output: Any,
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Unpack[SettingsKwargs],
    ) -> Iterator[Any]: ...
    def stream_partial(
        self,
        prompt: Prompt,
        *,
        output: Any = MISSING,
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> Iterator[Any]:
        """The output as it arrives: values built from what has come so far; the last is exactly
        what ``ask(...)`` returns (SPEC 11)."""
        return _call(output, tools, settings).partial(_prompt(prompt, context))

    @overload
    def stream_partial_async(
        self,
        prompt: Prompt,
        *,
        output: type[T],
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Unpack[SettingsKwargs],
    ) -> AsyncIterator[T]: ...
    @overload
    def stream_partial_async(
        self,
        prompt: Prompt,
        *,
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Unpack[SettingsKwargs],
    ) -> AsyncIterator[str]: ...
    @overload
    def stream_partial_async(
        self,
        prompt: Prompt,
        *,
        output: Any,
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Unpack[SettingsKwargs],
    ) -> AsyncIterator[Any]: ...
    def stream_partial_async(
        self,
        prompt: Prompt,
        *,
        output: Any = MISSING,
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> AsyncIterator[Any]:
        """The output as it arrives, on the event loop."""
        return _call(output, tools, settings).apartial(_prompt(prompt, context))

    def explain(
        self,
        prompt: Prompt = "",
        *,
        output: Any = MISSING,
        tools: Sequence[ToolLike] | None = None,
        context: Mapping[str, Any] | None = None,
        **settings: Unpack[SettingsKwargs],
    ) -> Plan:
        """The plan such a call would follow under the current settings. Sends nothing.

        With a *prompt*, the plan shows its messages (parts as placeholders, never bytes; the
        *context* block as ``ask`` would send it) and a note if this provider would refuse one of
        its parts.
        """
        plan = _call(output, tools, settings).explain()
        if prompt:
            plan.messages = _prompt(prompt, context, source="ask.explain() was given")
            try:
                plan.check_inputs(plan.messages)
            except ConfigurationError as exc:
                plan.notes.append(f"this prompt would be refused: {exc}")
        return plan


ask = Ask()

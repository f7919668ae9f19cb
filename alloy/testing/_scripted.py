"""``ScriptedModel``: a model that plays back scripted replies and records every request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

import pydantic_core

from .._errors import AlloyError
from .._messages import Message, Request, Response, ToolCall, ToolCallDelta, Usage
from ..providers import Adapter, Capabilities, StreamItem

if TYPE_CHECKING:
    from .._settings import Settings

__all__ = ["Reply", "ScriptedModel"]

Reply = str | ToolCall | Sequence[ToolCall] | dict[str, Any] | list[Any] | Response | Exception


class ScriptedModel(Adapter):
    """A model that answers with the given replies, in order, and records each request.

    Args:
        replies: per request, one of: text (plain or JSON); a dict or list (sent as JSON text);
            a ``ToolCall`` or a list of them (one turn of parallel calls); a ``Response``; or an
            exception to raise (e.g. a ``ProviderError`` to test retries).
        native_tools: whether it claims native tool calling (``False`` makes ``tool_mode="auto"``
            use ReAct).
        output_mode: the structured-output mechanism it claims.
        name: the model name it reports.

    Attributes:
        requests: every ``Request`` received: ``.messages``, ``.tools``, ``.output`` (schema), …
    """

    provider: ClassVar[str] = "scripted"

    def __init__(
        self,
        replies: Iterable[Reply],
        *,
        native_tools: bool = True,
        output_mode: Literal["native_strict", "native", "tool", "prompt"] = "native",
        name: str = "scripted",
    ) -> None:
        self.replies: list[Reply] = list(replies)
        self.requests: list[Request] = []
        self.name = name
        self._caps = Capabilities(output_mode=output_mode, schema_dialect="plain", native_tools=native_tools)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ScriptedModel({len(self.replies)} replies left, {len(self.requests)} requests)"

    @property
    def last_messages(self) -> tuple[Message, ...]:
        """The messages of the last request."""
        return self.requests[-1].messages

    def capabilities(self, model: str, settings: Settings) -> Capabilities:
        return self._caps

    def send(self, request: Request, settings: Settings) -> Response:
        with self._lock:
            self.requests.append(request)
            if not self.replies:
                raise AlloyError(
                    f"ScriptedModel ran out of replies at request {len(self.requests)}; "
                    "give it one reply per expected request."
                )
            reply = self.replies.pop(0)
        return _response(reply, request)

    def stream(self, request: Request, settings: Settings) -> Iterator[StreamItem]:
        response = self.send(request, settings)
        words = response.text.split(" ")
        for i, word in enumerate(words):
            if word or i < len(words) - 1:
                yield word if i == len(words) - 1 else word + " "
        for index, call in enumerate(response.tool_calls):  # arguments in pieces, as providers stream them
            for piece in json.dumps(call.arguments, default=str).split(" "):
                yield ToolCallDelta(index, call.name, piece + " ")
        yield response


def _response(reply: Reply, request: Request) -> Response:
    if isinstance(reply, Exception):
        raise reply
    if isinstance(reply, Response):
        return reply
    usage = Usage(sum(len(m.text.split()) for m in request.messages), 1)
    if isinstance(reply, ToolCall):
        return Response(tool_calls=(reply,), usage=usage, finish_reason="tool_calls")
    if isinstance(reply, (list, tuple)) and reply and all(isinstance(c, ToolCall) for c in reply):
        return Response(
            tool_calls=tuple(cast("Sequence[ToolCall]", reply)), usage=usage, finish_reason="tool_calls"
        )
    text = reply if isinstance(reply, str) else pydantic_core.to_json(reply).decode()
    return Response(text, usage=Usage(usage.input_tokens, len(text.split())), finish_reason="stop")

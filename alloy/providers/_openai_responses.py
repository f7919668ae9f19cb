"""OpenAI's Responses API: the request, the answer and the stream, in Alloy's terms.

``responses_kwargs`` builds the ``client.responses.create`` keyword arguments from a neutral
``Request``; ``parse_responses`` reads a response (its bytes, or the SDK's object) through the
lean model ``Responses``; ``ResponsesStream`` reads the streamed events of the kinds Alloy uses
(each through the lean model ``Event``, from their JSON or the SDK's objects) into deltas and the
final ``Response`` (the completed event holds the whole answer).
"""

from __future__ import annotations

from typing import Any, cast

import pydantic
from openai.types.responses import Response as OpenAIResponse

from .._errors import snippet
from .._messages import Message, Request, Response, ToolCall, Usage
from .._parts import Image, Part
from . import StreamItem, ended_early
from . import _openai_wire as wire

_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}


# --- requests -------------------------------------------------------------------------------------


def responses_kwargs(request: Request) -> dict[str, Any]:
    """The ``client.responses.create`` keyword arguments for *request*."""
    items: list[dict[str, Any]] = []
    for m in request.messages:
        if m.role == "tool":  # OpenAI has no error flag: the text itself says "Error: ..."
            output = {
                "type": "function_call_output",
                "call_id": wire.call_id(m.tool_call_id),
                "output": m.text,
            }
            items.append(output)
            continue
        if m.text or not m.tool_calls:
            # "type" is optional in the spec, but llama-server cannot place an assistant item
            # without it. Only there: each typed item costs the SDK's request transform ~1,800
            # function calls (+10% CPU per call), and a user item needs none anywhere.
            typed = {"type": "message"} if m.role == "assistant" else {}
            content = _content(m) if m.role == "user" else m.text
            items.append({**typed, "role": m.role, "content": content})
        items += [
            {
                "type": "function_call",
                "call_id": wire.call_id(c.id),
                "name": c.name,
                "arguments": wire.call_arguments(c),
            }
            for c in m.tool_calls
        ]
    kwargs: dict[str, Any] = {"model": request.model, "input": items}
    if request.system:
        kwargs["instructions"] = request.system
    if request.tools:
        # ``strict`` always goes: the Responses API reads a missing flag as strict, which a schema
        # not compiled for strict mode would fail.
        kwargs["tools"] = [
            {"type": "function", **wire.function(t), "strict": t.strict} for t in request.tools
        ]
        kwargs["tool_choice"] = wire.tool_choice(
            request.tool_choice, lambda name: {"type": "function", "name": name}
        )
    if (fmt := wire.json_schema(request)) is not None:
        kwargs["text"] = {"format": {"type": "json_schema", **fmt}}
    elif request.output is not None and request.output.mode == "json_object":
        kwargs["text"] = {"format": {"type": "json_object"}}
    if request.temperature is not None:
        kwargs["temperature"] = request.temperature
    if request.max_tokens is not None:
        kwargs["max_output_tokens"] = request.max_tokens
    if request.cache_key:
        kwargs["prompt_cache_key"] = request.cache_key
    return wire.with_extra(kwargs, request.extra, "responses")


def _content(m: Message) -> str | list[dict[str, Any]]:
    """A user message's content: its text, or a list of typed parts (per the SPEC's table)."""
    if isinstance(m.content, str):
        return m.content
    return [_part(p) for p in m.content]


def _part(p: Part) -> dict[str, Any]:
    if isinstance(p, str):
        return {"type": "input_text", "text": p}
    if isinstance(p, Image):
        return {"type": "input_image", "image_url": p.data_url, "detail": "auto"}
    if p.url is not None:
        return {"type": "input_file", "file_url": p.url}
    return {"type": "input_file", "filename": "document.pdf", "file_data": p.data_url}


# --- answers: the fields Alloy reads ---------------------------------------------------------------


class OutputPart(wire.Fields):
    type: str = ""
    text: str = ""
    refusal: str = ""


class OutputItem(wire.Fields):
    type: str = ""
    content: tuple[OutputPart, ...] = ()
    name: str = ""
    arguments: str = ""
    call_id: str = ""


class ResponsesUsage(wire.Fields):
    input_tokens: int = 0
    output_tokens: int = 0
    input_tokens_details: wire.TokenDetails | None = None


class Incomplete(wire.Fields):
    reason: str | None = None


class Responses(wire.Fields):
    """A Responses API response: its output items, status, usage and model."""

    output: list[OutputItem]  # required: without it the body is not a response
    status: str | None = None
    incomplete_details: Incomplete | None = None
    usage: ResponsesUsage | None = None
    model: str | None = None


def responses_usage(u: ResponsesUsage | None) -> Usage:
    """Responses API usage; cached tokens from ``input_tokens_details`` (part of the input tokens)."""
    if u is None:
        return Usage()
    return wire.usage(u.input_tokens, u.output_tokens, u.input_tokens_details)


def parse_responses(
    raw: OpenAIResponse | Responses | bytes, max_output_tokens: int | None = None
) -> Response:
    """A Responses API response (its bytes, the lean model or the SDK's) → a neutral ``Response``
    (``incomplete`` → its reason).

    *max_output_tokens* is the cap that was sent: an answer that used all of it is ``length`` even
    when the server says ``completed`` (llama-server does, for an answer it cut off).
    """
    if not isinstance(raw, Responses):
        raw = wire.lean(Responses, raw)
    texts: list[str] = []
    calls: list[ToolCall] = []
    for item in raw.output:
        if item.type == "message":
            texts += [p.text if p.type == "output_text" else p.refusal for p in item.content]
        elif item.type == "function_call":
            calls.append(wire.tool_call(item.name, item.arguments, item.call_id))
    usage = responses_usage(raw.usage)
    finish = "tool_calls" if calls else "stop"
    if raw.status == "incomplete":
        reason = (raw.incomplete_details.reason if raw.incomplete_details else None) or "incomplete"
        finish = _INCOMPLETE.get(reason, reason)
    elif max_output_tokens and not calls and usage.output_tokens >= max_output_tokens:
        finish = "length"
    return Response("".join(texts), tuple(calls), usage, finish, raw.model)


# --- the stream -----------------------------------------------------------------------------------


class AddedItem(wire.Fields):
    type: str = ""
    id: str | None = None
    call_id: str = ""
    name: str = ""
    arguments: str = ""


class Event(wire.Fields):
    """A streamed event of a kind Alloy reads, with the fields of that kind (the others stay empty)."""

    type: str
    delta: str = ""  # text, refusal and function-call-arguments deltas
    item_id: str = ""  # function-call-arguments deltas
    item: AddedItem | None = None  # output_item.added
    response: Any = None  # completed, incomplete, failed: read by kind (``Responses``, ``Failed``)
    message: str | None = None  # error
    code: str | None = None  # error


class Failure(wire.Fields):
    message: str | None = None
    code: str | None = None


class Failed(wire.Fields):
    """The response of a ``response.failed`` event: why it failed."""

    error: Failure | None = None


_TEXT = frozenset({"response.output_text.delta", "response.refusal.delta"})
_DONE = frozenset({"response.completed", "response.incomplete"})
_READ = (
    _TEXT
    | _DONE
    | {
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.failed",
        "error",
    }
)


def _kind(event: object) -> object:
    """An event's ``type``, before it is validated: the other kinds need not be read at all.

    Raises:
        TypeError: the event is not a JSON object (``reading_stream`` makes it a retryable
            ``ProviderError``).
    """
    if isinstance(event, dict):
        return cast("dict[str, object]", event).get("type")
    if isinstance(event, pydantic.BaseModel):  # the SDK's event object (the SDK path)
        return getattr(event, "type", None)
    raise TypeError(f"a stream event is not a JSON object: {snippet(repr(event))}")


class ResponsesStream(wire.Deltas):
    """One streamed response: ``feed`` each event, then ``result()``.

    Text and tool-call arguments come out as deltas as they arrive; ``result()`` is the whole
    answer, and raises if the stream ended before ``response.completed``/``incomplete``.
    """

    def __init__(self, max_output_tokens: int | None = None) -> None:
        super().__init__()
        self.cap = max_output_tokens

    def feed(self, event: object) -> list[StreamItem]:
        """The deltas in *event* (an event's JSON, or the SDK's event object): its text, and pieces
        of tool-call arguments. Kinds Alloy does not read are skipped unvalidated.

        Raises:
            ProviderError: the stream reported a failure.
            pydantic.ValidationError: the event is not of its kind's shape (``reading_stream``
                makes it a retryable ``ProviderError``).
        """
        kind = _kind(event)
        if kind not in _READ:
            return []
        e = Event.model_validate(event)
        out: list[StreamItem] = []
        if kind in _TEXT:
            if e.delta:
                self.parts.append(e.delta)
                out.append(e.delta)
        elif kind == "response.output_item.added":
            if (item := e.item) is None or item.type != "function_call":
                return out
            self.calls[item.id or item.call_id] = (len(self.calls), item.call_id, item.name, [])
            if item.arguments:
                out.append(self.piece(item.id or item.call_id, item.arguments))
        elif kind == "response.function_call_arguments.delta" and e.item_id in self.calls:
            if e.delta:
                out.append(self.piece(e.item_id, e.delta))
        elif kind in _DONE:
            self.final = parse_responses(wire.lean(Responses, e.response), self.cap)
            self.done = True
        elif kind == "response.failed" or kind == "error":
            error = wire.lean(Failed, e.response).error if kind == "response.failed" else e
            raise wire.reported(
                error.message if error else "the response failed", error.code if error else None
            )
        return out

    def result(self) -> Response:
        """The whole answer, from the completed event (tool calls included).

        Raises:
            ProviderError: (retryable) the stream ended before ``response.completed``.
        """
        if not self.done:
            raise ended_early(wire.PROVIDER, "response.completed")
        f = self.final
        return Response("".join(self.parts), f.tool_calls, f.usage, f.finish_reason, f.model)

"""OpenAI Chat Completions, streamed: ``ChatStream`` reads the chunks into deltas and the final answer.

Each chunk goes through the lean model ``Chunk`` (from its JSON or the SDK's object). Apart from
``_openai_chat`` so that a process that never streams builds none of these models (cold start).
"""

from __future__ import annotations

from .._messages import Response
from . import StreamItem, ended_early
from . import _openai_wire as wire
from ._openai_chat import ChatUsage, chat_usage


class ChunkFunction(wire.Fields):
    name: str | None = None
    arguments: str | None = None


class ChunkToolCall(wire.Fields):
    index: int
    id: str | None = None
    function: ChunkFunction | None = None


class ChunkDelta(wire.Fields):
    content: str | None = None
    tool_calls: list[ChunkToolCall] | None = None


class ChunkChoice(wire.Fields):
    delta: ChunkDelta = ChunkDelta()
    finish_reason: str | None = None


class Chunk(wire.Fields):
    """A streamed chunk: the first choice's delta and finish reason, the usage (last chunk), the model."""

    choices: list[ChunkChoice]  # required: without it the event is not a chunk
    usage: ChatUsage | None = None
    model: str | None = None


class ChatStream(wire.Deltas):
    """One streamed completion: ``feed`` each chunk, then ``result()``.

    Text and tool-call arguments come out as deltas as they arrive; ``result()`` is the whole
    answer, and raises if the stream ended before a ``finish_reason``.
    """

    def feed(self, event: object) -> list[StreamItem]:
        """The deltas in *event* (a chunk's JSON, or the SDK's ``ChatCompletionChunk``): its text,
        and pieces of tool-call arguments.

        Raises:
            pydantic.ValidationError: the event is not a chunk (``reading_stream`` makes it a
                retryable ``ProviderError``).
        """
        chunk = Chunk.model_validate(event)
        f = self.final
        choice = chunk.choices[0] if chunk.choices else None
        usage = chat_usage(chunk.usage) if chunk.usage else f.usage
        finish = (choice.finish_reason if choice else None) or f.finish_reason
        self.done = self.done or finish is not None
        self.final = Response(usage=usage, finish_reason=finish, model=chunk.model or f.model)
        out: list[StreamItem] = []
        if choice is None:
            return out
        if text := choice.delta.content:
            self.parts.append(text)
            out.append(text)
        for c in choice.delta.tool_calls or ():
            fn = c.function
            if c.index not in self.calls:
                self.calls[c.index] = (len(self.calls), c.id or "", (fn.name if fn else None) or "", [])
            if fn and fn.arguments:
                out.append(self.piece(c.index, fn.arguments))
        return out

    def result(self) -> Response:
        """The whole answer: the joined deltas and tool calls, with the usage and finish reason reported.

        Raises:
            ProviderError: (retryable) the stream ended before a ``finish_reason``.
        """
        if not self.done:
            raise ended_early(wire.PROVIDER, "a finish_reason")
        f = self.final
        calls = tuple(
            wire.tool_call(name, "".join(pieces), cid) for _, cid, name, pieces in self.calls.values()
        )
        return Response("".join(self.parts), calls, f.usage, f.finish_reason, f.model)

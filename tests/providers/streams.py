"""Streams of every provider in one table, for the cross-provider streaming tests.

Each ``Wire`` knows how to point Alloy at the fake server and how to stream an answer the way its
provider does: text deltas (JSON-schema output travels this way) and, where the provider streams
tool arguments, a forced output tool's argument deltas. ``head`` is the number of chunks before
the first delta; ``tail`` the number of chunks that make up the end-of-answer event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, Literal

from alloy import override

from . import test_anthropic as anthropic_t
from . import test_gemini as gemini_t
from . import test_ollama as ollama_t
from . import test_openai as openai_t
from .server import FakeServer, Reply, ndjson, sse


@dataclass(frozen=True)
class Wire:
    name: str
    use: Callable[[FakeServer], AbstractContextManager[Any]]
    text: Callable[[list[str]], Reply]
    head: int
    tail: int
    malformed: bytes
    whole: Callable[[str], Reply]
    """A non-streamed answer with this text."""
    tool: Callable[[str, list[str]], Reply] | None = None
    """A turn whose tool *name* gets its arguments in the given pieces (providers that stream them)."""

    def truncated(self, deltas: list[str]) -> Reply:
        """The stream of *deltas* without its end-of-answer event."""
        full = self.text(deltas)
        assert full.chunks is not None
        return replace(full, chunks=full.chunks[: len(full.chunks) - self.tail])

    def with_malformed(self, deltas: list[str], at: int) -> Reply:
        """The stream of *deltas* with a malformed event inserted before chunk *at*."""
        full = self.text(deltas)
        assert full.chunks is not None
        return replace(full, chunks=[*full.chunks[:at], self.malformed, *full.chunks[at:]])


def _openai(api: Literal["chat", "responses"]) -> Callable[[FakeServer], AbstractContextManager[Any]]:
    model = "gpt-4.1-mini" if api == "chat" else "gpt-5-mini"
    return lambda s: override(
        model=f"openai:{model}", openai_base_url=s.url + "/v1", openai_api_key=openai_t.KEY, openai_api=api
    )


def _chat_tool(name: str, pieces: list[str]) -> Reply:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1-mini"}
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": name, "arguments": ""}}
    chunks: list[dict[str, Any]] = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [call]}}]}
    ]
    chunks += [
        {
            **base,
            "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": p}}]}}],
        }
        for p in pieces
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    return sse(*chunks, done=True)


def _responses_tool(name: str, pieces: list[str]) -> Reply:
    args = "".join(pieces)
    final = openai_t.responses_body(calls=[("call_1", name, args)])
    item = {"type": "function_call", "id": "fc_call_1", "call_id": "call_1", "name": name, "arguments": ""}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": {**final, "status": "in_progress", "output": [], "usage": None}}),
        ("response.output_item.added", {"output_index": 0, "item": {**item, "status": "in_progress"}}),
        *[
            (
                "response.function_call_arguments.delta",
                {"item_id": "fc_call_1", "output_index": 0, "delta": p},
            )
            for p in pieces
        ],
        ("response.completed", {"response": final}),
    ]
    return sse(*[(n, {"type": n, "sequence_number": i, **d}) for i, (n, d) in enumerate(events)], named=True)


def _anthropic_tool(name: str, pieces: list[str]) -> Reply:
    start = anthropic_t.message(input_tokens=25, output_tokens=1)
    start["stop_reason"] = None
    block = anthropic_t.tool_use("toolu_1", name)
    return sse(
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
        *(
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": p},
                },
            )
            for p in pieces
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
        ),
        ("message_stop", {"type": "message_stop"}),
        named=True,
    )


def _ollama_text(deltas: list[str]) -> Reply:
    return ollama_t.chunks(*deltas)


WIRES = [
    Wire(
        "openai-chat",
        _openai("chat"),
        openai_t.chat_stream,
        1,
        3,
        b"data: {not json\n\n",
        lambda t: openai_t.reply("chat", t),
        _chat_tool,
    ),
    Wire(
        "openai-responses",
        _openai("responses"),
        openai_t.responses_stream,
        1,
        1,
        b"event: response.output_text.delta\ndata: {not json\n\n",
        lambda t: openai_t.reply("responses", t),
        _responses_tool,
    ),
    Wire(
        "anthropic",
        lambda s: override(
            model=f"anthropic:{anthropic_t.MODEL}",
            anthropic_base_url=s.url,
            anthropic_api_key=anthropic_t.KEY,
        ),
        lambda d: anthropic_t.streamed(*d),
        3,
        1,
        b"event: content_block_delta\ndata: {not json\n\n",
        lambda t: Reply(200, anthropic_t.message(anthropic_t.text(t))),
        _anthropic_tool,
    ),
    Wire(
        "gemini",
        lambda s: override(
            model=f"gemini:{gemini_t.MODEL}", gemini_base_url=s.url, gemini_api_key=gemini_t.KEY
        ),
        lambda d: gemini_t.streamed(*d),
        0,
        1,
        b"data: {not json\n\n",
        lambda t: gemini_t.reply(gemini_t.text(t)),
    ),
    Wire(
        "ollama",
        lambda s: override(model=f"ollama:{ollama_t.MODEL}", ollama_host=s.url),
        _ollama_text,
        0,
        1,
        b"{not json\n",
        lambda t: Reply(200, ollama_t.chat(t)),
    ),
]


def pieces(value: Any, size: int = 3) -> list[str]:
    """*value* as JSON text cut into pieces of *size* characters: a stream in small chunks."""
    text = json.dumps(value)
    return [text[i : i + size] for i in range(0, len(text), size)]


def chunked(text: str, size: int = 3) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]


def tool_turn(wire: Wire, name: str, args: dict[str, Any]) -> Reply:
    """A streamed turn that calls tool *name* with *args* (in pieces where the provider streams them)."""
    if wire.tool is not None:
        return wire.tool(name, pieces(args))
    if wire.name == "gemini":
        return sse(gemini_t.answer(gemini_t.call(name, **args)))
    return ndjson(ollama_t.chat("", tool_calls=[ollama_t.call(name, **args)]))


__all__ = ["WIRES", "Wire", "chunked", "pieces", "tool_turn"]
